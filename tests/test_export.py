"""Export, clear, import and replay with the server gone; bad exports import nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pytest_modelprov.calls.cache import ResponseCache
from pytest_modelprov.cli import main as cli

SUITE = """
def test_identity(model_under_test):
    samples = model_under_test.sample(["Who are you?", "Who made you?"], n=2)
    print("ANSWERS", sorted(samples.answers))
"""


def answers(result):
    return next(line for line in result.stdout.lines if "ANSWERS" in line)


def test_export_clear_import_replay_with_the_server_down(
    pytester, env, tmp_path, monkeypatch, capsys
):
    env.server.add_rule("who", "I am Lumen.", "Example Lab made me.", "Lumen here.")
    pytester.makepyfile(SUITE)
    recorded = pytester.runpytest("-s")
    recorded.assert_outcomes(passed=1)
    export = tmp_path / "cache.jsonl"
    cache_dir = str(env.cache)
    assert cli(["cache", "export", str(export), "--cache-dir", cache_dir]) == 0
    lines = export.read_text().splitlines()
    assert json.loads(lines[0])["entries"] == 4 and len(lines) == 5
    assert cli(["cache", "clear", "--yes", "--cache-dir", cache_dir]) == 0
    monkeypatch.setenv("MODELPROV_RECORD_MODE", "replay")
    pytester.runpytest().assert_outcomes(failed=1)  # cleared: replay misses
    assert cli(["cache", "import", str(export), "--cache-dir", cache_dir]) == 0
    assert "4 added" in capsys.readouterr().out
    env.server.stop()
    replayed = pytester.runpytest("-s")
    replayed.assert_outcomes(passed=1)
    assert answers(replayed) == answers(recorded)


def test_import_validates_everything_before_writing(pytester, env, tmp_path, capsys):
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=1)
    cache_dir = str(env.cache)
    export = tmp_path / "good.jsonl"
    cli(["cache", "export", str(export), "--cache-dir", cache_dir])
    header, *entries = export.read_text().splitlines()

    # an edited request no longer hashes to its key
    edited = json.loads(entries[1])
    edited["request"]["messages"][0]["content"] = "Something else"
    bad_key = tmp_path / "edited.jsonl"
    bad_key.write_text("\n".join([header, entries[0], json.dumps(edited), *entries[2:]]) + "\n")
    missing_field = json.loads(entries[0])
    del missing_field["response"]["choices"]
    bad_schema = tmp_path / "schema.jsonl"
    bad_schema.write_text("\n".join([header, json.dumps(missing_field)]) + "\n")
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join([header, *entries[:2]]) + "\n")
    not_export = tmp_path / "other.jsonl"
    not_export.write_text('{"hello": 1}\n')

    target = tmp_path / "fresh-cache"
    cases = [
        (bad_key, "edited.jsonl line 3: key"),
        (bad_schema, "schema.jsonl line 2: field response: 'choices' is a required property"),
        (truncated, "declares 4 entries but holds 2"),
        (not_export, "other.jsonl line 1 is not a pytest-modelprov-cache version 1 header"),
    ]
    for path, needle in cases:
        assert cli(["cache", "import", str(path), "--cache-dir", str(target)]) == 2
        err = capsys.readouterr().err
        assert needle in err and "nothing was imported" in err, err
        assert not (target.exists() and ResponseCache(target).digests())


def test_import_never_replaces_a_different_recording_unless_asked(pytester, env, tmp_path, capsys):
    env.server.add_rule("who", "first")
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=1)
    export = tmp_path / "a.jsonl"
    cli(["cache", "export", str(export), "--cache-dir", str(env.cache)])
    env.server.script.rules[0].answers = ["second"]
    pytester.runpytest("--modelprov-record-mode=refresh").assert_outcomes(passed=1)
    capsys.readouterr()
    cli(["cache", "import", str(export), "--cache-dir", str(env.cache)])
    assert "0 added" in (out := capsys.readouterr().out) and "4 differing entries kept" in out
    result = pytester.runpytest("-s")
    assert "first" not in answers(result)
    cli(["cache", "import", str(export), "--cache-dir", str(env.cache), "--overwrite"])
    assert "4 replaced" in capsys.readouterr().out
    assert "first" in answers(pytester.runpytest("-s"))


def test_clear_refuses_without_yes_when_not_interactive(env, tmp_path):
    env.cache.mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "pytest_modelprov.cli", "cache", "clear", "--cache-dir", str(env.cache)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "without --yes" in result.stderr


def test_key_command_explains_a_key(pytester, env, capsys):
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            print("KEY", model_under_test.ask("Who are you?", temperature=0.5).key)
        """
    )
    result = pytester.runpytest("-s")
    (key,) = [line.split("KEY ")[1] for line in result.stdout.lines if "KEY " in line]
    capsys.readouterr()
    cli(
        [
            "cache",
            "key",
            "--model",
            "test-model",
            "--base-url",
            env.server.url,
            "--prompt",
            "Who are you?",
            "--param",
            "temperature=0.5",
        ]
    )
    out = capsys.readouterr().out
    assert out.strip().endswith(key)
    assert '"temperature": 0.5' in out and '"replicate": 0' in out
    assert cli(["cache", "show", key[:12], "--cache-dir", str(env.cache)]) == 0
    assert json.loads(capsys.readouterr().out)["key"] == key


@pytest.mark.parametrize("args", [["cache", "stats"], ["cache", "export", "x.jsonl"]])
def test_commands_on_a_missing_cache_say_where_they_looked(tmp_path, capsys, args):
    assert cli([*args, "--cache-dir", str(tmp_path / "nope")]) == 2
    assert "no cache at" in capsys.readouterr().err


def test_unreadable_entries_are_shown_raw_and_reported_by_export(pytester, env, tmp_path, capsys):
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=1)
    cache = ResponseCache(env.cache)
    broken, *_ = cache.digests()
    cache._open().set(broken, b"not json at all")
    cache.close()
    capsys.readouterr()
    assert cli(["cache", "show", broken[:16], "--cache-dir", str(env.cache)]) == 1
    out, err = capsys.readouterr()
    assert "not json at all" in out and "is unreadable" in err
    export = tmp_path / "e.jsonl"
    assert cli(["cache", "export", str(export), "--cache-dir", str(env.cache)]) == 1
    out, err = capsys.readouterr()
    assert (
        "exported 3 entries" in out
        and "left out 1 unreadable entries" in err
        and broken[:16] in err
    )
    # importing over a cache with an unreadable entry works and keeps it unless --overwrite
    assert cli(["cache", "import", str(export), "--cache-dir", str(env.cache)]) == 0
    assert "3 already present" in capsys.readouterr().out
    assert ResponseCache(env.cache).raw(broken) == b"not json at all"


def test_export_into_a_missing_directory_is_a_clear_error(pytester, env, tmp_path, capsys):
    pytester.makepyfile(SUITE)
    pytester.runpytest().assert_outcomes(passed=1)
    target = tmp_path / "no" / "such" / "dir" / "e.jsonl"
    assert cli(["cache", "export", str(target), "--cache-dir", str(env.cache)]) == 2
    assert f"cannot write {target}" in capsys.readouterr().err
