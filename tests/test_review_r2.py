"""Review (r2) of the refusal warm path: the classifier's identity read off its sources, and
the shipped weights' description replayed from the verdict store."""

from __future__ import annotations

import json
import sqlite3
from importlib import machinery
from pathlib import Path

import pytest

from pytest_modelprov import refusal
from pytest_modelprov.calls import sources, verdicts
from pytest_modelprov.calls.verdicts import VerdictStore
from pytest_modelprov.refusal import classifiers


def _package(tmp_path: Path, features: str) -> Path:
    """A package of our name with a few modules and ``refusal/features.py`` as given."""
    package = tmp_path / "pytest_modelprov"
    (package / "refusal").mkdir(parents=True)
    for name in ("__init__.py", "stats.py", "errors.py", "refusal/__init__.py"):
        (package / name).write_text("")
    (package / "refusal" / "features.py").write_text(features)
    return package


def _found(package: Path, monkeypatch: pytest.MonkeyPatch) -> list[str] | None:
    monkeypatch.setattr(sources, "_PACKAGE_DIR", package)
    files = sources.code_files(("pytest_modelprov.refusal.features",), ())
    return None if files is None else [p.relative_to(package).as_posix() for p in files]


# Every one of these makes Python import ``pytest_modelprov.stats`` when the module runs: a
# rule module that starts to use stats this way must have stats.py in its digest, or an edit
# of stats.py replays the verdicts the old stats made.
HIDDEN_IMPORTS = {
    "one-line if": "import sys\nif sys: from .. import stats\n",
    "one-line if, absolute": "if True: from pytest_modelprov import stats\n",
    "one-line try": "try: import pytest_modelprov.stats\nexcept ImportError: pass\n",
    "one-line def": "def f(): from .. import stats\n",
    "after a semicolon": "import os; from .. import stats\n",
    "after code and a semicolon": "x = 1; import pytest_modelprov.stats as s\n",
    "backslash continuation": "from .. import errors, \\\n    stats\n",
    "backslash before import": "from pytest_modelprov \\\nimport stats\n",
    "a parenthesis in a comment": "from .. import (\n    errors,  # see errors (above)\n    stats,\n)\n",
    "no space after from": "from ..stats import mean\n".replace("from ..", "from.."),
    "importlib, absolute": 'import importlib\nS = importlib.import_module("pytest_modelprov.stats")\n',
    "importlib, relative": 'import importlib\nS = importlib.import_module("..stats", __package__)\n',
    "__import__": 'S = __import__("pytest_modelprov.stats")\n',
}


@pytest.mark.parametrize("source", HIDDEN_IMPORTS.values(), ids=HIDDEN_IMPORTS.keys())
def test_every_way_of_importing_a_package_module_is_read(tmp_path, monkeypatch, source):
    compile(source, "features.py", "exec")  # valid Python, as a reviewer would write it
    found = _found(_package(tmp_path, source), monkeypatch)
    assert found is not None
    assert "stats.py" in found, found


def test_an_import_in_a_string_is_no_import_and_costs_nothing(tmp_path, monkeypatch):
    """Text that only looks like an import (a docstring) adds no module; the reader still
    finds the real ones around it."""
    source = (
        '"""Rules.\n\nif x: from .. import errors\n"""\nimport sys\nif sys: from .. import stats\n'
    )
    found = _found(_package(tmp_path, source), monkeypatch)
    assert found == ["refusal/features.py", "stats.py"]


@pytest.mark.parametrize(
    "compiled", ["stats.pyc", f"stats{machinery.EXTENSION_SUFFIXES[0]}"], ids=["pyc", "extension"]
)
def test_an_imported_module_without_its_source_caches_nothing(tmp_path, monkeypatch, compiled):
    """A module the rules import that is installed compiled only (sourceless or an
    extension) cannot be digested: no identity at all, rather than one blind to it."""
    package = _package(tmp_path, "from .. import stats\nfrom ..errors import Oops\n")
    (package / "stats.py").unlink()
    (package / compiled).write_bytes(b"\0compiled")
    assert _found(package, monkeypatch) is None


def test_a_module_that_does_not_exist_is_no_code_to_digest(tmp_path, monkeypatch):
    """An optional module that is not installed at all runs nothing: still an identity."""
    source = "try:\n    from .. import speedups\nexcept ImportError:\n    speedups = None\n"
    # (the package itself is read: ``speedups`` could be a name its __init__ defines)
    assert _found(_package(tmp_path, source), monkeypatch) == ["__init__.py", "refusal/features.py"]


def _eager() -> refusal.Classifier:
    return refusal.Classifier(classifiers._shipped_model(), source="shipped")


def _forged(field: str, value: object) -> dict[str, object]:
    weights = classifiers._Weights.of(classifiers._shipped_model())
    data = {
        "name": weights.name,
        "version": weights.version,
        "threshold": weights.threshold,
        "sha": weights.sha,
        "training": json.loads(json.dumps(weights.training)),
    }
    if field == "envelope":
        langs = data["training"]["envelope"]["langs"]  # type: ignore[index]
        langs[value] = {"answers": 900, "models": 40, "accuracy": 0.99, "validated": True}
    elif field == "accuracy":
        for figures in data["training"]["envelope"]["langs"].values():  # type: ignore[index]
            figures["accuracy"] = value
    else:
        data[field] = value
    return data


FORGED = {
    "threshold": ("threshold", 0.999),
    "version": ("version", "0.0-forged"),
    "name": ("name", "someone-else"),
    "an unvalidated language": ("envelope", "xx"),
    "accuracy not a number": ("accuracy", "high"),
}


@pytest.mark.parametrize("field, value", FORGED.values(), ids=FORGED.keys())
def test_a_forged_description_of_the_shipped_weights_is_not_used(tmp_path, field, value):
    """The verdict store may come from another machine: a description of the shipped
    weights that is not what their file says is not trusted (the model is loaded instead)
    and never moves a threshold, a version or the envelope, nor crashes a message."""
    store = VerdictStore(tmp_path)
    key = classifiers._shipped_key()
    assert key is not None
    body = json.dumps(_forged(field, value), ensure_ascii=False, separators=(",", ":"))
    store.put_many([(key, f"{classifiers._WEIGHTS_FORMAT}\t{key}\n{body}".encode())])
    clf = classifiers.Classifier._lazy(classifiers._shipped_model, "shipped")
    clf._prime(store)
    eager = _eager()
    assert clf.settings == eager.settings
    assert (clf.name, clf.version, clf.id) == (eager.name, eager.version, eager.id)
    assert clf.envelope == eager.envelope
    assert clf.envelope.describe() == eager.envelope.describe()
    assert clf.verdict_identity() == eager.verdict_identity()
    with sqlite3.connect(store.path) as db:
        (stored,) = db.execute("SELECT value FROM verdicts WHERE key = ?", (key,)).fetchone()
    replayed = classifiers.Classifier._lazy(classifiers._shipped_model, "shipped")
    replayed._prime(store)  # written over with the true description: replayed from now on
    assert replayed._model is None
    assert classifiers._Weights.decode(stored, key) == classifiers._Weights.of(eager.model)


def test_a_module_imported_under_a_name_made_at_run_time_caches_nothing(tmp_path, monkeypatch):
    """``import_module(variable)`` may import any module of ours: no identity can be
    complete, so there is none (the verdicts are computed, never replayed)."""
    source = 'import importlib\n\ndef load(name):\n    return importlib.import_module(f"..{name}", __package__)\n'
    assert _found(_package(tmp_path, source), monkeypatch) is None


def test_the_source_read_files_cover_the_imported_ones_for_other_detectors():
    """What the refusal test checks for the classifier, for the claim detector's modules and
    langid: read off the sources, at least what following the imported modules finds."""
    from pytest_modelprov.calls import verdicts
    from pytest_modelprov.identity import sampling

    for roots in (sampling._DETECT_CODE, classifiers._LANGID_CODE):
        static = sources.code_files(roots, ())
        assert static is not None, roots
        dynamic = verdicts.code_files(*roots)
        assert {p.resolve() for p in dynamic} <= {p.resolve() for p in static}, roots


def test_another_numpy_makes_another_linear_classifier_identity(monkeypatch, tmp_path):
    """The linear model's probabilities are numpy dot products: another numpy (or its BLAS)
    may move the last bits of one near the threshold, so its verdicts are not replayed
    under another numpy's (as the lexical detector's figures are not)."""
    from importlib import metadata

    clf = _eager()
    before = clf.verdict_identity()
    keyword = refusal.KeywordClassifier().verdict_identity()
    assert before is not None and keyword is not None
    real = metadata.distribution
    # another numpy installed: its metadata as an installer writes it
    other = tmp_path / "numpy-0.0.1.dist-info"
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 0.0.1\n\nabout")

    def distribution(name: str) -> metadata.Distribution:
        return metadata.PathDistribution(other) if name == "numpy" else real(name)

    monkeypatch.setattr(metadata, "distribution", distribution)
    verdicts.installed_version.cache_clear()
    try:
        assert clf.verdict_identity() not in (before, None)
        # the keyword baseline computes no numpy: its identity stays
        assert refusal.KeywordClassifier().verdict_identity() == keyword
    finally:
        monkeypatch.undo()
        verdicts.installed_version.cache_clear()
    assert clf.verdict_identity() == before


def test_the_lazy_package_lists_and_gives_every_name_it_had():
    """Loaded on first use, the package still offers (and ``dir()`` still lists) every public
    name and submodule the eager package had, in a fresh interpreter, before any is used."""
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from pytest_modelprov import refusal\n"
        "listed = dir(refusal)\n"
        "got = {n: hasattr(refusal, n) for n in sys.argv[1:]}\n"
        "star = {}\n"
        "exec('from pytest_modelprov.refusal import *', star)\n"
        "print(json.dumps([listed, got, sorted(k for k in star if k[0] != '_')]))\n"
    )
    import pkgutil

    submodules = sorted(i.name for i in pkgutil.iter_modules(refusal.__path__) if i.name[0] != "_")
    assert {"classifiers", "measuring", "model", "features"} <= set(submodules)
    names = [*refusal.__all__, *submodules, "KEYWORDS", "parse_judge", "Pairs"]
    done = subprocess.run(
        [sys.executable, "-c", script, *names], capture_output=True, text=True, check=True
    )
    listed, got, star = json.loads(done.stdout)
    assert all(got.values()), [n for n, ok in got.items() if not ok]
    assert set(names) <= set(listed), sorted(set(names) - set(listed))
    assert star == sorted(refusal.__all__)


def test_a_package_beside_a_module_of_its_name_is_the_one_read(tmp_path, monkeypatch):
    """Python imports ``stats/__init__.py`` over a ``stats.py`` beside it (a leftover of a
    module turned package): the digest must read what Python runs."""
    package = _package(tmp_path, "from .. import stats\n")
    (package / "stats").mkdir()
    (package / "stats" / "__init__.py").write_text("from ..errors import Oops\n")
    assert _found(package, monkeypatch) == [
        "errors.py",
        "refusal/features.py",
        "stats/__init__.py",
    ]


def test_an_extension_beside_its_source_is_what_runs(tmp_path, monkeypatch):
    """A compiled module beside its source (a compiled build ships both) is what Python
    loads: its imports cannot be read, so no identity rather than the source's."""
    package = _package(tmp_path, "from .. import stats\n")
    (package / f"stats{machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"\0compiled")
    assert _found(package, monkeypatch) is None


def test_the_package_read_is_the_one_imported_not_a_symlink_target(tmp_path):
    """Installed as links (a link tree), the files digested are those at the place Python
    imports the package from, not wherever this module's own link points."""
    import importlib.util

    installed = tmp_path / "site" / "pytest_modelprov" / "calls"
    installed.mkdir(parents=True)
    (installed / "sources.py").symlink_to(Path(sources.__file__))
    spec = importlib.util.spec_from_file_location("r2_linked_sources", installed / "sources.py")
    assert spec is not None and spec.loader is not None
    linked = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(linked)
    assert installed.parent == linked._PACKAGE_DIR


ATTRIBUTE_PATHS = {
    "a package imported from its parent": "from .. import util\n\ndef f(x):\n    return util.schema.check(x)\n",
    "a package under an alias": "from .. import util as u\n\ndef f(x):\n    return u.schema.check(x)\n",
    "the top package, plainly": "import pytest_modelprov\n\ndef f(x):\n    return pytest_modelprov.util.schema.check(x)\n",
}


@pytest.mark.parametrize("source", ATTRIBUTE_PATHS.values(), ids=ATTRIBUTE_PATHS.keys())
def test_a_submodule_reached_through_its_package_is_read(tmp_path, monkeypatch, source):
    """``util.schema.check(...)`` after importing the package ``util``: Python finds
    ``schema`` as the package's attribute (imported by someone else first), and so does the
    identity that follows the imported modules' globals; the source reader must too."""
    package = _package(tmp_path, source)
    (package / "util").mkdir()
    (package / "util" / "__init__.py").write_text("")
    (package / "util" / "schema.py").write_text("def check(x):\n    return x\n")
    found = _found(package, monkeypatch)
    assert found is not None
    assert "util/schema.py" in found, found


def test_another_unicode_database_makes_other_refusal_and_language_identities(monkeypatch):
    """The rules, the features and langid read letters, case and NFKC from Python's Unicode
    database; another Python's (a cache folder shared across versions) may read an answer
    otherwise, so none of their verdicts is replayed under another database's."""
    import unicodedata

    def identities() -> list[str | None]:
        return [
            _eager().verdict_identity(),
            refusal.KeywordClassifier().verdict_identity(),
            classifiers._identity("refusal-rules", "clean_refusal"),
            classifiers._langid_identity(),
        ]

    before = identities()
    assert None not in before
    monkeypatch.setattr(unicodedata, "unidata_version", "0.0.0")
    after = identities()
    assert [a == b for a, b in zip(after, before, strict=True)] == [False] * 4
    monkeypatch.undo()
    assert identities() == before


def test_a_users_own_weights_never_take_the_shipped_description(tmp_path):
    """Guard: with the shipped weights' description in the store, a classifier loaded from
    the user's own weights file (another threshold) or a subclass keeps its own."""
    store = VerdictStore(tmp_path / "cache")
    classifiers.Classifier._lazy(classifiers._shipped_model, "shipped")._prime(store)
    data = json.loads(classifiers._shipped_bytes())
    data["threshold"] = 0.25
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    mine = refusal.Classifier.load(path)

    class Stricter(refusal.Classifier):
        pass

    sub = Stricter(mine.model, source="mine")
    shipped = _eager()
    for clf in (mine, sub):
        clf._prime(store)
        assert clf.settings["threshold"] == 0.25
        assert clf.settings["sha"] != shipped.settings["sha"]
    assert mine.verdict_identity() not in (None, shipped.verdict_identity())
    assert sub.verdict_identity() is None  # a subclass caches nothing
