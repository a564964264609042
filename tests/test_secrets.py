"""The API key never reaches a file the plugin writes, nor its output."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

from pytest_modelprov.cli import main as cli
from pytest_modelprov.testing.script import Fault


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


def test_credentials_in_the_base_url_and_the_key_reach_no_file_or_output(
    pytester, env, tmp_path, monkeypatch
):
    """Every file any run writes (cache, locks, export, transcript, reports, logs) and all output."""
    key = f"sk-canary-{uuid.uuid4().hex}"
    password = f"pw{uuid.uuid4().hex[:12]}"
    url = env.server.url.replace("http://", f"http://deploy:{password}@")
    monkeypatch.setenv("MODELPROV_BASE_URL", url)
    monkeypatch.setenv("MODELPROV_API_KEY_ENV", "CANARY_KEY")
    monkeypatch.setenv("CANARY_KEY", key)
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "1")
    monkeypatch.setenv("MODELPROV_REFERENCES", "older.model=test-model-0")
    pytester.makepyfile(
        """
        import logging

        from pytest_modelprov import identity

        def test_ok(model_under_test, reference_model, modelprov_baseline):
            logging.getLogger("httpx").debug("a debug line from the test")
            model_under_test.sample(["Who are you?", "Hello"], n=2)
            reference_model("older").ask("Who are you?")
            print(repr(model_under_test))
            found = identity.probe(model_under_test, n=1, languages=["en"], kinds=["who"])
            modelprov_baseline.check(found, underpowered="ignore")

        def test_fails(model_under_test):
            model_under_test.ask("this one meets a 500")
        """
    )
    env.server.inject(*[Fault("status", status=500, message=f"bad key {key}")] * 2)
    outputs = []
    runs = (
        ["-k", "test_fails"],
        ["-n", "2", "--modelprov-update-baselines"],
        ["--modelprov-record-mode=replay"],
    )
    for args in runs:
        result = pytester.runpytest_subprocess(
            "-p", "no:randomly", "-rA", "-v", "--log-level=DEBUG",
            f"--log-file={tmp_path / 'log.txt'}", f"--junitxml={tmp_path / 'junit.xml'}",
            f"--modelprov-transcript={tmp_path / 't.jsonl'}",
            f"--modelprov-report-json={tmp_path / 'report.json'}",
            f"--modelprov-report-html={tmp_path / 'report.html'}",
            f"--modelprov-report-md={tmp_path / 'summary.md'}", *args,
        )  # fmt: skip
        outputs.append(result.stdout.str() + result.stderr.str())
    # the secrets were really in use: the key reached the server
    # (httpx turns the URL's user:password into Basic auth, which then replaces the Bearer key)
    basic = "Basic " + base64.b64encode(f"deploy:{password}".encode()).decode()
    sent = {r.headers.get("authorization") for r in env.server.requests}
    assert sent <= {f"Bearer {key}", basic} and sent, sent
    assert "test-model-0" in (tmp_path / "t.jsonl").read_text()
    assert env.server.request_count >= 6 and "passed" in outputs[1]
    written = [p for root in (tmp_path, pytester.path) for p in root.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"log.txt", "junit.xml", "t.jsonl", "report.json", "cache.db"} <= names
    assert {"report.html", "summary.md", "test_ok.identity.json"} <= names
    assert "1 compared" in outputs[2]  # the baseline written by the second run was used
    for secret in (key, password, basic.split()[1]):
        assert not [str(p) for p in written if secret.encode() in p.read_bytes()], secret
        assert not [ln for out in outputs for ln in out.splitlines() if secret in ln], secret


FAILING = """
def test_calls(model_under_test):
    spec = model_under_test.spec  # a local: -l prints its repr
    model_under_test.ask("Which bird nests on the old tower?")
    raise RuntimeError("an uncaught error with the spec in the frame")
"""


def planted_outputs(pytester, tmp_path, *args: str) -> tuple[str, list[Path]]:
    """Run with every output switched on; the output and every file written."""
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "--tb=long", "-l", "-rA", "--log-level=DEBUG",
        f"--junitxml={junit}", f"--debug={tmp_path / 'debug.log'}",
        f"--modelprov-report-json={tmp_path / 'report.json'}", *args,
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    written = [p for root in (tmp_path, pytester.path) for p in root.rglob("*") if p.is_file()]
    return output, written


def assert_nowhere(secret: str, output: str, written: list[Path]) -> None:
    assert secret not in output, [ln for ln in output.splitlines() if secret in ln][:3]
    assert not [str(p) for p in written if secret.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        # a base URL the HTTP client cannot use: a usage error at startup
        ("bad-port", "it cannot be parsed"),
        # an error raised inside the SDK client's construction (a proxy URL it rejects)
        ("sdk-construction", "cannot set up the openai client"),
        # an error raised inside the SDK while sending (a key that is not ASCII)
        ("sdk-request", "failed: UnicodeEncodeError"),
        # a URL password, with an uncaught error whose frame holds the spec
        ("url-password", "an uncaught error with the spec in the frame"),
    ],
)
def test_a_planted_key_reaches_no_output_on_any_error_path(
    pytester, env, tmp_path, monkeypatch, setup, expected
):
    key = f"sk-canary-{uuid.uuid4().hex}"
    password = f"pw{uuid.uuid4().hex[:16]}"
    monkeypatch.setenv("MODELPROV_API_KEY_ENV", "CANARY_KEY")
    monkeypatch.setenv("CANARY_KEY", key)
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "0")
    if setup == "bad-port":
        monkeypatch.setenv("MODELPROV_BASE_URL", "http://127.0.0.1:abc/v1")
    elif setup == "sdk-construction":
        monkeypatch.setenv("ALL_PROXY", "bogus://proxy")
    elif setup == "sdk-request":
        monkeypatch.setenv("CANARY_KEY", key + "\u00e9")
    else:
        monkeypatch.setenv(
            "MODELPROV_BASE_URL", env.server.url.replace("://", f"://ops:{password}@")
        )
    pytester.makepyfile(FAILING)
    output, written = planted_outputs(pytester, tmp_path)
    assert_nowhere(key, output, written)
    assert_nowhere(password, output, written)
    assert expected in output, output[-3000:]
    assert "debug.log" in {p.name for p in written}
    if setup != "bad-port":
        assert "junit.xml" in {p.name for p in written}
    if setup == "url-password":
        basic = base64.b64encode(f"ops:{password}".encode()).decode()
        assert_nowhere(basic, output, written)
        assert env.server.request_count == 1  # the password was really in use
