"""The source files a detector's code is made of, found without importing it.

A verdict identity (:mod:`.verdicts`) digests the files of a detector's modules and of every
package module they import. :func:`verdicts.code_files` follows the imported modules'
globals, so the detector must be imported to know it; :func:`code_files` here reads the
import statements of the source files instead, so a run that replays every verdict knows
the identity without loading the detector (the refusal classifier's model, and numpy with
it). It reads every import of a module, at its top, inside functions and under
``TYPE_CHECKING`` alike: more than the module uses is only more files in the digest, never
fewer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["code_files", "imports_of", "module_file"]

_PACKAGE = "pytest_modelprov"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent

#: ``from <dots><module> import <names>``, the names possibly in parentheses over lines
_FROM_IMPORT = re.compile(
    r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE
)
_PLAIN_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n]*)", re.MULTILINE)
_COMMENT = re.compile(r"#[^\n]*")


def module_file(name: str) -> Path | None:
    """The source file of the package module ``name``, found without importing it."""
    parts = name.split(".")
    if parts[0] != _PACKAGE or not all(p.isidentifier() for p in parts):
        return None
    base = _PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in ([base.with_suffix(".py")] if len(parts) > 1 else []) + [base / "__init__.py"]:
        if candidate.is_file():
            return candidate
    return None


def imports_of(name: str, path: Path, source: str) -> set[str]:
    """The package modules ``source`` (module ``name``) imports anywhere in it: at its top,
    inside functions and under ``TYPE_CHECKING`` alike (more than it uses is only more files
    in the digest, never fewer)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for dots, module, names in _FROM_IMPORT.findall(source):
        if dots:
            parts = package.split(".")
            if len(dots) - 1 >= len(parts):
                continue
            base = ".".join(parts[: len(parts) - (len(dots) - 1)])
            target = f"{base}.{module}" if module else base
        else:
            target = module
        if target != _PACKAGE and not target.startswith(_PACKAGE + "."):
            continue
        attributes = False
        for item in _COMMENT.sub("", names).strip().strip("()").split(","):
            word = item.split()[0] if item.split() else ""
            if not word:
                continue
            if module_file(f"{target}.{word}") is not None:
                found.add(f"{target}.{word}")
            else:
                attributes = True  # a function, class or constant of ``target`` itself
        if attributes:
            found.add(target)
    for line in _PLAIN_IMPORT.findall(source):
        for item in _COMMENT.sub("", line).split(","):
            words = item.split()
            if words and (words[0] == _PACKAGE or words[0].startswith(_PACKAGE + ".")):
                found.add(words[0])
    return found


def code_files(roots: Sequence[str], shallow: Sequence[str]) -> list[Path] | None:
    """The files of the package modules ``roots``, of every package module they import
    (followed through each other) and of the ``shallow`` modules alone, in module-name order,
    found by reading their import statements: nothing is imported. It finds at least what
    :func:`.verdicts.code_files` finds once they are imported (``tests/test_refusal_warm.py``
    checks it for the refusal classifier). None when one of them is not a readable source
    file."""
    if not all(module_file(name) for name in (*roots, *shallow)):
        return None  # not installed as source files (a zip): nothing to digest, cache nothing
    seen: dict[str, Path] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        seen[name] = path
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        stack.extend(imports_of(name, path, source) - seen.keys())
    for name in shallow:
        path = module_file(name)
        if path is not None:
            seen[name] = path
    return [seen[name] for name in sorted(seen)]
