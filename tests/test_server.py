"""Tests for the scripted local server, driven through the real openai SDK (no mocks)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import pytest_modelprov.testing.server as server_module
from pytest_modelprov.testing.script import Fault, Rule, Script
from pytest_modelprov.testing.server import LocalServer, main

HELLO = [{"role": "user", "content": "hello there"}]


def make_client(server: LocalServer, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("timeout", 5.0)
    return openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0, **kwargs)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    script = Script(
        rules=[
            Rule(r"capital.*france", ["Paris"]),
            Rule(r"capital", ["Some capital"]),
            Rule(r"colou?r", ["red", "green", "blue"]),
            Rule(r"think hard", ["42"], reasoning="Six times seven.", reasoning_style="think"),
            Rule(r"reason", ["yes"], reasoning="Because it is so.", finish_reason="length"),
        ],
        model_aliases={"gpt-alias": "gpt-resolved-2025-01-01"},
    )
    with LocalServer(script) as running:
        yield running


@pytest.fixture
def client(server: LocalServer) -> Iterator[openai.OpenAI]:
    with make_client(server) as sdk_client:
        yield sdk_client


def ask(client: openai.OpenAI, text: str, **kwargs: Any) -> Any:
    kwargs.setdefault("model", "gpt-test")
    return client.chat.completions.create(messages=user(text), **kwargs)


# -- scripted answers ------------------------------------------------------------------------


def test_first_matching_rule_answers_case_insensitively_across_lines(client):
    completion = ask(client, "What is the CAPITAL\nof France?")
    assert completion.choices[0].message.content == "Paris"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-local-")

    # "capital" alone falls through to the second rule: order decides, not specificity.
    assert ask(client, "capital of Spain").choices[0].message.content == "Some capital"


def test_unmatched_prompt_gets_default_answer_quoting_an_excerpt(client):
    prompt = "Tell me   about\nthe weather " + "x" * 100
    answer = ask(client, prompt).choices[0].message.content
    excerpt = "Tell me about the weather " + "x" * 34
    assert answer == f'Scripted answer to: "{excerpt}"'


def test_only_the_last_user_message_is_matched(client):
    messages = [
        {"role": "system", "content": "capital of France"},
        {"role": "user", "content": "capital of France?"},
        {"role": "assistant", "content": "Paris"},
        {"role": "user", "content": "and the weather?"},
    ]
    completion = client.chat.completions.create(model="m", messages=messages)
    assert completion.choices[0].message.content == 'Scripted answer to: "and the weather?"'


def test_content_parts_are_read_as_text(client):
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is the capital"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "of France?"},
            ],
        }
    ]
    completion = client.chat.completions.create(model="m", messages=messages)
    assert completion.choices[0].message.content == "Paris"


def test_reasoning_in_field(client):
    completion = ask(client, "give me a reason")
    message = completion.choices[0].message
    assert message.content == "yes"
    assert message.reasoning_content == "Because it is so."
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens_details.reasoning_tokens > 0


def test_reasoning_in_think_block(client):
    raw = client.chat.completions.with_raw_response.create(model="m", messages=user("think hard"))
    message = raw.parse().choices[0].message
    assert message.content == "<think>Six times seven.</think>\n\n42"
    assert "reasoning_content" not in raw.http_response.json()["choices"][0]["message"]
    assert raw.parse().usage.completion_tokens_details.reasoning_tokens > 0


def test_unicode_answers_are_sent_as_utf8(server, client):
    answer = "Ünïcödé ✓ 日本語 🚀"
    server.add_rule("unicode", answer)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=user("unicode?"))
    assert raw.parse().choices[0].message.content == answer
    assert answer.encode("utf-8") in raw.http_response.content
    assert raw.http_response.headers["content-type"].startswith("application/json")


def test_n_choices_cycle_through_answers(client):
    first = ask(client, "favourite colour?", n=3)
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert [c.message.content for c in first.choices] == ["red", "green", "blue"]
    second = ask(client, "favourite colour?", n=2)
    assert [c.message.content for c in second.choices] == ["red", "green"]
    third = ask(client, "favourite colour?", n=2)
    assert [c.message.content for c in third.choices] == ["blue", "red"]


def test_identical_prompts_cycle_and_distinct_prompts_count_separately(client):
    answers = [ask(client, "colour one").choices[0].message.content for _ in range(4)]
    assert answers == ["red", "green", "blue", "red"]
    # A different prompt (even matching the same rule) has its own counter.
    assert ask(client, "colour two").choices[0].message.content == "red"
    assert ask(client, "colour one").choices[0].message.content == "green"


def test_seed_picks_answers_deterministically(client):
    seeded = ask(client, "colour?", seed=4, n=3)
    assert [c.message.content for c in seeded.choices] == ["green", "blue", "red"]
    again = ask(client, "colour?", seed=4, n=3)
    assert [c.message.content for c in again.choices] == ["green", "blue", "red"]
    assert ask(client, "colour?", seed=-1).choices[0].message.content == "blue"
    # Seeded requests do not advance the per-prompt counter.
    assert ask(client, "colour?").choices[0].message.content == "red"


def test_model_aliases_and_system_fingerprint(server, client):
    aliased = ask(client, "hi", model="gpt-alias")
    assert aliased.model == "gpt-resolved-2025-01-01"
    assert aliased.system_fingerprint == "fp_modelprov_local"
    assert ask(client, "hi", model="unlisted-model").model == "unlisted-model"

    server.script.system_fingerprint = None
    assert ask(client, "hi").system_fingerprint is None

    ids = [model.id for model in client.models.list()]
    assert ids == ["gpt-alias", "gpt-resolved-2025-01-01", "unlisted-model", "gpt-test"]
    assert client.models.retrieve("gpt-alias").id == "gpt-alias"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("never-seen")


def test_usage_is_deterministic_and_consistent(client):
    first = ask(client, "What is the capital of France?")
    second = ask(client, "What is the capital of France?")
    assert first.usage.prompt_tokens == 7  # six words and a question mark
    assert first.usage.completion_tokens == 1
    assert first.usage.total_tokens == 8
    assert second.usage.model_dump() == first.usage.model_dump()
    longer = ask(client, "What is the capital of France? Answer briefly, please.")
    assert longer.usage.prompt_tokens > first.usage.prompt_tokens


def test_script_can_be_replaced_and_extended_while_running(server, client):
    server.script = Script(rules=[Rule("", ["replaced"])])
    assert ask(client, "capital of France").choices[0].message.content == "replaced"
    server.script = Script()
    server.add_rule("late", "added", "later")
    assert ask(client, "a late rule").choices[0].message.content == "added"
    assert ask(client, "a late rule").choices[0].message.content == "later"


def test_latency_serves_requests_concurrently():
    with LocalServer(Script(latency=0.2)) as server, make_client(server) as client:
        results: list[str] = []

        def call(index: int) -> None:
            results.append(ask(client, f"prompt {index}").choices[0].message.content)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert sorted(results) == [f'Scripted answer to: "prompt {i}"' for i in range(4)]
    assert 0.2 <= elapsed < 0.6  # serial handling would take 0.8 s


# -- recording -------------------------------------------------------------------------------


def test_requests_are_recorded_and_reset_clears_them(server, client):
    ask(client, "colour?")
    ask(client, "colour?", seed=1)
    with pytest.raises(openai.BadRequestError):
        ask(client, "colour?", n=0)
    assert server.request_count == 3
    recorded = server.requests
    assert [r.path for r in recorded] == ["/v1/chat/completions"] * 3
    assert recorded[0].body["messages"] == user("colour?")
    assert recorded[1].body["seed"] == 1
    assert recorded[2].body["n"] == 0
    assert recorded[0].headers["authorization"] == "Bearer sk-test"
    assert all(name == name.lower() for name in recorded[0].headers)
    assert [r.fault for r in recorded] == [None, None, None]

    server.inject(Fault("status", 503))
    server.reset()
    assert server.request_count == 0
    assert server.requests == []
    assert server.faults_served == 0
    # Cycling restarts, queued faults are gone, the script stays.
    assert ask(client, "colour?").choices[0].message.content == "red"
    assert server.request_count == 1


# -- faults ----------------------------------------------------------------------------------


def test_rate_limit_fault_carries_retry_after(server, client):
    server.inject(Fault("status", status=429, retry_after=1.5, message="slow down"))
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, "hi")
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "1.5"
    assert caught.value.body["message"] == "slow down"
    assert caught.value.body["code"] == "rate_limit_exceeded"

    server.inject(Fault("status", status=429, retry_after=2))
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client, "hi")
    assert caught.value.response.headers["retry-after"] == "2"


def test_server_error_faults(server, client):
    server.inject(Fault("status"), Fault("status", status=503, message="overloaded"))
    with pytest.raises(openai.InternalServerError) as first:
        ask(client, "hi")
    assert first.value.status_code == 500
    assert "retry-after" not in first.value.response.headers
    with pytest.raises(openai.InternalServerError) as second:
        ask(client, "hi")
    assert second.value.status_code == 503
    assert second.value.body["message"] == "overloaded"
    assert second.value.body["type"] == "server_error"


def test_faults_are_consumed_in_order_then_normal_answers_resume(server, client):
    server.inject(Fault("status", status=400), Fault("reset"))
    with pytest.raises(openai.BadRequestError):
        ask(client, "capital of France")
    with pytest.raises(openai.APIConnectionError):
        ask(client, "capital of France")
    assert ask(client, "capital of France").choices[0].message.content == "Paris"
    assert [r.fault for r in server.requests] == ["status", "reset", None]
    assert server.faults_served == 2
    assert server.request_count == 3


def test_reset_fault_drops_the_connection(server, client):
    server.inject(Fault("reset"))
    with pytest.raises(openai.APIConnectionError) as caught:
        ask(client, "hi")
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert ask(client, "capital of France").choices[0].message.content == "Paris"


def test_delay_fault_trips_client_timeout(server, client):
    server.inject(Fault("delay", delay=0.5))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        ask(client, "hi", timeout=0.1)
    assert time.monotonic() - started < 0.45

    server.inject(Fault("delay", delay=0.15))
    started = time.monotonic()
    assert ask(client, "capital of France").choices[0].message.content == "Paris"
    assert time.monotonic() - started >= 0.15
    assert [r.fault for r in server.requests] == ["delay", "delay"]


def test_malformed_fault_is_200_but_not_json(server, client):
    server.inject(Fault("malformed", message="bad gateway page"))
    raw = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    response = raw.http_response
    assert response.status_code == 200
    assert response.text.startswith("<html>")
    assert "bad gateway page" in response.text
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)

    server.inject(Fault("malformed"))
    with pytest.raises(json.JSONDecodeError):
        ask(client, "hi")


def test_truncated_fault_cuts_the_completion_in_half(server, client):
    full = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    server.inject(Fault("truncated"))
    raw = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    body = raw.http_response.content
    assert raw.http_response.status_code == 200
    assert int(raw.http_response.headers["content-length"]) == len(body)
    assert body.startswith(b'{"id": "chatcmpl-local-')
    assert abs(len(body) - len(full.http_response.content) // 2) <= 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    # The connection is still usable: the framing was correct, only the JSON is cut.
    assert ask(client, "capital of France").choices[0].message.content == "Paris"


def test_empty_choices_fault(server, client):
    server.inject(Fault("empty_choices"))
    completion = ask(client, "capital of France")
    assert completion.choices == []
    assert completion.id.startswith("chatcmpl-local-")
    assert completion.usage.completion_tokens == 0


def test_error_200_fault(server, client):
    server.inject(Fault("error_200", message="model overloaded"))
    raw = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    assert raw.http_response.status_code == 200
    payload = raw.http_response.json()
    assert payload["error"]["message"] == "model overloaded"
    assert payload["error"]["type"] == "server_error"
    assert "choices" not in payload


def test_invalid_utf8_fault_corrupts_the_answer_bytes(server, client):
    server.add_rule("accent", "café ✓")
    server.inject(Fault("invalid_utf8"))
    raw = client.chat.completions.with_raw_response.create(model="m", messages=user("accent"))
    body = raw.http_response.content
    assert raw.http_response.status_code == 200
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    # Only the answer content is corrupted: without the bad bytes it is the normal completion.
    repaired = json.loads(body.replace(b"\xff\xfe", b""))
    assert repaired["choices"][0]["message"]["content"] == "café ✓"


def test_fault_rate_is_reproducible_for_a_seed():
    kinds = [Fault("status", status=503), Fault("empty_choices")]

    def run(seed: int) -> list[str | None]:
        with LocalServer() as server, make_client(server) as client:
            server.set_fault_rate(0.5, kinds, seed=seed)
            for _ in range(40):
                with contextlib.suppress(openai.InternalServerError):
                    ask(client, "hi")
            assert server.faults_served == sum(r.fault is not None for r in server.requests)
            return [r.fault for r in server.requests]

    first, second, other = run(7), run(7), run(8)
    assert first == second
    assert first != other
    served = sum(kind is not None for kind in first)
    assert 8 <= served <= 32
    assert {"status", "empty_choices"} <= set(first)


def test_fault_rate_zero_disables_and_reset_replays(server, client):
    server.set_fault_rate(1.0, [Fault("status", status=503)], seed=3)
    with pytest.raises(openai.InternalServerError):
        ask(client, "hi")
    server.set_fault_rate(0, [])
    assert ask(client, "capital of France").choices[0].message.content == "Paris"
    assert server.faults_served == 1

    server.set_fault_rate(0.5, [Fault("status", status=503)], seed=3)

    def pattern() -> list[bool]:
        outcome = []
        for _ in range(10):
            try:
                ask(client, "hi")
                outcome.append(False)
            except openai.InternalServerError:
                outcome.append(True)
        return outcome

    before = pattern()
    server.reset()
    assert pattern() == before
    assert any(before)
    assert not all(before)


def test_fault_and_rate_arguments_are_validated(server):
    with pytest.raises(ValueError, match="kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="status"):
        Fault("status", status=200)
    with pytest.raises(ValueError, match="delay"):
        Fault("delay", delay=-1)
    with pytest.raises(ValueError, match="rate"):
        server.set_fault_rate(1.5, [Fault("reset")])
    with pytest.raises(ValueError, match="kinds"):
        server.set_fault_rate(0.5, [])


# -- validation and routing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"model": "", "messages": HELLO}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"content": "no role"}]}, "messages[0].role"),
        ({"model": "m", "messages": HELLO, "n": 0}, "n"),
        ({"model": "m", "messages": HELLO, "n": 17}, "n"),
        ({"model": "m", "messages": HELLO, "stream": True}, "stream"),
    ],
)
def test_invalid_requests_get_400(server, client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**kwargs)
    assert caught.value.body["type"] == "invalid_request_error"
    assert caught.value.body["param"] == param
    assert server.request_count == 1


def test_raw_http_errors_and_keep_alive(server):
    host, port = server.url.removeprefix("http://").removesuffix("/v1").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:

        def request(method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
            connection.request(method, path, body=body, headers={"Content-Type": "x"})
            response = connection.getresponse()
            return response.status, json.loads(response.read())

        status, payload = request("POST", "/v1/chat/completions", b"{not json")
        assert status == 400
        assert payload["error"]["type"] == "invalid_request_error"
        first_socket = connection.sock
        assert request("POST", "/v1/chat/completions", b"[1, 2]")[0] == 400
        status, payload = request("GET", "/v1/nowhere")
        assert status == 404
        assert "/v1/nowhere" in payload["error"]["message"]
        assert request("GET", "/v1/chat/completions")[0] == 405
        body = json.dumps({"model": "m", "messages": HELLO}).encode()
        status, payload = request("POST", "/v1/chat/completions?x=1", body)
        assert status == 200
        assert payload["choices"][0]["message"]["content"] == 'Scripted answer to: "hello there"'
        # Every response was framed correctly, so one connection carried them all.
        assert connection.sock is first_socket
    finally:
        connection.close()
    assert [r.body for r in server.requests][:2] == [{}, {}]
    assert server.requests[-1].path == "/v1/chat/completions?x=1"
    assert server.request_count == 3


def test_unknown_path_through_the_sdk(client):
    with pytest.raises(openai.NotFoundError):
        client.get("/completions/legacy", cast_to=object)


# -- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_non_loopback_hosts_are_refused(host):
    with pytest.raises(ValueError, match="loopback"):
        LocalServer(host=host)


def test_localhost_binds_ipv4_loopback_and_url_needs_start():
    server = LocalServer(host="localhost")
    with pytest.raises(RuntimeError, match="start"):
        _ = server.url
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith("/v1")
        with make_client(server) as client:
            assert ask(client, "hi").choices[0].message.content == 'Scripted answer to: "hi"'
    with pytest.raises(RuntimeError):
        _ = server.url


def test_script_round_trips_through_dict():
    script = Script(
        rules=[Rule("a", ["b", "c"], reasoning="r", reasoning_style="think")],
        default_answer="none",
        model_aliases={"x": "y"},
        system_fingerprint=None,
        latency=0.25,
    )
    data = script.to_dict()
    assert data["rules"][0]["answers"] == ["b", "c"]
    assert Script.from_dict(json.loads(json.dumps(data))) == script
    assert Script.from_dict({}) == Script()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"rules": [{"match": "x", "anwsers": ["y"]}]}, "anwsers"),
        ({"defualt_answer": "x"}, "defualt_answer"),
        ({"rules": [{"answers": []}]}, "rules[0].answers"),
        ({"rules": [{"answers": ["a"], "reasoning_style": "xml"}]}, "reasoning_style"),
        ({"rules": [{"answers": ["a"], "finish_reason": "lenght"}]}, "finish_reason"),
        ({"rules": [{"match": "(", "answers": ["a"]}]}, "rules[0].match"),
        ({"latency": -1}, "latency"),
        ({"model_aliases": {"a": 3}}, "model_aliases.a"),
    ],
)
def test_from_dict_names_the_bad_field(data, named):
    with pytest.raises(ValueError) as caught:
        Script.from_dict(data)
    assert named in str(caught.value)


def test_from_file_errors_name_the_file(tmp_path: Path):
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"rules": [{"answer": ["y"]}]}), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        Script.from_file(typo)
    assert str(typo) in str(caught.value)
    assert "'answer'" in str(caught.value)

    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        Script.from_file(broken)
    assert str(broken) in str(caught.value)
    assert "not valid JSON" in str(caught.value)

    good = tmp_path / "good.json"
    good.write_text(json.dumps({"rules": [{"match": "hi", "answers": ["yo"]}]}), encoding="utf-8")
    assert Script.from_file(str(good)).rules == [Rule("hi", ["yo"])]


# -- command line ----------------------------------------------------------------------------


def test_main_rejects_a_bad_script(tmp_path: Path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"rulez": []}', encoding="utf-8")
    assert main(["--script", str(bad), "--port", "0"]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_module_serves_a_script_until_interrupted(tmp_path: Path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"rules": [{"answers": ["from the CLI"]}]}), encoding="utf-8")
    package_root = str(Path(server_module.__file__).resolve().parents[1])
    # The package may not be installed yet; make the subprocess import this checkout.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_modelprov.server", "--script", str(script), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Ctrl-C as at a terminal: a run started in the background of a non-interactive
        # shell ignores SIGINT, and a child inherits that (Python then installs no
        # KeyboardInterrupt handler, and the server would never see the signal)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with openai.OpenAI(base_url=url, api_key="sk-test", max_retries=0, timeout=5) as client:
            completion = client.chat.completions.create(model="m", messages=HELLO)
        assert completion.choices[0].message.content == "from the CLI"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_ipv6_loopback_is_served():
    server = LocalServer(host="::1")
    try:
        server.start()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    try:
        assert server.url.startswith("http://[::1]:")
        with make_client(server) as client:
            assert ask(client, "v6").choices[0].message.content == 'Scripted answer to: "v6"'
    finally:
        server.stop()


def test_rules_can_answer_each_model_differently():
    import openai

    from pytest_modelprov.testing.script import Rule, Script
    from pytest_modelprov.testing.server import LocalServer

    script = Script(
        rules=[Rule("who", ["I am release B."], model="rel-b"), Rule("who", ["I am a model."])]
    )
    with LocalServer(script) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
        ask = [{"role": "user", "content": "who are you"}]
        b = client.chat.completions.create(model="rel-b", messages=ask)
        a = client.chat.completions.create(model="rel-a", messages=ask)
        client.close()
    assert b.choices[0].message.content == "I am release B."
    assert a.choices[0].message.content == "I am a model."
    assert Script.from_dict({"rules": [{"answers": ["x"], "model": "m.*"}]}).rules[0].model == "m.*"
