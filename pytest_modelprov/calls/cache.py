"""The response cache: entries stored under their keys in diskcache.

Keys are made in :mod:`.keys` (the sha256 of canonical JSON over everything that can change
an answer, nothing else), entries in :mod:`.entries`, exports in :mod:`.export`; here they
are stored and read back, one flight per key across threads, workers and processes.

Entries are stored as UTF-8 JSON bytes, never pickles: a cache is shared between machines
and CI jobs, and unpickling someone else's file would run their code.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import CacheCorruptError, CacheError
from .entries import (
    _HEADER_MARK,
    _HEADER_PREFIX,
    _NEWER_FORM,
    SPLIT_VERSION,
    STORE_VERSION,
    CacheEntry,
    Refused,
    _check_answer,
    _first_message,
    _stored_dict,
    _unfield,
)
from .export import (
    _EXPORT_TEMP,
    _UNREADABLE,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ImportResult,
    json_line,
    read_export,
    remove_stale_temporaries,
)
from .keys import _new_tuple, utc_now
from .reasoning import split_message
from .response import Usage, check_completion

if TYPE_CHECKING:
    import diskcache

#: diskcache's database file and its storage mode of values kept as bytes in the row
#: (``diskcache.core.DBNAME``, ``MODE_RAW``; written out so that warm lookups need not import
#: diskcache, and tested to stay equal)
DBNAME = "cache.db"
MODE_RAW = 1

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: single flight within one process only
    fcntl = None  # type: ignore[assignment]


class StoredBody(Mapping[str, Any]):
    """A stored response body, JSON-decoded on first use.

    Replays mostly need only the answer; tool calls, exports and ``Response.raw`` readers
    pay for the decoding when they look.
    """

    __slots__ = ("_cache", "_data", "_key", "_source")

    def __init__(self, source: bytes, cache: ResponseCache, key: str) -> None:
        self._source = source
        self._data: dict[str, Any] | None = None
        self._cache = cache
        self._key = key

    def _decoded(self) -> dict[str, Any]:
        if self._data is None:
            try:
                response = _stored_dict(self._source)["response"]
                check_completion(response)
            except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
                raise CacheCorruptError(self._cache._unreadable(self._key, f" ({exc})")) from None
            self._data = response
        return self._data

    def __getitem__(self, name: str) -> Any:
        return self._decoded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return repr(self._decoded())


class Hit(NamedTuple):
    """What a replay needs of one stored entry, without decoding the whole of it."""

    key: str
    run: str | None
    answer: str
    reasoning: str | None
    finish_reason: str | None
    model: str | None
    system_fingerprint: str | None
    usage: Usage
    body: Mapping[str, Any]

    @classmethod
    def of_entry(cls, entry: CacheEntry) -> Hit:
        answer, reasoning = split_message(_first_message(entry.response))
        finish = entry.response["choices"][0].get("finish_reason")
        return cls(
            entry.key,
            entry.run,
            answer,
            reasoning,
            finish if isinstance(finish, str) else None,
            entry.resolved_model,
            entry.system_fingerprint,
            Usage.from_body(entry.response.get("usage")),
            entry.response,
        )


class KeyLocks:
    """Single flight per cache key, across threads and processes.

    Four xdist workers and a second pytest on one cache must not pay for the same answer
    twice: whoever holds a key's lock calls the model and stores the answer, the others wait
    and then find it in the cache. Across processes this is ``flock`` on a per-key file in
    ``locks/``: the kernel releases it when its holder dies, so a SIGKILLed run can never
    wedge the next one. The holder unlinks the file before unlocking, so the directory does
    not fill up with one file per key; a waiter that locked a file unlinked under it sees
    the inode change and tries again.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._guard = threading.Lock()
        # per-key thread lock and its number of users, dropped when nobody needs it
        self._local: dict[str, tuple[threading.Lock, int]] = {}

    def _local_lock(self, key: str, delta: int) -> threading.Lock:
        with self._guard:
            lock, users = self._local.get(key) or (threading.Lock(), 0)
            users += delta
            if users:
                self._local[key] = (lock, users)
            else:
                self._local.pop(key, None)
            return lock

    @contextlib.contextmanager
    def hold(self, key: str, timeout: float) -> Iterator[None]:
        """Hold the lock of ``key``; CacheError after ``timeout`` seconds of waiting."""
        deadline = time.monotonic() + timeout
        local = self._local_lock(key, +1)
        try:
            if not local.acquire(timeout=max(0.0, timeout)):
                raise self._timeout(key, timeout)
            try:
                fd = self._lock_file(key, deadline, timeout)
                try:
                    yield
                finally:
                    self._unlock_file(key, fd)
            finally:
                local.release()
        finally:
            self._local_lock(key, -1)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.lock"

    def _timeout(self, key: str, timeout: float) -> CacheError:
        return CacheError(
            f"modelprov: waited {timeout:g} s for another test process to finish calling the "
            f"model for cache key {key[:16]}… (lock {self.path(key)}); it is still running or "
            "hung. Stop it, or give this run another --modelprov-cache-dir."
        )

    def _lock_file(self, key: str, deadline: float, timeout: float) -> int | None:
        if fcntl is None:
            return None
        path = self.path(key)
        delay = 0.001
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            except FileNotFoundError:
                self._make_directory()
                continue
            except OSError as exc:
                raise self._unusable(exc) from exc
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise self._timeout(key, timeout) from None
                        time.sleep(delay)
                        delay = min(delay * 2, 0.05)
                try:
                    current = os.stat(path)
                except FileNotFoundError:
                    current = None
                mine = os.fstat(fd)
                if current is not None and (current.st_ino, current.st_dev) == (
                    mine.st_ino,
                    mine.st_dev,
                ):
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the previous holder unlinked this file: lock the new one

    def _make_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unusable(exc) from exc

    def _unusable(self, exc: OSError) -> CacheError:
        return CacheError(
            f"modelprov: cannot create a lock file in {self.directory}: {exc}. The cache "
            "directory must be writable to record answers; set another one with "
            "--modelprov-cache-dir, MODELPROV_CACHE_DIR or modelprov_cache_dir, or replay "
            "with --modelprov-record-mode=replay."
        )

    def _unlock_file(self, key: str, fd: int | None) -> None:
        if fd is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(key))
        finally:
            os.close(fd)  # releases the flock


class ResponseCache:
    """diskcache-backed store of CacheEntry values keyed by digest.

    Safe for several threads and several processes (xdist workers) at once: diskcache
    commits each value in one SQLite transaction, so a process killed mid-write leaves
    either the whole entry or none of it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._cache: diskcache.Cache | None = None
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        # the plain SQLite connection of warm lookups, before (or without) diskcache
        self._plain: sqlite3.Connection | None = None
        self._plain_lock = threading.Lock()
        self.locks = KeyLocks(self.directory / "locks")
        # set when a write failed for want of space or permission: further model calls
        # would be paid for and then thrown away, so the client stops making them
        self.write_error: CacheError | None = None

    def _open(self) -> diskcache.Cache:
        # here, not at the top: a run that uses no model never opens a cache
        from . import safedisk

        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    try:
                        self.directory.mkdir(parents=True, exist_ok=True)
                        self._cache = safedisk.open_cache(self.directory)
                    except (OSError, sqlite3.Error) as exc:
                        raise CacheError(
                            f"modelprov: cannot open the response cache at {self.directory}: "
                            f"{exc}{self._why()}. Set another directory with "
                            "--modelprov-cache-dir, MODELPROV_CACHE_DIR or the ini key "
                            "modelprov_cache_dir."
                        ) from exc
        return self._cache

    def _why(self) -> str:
        # sqlite says "unable to open database file" or "disk I/O error"; say what we know
        if self.directory.exists() and not self.directory.is_dir():
            return " (it is a file, not a directory)"
        if self.directory.is_dir() and not os.access(self.directory, os.W_OK):
            # EROFS reaches root too; the cache needs to write even to read (WAL index)
            return (
                " (the directory is read-only; the cache writes even when it only reads, so "
                "copy it somewhere writable, or export it with `modelprov cache export` and "
                "import it there)"
            )
        return ""

    def close(self) -> None:
        with self._lock:
            if self._plain is not None:
                self._plain.close()
                self._plain = None
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    def _read(self, key: str) -> Any:
        from .safedisk import Timeout

        try:
            return self._open().get(key)
        except (sqlite3.Error, OSError, Timeout) as exc:
            raise CacheError(
                f"modelprov: cannot read the cache at {self.directory}: {exc}"
            ) from exc

    def get(self, key: str) -> CacheEntry | None:
        raw = self._read(key)
        if raw is None:
            return None
        return self._decode(key, raw)

    def lookup_many(
        self, keys: Sequence[str], *, skip_unreadable: bool = False
    ) -> list[Hit | None]:
        """``lookup`` of many keys, read with one SQL query per 500.

        A bare ``diskcache`` get is about 10 µs, nearly all of it the cost of one SQL
        statement, not of the bytes; a sample() call knows all its keys at once, so a warm
        run reads them together. The query is diskcache's own select with ``IN`` instead
        of ``=``, and values that are not raw bytes in the row go through ``SafeDisk.fetch``
        (large values live in files). Until something needs diskcache (a miss, a write), the
        query runs on a plain SQLite connection (:meth:`_plain_sql`): a warm run then never
        imports diskcache nor runs its open, which rewrites every row of its Settings table.
        Whatever cannot be read so is read with ``get``, one key at a time.
        """
        found: dict[str, Any] = {}
        try:
            cache = self._cache
            sql = self._plain_sql() if cache is None else getattr(cache, "_sql", None)
            if sql is not None:
                for i in range(0, len(keys), 500):
                    chunk = list(dict.fromkeys(keys[i : i + 500]))
                    rows = sql(
                        "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN "
                        f"({','.join('?' * len(chunk))}) "
                        "AND (expire_time IS NULL OR expire_time > ?)",
                        (*chunk, time.time()),
                    )
                    for key, mode, filename, value in rows:
                        # the usual row, raw bytes in SQLite, without a method call
                        found[key] = (
                            value
                            if mode == MODE_RAW and type(value) is bytes
                            # SafeDisk: no pickle, no file outside the directory
                            else self._open().disk.fetch(mode, filename, value, False)
                        )
        except (sqlite3.Error, OSError, AttributeError, TypeError):
            found = {}  # removed under us or another layout: read one by one below
        if skip_unreadable:
            return [self._hit_or_none(key, found.get(key)) for key in keys]
        return [self._hit(key, found[key] if key in found else self._read(key)) for key in keys]

    def _plain_sql(self) -> Callable[[str, tuple[Any, ...]], list[Any]] | None:
        """Run a read-only query on ``cache.db`` without diskcache; None when there is none.

        Reads need nothing of what diskcache's open does (create the tables, pin and rewrite
        the settings, run them as pragmas): a SELECT on the Cache table runs no PRAGMA and
        no code from the file. ``mode=rw``: a missing database is not created here, the
        diskcache open that follows the None creates it as before.
        """
        with self._lock:
            if self._plain is None:
                path = (self.directory / DBNAME).absolute()
                if path.is_symlink() or not path.is_file():
                    return None  # diskcache's open: creates the file, or refuses a link
                plain = sqlite3.connect(
                    f"{path.as_uri()}?mode=rw",
                    uri=True,
                    timeout=60,
                    isolation_level=None,
                    # lookups come from any thread; self._plain_lock makes them take turns
                    check_same_thread=False,
                )
                # a file from elsewhere may hold a view named Cache, whose query (recursive,
                # never ending) every SELECT would run; diskcache's open refuses it ("views
                # may not be indexed"), so only a table is read here, anything else there
                try:
                    kinds = plain.execute(
                        "SELECT type FROM sqlite_master WHERE name = 'Cache' COLLATE NOCASE"
                    ).fetchall()
                except sqlite3.Error:
                    kinds = []
                if kinds != [("table",)]:
                    plain.close()
                    return None
                self._plain = plain
        plain = self._plain

        def run(statement: str, parameters: tuple[Any, ...]) -> list[Any]:
            with self._plain_lock:
                return plain.execute(statement, parameters).fetchall()

        return run

    def lookup(self, key: str, *, skip_unreadable: bool = False) -> Hit | None:
        """The replay view of an entry: the texts and counts, the body decoded on demand.

        ``skip_unreadable``: an unreadable entry is reported as missing (refresh replaces it).
        """
        if skip_unreadable:
            return self._hit_or_none(key, None)
        return self._hit(key, self._read(key))

    def _hit_or_none(self, key: str, raw: Any) -> Hit | None:
        try:
            return self._hit(key, raw if raw is not None else self._read(key))
        except CacheCorruptError:
            return None

    def _hit(self, key: str, raw: Any) -> Hit | None:
        if raw is None:
            return None
        if not (isinstance(raw, bytes) and raw.startswith(_HEADER_PREFIX)):
            if isinstance(raw, Refused):
                raise CacheCorruptError(self._refused(key, raw))
            newer = _NEWER_FORM.match(raw) if isinstance(raw, bytes) else None
            if newer and int(newer[1]) > STORE_VERSION:
                form = newer[0][:-1].decode("ascii")
                raise CacheCorruptError(
                    f"modelprov: cache entry {key} in {self.directory} was written in the form "
                    f"{form!r} by a newer pytest-modelprov; this version reads "
                    f"{_HEADER_MARK!r} and earlier. Upgrade pytest-modelprov, or give this run "
                    "its own --modelprov-cache-dir."
                )
            return Hit.of_entry(self._decode(key, raw))  # stored by an older version
        try:
            end = raw.index(b"\n")
            h = raw[:end].decode("utf-8", "surrogatepass").split("\t")
            if len(h) != 14 or h[1] != key:
                raise ValueError("entry header is damaged or does not belong to its key")
            a, r, f = int(h[10]), int(h[11]), int(h[12])
            start = end + 1
            body_start = start + a + max(r, 0)
            if len(raw) != body_start + f:
                raise ValueError("entry is truncated")
            body = StoredBody(raw, self, key)
            if h[3] != str(SPLIT_VERSION):  # stored under other split rules: redo the split
                answer, reasoning = split_message(_first_message(body))
            else:
                answer = raw[start : start + a].decode("utf-8", "surrogatepass")
                reasoning = (
                    raw[start + a : body_start].decode("utf-8", "surrogatepass") if r >= 0 else None
                )
            if len(answer) < 64 and not answer.strip():  # rare: only tool calls are stored so
                _check_answer(body)
            # tuple.__new__: a NamedTuple's own __new__ is a Python function, 3x slower
            usage = _new_tuple(Usage, (int(h[7]), int(h[8]), int(h[9])))
            fields: list[str | None] = [h[2], h[4], h[5], h[6]]
            if "\\" in h[2] + h[4] + h[5] + h[6]:  # rare: escaped characters or None
                fields = [_unfield(v) for v in (h[2], h[4], h[5], h[6])]
            run, finish, model, fp = fields
            hit: Hit = _new_tuple(
                Hit, (key, run, answer, reasoning, finish, model, fp, usage, body)
            )
            return hit
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise CacheCorruptError(self._unreadable(key, f" ({exc})")) from exc

    def _unreadable(self, key: str, why: str) -> str:
        return (
            f"modelprov: cache entry {key} in {self.directory} is unreadable{why}. It was "
            f"left in place. Inspect it with `modelprov cache show {key[:16]}`, or record "
            "it again by running the test with --modelprov-record-mode=refresh."
        )

    def _refused(self, key: str, raw: Refused) -> str:
        return self._unreadable(
            key,
            f": {raw.why}, so it was not loaded (this package stores only JSON "
            "bytes; the cache was edited by hand or comes from an untrusted source)",
        )

    def _decode(self, key: str, raw: Any) -> CacheEntry:
        if isinstance(raw, Refused):
            raise CacheCorruptError(self._refused(key, raw))
        try:
            if not isinstance(raw, bytes):
                raise TypeError(f"stored value is {type(raw).__name__}, not JSON bytes")
            data = _stored_dict(raw)
            entry = CacheEntry.from_dict(data)
            if entry.key != key:
                raise ValueError("entry does not belong to its key")
            check_completion(entry.response)
            _check_answer(entry.response)
            return entry
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise CacheCorruptError(self._unreadable(key, f" ({exc})")) from exc

    def put(self, entry: CacheEntry, *, overwrite: bool = False) -> CacheEntry:
        """Store an entry; returns what the cache holds for the key afterwards.

        The first writer wins: when two xdist workers record the same key at once, both go
        on with the one stored answer, so a later replay sees what the tests saw. With
        overwrite (refresh) an older entry is replaced, but one written by the same run is
        kept, for the same reason.
        """
        from .safedisk import Timeout

        cache = self._open()
        try:
            # one writer at a time within the process: many threads in one SQLite write
            # transaction meet its busy handler, which sleeps up to 100 ms between tries
            with self._write_lock:
                return self._put(cache, entry, overwrite)
        except (sqlite3.Error, OSError, Timeout) as exc:
            error = CacheError(
                f"modelprov: cannot write to the cache at {self.directory}: {exc}"
                f"{self._why()}. Recorded entries are unchanged; free space, or point "
                "--modelprov-cache-dir (MODELPROV_CACHE_DIR, modelprov_cache_dir) elsewhere."
            )
            if not isinstance(exc, Timeout):  # busy is not broken: retry later
                self.write_error = error
            raise error from exc

    def _put(self, cache: diskcache.Cache, entry: CacheEntry, overwrite: bool) -> CacheEntry:
        if overwrite:
            with cache.transact():  # read and replace as one step across processes
                current = cache.get(entry.key)
                if current is not None and entry.run is not None:
                    try:
                        stored = self._decode(entry.key, current)
                        if stored.run == entry.run:
                            return stored
                    except CacheCorruptError:
                        pass  # unreadable: refresh replaces it, as asked
                cache.set(entry.key, entry.to_bytes())
            return entry
        if cache.add(entry.key, entry.to_bytes()):
            return entry
        found = cache.get(entry.key)
        if found is None:  # cleared between add and get by another process
            return entry
        return self._decode(entry.key, found)

    def raw(self, key: str) -> Any:
        """The stored value as it is, undecoded."""
        return self._open().get(key)

    def delete(self, key: str) -> bool:
        return bool(self._open().delete(key))

    def digests(self) -> list[str]:
        return [k for k in self._open().iterkeys() if isinstance(k, str)]

    def __len__(self) -> int:
        return len(self._open())

    def entries(self) -> Iterator[tuple[str, CacheEntry | CacheCorruptError]]:
        """Every entry, with unreadable ones yielded as their error instead of raising."""
        cache = self._open()
        for key in self.digests():
            raw = cache.get(key)
            if raw is None:
                continue
            try:
                yield key, self._decode(key, raw)
            except CacheCorruptError as exc:
                yield key, exc

    def clear(self, model: str | None = None) -> int:
        if model is None:
            return int(self._open().clear())
        removed = 0
        for key, entry in list(self.entries()):
            if isinstance(entry, CacheEntry) and entry.request.get("model") == model:
                removed += self.delete(key)
        return removed

    # -- portable export -----------------------------------------------------------------

    def export(self, path: Path, *, model: str | None = None) -> tuple[int, list[str]]:
        """Write entries as JSON Lines (a header line, then one entry per line), atomically.

        Returns the number written and the keys of unreadable entries that were left out.
        """
        path = Path(path)
        entries: list[CacheEntry] = []
        unreadable: list[str] = []
        for key, e in self.entries():
            if not isinstance(e, CacheEntry):
                unreadable.append(key)
            elif model is None or e.request.get("model") == model:
                entries.append(e)
        entries.sort(key=lambda e: (e.recorded_at, e.key))
        header = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": utc_now(),
            "entries": len(entries),
        }
        directory = path.parent or Path(".")
        remove_stale_temporaries(directory, _EXPORT_TEMP)
        try:
            # the pid in the name: the next export removes what a killed one left behind
            fd, tmp = tempfile.mkstemp(prefix=f"{_EXPORT_TEMP}{os.getpid()}-", dir=directory)
        except OSError as exc:
            raise CacheError(f"modelprov: cannot write {path}: {exc}") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                out.write(json.dumps(header, allow_nan=False) + "\n")
                for entry in entries:
                    out.write(json_line(entry.to_dict()))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(entries), unreadable

    def import_(self, path: Path, *, overwrite: bool = False) -> ImportResult:
        """Validate the whole file first, then add its entries.

        A file with any bad line imports nothing. Existing entries win unless overwrite is
        set, so an import never replaces a recording by accident.
        """
        entries = read_export(Path(path))
        result = ImportResult()
        for entry in entries:
            try:
                current = self.get(entry.key)
            except CacheCorruptError:
                current = _UNREADABLE
            if current is None:
                self.put(entry)
                result.added += 1
            elif current.response == entry.response:
                result.identical += 1
            elif overwrite:
                self.put(entry, overwrite=True)
                result.replaced += 1
            else:
                result.kept += 1
        return result
