"""Review rB of the warm-path merges (h21's lexical package, h19b's refusal code files)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import machinery
from pathlib import Path

import pytest

from pytest_modelprov.lexical import replay

ROOT = Path(__file__).resolve().parents[1]
#: a public name of each detector package, resolved lazily at run time
PUBLIC = {"lexical": "compare", "refusal": "measure", "identity": "probe"}


@pytest.mark.parametrize("package", ["lexical", "refusal", "identity"])
def test_a_misspelt_detector_name_is_still_a_type_error(tmp_path: Path, package: str) -> None:
    """The package ships py.typed: before it loaded its submodules lazily, mypy told a user
    that ``lexical.no_such_name`` does not exist; a module-level ``__getattr__`` that mypy
    sees types every unknown attribute as Any, and the error is gone (refusal and identity
    had the same gap since they loaded lazily)."""
    user = tmp_path / "user.py"
    user.write_text(
        f"from pytest_modelprov import {package}\n"
        f"reveal_type({package}.{PUBLIC[package]})\n"
        f"x = {package}.no_such_name\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--config-file",
            "",
            str(user),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={"MYPYPATH": str(ROOT), "PATH": "", "HOME": str(tmp_path)},
    )
    # the public name keeps its real type, the misspelt one is an error
    assert "Revealed type is" in done.stdout, done.stdout + done.stderr
    assert 'Revealed type is "Any"' not in done.stdout, done.stdout
    assert 'Module has no attribute "no_such_name"' in done.stdout, done.stdout


@pytest.mark.parametrize("suffix", [machinery.EXTENSION_SUFFIXES[0], *machinery.BYTECODE_SUFFIXES])
def test_a_compiled_lexical_module_is_part_of_the_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """The identity digests the lexical folder's sources, but Python imports a compiled
    extension before the source beside it (and a bytecode file where the source is gone):
    the code that runs is that file, and editing it must change the identity."""
    copy = tmp_path / "lexical"
    shutil.copytree(replay.FOLDER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(replay, "FOLDER", copy)
    replay.code_digest.cache_clear()
    try:
        compiled = copy / f"text{suffix}"
        if suffix in machinery.BYTECODE_SUFFIXES:
            (copy / "text.py").unlink()  # a sourceless install: text.pyc is what runs
        compiled.write_bytes(b"one build")
        first = replay.identity()
        replay.code_digest.cache_clear()
        compiled.write_bytes(b"another build")
        second = replay.identity()
    finally:
        replay.code_digest.cache_clear()
    assert first is None or first != second
