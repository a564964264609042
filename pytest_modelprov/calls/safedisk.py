"""diskcache's Disk made safe for someone else's cache files, and the settings it opens with.

Imported when a cache is first opened, not with the plugin: diskcache (with pickle) is a
few milliseconds of every pytest start, and a run that uses no model never opens a cache.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sqlite3
import stat
import tempfile
from pathlib import Path
from typing import Any

import diskcache

from .entries import MAX_FILE_BYTES, Refused

MODE_RAW = diskcache.core.MODE_RAW
Timeout = diskcache.Timeout
Cache = diskcache.Cache


class SafeDisk(diskcache.Disk):  # type: ignore[misc]
    """diskcache's Disk without pickle and without paths outside the cache directory."""

    def __init__(self, directory: str, min_file_size: int = 2**15, **_ignored: Any) -> None:
        # settings stored in the database reach here as keyword arguments; ignore the
        # ones this package does not set (a tampered Settings table must not break open)
        super().__init__(directory, min_file_size=int(min_file_size), pickle_protocol=0)
        self._root = os.path.realpath(directory)

    def inside(self, filename: Any) -> str | None:
        """The real path of ``filename`` when it is a regular file inside the directory."""
        if not isinstance(filename, str) or not filename or os.path.isabs(filename):
            return None
        full = os.path.realpath(os.path.join(self._root, filename))
        if os.path.commonpath([full, self._root]) != self._root or full == self._root:
            return None
        return full

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            return Refused("its key is pickled")
        return super().get(key, raw)

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if mode == diskcache.core.MODE_RAW:  # the usual row: the warm path comes here
            return value if type(value) is bytes else super().fetch(mode, filename, value, read)
        if mode == diskcache.core.MODE_PICKLE:
            return Refused("its value is pickled, which this package never writes")
        if mode not in (diskcache.core.MODE_BINARY, diskcache.core.MODE_TEXT):
            return Refused(f"its storage mode {mode!r} is unknown")
        full = self.inside(filename)
        if full is None:
            return Refused(f"its file {filename!r} is outside the cache directory")
        try:
            with open(full, "rb") as reader:
                st = os.fstat(reader.fileno())
                if not stat.S_ISREG(st.st_mode):
                    return Refused(f"its file {filename!r} is not a regular file")
                if st.st_size > MAX_FILE_BYTES:
                    return Refused(f"its file {filename!r} is {st.st_size:,} bytes")
                data = reader.read()
        except FileNotFoundError:
            raise  # diskcache: removed by another process under us
        if read:
            return io.BytesIO(data)
        if mode == diskcache.core.MODE_TEXT:
            return data.decode("utf-8", "replace")
        return data

    def remove(self, file_path: Any) -> None:
        # the file named by a row; never one outside the directory, whatever the row says
        if self.inside(file_path) is not None:
            super().remove(file_path)


# diskcache runs every "sqlite_*" row of its Settings table as a PRAGMA, with the row's
# value, whenever it opens a connection (before it writes the settings it was given). The
# table is part of an untrusted file: rows this package did not write are dropped, and the
# pragma rows are set back to diskcache's defaults before diskcache reads them.
KNOWN_SETTINGS = frozenset(diskcache.core.DEFAULT_SETTINGS) | frozenset(diskcache.core.METADATA)
PINNED_SETTINGS: dict[str, Any] = {
    k: v
    for k, v in diskcache.core.DEFAULT_SETTINGS.items()
    if k not in ("eviction_policy", "size_limit", "statistics")
}


def _count_trigger(name: str, event: str, change: str, what: str) -> tuple[str, str]:
    return (
        name,
        f"CREATE TRIGGER {name} AFTER {event} ON Cache FOR EACH ROW BEGIN UPDATE Settings "
        f'SET value = {change} WHERE key = "{what}"; END',
    )


#: the triggers of diskcache 5.6 (each by its name and sql), known without making them
KNOWN_TRIGGERS = frozenset(
    {
        _count_trigger("Settings_count_insert", "INSERT", "value + 1", "count"),
        _count_trigger("Settings_count_delete", "DELETE", "value - 1", "count"),
        _count_trigger("Settings_size_insert", "INSERT", "value + NEW.size", "size"),
        _count_trigger("Settings_size_update", "UPDATE", "value + NEW.size - OLD.size", "size"),
        _count_trigger("Settings_size_delete", "DELETE", "value - OLD.size", "size"),
    }
)


@functools.cache
def _own_triggers() -> frozenset[tuple[str, str]]:
    """(name, sql) of the triggers diskcache itself makes (it keeps its counts by them)."""
    with tempfile.TemporaryDirectory() as empty:
        cache = Cache(empty, disk=SafeDisk, **PINNED_SETTINGS, eviction_policy="none")
        try:
            rows = cache._sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            return frozenset(rows.fetchall())
        finally:
            cache.close()


def check_schema(path: Path) -> None:
    """sqlite3.DatabaseError when ``path`` holds a view or a trigger diskcache does not make.

    A file from elsewhere may hold a trigger on a table diskcache writes (Settings on every
    open, Cache on every write), or a view in place of one, whose SQL runs then: a
    recursive query there never ends. Tables and indexes run no query of their own."""
    if not path.is_file():
        return
    with contextlib.closing(sqlite3.connect(str(path), timeout=60)) as db:
        rows = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    for kind, name, sql in rows:
        if kind == "view" or (
            kind == "trigger"
            and (name, sql) not in KNOWN_TRIGGERS
            and (name, sql) not in _own_triggers()  # another diskcache's: made once to see
        ):
            raise sqlite3.DatabaseError(
                f"{path} holds a {kind} {str(name)[:40]!r} that diskcache does not make (the "
                "cache was edited, or comes from an untrusted source), whose SQL would run "
                "when the cache is read or written; move that file away to start an empty cache"
            )


def pin_settings(directory: Path) -> None:
    path = directory / diskcache.core.DBNAME
    if not path.is_file():
        return
    with contextlib.closing(sqlite3.connect(str(path), timeout=60)) as db:
        try:
            rows = db.execute("SELECT key, value FROM Settings").fetchall()
        except sqlite3.OperationalError:
            return  # no Settings table yet: diskcache creates it
        foreign = [(k,) for k, _ in rows if k not in KNOWN_SETTINGS]
        changed = [
            (PINNED_SETTINGS[k], k)
            for k, v in rows
            if k in PINNED_SETTINGS and str(k).startswith("sqlite_") and v != PINNED_SETTINGS[k]
        ]
        if foreign or changed:
            with db:
                db.executemany("DELETE FROM Settings WHERE key = ?", foreign)
                db.executemany("UPDATE Settings SET value = ? WHERE key = ?", changed)


def open_cache(directory: Path, **overrides: Any) -> diskcache.Cache:
    """A diskcache.Cache on ``directory``, whose files may come from another machine.

    Every store of this package opens through here: a folder restored from a CI cache is
    someone else's file, and stock diskcache would unpickle its values, run its Settings
    rows as PRAGMAs and delete whatever path an expired row names. Every setting is given
    (none is taken from the file); eviction is off, because what the stores hold (recorded
    answers, a run's spending) must not be dropped to make room.
    """
    path = directory / diskcache.core.DBNAME
    if path.is_symlink():
        # SQLite follows the link: a folder from elsewhere could point it at any database
        # of the user's, in which diskcache's open would then create its tables
        raise OSError(
            f"{path} is a symbolic link, which the cache does not follow (put the database "
            "itself there, or delete the link to start an empty cache)"
        )
    check_schema(path)
    pin_settings(directory)
    settings: dict[str, Any] = {
        **PINNED_SETTINGS,
        "eviction_policy": "none",
        "size_limit": 2**62,
        "statistics": False,
        "timeout": 60,
        **overrides,
    }
    return Cache(str(directory), disk=SafeDisk, **settings)
