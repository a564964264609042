"""Cache keys: everything that changes an answer changes the key; nothing else does."""

from __future__ import annotations

import pytest

from pytest_modelprov.calls.client import plan_calls
from pytest_modelprov.calls.keys import canonical_json, key_of_components, make_key
from pytest_modelprov.config import GENERATION_PARAMS, ModelSpec

MESSAGES = [{"role": "user", "content": "Who are you?"}]


def key(**overrides):
    args = {
        "endpoint": "https://api.example.org/v1",
        "model": "m",
        "messages": MESSAGES,
        "params": {"temperature": 0.7},
        "replicate": 0,
    }
    args.update(overrides)
    return make_key(**args).digest


PARAM_VALUES = {
    "temperature": 0.2,
    "top_p": 0.9,
    "max_tokens": 64,
    "max_completion_tokens": 64,
    "seed": 7,
    "stop": ["\n\n"],
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 3,
    "response_format": {"type": "json_object"},
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": "none",
    "parallel_tool_calls": False,
    "reasoning_effort": "high",
    "verbosity": "low",
    "modalities": ["text"],
    "prediction": {"type": "content", "content": "x"},
    "service_tier": "flex",
    "store": False,
    "metadata": {"run": "a"},
    "user": "someone",
    "web_search_options": {},
    "extra_body": {"enable_thinking": False},
}


def test_every_allowed_parameter_has_a_probe_value():
    assert set(PARAM_VALUES) == set(GENERATION_PARAMS)


@pytest.mark.parametrize("name", sorted(PARAM_VALUES))
def test_every_generation_parameter_changes_the_key(name):
    base = key(params={})
    assert key(params={name: PARAM_VALUES[name]}) != base


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "https://other.example.org/v1"},
        {"model": "m2"},
        {"messages": [{"role": "user", "content": "Who are you? "}]},
        {"messages": [{"role": "system", "content": "x"}, *MESSAGES]},
        {"replicate": 1},
    ],
)
def test_request_fields_change_the_key(change):
    assert key(**change) != key()


def test_integral_floats_and_ints_give_one_key():
    assert key(params={"temperature": 1}) == key(params={"temperature": 1.0})
    assert key(params={"temperature": 0.7}) != key(params={"temperature": 0.70001})


def test_none_parameters_are_dropped_and_order_does_not_matter():
    assert key(params={"temperature": 0.7, "seed": None}) == key(params={"temperature": 0.7})
    a = make_key(endpoint="e", model="m", messages=MESSAGES, params={"a": 1, "b": 2}, replicate=0)
    b = make_key(endpoint="e", model="m", messages=MESSAGES, params={"b": 2, "a": 1}, replicate=0)
    assert a.digest == b.digest


def test_components_rehash_to_the_digest():
    made = make_key(endpoint="e", model="m", messages=MESSAGES, params={}, replicate=3)
    assert key_of_components(made.components) == made.digest
    assert made.components["replicate"] == 3


def test_non_finite_numbers_are_refused():
    with pytest.raises(ValueError, match="cannot be part of a cache key"):
        canonical_json({"temperature": float("nan")})


def test_transport_settings_and_key_variable_are_not_in_the_key():
    a = ModelSpec(name="x", model="m", base_url="https://h/v1", api_key_env="KEY_A")
    b = ModelSpec(name="y", model="m", base_url="https://h/v1/", api_key_env="KEY_B")
    assert plan_calls(a, "hi", 1, {})[0].key.digest == plan_calls(b, "hi", 1, {})[0].key.digest


def test_credentials_in_the_base_url_stay_out_of_the_key():
    spec = ModelSpec(name="x", model="m", base_url="https://user:s3cret@h.example/v1?api_key=abc")
    components = plan_calls(spec, "hi", 1, {})[0].key.components
    assert "s3cret" not in canonical_json(components)
    assert "abc" not in canonical_json(components)


def test_endpoint_id_replaces_the_base_url_in_the_key():
    a = ModelSpec(name="x", model="m", base_url="http://127.0.0.1:4001/v1", endpoint_id="local")
    b = ModelSpec(name="x", model="m", base_url="http://127.0.0.1:5002/v1", endpoint_id="local")
    assert plan_calls(a, "hi", 1, {})[0].key.digest == plan_calls(b, "hi", 1, {})[0].key.digest


def test_replicates_are_distinct_entries_with_distinct_seeds():
    spec = ModelSpec(name="x", model="m", params={"seed": 10})
    calls = plan_calls(spec, ["a", "b"], 3, {})
    assert [(c.prompt_index, c.replicate) for c in calls] == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)
    ]  # fmt: skip
    assert len({c.key.digest for c in calls}) == 6
    assert [c.params["seed"] for c in calls[:3]] == [10, 11, 12]


def test_a_conversation_is_one_prompt():
    spec = ModelSpec(name="x", model="m")
    conversation = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi"},
        {"role": "user", "content": "Who are you?"},
    ]
    assert len(plan_calls(spec, conversation, 1, {})) == 1
    assert len(plan_calls(spec, [conversation, "x"], 2, {})) == 4
