"""Measurements travel from a test to the summary table and JUnit XML, also from xdist workers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from pytest_modelprov.reports.measurement import PROPERTY, Measurement, format_value

INNER = """
from pytest_modelprov.reports.measurement import Measurement


def test_claims(model_under_test):
    model_under_test.record(Measurement(
        "identity.claim_rate", 0.25, labels={"vendor": "openai", "lang": "ru"},
        low=0.1, high=0.47, n=20, reference=0.05, reference_label="max", verdict="fail",
        detector="identity-rules/1",
    ))
    model_under_test.record(Measurement("identity.claim_rate", 0.0, labels={"lang": "en"}, n=20))


def test_nothing_measured(model_under_test):
    pass
"""


def test_measurements_reach_the_table_and_junit(pytester, env, xdist_args, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the full table; narrow ones: test_report_width.py
    pytester.makepyfile(INNER)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(f"--junitxml={junit}", *xdist_args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*- modelprov measurements -*",
            "test*model*quantity*value*n*against*verdict",
            "test_claims*model under test*identity.claim_rate[[]vendor=openai, lang=ru]*0.250 [[]0.100, 0.470]"
            "*20*max 0.050*FAIL",
            "test_claims*identity.claim_rate[[]lang=en]*0.000*20*-*info",
        ]
    )
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    props = [p for p in cases["test_claims"].iter("property") if p.get("name") == PROPERTY]
    recorded = [Measurement.from_json(p.get("value") or "") for p in props]
    assert [m.labels for m in recorded] == [{"vendor": "openai", "lang": "ru"}, {"lang": "en"}]
    assert recorded[0].model == "model under test" and recorded[0].detector == "identity-rules/1"
    assert not list(cases["test_nothing_measured"].iter("property"))


def test_quiet_runs_leave_the_table_out(pytester, env):
    pytester.makepyfile(INNER)
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=2)
    assert "modelprov measurements" not in result.stdout.str()


def test_measurement_json_round_trip_and_format():
    m = Measurement(
        "refusal.rate",
        0.1234,
        labels={"set": "china", "lang": "zh"},
        low=0.05,
        high=0.2,
        details={"examples": ["a"]},
    )
    again = Measurement.from_json(m.to_json())
    assert again == m
    assert json.loads(m.to_json())["labels"] == {"set": "china", "lang": "zh"}
    assert m.name == "refusal.rate[set=china, lang=zh]"
    assert format_value(m) == "0.123 [0.050, 0.200]"


def test_json_report_holds_every_measurement_and_validates(pytester, env, xdist_args):
    from pytest_modelprov.reports import jsonreport

    pytester.makepyfile(
        INNER
        + """

def test_fails_after_measuring(model_under_test):
    model_under_test.sample(["hello there"])
    model_under_test.record(Measurement("refusal.rate", 0.5, n=2, verdict="fail"))
    assert False
"""
    )
    report = pytester.path / "out" / "report.json"
    result = pytester.runpytest(f"--modelprov-report-json={report}", *xdist_args)
    result.assert_outcomes(passed=2, failed=1)
    data = jsonreport.load(report)
    assert data["exit_status"] == 1
    by_test = sorted((m["test"].rsplit("::", 1)[-1], m["quantity"]) for m in data["measurements"])
    assert by_test == [
        ("test_claims", "identity.claim_rate"),
        ("test_claims", "identity.claim_rate"),
        ("test_fails_after_measuring", "refusal.rate"),
    ]
    model = data["models"]["model under test"]
    assert (model["model"], model["calls"], model["hits"]) == ("test-model", 1, 0)
    assert not list(report.parent.glob(".report.json.*")), "temporary file left behind"


def test_a_report_that_is_not_one_is_named(tmp_path):
    import pytest

    from pytest_modelprov.errors import ConfigError
    from pytest_modelprov.reports import jsonreport

    bad = tmp_path / "r.json"
    bad.write_text('{"format": "pytest-modelprov-report/1", "measurements": [{"value": "x"}]}')
    with pytest.raises(
        ConfigError,
        match=r"report .*r\.json does not match schemas/report.schema.json at .*required",
    ):
        jsonreport.load(bad)
    bad.write_text("{")
    with pytest.raises(ConfigError, match=r"r\.json: cannot read the report"):
        jsonreport.load(bad)


def test_measurements_from_newer_workers_and_numpy_values_survive():
    import numpy as np
    import pytest

    m = Measurement(
        "lexical.distance",
        float(np.float64(0.25)),
        n=int(np.int64(3)),
        details={"counts": np.array([1, 2]), "p": np.float32(0.5)},
    )
    data = json.loads(m.to_json())
    assert data["details"] == {"counts": [1, 2], "p": 0.5}
    data["added_in_a_later_version"] = 1
    assert Measurement.from_json(json.dumps(data)).details == {"counts": [1, 2], "p": 0.5}
    with pytest.raises(ValueError, match="lacks value"):
        Measurement.from_json('{"quantity": "x"}')
    with pytest.raises(ValueError):
        Measurement("x", float("nan")).to_json()


def test_a_measurement_recorded_outside_a_test_is_reported_as_lost(pytester, env):
    pytester.makeconftest(
        """
        import pytest
        from pytest_modelprov import ModelHandle
        from pytest_modelprov.reports.measurement import Measurement

        @pytest.fixture(scope="session")
        def shared(modelprov_session):
            yield
            handle = ModelHandle(modelprov_session, modelprov_session.settings.model, "nowhere")
            handle.record(Measurement("late.figure", 1.0))
        """
    )
    pytester.makepyfile("def test_x(shared): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*warning: 1 measurement(s) were recorded outside a test*"])


def test_a_report_that_cannot_be_written_fails_the_run_and_says_why(pytester, env):
    blocker = pytester.path / "not-a-dir"
    blocker.write_text("a file where the report's directory should be")
    pytester.makepyfile("def test_x(model_under_test): model_under_test.sample(['hi'])")
    result = pytester.runpytest(f"--modelprov-report-json={blocker / 'report.json'}")
    result.assert_outcomes(passed=1)
    assert result.ret == 3
    result.stdout.fnmatch_lines(["*warning: the JSON report was not written: *not-a-dir*"])
    assert blocker.read_text() == "a file where the report's directory should be"
