"""Files named in a suite's own code are found beside that code, not in the working
directory: `pytest mysuite` from the parent folder reads mysuite/answers.json."""

from __future__ import annotations

import json

import pytest

CONFTEST = """
import pytest
from pytest_modelprov import ModelSpec
from pytest_modelprov.testing.server import LocalServer, Script


@pytest.fixture(scope="session")
def modelprov_model_spec():
    server = LocalServer(Script.from_file("answers.json")).start()
    return ModelSpec(name="model under test", model="scripted", base_url=server.url,
                     endpoint_id="scripted")
"""

TEST = """
from pytest_modelprov import identity, lexical, refusal, refusal_eval


def test_files_beside_this_module(model_under_test):
    assert model_under_test.ask("who are you").answer == "I am a scripted model."
    assert refusal.topics("data/topics.json").name == "mine"
    assert [p.id for p in identity.load_probes("data/probes.json").probes] == ["who-en"]
    assert lexical.load_prompts("data/prompts.json") == [("p1", "Describe a quiet harbour.")]
    assert refusal_eval.evaluate("data/labels.jsonl").overall.n == 2
"""


def _write(folder, name, data):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "\n".join(json.dumps(row) for row in data) if name.endswith(".jsonl") else json.dumps(data)
    )
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def suite(pytester, tmp_path):
    folder = pytester.path / "mysuite"
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (folder / "test_suite_files.py").write_text(TEST, encoding="utf-8")
    _write(
        folder,
        "answers.json",
        {"rules": [{"match": "who", "answers": ["I am a scripted model."]}]},
    )
    _write(
        folder,
        "data/topics.json",
        {
            "name": "mine",
            "version": "1",
            "topics": [{"id": "t1", "prompts": {"en": "Tell me about it."}}],
        },
    )
    _write(
        folder,
        "data/probes.json",
        {
            "version": "1",
            "probes": [{"id": "who-en", "lang": "en", "kind": "who", "prompt": "Who are you?"}],
        },
    )
    _write(
        folder,
        "data/prompts.json",
        {"version": 1, "prompts": [{"id": "p1", "text": "Describe a quiet harbour."}]},
    )
    _write(
        folder,
        "data/labels.jsonl",
        [
            {"response": "Sure, here it is.", "label": "compliance", "model": "a"},
            {"response": "I can't help with that.", "label": "refusal", "model": "a"},
        ],
    )
    pytester.makeini(f"[pytest]\nmodelprov_cache_dir = {tmp_path / 'cache'}\n")
    return folder


def test_a_suite_run_from_its_parent_folder_finds_its_files(pytester, suite):
    result = pytester.runpytest("mysuite")  # the working directory is the parent
    result.assert_outcomes(passed=1)


def test_the_same_suite_run_from_inside_finds_them_too(pytester, suite, monkeypatch):
    monkeypatch.chdir(suite)
    result = pytester.runpytest(".")
    result.assert_outcomes(passed=1)


def test_a_missing_file_is_named_where_it_was_looked_for(pytester, suite):
    (suite / "answers.json").unlink()
    result = pytester.runpytest("mysuite")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*No such file or directory*{suite / 'answers.json'}*"])
