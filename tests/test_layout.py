"""The package's layout: its modules import each other without cycles, and no module grows
past ~800 lines without saying why.

An import cycle is found on the graph of every ``import`` statement of the package's
modules, wherever it stands: at module level, inside a function (a lazy import is still a
dependency, and the cycle it closes only waits for the first call) and under
``TYPE_CHECKING`` (a type annotation is a dependency of the design, and mypy follows it).
Importing ``pytest_modelprov.a.b`` also runs the ``__init__`` of ``pytest_modelprov.a``, so it
counts as an import of that package too, unless the importer is inside ``a`` itself (a
module of a package never waits for its own ``__init__``, which is already running). Names
imported dynamically (``importlib.import_module`` of a string) are not followed; the one
such place, ``baseline._load_builtin``, loads the detectors' baseline adapters on first use
for exactly that reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "pytest_modelprov"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
LIMIT = 800
#: what a module over LIMIT lines must say in its docstring
REASON = "Over 800 lines:"


def module_files(root: Path = ROOT) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(
    name: str, path: Path, tree: ast.Module, modules: dict[str, Path]
) -> Iterator[tuple[str, int]]:
    """(absolute module name, line) of every package module an import statement names."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in modules else target), node.lineno


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """module -> {module it imports: line of the first such import}."""
    modules = module_files(root)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: dict[str, int] = {}
        for target, line in _imported(name, path, tree, modules):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            chain = target.split(".")
            # the target and every package __init__ on its way that the importer is not in
            for i in range(len(chain), 1, -1):
                step = ".".join(chain[:i])
                if i < len(chain) and (name == step or name.startswith(step + ".")):
                    break
                if step != name and step in modules:
                    edges.setdefault(step, line)
            if target == PACKAGE and name != PACKAGE:
                edges.setdefault(PACKAGE, line)  # a name of the package's own __init__
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    lines = [
        f"  {a} -> {b} (line {line})"
        for a in component
        for b, line in sorted(graph[a].items())
        if b in members
    ]
    return "cycle among " + ", ".join(component) + ":\n" + "\n".join(lines)


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40 and all(n.startswith(PACKAGE) for n in graph)
    found = cycles(graph)
    assert not found, "\n".join(_describe(c, graph) for c in found)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / PACKAGE


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a lazy import inside a function closes a cycle as much as a top-level one
        (
            {"a.py": "from . import b\n", "b.py": "def f():\n    from .a import x\n"},
            [[f"{PACKAGE}.a", f"{PACKAGE}.b"]],
        ),
        # an annotation-only import counts
        (
            {
                "a.py": "from .sub.c import y\n",
                "sub/__init__.py": "",
                "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from ..a import x\n",
            },
            [[f"{PACKAGE}.a", f"{PACKAGE}.sub.c"]],
        ),
        # importing a subpackage's module runs the subpackage's __init__
        (
            {
                "a.py": "from .sub.c import y\n",
                "sub/__init__.py": "from .d import z\n",
                "sub/c.py": "",
                "sub/d.py": "from .. import a\n",
            },
            [[f"{PACKAGE}.a", f"{PACKAGE}.sub", f"{PACKAGE}.sub.d"]],
        ),
        # ... but a module inside it does not wait for its own package's __init__
        (
            {
                "sub/__init__.py": "from .d import z\n",
                "sub/c.py": "",
                "sub/d.py": "from .c import y\nfrom . import c\n",
            },
            [],
        ),
    ],
    ids=["function-level", "type-checking", "package-init", "own-package"],
)
def test_the_cycle_check_sees_every_kind_of_import(tmp_path, files, expected):
    root = _write(tmp_path, {"__init__.py": "", **files})
    assert cycles(import_graph(root)) == expected


def _code_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def unexplained_long_modules(root: Path = ROOT) -> dict[str, int]:
    """Modules over LIMIT lines whose docstring does not say why: name -> lines."""
    long = {}
    for name, path in module_files(root).items():
        lines = _code_lines(path)
        if lines > LIMIT:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if REASON not in doc:
                long[name] = lines
    return long


def test_no_module_is_over_800_lines_without_a_stated_reason():
    long = unexplained_long_modules()
    assert not long, (
        f"modules over {LIMIT} lines without {REASON!r} and a reason in their docstring "
        f"(split them along a real seam, or say why not): {long}"
    )


def test_the_size_check_finds_a_long_module_without_a_reason(tmp_path):
    body = "x = 1\n" * (LIMIT + 1)
    root = _write(
        tmp_path,
        {
            "__init__.py": "",
            "long.py": '"""Long."""\n' + body,
            "explained.py": f'"""Long. {REASON} one table, read whole."""\n' + body,
            "short.py": '"""Short."""\n',
        },
    )
    assert unexplained_long_modules(root) == {f"{PACKAGE}.long": LIMIT + 2}


README = ROOT.parent / "README.md"


def _architecture() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Architecture")
    return text[start : text.index("\n## ", start + 1)]


def test_the_readme_architecture_map_matches_the_tree():
    """Every module and subpackage is on the README's map, and the map names nothing else."""
    section = _architecture()
    words = set(re.findall(r"[\w/.]+", section))
    missing = []
    for name, path in module_files().items():
        parts = name.split(".")[1:]
        if not parts or parts[-1].startswith("_"):
            continue  # the package itself, _version
        if len(parts) == 1:
            shown = f"{parts[0]}.py" if path.name != "__init__.py" else f"{parts[0]}/"
        else:
            shown = parts[-1] if path.name != "__init__.py" else f"{parts[-1]}/"
        if shown not in words and f"{'/'.join(parts)}.py" not in words:
            missing.append(name)
    assert not missing, f"README's Architecture section does not name: {missing}"
    named_files = {w for w in words if re.fullmatch(r"(?:[a-z_]+/)?[a-z_]+\.py", w)}
    named_dirs = {w for w in words if re.fullmatch(r"[a-z_]+/", w)} - {f"{PACKAGE}/"}
    gone = [w for w in named_files if not (ROOT / w).is_file() and not (ROOT.parent / w).is_file()]
    gone += [w for w in named_dirs if not (ROOT / w).is_dir()]
    assert not gone, f"README's Architecture section names what the package does not have: {gone}"
