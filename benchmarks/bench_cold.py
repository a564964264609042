"""Cold-run throughput: N uncached calls at concurrency C against a server with latency L.

Run: python benchmarks/bench_cold.py [--latency 0.2] [--concurrency 1 4 16 64] [--attribute]

The server is the package's own, run as a separate process
(``python -m pytest_modelprov.testing.server --port 0 --latency L``) so that its CPU is not spent in
the measured client. For each C the client records N = max(64, 8*C) calls into a fresh
cache through ``ModelProvSession.sample`` with ``MODELPROV_CONCURRENCY=C``; the table gives
the wall time against the ideal N*L/C, the efficiency ideal/wall (target >= 90%), the
client's CPU time per call and the share of one core it used, the server's CPU per call,
and the connections the kernel dropped from a full listen queue (Linux; each costs the
client a 1 s SYN retransmit). Points whose ideal is under 4 s run 3 times (median wall).
"CPU model" is the efficiency the client's CPU per call alone allows (Point.cpu_model),
"CPU/call for 90%" what that CPU would have to be for the target at this C and L. The
highest C also runs once at ``--slow-latency`` (default 1 s).

``--attribute`` adds a table at the highest C that splits the client's CPU per call, on a
server whose listen backlog is raised from socketserver's 5 to 128 (so no SYN drops blur
it): the openai SDK alone in a thread pool of C (the floor of any client built on it), the
plugin as shipped, and the plugin with a feature switched off only to measure its cost
(ATTRIBUTION: the single-flight lock, the cache write); 3 interleaved rounds, median wall.
The package itself is not changed. (The SDK's generic post and one cache writer per
process, first measured here as proposed changes, now ship.)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_modelprov
from pytest_modelprov.calls import cache as cache_module
from pytest_modelprov.calls.client import plan_calls
from pytest_modelprov.config import ModelSpec, Sources, resolve
from pytest_modelprov.session import ModelProvSession

TARGET_EFFICIENCY = 0.90


@dataclass(frozen=True)
class Point:
    concurrency: int
    calls: int
    wall: float
    ideal: float
    client_cpu: float
    server_cpu: float
    listen_drops: int

    @property
    def efficiency(self) -> float:
        return self.ideal / self.wall

    @property
    def latency(self) -> float:
        return self.ideal * self.concurrency / self.calls

    @property
    def cpu_model(self) -> float:
        """Efficiency the client's CPU alone allows: 1 / (1 + C * cpu / (2 L)).

        With a fixed server latency the C calls of a wave come back together and their
        processing is serialised on the GIL: the average call waits half a wave's CPU
        (C * cpu / 2) before its thread sends the next request.
        """
        cpu = self.client_cpu / self.calls
        return 1 / (1 + self.concurrency * cpu / (2 * self.latency))

    @property
    def cpu_for_target(self) -> float:
        """Client CPU per call at which the model above gives the target efficiency."""
        return 2 * self.latency / self.concurrency * (1 / TARGET_EFFICIENCY - 1)


@contextmanager
def server_process(latency: float, backlog: int | None = None) -> Iterator[tuple[str, int]]:
    """The local server in its own process; yields its base URL and pid."""
    cli = ["--port", "0", "--latency", str(latency)]
    if backlog is None:
        command = [sys.executable, "-m", "pytest_modelprov.testing.server", *cli]
    else:  # the same CLI with a longer listen queue
        code = (
            "import sys; from pytest_modelprov import server; "
            f"server._HTTPServer.request_queue_size = {backlog}; "
            "raise SystemExit(server.main(sys.argv[1:]))"
        )
        command = [sys.executable, "-c", code, *cli]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # the CLI prints its base URL first
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the server did not start (printed {url!r})")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (0.0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listen_drops() -> int:
    """Connections this network namespace dropped from full listen queues (Linux)."""
    try:
        head, values = Path("/proc/net/netstat").read_text().splitlines()[:2]
        return int(values.split()[head.split().index("ListenDrops")])
    except (OSError, ValueError):
        return 0


Work = Callable[[str, Path, int, int], None]  # (url, scratch dir, concurrency, calls)


def plugin_work(url: str, root: Path, concurrency: int, calls: int) -> None:
    """What a test does on a cold cache: plan, sample (all misses), read the answers."""
    cache = Path(tempfile.mkdtemp(prefix=f"cache-c{concurrency}-", dir=root))
    environ = {"MODELPROV_CACHE_DIR": str(cache), "MODELPROV_CONCURRENCY": str(concurrency)}
    settings = resolve(Sources(cli=lambda o: None, ini=lambda o: None, environ=environ), root)
    assert settings.concurrency == concurrency
    spec = ModelSpec(name="bench", model="m", base_url=url, params={"temperature": 0.7})
    tag = cache.name
    prompts = [f"Cold call {i} ({tag}): describe the tide." for i in range(calls)]
    session = ModelProvSession(settings, environ=environ)
    try:
        responses = session.sample(spec, plan_calls(spec, prompts, 1, {}), "bench_cold")
        assert all(r.answer for r in responses)
        if cache_module.ResponseCache.put is not no_store:
            assert len(session.cache) == calls, "not every answer was stored"
    finally:
        session.close()


def sdk_work(url: str, root: Path, concurrency: int, calls: int) -> None:
    """The openai SDK alone, called as the plugin calls it, from a pool of C threads."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    tag = root.name + str(time.perf_counter())

    def one(i: int) -> bytes:
        raw = client.chat.completions.with_raw_response.create(
            model="m",
            messages=[{"role": "user", "content": f"SDK call {i} ({tag})"}],
            extra_body={"temperature": 0.7},
        )
        content: bytes = raw.http_response.content
        return content

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        assert all(pool.map(one, range(calls)))
    client.close()


def timed(
    work: Work, url: str, pid: int, root: Path, concurrency: int, calls: int, latency: float
) -> Point:
    server_before, drops_before = cpu_seconds(pid), listen_drops()
    cpu_before, start = time.process_time(), time.perf_counter()
    work(url, root, concurrency, calls)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    server_cpu = cpu_seconds(pid) - server_before
    drops = listen_drops() - drops_before
    ideal = calls * latency / concurrency
    return Point(concurrency, calls, wall, ideal, cpu, server_cpu, drops)


def measure(
    work: Work, url: str, pid: int, root: Path, concurrency: int, latency: float, least: int
) -> Point:
    calls = max(least, 8 * concurrency)
    repeats = 3 if calls * latency / concurrency < 4 else 1
    runs = [timed(work, url, pid, root, concurrency, calls, latency) for _ in range(repeats)]
    return sorted(runs, key=lambda p: p.wall)[len(runs) // 2]


# -- changes patched in for the attribution table ------------------------------------------


def no_lock(self: Any, key: str, timeout: float) -> contextlib.AbstractContextManager[None]:
    return contextlib.nullcontext()


def no_store(self: Any, entry: Any, *, overwrite: bool = False) -> Any:
    return entry


@contextmanager
def patched(changes: list[tuple[Any, str, Any]]) -> Iterator[None]:
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in changes]
    try:
        for owner, name, value in changes:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def attribution_rows() -> list[tuple[str, Work, list[tuple[Any, str, Any]]]]:
    response_cache = cache_module.ResponseCache
    return [
        ("openai SDK alone, pool of C threads (floor)", sdk_work, []),
        ("plugin as shipped", plugin_work, []),
        (
            "ATTRIBUTION no single-flight lock",
            plugin_work,
            [(cache_module.KeyLocks, "hold", no_lock)],
        ),
        ("ATTRIBUTION no cache write", plugin_work, [(response_cache, "put", no_store)]),
    ]


# -- output -------------------------------------------------------------------------------


HEADER = (
    f"{'C':>4} {'N':>5} {'wall s':>7} {'ideal s':>7} {'effic.':>6} {'target':>6} "
    f"{'client CPU/call':>15} {'core':>5} {'server CPU/call':>15} {'SYN drops':>9} "
    f"{'CPU model':>9} {'CPU/call for 90%':>16}"
)


def row(p: Point) -> str:
    ok = p.efficiency >= TARGET_EFFICIENCY
    return (
        f"{p.concurrency:>4} {p.calls:>5} {p.wall:>7.2f} {p.ideal:>7.2f} "
        f"{p.efficiency:>6.0%} {'PASS' if ok else 'MISS':>6} "
        f"{p.client_cpu / p.calls * 1e3:>12.2f} ms {p.client_cpu / p.wall:>5.0%} "
        f"{p.server_cpu / p.calls * 1e3:>12.2f} ms {p.listen_drops:>9} "
        f"{p.cpu_model:>9.0%} {p.cpu_for_target * 1e3:>13.2f} ms"
    )


def sdk_construction() -> float:
    import openai

    times = []
    for _ in range(5):
        start = time.perf_counter()
        openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="unused").close()
        times.append(time.perf_counter() - start)
    return sorted(times)[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2, help="server seconds per call")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--min-calls", type=int, default=64, help="N = max(this, 8*C)")
    parser.add_argument(
        "--slow-latency",
        type=float,
        default=1.0,
        help="also run the highest C once at this latency (0 to skip; default 1.0)",
    )
    parser.add_argument(
        "--attribute", action="store_true", help="split the client CPU at the highest C"
    )
    args = parser.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average before: {load} (2 cores)")
    print(f"package: {Path(pytest_modelprov.__file__).parent}")
    start = time.perf_counter()
    import openai  # noqa: F401  (imported once up front: its import is not a per-point cost)

    print(f"import openai: {time.perf_counter() - start:.2f} s (paid once per cold pytest run)")
    print(f"server: separate process, latency L = {args.latency:g} s per call")
    top = max(args.concurrency)
    with tempfile.TemporaryDirectory(prefix="modelprov-cold-") as tmp:
        root = Path(tmp)
        with server_process(args.latency) as (url, pid):
            # one-time costs (the SDK's lazy imports) are not any point's
            timed(plugin_work, url, pid, root, 4, 8, args.latency)
            print("## as shipped")
            print(HEADER)
            for c in args.concurrency:
                print(row(measure(plugin_work, url, pid, root, c, args.latency, args.min_calls)))
                sys.stdout.flush()
        if args.slow_latency > 0:
            with server_process(args.slow_latency) as (url, pid):
                n = max(args.min_calls, 8 * top)
                point = timed(plugin_work, url, pid, root, top, n, args.slow_latency)
            print(f"## as shipped, C = {top} at L = {args.slow_latency:g} s (a slower model)")
            print(HEADER)
            print(row(point))
            sys.stdout.flush()
        if args.attribute:
            print(f"## attribution at C = {top}, L = {args.latency:g} s, server backlog 128")
            print(f"{'':<46}{HEADER}")
            rows = attribution_rows()
            n = max(args.min_calls, 8 * top)
            runs: list[list[Point]] = [[] for _ in rows]
            with server_process(args.latency, backlog=128) as (url, pid):
                for _ in range(3):  # rows interleaved: the machine's noise hits them alike
                    for (_, work, changes), points in zip(rows, runs, strict=True):
                        with patched(changes):
                            points.append(timed(work, url, pid, root, top, n, args.latency))
            for (title, _, _), points in zip(rows, runs, strict=True):
                print(f"{title:<46}{row(sorted(points, key=lambda p: p.wall)[1])}")
    print(
        f"openai.OpenAI() construction: {sdk_construction() * 1e3:.0f} ms (median of 5; paid "
        "once per model per run, inside the first wave of calls)"
    )
    print(f"target: efficiency = N*L/C / wall >= {TARGET_EFFICIENCY:.0%}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
