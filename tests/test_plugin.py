"""Plugin surface: help, markers, unconfigured models, the summary and its silence."""

from __future__ import annotations

import re

import pytest


def test_help_shows_the_modelprov_group(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(
        [
            "model provenance tests (pytest-modelprov):",
            "  --modelprov-model=ID*",
            "  --modelprov-base-url=URL",
            "  --modelprov-api-key-env=NAME",
            "  --modelprov-param=KEY=VALUE",
            "  --modelprov-price=IN/OUT",
            "  --modelprov-rpm=N*",
            "  --modelprov-tpm=N*",
            "  --modelprov-endpoint-id=ID",
            "  --modelprov-reference=NAME.FIELD=VALUE",
            "  --modelprov-record-mode=MODE",
            "  --modelprov-cache-dir=DIR",
            "  --modelprov-concurrency=N",
            "  --modelprov-max-retries=N",
            "  --modelprov-timeout=SECONDS",
            "  --modelprov-retry-backoff=SECONDS",
            "  --modelprov-max-retry-wait=SECONDS",
            "  --modelprov-unconfigured=ACTION",
            "  --modelprov-transcript=FILE",
            "  --modelprov-report-json=FILE",
            "  --modelprov-report-md=FILE",
            "  --modelprov-report-html=FILE",
            "  --modelprov-baseline-dir=DIR",
            "  --modelprov-baseline=LABEL",
            "  --modelprov-drift=RULE",
            "  --modelprov-budget=LIMIT",
            "  --modelprov-progress=WHEN",
            "  --modelprov-batch-poll=SECONDS",
            "  --modelprov-batch-wait=SECONDS",
            "  --modelprov-unused-baselines=ACTION",
            "  --modelprov-update-baselines",
            "  --modelprov-plan*",
            "  --modelprov-batch*",
        ]
    )
    for ini in (
        "modelprov_model (string)",
        "modelprov_params (linelist)",
        "modelprov_references (linelist)",
        "modelprov_record_mode (string)",
        "modelprov_drift (linelist)",
        "modelprov_baseline_dir (string)",
        "modelprov_budget (linelist)",
        "modelprov_progress (string)",
    ):
        result.stdout.fnmatch_lines([f"  {ini}:*"])


def test_marker_is_registered_and_selects(pytester, env):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.provenance
        def test_marked():
            pass

        def test_uses_model(model_under_test):
            pass

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers", "-m", "provenance", "-v")
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(["*test_marked PASSED*", "*test_uses_model PASSED*"])
    result = pytester.runpytest("--strict-markers", "-m", "not provenance")
    result.assert_outcomes(passed=1, deselected=2)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.provenance(unconfigured=*"])


def test_bad_marker_arguments_are_a_usage_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.provenance(unconfigured="maybe")
        def test_x():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*provenance(unconfigured='maybe') is not valid; valid values: fail, skip*"]
    )


MODEL_TESTS = """
import pytest

def test_needs_model(model_under_test):
    model_under_test.ask("hi")

@pytest.mark.provenance(unconfigured="skip")
def test_may_skip(model_under_test):
    model_under_test.ask("hi")

def test_needs_reference(reference_model):
    reference_model("gemini").ask("hi")
"""


def test_unconfigured_models_fail_with_the_setting_to_add(pytester):
    pytester.makepyfile(MODEL_TESTS)
    result = pytester.runpytest("-rEs")
    # the model fixture errors at setup, reference_model("gemini") fails in the test body
    result.assert_outcomes(errors=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*no model under test is configured. Set its id with --modelprov-model ID*MODELPROV_MODEL*modelprov_model*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*reference model 'gemini' is not configured (configured: none). Add it to the ini key modelprov_references*gemini.model=ID*"
        ]
    )


def test_unconfigured_skip_from_ini_and_cli_overrides_marker(pytester):
    pytester.makepyfile(MODEL_TESTS)
    pytester.makeini("[pytest]\nmodelprov_unconfigured = skip\n")
    pytester.runpytest().assert_outcomes(skipped=3)
    # an explicit CLI choice beats the marker: CI can insist nothing is skipped silently
    pytester.runpytest("--modelprov-unconfigured=fail").assert_outcomes(errors=2, failed=1)


def test_known_references_are_listed(pytester, env, monkeypatch):
    monkeypatch.setenv(
        "MODELPROV_REFERENCES", f"old.model=test-model-1;old.base_url={env.server.url}"
    )
    pytester.makepyfile(
        """
        def test_ref(reference_model):
            old = reference_model("old")
            assert old.ask("hi").requested_model == "test-model-1"
            reference_model("gemini")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*reference model 'gemini' is not configured (configured: old)*"])
    assert env.server.requests[0].body["model"] == "test-model-1"


def test_summary_is_silent_when_no_model_was_used(pytester, env):
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not [line for line in result.stdout.lines if "- modelprov -" in line]
    assert not env.cache.exists(), "an unused plugin must not create a cache directory"


def test_summary_counts_calls_hits_tokens_and_cost(pytester, env, monkeypatch):
    """A run that used a model prints one; and the price arithmetic is the usage's."""
    monkeypatch.setenv("MODELPROV_PRICE", "1000000/2000000")  # $1 per token in, $2 out
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            r = model_under_test.ask("one two three")
            print("USAGE", r.usage.prompt_tokens, r.usage.completion_tokens)
        """
    )
    result = pytester.runpytest("-s")
    match = re.search(r"USAGE (\d+) (\d+)", result.stdout.str())
    assert match
    prompt, completion = map(int, match.groups())
    cost = prompt + 2 * completion
    result.stdout.re_match_lines(
        [
            rf"model under test: test-model\s+1\s+1\s+0\s+0\s+0\s+0\s+{prompt + completion}\s+\${cost:,.2f}"
        ]
    )
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines([f"*the cache saved about ${cost:,.2f}*"])


def test_module_level_marker_asks_for_skip(pytester):
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.provenance(unconfigured="skip")

        def test_needs_model(model_under_test):
            pass

        class TestGroup:
            def test_needs_reference(self, reference_model):
                reference_model("gemini")
        """
    )
    pytester.runpytest().assert_outcomes(skipped=2)
