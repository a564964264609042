"""Replay means offline: not one socket is opened, and a miss fails loudly.

The guard is an audit hook (PEP 578) installed by the inner run's conftest, so it sees every
socket the interpreter creates, connects or resolves, whoever asks: the openai SDK, httpx, or
anything else the plugin might one day import. It runs in a subprocess because an audit hook
cannot be removed once added.
"""

from __future__ import annotations

import pytest

GUARD = """
import os
import socket
import sys

LOG = os.environ["SOCKET_GUARD_LOG"]

def _guard(event, args):
    if event.startswith("socket.") and event != "socket.gethostname":
        with open(LOG, "a", encoding="utf-8") as out:
            shown = [a for a in args if not isinstance(a, socket.socket)]
            out.write(f"{os.getpid()} {event} {shown!r}\\n")
        if event in ("socket.connect", "socket.getaddrinfo"):
            raise ConnectionRefusedError(f"socket guard: {event} {shown!r}")

sys.addaudithook(_guard)
"""

SUITE = """
def test_identity(model_under_test):
    samples = model_under_test.sample(["Who built you?", "Name your maker."], n=2)
    assert len(samples) == 4

def test_other(model_under_test):
    assert model_under_test.ask("What is your name?").answer
"""


@pytest.fixture
def guarded(pytester, env, monkeypatch, tmp_path):
    log = tmp_path / "sockets.log"
    monkeypatch.setenv("SOCKET_GUARD_LOG", str(log))
    pytester.makepyfile(test_suite=SUITE)
    return log


def guard_on(pytester) -> None:
    pytester.makeconftest(GUARD)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "n2"])
def test_replay_opens_no_socket(pytester, env, guarded, xdist):
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)  # record
    recorded = env.server.request_count
    guard_on(pytester)
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "--modelprov-record-mode=replay", *xdist
    )
    result.assert_outcomes(passed=2)
    assert not guarded.exists(), guarded.read_text()
    assert env.server.request_count == recorded


def test_the_guard_does_catch_a_connection(pytester, env, guarded, monkeypatch):
    """Control: the same guard in record mode sees the call and stops it."""
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "0")
    guard_on(pytester)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--modelprov-record-mode=once")
    result.assert_outcomes(failed=2)
    events = guarded.read_text()
    assert "socket.getaddrinfo ['127.0.0.1'" in events
    assert env.server.request_count == 0


def test_replay_miss_fails_loudly_offline(pytester, env, guarded, monkeypatch):
    # CI=true alone selects replay: the default a CI job gets
    monkeypatch.setenv("CI", "true")
    guard_on(pytester)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*no recorded answer, and record mode is replay (from default (replay because CI=true))*",
            "*missing: 4 of 4 answers this call needs*",
            "*pytest --modelprov-record-mode=once 'test_suite.py::test_identity'*",
        ]
    )
    assert not guarded.exists(), guarded.read_text()
    assert env.server.request_count == 0


def test_a_partial_recording_still_fails_in_replay_and_names_what_is_missing(
    pytester, env, guarded
):
    pytester.runpytest_subprocess("-p", "no:randomly", "-k", "test_other").assert_outcomes(
        passed=1, deselected=1
    )
    guard_on(pytester)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--modelprov-record-mode=replay")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*missing: 4 of 4 answers*"])
    assert not guarded.exists(), guarded.read_text()


HTTP_STACK = ("openai", "httpx", "httpcore", "pydantic")
MODULES_SEEN = f"""
import os
import sys

def pytest_unconfigure(config):
    # what the run imported of the HTTP client stack, written once the session is over
    with open(os.environ["MODULES_SEEN_LOG"], "w", encoding="utf-8") as out:
        out.write(" ".join(sorted({{m.split(".")[0] for m in sys.modules}} & {set(HTTP_STACK)!r})))
"""


def test_a_fully_cached_replay_never_imports_the_http_client(pytester, env, tmp_path, monkeypatch):
    """The openai SDK and what it pulls in (httpx, pydantic) cost more to import than the
    rest of a warm run: a replay whose every answer is cached must not load them."""
    seen = tmp_path / "modules.txt"
    monkeypatch.setenv("MODULES_SEEN_LOG", str(seen))
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest(MODULES_SEEN)
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)  # record
    # control: the recording run did call the model through the SDK, and the log shows it
    assert "openai" in seen.read_text().split()
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--modelprov-record-mode=replay")
    result.assert_outcomes(passed=2)
    assert seen.read_text().split() == []
