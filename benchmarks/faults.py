"""Reliability figures for issue 8: faults, SIGKILLs, concurrency, lock overhead, secrets.

    python benchmarks/faults.py [--kills 50] [--rounds 3] [--calls 200]

Runs real pytest processes against the package's LocalServer (loopback), reusing the
harnesses of tests/test_kill.py, tests/test_concurrency.py and tests/test_faults.py, and
prints the figures. A planted API key is used by every run and grepped for in every file
written and all output at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_concurrency import (
    answers,
    duplicates,
    overlapping_suite,
    run_concurrently,
)
from test_faults import FAULT_MIX, MAX_RETRIES, TIMEOUT, check_cache, configure
from test_faults import suite as fault_suite
from test_kill import kill_and_resume

from pytest_modelprov.cache import KeyLocks
from pytest_modelprov.server import LocalServer

NO_SINGLE_FLIGHT = """
import contextlib
from pytest_modelprov.cache import KeyLocks

# control run only: the lock made a no-op, to show the duplicate counter can see duplicates
KeyLocks.hold = lambda self, key, timeout: contextlib.nullcontext()
"""


def lock_overhead(directory: Path, rounds: int = 2000) -> float:
    """Seconds per uncontended acquire+release of a fresh key (what a cold call pays)."""
    locks = KeyLocks(directory)
    start = time.perf_counter()
    for i in range(rounds):
        with locks.hold(f"{i:064x}", timeout=5):
            pass
    return (time.perf_counter() - start) / rounds


def base_env(server: LocalServer, key: str) -> None:
    for name in [n for n in os.environ if n.startswith(("MODELPROV_", "OPENAI_"))] + ["CI"]:
        os.environ.pop(name, None)
    os.environ.update(
        MODELPROV_MODEL="test-model",
        MODELPROV_BASE_URL=server.url,
        MODELPROV_RETRY_BACKOFF="0",
        MODELPROV_API_KEY_ENV="BENCH_CANARY_KEY",
        BENCH_CANARY_KEY=key,
    )


def faults(root: Path, calls: int, outputs: list[str]) -> dict[str, object]:
    with LocalServer() as server:
        base_env(server, os.environ["BENCH_CANARY_KEY"])
        os.environ.update(MODELPROV_TIMEOUT=TIMEOUT, MODELPROV_MAX_RETRIES=str(MAX_RETRIES))
        work = root / "faults"
        work.mkdir()
        (work / "test_flaky.py").write_text(fault_suite(calls // 2, 2))
        configure(server, 0.3, seed=2024)
        cache = root / "faults-cache"
        (done,) = run_concurrently(work, cache, [root / "faults.jsonl"], [["-n", "4"]])
        outputs.append(done.stdout)
        kinds = Counter(r.fault for r in server.requests if r.fault)
        stored = check_cache(cache, calls)
        os.environ.pop("MODELPROV_TIMEOUT")
        os.environ.pop("MODELPROV_MAX_RETRIES")
        return {
            "suite passed": done.returncode == 0,
            "calls": calls,
            "requests": server.request_count,
            "faults": sum(kinds.values()),
            "by kind": dict(sorted(kinds.items())),
            "fault mix": len(FAULT_MIX),
            "entries stored (all scripted answers)": len(stored),
            "calls lost": calls - len(stored),
        }


def kills(root: Path, count: int) -> dict[str, object]:
    with LocalServer() as server:
        base_env(server, os.environ["BENCH_CANARY_KEY"])
        server.script.latency = 0.02
        os.environ["MODELPROV_CONCURRENCY"] = "4"
        work = root / "kill"
        work.mkdir()
        serial = kill_and_resume(
            server, work, root / "kill-cache", kills=count - count // 5, prompts=1200, seed=7
        )
        server.reset()
        work2 = root / "kill-xdist"
        work2.mkdir()
        xdist = kill_and_resume(
            server, work2, root / "kill-cache-xdist", kills=count // 5, prompts=600, seed=8,
            xdist=["-n", "2"], window=(0.0, 1.0),
        )  # fmt: skip
        os.environ.pop("MODELPROV_CONCURRENCY")
        both = (serial, xdist)
        return {
            "runs killed": sum(s.kills for s in both),
            "killed mid-recording": sum(s.killed_mid_recording for s in both),
            "final runs passed": all(s.final_returncode == 0 for s in both),
            "calls lost": sum(s.calls_lost for s in both),
            "recorded entries lost or changed": sum(s.entries_lost for s in both),
            "recorded keys called again": sum(s.recalled_recorded for s in both),
            "in-flight calls repaid after a kill": sum(s.in_flight_repaid for s in both),
        }


def concurrency(root: Path, rounds: int, outputs: list[str]) -> dict[str, object]:
    found: dict[str, object] = {"rounds": rounds, "duplicate calls": 0, "identical to serial": True}
    with LocalServer() as server:
        base_env(server, os.environ["BENCH_CANARY_KEY"])
        server.script.latency = 0.2  # keeps both runs in flight at once
        server.add_rule("harbour", "grey", "silver", "rose")
        for i in range(rounds + 1):
            control = i == rounds
            work = root / f"conc-{i}"
            work.mkdir()
            (work / "test_a.py").write_text(overlapping_suite())
            (work / "test_b.py").write_text(overlapping_suite(tests=6, width=5))
            if control:
                (work / "conftest.py").write_text(NO_SINGLE_FLIGHT)
            server.reset()
            logs = [work / "xdist.jsonl", work / "second.jsonl"]
            done = run_concurrently(work, work / "cache", logs, [["-n", "4"], []])
            outputs.extend(d.stdout for d in done)
            dup = duplicates(server.requests)
            if control:
                found["duplicate calls without single flight (control)"] = dup
                continue
            found["duplicate calls"] += dup  # type: ignore[operator]
            server.reset()
            serial = work / "serial.jsonl"
            outputs.extend(
                d.stdout for d in run_concurrently(work, work / "serial-cache", [serial], [[]])
            )
            same = answers(logs) == answers([serial])
            found["identical to serial"] = found["identical to serial"] and same
    return found


def overhead(root: Path) -> dict[str, object]:
    import openai

    per_lock = lock_overhead(root / "locks", 3000)
    with LocalServer() as server:
        client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "w"}])
        start = time.perf_counter()
        for i in range(200):
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"{i}"}]
            )
        per_call = (time.perf_counter() - start) / 200
        client.close()
    return {
        "lock acquire+release (us)": round(per_lock * 1e6),
        "loopback call (ms)": round(per_call * 1e3, 2),
        "overhead on a cold call (%)": round(100 * per_lock / per_call, 1),
    }


def secrets(root: Path, key: str, outputs: list[str]) -> dict[str, object]:
    files = [p for p in root.rglob("*") if p.is_file()]
    leaks = [str(p) for p in files if key.encode() in p.read_bytes()]
    return {
        "files written": len(files),
        "outputs": len(outputs),
        "secrets found": len(leaks) + sum(key in out for out in outputs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    key = f"sk-bench-canary-{uuid.uuid4().hex}"
    os.environ["BENCH_CANARY_KEY"] = key
    outputs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelprov-faults-") as tmp:
        root = Path(tmp)
        for title, run in (
            ("server faults (30%, -n 4)", lambda: faults(root, args.calls, outputs)),
            ("SIGKILL mid-recording", lambda: kills(root, args.kills)),
            ("4 xdist workers + a second pytest", lambda: concurrency(root, args.rounds, outputs)),
            ("single-flight lock", lambda: overhead(root)),
        ):
            start = time.monotonic()
            figures = run()
            print(f"## {title}  ({time.monotonic() - start:.0f} s)")
            for name, value in figures.items():
                print(f"  {name}: {value}")
            sys.stdout.flush()
        print("## secrets (planted key, every file written and all output)")
        for name, value in secrets(root, key, outputs).items():
            print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
