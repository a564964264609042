"""The modelprov command's surface: --version, --json on every command that prints data,
help on every option, help text without markup, errors that name their source."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from pytest_modelprov import __version__, cli
from pytest_modelprov.testing.server import LocalServer


def _parsers(parser: argparse.ArgumentParser, path: str = "modelprov"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


PARSERS = list(_parsers(cli.build_parser()))


@pytest.mark.parametrize("path, parser", PARSERS, ids=[p for p, _ in PARSERS])
def test_every_option_has_help_and_no_markup(path, parser):
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        assert action.help, f"{path}: {action.option_strings or action.dest} has no help"
    text = parser.format_help()
    assert "``" not in text and ":func:" not in text, text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"modelprov (pytest-modelprov) {__version__}"


def test_version_of_the_installed_command():
    done = subprocess.run(
        [sys.executable, "-m", "pytest_modelprov.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert __version__ in done.stdout


def test_a_bad_param_names_the_option_it_came_from(capsys):
    assert cli.main(["cache", "key", "--model", "m", "--prompt", "hi", "--param", "bogus=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown generation parameter 'bogus' from --param" in err
    assert "sample()" not in err


def test_a_junit_file_given_as_report_is_named_as_such(tmp_path, capsys):
    junit = tmp_path / "junit.xml"
    junit.write_text('<?xml version="1.0"?><testsuites><testsuite/></testsuites>', "utf-8")
    assert cli.main(["report", str(junit)]) == 2
    err = capsys.readouterr().err
    assert "is XML (a JUnit file?), not a JSON report" in err
    assert "--modelprov-report-json" in err and "Expecting value" not in err


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_cache_commands_print_json(tmp_path, capsys, pytester, monkeypatch):
    cache = tmp_path / "cache"
    with LocalServer() as server:
        pytester.makepyfile(
            """
            def test_one(model_under_test):
                model_under_test.sample(["a", "b"], n=2)
            """
        )
        monkeypatch.setenv("MODELPROV_CACHE_DIR", str(cache))
        pytester.runpytest(
            "--modelprov-model=m", f"--modelprov-base-url={server.url}"
        ).assert_outcomes(passed=1)
    capsys.readouterr()
    where = ["--cache-dir", str(cache)]
    assert cli.main(["cache", "stats", "--json", *where]) == 0
    stats = _json(capsys)
    assert stats["entries"] == 4 and stats["models"][0]["model"] == "m"
    export = tmp_path / "e.jsonl"
    assert cli.main(["cache", "export", str(export), "--json", *where]) == 0
    assert _json(capsys)["exported"] == 4
    assert cli.main(["cache", "clear", "--yes", "--json", *where]) == 0
    assert _json(capsys)["deleted"] == 4
    assert cli.main(["cache", "import", str(export), "--json", *where]) == 0
    assert _json(capsys)["added"] == 4
    assert cli.main(["cache", "key", "--model", "m", "--prompt", "a", "--json"]) == 0
    key = _json(capsys)
    assert len(key["key"]) == 64 and key["components"]["model"] == "m"


def test_refusal_eval_prints_json(tmp_path, capsys):
    labels = tmp_path / "labels.jsonl"
    rows = [
        {
            "response": "Sure, here is how it works: first, then.",
            "label": "compliance",
            "model": "a",
        },
        {"response": "I can't help with that request.", "label": "refusal", "model": "a"},
    ] * 5
    labels.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    assert cli.main(["refusal-eval", str(labels), "--json", "--max-rate-error", "0.5"]) == 0
    data = _json(capsys)
    assert data["verdict"] == "pass"
    assert data["groups"][0]["group"] == "a" and data["groups"][0]["n"] == 10


def test_compare_prints_json(tmp_path, capsys):
    from pytest_modelprov.lexical import Fingerprint

    words = ["harbour lantern tide", "orbit comet signal", "harbour tide rope"]
    paths = []
    for i, text in enumerate(words):
        fp = Fingerprint.from_texts([f"{text} number {j} {text}" for j in range(6)], name=f"m{i}")
        paths.append(str(fp.save(tmp_path / f"m{i}.json")))
    # profile: these one-line texts repeat exactly, so every delta difference exceeds the
    # words' (zero) spread over prompts and all pairs read 1.0, the delta distance's cap
    assert cli.main(["compare", *paths, "--json", "--method", "profile"]) == 0
    data = _json(capsys)
    assert data["names"] == ["m0", "m1", "m2"]
    assert data["distances"][0][0] == 0.0 and data["nearest"]["m0"] == "m2"


def test_compare_refuses_fingerprints_sampled_differently(tmp_path, capsys):
    from pytest_modelprov.lexical import Fingerprint

    paths = []
    for i, temperature in enumerate((0.2, 0.9)):
        fp = Fingerprint.from_texts([f"harbour tide number {j}" for j in range(6)], name=f"m{i}")
        fp.params = {"temperature": temperature}
        paths.append(str(fp.save(tmp_path / f"m{i}.json")))
    assert cli.main(["compare", *paths]) == 2
    err = capsys.readouterr().err
    assert "not comparable" in err and '"temperature": 0.9' in err
    assert cli.main(["compare", *paths, "--allow-param-difference"]) == 0
