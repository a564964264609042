"""Both releases sampled alike: references inherit the model under test's parameters, every
result records its parameters, and comparing results sampled differently fails as not
comparable unless the test says the difference is intended."""

from __future__ import annotations

import json

import pytest

from pytest_modelprov import comparable

GATE = """
from pytest_modelprov import refusal


def test_gate(model_under_test, reference_model):
    topics = refusal.topics("china-criticism", langs=["en"])
    before = refusal.measure(reference_model("last"), topics)
    after = refusal.measure(model_under_test, topics)
    assert before.params is not None and after.params is not None
    print("PARAMS", before.params, after.params)
    refusal.assert_stable(before, after, underpowered="ignore")
"""


def _bodies(server, model):
    return [r.body for r in server.requests if r.body.get("model") == model]


def test_gate_over_different_temperatures_fails_as_not_comparable(pytester, env):
    pytester.makepyfile(test_gate=GATE)
    result = pytester.runpytest(
        "--modelprov-param=temperature=0.6",
        "--modelprov-param=seed=7",
        "--modelprov-reference=last.model=old-model",
        "--modelprov-reference=last.params.temperature=1.0",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the refusal results on 'china-criticism' are not comparable*temperature: 1.0 vs 0.6*",
            '*last (old-model): {"seed": 7, "temperature": 1.0}*',
            '*model under test (test-model): {"seed": 7, "temperature": 0.6}*',
            "*modelprov_allow_param_difference*",
        ]
    )
    # and the two releases really were sampled differently
    assert {b["temperature"] for b in _bodies(env.server, "old-model")} == {1.0}
    assert {b["temperature"] for b in _bodies(env.server, "test-model")} == {0.6}


def test_a_reference_inherits_the_parameters_so_both_calls_carry_the_same(pytester, env):
    pytester.makepyfile(test_gate=GATE)
    result = pytester.runpytest(
        "-s",
        "--modelprov-param=temperature=0.6",
        "--modelprov-param=max_tokens=300",
        "--modelprov-reference=last.model=old-model",
    )
    result.assert_outcomes(passed=1)
    old, new = _bodies(env.server, "old-model"), _bodies(env.server, "test-model")
    assert len(old) == len(new) == 50
    strip = {"model", "messages"}
    sent_old = {
        json.dumps({k: v for k, v in b.items() if k not in strip}, sort_keys=True) for b in old
    }
    sent_new = {
        json.dumps({k: v for k, v in b.items() if k not in strip}, sort_keys=True) for b in new
    }
    assert sent_old == sent_new == {json.dumps({"max_tokens": 300, "temperature": 0.6})}
    result.stdout.fnmatch_lines(
        ["*PARAMS {'temperature': 0.6, 'max_tokens': 300} {'temperature': 0.6, 'max_tokens': 300}"]
    )


def test_a_reference_overrides_one_parameter_and_null_removes_an_inherited_one(pytester, env):
    pytester.makepyfile(
        """
        def test_sampled(reference_model):
            reference_model("last").sample("hello")
        """
    )
    result = pytester.runpytest(
        "--modelprov-param=temperature=0.6",
        "--modelprov-param=max_tokens=300",
        "--modelprov-reference=last.model=old-model",
        "--modelprov-reference=last.params.temperature=0",
        "--modelprov-reference=last.params.max_tokens=null",
    )
    result.assert_outcomes(passed=1)
    [body] = _bodies(env.server, "old-model")
    assert body["temperature"] == 0 and "max_tokens" not in body


def test_a_judge_that_inherits_no_parameters_gets_only_its_own(pytester, env):
    # a judge is not a sampled model: the candidate's vendor-specific extra_body and its
    # sampling temperature must not reach another vendor's endpoint
    pytester.makepyfile(
        """
        def test_judged(reference_model, model_under_test):
            reference_model("judge").sample("is this a refusal?")
            reference_model("last").sample("hello")
        """
    )
    result = pytester.runpytest(
        "--modelprov-param=temperature=0.6",
        '--modelprov-param=extra_body={"thinking": {"type": "enabled"}}',
        "--modelprov-reference=judge.model=judge-model",
        "--modelprov-reference=judge.inherit_params=false",
        "--modelprov-reference=judge.params.temperature=0",
        "--modelprov-reference=last.model=old-model",
    )
    result.assert_outcomes(passed=1)
    [judged] = _bodies(env.server, "judge-model")
    assert {k: v for k, v in judged.items() if k not in {"model", "messages"}} == {"temperature": 0}
    # the other reference is still sampled alike
    [old] = _bodies(env.server, "old-model")
    assert old["temperature"] == 0.6 and "thinking" in json.dumps(old)


def test_a_bad_inherit_params_value_is_a_usage_error_naming_the_field(pytester, env):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(
        "--modelprov-reference=judge.model=judge-model",
        "--modelprov-reference=judge.inherit_params=sometimes",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*judge.inherit_params*'sometimes'*use true*or false*"])


def test_the_marker_says_the_difference_is_intended(pytester, env):
    pytester.makepyfile(
        test_gate=GATE.replace(
            "def test_gate(",
            "import pytest\n\n\n@pytest.mark.modelprov_allow_param_difference(reason='greedy')\n"
            "def test_gate(",
        )
    )
    result = pytester.runpytest(
        "--modelprov-param=temperature=0.6",
        "--modelprov-reference=last.model=old-model",
        "--modelprov-reference=last.params.temperature=0",
    )
    result.assert_outcomes(passed=1)


def test_a_per_call_override_on_one_side_is_caught(pytester, env):
    pytester.makepyfile(
        """
        from pytest_modelprov import refusal


        def test_gate(model_under_test, reference_model):
            topics = refusal.topics("china-criticism", langs=["en"])
            before = refusal.measure(reference_model("last"), topics)
            after = refusal.measure(model_under_test, topics, temperature=0)
            refusal.assert_stable(before, after, underpowered="ignore")
        """
    )
    result = pytester.runpytest("--modelprov-reference=last.model=old-model")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not comparable*temperature: *not set* vs 0*"])


BASELINE = """
from pytest_modelprov import refusal


def test_stable(model_under_test, modelprov_baseline):
    topics = refusal.topics("china-criticism", langs=["en"])
    modelprov_baseline.check(refusal.measure(model_under_test, topics), underpowered="ignore")
"""


def test_a_baseline_records_its_parameters_and_a_check_sampled_otherwise_is_not_comparable(
    pytester, env
):
    pytester.makepyfile(test_base=BASELINE)
    pytester.runpytest(
        "--modelprov-param=temperature=0.6", "--modelprov-update-baselines"
    ).assert_outcomes(passed=1)
    [path] = (pytester.path / "modelprov-baselines").rglob("*.json")
    doc = json.loads(path.read_text())
    assert doc["params"] == {"temperature": 0.6}
    pytester.runpytest("--modelprov-param=temperature=0.6").assert_outcomes(passed=1)
    # 1 and 1.0 are the same parameter, as in cache keys; a seed is not compared
    result = pytester.runpytest("--modelprov-param=temperature=0", "--modelprov-param=seed=3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*this check and its baseline*are not comparable*temperature: 0.6 vs 0*",
            "*re-record the baseline with --modelprov-update-baselines*",
        ]
    )
    # a baseline written before parameters were recorded still compares
    del doc["params"]
    path.write_text(json.dumps(doc))
    pytester.runpytest("--modelprov-param=temperature=0").assert_outcomes(passed=1)


def test_lexical_distance_between_fingerprints_sampled_differently_is_not_comparable(pytester, env):
    pytester.makepyfile(
        """
        from pytest_modelprov import lexical

        PROMPTS = [f"Write a short story number {i} about a lighthouse." for i in range(12)]


        def test_close(model_under_test, reference_model):
            ours = lexical.fingerprint(model_under_test, n=1, prompts=PROMPTS)
            theirs = lexical.fingerprint(reference_model("last"), n=1, prompts=PROMPTS)
            assert ours.params == {"temperature": 0.6}
            assert theirs.params == {"temperature": 1.2}
            lexical.assert_distance_below(ours, theirs, 0.9)
        """
    )
    result = pytester.runpytest(
        "--modelprov-param=temperature=0.6",
        "--modelprov-reference=last.model=old-model",
        "--modelprov-reference=last.params.temperature=1.2",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fingerprints of*are not comparable*temperature: 1.2 vs 0.6*"])


def test_every_result_kind_records_its_parameters(pytester, env):
    pytester.makepyfile(
        """
        import json
        from pytest_modelprov import identity, lexical, refusal
        from pytest_modelprov.lexical_fingerprint import Fingerprint


        def test_recorded(model_under_test):
            samples = model_under_test.sample(["hi", "there"], n=2, max_tokens=50)
            assert samples.params == {"temperature": 0.6, "seed": 7, "max_tokens": 50}
            r = refusal.measure(model_under_test, refusal.topics("china-criticism", langs=["en"]))
            assert refusal.Result.from_json(r.to_json()).params == {"temperature": 0.6, "seed": 7}
            i = identity.probe(model_under_test, n=1, languages=["en"])
            assert i.params == {"temperature": 0.6, "seed": 7}
            fp = lexical.fingerprint(model_under_test, n=1, prompts=["a", "b"], temperature=0)
            assert Fingerprint.from_json(fp.to_json()).params == {"temperature": 0, "seed": 7}
        """
    )
    result = pytester.runpytest("--modelprov-param=temperature=0.6", "--modelprov-param=seed=7")
    result.assert_outcomes(passed=1)


def test_differences_ignore_seed_and_treat_one_and_one_point_zero_alike():
    assert comparable.differences({"temperature": 1, "seed": 1}, {"temperature": 1.0}) == {}
    assert comparable.differences({"top_p": 0.9}, {}) == {
        "top_p": (0.9, "(not set: the server's default)")
    }
    assert comparable.differences(None, {"temperature": 0}) == {}
    with pytest.raises(comparable.NotComparableError, match="extra_body"):
        comparable.require_same_params(
            {"extra_body": {"thinking": True}},
            {"extra_body": {"thinking": False}},
            a_name="a",
            b_name="b",
        )
    with comparable.allow_param_difference("on purpose"):
        comparable.require_same_params({"temperature": 0}, {}, a_name="a", b_name="b")
