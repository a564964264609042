"""Every public name the project documents imports, wherever the code behind it lives.

The package's modules moved into subpackages (issue 20); what users import did not: the
names in ``__all__`` of the package and of its public subpackages, every dotted
``pytest_modelprov.…`` path the README, the CHANGELOG or the examples mention, every
``from pytest_modelprov… import …`` they show, and every ``module.function(`` they call in
code. tests/test_readme.py checks the README's Python blocks in depth (arguments, types);
this checks the names of every document, prose included.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "examples").glob("*.py"))]
#: the package and the subpackages whose __init__ is their public API
PUBLIC = [
    "pytest_modelprov",
    "pytest_modelprov.identity",
    "pytest_modelprov.lexical",
    "pytest_modelprov.refusal",
    "pytest_modelprov.testing",
    "pytest_modelprov.config",
]
#: modules a document refers to by their short name (``refusal.measure(...)``)
SHORT = (
    "identity|lexical|refusal|refusal_eval|samplesize|stats|sequential|comparable|drift"
    "|audit|cluster|langid|fastre|testing|server|batch|baseline"
)

_DOTTED = re.compile(r"\bpytest_modelprov(?:\.[A-Za-z_]\w*)+")
_FROM = re.compile(r"from (pytest_modelprov(?:\.\w+)*) import \(?([\w, \n]+?)\)?(?:$|\n|`)", re.M)
_CODE = re.compile(r"```python\n(.*?)```|`([^`\n]+)`", re.S)
_CALL = re.compile(rf"(?<![\w.])({SHORT})\.([A-Za-z_]\w*)\s*\(")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def resolve(dotted: str) -> object:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)  # AttributeError: the documented name is gone
        return obj
    raise ModuleNotFoundError(dotted)


def _dotted_paths() -> list[tuple[str, str]]:
    found = {
        (m.group(0).rstrip("."), p.name) for p in DOCUMENTS for m in _DOTTED.finditer(_text(p))
    }
    # a file name, not a module: pytest_modelprov/data/refusal/README.md is mentioned as a path
    return sorted((d, where) for d, where in found if not d.endswith((".md", ".json", ".py")))


def _from_imports() -> list[tuple[str, str, str]]:
    out = set()
    for path in DOCUMENTS:
        for m in _FROM.finditer(_text(path)):
            for name in re.split(r"[,\s]+", m.group(2)):
                if name and name not in {"as"} and name.isidentifier():
                    out.add((m.group(1), name, path.name))
    return sorted(out)


def _short_calls() -> list[tuple[str, str, str]]:
    out = set()
    for path in DOCUMENTS:
        text = _text(path)
        spans = [text] if path.suffix == ".py" else [a or b for a, b in _CODE.findall(text)]
        for span in spans:
            for m in _CALL.finditer(span):
                out.add((m.group(1), m.group(2), path.name))
    return sorted(out)


DOTTED = _dotted_paths()
FROM = _from_imports()
CALLS = _short_calls()


def test_the_documents_name_enough_to_check():
    # the checks below read the documents; a parse that finds nothing would pass vacuously
    assert len(DOTTED) >= 15 and len(FROM) >= 10 and len(CALLS) >= 30, (
        len(DOTTED),
        len(FROM),
        len(CALLS),
    )
    assert ("pytest_modelprov.server.LocalServer", "README.md") in DOTTED or any(
        d == "pytest_modelprov.server" for d, _ in DOTTED
    )


@pytest.mark.parametrize("module", PUBLIC)
def test_every_name_in_all_imports(module):
    mod = importlib.import_module(module)
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert not missing, f"{module}.__all__ names what it does not have: {missing}"


@pytest.mark.parametrize(("dotted", "where"), DOTTED, ids=[d for d, _ in DOTTED])
def test_every_documented_dotted_path_resolves(dotted, where):
    try:
        resolve(dotted)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{where} names {dotted}, which does not resolve: {exc}")


@pytest.mark.parametrize(("module", "name", "where"), FROM, ids=[f"{m}:{n}" for m, n, _ in FROM])
def test_every_documented_from_import_works(module, name, where):
    mod = importlib.import_module(module)
    if not hasattr(mod, name):
        importlib.import_module(f"{module}.{name}")  # a submodule: ImportError fails the test


@pytest.mark.parametrize(("module", "name", "where"), CALLS, ids=[f"{m}.{n}" for m, n, _ in CALLS])
def test_every_documented_call_names_a_callable(module, name, where):
    obj = resolve(f"pytest_modelprov.{module}.{name}")
    assert callable(obj), f"{where} calls {module}.{name}(...), which is not callable"


def test_the_documented_module_paths_are_the_code_they_were():
    """The kept paths are the same objects as the new homes, not copies that could drift."""
    from pytest_modelprov import batch, refusal_eval, server, testing
    from pytest_modelprov.calls import batch as calls_batch
    from pytest_modelprov.refusal import evaluation

    assert server.LocalServer is testing.LocalServer and server.Script is testing.Script
    assert batch.fill is calls_batch.fill
    assert refusal_eval.evaluate is evaluation.evaluate


def test_the_checks_fail_on_a_name_that_is_gone():
    with pytest.raises(AttributeError):
        resolve("pytest_modelprov.refusal.no_such_function")
    with pytest.raises(ModuleNotFoundError):
        resolve("pytest_modelprov_nothing.here")
