"""Batch mode: the engine (pytest_modelprov.calls.batch) against the local server's Batch API.

Real parts only: the LocalServer over HTTP, the openai SDK built by ModelClient, diskcache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openai
import pytest

from pytest_modelprov.calls.batch import BatchProgress, BatchStateError, fill
from pytest_modelprov.calls.client import CallContext, plan_calls
from pytest_modelprov.calls.planning import Call
from pytest_modelprov.config import ModelSpec, Price, RecordMode, Sources, resolve
from pytest_modelprov.errors import ConfigError, ModelCallError
from pytest_modelprov.session import ModelProvSession
from pytest_modelprov.testing.script import BatchEnding, BatchFault, Rule, Script
from pytest_modelprov.testing.server import LocalServer

POLL = 0.02


def script() -> Script:
    return Script(
        rules=[
            Rule(r"favourite colour", ["teal", "ochre", "violet"]),
            Rule(
                r"riddle",
                ["a shadow"],
                reasoning="It follows you everywhere.",
                reasoning_style="think",
            ),
            Rule(r"weigh", ["about four kilos"], reasoning="Cats vary.", finish_reason="length"),
            Rule(r"forbidden", ["[filtered]"], finish_reason="content_filter"),
        ]
    )


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer(script(), batch_delay=0.06) as srv:
        yield srv


def make_session(tmp_path: Path, cache: str, **env: str) -> ModelProvSession:
    environ = {"MODELPROV_CACHE_DIR": str(tmp_path / cache), "MODELPROV_RETRY_BACKOFF": "0", **env}
    settings = resolve(Sources(cli=lambda o: None, ini=lambda o: None, environ=environ), tmp_path)
    return ModelProvSession(settings, environ=environ, run_id=f"run-{cache}")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[ModelProvSession]:
    sess = make_session(tmp_path, "batch-cache")
    yield sess
    sess.close()


def make_spec(server: LocalServer, **kwargs: Any) -> ModelSpec:
    kwargs.setdefault("params", {"seed": 0, "temperature": 0.7})
    return ModelSpec(name="model", model="test-model", base_url=server.url, **kwargs)


PROMPTS = [
    "What is your favourite colour?",
    "Tell me a riddle answer.",
    "How much does a house cat weigh?",
    "Name a river in Peru.",
    "Describe fog in six words.",
    [
        {"role": "system", "content": "Answer tersely."},
        {"role": "user", "content": "A second favourite colour, please."},
    ],
    "Which bird migrates farthest?",
    "Suggest a name for a tortoise.",
    "Why is the sea salty?",
    "Count to three in Welsh.",
]


def calls_for(spec: ModelSpec, prompts: Sequence[Any] = PROMPTS, n: int = 3) -> list[Call]:
    return plan_calls(spec, list(prompts), n, {})


def run_fill(
    session: ModelProvSession, spec: ModelSpec, calls: Sequence[Call], tmp_path: Path, **kw: Any
) -> Any:
    kw.setdefault("poll_interval", POLL)
    kw.setdefault("timeout", 10.0)
    return fill(
        session.client(spec)._sdk_client(),
        spec,
        calls,
        session.cache,
        run_id=session.run_id,
        state_dir=tmp_path / "batches",
        **kw,
    )


def state_files(tmp_path: Path) -> list[Path]:
    directory = tmp_path / "batches"
    return sorted(directory.glob("batch-*.json")) if directory.exists() else []


def sdk(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0, timeout=5)


# -- the engine ------------------------------------------------------------------------------


def test_fill_stores_answers_that_replay_like_a_live_recording(server, session, tmp_path):
    spec = make_spec(server)
    calls = calls_for(spec)
    assert len(calls) == 30
    seen: list[BatchProgress] = []

    outcome = run_fill(session, spec, calls, tmp_path, progress=seen.append)

    assert server.request_count == 0  # not one live chat request
    assert server.batch_lines_served == 30
    assert (outcome.requested, outcome.submitted, outcome.filled) == (30, 30, 30)
    assert outcome.complete and outcome.unfilled == [] and outcome.pending == []
    assert sorted(session.cache.digests()) == sorted(c.key.digest for c in calls)
    assert state_files(tmp_path) == []  # done batches leave no state behind
    assert server.files == []  # nor files at the provider: the answers are in the cache
    assert seen[-1].status == "completed" and seen[-1].completed == 30
    assert "30 answers stored" in outcome.summary()
    # usage adds up to what the stored answers say, and the batch price is half the list price
    stored = [session.cache.get(c.key.digest) for c in calls]
    prompt = sum(e.usage["prompt_tokens"] for e in stored if e is not None)
    completion = sum(e.usage["completion_tokens"] for e in stored if e is not None)
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (prompt, completion) != (0, 0)
    price = Price(input_per_mtok=2.0, output_per_mtok=8.0)
    assert outcome.cost(price) == pytest.approx((prompt * 2.0 + completion * 8.0) / 2e6)

    # replay the batch-filled cache: no call may reach the server
    replay = make_session(tmp_path, "batch-cache", MODELPROV_RECORD_MODE="replay")
    context = CallContext("t::batch", RecordMode.REPLAY, "test")
    from_batch = replay.client(spec).run(calls, context)
    replay.close()
    assert server.request_count == 0

    # record the same calls live into another cache, on the same script
    live = make_session(tmp_path, "live-cache", MODELPROV_RECORD_MODE="once")
    recorded = live.client(spec).run(calls, CallContext("t::live", RecordMode.ONCE, "test"))
    assert server.request_count == 30
    assert all(r.cached for r in from_batch) and not any(r.cached for r in recorded)

    def view(r: Any) -> tuple[Any, ...]:
        return (
            r.key,
            r.answer,
            r.reasoning,
            r.finish_reason,
            r.model,
            r.system_fingerprint,
            r.usage,
        )

    assert [view(r) for r in from_batch] == [view(r) for r in recorded]
    # the replicates differ (seed = replicate), so this compares more than one answer
    assert {r.answer for r in from_batch if r.prompt_index == 0} == {"teal", "ochre", "violet"}
    # the stored entries agree too, apart from the per-response id and timestamp
    for call in calls:
        a = session.cache.get(call.key.digest)
        b = live.cache.get(call.key.digest)
        assert a is not None and b is not None
        assert a.request == b.request
        strip = {"id", "created"}
        assert {k: v for k, v in a.response.items() if k not in strip} == {
            k: v for k, v in b.response.items() if k not in strip
        }
        assert a.run == session.run_id
    live.close()


def test_calls_are_split_and_deduplicated_and_cached_ones_skipped(server, session, tmp_path):
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:7], n=1)
    outcome = run_fill(session, spec, calls + calls[:4], tmp_path, max_lines=3)

    assert outcome.requested == 7 and outcome.submitted == 7 and outcome.filled == 7
    assert len(outcome.batches_submitted) == 3
    assert sorted(b["request_counts"]["total"] for b in server.batches) == [1, 3, 3]
    assert server.batch_lines_served == 7

    again = run_fill(session, spec, calls, tmp_path, max_lines=3)
    assert (again.already_cached, again.submitted, again.batches_submitted) == (7, 0, [])
    assert len(server.batches) == 3


def test_byte_limit_splits_files_below_it(server, session, tmp_path):
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:6], n=1)
    limit = 700  # a line here is 150-300 bytes
    server.file_deletion_error = 500  # keep the uploaded files to measure them
    outcome = run_fill(session, spec, calls, tmp_path, max_bytes=limit)
    assert outcome.filled == 6
    client = sdk(server)
    sizes = []
    for batch in server.batches:
        data = client.files.content(batch["input_file_id"]).content
        sizes.append(len(data))
        for line in data.decode().splitlines():
            assert json.loads(line)["url"] == "/v1/chat/completions"
    client.close()
    assert len(sizes) >= 2 and max(sizes) <= limit and sum(sizes) > limit


def test_a_timed_out_fill_is_resumed_without_a_new_batch(server, session, tmp_path):
    server.batch_delay = 0.5
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:4], n=2)

    first = run_fill(session, spec, calls, tmp_path, timeout=0)
    assert first.filled == 0 and len(first.pending) == 1 and first.pending_calls == 8
    assert "still running" in first.summary() and str(tmp_path / "batches") in first.summary()
    (state,) = state_files(tmp_path)
    saved = json.loads(state.read_text())
    assert saved["batch_id"] == first.pending[0]
    assert sorted(c["key"] for c in saved["calls"]) == sorted(c.key.digest for c in calls)
    assert session.cache.digests() == []

    second = run_fill(session, spec, calls, tmp_path)
    assert second.batches_resumed == first.pending
    assert (second.resumed, second.submitted, second.filled) == (8, 0, 8)
    assert len(server.batches) == 1 and server.request_count == 0
    assert state_files(tmp_path) == []


def left_running(server, session, tmp_path, prompts):
    """A fill that left its batch running: the spec, the calls, its state file and what the
    file holds (for a test to edit)."""
    server.batch_delay = 0.3
    spec = make_spec(server)
    calls = calls_for(spec, prompts, n=1)
    run_fill(session, spec, calls, tmp_path, timeout=0)
    (state,) = state_files(tmp_path)
    return spec, calls, state, json.loads(state.read_text())


def test_a_state_confirmed_only_by_its_file_is_found_through_the_batch_list(
    server, session, tmp_path
):
    """A run killed between creating a batch and saving its id finds it by input file."""
    spec, calls, state, data = left_running(server, session, tmp_path, PROMPTS[:3])
    data["batch_id"] = None
    state.write_text(json.dumps(data))

    outcome = run_fill(session, spec, calls, tmp_path)
    assert outcome.submitted == 0 and outcome.filled == 3
    assert outcome.batches_resumed == [server.batches[0]["id"]]
    assert len(server.batches) == 1


def test_a_batch_the_server_does_not_know_is_resubmitted(tmp_path, session):
    # endpoint_id keeps the cache keys (and the state's endpoint) across the two servers
    with LocalServer(script(), batch_delay=5) as old:
        spec = make_spec(old, endpoint_id="local-model")
        calls = calls_for(spec, PROMPTS[:3], n=2)
        first = run_fill(session, spec, calls, tmp_path, timeout=0)
    (old_batch,) = first.pending

    with LocalServer(script(), batch_delay=0.05) as new:
        spec = make_spec(new, endpoint_id="local-model")
        fresh = make_session(tmp_path, "batch-cache")  # a new SDK client for the new URL
        outcome = run_fill(fresh, spec, calls, tmp_path)
        fresh.close()
        assert outcome.resubmitted == 6 and outcome.submitted == 6 and outcome.filled == 6
        assert outcome.batches_resumed == []
        assert any(old_batch in note and "not known" in note for note in outcome.notes)
        assert old_batch in outcome.summary()
        assert len(new.batches) == 1 and new.batches[0]["id"] != old_batch
    assert state_files(tmp_path) == []


@pytest.mark.parametrize(
    "content, reason",
    [
        (b'{"format": "pytest-modelprov-batch", "batch_id": "batch_abc123", "calls": [', "JSON"),
        (b"\xff\xfe garbage", "UTF-8"),
        (b'{"format": "pytest-modelprov-batch"}', "schemas/batch_state.schema.json"),
    ],
)
def test_a_corrupt_state_file_is_a_clear_error_and_is_kept(
    server, session, tmp_path, content, reason
):
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:2], n=1)
    (tmp_path / "batches").mkdir()
    bad = tmp_path / "batches" / "batch-file-123.json"
    bad.write_bytes(content)

    with pytest.raises(BatchStateError) as info:
        run_fill(session, spec, calls, tmp_path)
    message = str(info.value)
    aside = bad.with_name(bad.name + ".corrupt")
    assert str(bad) in message and reason in message and str(aside) in message
    assert aside.read_bytes() == content  # renamed, never deleted
    if b"batch_abc123" in content:
        assert "batch_abc123" in message  # the batch that may still be running
    assert server.batches == []

    outcome = run_fill(session, spec, calls, tmp_path)
    assert outcome.filled == 2 and aside.exists()


def test_a_state_whose_keys_were_edited_is_rejected(server, session, tmp_path):
    spec, calls, state, data = left_running(server, session, tmp_path, PROMPTS[:2])
    data["calls"][0]["request"]["messages"][0]["content"] = "something else"
    state.write_text(json.dumps(data))
    with pytest.raises(BatchStateError, match="does not match its request fields"):
        run_fill(session, spec, calls, tmp_path)


@pytest.mark.parametrize("number", ["NaN", "1e400"])
def test_a_state_with_a_number_no_key_can_hold_is_a_clear_error(server, session, tmp_path, number):
    """Python reads NaN and 1e400 (an overflow to inf); a key cannot hash either."""
    spec, calls, state, data = left_running(server, session, tmp_path, PROMPTS[:2])
    data["calls"][0]["request"]["params"]["temperature"] = 0.25
    state.write_text(json.dumps(data).replace('"temperature": 0.25', f'"temperature": {number}'))
    with pytest.raises(BatchStateError, match="a request cannot be keyed") as info:
        run_fill(session, spec, calls, tmp_path)
    assert str(state) in str(info.value)


FAULTY = {
    "please fail loudly": BatchFault("fail loudly", "status", status=500, message="boom " * 300),
    "please reject this": BatchFault("reject this", "status", status=400, message="bad request"),
    "empty choices here": BatchFault("empty choices", "empty_choices"),
    "error in a 200": BatchFault("error in a 200", "error_200"),
    "html instead": BatchFault("html instead", "malformed"),
    "cut the line": BatchFault("cut the line", "truncated"),
    "wrong custom id": BatchFault("wrong custom id", "unknown_id"),
    "twice over": BatchFault("twice over", "duplicate"),
    "vanish please": BatchFault("vanish", "dropped"),
}
# result lines that are unusable: one each, but a duplicated line is two
INVALID_LINES = {
    "empty choices here": 1,
    "error in a 200": 1,
    "html instead": 1,
    "cut the line": 1,
    "wrong custom id": 1,
    "twice over": 2,
}


def test_failed_and_garbage_lines_are_reported_and_never_stored(server, session, tmp_path):
    server.add_batch_fault(*FAULTY.values())
    spec = make_spec(server)
    good = ["Name a river in Peru.", "Why is the sea salty?"]
    prompts = [*good, *FAULTY, "This one is forbidden."]
    calls = calls_for(spec, prompts, n=1)
    by_prompt = {c.messages[-1]["content"]: c.key.digest for c in calls}

    outcome = run_fill(session, spec, calls, tmp_path)

    assert sorted(session.cache.digests()) == sorted(by_prompt[p] for p in good)
    assert outcome.filled == 2
    assert sorted(outcome.unfilled) == sorted(by_prompt[p] for p in prompts if p not in good)
    assert outcome.invalid_lines == sum(INVALID_LINES.values())
    assert not outcome.complete
    reasons = {e.key: e for e in outcome.errors}
    loud = reasons[by_prompt["please fail loudly"]]
    assert loud.status == 500 and loud.message.startswith("boom") and len(loud.message) <= 500
    assert reasons[by_prompt["please reject this"]].status == 400
    assert "not cacheable" in reasons[by_prompt["This one is forbidden."]].message
    assert "no result line" in reasons[by_prompt["vanish please"]].message
    assert "twice" in reasons[by_prompt["twice over"]].message
    summary = outcome.summary()
    failing = len(prompts) - len(good)
    assert f"{failing} calls got no usable answer" in summary and "HTTP 500: boom" in summary
    assert f"{outcome.invalid_lines} result lines were unusable" in summary
    assert state_files(tmp_path) == []
    # the report quotes a few unusable lines only: the files stay at the provider to look into
    (batch,) = server.batches
    kept = {f["id"] for f in server.files}
    assert {batch["input_file_id"], batch["output_file_id"]} <= kept
    assert any(f"files of batch {batch['id']} are kept" in n for n in outcome.notes)

    # nothing was retried within the fill; the next one submits only the missing calls
    server.reset()
    again = run_fill(session, spec, calls, tmp_path)
    assert again.already_cached == 2 and again.submitted == failing
    assert again.filled == failing - 1  # the content-filtered answer is never cached


def test_an_expired_batch_keeps_its_partial_answers(server, session, tmp_path):
    server.inject_batch(BatchEnding("expired", processed=0.5))
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:5], n=2)
    outcome = run_fill(session, spec, calls, tmp_path)

    order = [c.key.digest for c in calls]  # lines go out in plan order
    assert sorted(session.cache.digests()) == sorted(order[:5])
    assert sorted(outcome.unfilled) == sorted(order[5:])
    assert all("batch_expired" in e.message and e.status is None for e in outcome.errors)
    assert len(server.batches) == 1  # not resubmitted within the same fill
    assert server.files == []  # every line stored or reported: nothing left to look into

    again = run_fill(session, spec, calls, tmp_path)
    assert again.submitted == 5 and again.filled == 5 and again.complete


def test_a_failed_batch_is_reported(server, session, tmp_path):
    server.inject_batch(BatchEnding("failed", message="token limit reached for test-model"))
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:3], n=1)
    outcome = run_fill(session, spec, calls, tmp_path)
    assert outcome.filled == 0 and len(outcome.unfilled) == 3
    assert any("token limit reached" in note for note in outcome.notes)
    assert "token limit reached" in outcome.errors[0].message
    assert session.cache.digests() == [] and state_files(tmp_path) == []
    (batch,) = server.batches
    assert [f["id"] for f in server.files] == [batch["input_file_id"]]
    assert any("it failed" in n for n in outcome.notes)


def test_a_cancelled_batch_found_on_resume_is_resubmitted(server, session, tmp_path):
    server.batch_delay = 0.6
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:3], n=2)
    first = run_fill(session, spec, calls, tmp_path, timeout=0)
    client = sdk(server)
    assert client.batches.cancel(first.pending[0]).status == "cancelling"
    client.close()

    outcome = run_fill(session, spec, calls, tmp_path)
    assert outcome.batches_resumed == first.pending
    assert outcome.resubmitted == 6 and outcome.filled == 6 and outcome.complete
    assert [b["status"] for b in server.batches] == ["cancelled", "completed"]


def test_upload_and_creation_errors_name_the_endpoint_and_leave_no_state(server, session, tmp_path):
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:2], n=1)
    server.inject_batch(BatchEnding("refused", http_status=429, message="Enqueued token limit"))
    with pytest.raises(ModelCallError) as info:
        run_fill(session, spec, calls, tmp_path)
    message = str(info.value)
    assert "batch creation" in message and server.url in message and "HTTP 429" in message
    assert "Enqueued token limit" in message and info.value.status == 429
    assert state_files(tmp_path) == [] and server.batches == []

    wrong = ModelSpec(name="model", model="test-model", base_url=server.url + "/nowhere")
    with pytest.raises(ModelCallError, match=r"batch input upload at .*/nowhere .*HTTP 404"):
        run_fill(session, wrong, calls_for(wrong, PROMPTS[:2], n=1), tmp_path)
    assert state_files(tmp_path) == []


def test_state_files_hold_no_secret(server, tmp_path, monkeypatch):
    secret = "sk-planted-0123456789abcdef"
    password = "hunter2-batch-pass"
    monkeypatch.setenv("MODELPROV_TEST_KEY", secret)
    server.batch_delay = 1.0
    url = server.url.replace("http://", f"http://ops:{password}@")
    spec = ModelSpec(
        name="model", model="test-model", base_url=url, api_key_env="MODELPROV_TEST_KEY"
    )
    session = make_session(tmp_path, "cache", MODELPROV_TEST_KEY=secret)
    # the planted key is the one the batch requests carry, so the check below means something
    assert session.client(spec)._sdk_client().api_key == secret
    outcome = run_fill(session, spec, calls_for(spec, PROMPTS[:3], n=1), tmp_path, timeout=0)
    session.close()
    assert outcome.pending
    files = list((tmp_path / "batches").iterdir())
    assert files
    for path in files:
        text = path.read_text()
        assert secret not in text and password not in text and "Authorization" not in text


def test_calls_of_another_model_are_refused(server, session, tmp_path):
    spec = make_spec(server)
    other = ModelSpec(name="ref", model="other-model", base_url=server.url)
    with pytest.raises(ConfigError, match="fill each model with its own calls"):
        run_fill(session, spec, calls_for(other, PROMPTS[:1], n=1), tmp_path)


# -- the server's Files and Batches endpoints --------------------------------------------------


def jsonl(*records: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def line(custom_id: str, text: str = "hi", **over: Any) -> dict[str, Any]:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": body,
        **over,
    }


@pytest.mark.parametrize(
    "records, problem",
    [
        ([line("a"), line("a")], "Line 2 of the batch input file repeats custom_id 'a'"),
        ([line("a", method="GET")], "Line 1 of the batch input file has method 'GET'"),
        ([line("a", url="/v1/embeddings")], "has url '/v1/embeddings'"),
        ([line("a", body="x")], "has no body object"),
        ([{"method": "POST"}], "has no custom_id"),
    ],
)
def test_upload_validates_the_jsonl(server, records, problem):
    with sdk(server) as client:
        with pytest.raises(openai.BadRequestError) as info:
            client.files.create(file=("in.jsonl", jsonl(*records)), purpose="batch")
        assert problem in info.value.message
        with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
            client.files.create(file=("in.jsonl", jsonl(line("a"))), purpose="fine-tune")


def test_files_round_trip_and_batches_follow_their_timeline(server):
    server.batch_delay = 0.3
    data = jsonl(line("one", "favourite colour ? \u2028 ü"), line("two", "bonjour"))
    with sdk(server) as client:
        uploaded = client.files.create(file=("in.jsonl", data), purpose="batch")
        assert uploaded.bytes == len(data) and uploaded.purpose == "batch"
        assert client.files.retrieve(uploaded.id).filename == "in.jsonl"
        assert client.files.content(uploaded.id).content == data

        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert batch.status == "validating" and batch.request_counts.total == 2
        statuses = [batch.status]
        while batch.status not in ("completed", "failed"):
            time.sleep(0.005)
            batch = client.batches.retrieve(batch.id)
            if batch.status != statuses[-1]:
                statuses.append(batch.status)
        assert statuses == ["validating", "in_progress", "finalizing", "completed"]
        assert batch.request_counts.completed == 2 and batch.error_file_id is None
        out = [
            json.loads(x)
            for x in client.files.content(batch.output_file_id).content.split(b"\n")
            if x
        ]
        assert [o["custom_id"] for o in out] == ["one", "two"]
        assert out[0]["response"]["body"]["choices"][0]["message"]["content"] == "teal"
        assert out[1]["response"]["status_code"] == 200
        assert [b.id for b in client.batches.list()] == [batch.id]

        with pytest.raises(openai.ConflictError):
            client.batches.cancel(batch.id)
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch_unknown")
        with pytest.raises(openai.NotFoundError):
            client.files.content("file-unknown")
        with pytest.raises(openai.BadRequestError):
            client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h"
            )
        assert {f["id"] for f in server.files} == {uploaded.id, batch.output_file_id}
        assert client.files.delete(uploaded.id).deleted
        with pytest.raises(openai.NotFoundError):
            client.files.delete(uploaded.id)
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve(uploaded.id)
        assert [f["id"] for f in server.files] == [batch.output_file_id]
    assert server.request_count == 0 and server.batch_lines_served == 2


def test_a_failed_file_clean_up_is_a_note_and_loses_no_answer(server, session, tmp_path):
    server.file_deletion_error = 503
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:4], n=1)
    outcome = run_fill(session, spec, calls, tmp_path)

    assert outcome.complete and outcome.filled == 4
    assert sorted(session.cache.digests()) == sorted(c.key.digest for c in calls)
    assert state_files(tmp_path) == []
    kept = {f["id"] for f in server.files}
    (batch,) = server.batches
    assert kept == {batch["input_file_id"], batch["output_file_id"]}
    notes = [n for n in outcome.notes if "could not be deleted" in n]
    assert {n.split()[1] for n in notes} == kept
    assert all("HTTP 503" in n for n in notes)


def test_a_cancelled_batch_has_partial_output(server):
    server.batch_delay = 0.9  # a third each: validating, in progress, finalizing
    data = jsonl(*[line(f"c{i}", f"question {i}") for i in range(10)])
    with sdk(server) as client:
        file_id = client.files.create(file=("in.jsonl", data), purpose="batch").id
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        time.sleep(0.45)  # halfway through in_progress
        assert client.batches.cancel(batch.id).status == "cancelling"
        time.sleep(0.35)
        batch = client.batches.retrieve(batch.id)
        assert batch.status == "cancelled"
        done, failed = batch.request_counts.completed, batch.request_counts.failed
        assert 0 < done < 10 and done + failed == 10
        errors = client.files.content(batch.error_file_id).content.decode().splitlines()
        assert len(errors) == failed
        assert all(json.loads(e)["error"]["code"] == "batch_cancelled" for e in errors)


def test_ctrl_c_while_polling_keeps_the_state_for_the_next_run(server, session, tmp_path):
    server.batch_delay = 0.4
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:3], n=1)

    def interrupt(progress: BatchProgress) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_fill(session, spec, calls, tmp_path, progress=interrupt)
    (state,) = state_files(tmp_path)
    batch_id = json.loads(state.read_text())["batch_id"]
    assert [b["id"] for b in server.batches] == [batch_id]

    outcome = run_fill(session, spec, calls, tmp_path)
    assert outcome.batches_resumed == [batch_id] and outcome.filled == 3
    assert len(server.batches) == 1


def test_an_unconfirmed_state_without_a_batch_is_submitted_again(server, session, tmp_path):
    spec = make_spec(server)
    calls = calls_for(spec, PROMPTS[:2], n=1)
    other = ModelSpec(name="ref", model="other-model", base_url=server.url)
    directory = tmp_path / "batches"
    directory.mkdir()
    for name, model_spec, keyed in (
        ("batch-file-gone.json", spec, calls),
        ("batch-file-other.json", other, calls_for(other, PROMPTS[:1], n=1)),
    ):
        state = {
            "format": "pytest-modelprov-batch",
            "version": 1,
            "batch_id": None,
            "input_file_id": "file-never-seen",
            "endpoint": model_spec.cache_endpoint,
            "url": model_spec.display_url,
            "model": model_spec.model,
            "name": model_spec.name,
            "created_at": "2025-01-01T00:00:00Z",
            "calls": [{"key": c.key.digest, "request": c.key.components} for c in keyed],
        }
        (directory / name).write_text(json.dumps(state))

    outcome = run_fill(session, spec, calls, tmp_path)
    assert outcome.resubmitted == 2 and outcome.filled == 2
    assert any("never created" in note for note in outcome.notes)
    # another model's state is not this fill's business: left as it was
    assert [p.name for p in state_files(tmp_path)] == ["batch-file-other.json"]


KILLED_FILL = """
import sys
from pathlib import Path
from pytest_modelprov.calls.batch import fill
from pytest_modelprov.calls.client import plan_calls
from pytest_modelprov.config import ModelSpec, Sources, resolve
from pytest_modelprov.session import ModelProvSession

url, root, prompts = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
environ = {"MODELPROV_CACHE_DIR": str(root / "batch-cache")}
settings = resolve(Sources(cli=lambda o: None, ini=lambda o: None, environ=environ), root)
session = ModelProvSession(settings, environ=environ)
spec = ModelSpec(name="model", model="test-model", base_url=url, params={"seed": 0})
calls = plan_calls(spec, prompts, 2, {})
fill(session.client(spec)._sdk_client(), spec, calls, session.cache, run_id="killed",
     state_dir=root / "batches", poll_interval=0.05)
"""


def test_a_fill_killed_while_polling_is_resumed(server, session, tmp_path):
    server.batch_delay = 1.0  # still running when the child is killed
    prompts = [str(p) for p in PROMPTS[:3]]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_FILL, server.url, str(tmp_path), *prompts],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and child.poll() is None:
            files = state_files(tmp_path)
            if files and json.loads(files[0].read_text())["batch_id"]:
                break
            time.sleep(0.01)
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(5)
        if child.stderr:
            child.stderr.close()
    (state,) = state_files(tmp_path)
    batch_id = json.loads(state.read_text())["batch_id"]
    assert session.cache.digests() == []

    spec = ModelSpec(name="model", model="test-model", base_url=server.url, params={"seed": 0})
    calls = plan_calls(spec, prompts, 2, {})
    outcome = run_fill(session, spec, calls, tmp_path)
    assert outcome.batches_resumed == [batch_id]
    assert (outcome.submitted, outcome.filled) == (0, 6) and outcome.complete
    assert [b["id"] for b in server.batches] == [batch_id]
