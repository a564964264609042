"""The README's Python examples: every block compiles, every ``pytest_modelprov`` name a block
uses exists and accepts the arguments it is called with, and the lexical examples run end to
end against the local server.

The checks read whatever blocks the README has (other sections change too), following the
types the package's own annotations give: ``ours = lexical.fingerprint(...)`` makes ``ours`` a
``Fingerprint``, so ``ours.distance(b)`` is checked against ``Fingerprint.distance``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
import typing
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

import pytest_modelprov
from pytest_modelprov.baseline import Baseline
from pytest_modelprov.handle import ModelHandle
from pytest_modelprov.testing.server import LocalServer

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"^( *)```python\n(.*?)^\1```", re.S | re.M)
_HEADING = re.compile(r"^## (.+)$", re.M)

#: what the plugin's fixtures give (reference_model is a factory of handles)
FIXTURES: dict[str, Any] = {
    "model_under_test": ModelHandle,
    "modelprov_baseline": Baseline,
    "modelprov_server": LocalServer,
}
FACTORIES: dict[str, Any] = {"reference_model": ModelHandle}


@dataclass(frozen=True)
class Block:
    line: int
    section: str
    code: str

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.section})"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    heads = [(m.start(), m.group(1)) for m in _HEADING.finditer(text)]
    out = []
    for m in _BLOCK.finditer(text):
        section = next((h for pos, h in reversed(heads) if pos < m.start()), "")
        line = text.count("\n", 0, m.start()) + 2
        out.append(Block(line, section, textwrap.dedent(m.group(2))))
    return out


BLOCKS = readme_blocks()


@dataclass(frozen=True)
class Instance:
    """A value of a known class (from a return annotation or a fixture)."""

    cls: type


def _return_type(obj: Any) -> Any:
    try:
        hints = typing.get_type_hints(obj)
        ret = hints.get("return")
    except Exception:
        # a parameter's annotation may name a class its module imports for type checkers
        # only (loaded on first use: identity.probe's Detector), which get_type_hints cannot
        # resolve; the return annotation alone, in the module's names
        ret = _return_annotation(obj)
    return Instance(ret) if isinstance(ret, type) else None


def _return_annotation(obj: Any) -> Any:
    annotation = getattr(obj, "__annotations__", {}).get("return")
    module = inspect.getmodule(obj)
    if not isinstance(annotation, str) or module is None:
        return annotation
    try:
        return eval(annotation, vars(module))  # an annotation this check cannot resolve:
    except Exception:  # stop following types
        return None


def test_a_return_type_is_followed_past_parameters_annotated_for_type_checkers_only():
    from pytest_modelprov import identity

    assert _return_type(identity.probe) == Instance(identity.IdentityResult)


def _has(cls: type, name: str) -> bool:
    if hasattr(cls, name):
        return True
    if is_dataclass(cls) and name in {f.name for f in fields(cls)}:
        return True
    return any(name in getattr(k, "__annotations__", {}) for k in cls.__mro__)


class Checker(ast.NodeVisitor):
    """Resolves names bound to pytest_modelprov objects and checks their uses."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self.scopes: list[dict[str, Any]] = [{}]
        self.problems: list[str] = []
        self.checked = 0

    # -- names ---------------------------------------------------------------------------
    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def bind(self, name: str, value: Any) -> None:
        self.scopes[-1][name] = value

    def problem(self, node: ast.AST, message: str) -> None:
        self.problems.append(f"{self.block} line {getattr(node, 'lineno', '?')}: {message}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.module or not node.module.startswith("pytest_modelprov"):
            return
        try:
            module = importlib.import_module(node.module)
        except ImportError as exc:
            self.problem(node, f"cannot import {node.module}: {exc}")
            return
        for alias in node.names:
            value = getattr(module, alias.name, None)
            if value is None:
                try:
                    value = importlib.import_module(f"{node.module}.{alias.name}")
                except ImportError:
                    self.problem(node, f"{node.module} has no {alias.name!r}")
                    continue
            self.checked += 1
            self.bind(alias.asname or alias.name, value)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("pytest_modelprov"):
                module = importlib.import_module(alias.name)
                self.bind(
                    alias.asname or alias.name.split(".")[0],
                    module if alias.asname else pytest_modelprov,
                )

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        scope: dict[str, Any] = {}
        for arg in node.args.args:
            if arg.arg in FIXTURES:
                scope[arg.arg] = Instance(FIXTURES[arg.arg])
            elif arg.arg in FACTORIES:
                scope[arg.arg] = ("factory", FACTORIES[arg.arg])
        self.scopes.append(scope)
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def visit_Assign(self, node: ast.Assign) -> None:
        value = self.resolve(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.bind(target.id, value)
        self.generic_visit(node)

    # -- expressions -----------------------------------------------------------------------
    def resolve(self, node: ast.AST) -> Any:
        """What an expression evaluates to, as far as it can be followed (else None)."""
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if base is None or isinstance(base, tuple):
                return None
            if isinstance(base, Instance):
                if not _has(base.cls, node.attr):
                    self.problem(node, f"{base.cls.__name__} has no attribute {node.attr!r}")
                    return None
                self.checked += 1
                attr = getattr(base.cls, node.attr, None)
                if isinstance(attr, property):
                    return _return_type(attr.fget)
                return ("method", attr) if callable(attr) else None
            if not hasattr(base, node.attr):
                self.problem(
                    node, f"{getattr(base, '__name__', base)} has no attribute {node.attr!r}"
                )
                return None
            self.checked += 1
            return getattr(base, node.attr)
        if isinstance(node, ast.Call):
            return self.call(node)
        return None

    def call(self, node: ast.Call) -> Any:
        func = self.resolve(node.func)
        if func is None:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                self.resolve(arg)
            return None
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            self.resolve(arg)
        if isinstance(func, tuple) and func[0] == "factory":
            return Instance(func[1])
        bound_self = isinstance(func, tuple) and func[0] == "method"
        target = func[1] if bound_self else func
        if isinstance(target, Instance) or not callable(target):
            return None
        starred = any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        )
        if not starred:
            try:
                sig = inspect.signature(target)
            except (TypeError, ValueError):
                sig = None
            if sig is not None:
                args = [None] * (len(node.args) + (1 if bound_self else 0))
                kwargs = {k.arg: None for k in node.keywords if k.arg}
                try:
                    sig.bind(*args, **kwargs)
                    self.checked += 1
                except TypeError as exc:
                    name = getattr(target, "__qualname__", target)
                    self.problem(node, f"{name}{sig} cannot be called like this: {exc}")
        if isinstance(target, type):
            return Instance(target)
        return _return_type(target)

    def visit_Expr(self, node: ast.Expr) -> None:
        self.resolve(node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        self.resolve(node)
        self.generic_visit(node)


def test_the_readme_has_python_examples():
    sections = {b.section for b in BLOCKS}
    assert len(BLOCKS) >= 8 and any(s.startswith("Lexical") for s in sections), sections


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_every_python_block_compiles_and_uses_the_api_as_documented(block):
    tree = compile(block.code, str(block), "exec", ast.PyCF_ONLY_AST)
    checker = Checker(block)
    checker.visit(tree)
    assert not checker.problems, "\n".join(checker.problems)


def test_the_checker_catches_a_missing_method_and_a_wrong_keyword():
    """The checker itself can fail: a README that used the API wrongly is reported."""
    bad = Block(
        1,
        "example",
        "from pytest_modelprov import lexical\n"
        "def test_x(model_under_test):\n"
        "    ours = lexical.fingerprint(model_under_test, n=3)\n"
        "    ours.no_such_method()\n"
        "    lexical.assert_distance_above(ours, ours, 0.2, nmae='x')\n"
        "    lexical.not_there(ours)\n",
    )
    checker = Checker(bad)
    checker.visit(ast.parse(bad.code))
    text = "\n".join(checker.problems)
    assert "Fingerprint has no attribute 'no_such_method'" in text
    assert "unexpected keyword argument 'nmae'" in text
    assert "has no attribute 'not_there'" in text


# -- the lexical examples run ---------------------------------------------------------------


def _style_answers(words: list[str], seed: int, k: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    common = ["the", "a", "and", "of", "to", "in", "was", "it", "that", "with"]
    return [
        " ".join(
            words[rng.integers(len(words))] if rng.random() < 0.4 else common[rng.integers(10)]
            for _ in range(160)
        )
        + "."
        for _ in range(k)
    ]


OURS = ["lantern", "ember", "hush", "murmur", "gossamer", "velvet", "quiet", "hollow"]
GEMINI = ["ledger", "granite", "precise", "measured", "concrete", "brisk", "plain", "steady"]


def test_the_lexical_examples_run(pytester, env, monkeypatch):
    from pytest_modelprov import lexical
    from pytest_modelprov.lexical import checks as lexical_checks

    blocks = [b for b in BLOCKS if b.section.startswith("Lexical")]
    assert blocks
    # every built-in prompt gets answers of its own (the server repeats a rule's answers)
    for i, (_, text) in enumerate(lexical_checks._builtin()):
        env.server.add_rule(text[:60], *_style_answers(OURS, 100 + i, 3), model="test-model")
        env.server.add_rule(text[:60], *_style_answers(GEMINI, 200 + i, 3), model="ref-gemini")
    env.server.add_rule(".", *_style_answers(OURS, 1, 3), model="test-model")
    env.server.add_rule(".", *_style_answers(GEMINI, 2, 3), model="ref-gemini")
    monkeypatch.setenv(
        "MODELPROV_REFERENCES", f"gemini.model=ref-gemini;gemini.base_url={env.server.url}"
    )
    # the committed reference the first example loads: our earlier release, same style
    ids = [i for i, _ in lexical_checks._builtin()]
    v1 = lexical.Fingerprint.from_texts(
        _style_answers(OURS, 3, 3 * len(ids)), [p for p in ids for _ in range(3)], name="v1"
    )
    v1.save(pytester.path / "fingerprints" / "v1.json")
    for i, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_readme_lexical_{i}": block.code})
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(f"--modelprov-report-json={report}", "-p", "no:randomly")
    tests = sum(len(re.findall(r"^def test_", b.code, re.M)) for b in blocks)
    result.assert_outcomes(passed=tests)
    from pytest_modelprov.reports import jsonreport

    measured = jsonreport.load(report)["measurements"]
    # the answers a team already has are measured too (Fingerprint.from_texts)
    assert any(m["model"] == "logged answers" for m in measured)
    assert any(
        m["quantity"] == "lexical.distance" and m["labels"]["reference"] == "gemini"
        for m in measured
    )
