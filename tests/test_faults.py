"""A suite against a server that fails 30% of the time, and calls that never succeed.

Single faults and the retry arithmetic are in ``test_client.py``; here whole pytest runs meet
every fault kind at once, and ``benchmarks/faults.py`` repeats it at a larger scale.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pytest_modelprov.calls.cache import ResponseCache
from pytest_modelprov.calls.entries import CacheEntry
from pytest_modelprov.testing.script import Fault
from pytest_modelprov.testing.server import LocalServer

# Every kind the issue names: 5xx and 429 with and without Retry-After, timeouts (a delay
# longer than the client's timeout), slow answers, resets, truncated and malformed JSON,
# empty choices, a 200 with an error body, and answer bytes that are not UTF-8.
FAULT_MIX = [
    Fault("status", status=500, message="injected 500"),
    Fault("status", status=502, message="injected 502"),
    Fault("status", status=503, message="injected 503", retry_after=0.05),
    Fault("status", status=503, message="injected 503 without retry-after"),
    Fault("status", status=429, message="injected 429", retry_after=0.05),
    Fault("status", status=429, message="injected 429 without retry-after"),
    Fault("delay", delay=0.6),  # longer than MODELPROV_TIMEOUT below: a timeout
    Fault("delay", delay=0.05),  # slow but in time: a good answer
    Fault("reset"),
    Fault("truncated"),
    Fault("malformed"),
    Fault("empty_choices"),
    Fault("error_200", message="injected error in a 200"),
    Fault("invalid_utf8"),
    # issue 16: empty and non-text answers, JSON nested 100 000 deep, a body trickled past
    # the call's deadline, and NaN usage counts (a good answer, stored with null counts)
    Fault("content", content=""),
    Fault("content", content=None),
    Fault("content", content=7),
    Fault("deep_json"),
    Fault("trickle", delay=0.1),
    Fault("nan_usage"),
]
TIMEOUT = "0.3"
MAX_RETRIES = 8  # 0.3**9: a call fails on its own about once in 50 000


def suite(prompts: int, n: int) -> str:
    return (
        f"PROMPTS = [f'Which bird nests on tower {{i}}?' for i in range({prompts})]\n\n"
        "def test_first_half(model_under_test):\n"
        f"    samples = model_under_test.sample(PROMPTS[: {prompts // 2}], n={n}, seed=0)\n"
        "    for r in samples:\n"
        "        assert r.answer == f'Scripted answer to: \"{r.prompt}\"'\n\n"
        "def test_second_half(model_under_test):\n"
        f"    samples = model_under_test.sample(PROMPTS[{prompts // 2}:], n={n}, seed=0)\n"
        "    for r in samples:\n"
        "        assert r.answer == f'Scripted answer to: \"{r.prompt}\"'\n"
    )


def configure(server: LocalServer, rate: float, seed: int) -> None:
    server.inject(*FAULT_MIX)  # one of each, so every kind is met whatever the draws
    server.set_fault_rate(rate, FAULT_MIX, seed=seed)


def faults_by_kind(server: LocalServer) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for r in server.requests:
        if r.fault is not None:
            kinds[r.fault] += 1
    return kinds


def check_cache(cache_dir: Path, expected: int) -> dict[str, str]:
    """Every entry decodes and holds the scripted answer: no fault was ever stored."""
    cache = ResponseCache(cache_dir)
    try:
        answers: dict[str, str] = {}
        for digest, entry in cache.entries():
            assert isinstance(entry, CacheEntry), entry
            prompt = entry.request["messages"][-1]["content"]
            answer = entry.response["choices"][0]["message"]["content"]
            assert answer == f'Scripted answer to: "{prompt}"', (digest, answer)
            # NaN usage is stored as null: exports and `cache stats` stay strict
            assert all(type(v) is not float for v in entry.usage.values()), entry.usage
            answers[digest] = answer
        assert len(answers) == expected
        return answers
    finally:
        cache.close()


def test_a_suite_against_a_flaky_server_completes_and_caches_no_fault(
    pytester, env, monkeypatch, tmp_path
):
    monkeypatch.setenv("MODELPROV_TIMEOUT", TIMEOUT)
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", str(MAX_RETRIES))
    prompts, n = 24, 2
    configure(env.server, 0.3, seed=11)
    pytester.makepyfile(suite(prompts, n))
    log = tmp_path / "flaky.jsonl"
    result = pytester.runpytest("-p", "no:randomly", f"--modelprov-transcript={log}")
    result.assert_outcomes(passed=2)
    kinds = faults_by_kind(env.server)
    faults = sum(kinds.values())
    calls = prompts * n
    print(f"faults by kind: {dict(kinds)}; {faults} faults in {env.server.request_count} requests")
    # every queued kind was met, and the 30% rate then added its own
    assert set(kinds) == {f.kind for f in FAULT_MIX}
    assert faults >= len(FAULT_MIX) + 5
    # each fault costs exactly one more request, except a delay that ends in time (the
    # server does not record which delay it was, so those bound it from below) and NaN
    # usage (the answer is good: stored with null counts)
    delays, nan = kinds["delay"], kinds["nan_usage"]
    assert calls + faults - delays - nan <= env.server.request_count <= calls + faults - nan
    per_key = Counter(
        (r.body["messages"][-1]["content"], r.body["seed"]) for r in env.server.requests
    )
    assert len(per_key) == calls and max(per_key.values()) <= MAX_RETRIES + 1
    stored = check_cache(env.cache, calls)

    # replay with the server failing everything: the same answers, no request at all
    before = env.server.request_count
    env.server.set_fault_rate(1.0, [Fault("status", status=500)])
    replay_log = tmp_path / "replay.jsonl"
    result = pytester.runpytest(
        "-p",
        "no:randomly",
        "--modelprov-record-mode=replay",
        f"--modelprov-transcript={replay_log}",
    )
    result.assert_outcomes(passed=2)
    assert env.server.request_count == before
    rows = [json.loads(line) for line in replay_log.read_text().splitlines()]
    assert {r["key"]: r["answer"] for r in rows} == stored


# what a test that never gets an answer must say: status and the server's own message
ALWAYS = [
    (Fault("status", status=503, message="overloaded, try later"), "HTTP 503: overloaded, try later"),
    (Fault("status", status=429, message="rate limit reached", retry_after=0.01), "HTTP 429: rate limit reached"),
    (Fault("status", status=500, message="boom in the upstream"), "HTTP 500: boom in the upstream"),
    (Fault("error_200", message="the upstream said no"), "error in a 200 response: the upstream said no"),
    (Fault("malformed", message="gateway page"), "malformed JSON in a 200 response: '<html><body><h1>modelprov</h1><p>gateway page"),
    (Fault("truncated"), "malformed JSON in a 200 response"),
    (Fault("empty_choices"), "no choices in the response"),
    (Fault("invalid_utf8"), "the response body is not valid UTF-8"),
    (Fault("reset"), "connection failed"),
    (Fault("delay", delay=0.5), f"timed out after {TIMEOUT} s"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "message"), ALWAYS, ids=[f"{f.kind}-{f.status}" for f, _ in ALWAYS]
)
def test_a_call_that_never_succeeds_fails_its_test_with_the_reason(
    pytester, env, monkeypatch, fault, message
):
    monkeypatch.setenv("MODELPROV_TIMEOUT", TIMEOUT)
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "1")
    env.server.set_fault_rate(1.0, [fault])
    pytester.makepyfile(
        """
        def test_asks_and_checks_nothing(model_under_test):
            model_under_test.ask("Which bird nests on the old tower?")

        def test_swallowing_assertions_does_not_help(model_under_test):
            try:
                model_under_test.sample(["one", "two"])
            except AssertionError:
                pass
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([f"*failed after 2 attempts: {message}*"])
    assert env.server.request_count == 2 + 2 * 2  # bounded: 1 + 1 retry per call
    assert not env.cache.exists() or ResponseCache(env.cache).digests() == []
