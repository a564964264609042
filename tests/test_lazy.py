"""util.lazy: a package that imports its parts on first use looks as if it had imported all."""

from __future__ import annotations

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
