"""SIGKILL a recording run at random points; the next run picks up exactly where it died.

``benchmarks/faults.py`` runs the same harness with many more kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_modelprov.calls.cache import ResponseCache
from pytest_modelprov.calls.entries import CacheEntry
from pytest_modelprov.testing.script import RecordedRequest
from pytest_modelprov.testing.server import LocalServer

Key = tuple[str, object]  # (prompt, seed): what tells two keys apart in these suites


def suite(prompts: int, n: int) -> str:
    return (
        f"PROMPTS = [f'Name a lighthouse keeper from story {{i}}.' for i in range({prompts})]\n\n"
        "def test_many(model_under_test):\n"
        f"    samples = model_under_test.sample(PROMPTS, n={n}, seed=0)\n"
        f"    assert len(samples) == {prompts * n}\n"
    )


def expected_keys(prompts: int, n: int) -> set[Key]:
    return {
        (f"Name a lighthouse keeper from story {i}.", r) for i in range(prompts) for r in range(n)
    }


def stored_keys(cache_dir: Path) -> dict[Key, str]:
    """Every entry, decoded; a half-written one would raise here."""
    if not cache_dir.exists():
        return {}
    cache = ResponseCache(cache_dir)
    try:
        found: dict[Key, str] = {}
        for digest, entry in cache.entries():
            if not isinstance(entry, CacheEntry):
                raise AssertionError(f"unreadable entry {digest} after a kill: {entry}")
            text = entry.request["messages"][-1]["content"]
            found[(text, entry.request["params"].get("seed"))] = entry.response["choices"][0][
                "message"
            ]["content"]
        return found
    finally:
        cache.close()


def served(requests: Sequence[RecordedRequest]) -> list[Key]:
    # a client killed while sending leaves a request with no readable body: never answered
    return [
        (r.body["messages"][-1]["content"], r.body.get("seed"))
        for r in requests
        if r.fault is None and r.body.get("messages")
    ]


@dataclass
class KillStats:
    kills: int = 0
    killed_mid_recording: int = 0  # kills after some but before all answers were stored
    recalled_recorded: int = 0  # calls for keys already stored when the run began: must be 0
    entries_lost: int = 0  # stored keys that vanished or changed later: must be 0
    calls_lost: int = 0  # keys missing after the final run: must be 0
    in_flight_repaid: int = 0  # answered but unstored when killed, so asked again (expected)
    final_returncode: int | None = None
    final_output: str = ""
    log: list[str] = field(default_factory=list)


def kill_and_resume(
    server: LocalServer,
    workdir: Path,
    cache_dir: Path,
    *,
    kills: int,
    prompts: int = 60,
    n: int = 1,
    seed: int = 0,
    xdist: Sequence[str] = (),
    window: tuple[float, float] = (0.0, 0.5),
) -> KillStats:
    """Run the suite ``kills`` times, SIGKILLing each at a random moment, then once to the end.

    Each kill comes ``window`` seconds (uniform) after the run's first model call.
    """
    rng = random.Random(seed)
    (workdir / "test_record.py").write_text(suite(prompts, n), encoding="utf-8")
    env = {**os.environ, "MODELPROV_CACHE_DIR": str(cache_dir), "MODELPROV_BASE_URL": server.url}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]
    stats = KillStats()
    before = stored_keys(cache_dir)
    for attempt in range(kills + 1):
        first_request = server.request_count
        proc = subprocess.Popen(
            [*cmd, *xdist],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: xdist workers die with it
        )
        last = attempt == kills
        killed = False
        if last:
            out, _ = proc.communicate(timeout=120)
            stats.final_returncode, stats.final_output = proc.returncode, out.decode()
        else:
            # wait for the run's first call, so the kill lands while it is recording
            while server.request_count == first_request and proc.poll() is None:
                time.sleep(0.005)
            try:
                proc.wait(timeout=rng.uniform(*window))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stats.kills += 1
                killed = True
            proc.communicate()
        asked = served(server.requests[first_request:])
        after = stored_keys(cache_dir)
        stats.recalled_recorded += sum(1 for k in asked if k in before)
        stats.entries_lost += sum(1 for k, v in before.items() if after.get(k) != v)
        stats.in_flight_repaid += sum(1 for k in asked if k not in after)
        if not last and len(after) - len(before) > 0 and len(after) < prompts * n:
            stats.killed_mid_recording += 1
        stats.log.append(
            f"run {attempt}: {'killed' if killed else 'completed'}, asked {len(asked)}, "
            f"stored {len(after) - len(before)} new, {len(after)} total"
        )
        before = after
    stats.calls_lost = len(expected_keys(prompts, n) - set(before))
    return stats


def test_killed_recording_runs_lose_nothing_and_the_next_run_finishes(pytester, env, monkeypatch):
    env.server.script.latency = 0.05
    monkeypatch.setenv("MODELPROV_CONCURRENCY", "4")
    started = time.monotonic()
    # 200 prompts: a run answers at most ~44 calls (4 at a time for 0.5 s, plus those in
    # flight) before its kill, so four runs cannot finish them between them and every kill
    # lands mid-recording (with 60, a faster warm start let the fourth run finish first)
    stats = kill_and_resume(env.server, pytester.path, env.cache, kills=4, prompts=200, seed=8)
    print("\n".join(stats.log), f"\n{time.monotonic() - started:.1f} s")
    assert stats.final_returncode == 0, stats.final_output
    assert stats.kills == 4, stats.log  # 200 calls take 2.5 s: every run dies before the end
    assert stats.killed_mid_recording >= 2, stats.log
    assert stats.recalled_recorded == 0
    assert stats.entries_lost == 0
    assert stats.calls_lost == 0
    # a kill can cost at most the calls in flight (concurrency 4)
    assert stats.in_flight_repaid <= 4 * stats.kills
