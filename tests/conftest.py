from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_modelprov.server import LocalServer

# Every integration test also runs under xdist where it matters (syrupy's pattern).
XDIST_ARGS = [[], ["-n", "0"], ["-n", "2"]]


@pytest.fixture(scope="session", autouse=True)
def _import_the_http_stack_once() -> None:
    """Load the SDK's HTTP stack before any inline pytester run.

    pytester's inline runs restore sys.modules afterwards; a module first imported inside
    one (httpx and its transport load lazily on the first request) would be imported again
    later as a second copy, and exceptions of one copy slip past `except` of the other.
    """
    # numpy's C extension cannot be loaded twice in one process; the plugin imports it
    # only when a detector needs it, which may first happen inside an inline run
    import jsonschema  # noqa: F401
    import numpy  # noqa: F401
    import openai

    with LocalServer() as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        client.close()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not see the developer's or CI's model settings (CI=... selects replay)."""
    for name in list(os.environ):
        if name.startswith(("MODELPROV_", "OPENAI_")) or name == "CI":
            monkeypatch.delenv(name)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@dataclass
class Env:
    server: LocalServer
    cache: Path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, server: LocalServer, tmp_path: Path) -> Env:
    """Point inner pytest runs at the local server with a fresh cache."""
    cache = tmp_path / "modelprov-cache"
    monkeypatch.setenv("MODELPROV_MODEL", "test-model")
    monkeypatch.setenv("MODELPROV_BASE_URL", server.url)
    monkeypatch.setenv("MODELPROV_CACHE_DIR", str(cache))
    monkeypatch.setenv("MODELPROV_RETRY_BACKOFF", "0")
    # xdist workers set COLUMNS=80, which fits the inner run's tables to 80 columns; the
    # tests read the whole-line form a log file gets, under xdist or not
    monkeypatch.delenv("COLUMNS", raising=False)
    return Env(server=server, cache=cache)


@pytest.fixture(params=XDIST_ARGS, ids=["no-xdist", "n0", "n2"])
def xdist_args(request: pytest.FixtureRequest) -> list[str]:
    return list(request.param)
