"""The example suite: recorded once, then replayed with zero HTTP requests and equal results."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pytest_modelprov.testing.script import Script
from pytest_modelprov.testing.server import LocalServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# every example is a plain test function: all of them must pass, none may be skipped
EXAMPLE_TESTS = sum(
    f.read_text(encoding="utf-8").count("\ndef test_") for f in EXAMPLES.glob("test_*.py")
)


@pytest.fixture
def examples(pytester: pytest.Pytester) -> Path:
    target = pytester.path / "examples"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns(".modelprov", "__pycache__"))
    return target


@contextmanager
def configured_endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LocalServer]:
    """The examples pointed at a LocalServer serving their script, as a configured model
    and previous release, with the cache in ``tmp_path``."""
    with LocalServer(Script.from_file(EXAMPLES / "local_script.json")) as server:
        monkeypatch.setenv("MODELPROV_MODEL", "demo-model")
        monkeypatch.setenv("MODELPROV_BASE_URL", server.url)
        monkeypatch.setenv("MODELPROV_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv(
            "MODELPROV_REFERENCES",
            f"previous-release.model=demo-model-previous;previous-release.base_url={server.url}",
        )
        yield server


def outcomes(path: Path) -> list[tuple]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(
        (r["test"], r["model_name"], r["key"], r["answer"], r["reasoning"], r["resolved_model"])
        for r in rows
    )


def test_second_run_against_a_configured_endpoint_makes_no_request(
    pytester, examples, tmp_path, monkeypatch
):
    with configured_endpoint(monkeypatch, tmp_path) as server:
        first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
        result = pytester.runpytest(
            str(examples), "-m", "provenance", f"--modelprov-transcript={first}"
        )
        result.assert_outcomes(passed=EXAMPLE_TESTS)
        result.stdout.fnmatch_lines(["examples: running against the configured model"])
        recorded = server.request_count
        assert recorded > 0
        result = pytester.runpytest(
            str(examples), "-m", "provenance", f"--modelprov-transcript={second}"
        )
        result.assert_outcomes(passed=EXAMPLE_TESTS)
        assert server.request_count == recorded, "the warm run made HTTP requests"
        assert outcomes(second) == outcomes(first)
        assert {json.loads(x)["cached"] for x in second.read_text().splitlines()} == {True}


def test_unconfigured_example_runs_offline_and_says_so(pytester, examples):
    result = pytester.runpytest(str(examples))
    result.assert_outcomes(passed=EXAMPLE_TESTS)
    result.stdout.fnmatch_lines(
        ["examples: no model configured, running against pytest-modelprov's local server*"]
    )
    assert (examples / ".modelprov" / "cache").is_dir()
    # a new server on a new port; endpoint_id keeps the keys, so the run is all hits
    result = pytester.runpytest(str(examples))
    result.assert_outcomes(passed=EXAMPLE_TESTS)
    result.stdout.fnmatch_lines(["*every answer came from the cache: no model was called*"])


def test_examples_fit_80_columns_and_warn_about_nothing(pytester, examples, monkeypatch):
    """The example suite at COLUMNS=80: every line of the plugin's tables fits (none wraps
    in the terminal), every check decides (no inconclusive one), and no warning is raised."""
    monkeypatch.setenv("COLUMNS", "80")
    result = pytester.runpytest(str(examples), "-W", "error::UserWarning")
    result.assert_outcomes(passed=EXAMPLE_TESTS)
    out = result.stdout.lines
    start = next(i for i, line in enumerate(out) if "- modelprov -" in line)
    tables = out[
        start : next(i for i, line in enumerate(out) if line.startswith("=====") and i > start)
    ]
    assert any("modelprov measurements" in line for line in tables)
    too_wide = [line for line in tables if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    text = result.stdout.str()
    assert "warnings summary" not in text and "warning:" not in text
    assert "INCONCLUSIVE" not in text and "FAIL" not in text
    # the verdicts are in the table, one per measurement checked against something
    assert sum(line.rstrip().endswith(" pass") for line in tables) >= 8


#: jsonschema and what it imports: a warm run that reads committed baselines and the team
#: vendor file checks them with util/strictschema instead (~40-80 ms of import saved)
SCHEMA_STACK = ("jsonschema", "jsonschema_specifications", "referencing", "attrs", "rpds")
MODULES_SEEN = """
import os
import sys

def pytest_unconfigure(config):
    with open(os.environ["MODULES_SEEN_LOG"], "w", encoding="utf-8") as out:
        out.write(" ".join(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_a_warm_run_of_the_examples_checks_its_baselines_without_jsonschema(
    pytester, examples, tmp_path, monkeypatch
):
    (pytester.path / "modules_seen.py").write_text(MODULES_SEEN, encoding="utf-8")
    seen = tmp_path / "modules.txt"
    monkeypatch.setenv("MODULES_SEEN_LOG", str(seen))
    with configured_endpoint(monkeypatch, tmp_path):
        run = ("-p", "modules_seen", "-p", "no:randomly", str(examples))
        pytester.runpytest_subprocess(*run).assert_outcomes(passed=EXAMPLE_TESTS)
        result = pytester.runpytest_subprocess(*run, "--modelprov-record-mode=replay")
    result.assert_outcomes(passed=EXAMPLE_TESTS)
    # control: the run did read and compare the committed baselines (schema-checked reads)
    result.stdout.fnmatch_lines(["*modelprov-baselines (default): 2 compared*"])
    modules = set(seen.read_text(encoding="utf-8").split())
    assert "pytest_modelprov" in modules
    assert modules.isdisjoint(SCHEMA_STACK), sorted(modules & set(SCHEMA_STACK))
