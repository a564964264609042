"""Detector verdicts cached beside the answers they judge, so a warm run classifies nothing.

A verdict is stored under the sha256 of the detector's full identity and the answer's cache
key (plus which text of the response was judged: the answer or the reasoning). The identity
is the detector's name, version and settings (weights digest, vendor table) and a digest of
the detector's own code and data files: the package modules its implementation is made of
(found by following what those modules import from the package) and every file under its
``data/`` directory. Editing a rule, re-training the weights or upgrading the package changes
the identity, so a verdict made by other code is never found, let alone replayed.

Each stored value also names its key and the sha256 of the exact text and request it
judged: a refreshed recording with a new answer under the same cache key, a row copied
under another key, or a damaged value are all misses, and the verdict is computed again
and stored over it. Nothing is trusted that does not check out.

The store is one SQLite file, ``verdicts.sqlite3`` in the cache directory, holding a key
and a UTF-8 value per row: values are read as bytes and parsed as JSON, never unpickled,
and nothing in the file names a path, so a hostile cache cannot make a run execute code or
read outside the directory. A file that is a symbolic link, or that holds anything besides
the package's own tables (a trigger or a view runs its SQL on every write or read), is not
used. It is an optimisation only: any failure to open, read or write it is a warning, and
the run classifies as if it were not there.

Beside the per-answer verdicts, the same file holds measurement results (table ``results``,
:func:`cached_result`): what a detector made of a whole set of answers (a distance with its
bootstrap interval, the measurements it recorded, its failure message), stored under the
detector's identity, every setting the result depends on and the ordered cache keys of the
answers it read, with the same guarantees (JSON only, verified on read, a warning at most);
their numbers are finite and their integers fit 64 bits, or the row is computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sqlite3
import sys
import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from ..util.safejson import MAX_INT
from ..util.safejson import loads as json_loads

__all__ = [
    "FILE_NAME",
    "VerdictCacheWarning",
    "VerdictStore",
    "cached_result",
    "cached_verdicts",
    "code_files",
    "data_files",
    "detector_identity",
    "files_digest",
    "result_key",
]

FILE_NAME = "verdicts.sqlite3"
FORMAT = "modelprov-verdict/1"
_PREFIX = FORMAT.encode() + b"\t"
RESULT_FORMAT = "modelprov-result/1"
_RESULT_PREFIX = RESULT_FORMAT.encode() + b"\t"
_TABLES = ("verdicts", "results")
#: a verdict is a label or a few claims; anything larger is not one of ours
MAX_VALUE_BYTES = 1 << 20
_PACKAGE = "pytest_modelprov"
_CHUNK = 500  # keys per SELECT: well under SQLite's limit on bound parameters

T = TypeVar("T")


class VerdictCacheWarning(UserWarning):
    """The verdict cache could not be used; verdicts were computed instead."""


def _create(table: str, *, if_not_exists: bool = False) -> str:
    """The statement that makes ``table``; SQLite keeps it, without IF NOT EXISTS, as the
    table's ``sql`` in ``sqlite_master``."""
    exists = "IF NOT EXISTS " if if_not_exists else ""
    return (
        f"CREATE TABLE {exists}{table} "
        "(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID"
    )


def _check_schema(db: sqlite3.Connection) -> None:
    """sqlite3.DatabaseError unless the file holds this package's tables and nothing else.

    A file from elsewhere may hold a trigger on a table the store writes, or a view in
    place of one, whose SQL runs on every write or read: a recursive query there never
    ends. Tables made by other statements could constrain or default their columns."""
    for kind, name, sql in db.execute("SELECT type, name, sql FROM sqlite_master"):
        if kind != "table" or name not in _TABLES or sql != _create(name):
            raise sqlite3.DatabaseError(
                f"it holds a {kind} {str(name)[:40]!r} that this package does not make"
            )


class VerdictStore:
    """The SQLite table of cached verdicts in a cache directory. Thread-safe.

    Counts what it replayed and what had to be computed, for the run's summary: verdicts
    (``replayed``, ``computed``) and measurement results (``results_replayed``,
    ``results_computed``) apart.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._broken = False
        self.replayed = 0
        self.computed = 0
        self.results_replayed = 0
        self.results_computed = 0

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            db: sqlite3.Connection | None = None
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                # SQLite follows a link to the file it opens: a cache folder from elsewhere
                # could point it at any database of the user's, which it would then write
                if self.path.is_symlink():
                    raise OSError(f"{FILE_NAME} is a symbolic link; the cache follows none")
                # autocommit; several xdist workers write through WAL, waiting for each other
                db = sqlite3.connect(
                    self.path, timeout=60, isolation_level=None, check_same_thread=False
                )
                _check_schema(db)  # before anything is written to a file from elsewhere
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                for table in _TABLES:
                    db.execute(_create(table, if_not_exists=True))
                self._db = db
            except (sqlite3.Error, OSError) as exc:
                if db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        db.close()
                self._give_up(exc)
        return self._db

    def _give_up(self, exc: Exception) -> None:
        self._broken = True
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        warnings.warn(
            VerdictCacheWarning(
                f"modelprov: the verdict cache {self.path} is unusable ({exc}); detectors "
                "classify every answer in this run. Delete the file to start it afresh, or "
                "turn the cache off with --modelprov-verdict-cache=off."
            ),
            stacklevel=3,
        )

    def get_many(self, keys: Sequence[str], table: str = "verdicts") -> dict[str, bytes]:
        """The stored values of those ``keys`` that have one (bytes only; other types are
        left out, as if missing); ``table``: ``"verdicts"`` or ``"results"``."""
        if table not in _TABLES:
            raise ValueError(f"table: {table!r} is not one of {list(_TABLES)}")
        found: dict[str, bytes] = {}
        with self._lock:
            db = self._connect()
            if db is None:
                return found
            try:
                unique = list(dict.fromkeys(keys))
                for i in range(0, len(unique), _CHUNK):
                    chunk = unique[i : i + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    # sizes checked by SQLite, which reads a blob's length from its header:
                    # an oversized row from elsewhere is never loaded only to be dropped
                    rows = db.execute(
                        f"SELECT key, value FROM {table} WHERE key IN ({marks}) "
                        "AND typeof(value) = 'blob' AND length(value) <= ?",
                        [*chunk, MAX_VALUE_BYTES],
                    ).fetchall()
                    for key, value in rows:
                        if isinstance(value, bytes) and len(value) <= MAX_VALUE_BYTES:
                            found[key] = value
            except sqlite3.Error as exc:
                self._give_up(exc)
                return {}
        return found

    def put_many(self, items: Iterable[tuple[str, bytes]], table: str = "verdicts") -> None:
        if table not in _TABLES:
            raise ValueError(f"table: {table!r} is not one of {list(_TABLES)}")
        rows = [(k, v) for k, v in items if len(v) <= MAX_VALUE_BYTES]
        if not rows:
            return
        with self._lock:
            db = self._connect()
            if db is None:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", rows)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._give_up(exc)

    def __len__(self) -> int:
        with self._lock:
            db = self._connect()
            if db is None:
                return 0
            try:
                return int(db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])
            except sqlite3.Error:
                return 0

    def clear(self) -> int:
        """Delete every stored verdict and measurement result; the number deleted (0 when
        there is no store)."""
        if not self.path.exists():
            return 0
        with self._lock:
            db = self._connect()
            if db is None:
                return 0
            try:
                return sum(int(db.execute(f"DELETE FROM {t}").rowcount) for t in _TABLES)
            except sqlite3.Error as exc:
                self._give_up(exc)
                return 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


# -- what a detector is ---------------------------------------------------------------------


def _owner(value: Any) -> str | None:
    if isinstance(value, ModuleType):
        return value.__name__
    try:
        owner = getattr(value, "__module__", None)
    except Exception:  # an object whose attribute access misbehaves owns nothing of ours
        return None
    return owner if isinstance(owner, str) else None


def code_files(*roots: str, shallow: Sequence[str] = ()) -> list[Path]:
    """The source files of the package modules ``roots`` and of every package module they
    use, directly or through each other (what their globals come from), plus the files of
    the ``shallow`` modules alone (a module holding one detector among much else).

    Following the imports means a module the detector starts to use later (a language
    guesser, a normaliser) is part of its identity without anyone listing it.
    """
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        module = sys.modules.get(name)
        if module is None:
            continue
        seen.add(name)
        for value in list(vars(module).values()):
            owner = _owner(value)
            if owner and owner.startswith(_PACKAGE + ".") and owner not in seen:
                stack.append(owner)
    seen.update(name for name in shallow if name in sys.modules)
    paths = []
    for name in sorted(seen):
        path = getattr(sys.modules[name], "__file__", None)
        if path:
            paths.append(Path(path))
    return paths


def data_files(folder: str) -> list[Path]:
    """Every file under the package's ``data/<folder>`` (weights, tables, topic sets)."""
    root = Path(str(files(_PACKAGE).joinpath("data").joinpath(folder)))
    return sorted(p for p in root.rglob("*") if p.is_file())


@cache
def installed_version(distribution: str) -> str | None:
    """An installed distribution's version (what ``metadata.version`` gives), or None when
    it is not installed: for identities that name a library whose arithmetic moves a figure
    (numpy, wordfreq). Read without importing the library and without the email parser that
    ``metadata.version`` reads the whole metadata file with (~2 ms of a warm run): the
    ``Version`` header is a line of the header block."""
    from importlib import metadata

    try:
        found = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return None
    for line in (found.read_text("METADATA") or "").splitlines():
        if not line.strip():
            break  # the end of the headers
        if line.startswith("Version:"):
            return line.removeprefix("Version:").strip()
    return found.version  # written another way: as metadata.version reads it


def files_digest(paths: Iterable[Path]) -> str | None:
    """sha256 over the names and contents of ``paths``; None when one cannot be read (then
    nothing is cached: a detector whose code cannot be identified cannot be trusted)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            content = path.read_bytes()
        except OSError:
            return None
        digest.update(f"{path.name}\x00{len(content)}\x00".encode())
        digest.update(content)
    return digest.hexdigest()


@cache
def _kind_digest(roots: tuple[str, ...], shallow: tuple[str, ...], folder: str) -> str | None:
    # once per process: the code and data of an installed package do not change under it
    code = files_digest(code_files(*roots, shallow=shallow))
    data = files_digest(data_files(folder))
    if code is None or data is None:
        return None
    return f"{code}:{data}"


#: the Python that computes: its implementation and version (``sys.version`` would add the
#: build date and compiler, which change no verdict)
_PYTHON = f"{sys.implementation.name} {'.'.join(map(str, sys.version_info[:3]))}"


def detector_identity(
    kind: str,
    roots: Sequence[str],
    folder: str,
    description: Any,
    *,
    shallow: Sequence[str] = (),
) -> str | None:
    """The digest a detector's verdicts are stored under, or None to cache nothing.

    ``kind`` names the detector family, ``roots`` its implementation modules (followed
    through their package imports), ``shallow`` modules counted without their imports,
    ``folder`` its directory under ``data/``, and ``description`` (JSON-serialisable)
    everything of this instance that can move a verdict: name, version, thresholds,
    weights digest, tables. Python's Unicode database version is part of every identity:
    the rules match, fold and normalise text through it (``re.I``, ``\\w``, NFKC), and a
    cache folder shared with a machine on another Python must not replay its verdicts. So
    are Python's implementation and version: ``re`` (whose parser ``fastre`` reads) and the
    float formatting of stored figures belong to them, not to the Unicode version.
    """
    files_part = _kind_digest(tuple(roots), tuple(shallow), folder)
    if files_part is None:
        return None
    text = json.dumps(
        [FORMAT, kind, files_part, unicodedata.unidata_version, _PYTHON, description],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def clear_identity_cache() -> None:
    """Forget the code and data digests computed in this process (for tests that edit them)."""
    _kind_digest.cache_clear()


# -- looking verdicts up --------------------------------------------------------------------


def _text_digest(text: str, context: str | None) -> str:
    joined = f"{context}\x00{text}" if context is not None else f"\x01{text}"
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()


def cached_verdicts(
    store: VerdictStore | None,
    identity: str | None,
    items: Sequence[tuple[str, str, str, str | None]],
    compute: Callable[[list[int]], Sequence[T]],
    encode: Callable[[T], Any],
    decode: Callable[[Any, int], T],
) -> list[T]:
    """The verdict of every item, computed in one ``compute`` call for the misses only.

    ``items`` are ``(answer cache key, part, text, context)``: ``part`` says which text of
    the response is judged ("answer", "reasoning", ...), ``context`` anything else the
    verdict depends on (the request). ``compute(indexes)`` returns the verdicts of those
    items in order; ``encode`` makes one JSON-serialisable, ``decode(data, index)`` reads one
    back and raises ValueError, TypeError or KeyError when it is not a valid verdict.
    Without a store or an identity, everything is computed and nothing stored.
    """
    if store is None or identity is None or not items:
        return list(compute(list(range(len(items)))))
    keys = [
        hashlib.sha256(
            f"{identity}\x00{key}\x00{part}".encode("utf-8", "surrogatepass")
        ).hexdigest()
        for key, part, _, _ in items
    ]
    found = store.get_many(keys)
    out: list[T | None] = [None] * len(items)
    digests = [""] * len(items)
    missing: list[int] = []
    for i, ((_, _, text, context), key) in enumerate(zip(items, keys, strict=True)):
        digests[i] = _text_digest(text, context)
        raw = found.get(key)
        if raw is not None:
            try:
                out[i] = _read(raw, key, digests[i], i, decode)
                continue
            except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError):
                pass  # damaged, moved or made for another text: computed again below
        missing.append(i)
    if missing:
        fresh = list(compute(missing))
        if len(fresh) != len(missing):
            raise RuntimeError(
                f"detector returned {len(fresh)} verdicts for {len(missing)} answers"
            )
        rows = []
        for i, verdict in zip(missing, fresh, strict=True):
            out[i] = verdict
            body = json.dumps(encode(verdict), ensure_ascii=False, separators=(",", ":"))
            head = f"{FORMAT}\t{keys[i]}\t{digests[i]}\n"
            rows.append((keys[i], (head + body).encode("utf-8", "surrogatepass")))
        store.put_many(rows)
    with store._lock:
        store.replayed += len(items) - len(missing)
        store.computed += len(missing)
    return [v for v in out]  # type: ignore[misc]  # every slot is filled above


def _read(raw: bytes, key: str, digest: str, index: int, decode: Callable[[Any, int], T]) -> T:
    if not raw.startswith(_PREFIX):
        raise ValueError("not a verdict of this format")
    end = raw.index(b"\n")
    head = raw[:end].decode("ascii").split("\t")
    if len(head) != 3 or head[1] != key:
        raise ValueError("verdict header is damaged or does not belong to its key")
    if head[2] != digest:
        raise ValueError("verdict was made for another text")
    # bounded: a cache folder from elsewhere may hold JSON nested past Python's recursion
    # limit, which json.loads answers with RecursionError (JSONLimitError is a ValueError)
    return decode(json_loads(raw[end + 1 :].decode("utf-8", "surrogatepass")), index)


# -- measurement results --------------------------------------------------------------------


def _answers_digest(answers: Sequence[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for key, text in answers:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(f"{key}\x00{len(data)}\x00".encode("utf-8", "surrogatepass"))
        digest.update(data)
    return digest.hexdigest()


def result_key(identity: str, settings: Any, keys: Sequence[str]) -> str:
    """The key of a measurement result: sha256 of the detector's ``identity``
    (:func:`detector_identity`), its ``settings`` (JSON-serialisable; canonical form) and the
    ordered cache ``keys`` of the answers it read."""
    text = json.dumps(
        [RESULT_FORMAT, identity, settings, list(keys)],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=_typed,
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _typed(value: Any) -> str:
    """A setting JSON cannot hold, keyed by its type and repr: its str may be another
    value's (``np.float32(0.3)`` prints as the float 0.3 it is not)."""
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}:{value!r}"


def cached_result(
    store: VerdictStore | None,
    identity: str | None,
    settings: Any,
    answers: Sequence[tuple[str, str]],
    compute: Callable[[], T],
    encode: Callable[[T], Any],
    decode: Callable[[Any], T],
    *,
    stands_for: Callable[[T], int] | None = None,
) -> T:
    """A measurement result over a whole set of answers: replayed from ``store`` when it
    holds one for exactly this detector, these settings and these answers, else
    ``compute()``-d and stored.

    ``identity``: the detector's (:func:`detector_identity`; None caches nothing).
    ``settings``: JSON-serialisable, everything of the call that can move the result
    (method, bounds, seed, resamples, sample size, prompt set digest, ...). ``answers``:
    ``(answer cache key, text)`` of every answer the result reads, in the order it reads
    them (both sides of a comparison); the keys make the row's key, the texts a digest the
    stored value must carry, so a re-recorded answer under the same key is a miss.
    ``encode`` makes the result JSON-serialisable (no NaN); ``decode(data)`` reads it back
    and raises ValueError, TypeError or KeyError when it is not a valid result, which is then
    computed again and stored over the bad row. A result ``encode`` cannot turn into JSON is
    returned but not stored. ``stands_for(result)``: how many verdicts a replayed result
    stands for, added to the store's ``replayed`` count (the run's summary counts verdicts
    as if each had been read on its own).
    """
    if store is None or identity is None:
        return compute()
    key = result_key(identity, settings, [k for k, _ in answers])
    digest = _answers_digest(answers)
    raw = store.get_many([key], "results").get(key)
    if raw is not None:
        try:
            value = _read_result(raw, key, digest, decode)
        except (ValueError, TypeError, KeyError, IndexError, ArithmeticError):
            # damaged, moved or made for other answers (a UnicodeDecodeError is a
            # ValueError; an OverflowError a decoder's float() of a number it checked)
            pass  # computed again below
        else:
            with store._lock:
                store.results_replayed += 1
                if stands_for is not None:
                    store.replayed += stands_for(value)
            return value
    result = compute()
    with store._lock:
        store.results_computed += 1
    try:
        data = encode(result)
        _check_numbers(data)
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError):
        return result  # not JSON (NaN, an odd type): used, but not stored
    head = f"{RESULT_FORMAT}\t{key}\t{digest}\n"
    store.put_many([(key, (head + body).encode("utf-8", "surrogatepass"))], "results")
    return result


def _read_result(raw: bytes, key: str, digest: str, decode: Callable[[Any], T]) -> T:
    if not raw.startswith(_RESULT_PREFIX):
        raise ValueError("not a result of this format")
    end = raw.index(b"\n")
    head = raw[:end].decode("ascii").split("\t")
    if len(head) != 3 or head[1] != key:
        raise ValueError("result header is damaged or does not belong to its key")
    if head[2] != digest:
        raise ValueError("result was made from other answers")
    # the numbers checked as they are parsed: what _check_numbers refuses, without a walk
    data = json_loads(
        raw[end + 1 :].decode("utf-8", "surrogatepass"), constants="reject", bounded_numbers=True
    )
    return decode(data)


#: the largest integer a stored result holds: what a 64-bit count or index can be
_MAX_INT = MAX_INT


def _check_numbers(value: Any) -> None:
    """ValueError when ``value`` (parsed JSON, depth already bounded) holds a number that
    is not finite (``1e999`` parses as infinity) or an integer beyond 64 bits, which
    ``float()`` may not survive: a result holds neither, so a row that does was not
    written by this package, and the reports refuse such figures."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("a result holds a number that is not finite")
        elif isinstance(item, int):
            if abs(item) > _MAX_INT:
                raise ValueError("a result holds an integer beyond 64 bits")
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
