"""Run the example suite against a real endpoint when one is configured, else offline.

With no model configured (no --modelprov-model, MODELPROV_MODEL or modelprov_model), the
suite runs against pytest-modelprov's local OpenAI-compatible server with the scripted
answers in local_script.json, and says so in the header. The endpoint_id keeps cache keys
stable although the server's port changes from run to run, so a second run is all cache
hits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_modelprov import ModelSpec
from pytest_modelprov.plugin import modelprov_settings

if TYPE_CHECKING:
    from pytest_modelprov.testing import LocalServer

HERE = Path(__file__).parent


def _configured(config: pytest.Config) -> bool:
    return modelprov_settings(config).model is not None


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _configured(config):
        return ["examples: running against the configured model"]
    return [
        "examples: no model configured, running against pytest-modelprov's local server",
        "  (scripted answers from examples/local_script.json)",
    ]


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    # imported here: a run against a configured endpoint never loads the server
    from pytest_modelprov.testing import LocalServer, Script

    with LocalServer(Script.from_file(HERE / "local_script.json")) as server:
        yield server


@pytest.fixture(scope="session")
def modelprov_model_spec(
    request: pytest.FixtureRequest, modelprov_model_spec: ModelSpec | None
) -> ModelSpec:
    if modelprov_model_spec is not None:
        return modelprov_model_spec
    server = request.getfixturevalue("local_server")
    return ModelSpec(
        name="model under test",
        model="demo-model",
        base_url=server.url,
        params={"temperature": 0.7, "max_tokens": 600},
        endpoint_id="modelprov-local-demo",
    )


@pytest.fixture(scope="session")
def modelprov_references(
    request: pytest.FixtureRequest, modelprov_references: dict[str, ModelSpec]
) -> dict[str, ModelSpec]:
    if "previous-release" in modelprov_references or _configured(request.config):
        return modelprov_references
    server = request.getfixturevalue("local_server")
    return {
        **modelprov_references,
        "previous-release": ModelSpec(
            name="previous-release",
            model="demo-model-previous",
            base_url=server.url,
            params={"temperature": 0.7, "max_tokens": 600},
            endpoint_id="modelprov-local-demo",
        ),
    }
