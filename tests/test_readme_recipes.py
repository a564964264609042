"""The README's CI recipes, run as written: a recipe that is not tested is not in the README.

Every block of the "CI recipes" section is either a shell block, run verbatim with bash, or
a GitHub workflow, checked against a JSON Schema of the workflow structure written here
(no network) and whose `run:` steps are run in order. The scratch repository has the
pytest ini in its root `pyproject.toml` and the example suite in `tests/provenance/`; the
answers are recorded in one checkout, exported, imported into a fresh one at its root, and
replayed there, at the root and with `CI=true pytest` in the subfolder, with no request.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_modelprov.testing.script import Script
from pytest_modelprov.testing.server import LocalServer

yaml = pytest.importorskip("yaml", reason="pyyaml is in the test extra: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
# the steps GitHub runs that this test does not: the package under test is installed here
NOT_RUN = ("pip install pytest-modelprov",)

# The structure of a GitHub Actions workflow, as far as the recipes use it (the published
# schema is far larger; this one checks what actionlint flagged and what a typo breaks).
STEP = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "uses": {"type": "string", "pattern": r"^[\w.-]+/[\w./-]+@[\w./-]+$"},
        "run": {"type": "string", "minLength": 1},
        "with": {"type": "object"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "if": {"type": ["string", "boolean"]},
        "id": {"type": "string"},
        "working-directory": {"type": "string"},
        "shell": {"type": "string"},
        "continue-on-error": {"type": "boolean"},
        "timeout-minutes": {"type": "number"},
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["uses"]}, {"required": ["run"]}],
}
TRIGGERS = {
    "push",
    "pull_request",
    "schedule",
    "workflow_dispatch",
    "release",
    "workflow_call",
    "merge_group",
}
WORKFLOW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["on", "jobs"],
    "properties": {
        "name": {"type": "string"},
        "on": {
            "anyOf": [
                {"type": "string", "enum": sorted(TRIGGERS)},
                {"type": "array", "items": {"enum": sorted(TRIGGERS)}},
                {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"enum": sorted(TRIGGERS)},
                    "properties": {
                        "schedule": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["cron"],
                                "properties": {"cron": {"type": "string"}},
                                "additionalProperties": False,
                            },
                        }
                    },
                },
            ]
        },
        "permissions": {"type": ["object", "string"]},
        "env": {"type": "object"},
        "jobs": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["runs-on", "steps"],
                "properties": {
                    "runs-on": {"type": "string"},
                    "steps": {"type": "array", "minItems": 1, "items": STEP},
                    "environment": {"type": ["object", "string"]},
                    "permissions": {"type": ["object", "string"]},
                    "needs": {"type": ["array", "string"]},
                    "env": {"type": "object"},
                    "if": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}


def recipe_blocks() -> list[tuple[str, str]]:
    text = README_TEXT
    start = text.index("\n## CI recipes\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"^```(\w*)\n(.*?)^```", text[start:end], re.S | re.M)


README_TEXT = (REPO / "README.md").read_text(encoding="utf-8")


def workflow(source: str) -> dict[str, Any]:
    data = yaml.safe_load(source)
    # YAML 1.1 reads the key `on` as the boolean true; GitHub reads it as "on"
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


def test_the_ci_recipes_are_shell_blocks_and_valid_workflows():
    blocks = recipe_blocks()
    languages = [lang for lang, _ in blocks]
    assert set(languages) == {"bash", "yaml"}, languages
    workflows = [workflow(body) for lang, body in blocks if lang == "yaml"]
    assert len(workflows) == 2
    for data in workflows:
        jsonschema.validate(data, WORKFLOW_SCHEMA)


def test_the_release_workflow_is_a_valid_trusted_publishing_workflow():
    data = workflow((REPO / ".github" / "workflows" / "release.yml").read_text("utf-8"))
    jsonschema.validate(data, WORKFLOW_SCHEMA)
    publish = data["jobs"]["publish"]
    # trusted publishing: an OIDC token, no password or API token anywhere
    assert publish["permissions"] == {"id-token": "write"}
    assert any(
        s.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for s in publish["steps"]
    )
    assert "password" not in json.dumps(data) and "secrets." not in json.dumps(data)
    assert data["on"]["release"] == {"types": ["published"]}


def test_the_schema_catches_what_a_pasted_snippet_gets_wrong():
    [first, *_] = [body for lang, body in recipe_blocks() if lang == "yaml"]
    data = workflow(first)
    del data["on"]
    with pytest.raises(jsonschema.ValidationError, match="'on' is a required property"):
        jsonschema.validate(data, WORKFLOW_SCHEMA)
    data = workflow(first)
    data["jobs"]["provenance"]["steps"].append({"run": "x", "uses": "a/b@v1"})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, WORKFLOW_SCHEMA)


def _scratch_repo(root: Path) -> Path:
    """A repository with the ini at its root and the example suite in a subfolder."""
    suite = root / "tests" / "provenance"
    shutil.copytree(
        EXAMPLES,
        suite,
        ignore=shutil.ignore_patterns(
            ".modelprov", "__pycache__", "pytest.ini", "modelprov-baselines"
        ),
    )
    (root / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'addopts = "--strict-markers"\n'
        'modelprov_params = ["temperature = 0.7", "max_tokens = 600"]\n'
        # the examples' own lab and assistant (examples/pytest.ini names the same file)
        'modelprov_identity_vendors = "tests/provenance/identity_vendors.json"\n',
        encoding="utf-8",
    )
    return suite


def _environ(server: LocalServer, summary: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MODELPROV_", "OPENAI_", "PYTEST_", "GITHUB_")) and k != "CI"
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # the model and its previous release: no base_url, so the reference inherits the
    # model under test's endpoint
    env["MODELPROV_MODEL"] = "demo-model"
    env["MODELPROV_BASE_URL"] = server.url
    env["MODELPROV_REFERENCES"] = "previous-release.model=demo-model-previous"
    env["MODELPROV_RETRY_BACKOFF"] = "0"
    env["GITHUB_STEP_SUMMARY"] = str(summary)
    return env


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (
        f"{script!r} in {cwd} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def _run_steps(data: dict[str, Any], cwd: Path, env: dict[str, str]) -> list[str]:
    ran = []
    for job in data["jobs"].values():
        for step in job["steps"]:
            if "run" not in step:
                continue
            if step["run"].strip() in NOT_RUN:
                continue
            step_env = dict(env, CI="true", GITHUB_WORKSPACE=str(cwd))
            for name, value in (step.get("env") or {}).items():
                step_env[name] = re.sub(r"\$\{\{\s*secrets\.\w+\s*\}\}", "secret-unused", value)
            done = _bash(step["run"], cwd, step_env)
            ran.append(done.stdout + done.stderr)
    return ran


def _checkout(source: Path, target: Path) -> Path:
    """What actions/checkout gives: the committed files, no cache, no reports."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=source, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, listed):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target / name)
    return target


def test_the_ci_recipe_pasted_replays_with_no_request(tmp_path):
    blocks = recipe_blocks()
    [shell] = [body for lang, body in blocks if lang == "bash"]
    replay, record = (workflow(body) for lang, body in blocks if lang == "yaml")
    with LocalServer(Script.from_file(EXAMPLES / "local_script.json")) as server:
        env = _environ(server, tmp_path / "step-summary.md")

        # one place: a developer's checkout, where the answers are recorded and exported
        dev = tmp_path / "dev"
        _scratch_repo(dev)
        subprocess.run(["git", "init", "-q"], cwd=dev, check=True)
        subprocess.run(["git", "add", "pyproject.toml", "tests"], cwd=dev, check=True)
        _bash(shell, dev, env)
        recorded = server.request_count
        assert recorded > 0
        assert (dev / "provenance-cache.jsonl").stat().st_size > 0
        assert list((dev / "modelprov-baselines").rglob("*.json"))

        # CI: a fresh checkout; the workflow imports at the root and replays
        ci = _checkout(dev, tmp_path / "ci")
        assert not (ci / ".modelprov").exists()
        outputs = _run_steps(replay, ci, env)
        assert len(outputs) == 2  # the import and the pytest step
        assert f"cache {ci / '.modelprov' / 'cache'} (the default; rootdir {ci}" in outputs[0]
        assert "every answer came from the cache: no model was called" in outputs[1]
        assert server.request_count == recorded, "the replaying workflow made requests"
        assert (ci / "provenance.html").is_file() and (ci / "provenance.xml").is_file()
        assert "modelprov" in (tmp_path / "step-summary.md").read_text(encoding="utf-8")

        # and CI=true pytest in the suite's own folder finds the same cache
        done = _bash("CI=true pytest -m provenance", ci / "tests" / "provenance", env)
        assert "every answer came from the cache: no model was called" in done.stdout
        assert server.request_count == recorded

        # the cache-keeping workflow: a checkout without the cache records into the
        # directory its actions/cache step keeps, and a second run (cache restored) replays
        fresh = _checkout(dev, tmp_path / "cached")
        [cached] = [
            s["with"]["path"]
            for s in record["jobs"]["provenance"]["steps"]
            if s.get("uses", "").startswith("actions/cache@")
        ]
        _run_steps(record, fresh, env)
        assert server.request_count == 2 * recorded
        assert any((fresh / cached).iterdir())
        _run_steps(record, fresh, env)
        assert server.request_count == 2 * recorded
