from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_modelprov.server import LocalServer

# Every integration test also runs under xdist where it matters (syrupy's pattern).
XDIST_ARGS = [[], ["-n", "0"], ["-n", "2"]]


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
    return Env(server=server, cache=cache)


@pytest.fixture(params=XDIST_ARGS, ids=["no-xdist", "n0", "n2"])
def xdist_args(request: pytest.FixtureRequest) -> list[str]:
    return list(request.param)
