"""util.lazy: a package that imports its parts on first use looks as if it had imported all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

INIT = """
from pytest_modelprov.util.lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {"THING": ".parts", "OTHER": ".more"})
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    name = f"lazypkg_{tmp_path.name.replace('-', '_')}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(INIT, encoding="utf-8")
    (root / "parts.py").write_text("THING = 'thing'\n", encoding="utf-8")
    (root / "more.py").write_text("OTHER = 'other'\n", encoding="utf-8")
    (root / "helpers.py").write_text("HELPED = True\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


def _imported(name: str) -> set[str]:
    return {m.rpartition(".")[2] for m in sys.modules if m.startswith(f"{name}.")}


def test_nothing_is_imported_until_a_name_is_read(package: str) -> None:
    pkg = __import__(package)
    assert _imported(package) == set()
    assert pkg.THING == "thing"
    assert _imported(package) == {"parts"}
    # bound in the namespace: the next read does not go through the hook
    assert vars(pkg)["THING"] == "thing"


def test_submodules_are_attributes_without_being_imported_first(package: str) -> None:
    pkg = __import__(package)
    assert pkg.helpers.HELPED is True
    assert _imported(package) == {"helpers"}


def test_dir_lists_names_and_submodules_before_any_import(package: str) -> None:
    pkg = __import__(package)
    assert {"THING", "OTHER", "parts", "more", "helpers"} <= set(dir(pkg))
    assert _imported(package) == set()


@pytest.mark.parametrize("name", ["nothing", "__wrapped__", "parts.THING", "helper"])
def test_unknown_names_fail_as_attributes_do_and_import_nothing(package: str, name: str) -> None:
    pkg = __import__(package)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute"):
        getattr(pkg, name)
    assert not hasattr(pkg, name)
    assert _imported(package) == set()


@pytest.mark.parametrize("package", ["identity", "refusal", "lexical"])
def test_the_detector_packages_reach_every_name_and_submodule_on_first_use(package: str) -> None:
    """In a fresh interpreter (this one has imported them all): importing a detector package
    loads none of its parts, yet every public name and every submodule is an attribute and in
    ``dir()`` (identity's hand-written hook reached no submodule: ``identity.sampling``
    raised AttributeError until something imported it)."""
    code = (
        "import json, pkgutil, sys\n"
        f"import pytest_modelprov.{package} as p\n"
        f"prefix = 'pytest_modelprov.{package}.'\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(prefix))\n"
        "subs = sorted(i.name for i in pkgutil.iter_modules(p.__path__))\n"
        "listed = set(dir(p))\n"
        "missing = [n for n in [*p.__all__, *subs] if n not in listed and not n.startswith('_')]\n"
        "reached = [n for n in subs if getattr(p, n).__name__ == prefix + n]\n"
        "names = [n for n in p.__all__ if getattr(p, n) is not None]\n"
        "print(json.dumps([loaded, subs, missing, reached, len(names)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded, subs, missing, reached, names = json.loads(done.stdout)
    assert loaded == []
    assert len(subs) >= 5
    assert missing == []
    assert reached == subs
    assert names == len(__import__(f"pytest_modelprov.{package}", fromlist=["x"]).__all__)
