"""The API key never reaches a file the plugin writes, nor its output."""

from __future__ import annotations

import uuid

from pytest_modelprov.cli import main as cli
from pytest_modelprov.server import Fault


def test_planted_key_is_sent_but_never_written(pytester, env, tmp_path, monkeypatch, capsys):
    canary = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("MODELPROV_API_KEY_ENV", "MY_CANARY_KEY")
    monkeypatch.setenv("MY_CANARY_KEY", canary)
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "0")
    env.server.add_rule("who", "I am Lumen.", reasoning="thinking about it")
    transcript = tmp_path / "transcript.jsonl"
    pytester.makepyfile(
        """
        def test_ok(model_under_test):
            model_under_test.sample(["Who are you?", "Hello"], n=2)

        def test_fails(model_under_test):
            model_under_test.ask("this one meets a 401")
        """
    )
    # a server that echoes the key back in its error: the failure message must redact it
    env.server.inject(Fault("status", status=401, message=f"Incorrect API key provided: {canary}"))
    result = pytester.runpytest(
        "-p", "no:randomly", "-k", "test_fails", f"--modelprov-transcript={transcript}",
        f"--junitxml={tmp_path / 'junit.xml'}", "-rA", "--log-level=DEBUG",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*HTTP 401: Incorrect API key provided: [*][*][*]*"])
    output = result.stdout.str() + result.stderr.str()
    result = pytester.runpytest(f"--modelprov-transcript={transcript}", "-v")
    output += result.stdout.str() + result.stderr.str()
    export = tmp_path / "export.jsonl"
    cli(["cache", "export", str(export), "--cache-dir", str(env.cache)])
    cli(["cache", "stats", "--cache-dir", str(env.cache)])
    output += "".join(capsys.readouterr())
    # the key was really used: it reached the server in the Authorization header
    assert {r.headers.get("authorization") for r in env.server.requests} == {f"Bearer {canary}"}
    written = [p for root in (tmp_path, pytester.path) for p in root.rglob("*") if p.is_file()]
    assert len(written) >= 4  # cache files, export, transcript, junit
    leaks = [str(p) for p in written if canary.encode() in p.read_bytes()]
    assert not leaks
    assert canary not in output
