"""Writing the files people keep (baselines, reports): atomically, readable, named as typed."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so a reader (or a killed run) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes it private (0600); baselines are committed, reports published
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def display_path(path: Path) -> str:
    """The path as a person would type it: relative to the working directory when inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def caller_dir() -> Path | None:
    """The folder of the first file up the call stack that is not this package's.

    That is the conftest.py or test module that named a path; None from a REPL.
    """
    frame = sys._getframe(1)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module != "pytest_modelprov" and not module.startswith("pytest_modelprov."):
            where = frame.f_globals.get("__file__")
            return Path(where).resolve().parent if where else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def user_path(path: str | os.PathLike[str]) -> Path:
    """A file a user named in their own code, found relative to that code's file.

    ``Script.from_file("answers.json")`` in ``suite/conftest.py`` reads
    ``suite/answers.json`` whatever the working directory. A relative path that is not
    there but is in the working directory is still found there (what earlier versions
    did); when it is in neither, the file-relative path is the one errors name.
    """
    given = Path(path).expanduser()
    if given.is_absolute():
        return given
    base = caller_dir()
    if base is None:
        return given
    beside = base / given
    if beside.exists() or not given.exists():
        return beside
    return given
