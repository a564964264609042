"""Record modes end to end: pytest runs against the local server, through the real SDK."""

from __future__ import annotations

import json

import diskcache
import pytest

from pytest_modelprov.testing.script import Fault

SUITE = """
def test_identity(model_under_test):
    samples = model_under_test.sample(["Who are you?", "Say hello"], n=3)
    assert len(samples) == 6

def test_identity_again(model_under_test):
    model_under_test.sample("Who are you?", n=3)
"""


def transcript(path):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(
        (r["test"], r["prompt_index"], r["replicate"], r["answer"], r["cached"]) for r in rows
    )


def answers_by_key(path):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_key: dict[str, set[str]] = {}
    for r in rows:
        by_key.setdefault(r["key"], set()).add(r["answer"])
    return by_key


def test_record_then_replay_from_cache(pytester, env, xdist_args, tmp_path):
    env.server.add_rule("who are you", "I am Alpha.", "I am Beta.", "I am Gamma.")
    pytester.makepyfile(SUITE)
    log1, log2 = tmp_path / "run1.jsonl", tmp_path / "run2.jsonl"
    result = pytester.runpytest(*xdist_args, f"--modelprov-transcript={log1}")
    result.assert_outcomes(passed=2)
    first_calls = env.server.request_count
    # 6 distinct keys, each called once even when two xdist workers miss it at once
    assert first_calls == 6
    one = answers_by_key(log1)
    assert len(one) == 6
    # every test saw one answer per key, even when two workers raced to record it
    assert all(len(answers) == 1 for answers in one.values())
    result = pytester.runpytest(*xdist_args, f"--modelprov-transcript={log2}")
    result.assert_outcomes(passed=2)
    assert env.server.request_count == first_calls, "a warm run must not call the server"
    assert answers_by_key(log2) == one
    assert all(row[4] for row in transcript(log2))
    result.stdout.fnmatch_lines(["*every answer came from the cache: no model was called*"])


def test_replicates_get_their_own_answers(pytester, env, tmp_path):
    env.server.add_rule("who are you", "A", "B", "C")
    pytester.makepyfile(
        """
        def test_seeded(model_under_test):
            samples = model_under_test.sample("Who are you?", n=3, seed=0)
            assert samples.answers == ["A", "B", "C"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    sent = sorted(r.body["seed"] for r in env.server.requests)
    assert sent == [0, 1, 2]
    pytester.runpytest().assert_outcomes(passed=1)
    assert env.server.request_count == 3


def test_replay_miss_fails_with_the_command_that_records_it(pytester, env, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=2)
    assert env.server.request_count == 0
    result.stdout.fnmatch_lines(
        [
            "*no recorded answer, and record mode is replay (from default (replay because CI=true))*",
            "*test:    test_replay_miss_fails_with_the_command_that_records_it.py::test_identity",
            "*model:   test-model at http://127.0.0.1:*/v1 (model under test)",
            "*prompt:  'Who are you?' (replicate 1 of 3)",
            "*missing: 6 of 6 answers this call needs",
            "*pytest --modelprov-record-mode=once 'test_replay_miss_fails_with_the_command_that_records_it.py::test_identity'",
        ]
    )
    # the printed command really records what was missing
    node = "test_replay_miss_fails_with_the_command_that_records_it.py::test_identity"
    pytester.runpytest("--modelprov-record-mode=once", node).assert_outcomes(passed=1)
    assert env.server.request_count == 6
    pytester.runpytest(node).assert_outcomes(passed=1)  # CI=true: replay, now a hit
    assert env.server.request_count == 6


def test_refresh_rerecords_each_key_once_per_run(pytester, env, tmp_path, xdist_args):
    env.server.add_rule("who are you", "old answer")
    pytester.makepyfile(SUITE)
    pytester.runpytest(*xdist_args).assert_outcomes(passed=2)
    recorded = env.server.request_count
    env.server.script.rules.clear()
    env.server.add_rule("who are you", "new answer", "newer answer", "newest answer")
    log = tmp_path / "refresh.jsonl"
    result = pytester.runpytest(
        *xdist_args, "--modelprov-record-mode=refresh", f"--modelprov-transcript={log}"
    )
    result.assert_outcomes(passed=2)
    # both tests sample "Who are you?" x3: refreshed once, then served from the new entries
    # (single-flight: a worker that waited for a key finds it refreshed in this run)
    assert env.server.request_count - recorded == 6
    refreshed = answers_by_key(log)
    assert all(len(a) == 1 for a in refreshed.values()), refreshed
    who = [
        r for r in map(json.loads, log.read_text().splitlines()) if r["prompt"] == "Who are you?"
    ]
    assert {r["answer"] for r in who} <= {"new answer", "newer answer", "newest answer"}
    assert len(who) == 6
    calls = env.server.request_count
    log2 = tmp_path / "after.jsonl"
    pytester.runpytest(f"--modelprov-transcript={log2}").assert_outcomes(passed=2)
    assert env.server.request_count == calls
    assert answers_by_key(log2) == refreshed
    who = [
        r for r in map(json.loads, log2.read_text().splitlines()) if r["prompt"] == "Who are you?"
    ]


def test_off_never_reads_or_writes_the_cache(pytester, env):
    pytester.makepyfile(SUITE)
    for expected in (9, 18):
        pytester.runpytest("--modelprov-record-mode=off").assert_outcomes(passed=2)
        assert env.server.request_count == expected
    assert not env.cache.exists()


def test_failed_calls_are_not_cached(pytester, env, monkeypatch):
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "0")
    env.server.inject(Fault("status", status=500, message="upstream exploded"))
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            assert model_under_test.ask("Who are you?").answer
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*failed after 1 attempt: HTTP 500: upstream exploded*"])
    assert not (env.cache.exists() and len(diskcache.Cache(str(env.cache))))
    pytester.runpytest().assert_outcomes(passed=1)
    assert env.server.request_count == 2


@pytest.mark.parametrize(
    "rule",
    [
        {"answers": [""]},
        {"answers": [""], "reasoning": "a trace cut off by max_tokens"},
        {"answers": ["partial"], "finish_reason": "content_filter"},
    ],
    ids=["empty-answer", "empty-answer-with-reasoning", "content-filter"],
)
def test_empty_and_filtered_answers_are_returned_but_not_cached(pytester, env, rule, monkeypatch):
    """With the opt-in, empty answers are counted; a filtered stop always is. Never cached.

    Without the opt-in empty answers are retried and fail: tests/test_untrusted.py.
    """
    if rule["answers"] == [""]:
        monkeypatch.setenv("MODELPROV_ALLOW_EMPTY", "true")
    env.server.add_rule(
        "who", *rule["answers"], reasoning=rule.get("reasoning"),
        finish_reason=rule.get("finish_reason", "stop"),
    )  # fmt: skip
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            r = model_under_test.ask("Who are you?")
            print("FINISH", r.finish_reason, "CACHED", r.cached)
        """
    )
    for calls in (1, 2):
        result = pytester.runpytest("-s")
        result.assert_outcomes(passed=1)
        assert env.server.request_count == calls
    result.stdout.fnmatch_lines(["*FINISH * CACHED False*"])
    result.stdout.re_match_lines([r"model under test: test-model\s+1\s+1\s+0\s+1\s+0\s+0"])


def test_reasoning_is_split_from_the_answer(pytester, env):
    env.server.add_rule("field", "Final A", reasoning="trace A", reasoning_style="field")
    env.server.add_rule("inline", "Final B", reasoning="trace B", reasoning_style="think")
    pytester.makepyfile(
        """
        def test_split(model_under_test):
            a, b, c = model_under_test.sample(["field", "inline", "plain"])
            assert (a.answer, a.reasoning) == ("Final A", "trace A")
            assert (b.answer, b.reasoning) == ("Final B", "trace B")
            assert c.reasoning is None and "<think>" not in c.answer
            assert a.usage.completion_tokens > 0 and a.model == "test-model"
            assert a.system_fingerprint
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)  # and the same from the cache
    assert env.server.request_count == 3


def test_retry_after_is_honoured(pytester, env):
    env.server.inject(
        Fault("status", status=429, retry_after=0.3), Fault("status", status=429, retry_after=0.3)
    )
    pytester.makepyfile(
        """
        import time
        def test_one(model_under_test):
            start = time.monotonic()
            model_under_test.ask("Who are you?")
            print("ELAPSED", time.monotonic() - start)
            assert time.monotonic() - start >= 0.6
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    assert env.server.request_count == 3
    result.stdout.re_match_lines([r"model under test: test-model\s+1\s+1\s+0\s+0\s+0\s+2"])


def test_snapshot_change_is_reported(pytester, env):
    env.server.script.model_aliases["test-model"] = "test-model-2026-01"
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            model_under_test.sample(["a", "b"])
        def test_two(model_under_test):
            model_under_test.sample(["a", "b", "c"])
        """
    )
    pytester.runpytest("-k", "test_one").assert_outcomes(passed=1)
    env.server.script.model_aliases["test-model"] = "test-model-2026-07"
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*answers came from several snapshots: test-model-2026-01 (4), test-model-2026-07 (1)*",
            "*now resolves to test-model-2026-07; cached answers came from test-model-2026-01*",
        ]
    )


def test_corrupt_entry_fails_loudly_and_is_kept(pytester, env):
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            model_under_test.ask("Who are you?")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    with diskcache.Cache(str(env.cache)) as cache:
        (key,) = list(cache.iterkeys())
        cache.set(key, b'{"key": "half a')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"*cache entry {key} in {env.cache} is unreadable*left in place*modelprov cache show*"]
    )
    assert env.server.request_count == 1
    with diskcache.Cache(str(env.cache)) as cache:
        assert cache.get(key) == b'{"key": "half a'
