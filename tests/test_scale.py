"""Speed and scale: pacing, budgets, the plan, batch mode, progress, xdist summaries.

Everything goes through real HTTP to the local server; what the server received (and
when) is the evidence.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_modelprov.calls.pacing import Pacer, SharedPause
from pytest_modelprov.testing.script import Fault

LONG_ANSWER = " ".join(f"word{i}" for i in range(200))  # 200 completion tokens at the server


# -- pacing: the algorithm on a fake clock ---------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_requests_are_spaced_at_the_rate_after_one_second_of_burst():
    clock = FakeClock()
    pacer = Pacer(rpm=120, clock=clock, sleep=clock.sleep)  # 2 a second, 2 at once
    starts = []
    for _ in range(8):
        pacer.acquire(10)
        starts.append(clock.now)
    # 2 at t=0, then one every 0.5 s: the 8th goes at 3.0 s
    assert starts[:2] == [0.0, 0.0]
    assert starts[-1] == pytest.approx(3.0, abs=1e-6)
    gaps = [b - a for a, b in itertools.pairwise(starts[1:])]
    assert all(g == pytest.approx(0.5, abs=1e-6) for g in gaps)


def test_tokens_are_paced_and_the_estimate_is_corrected_by_usage():
    clock = FakeClock()
    pacer = Pacer(tpm=6000, clock=clock, sleep=clock.sleep)  # 100 tokens a second
    pacer.acquire(100)  # the first second's worth
    pacer.settle(100, 50, 250)  # it really used 300: 200 of debt
    pacer.acquire(100)  # needs the debt paid and 100 more: 3 s at 100/s
    assert clock.now == pytest.approx(3.0, abs=1e-6)
    pacer.settle(100, 10, 10)  # used 20: 80 come back
    pacer.acquire(80)
    assert clock.now == pytest.approx(3.0, abs=1e-6)


def test_a_429_pauses_everyone_slows_the_pace_and_recovers():
    clock = FakeClock()
    pacer = Pacer(rpm=600, clock=clock, sleep=clock.sleep)
    pacer.throttled(2.0)
    assert pacer.factor == 0.5
    pacer.acquire(1)
    assert clock.now >= 2.0  # nobody goes before the Retry-After
    for _ in range(20):
        pacer.settle(1, 1, 1)
    assert pacer.factor == pytest.approx(0.7)  # +0.1 per 10 answers in a row
    for _ in range(10):
        pacer.throttled(0.0)
    assert pacer.factor == pytest.approx(1 / 16)  # never stops altogether


def test_a_429_in_one_process_pauses_and_slows_the_others(tmp_path):
    clock = FakeClock()

    def wall() -> float:
        return 5000.0 + clock.now

    path = tmp_path / "pauses" / "m"
    got_429 = Pacer(rpm=600, clock=clock, sleep=clock.sleep, shared=SharedPause(path), wall=wall)
    other = Pacer(rpm=600, clock=clock, sleep=clock.sleep, shared=SharedPause(path), wall=wall)
    other.acquire(1)
    assert clock.now == 0.0
    got_429.throttled(2.0)
    other.acquire(1)
    assert clock.now == pytest.approx(2.0)  # the other process waited for the Retry-After
    assert other.factor == 0.5 and other.stats.throttled == 0
    assert other.stats.paused == pytest.approx(2.0)
    clock.now += 1.0
    other.acquire(1)  # the same pause is applied once: no second halving
    assert other.factor == 0.5


def test_one_overload_halves_each_process_once(tmp_path):
    clock = FakeClock()

    def wall() -> float:
        return 5000.0 + clock.now

    path = tmp_path / "pause"
    a = Pacer(rpm=600, clock=clock, sleep=clock.sleep, shared=SharedPause(path), wall=wall)
    b = Pacer(rpm=600, clock=clock, sleep=clock.sleep, shared=SharedPause(path), wall=wall)
    # a burst: a's own 429, then b's a moment later with a longer Retry-After
    a.throttled(2.0)
    clock.now += 0.01
    b.throttled(3.0)
    a.acquire(1)
    assert clock.now == pytest.approx(3.01)  # a waits for the longer pause
    assert a.factor == 0.5  # b's 429 came within a's own pause: one overload, one halving
    # a's own later 429 halves again; the pause it already took from b does not count twice
    clock.now += 10.0
    b.throttled(30.0)
    a.acquire(1)
    assert a.factor == 0.25
    a.throttled(5.0)
    published = wall() + 5.0
    assert a.factor == 0.125
    # the file keeps the longest pause: a shorter one published later does not replace it
    b.throttled(1.0)
    assert float(path.read_text()) == pytest.approx(published)
    a.acquire(1)
    assert a.factor == 0.125


def test_a_stale_or_damaged_pause_file_does_not_pause(tmp_path):
    clock = FakeClock()
    path = tmp_path / "pause"
    path.write_text(repr(4000.0))  # ended long ago (wall clock 5000 below)
    pacer = Pacer(
        rpm=600, clock=clock, sleep=clock.sleep, shared=SharedPause(path), wall=lambda: 5000.0
    )
    pacer.acquire(1)
    path.write_text("not a time")
    pacer.acquire(1)
    assert clock.now == 0.0 and pacer.factor == 1.0
    # one still running from an earlier run is honoured
    path.write_text(repr(5003.0))
    pacer.acquire(1)
    assert clock.now == pytest.approx(3.0)


# -- pacing against the server ----------------------------------------------------------------


def _most_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t < start + window))
    return best


def test_calls_stay_under_the_rpm_limit(pytester, env):
    pytester.makepyfile(
        """
        def test_many(model_under_test):
            assert len(model_under_test.sample([f"q{i}" for i in range(30)])) == 30
        """
    )
    result = pytester.runpytest("--modelprov-rpm=600", "--modelprov-concurrency=8")
    result.assert_outcomes(passed=1)
    times = [r.received for r in env.server.requests]
    assert len(times) == 30
    # 10 a second with a bucket of 10: at most 10 + 10 t sent in any t seconds (2 more for
    # arrival jitter: a request sent late can reach the server right before a later one)
    assert _most_in_window(times, 1.0) <= 22
    # (30 - 10) / 10 = 2 s from the first to the last send; arrival times at a loaded server
    # smear the first burst by up to a few hundred ms (a CI run measured 1.80 s). Unpaced, the
    # 30 calls at concurrency 8 arrive within about 0.1 s.
    assert max(times) - min(times) >= 1.5
    result.stdout.fnmatch_lines(["*calls waited * s in all to stay under the rate limits*"])


def test_calls_stay_under_the_tpm_limit(pytester, env):
    env.server.add_rule("long", LONG_ANSWER)
    pytester.makepyfile(
        """
        def test_long(model_under_test):
            model_under_test.sample([f"long {i}" for i in range(10)], max_tokens=250)
        """
    )
    # 500 tokens a second; each answer is ~200 completion tokens
    pytester.runpytest("--modelprov-tpm=30000", "--modelprov-concurrency=8").assert_outcomes(
        passed=1
    )
    requests = env.server.requests
    times = [r.received for r in requests]
    assert len(times) == 10
    # ~2100 tokens at 500/s after a first 500: the last leaves >= 3 s after the first
    assert max(times) - min(times) >= 2.5
    assert _most_in_window(times, 1.0) <= 7  # 500 + 500 tokens, one call's debt, jitter


def test_a_429_pauses_the_other_calls_until_the_retry_after(pytester, env):
    env.server.script.latency = 0.2
    env.server.inject(Fault("status", status=429, retry_after=0.8))
    pytester.makepyfile(
        """
        def test_many(model_under_test):
            model_under_test.sample([f"q{i}" for i in range(16)])
        """
    )
    result = pytester.runpytest("--modelprov-concurrency=4")
    result.assert_outcomes(passed=1)
    requests = env.server.requests
    throttled = [r.received for r in requests if r.fault]
    assert len(throttled) == 1 and len(requests) == 17
    t429 = throttled[0]
    # calls already sent go on; nothing new leaves until the 0.8 s are over. Decided on a
    # count, not on arrival times (a loaded machine delays an already-sent call past any
    # fixed gap): at most the other 3 threads' calls in flight at the 429 can arrive in the
    # pause; a client that did not pause sends ~3 per thread in it (0.75 s / 0.2 s), ~9 more
    during = [r.received for r in requests if t429 < r.received < t429 + 0.75]
    assert len(during) <= 3, during
    result.stdout.fnmatch_lines(["*1 rate-limit answer (429); every call to it paused*"])


def test_a_429_in_one_xdist_worker_pauses_the_other_worker(pytester, env):
    """Decided on what happened, not on wall-clock gaps: the 429 is served only once both
    workers are calling, and the pause file the hit worker published says when the pause
    began (its write) and ends. A worker that honours it sends nothing new in between: of
    its calls, only those each of its 4 threads had already let out can arrive then."""
    env.server.script.latency = 0.1  # 80 calls by 4 threads: ~2 s of calls, the pause 1.2 s
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("w", ["a", "b"])
        def test_many(model_under_test, w):
            model_under_test.sample([f"{w}-q{i}" for i in range(80)])
        """
    )

    def worker(r: object) -> str:
        return str(r.body["messages"][-1]["content"])[0]  # type: ignore[attr-defined]

    stop = threading.Event()

    def fault_once_both_call() -> None:
        while not stop.wait(0.005):
            seen = [worker(r) for r in env.server.requests]
            if seen.count("a") >= 2 and seen.count("b") >= 2:
                env.server.inject(Fault("status", status=429, retry_after=1.2))
                return

    watcher = threading.Thread(target=fault_once_both_call, daemon=True)
    watcher.start()
    try:
        result = pytester.runpytest("-n", "2", "--modelprov-concurrency=4")
    finally:
        stop.set()
        watcher.join()
    result.assert_outcomes(passed=2)
    # the server stamps arrivals with time.monotonic(), the pause file holds wall time
    offset = time.time() - time.monotonic()
    requests = env.server.requests
    (hit,) = [r for r in requests if r.fault]
    (pause,) = [p for p in (env.cache / "pauses").iterdir() if p.suffix != ".lock"]
    began = pause.stat().st_mtime - offset
    ends = float(pause.read_text("ascii")) - offset
    assert ends - began >= 1.1  # the whole Retry-After, published for the other worker
    others = [r for r in requests if worker(r) != worker(hit)]
    held = [r for r in others if began <= r.received < ends]
    assert len(held) <= 4, [round(r.received - began, 3) for r in held]
    # both were calling when the 429 came, and the other still had calls after the pause
    assert any(r.received < hit.received for r in others)
    assert any(r.received >= ends for r in others)
    assert len(requests) == 161


# -- budgets ------------------------------------------------------------------------------------


SUITE_8 = """
def test_eight(model_under_test):
    model_under_test.sample([f"b{i}" for i in range(8)])
"""


def test_a_call_budget_stops_new_calls_and_keeps_what_was_recorded(pytester, env):
    pytester.makepyfile(SUITE_8)
    result = pytester.runpytest("--modelprov-budget=calls=5", "--modelprov-concurrency=1")
    result.assert_outcomes(failed=1)
    assert env.server.request_count == 5
    result.stdout.fnmatch_lines(
        [
            "*budget reached: 5 of 5 requests for this run (budget from --modelprov-budget: "
            "calls=5)*was not called*re-run replays them for free*",
            "*budget: whole run: 5 of 5 requests*",
        ]
    )
    # a new run has a new budget: only the 3 missing answers are called
    pytester.runpytest("--modelprov-budget=calls=5").assert_outcomes(passed=1)
    assert env.server.request_count == 8
    # answers from the cache cost nothing and count nothing
    pytester.runpytest("--modelprov-budget=calls=1").assert_outcomes(passed=1)
    assert env.server.request_count == 8


def test_a_per_model_budget_limits_that_model_only(pytester, env, monkeypatch):
    monkeypatch.setenv("MODELPROV_REFERENCES", "gem.model=gem-model")
    pytester.makepyfile(
        """
        def test_model(model_under_test):
            model_under_test.sample([f"m{i}" for i in range(6)])

        def test_reference(reference_model):
            reference_model("gem").sample([f"g{i}" for i in range(6)])
        """
    )
    monkeypatch.setenv("MODELPROV_BUDGET", "gem.calls=2")
    result = pytester.runpytest("--modelprov-concurrency=1")
    result.assert_outcomes(passed=1, failed=1)
    models = [r.body["model"] for r in env.server.requests]
    assert models.count("test-model") == 6 and models.count("gem-model") == 2
    result.stdout.fnmatch_lines(["*budget reached*'gem' in this run*gem.calls=2*"])


def test_a_cost_budget_stops_once_the_estimated_spending_reaches_it(pytester, env):
    env.server.add_rule("long", LONG_ANSWER)
    pytester.makepyfile(
        """
        def test_costly(model_under_test):
            model_under_test.sample([f"long {i}" for i in range(10)])
        """
    )
    # $1000 per million output tokens: each ~200-token answer is ~$0.20
    result = pytester.runpytest(
        "--modelprov-price=0/1000", "--modelprov-budget=cost=0.5", "--modelprov-concurrency=1"
    )
    result.assert_outcomes(failed=1)
    spent = [r for r in env.server.requests]
    completion = sum(len(LONG_ANSWER.split()) for _ in spent)  # the server counts words
    # calls go until the spending reaches $0.50: the third one crosses it, the fourth is refused
    assert len(spent) == 3 and completion * 1000 / 1e6 >= 0.5
    result.stdout.fnmatch_lines(["*budget reached: $0.6* of $0.5 for this run*"])


def test_one_budget_for_all_xdist_workers(pytester, env):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(4))
        def test_three(model_under_test, i):
            model_under_test.sample([f"x{i}-{j}" for j in range(3)])
        """
    )
    result = pytester.runpytest("-n", "2", "--modelprov-budget=calls=6")
    outcomes = result.parseoutcomes()
    assert env.server.request_count == 6  # not 6 per worker
    assert outcomes.get("failed", 0) >= 2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("calls=many", "*budget calls 'many' from --modelprov-budget is not valid*"),
        ("calls=2.5", "*calls must be a whole number*"),
        ("speed=3", "*budget item 'speed=3' from --modelprov-budget is not valid*"),
        ("nosuch.calls=3", "*names 'nosuch', which is not a configured model*"),
        ("model.cost=1", "*a cost budget for 'model'*needs its price*--modelprov-price*"),
        ("cost=1", "*the cost budget from --modelprov-budget limits nothing: no configured*"),
    ],
)
def test_bad_budgets_are_usage_errors(pytester, env, value, message):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(f"--modelprov-budget={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# -- the plan --------------------------------------------------------------------------------------


PLANNED = """
def test_recorded(model_under_test):
    model_under_test.sample([f"r{i}" for i in range(4)])

def test_new(model_under_test):
    model_under_test.sample([f"n{i}" for i in range(3)], n=2, max_tokens=100)
    assert False, "a plan never reports this"

def test_reference(reference_model):
    reference_model("gem").sample(["g0", "g1"])
"""


def test_the_plan_counts_calls_hits_and_cost_without_calling(pytester, env, monkeypatch):
    monkeypatch.setenv("MODELPROV_REFERENCES", "gem.model=gem-model")
    pytester.makepyfile(PLANNED)
    pytester.runpytest("-k", "recorded").assert_outcomes(passed=1)
    recorded = env.server.request_count
    assert recorded == 4
    result = pytester.runpytest("--modelprov-plan", "--modelprov-price=0/1000")
    assert result.ret == pytest.ExitCode.OK
    assert env.server.request_count == recorded  # nothing was called
    out = result.stdout.str()
    assert "a plan never reports this" not in out and "passed" not in out
    # model under test: 4 recorded + 3 prompts x 2 new; 600 output tokens from max_tokens
    cost = 600 * 1000 / 1e6
    result.stdout.re_match_lines(
        [
            r".*modelprov plan \(dry run\).*",
            r"gem \(gem-model\)\s+2\s+0\s+2\s+\d+\s+~\d+\s+-\s+-",
            rf"model under test \(test-model\)\s+10\s+4\s+6\s+\d+\s+600\s+\${cost:.2f}\s+\${cost / 2:.2f}",
            rf"8 calls to make in 2 tests; estimated cost \${cost:.2f} \(models without a price.*",
        ]
    )


def test_the_plan_writes_no_baseline_and_no_report(pytester, env, tmp_path):
    pytester.makepyfile(
        """
        from pytest_modelprov import refusal

        def test_gate(model_under_test, modelprov_baseline):
            result = refusal.measure(model_under_test, refusal.topics("over-refusal", langs=["en"]))
            modelprov_baseline.check(result)
        """
    )
    report = tmp_path / "run.json"
    result = pytester.runpytest("--modelprov-plan", f"--modelprov-report-json={report}")
    assert result.ret == pytest.ExitCode.OK
    assert env.server.request_count == 0
    assert not (pytester.path / "modelprov-baselines").exists() and not report.exists()
    result.stdout.fnmatch_lines(["*calls to make in 1 test*nothing was called*"])


def test_the_plan_under_collect_only_runs_nothing(pytester, env):
    pytester.makepyfile(PLANNED)
    result = pytester.runpytest("--modelprov-plan", "--collect-only")
    assert result.ret == pytest.ExitCode.OK
    assert "modelprov plan" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*3 tests collected*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--modelprov-plan", "-n", "2"],
            "*works out the calls in one process; run it without -n*",
        ),
        (["--modelprov-plan", "--modelprov-update-baselines"], "*placeholder answers*"),
        (["--modelprov-plan", "--modelprov-batch"], "*use one of them*"),
        (["--modelprov-batch", "--modelprov-record-mode=replay"], "*record mode is replay*"),
        (["--modelprov-batch", "--modelprov-record-mode=refresh"], "*record mode is refresh*"),
    ],
)
def test_plan_and_batch_refuse_what_they_cannot_do(pytester, env, args, message):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# -- batch mode ---------------------------------------------------------------------------------


BATCHED = """
def test_one(model_under_test):
    assert len(model_under_test.sample([f"a{i}" for i in range(5)])) == 5

def test_two(model_under_test):
    answers = model_under_test.sample(["b0", "b1", "b2"], n=2, seed=7)
    assert all(a.answer for a in answers)
"""


def test_batch_mode_fills_the_cache_then_the_tests_run_from_it(pytester, env):
    pytester.makepyfile(BATCHED)
    result = pytester.runpytest("--modelprov-batch", "--modelprov-batch-poll=0.02")
    result.assert_outcomes(passed=2)
    assert env.server.batch_lines_served == 11 and env.server.request_count == 0
    result.stdout.re_match_lines(
        [
            ".*modelprov batch fill for test-model.*11 calls, 0 already cached, 11 submitted.*",
            ".*11 answers came through the Batch API.*",
        ]
    )
    # what the batch spent is the run's spending, not savings of the cache
    used = re.search(
        r"11 answers stored \((\d+) prompt and (\d+) completion tokens\)",
        out := result.stdout.str(),
    )
    assert used
    spent = int(used[1]) + int(used[2])
    assert re.search(rf"model under test: test-model\s+11\s+0\s+11\s+0\s+0\s+0\s+{spent}\s+-", out)
    assert "no model was called" not in out
    pytester.runpytest("--modelprov-record-mode=replay").assert_outcomes(passed=2)
    # nothing left to submit the second time
    result = pytester.runpytest("--modelprov-batch")
    result.stdout.fnmatch_lines(["*every call the tests make is cached; nothing to submit*"])
    assert env.server.batch_lines_served == 11 and env.server.request_count == 0


def test_an_unfinished_batch_stops_the_run_and_the_next_run_resumes_it(pytester, env):
    env.server.batch_delay = 1.5
    pytester.makepyfile(BATCHED)
    result = pytester.runpytest(
        "--modelprov-batch", "--modelprov-batch-poll=0.05", "--modelprov-batch-wait=0.2"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes()  # no test ran
    result.stdout.fnmatch_lines(["*still running*", "*the tests did not run*"])
    assert len(env.server.batches) == 1 and env.server.request_count == 0
    time.sleep(1.6)
    result = pytester.runpytest("--modelprov-batch", "--modelprov-batch-poll=0.05")
    result.assert_outcomes(passed=2)
    assert len(env.server.batches) == 1  # polled, not submitted again
    assert env.server.batch_lines_served == 11 and env.server.request_count == 0


# -- progress line ------------------------------------------------------------------------------


SLOW = """
def test_slow(model_under_test):
    model_under_test.sample([f"p{i}" for i in range(24)])
"""
PROGRESS = re.compile(r"modelprov test-model: 24/24 calls · 0 cached · 0 errors · [\d.]+/s · done")


def test_progress_line_when_asked_and_silent_when_not_a_terminal(pytester, env):
    env.server.script.latency = 0.05
    pytester.makepyfile(SLOW)
    result = pytester.runpytest_subprocess("--modelprov-concurrency=2", "--modelprov-progress=on")
    result.assert_outcomes(passed=1)
    assert PROGRESS.search(result.stdout.str())
    pytester.runpytest_subprocess("--modelprov-record-mode=off", "--modelprov-concurrency=2")
    assert not re.search(r"calls · \d+ cached", pytester.runpytest_subprocess().stdout.str())


def _run_in_terminal(cwd: Path, *args: str) -> str:
    """pytest with a pseudo-terminal as its output: what a developer sees."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env=os.environ.copy(),
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_line_on_a_terminal_and_quiet_under_q(pytester, env):
    env.server.script.latency = 0.05
    pytester.makepyfile(SLOW)
    out = _run_in_terminal(
        pytester.path, "--modelprov-concurrency=2", "--modelprov-record-mode=off"
    )
    assert PROGRESS.search(out)
    # the result letter still lands after the file name, on its own line
    assert re.search(r"done in \d+ s\s*\r?\n\S*test_progress_line_on_a_terminal\S*\.py \S*\.", out)
    quiet = _run_in_terminal(
        pytester.path, "-q", "--modelprov-concurrency=2", "--modelprov-record-mode=off"
    )
    assert "1 passed" in quiet and "calls ·" not in quiet


# -- xdist: one summary for all workers --------------------------------------------------------


def test_the_summary_adds_up_every_workers_calls(pytester, env):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(6))
        def test_part(model_under_test, i):
            model_under_test.sample([f"w{i}-{j}" for j in range(3)])
        """
    )
    result = pytester.runpytest("-n", "2")
    result.assert_outcomes(passed=6)
    assert env.server.request_count == 18
    result.stdout.re_match_lines([r"model under test: test-model\s+18\s+18\s+0\s+.*"])
    result = pytester.runpytest("-n", "2")
    result.stdout.re_match_lines([r"model under test: test-model\s+18\s+0\s+18\s+.*"])


# -- batch mode: calls that follow answers, what is counted, what is shown -------------------------


FOLLOW_UP = """
def test_two_turns(model_under_test):
    (first,) = model_under_test.sample(["name a tree"])
    talk = [
        {"role": "user", "content": "name a tree"},
        {"role": "assistant", "content": first.answer},
        {"role": "user", "content": "where does it grow?"},
    ]
    (second,) = model_under_test.sample([talk])
    assert second.answer
"""


def test_a_follow_up_built_from_an_answer_is_filled_in_a_second_round(pytester, env):
    pytester.makepyfile(FOLLOW_UP)
    result = pytester.runpytest("--modelprov-batch", "--modelprov-batch-poll=0.02")
    result.assert_outcomes(passed=1)
    # one line per round, no call at the full price, no wasted line for a placeholder turn
    assert env.server.batch_lines_served == 2 and env.server.request_count == 0
    assert len(env.server.batches) == 2
    result.stdout.fnmatch_lines(["*round 2: modelprov batch fill*1 calls*"])


def test_the_plan_counts_follow_ups_apart(pytester, env):
    pytester.makepyfile(FOLLOW_UP)
    result = pytester.runpytest("--modelprov-plan")
    result.stdout.fnmatch_lines(
        ["*2 calls to make in 1 test*", "*1 of them come after an answer that is not recorded*"]
    )


def test_batch_mode_with_stop_early_calls_nothing_live(pytester, env):
    pytester.makepyfile(
        """
        from pytest_modelprov import refusal

        def test_gate(model_under_test):
            topics = refusal.topics("over-refusal", langs=["en"])
            stop = refusal.StopEarly(threshold=0.3, batch=10)
            result = refusal.measure(model_under_test, topics, stop_early=stop)
            print("SAMPLED", result.sequential["en"].sampled)
        """
    )
    result = pytester.runpytest("--modelprov-batch", "--modelprov-batch-poll=0.02", "-s")
    result.assert_outcomes(passed=1)
    # the last print is the real run's (the plan passes print too, under -s)
    sampled = int(re.findall(r"SAMPLED (\d+)", result.stdout.str())[-1])
    assert env.server.request_count == 0
    assert env.server.batch_lines_served == sampled  # every look filled, nothing extra


def test_batch_mode_counts_the_plan_pass_hits_once_and_shows_no_placeholder_output(pytester, env):
    pytester.makepyfile(
        BATCHED
        + """
def test_shows(model_under_test):
    (r,) = model_under_test.sample(["c0"])
    print(f"ANSWER=<{r.answer}> finish={r.finish_reason}")
    assert False
"""
    )
    pytester.runpytest("-k", "one").assert_outcomes(passed=1, deselected=2)
    result = pytester.runpytest("--modelprov-batch", "--modelprov-batch-poll=0.02")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "finish=plan" not in out and "finish=stop" in out
    # 12 answers in the run: 5 recorded before, 7 filled by the batch; each counted once
    assert re.search(r"model under test: test-model\s+12\s+0\s+12\s", out)


def test_a_cost_budget_limits_a_batch_fill(pytester, env):
    env.server.add_rule("long", LONG_ANSWER)
    pytester.makepyfile(
        """
        def test_costly(model_under_test):
            model_under_test.sample([f"long {i}" for i in range(16)], max_tokens=250)
        """
    )
    # 16 x 250 output tokens at $1000/M is $4.00, $2.00 at the batch price: over $0.50
    result = pytester.runpytest(
        "--modelprov-batch", "--modelprov-price=0/1000", "--modelprov-budget=cost=0.5"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert env.server.batch_lines_served == 0 and env.server.request_count == 0
    result.stdout.fnmatch_lines(["*budget reached: $0.0000 of $0.5, $2.0000 more needed*"])


def test_a_cost_budget_counts_the_calls_in_flight(pytester, env):
    env.server.add_rule("long", LONG_ANSWER)
    env.server.script.latency = 0.1
    pytester.makepyfile(
        """
        def test_costly(model_under_test):
            model_under_test.sample([f"long {i}" for i in range(16)], max_tokens=250)
        """
    )
    # each call reserves ~$0.25 while in flight: 8 at once cannot all slip under $0.50
    result = pytester.runpytest(
        "--modelprov-price=0/1000", "--modelprov-budget=cost=0.5", "--modelprov-concurrency=8"
    )
    result.assert_outcomes(failed=1)
    assert env.server.request_count <= 3


def test_a_reference_named_run_has_its_own_budget(pytester, env, monkeypatch):
    monkeypatch.setenv("MODELPROV_REFERENCES", "run.model=run-model")
    pytester.makepyfile(
        """
        def test_ref(reference_model):
            reference_model("run").sample([f"r{i}" for i in range(6)])
        """
    )
    result = pytester.runpytest("--modelprov-budget=calls=10", "--modelprov-budget=run.calls=8")
    result.assert_outcomes(passed=1)
    assert env.server.request_count == 6
    result.stdout.fnmatch_lines(["*budget: whole run: 6 of 10 requests*", "*budget: run: 6 of 8*"])


def test_the_plan_leaves_the_transcript_of_the_last_run(pytester, env, tmp_path):
    transcript = tmp_path / "answers.jsonl"
    pytester.makepyfile(SUITE_8)
    pytester.runpytest(f"--modelprov-transcript={transcript}").assert_outcomes(passed=1)
    before = transcript.read_text(encoding="utf-8")
    assert before.count("\n") == 8
    pytester.runpytest("--modelprov-plan", f"--modelprov-transcript={transcript}")
    assert transcript.read_text(encoding="utf-8") == before
