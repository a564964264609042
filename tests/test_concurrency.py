"""Single flight: one cache, many threads and processes, each key paid for once.

The server counts what it served per key, so a duplicate call cannot hide behind the cache's
first-writer-wins rule (which keeps answers consistent but still pays twice).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from pytest_modelprov.calls.cache import KeyLocks, ResponseCache
from pytest_modelprov.calls.client import plan_calls
from pytest_modelprov.config import ModelSpec, Sources, resolve
from pytest_modelprov.errors import CacheError
from pytest_modelprov.session import ModelProvSession
from pytest_modelprov.testing.script import RecordedRequest

PROMPTS = [f"Describe the colour of harbour {i} at dawn." for i in range(12)]


def overlapping_suite(tests: int = 8, width: int = 6, n: int = 2) -> str:
    """Tests whose prompt windows overlap, so workers race for the same keys."""
    lines = [f"PROMPTS = {PROMPTS!r}", ""]
    for t in range(tests):
        start = (t * 3) % len(PROMPTS)
        window = [(start + j) % len(PROMPTS) for j in range(width)]
        lines += [
            f"def test_window_{t}(model_under_test):",
            f"    samples = model_under_test.sample([PROMPTS[i] for i in {window}], n={n}, seed=0)",
            f"    assert len(samples) == {width * n}",
            "",
        ]
    return "\n".join(lines)


def request_key(request: RecordedRequest) -> tuple[str, str, object]:
    """What identifies a cache key at the server: model, last user text and seed."""
    body = request.body
    text = next(
        (m.get("content") for m in reversed(body.get("messages", [])) if m.get("role") == "user"),
        "",
    )
    return (str(body.get("model")), str(text), body.get("seed"))


def duplicates(requests: Iterable[RecordedRequest]) -> int:
    """Calls beyond the first for a key (faulted requests excluded: those are retries).

    Replicates differ only by their seed, so the suites here always pass one.
    """
    counts = Counter(request_key(r) for r in requests if r.fault is None)
    return sum(c - 1 for c in counts.values())


def answers(transcripts: Sequence[Path]) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for path in transcripts:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            seen.setdefault(row["key"], set()).add(row["answer"])
    return seen


def pytest_cmd(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        "-q",
        "-p",
        "no:cacheprovider",
        *args,
    ]


def run_concurrently(
    workdir: Path, cache: Path, logs: Sequence[Path], extra: Sequence[Sequence[str]]
) -> list[subprocess.CompletedProcess[str]]:
    """Start one pytest per log at the same moment on one cache; wait for all."""
    env = {**os.environ, "MODELPROV_CACHE_DIR": str(cache)}
    procs = [
        subprocess.Popen(
            pytest_cmd(*args, f"--modelprov-transcript={log}"),
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for log, args in zip(logs, extra, strict=True)
    ]
    done = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""))
    return done


def test_four_workers_and_a_second_pytest_never_call_a_key_twice(pytester, env, tmp_path):
    pytest.importorskip("xdist")
    # a slow server keeps both runs in flight together; at 0.02 s they barely overlap and even
    # a lock-free client rarely duplicates (benchmarks/faults.py measures that control)
    env.server.script.latency = 0.15
    env.server.add_rule("harbour", "grey", "silver", "rose")
    pytester.makepyfile(test_a=overlapping_suite(), test_b=overlapping_suite(tests=6, width=5))
    logs = [tmp_path / "xdist.jsonl", tmp_path / "second.jsonl"]
    results = run_concurrently(pytester.path, env.cache, logs, [["-n", "4"], []])
    for result in results:
        assert result.returncode == 0, result.stdout
    concurrent = env.server.requests
    assert duplicates(concurrent) == 0
    # every distinct key was called exactly once: 12 prompts x 2 replicates
    assert len({request_key(r) for r in concurrent}) == len(concurrent) == 24

    # a serial run on a fresh cache sees the same answer for every key
    env.server.reset()
    serial = tmp_path / "serial.jsonl"
    (result,) = run_concurrently(pytester.path, tmp_path / "serial-cache", [serial], [[]])
    assert result.returncode == 0, result.stdout
    together, alone = answers(logs), answers([serial])
    assert all(len(a) == 1 for a in together.values())
    assert together == alone
    # and the shared cache holds one readable entry per key, nothing else
    cache = ResponseCache(env.cache)
    entries = dict(cache.entries())
    assert len(entries) == 24 and all(not isinstance(e, Exception) for e in entries.values())
    cache.close()


def make_session(tmp_path: Path, **env: str) -> ModelProvSession:
    environ = {"MODELPROV_RETRY_BACKOFF": "0.01", **env}
    settings = resolve(Sources(cli=lambda o: None, ini=lambda o: None, environ=environ), tmp_path)
    return ModelProvSession(settings, environ=environ)


def test_threads_of_one_process_do_not_duplicate(tmp_path, server):
    server.script.latency = 0.05
    spec = ModelSpec(name="model under test", model="m", base_url=server.url)
    sessions = [make_session(tmp_path, MODELPROV_CACHE_DIR=str(tmp_path / "c")) for _ in range(2)]
    errors: list[BaseException] = []

    def ask(session: ModelProvSession) -> None:
        try:
            # the same prompt twice in one batch is one key: it must be called once too
            calls = plan_calls(spec, ["same", "same", "other"], 2, {"seed": 0})
            session.sample(spec, calls, "t::x")
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(sessions[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert server.request_count == 4  # 2 prompts x 2 replicates
    assert duplicates(server.requests) == 0
    for s in sessions:
        s.close()


HOLDER = """
import sys, time
from pytest_modelprov.calls.cache import KeyLocks
locks = KeyLocks(sys.argv[1])
with locks.hold(sys.argv[2], timeout=5):
    print("held", flush=True)
    time.sleep(60)
"""


def start_holder(directory: Path, key: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory), key], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_live_holder_makes_others_wait_and_then_time_out_with_the_lock_named(tmp_path):
    locks = KeyLocks(tmp_path / "locks")
    holder = start_holder(tmp_path / "locks", "k" * 64)
    try:
        start = time.monotonic()
        with (
            pytest.raises(
                CacheError, match=r"waited 0.3 s for another test process.*locks/k+\.lock"
            ),
            locks.hold("k" * 64, timeout=0.3),
        ):
            pass
        assert time.monotonic() - start >= 0.3
        with locks.hold("j" * 64, timeout=0.3):  # other keys are not blocked
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_sigkilled_holder_does_not_wedge_the_next_run(tmp_path):
    locks = KeyLocks(tmp_path / "locks")
    holder = start_holder(tmp_path / "locks", "k" * 64)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "locks" / ("k" * 64 + ".lock")).exists()  # left behind by the dead
    start = time.monotonic()
    with locks.hold("k" * 64, timeout=5):
        pass
    assert time.monotonic() - start < 1
    assert not list((tmp_path / "locks").iterdir())  # the holder cleans up after itself


def test_waiters_are_served_in_turn_by_one_lock_file(tmp_path):
    """Many threads through one key: mutual exclusion holds and no lock file survives."""
    locks = KeyLocks(tmp_path / "locks")
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with locks.hold("k", timeout=10):
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1
    assert not list((tmp_path / "locks").iterdir())


def test_the_warm_path_takes_no_lock(pytester, env):
    """With a file where the lock directory should be, any lock attempt is an error."""
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            model_under_test.sample(["a", "b"], n=2)
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    calls = env.server.request_count
    locks = env.cache / "locks"
    if locks.exists():
        locks.rmdir()
    locks.write_text("not a directory\n")
    pytester.runpytest_subprocess().assert_outcomes(passed=1)  # warm: never touched it
    assert env.server.request_count == calls
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            model_under_test.sample(["c"])
        """
    )
    result = pytester.runpytest_subprocess()  # cold: needs the lock, and says where it failed
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*cannot create a lock file in {locks}*--modelprov-cache-dir*"])
    assert env.server.request_count == calls  # no call made without its lock
