"""A detector's code files, remembered in the verdict store between runs.

A verdict or result identity digests the package modules a detector's implementation is
made of, found by reading their import statements (:func:`.sources.code_files`, ~8 ms a
process and detector: a third of what a warm refusal measurement costs). What that reading
finds depends on nothing but the text of the files it reads, the names in the package's
folders (which module a name is) and the code that reads them. So its answer is stored with
all of that: the digest of the files it found (every file it read is among them), of every
folder listing under the package, and, in the row's key, of ``calls/sources.py`` itself, the
roots it starts from, the Python version and the package's place (stored only when two
readings agree, so an edit made while they ran leaves no row). A run that finds all of it
unchanged uses the stored list without importing the reader; anything else (an edited or
added module, a pyc written beside one, another Python) reads the imports again and stores
the new answer. The digest of the code is always of the files as they are now, never a
stored one. The row is trusted to be this module's writing, as every verdict in the store
is to be the detector's.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from importlib import machinery
from pathlib import Path

from ..util.safejson import loads as json_loads
from . import verdicts

__all__ = ["code_digest"]

_FORMAT = "modelprov-code-files/1"  # one row per roots and shallow (in the key)
#: where Python imported the package from, as :mod:`.sources` sees it (not resolved)
_PACKAGE_DIR = Path(os.path.abspath(__file__)).parent.parent


def code_digest(
    store: verdicts.VerdictStore | None,
    roots: Sequence[str],
    shallow: Sequence[str],
    package: Path = _PACKAGE_DIR,
) -> str | None:
    """``verdicts.files_digest(sources.code_files(roots, shallow))`` of the package at
    ``package``: read off the imports again only when ``store`` holds no list of the files
    that still checks out (see the module). A run that replays it does not import
    :mod:`.sources`."""
    key = None if store is None else _key(package, roots, shallow)
    if store is None or key is None:
        return _found(roots, shallow)[1]
    raw = store.get_many([key]).get(key)
    remembered = None if raw is None else _checked(raw, key, package)
    if remembered is not None:
        return remembered
    before = _tree(package)
    paths, digest = _found(roots, shallow)
    # stored only when a second reading finds the same files with the same contents and
    # the folders the same names: a module edited or added while they were read leaves no
    # row behind, where it could leave one listing what the files no longer import
    if (
        digest is not None
        and paths is not None
        and before is not None
        and all(p.is_relative_to(package) for p in paths)
        and _found(roots, shallow) == (paths, digest)
        and _tree(package) == before
    ):
        files = [p.relative_to(package).as_posix() for p in paths]
        body = json.dumps({"files": files, "tree": before, "digest": digest})
        store.put_many([(key, f"{_FORMAT}\t{key}\n{body}".encode())])
    return digest


def _found(roots: Sequence[str], shallow: Sequence[str]) -> tuple[list[Path] | None, str | None]:
    from . import sources  # here: a run that replays the list never reads an import

    paths = sources.code_files(roots, shallow)
    return paths, None if paths is None else verdicts.files_digest(paths)


def _key(package: Path, roots: Sequence[str], shallow: Sequence[str]) -> str | None:
    """What the reading of the imports is, besides the files it reads: its own code, the
    roots it starts from, where the package is, and the Python (its grammar, ``re`` and the
    file suffixes a module is found as)."""
    try:
        if [n for n in os.listdir(package / "calls") if n.startswith("sources.")] != ["sources.py"]:
            return None  # a compiled reader would run instead of the source digested here
        code = hashlib.sha256((package / "calls" / "sources.py").read_bytes()).hexdigest()
    except OSError:
        return None  # not installed as source files: nothing is found, nothing remembered
    suffixes = [
        machinery.EXTENSION_SUFFIXES,
        machinery.SOURCE_SUFFIXES,
        machinery.BYTECODE_SUFFIXES,
    ]
    text = json.dumps(
        [_FORMAT, code, list(roots), list(shallow), str(package), sys.version, suffixes]
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _checked(raw: bytes, key: str, package: Path) -> str | None:
    """The digest of the remembered files as they are now, when the row is this key's, the
    package's folders hold the names they held, and the files are those that were read;
    None otherwise (found again)."""
    head, _, body = raw.partition(b"\n")
    if head != f"{_FORMAT}\t{key}".encode():
        return None
    try:
        data = json_loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("files"), list)
        and all(isinstance(f, str) for f in data["files"])
        and isinstance(data.get("tree"), str)
        and isinstance(data.get("digest"), str)
    ):
        return None
    # what this module writes: the package's source files by their module path, never a
    # path that could lead outside it (``..``, absolute)
    if not all(
        f.endswith(".py") and all(p.isidentifier() for p in f[:-3].split("/"))
        for f in data["files"]
    ):
        return None
    paths = [package / f for f in data["files"]]
    if _tree(package) != data["tree"]:
        return None
    digest = verdicts.files_digest(paths)
    return digest if digest is not None and digest == data["digest"] else None


def _tree(package: Path) -> str | None:
    """sha256 of the names in every folder under ``package`` (which file a module name is
    found as depends on them); None when a folder cannot be listed or one is a link (the
    reading follows links this walk would not)."""
    digest = hashlib.sha256()
    stack = [""]
    try:
        while stack:
            where = stack.pop()
            with os.scandir(package / where if where else package) as found:
                entries = sorted(found, key=lambda e: e.name)
            names = []
            for entry in entries:
                if entry.is_symlink() and entry.is_dir():
                    return None
                if entry.is_dir(follow_symlinks=False):
                    names.append(entry.name + "/")
                    stack.append(f"{where}/{entry.name}" if where else entry.name)
                else:
                    names.append(entry.name)
            # JSON escapes every control character: no two trees write the same text
            digest.update(json.dumps([where, names]).encode("ascii") + b"\n")
    except OSError:
        return None
    return digest.hexdigest()
