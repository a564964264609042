"""No silent settings: a conftest.py fixture that supplies the model under test makes the
CLI/env/ini settings it shadows warn, and references resolve against it as they would
against the configured model under test."""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest
from pytest_modelprov import ModelSpec
from pytest_modelprov.server import LocalServer

SERVER = LocalServer().start()


@pytest.fixture(scope="session")
def modelprov_model_spec():
    return ModelSpec(
        name="model under test",
        model="scripted",
        base_url=SERVER.url,
        endpoint_id="scripted",
        params={"temperature": 0.7},
    )


@pytest.fixture
def served():
    return SERVER
"""

TEST = """
def test_sampled(model_under_test, served):
    model_under_test.sample("hello")
    print("BODIES", [r.body for r in served.requests])
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, tmp_path):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_it=TEST)
    pytester.makeini(
        f"""
        [pytest]
        modelprov_cache_dir = {tmp_path / "cache"}
        modelprov_params =
            temperature = 0.7
        """
    )
    return pytester


def test_settings_a_fixture_shadows_are_named_in_a_warning(suite):
    result = suite.runpytest(
        "-s",
        "--modelprov-model=other",
        "--modelprov-param=temperature=0",
        "--modelprov-price=0.27/1.10",
    )
    result.assert_outcomes(passed=1, warnings=3)
    result.stdout.fnmatch_lines_random(
        [
            "*UnusedSettingWarning: modelprov: model=other (from --modelprov-model) is not used: "
            "the modelprov_model_spec fixture supplies the model under test with model 'scripted'*",
            "*temperature=0 (from --modelprov-param) is not used*params.temperature 0.7*",
            "*price=0.27/1.10 (from --modelprov-price) is not used*price not set*",
        ]
    )
    # the modelprov summary says it too, and the fixture's own values were sent
    result.stdout.fnmatch_lines(["warning: *--modelprov-price*"])
    result.stdout.fnmatch_lines(["*BODIES*'model': 'scripted'*'temperature': 0.7*"])


def test_a_fixture_that_uses_the_configured_values_shadows_nothing(suite):
    # the ini's temperature is the fixture's: nothing is unused, so an error filter is safe
    result = suite.runpytest("-W", "error::pytest_modelprov.errors.UnusedSettingWarning")
    result.assert_outcomes(passed=1)
    assert "UnusedSettingWarning" not in result.stdout.str()


def test_a_reference_without_base_url_goes_to_the_fixtures_endpoint(suite):
    suite.makepyfile(
        test_it="""
        def test_reference(reference_model, served):
            last = reference_model("last")
            last.sample("hello")
            [body] = [r.body for r in served.requests if r.body["model"] == "scripted-old"]
            assert body["temperature"] == 0.7  # inherited from the fixture's spec
            assert last.spec.endpoint_id == "scripted"
        """
    )
    result = suite.runpytest(
        "--modelprov-reference=last.model=scripted-old",
        "-W",
        "error::pytest_modelprov.errors.UnusedSettingWarning",
    )
    result.assert_outcomes(passed=1)


def test_a_reference_override_that_drops_a_configured_reference_warns(suite):
    suite.makeconftest(
        CONFTEST
        + """

@pytest.fixture(scope="session")
def modelprov_references():
    return {}
"""
    )
    suite.makepyfile(
        test_it="""
        def test_nothing(model_under_test):
            pass
        """
    )
    result = suite.runpytest("--modelprov-reference=last.model=scripted-old")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*last.model=scripted-old (from --modelprov-reference) is not used: the "
            "modelprov_references fixture has no reference 'last'*"
        ]
    )


def test_inherit_params_a_fixture_overrides_is_named_unless_the_params_agree(suite):
    suite.makeconftest(
        CONFTEST
        + """

@pytest.fixture(scope="session")
def modelprov_references():
    judge = ModelSpec(name="judge", model="scripted-judge", base_url=SERVER.url,
                      params={"temperature": 0.7})
    return {"judge": judge}
"""
    )
    suite.makepyfile(test_it="def test_nothing(model_under_test):\n    pass\n")
    args = ["--modelprov-reference=judge.model=scripted-judge"]
    # the fixture's judge carries the inherited temperature: the setting did nothing
    result = suite.runpytest(*args, "--modelprov-reference=judge.inherit_params=false")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*judge.inherit_params=false (from --modelprov-reference) is not used: the "
            "modelprov_references fixture gives 'judge' params {\"temperature\": 0.7}*"
        ]
    )
    # inheriting (the default) gives the fixture's params: nothing unused
    result = suite.runpytest(
        *args,
        "--modelprov-reference=judge.inherit_params=true",
        "-W",
        "error::pytest_modelprov.errors.UnusedSettingWarning",
    )
    result.assert_outcomes(passed=1)


def test_the_plan_shows_the_unused_price(suite):
    result = suite.runpytest("--modelprov-plan", "--modelprov-price=0.27/1.10")
    result.stdout.fnmatch_lines(
        ["*modelprov plan*", "warning: price=0.27/1.10 (from --modelprov-price)*"]
    )


def test_parameters_without_a_model_under_test_say_so(pytester, server, tmp_path):
    pytester.makepyfile(
        test_refs="""
        def test_reference(reference_model):
            reference_model("last").sample("hello")
        """
    )
    result = pytester.runpytest(
        f"--modelprov-cache-dir={tmp_path / 'cache'}",
        "--modelprov-param=temperature=0",
        "--modelprov-reference=last.model=m",
        f"--modelprov-reference=last.base_url={server.url}",
    )
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*temperature=0 (from --modelprov-param) is not used: no model under test is configured*"]
    )
    assert "temperature" not in server.requests[0].body
