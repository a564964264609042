"""A detector's code files remembered in the verdict store: a remembered list is
used only while everything the reading of the imports depends on is unchanged, and the
digest is always of the files as they are."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from pytest_modelprov.calls import codefiles, sources, verdicts
from pytest_modelprov.calls.verdicts import VerdictStore
from pytest_modelprov.refusal import classifiers

ROOTS = ("pytest_modelprov.refusal.features",)


def _package(tmp_path: Path, features: str) -> Path:
    """A package of our own, laid out as ours (the reader's own code beside it)."""
    package = tmp_path / "pytest_modelprov"
    (package / "refusal").mkdir(parents=True)
    (package / "calls").mkdir()
    for name in ("__init__.py", "stats.py", "errors.py", "refusal/__init__.py"):
        (package / name).write_text("")
    (package / "calls" / "__init__.py").write_text("")
    shutil.copy(Path(sources.__file__), package / "calls" / "sources.py")
    (package / "refusal" / "features.py").write_text(features)
    return package


def _fresh() -> str | None:
    paths = sources.code_files(ROOTS, ())
    return None if paths is None else verdicts.files_digest(paths)


def _rows(store: VerdictStore) -> dict[str, bytes]:
    with sqlite3.connect(store.path) as db:
        return dict(db.execute("SELECT key, value FROM verdicts").fetchall())


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = _package(tmp_path, "from .. import errors\n")
    monkeypatch.setattr(sources, "_PACKAGE_DIR", package)
    return package


def test_the_shipped_classifier_s_files_are_remembered_as_read(tmp_path):
    store = VerdictStore(tmp_path)
    paths = sources.code_files(classifiers._CODE, classifiers._SHALLOW)
    assert paths is not None
    expected = verdicts.files_digest(paths)
    assert codefiles.code_digest(store, classifiers._CODE, classifiers._SHALLOW) == expected
    (row,) = _rows(store).values()
    assert sorted(json.loads(row.split(b"\n", 1)[1])["files"]) == sorted(
        p.relative_to(codefiles._PACKAGE_DIR).as_posix() for p in paths
    )
    assert codefiles.code_digest(store, classifiers._CODE, classifiers._SHALLOW) == expected


def test_an_import_added_to_a_remembered_module_is_found(package, tmp_path):
    store = VerdictStore(tmp_path)
    before = codefiles.code_digest(store, ROOTS, (), package)
    assert before == _fresh() is not None
    assert len(_rows(store)) == 1
    (package / "refusal" / "features.py").write_text("from .. import errors, stats\n")
    after = codefiles.code_digest(store, ROOTS, (), package)
    assert after == _fresh() != before


def test_a_module_added_beside_the_remembered_ones_is_found(package, tmp_path):
    """``from .. import helpers`` names an attribute of the package until helpers.py is
    there: no file the list holds changes, the folder's names do."""
    (package / "refusal" / "features.py").write_text("from .. import helpers\n")
    store = VerdictStore(tmp_path)
    before = codefiles.code_digest(store, ROOTS, (), package)
    assert before == _fresh() is not None
    (package / "helpers.py").write_text("import os\n")
    after = codefiles.code_digest(store, ROOTS, (), package)
    files = sources.code_files(ROOTS, ())
    assert files is not None and "helpers.py" in {p.name for p in files}
    assert after == _fresh() != before


def test_another_reader_of_the_imports_remembers_apart(package, tmp_path):
    store = VerdictStore(tmp_path)
    codefiles.code_digest(store, ROOTS, (), package)
    with (package / "calls" / "sources.py").open("a") as f:
        f.write("\n# another reader\n")
    assert codefiles.code_digest(store, ROOTS, (), package) == _fresh()
    assert len(_rows(store)) == 2  # not the first reader's row


def test_a_remembered_list_that_does_not_check_out_is_not_used(package, tmp_path):
    """A row naming a file outside the package, files whose digest is not the row's, or a
    damaged row: the imports are read again, and the row written over."""
    store = VerdictStore(tmp_path)
    expected = codefiles.code_digest(store, ROOTS, (), package)
    ((key, good),) = _rows(store).items()
    head, body = good.split(b"\n", 1)
    data = json.loads(body)
    outside = tmp_path / "outside.py"
    outside.write_text("")
    escape = {**data, "files": ["../outside.py"], "digest": verdicts.files_digest([outside])}
    other = {**data, "digest": "0" * 64}
    for value in [
        head + b"\n" + json.dumps(escape).encode(),
        head + b"\n" + json.dumps(other).encode(),
        head + b"\n" + b"[" * 100_000,
        b"garbage",
    ]:
        store.put_many([(key, value)])
        assert codefiles.code_digest(store, ROOTS, (), package) == expected
        assert _rows(store)[key] == good


def test_without_a_store_nothing_is_remembered(package, tmp_path):
    assert codefiles.code_digest(None, ROOTS, (), package) == _fresh()
    (package / "calls" / "sources.py").unlink()  # the reader itself not a source file
    store = VerdictStore(tmp_path)
    assert codefiles.code_digest(store, ROOTS, (), package) == _fresh()
    assert not store.path.exists() or not _rows(store)
