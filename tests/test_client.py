"""The client's retry loop and concurrency, through the real SDK against the local server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pytest_modelprov.calls.client import plan_calls, retry_after_seconds
from pytest_modelprov.calls.response import Response
from pytest_modelprov.config import ModelSpec, Sources, resolve
from pytest_modelprov.errors import CacheCorruptError, ConfigError, ModelCallError
from pytest_modelprov.session import ModelProvSession
from pytest_modelprov.testing.script import Fault


def make_session(tmp_path: Path, **env: str) -> ModelProvSession:
    environ = {"MODELPROV_RETRY_BACKOFF": "0.01", **env}
    settings = resolve(Sources(cli=lambda o: None, ini=lambda o: None, environ=environ), tmp_path)
    return ModelProvSession(settings, environ=environ)


@pytest.fixture
def spec(server):
    return ModelSpec(name="model under test", model="m", base_url=server.url)


def ask(session, spec, prompt="Who are you?", n=1):
    return session.sample(spec, plan_calls(spec, prompt, n, {}), "test::node")


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", status=500),
        Fault("status", status=502),
        Fault("status", status=503, retry_after=0.05),
        Fault("status", status=429),
        Fault("malformed"),
        Fault("truncated"),
        Fault("empty_choices"),
        Fault("error_200", message="upstream overloaded"),
        Fault("reset"),
        Fault("invalid_utf8"),
    ],
    ids=lambda f: f"{f.kind}-{f.status}",
)
def test_transient_faults_are_retried_then_cached(tmp_path, server, spec, fault):
    session = make_session(tmp_path)
    server.inject(fault, fault)
    (response,) = ask(session, spec)
    assert response.answer and not response.cached
    assert server.request_count == 3
    assert session.ledger.tallies[spec.name].retries == 2
    (again,) = ask(session, spec)
    assert again.cached and again.answer == response.answer
    assert server.request_count == 3
    session.close()


def test_timeout_is_retried(tmp_path, server, spec):
    session = make_session(tmp_path, MODELPROV_TIMEOUT="0.2")
    server.inject(Fault("delay", delay=0.6))
    (response,) = ask(session, spec)
    assert response.answer and server.request_count == 2
    session.close()


def test_attempts_are_bounded_and_sdk_retries_do_not_stack(tmp_path, server, spec):
    session = make_session(tmp_path, MODELPROV_MAX_RETRIES="2")
    server.inject(*[Fault("status", status=503, message="try later")] * 5)
    with pytest.raises(ModelCallError) as info:
        ask(session, spec)
    assert server.request_count == 3  # 1 + 2 retries, not multiplied by the SDK's own
    assert info.value.status == 503 and info.value.attempts == 3
    assert "failed after 3 attempts: HTTP 503: try later" in str(info.value)
    assert session.cache.digests() == []
    session.close()


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_not_retried(tmp_path, server, spec, status):
    session = make_session(tmp_path)
    server.inject(Fault("status", status=status, message="you did it wrong"))
    with pytest.raises(ModelCallError, match=f"after 1 attempt: HTTP {status}: you did it wrong"):
        ask(session, spec)
    assert server.request_count == 1
    session.close()


def test_a_retry_after_longer_than_the_limit_fails_at_once(tmp_path, server, spec):
    session = make_session(tmp_path, MODELPROV_MAX_RETRY_WAIT="5")
    server.inject(Fault("status", status=429, retry_after=3600, message="daily quota"))
    start = time.monotonic()
    with pytest.raises(
        ModelCallError,
        match="asked to retry after 3600 s, longer than modelprov_max_retry_wait=5 s",
    ):
        ask(session, spec)
    assert time.monotonic() - start < 2 and server.request_count == 1
    session.close()


def test_partial_failure_keeps_what_arrived(tmp_path, server, spec):
    session = make_session(tmp_path, MODELPROV_MAX_RETRIES="0", MODELPROV_CONCURRENCY="1")
    server.inject(Fault("status", status=500))
    with pytest.raises(
        ModelCallError, match=r"1 of 4 calls failed; the 3 answers that arrived are cached"
    ):
        ask(session, spec, ["a", "b", "c", "d"])
    assert len(session.cache.digests()) == 3
    ask(session, spec, ["a", "b", "c", "d"])
    assert server.request_count == 5
    session.close()


def test_concurrency_is_bounded(tmp_path, server, spec):
    latency = 0.2
    server.script.latency = latency
    session = make_session(tmp_path, MODELPROV_CONCURRENCY="4")
    start = time.monotonic()
    ask(session, spec, [f"prompt {i}" for i in range(8)])
    elapsed = time.monotonic() - start
    # 8 calls, 4 at a time: two waves. Serial would take 8 latencies, unbounded one.
    assert 2 * latency <= elapsed < 4 * latency
    session.close()


def test_missing_api_key_names_the_variable(tmp_path):
    session = make_session(tmp_path, MODELPROV_MAX_RETRIES="0")
    remote = ModelSpec(
        name="gemini", model="g", base_url="https://example.invalid/v1", api_key_env="GEMINI_KEY"
    )
    with pytest.raises(ModelCallError, match="environment variable GEMINI_KEY is not set"):
        ask(session, remote)
    session.close()


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_unserialisable_parameters_are_a_clear_error(server, spec):
    with pytest.raises(ConfigError, match="must be plain JSON values"):
        plan_calls(spec, "hi", 1, {"response_format": object()})
    with pytest.raises(ConfigError, match="cannot send this request"):
        plan_calls(spec, "hi", 1, {"temperature": float("nan")})


def test_extra_body_may_not_smuggle_reserved_fields(spec):
    with pytest.raises(ConfigError, match="extra_body from sample\\(\\) arguments may not set 'n'"):
        plan_calls(spec, "hi", 1, {"extra_body": {"n": 3}})
    with pytest.raises(ConfigError, match="may not set 'model'"):
        plan_calls(spec, "hi", 1, {"extra_body": {"model": "other"}})


def test_tool_call_answers_are_cacheable():
    body = {
        "model": "m",
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }

    def parse():
        return Response.from_body(
            body,
            messages=[{"role": "user", "content": "x"}],
            prompt_index=0,
            replicate=0,
            requested_model="m",
            cached=False,
            key="k",
        )

    response = parse()
    assert response.answer == "" and response.cacheable and len(response.tool_calls) == 1
    body["choices"][0]["message"]["tool_calls"] = []
    assert not parse().cacheable


def test_a_wrongly_shaped_entry_is_reported_as_unreadable(tmp_path, server, spec):
    session = make_session(tmp_path)
    (response,) = ask(session, spec)
    raw = session.cache.get(response.key).to_dict()  # written back in the version-1 form
    raw["response"]["choices"] = []
    session.cache._open().set(response.key, json.dumps(raw).encode())
    with pytest.raises(CacheCorruptError, match="is unreadable \\(no choices in the response\\)"):
        ask(session, spec)
    session.close()


def test_entries_of_the_version_1_form_still_replay(tmp_path, server, spec):
    session = make_session(tmp_path)
    (live,) = ask(session, spec)
    old = json.dumps(session.cache.get(live.key).to_dict()).encode()  # one JSON object
    session.cache._open().set(live.key, old)
    (replayed,) = ask(session, spec)
    assert replayed.cached and server.request_count == 1
    assert (replayed.answer, replayed.usage, replayed.model) == (
        live.answer,
        live.usage,
        live.model,
    )
    assert replayed.raw["choices"] == live.raw["choices"]
    session.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[:-5],  # truncated body
        lambda raw: raw[:40],  # truncated header
        lambda raw: raw.replace(b"\t", b" ", 3),  # header fields run together
        lambda raw: raw.replace(raw[25:35], b"0123456789", 1),  # another key's header
    ],
)
def test_a_damaged_entry_is_unreadable_and_left_in_place(tmp_path, server, spec, damage):
    session = make_session(tmp_path)
    (response,) = ask(session, spec)
    broken = damage(session.cache.raw(response.key))
    session.cache._open().set(response.key, broken)
    with pytest.raises(CacheCorruptError, match="is unreadable"):
        ask(session, spec)
    assert session.cache.raw(response.key) == broken and server.request_count == 1
    session.close()


def test_the_stored_form_gives_back_the_response_as_received(tmp_path, server, spec):
    """Content and reasoning are stored once, as raw text, and put back on demand."""
    server.add_rule("think", "<think>step one</think>The answer.")
    server.add_rule("field", "Plain answer.", reasoning="A separate trace.")
    session = make_session(tmp_path)
    live = session.sample(spec, plan_calls(spec, ["think", "field", "hello"], 1, {}), "t")
    replayed = session.sample(spec, plan_calls(spec, ["think", "field", "hello"], 1, {}), "t")
    assert [r.cached for r in replayed] == [True] * 3
    for a, b in zip(live, replayed, strict=True):
        assert (a.answer, a.reasoning, a.finish_reason) == (b.answer, b.reasoning, b.finish_reason)
        assert dict(a.raw) == dict(b.raw)  # the lazily decoded body, with texts restored
        assert session.cache.get(a.key).response == dict(a.raw)
    assert replayed[0].reasoning == "step one" and replayed[1].reasoning == "A separate trace."
    session.close()


def test_a_replayed_raw_body_is_a_plain_dict(tmp_path, server, spec):
    session = make_session(tmp_path)
    (live,) = ask(session, spec)
    (warm,) = ask(session, spec)
    assert warm.cached and type(warm.raw) is dict and warm.raw == live.raw
    assert json.loads(json.dumps(warm.raw)) == live.raw  # what a test may write out
    session.close()


def test_refresh_records_over_an_unreadable_entry(tmp_path, server, spec):
    session = make_session(tmp_path)
    (response,) = ask(session, spec)
    session.cache._open().set(response.key, b"garbage")
    with pytest.raises(CacheCorruptError):
        ask(session, spec)
    session.close()
    refresh = make_session(tmp_path, MODELPROV_RECORD_MODE="refresh")
    (again,) = ask(refresh, spec)
    assert not again.cached and again.answer == response.answer
    assert refresh.cache.get(response.key) is not None  # readable again
    refresh.close()


def test_an_entry_of_a_newer_form_says_so(tmp_path, server, spec):
    session = make_session(tmp_path)
    (response,) = ask(session, spec)
    newer = session.cache.raw(response.key).replace(b"modelprov-entry/2\t", b"modelprov-entry/9\t")
    session.cache._open().set(response.key, newer)
    with pytest.raises(CacheCorruptError, match=r"by a newer pytest-modelprov.*Upgrade"):
        ask(session, spec)
    session.close()


def test_an_answer_with_a_lone_surrogate_exports_and_transcribes(tmp_path, server, spec):
    server.add_rule("odd", "half a pair: \ud83d and the rest")
    transcript = tmp_path / "t.jsonl"
    session = make_session(tmp_path, MODELPROV_TRANSCRIPT=str(transcript))
    (response,) = ask(session, spec, prompt="odd one")
    assert "\ud83d" in response.answer
    lines = transcript.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["answer"] == response.answer
    written, unreadable = session.cache.export(tmp_path / "export.jsonl")
    assert (written, unreadable) == (1, [])
    other = make_session(tmp_path / "other")
    assert other.cache.import_(tmp_path / "export.jsonl").added == 1
    assert other.cache.get(response.key).response == session.cache.get(response.key).response
    session.close()
    other.close()
