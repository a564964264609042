"""The source files a detector's code is made of, found without importing it.

A verdict identity (:mod:`.verdicts`) digests the files of a detector's modules and of every
package module they import. :func:`verdicts.code_files` follows the imported modules'
globals, so the detector must be imported to know it; :func:`code_files` here reads the
import statements of the source files instead, so a run that replays every verdict knows
the identity without loading the detector (the refusal classifier's model, and numpy with
it). It reads every import of a module, at its top, inside functions and under
``TYPE_CHECKING`` alike: more than the module uses is only more files in the digest, never
fewer.

Most files are read with a few regular expressions (a warm run reads them all, and parsing
them costs ~60 ms); a file with any ``import`` those cannot account for exactly (one after
``if x:``, ``;`` or a backslash, ``importlib.import_module``, ``__import__``) is parsed
with :mod:`ast` instead. A module imported that way whose name is not written out as a
string cannot be known: then there is no identity, and nothing is cached.
"""

from __future__ import annotations

import ast
import bisect
import os
import re
from collections.abc import Sequence
from importlib import machinery
from pathlib import Path

__all__ = ["code_files", "imports_of", "module_file"]

_PACKAGE = "pytest_modelprov"
#: where Python imported the package from (not resolved: installed as links, the files read
#: are the ones at the place it imports, not wherever a link points)
_PACKAGE_DIR = Path(os.path.abspath(__file__)).parent.parent

#: a whole ``from <dots><module> import <names>`` statement on lines of its own, the names
#: possibly in parentheses over lines with comments (a ``)`` in a comment is the comment's)
_FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+"
    r"(?:\(((?:[\w \t,]*(?:#[^\n]*)?\n)*[\w \t,]*)\)|([\w \t,*]+))"
    r"[ \t]*(?:#[^\n]*)?$",
    re.MULTILINE,
)
#: a whole ``import <modules>`` statement on a line of its own
_PLAIN_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w \t,.]+)(?:#[^\n]*)?$", re.MULTILINE)
_COMMENT = re.compile(r"#[^\n]*")
#: ``... <word> import`` in prose (``costs nothing to import``): no statement, unless the
#: word ends a ``from <module>`` (then the statement is not one the expressions above read)
_AFTER_A_WORD = re.compile(r"\w[ \t]+\Z")
_AFTER_FROM = re.compile(r"\bfrom\b[\w. \t]*\Z")

#: the files a module is found as, in the order Python's path finder tries them
_SUFFIXES = (
    *machinery.EXTENSION_SUFFIXES,
    *machinery.SOURCE_SUFFIXES,
    *machinery.BYTECODE_SUFFIXES,
)

#: (dots, module, the names imported from it with the name each is bound to, or None for
#: ``import module``; what ``import module as x`` binds, "" when no ``as``)
Statement = tuple[int, str, list[tuple[str, str]] | None, str]


class _Unknowable(Exception):
    """A module imported under a name that is not written in the source."""


def module_file(name: str) -> Path | None:
    """The source file of the package module ``name``, found without importing it: the file
    Python would load, when that is a source file."""
    found = _Listings().find(name)
    return found if found is not None and found.suffix in machinery.SOURCE_SUFFIXES else None


class _Listings:
    """The file names of the package's folders, each listed once per :func:`code_files`:
    whether a name imported from a module is a submodule of it (a file of some kind)
    costs a set lookup, not a dozen stat calls."""

    def __init__(self) -> None:
        self._names: dict[Path, frozenset[str]] = {}

    def names(self, folder: Path) -> frozenset[str]:
        if folder not in self._names:
            try:
                self._names[folder] = frozenset(e.name for e in os.scandir(folder))
            except OSError:
                self._names[folder] = frozenset()
        return self._names[folder]

    def find(self, name: str) -> Path | None:
        """The file Python loads for the package module ``name`` (None: not installed), in
        the order its path finder tries them: a package's ``__init__`` before a module
        file beside it, and an extension before a source before a bytecode file."""
        parts = name.split(".")
        if parts[0] != _PACKAGE or not all(p.isidentifier() for p in parts):
            return None
        base = _PACKAGE_DIR.joinpath(*parts[1:])
        for suffix in _SUFFIXES:
            if "__init__" + suffix in self.names(base):
                return base / ("__init__" + suffix)
        if len(parts) > 1:
            for suffix in _SUFFIXES:
                if base.name + suffix in self.names(base.parent):
                    return base.parent / (base.name + suffix)
        return None


def _read_plainly(source: str) -> list[Statement] | None:
    """The import statements of ``source`` when the expressions account for every import in
    it exactly; None when one is written another way (then :func:`_parse` reads them)."""
    statements: list[Statement] = []
    spans: list[tuple[int, int]] = []
    for match in _FROM_IMPORT.finditer(source):
        if _continues(source, match.start()):
            return None  # the line before ends in a backslash: this is not its start
        dots, module, listed, bare = match.groups()
        names = _COMMENT.sub("", listed if listed is not None else bare).split(",")
        statements.append((len(dots), module, [_bound(n.split()) for n in names if n.split()], ""))
        spans.append(match.span())
    for match in _PLAIN_IMPORT.finditer(source):
        if _continues(source, match.start()):
            return None
        for item in match.group(1).split(","):
            if item.split():
                words = item.split()
                statements.append((0, words[0], None, _bound(words)[1] if len(words) > 1 else ""))
        spans.append(match.span())
    spans.sort()
    starts = [start for start, _ in spans]
    # every place an import can start: the keyword, and the two functions that import by
    # name; each must be inside a statement read above, or be prose
    at = source.find("import")
    while at >= 0:
        end = at + len("import")
        word_before = at > 0 and (source[at - 1].isalnum() or source[at - 1] == "_")
        word_after = end < len(source) and (source[end].isalnum() or source[end] == "_")
        if source.startswith("_module", end) or (
            source.startswith("__", end) and source.endswith("__", 0, at)
        ):
            return None  # importlib.import_module(...) or __import__(...)
        i = bisect.bisect_right(starts, at) - 1
        if not word_before and not word_after and not (i >= 0 and at < spans[i][1]):
            line_start = source.rfind("\n", 0, at) + 1
            before = source[line_start:at]
            if not before.lstrip(" \t").startswith("#") and (
                _continues(source, line_start)
                or not _AFTER_A_WORD.search(before)
                or _AFTER_FROM.search(before)
            ):
                return None
        at = source.find("import", end)
    return statements


def _bound(words: list[str]) -> tuple[str, str]:
    """``["a", "as", "b"]``: ``("a", "b")``; ``["a"]``: ``("a", "a")``."""
    return (words[0], words[2] if len(words) == 3 and words[1] == "as" else words[0])


def _continues(source: str, line_start: int) -> bool:
    """Whether the line starting at ``line_start`` continues the one before (a backslash)."""
    return source[max(0, line_start - 3) : max(0, line_start - 1)].rstrip("\r").endswith("\\")


def _parse(source: str, name: str, package: str) -> list[Statement]:
    """Every import of ``source`` (module ``name`` of ``package``), read off its syntax tree:
    statements anywhere, and ``importlib.import_module`` / ``__import__`` of a name written as
    a string (a relative one resolved as Python does, from ``__name__`` when that is the
    anchor given, else from the package)."""
    statements: list[Statement] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            statements += [(0, alias.name, None, alias.asname or "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(alias.name, alias.asname or alias.name) for alias in node.names]
            statements.append((node.level, node.module or "", names, ""))
        elif isinstance(node, ast.Call) and _called(node.func) in ("import_module", "__import__"):
            statements.append(_dynamic(node, name, package))
    return statements


def _dynamic(node: ast.Call, name: str, package: str) -> Statement:
    """What ``import_module(...)`` or ``__import__(...)`` imports, when its arguments say."""
    args: dict[int | str, ast.expr] = dict(enumerate(node.args))
    args.update({k.arg: k.value for k in node.keywords if k.arg})
    first = args.get(0, args.get("name"))
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        raise _Unknowable(ast.unparse(node))
    if _called(node.func) == "__import__":
        level, fromlist = args.get(4, args.get("level")), args.get(3, args.get("fromlist"))
        if level is not None and not (
            isinstance(level, ast.Constant) and type(level.value) is int and level.value >= 0
        ):
            raise _Unknowable(ast.unparse(node))
        listed: list[str] = []
        for item in [] if fromlist is None else getattr(fromlist, "elts", [fromlist]):
            if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
                raise _Unknowable(ast.unparse(node))
            listed.append(item.value)
        dots = level.value if isinstance(level, ast.Constant) and type(level.value) is int else 0
        return (dots, first.value, [(n, "") for n in listed] or None, "")
    module = first.value.lstrip(".")
    dots = len(first.value) - len(module)
    if not dots:
        return (0, module, None, "")
    anchor = args.get(1, args.get("package"))
    if anchor is None or (isinstance(anchor, ast.Name) and anchor.id == "__package__"):
        start = package
    elif isinstance(anchor, ast.Name) and anchor.id == "__name__":
        start = name
    elif isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
        start = anchor.value
    else:
        raise _Unknowable(ast.unparse(node))
    parts = start.split(".")
    if dots - 1 >= len(parts):
        return (0, "", None, "")  # beyond the top: fails when run, imports nothing
    base = ".".join(parts[: len(parts) - (dots - 1)])
    return (0, f"{base}.{module}" if module else base, None, "")


def _called(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def imports_of(name: str, path: Path, source: str, listings: _Listings | None = None) -> set[str]:
    """The package modules ``source`` (module ``name``) imports anywhere in it: at its top,
    inside functions and under ``TYPE_CHECKING`` alike (more than it uses is only more files
    in the digest, never fewer). Raises ValueError when it imports a module whose name it
    does not write out (``importlib.import_module(variable)``), or is not Python."""
    listings = listings or _Listings()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    statements = _read_plainly(source)
    if statements is None:
        try:
            statements = _parse(source, name, package)
        except _Unknowable as exc:
            raise ValueError(f"{path}: imports a module named at run time: {exc}") from None
        except SyntaxError as exc:
            raise ValueError(f"{path}: not Python ({exc})") from None
    found: set[str] = set()
    bound: dict[str, str] = {}  # a name in this module -> the package module it is
    for dots, module, names, alias in statements:
        if dots:
            parts = package.split(".")
            if dots - 1 >= len(parts):
                continue
            base = ".".join(parts[: len(parts) - (dots - 1)])
            target = f"{base}.{module}" if module else base
        else:
            target = module
        if target != _PACKAGE and not target.startswith(_PACKAGE + "."):
            continue
        if names is None:
            found.add(target)
            bound[alias or _PACKAGE] = target if alias else _PACKAGE
            continue
        attributes = False
        for word, name_here in names:
            if listings.find(f"{target}.{word}") is not None:
                found.add(f"{target}.{word}")
                bound[name_here] = f"{target}.{word}"
            else:
                attributes = True  # a function, class or constant of ``target`` itself
        if attributes:
            found.add(target)
    # a package's submodules are its attributes once anyone imported them: ``util.schema``
    # after ``from .. import util`` runs util/schema.py without importing it here
    for name_here, module in bound.items():
        if name_here and (listings.find(module) or Path()).stem == "__init__":
            found |= _reached(module, name_here, source, listings)
    return found


def _reached(package: str, name_here: str, source: str, listings: _Listings) -> set[str]:
    """The submodules of ``package`` that ``source`` reaches as ``name_here.sub.sub``."""
    found: set[str] = set()
    pattern = re.compile(rf"(?<![\w.]){re.escape(name_here)}((?:[ \t]*\.[ \t]*\w+)+)")
    for match in pattern.finditer(source):
        current = package
        for part in match.group(1).split(".")[1:]:
            current = f"{current}.{part.strip()}"
            if listings.find(current) is None:
                break
            found.add(current)
    return found


def code_files(roots: Sequence[str], shallow: Sequence[str]) -> list[Path] | None:
    """The files of the package modules ``roots``, of every package module they import
    (followed through each other) and of the ``shallow`` modules alone, in module-name order,
    found by reading their import statements: nothing is imported. It finds at least what
    :func:`.verdicts.code_files` finds once they are imported (``tests/test_refusal_warm.py``
    checks it for the refusal classifier). None when one of them is not a readable source
    file (a zipped or compiled install) or imports a module named at run time."""
    listings = _Listings()

    def source(name: str) -> Path | None:
        found = listings.find(name)
        return found if found is not None and found.suffix in machinery.SOURCE_SUFFIXES else None

    if not all(source(name) for name in (*roots, *shallow)):
        return None  # not installed as source files (a zip): nothing to digest, cache nothing
    seen: dict[str, Path] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        path = listings.find(name)
        if path is None:
            continue  # not installed at all: nothing of it runs
        if path.suffix not in machinery.SOURCE_SUFFIXES:
            return None  # code that runs but cannot be read (compiled): no identity
        seen[name] = path
        try:
            source_text = path.read_text(encoding="utf-8")
            stack.extend(imports_of(name, path, source_text, listings) - seen.keys())
        except (OSError, UnicodeDecodeError, ValueError):
            return None
    for name in shallow:
        path = source(name)
        if path is not None:
            seen[name] = path
    return [seen[name] for name in sorted(seen)]
