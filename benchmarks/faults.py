"""Reliability figures for issues 8 and 16: faults, SIGKILLs, concurrency, lock overhead,
a tampered cache, and a planted key on every error path.

    python benchmarks/faults.py [--kills 50] [--rounds 3] [--calls 200] [--tampered 40]

Runs real pytest processes against the package's LocalServer (loopback), reusing the
harnesses of tests/test_kill.py, tests/test_concurrency.py and tests/test_faults.py, and
prints the figures. A planted API key is used by every run and grepped for in every file
written and all output at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import sqlite3
import subprocess
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

from pytest_modelprov.calls.cache import KeyLocks, ResponseCache
from pytest_modelprov.calls.entries import CacheEntry
from pytest_modelprov.testing.script import Fault
from pytest_modelprov.testing.server import LocalServer

NO_SINGLE_FLIGHT = """
import contextlib
from pytest_modelprov.calls.cache import KeyLocks

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


# -- issue 16: a cache from elsewhere, and a planted key on every error path ---------------

TAMPER_SUITE = """
PROMPTS = [f"Which lighthouse stands on cape {{i}}?" for i in range({count})]

def test_replay(model_under_test):
    for r in model_under_test.sample(PROMPTS):
        assert r.answer.startswith("Scripted answer")
"""

#: what tells a user "the package crashed": none of it may appear in any output
CRASH_MARKS = ("Traceback (most recent call last)", "INTERNALERROR", "RecursionError")


class _Marker:
    """Unpickled, writes a file: proof that code ran from the cache."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.path), "ran"))  # type: ignore[return-value]


def pytest_run(work: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
        cwd=work,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


def cli_run(*args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_modelprov.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


def tampered(root: Path, count: int, outputs: list[str]) -> dict[str, object]:
    """Record ``count`` answers, tamper with a quarter of each kind, and use the cache."""
    work = root / "tampered"
    work.mkdir()
    cache_dir = work / "cache"
    (work / "test_tampered.py").write_text(TAMPER_SUITE.format(count=count))
    with LocalServer() as server:
        base_env(server, os.environ["BENCH_CANARY_KEY"])
        os.environ["MODELPROV_CACHE_DIR"] = str(cache_dir)
        code, out = pytest_run(work)
        assert code == 0, out
        cache = ResponseCache(cache_dir)
        digests = sorted(cache.digests())
        entries = {d: cache.get(d) for d in digests}
        cache.close()
        markers = [root / f"ran-{i}" for i in range(count)]
        victims = []
        db = sqlite3.connect(cache_dir / "cache.db")
        injected: Counter[str] = Counter()
        for i, digest in enumerate(digests):
            kind = ("pickle", "outside", "nan", "deep", "pickled-key")[i % 5]
            if kind == "pickle":
                row = (pickle.dumps(_Marker(markers[i])), digest)
                db.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = ?", row)
            elif kind == "outside":
                victim = root / f"victim-{i}.txt"
                victim.write_text(f"private text {i}")
                victims.append(victim)
                name = os.path.relpath(victim, cache_dir) if i % 2 else str(victim)
                db.execute(
                    "UPDATE Cache SET mode = 2, value = NULL, filename = ? WHERE key = ?",
                    (name, digest),
                )
            elif kind == "nan":
                entry = entries[digest]
                assert isinstance(entry, CacheEntry)
                entry.response["usage"].update(prompt_tokens=math.nan, total_tokens=math.inf)
                db.execute("UPDATE Cache SET value = ? WHERE key = ?", (entry.to_bytes(), digest))
            elif kind == "deep":
                deep = b"[" * 100_000 + b"]" * 100_000
                db.execute("UPDATE Cache SET value = ? WHERE key = ?", (deep, digest))
            else:
                row = (pickle.dumps(_Marker(markers[i])), digest)
                db.execute("UPDATE Cache SET raw = 0, key = ? WHERE key = ?", row)
            injected[kind] += 1
        db.execute("INSERT INTO Settings VALUES ('sqlite_user_version', 77)")
        injected["foreign setting"] += 1
        db.commit()
        db.close()
        requests_before = server.request_count
        # replay must fail on the unreadable entries; refresh records them again
        runs = [
            pytest_run(work, env={"CI": "true"}),
            pytest_run(work, "--modelprov-record-mode=refresh"),
        ]
        d = str(cache_dir)
        runs += [
            cli_run("cache", "stats", "--cache-dir", d),
            *[cli_run("cache", "show", digest[:16], "--cache-dir", d) for digest in digests],
            cli_run("cache", "export", str(root / "tampered.jsonl"), "--cache-dir", d),
            cli_run("cache", "import", str(root / "tampered.jsonl"), "--cache-dir", d + "2"),
            cli_run("cache", "clear", "--yes", "--cache-dir", d),
        ]
        outputs.extend(out for _, out in runs)
        export_lines = (root / "tampered.jsonl").read_text().splitlines()
        strict = 0
        for line in export_lines:
            json.loads(line, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
            strict += 1
        replay_code = runs[0][0]
        os.environ.pop("MODELPROV_CACHE_DIR")
        return {
            "faults injected": dict(injected),
            "replay run (CI=true) failed with unreadable entries": replay_code == 1,
            "refresh run passed (re-recorded them)": runs[1][0] == 0,
            "calls made by the refresh run": server.request_count - requests_before,
            "code executed from the cache": sum(m.exists() for m in markers),
            "files outside read (text in output)": sum(
                any(v.read_text() in out for _, out in runs) for v in victims if v.exists()
            ),
            "files outside deleted": sum(not v.exists() for v in victims),
            "export lines, all strict JSON": f"{strict} of {len(export_lines)}",
            "tracebacks shown to users": sum(
                any(mark in out for mark in CRASH_MARKS) for _, out in runs
            ),
        }


PLANTED = """
def test_calls(model_under_test):
    spec = model_under_test.spec  # a local: -l prints its repr
    model_under_test.ask("Which bird nests on the old tower?")
    raise RuntimeError("an uncaught error with the spec in the frame")
"""


def planted_key(root: Path, outputs: list[str]) -> dict[str, object]:
    """Every error path that once printed a key or a URL password, with all outputs on."""
    key = os.environ["BENCH_CANARY_KEY"]
    password = f"pw{uuid.uuid4().hex}"
    found: dict[str, object] = {}
    leaks = 0
    shown = 0
    with LocalServer() as server:
        base_env(server, key)
        paths = {
            "bad port in the base URL": {"MODELPROV_BASE_URL": "http://127.0.0.1:abc/v1"},
            "unparsable base URL": {"MODELPROV_BASE_URL": "http://[::1/v1"},
            "error in SDK client construction": {"ALL_PROXY": "bogus://proxy"},
            "error inside the SDK while sending": {"BENCH_CANARY_KEY": key + "\u00e9"},
            "URL password, uncaught error": {
                "MODELPROV_BASE_URL": server.url.replace("://", f"://ops:{password}@")
            },
            "server echoes the key in a 401": {},
        }
        for i, (name, extra) in enumerate(paths.items()):
            work = root / f"planted-{i}"
            work.mkdir()
            (work / "test_planted.py").write_text(PLANTED)
            if name.startswith("server echoes"):
                server.inject(Fault("status", status=401, message=f"bad key {key}"))
            code, out = pytest_run(
                work, "--tb=long", "-l", "-rA", "--log-level=DEBUG",
                f"--debug={work / 'debug.log'}", f"--junitxml={work / 'junit.xml'}",
                f"--modelprov-report-json={work / 'report.json'}",
                f"--modelprov-transcript={work / 't.jsonl'}",
                env={"MODELPROV_MAX_RETRIES": "0", "MODELPROV_CACHE_DIR": str(work / "c"), **extra},
            )  # fmt: skip
            outputs.append(out)
            files = [p for p in work.rglob("*") if p.is_file()]
            secrets_here = [s for s in (key, password) if s in out] + [
                str(p) for p in files for s in (key, password) if s.encode() in p.read_bytes()
            ]
            leaks += len(secrets_here)
            # the test's own RuntimeError is the user's traceback; anything from the
            # package or the SDK underneath is not
            internal = any(m in out for m in CRASH_MARKS) or "site-packages/openai" in out
            shown += internal
            found[name] = f"exit {code}, {len(files)} files, secrets {len(secrets_here)}"
    found["secrets found"] = leaks
    found["tracebacks shown to users"] = shown
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--tampered", type=int, default=40, help="entries in the tampered cache")
    parser.add_argument(
        "--only", default="", help="comma-separated rounds to run: faults,kills,concurrency,"
        "overhead,tampered,planted (default: all)"
    )  # fmt: skip
    args = parser.parse_args()
    key = f"sk-bench-canary-{uuid.uuid4().hex}"
    os.environ["BENCH_CANARY_KEY"] = key
    outputs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="modelprov-faults-") as tmp:
        root = Path(tmp)
        chosen = {n.strip() for n in args.only.split(",") if n.strip()}
        for name, title, run in (
            ("faults", "server faults (30%, -n 4)", lambda: faults(root, args.calls, outputs)),
            ("kills", "SIGKILL mid-recording", lambda: kills(root, args.kills)),
            ("concurrency", "4 xdist workers + a second pytest",
             lambda: concurrency(root, args.rounds, outputs)),
            ("overhead", "single-flight lock", lambda: overhead(root)),
            ("tampered", "tampered cache (pickle, paths outside, NaN, deep JSON)",
             lambda: tampered(root, args.tampered, outputs)),
            ("planted", "planted key on every error path", lambda: planted_key(root, outputs)),
        ):  # fmt: skip
            if chosen and name not in chosen:
                continue
            start = time.monotonic()
            figures = run()
            print(f"## {title}  ({time.monotonic() - start:.0f} s)")
            for label, value in figures.items():
                print(f"  {label}: {value}")
            sys.stdout.flush()
        print("## secrets (planted key, every file written and all output)")
        for name, value in secrets(root, key, outputs).items():
            print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
