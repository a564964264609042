"""The response cache: keys, entries, and their storage in diskcache.

A key is the sha256 of canonical JSON over everything that can change an answer: a schema
version, the endpoint, the model id, the messages, every generation parameter and the
replicate index. Nothing else goes in: not the API key, headers, timeouts, retry or
concurrency settings, so changing those never invalidates a recording.

Entries are stored as UTF-8 JSON bytes, never pickles: a cache is shared between machines
and CI jobs, and unpickling someone else's file would run their code.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import os
import re
import sqlite3
import stat
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import diskcache

from ..errors import CacheCorruptError, CacheError, ExportFormatError
from ..util import schema
from ..util.safejson import loads as json_loads
from .reasoning import split_message
from .response import Usage, check_completion, unusable_answer

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: single flight within one process only
    fcntl = None  # type: ignore[assignment]

KEY_SCHEMA_VERSION = 1
#: the stored form of an entry (1: one JSON object; 2: header, raw texts, JSON)
STORE_VERSION = 2
#: how answers are split from reasoning; a stored split made by other rules is redone
SPLIT_VERSION = 1
_HEADER_MARK = f"modelprov-entry/{STORE_VERSION}"
_HEADER_PREFIX = _HEADER_MARK.encode() + b"\t"
_NEWER_FORM = re.compile(rb"modelprov-entry/(\d{1,6})\t")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})
_UNESCAPE = re.compile(r"\\(.)")


def _field(value: str | None) -> str:
    """A header text field: tab, newline and backslash escaped, None as \\N."""
    return "\\N" if value is None else value.translate(_ESCAPES)


def _unfield(text: str) -> str | None:
    if "\\" not in text:
        return text
    if text == "\\N":
        return None
    return _UNESCAPE.sub(lambda m: {"t": "\t", "n": "\n"}.get(m[1], m[1]), text)


EXPORT_FORMAT = "pytest-modelprov-cache"
EXPORT_VERSION = 1

Message = Mapping[str, Any]


def _normalise(value: Any) -> Any:
    # exact-type fast paths first: planning a warm run normalises every message
    kind = type(value)
    if kind is str:
        return value
    if kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
        return dict(value)  # a plain text message
    if kind is list:
        return [_normalise(v) for v in value]
    # 1 and 1.0 must give the same key: a temperature typed either way is the same request.
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be part of a cache key")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    raise TypeError(f"{type(value).__name__} cannot be part of a cache key: {value!r}")


# one encoder for every key: json.dumps with options builds a new encoder per call
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


@functools.lru_cache(maxsize=256)
def _dumps_str(text: str) -> str:
    return _dumps(text)


_encode_string = json.encoder.encode_basestring  # the C escaper json.dumps uses here


def _messages_json(messages: list[Any]) -> str:
    """``_dumps(messages)``, without the encoder for the usual one-user-message prompt."""
    if len(messages) == 1:
        only = messages[0]
        if (
            type(only) is dict
            and len(only) == 2
            and type(only.get("content")) is str
            and type(only.get("role")) is str
        ):
            return (
                f'[{{"content":{_encode_string(only["content"])},'
                f'"role":{_encode_string(only["role"])}}}]'
            )
    return str(_dumps(messages))


def canonical_json(value: Any) -> str:
    return str(_dumps(_normalise(value)))


class CacheKey:
    """A key and the components it was computed from (for `modelprov cache key`).

    The components are assembled only when asked for (storing an entry, `cache key`): a
    replay needs just the digest.
    """

    __slots__ = ("_components", "_parts", "digest")

    def __init__(
        self,
        digest: str,
        components: dict[str, Any] | None = None,
        *,
        parts: tuple[KeyBuilder, Any, int] | None = None,
    ) -> None:
        self.digest = digest
        self._components = components
        self._parts = parts

    @property
    def components(self) -> dict[str, Any]:
        if self._components is None:
            assert self._parts is not None
            builder, norm, replicate = self._parts
            self._components = {
                "v": KEY_SCHEMA_VERSION,
                "endpoint": builder.endpoint,
                "model": builder.model,
                "messages": builder.messages,
                "params": norm,
                "replicate": replicate,
            }
        return self._components

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheKey) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"CacheKey({self.digest[:16]}…)"


class KeyBuilder:
    """Keys for the replicates of one prompt; the messages are serialised once.

    The text hashed is exactly ``canonical_json(components)``, assembled from pieces
    because warm runs spend most of their time here.
    """

    def __init__(self, endpoint: str, model: str, messages: Sequence[Message]) -> None:
        self.endpoint = endpoint
        self.model = model
        if (
            len(messages) == 1
            and type(messages[0]) is dict
            and all(type(k) is str and type(v) is str for k, v in messages[0].items())
        ):
            self.messages = [dict(messages[0])]  # one plain message: nothing to normalise
        else:
            self.messages = _normalise(list(messages))
        # the keys of the components, in sorted order: endpoint, messages, model, params, ...
        self._head = (
            f'{{"endpoint":{_dumps_str(endpoint)},"messages":{_messages_json(self.messages)},'
            f'"model":{_dumps_str(model)},"params":'
        )

    @staticmethod
    def params_part(params: Mapping[str, Any]) -> tuple[Any, str]:
        """The normalised parameters and their canonical JSON, reusable across prompts."""
        norm = _normalise(dict(params))
        return norm, str(_dumps(norm))

    def key(self, params: Mapping[str, Any], replicate: int) -> CacheKey:
        return self.key_of(self.params_part(params), replicate)

    def key_of(self, part: tuple[Any, str], replicate: int) -> CacheKey:
        norm, text_params = part
        replicate = int(replicate)
        text = f'{self._head}{text_params},"replicate":{replicate},"v":{KEY_SCHEMA_VERSION}}}'
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        key: CacheKey = _new_object(CacheKey)  # without __init__: one per planned call
        key.digest, key._components, key._parts = digest, None, (self, norm, replicate)
        return key


def make_key(
    *,
    endpoint: str,
    model: str,
    messages: Sequence[Message],
    params: Mapping[str, Any],
    replicate: int,
) -> CacheKey:
    return KeyBuilder(endpoint, model, messages).key(params, replicate)


def key_of_components(components: Mapping[str, Any]) -> str:
    # surrogatepass as in KeyBuilder: a prompt with a lone surrogate has a key there too
    text = canonical_json(components)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class CacheEntry:
    """One recorded answer: the request's key components and the response as received."""

    key: str
    request: dict[str, Any]
    response: dict[str, Any]
    recorded_at: str
    run: str | None = None  # the run that recorded it, so refresh re-records a key once a run

    @property
    def resolved_model(self) -> str | None:
        model = self.response.get("model")
        return model if isinstance(model, str) else None

    @property
    def system_fingerprint(self) -> str | None:
        fp = self.response.get("system_fingerprint")
        return fp if isinstance(fp, str) else None

    @property
    def usage(self) -> dict[str, Any]:
        usage = self.response.get("usage")
        return usage if isinstance(usage, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        data = {
            "key": self.key,
            "request": self.request,
            "response": self.response,
            "model": self.resolved_model,
            "system_fingerprint": self.system_fingerprint,
            "usage": self.usage,
            "recorded_at": self.recorded_at,
        }
        if self.run is not None:
            data["run"] = self.run
        return data

    def to_bytes(self) -> bytes:
        """The stored form: a header line, the answer and reasoning as raw UTF-8, then the
        rest of the entry as JSON.

        A replay needs the answer, not the response's dozens of small JSON objects, and
        JSON-decoding a long answer costs about as much as reading it from SQLite. With the
        texts stored raw, a warm lookup splits a 200-byte header and slices. The content
        and reasoning fields are left out of the JSON when the texts give them back exactly
        (no ``<think>`` block to split), so nothing is stored twice and an entry stays
        within one SQLite page as long as it can; the JSON is decoded, and those fields put
        back, only when something asks for the whole response (tool calls, exports).
        """
        message = _first_message(self.response)
        answer, reasoning = split_message(message)
        stripped = []
        if message.get("content") == answer:
            stripped.append("content")
        for name in ("reasoning_content", "reasoning"):
            if reasoning is not None and message.get(name) == reasoning:
                stripped.append(name)
                break
        data = self.to_dict()
        if stripped:
            data["response"] = response = dict(self.response)
            response["choices"] = choices = list(response["choices"])
            choices[0] = first = dict(choices[0])
            first["message"] = {k: v for k, v in message.items() if k not in stripped}
        full = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "surrogatepass"
        )
        a = answer.encode("utf-8", "surrogatepass")
        r = reasoning.encode("utf-8", "surrogatepass") if reasoning is not None else b""
        choice = self.response["choices"][0]
        finish = choice.get("finish_reason") if isinstance(choice, Mapping) else None
        usage = Usage.from_body(self.response.get("usage"))
        fields = [
            _HEADER_MARK, self.key, _field(self.run), str(SPLIT_VERSION),
            _field(finish if isinstance(finish, str) else None), _field(self.resolved_model),
            _field(self.system_fingerprint), str(usage.prompt_tokens),
            str(usage.completion_tokens), str(usage.reasoning_tokens), str(len(a)),
            str(len(r) if reasoning is not None else -1), str(len(full)), ",".join(stripped),
        ]  # fmt: skip
        # tab-separated, not JSON: decoding a JSON header cost as much as the lookup itself
        head = "\t".join(fields).encode("utf-8", "surrogatepass")
        return head + b"\n" + a + r + full

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CacheEntry:
        return cls(
            key=data["key"],
            request=data["request"],
            response=data["response"],
            recorded_at=data["recorded_at"],
            run=data.get("run"),
        )


def entry_validator() -> Any:
    return schema.validator("cache_entry.schema.json")


def check_entry(data: Any, where: str) -> CacheEntry:
    """Schema and key check of one entry; raises ExportFormatError naming `where`."""
    errors = sorted(entry_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ExportFormatError(f"{where}: field {path}: {err.message}")
    why = unusable_answer(data["response"]) if isinstance(data["response"], dict) else None
    if why is not None:
        raise ExportFormatError(f"{where}: {why}; such answers are never cached")
    if key_of_components(data["request"]) != data["key"]:
        raise ExportFormatError(
            f"{where}: key {data['key'][:12]}… does not match its request fields; the entry "
            "was edited after it was recorded"
        )
    return CacheEntry.from_dict(data)


def _check_answer(response: Mapping[str, Any]) -> None:
    """ValueError for a stored entry without a usable answer: this package never stores one
    (an empty answer, say), so the entry was edited or imported from elsewhere; replaying it
    would pass a test on an answer that is not there."""
    why = unusable_answer(response)
    if why is not None:
        raise ValueError(f"{why}, which is never stored")


def _first_message(body: Mapping[str, Any]) -> Mapping[str, Any]:
    message = body["choices"][0]["message"]
    return message if isinstance(message, Mapping) else {}


def _stored_dict(raw: bytes) -> Any:
    """The whole entry as a dict, from either stored form, with stripped fields restored."""
    if not raw.startswith(_HEADER_PREFIX):
        return json_loads(raw, constants="null")  # the one-JSON-object form of version 1
    end = raw.index(b"\n")
    h = raw[:end].decode("utf-8", "surrogatepass").split("\t")
    if len(h) != 14:
        raise ValueError("entry header is damaged")
    a, r, f = int(h[10]), int(h[11]), int(h[12])
    start = end + 1
    body_start = start + a + max(r, 0)
    if len(raw) != body_start + f:
        raise ValueError("entry is truncated")
    # NaN in an old entry's usage reads as null: stats and exports stay strict JSON
    data = json_loads(raw[body_start:].decode("utf-8", "surrogatepass"), constants="null")
    if h[13]:
        message = data["response"]["choices"][0]["message"]
        for name in h[13].split(","):
            if name == "content":
                message[name] = raw[start : start + a].decode("utf-8", "surrogatepass")
            else:
                message[name] = raw[start + a : body_start].decode("utf-8", "surrogatepass")
    return data


_new_tuple: Any = tuple.__new__
_new_object: Any = object.__new__

_MODE_RAW = diskcache.core.MODE_RAW
#: the largest stored value read back from its file (answers are far smaller)
MAX_FILE_BYTES = 256 * 1024 * 1024


class Refused:
    """What the cache's Disk gives instead of a stored value it will not load.

    A cache restored from a CI cache or an artifact is someone else's file: diskcache would
    unpickle a row whose mode says "pickle" (running whatever its ``__reduce__`` names) and
    open, print or delete whatever path a row's filename names. This package stores only
    bytes, so such rows can only have been written by hand; they read as unreadable entries.
    """

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"<not loaded: {self.why}>"


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


# diskcache runs every "sqlite_*" row of its Settings table as a PRAGMA, with the row's
# value, whenever it opens a connection (before it writes the settings it was given). The
# table is part of an untrusted file: rows this package did not write are dropped, and the
# pragma rows are set back to diskcache's defaults before diskcache reads them.
_KNOWN_SETTINGS = frozenset(diskcache.core.DEFAULT_SETTINGS) | frozenset(diskcache.core.METADATA)
_PINNED_SETTINGS: dict[str, Any] = {
    k: v
    for k, v in diskcache.core.DEFAULT_SETTINGS.items()
    if k not in ("eviction_policy", "size_limit", "statistics")
}


def _pin_settings(directory: Path) -> None:
    path = directory / diskcache.core.DBNAME
    if not path.is_file():
        return
    with contextlib.closing(sqlite3.connect(str(path), timeout=60)) as db:
        try:
            rows = db.execute("SELECT key, value FROM Settings").fetchall()
        except sqlite3.OperationalError:
            return  # no Settings table yet: diskcache creates it
        foreign = [(k,) for k, _ in rows if k not in _KNOWN_SETTINGS]
        changed = [
            (_PINNED_SETTINGS[k], k)
            for k, v in rows
            if k in _PINNED_SETTINGS and str(k).startswith("sqlite_") and v != _PINNED_SETTINGS[k]
        ]
        if foreign or changed:
            with db:
                db.executemany("DELETE FROM Settings WHERE key = ?", foreign)
                db.executemany("UPDATE Settings SET value = ? WHERE key = ?", changed)


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
        self.locks = KeyLocks(self.directory / "locks")
        # set when a write failed for want of space or permission: further model calls
        # would be paid for and then thrown away, so the client stops making them
        self.write_error: CacheError | None = None

    def _open(self) -> diskcache.Cache:
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    try:
                        self.directory.mkdir(parents=True, exist_ok=True)
                        # eviction off: recorded answers are data, not a disposable cache;
                        # the default LRU limit of 1 GB would silently drop recordings.
                        _pin_settings(self.directory)
                        self._cache = diskcache.Cache(
                            str(self.directory),
                            disk=SafeDisk,
                            # every setting given: none is taken from the (untrusted) file
                            **_PINNED_SETTINGS,
                            eviction_policy="none",
                            size_limit=2**62,
                            statistics=False,
                            timeout=60,
                        )
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
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    def _read(self, key: str) -> Any:
        try:
            return self._open().get(key)
        except (sqlite3.Error, OSError, diskcache.Timeout) as exc:
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
        of ``=``, and values go through diskcache's ``Disk.fetch`` (large values live in
        files). If this diskcache has no such internals, every key is read with ``get``.
        """
        found: dict[str, Any] = {}
        cache = self._open()
        sql = getattr(cache, "_sql", None)
        if sql is not None and len(keys) > 1:
            try:
                for i in range(0, len(keys), 500):
                    chunk = list(dict.fromkeys(keys[i : i + 500]))
                    rows = sql(
                        "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN "
                        f"({','.join('?' * len(chunk))}) "
                        "AND (expire_time IS NULL OR expire_time > ?)",
                        (*chunk, time.time()),
                    ).fetchall()
                    fetch = cache.disk.fetch  # SafeDisk: no pickle, no file outside
                    for key, mode, filename, value in rows:
                        # the usual row, raw bytes in SQLite, without a method call
                        found[key] = (
                            value
                            if mode == _MODE_RAW and type(value) is bytes
                            else fetch(mode, filename, value, False)
                        )
            except (sqlite3.Error, OSError, AttributeError, TypeError):
                found = {}  # removed under us or another layout: read one by one below
        if skip_unreadable:
            return [self._hit_or_none(key, found.get(key)) for key in keys]
        return [self._hit(key, found[key] if key in found else self._read(key)) for key in keys]

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
        cache = self._open()
        try:
            # one writer at a time within the process: many threads in one SQLite write
            # transaction meet its busy handler, which sleeps up to 100 ms between tries
            with self._write_lock:
                return self._put(cache, entry, overwrite)
        except (sqlite3.Error, OSError, diskcache.Timeout) as exc:
            error = CacheError(
                f"modelprov: cannot write to the cache at {self.directory}: {exc}"
                f"{self._why()}. Recorded entries are unchanged; free space, or point "
                "--modelprov-cache-dir (MODELPROV_CACHE_DIR, modelprov_cache_dir) elsewhere."
            )
            if not isinstance(exc, diskcache.Timeout):  # busy is not broken: retry later
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


_EXPORT_TEMP = ".modelprov-export-"


def remove_stale_temporaries(directory: Path, prefix: str) -> int:
    """Remove ``prefix<pid>-*`` files in ``directory`` whose process is gone.

    A SIGKILLed export cannot clean up after itself; its temporary file (as large as the
    export) is removed by the next export into the same directory.
    """
    removed = 0
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix)]
    except OSError:
        return 0
    for name in names:
        pid_text = name[len(prefix) :].partition("-")[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(directory / name)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process: leave its file alone
    return True


# Line breaks to str.splitlines() and to editors, yet left raw by json.dumps (which escapes
# the C0 controls itself); escaped, each entry stays on one line for any reader.
_LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\u2028\u2029\x85"})


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_line(data: Any) -> str:
    """One JSON Lines record: U+2028, U+2029 and U+0085 escaped, so str.splitlines agrees,
    and lone surrogates (valid in JSON, not encodable as UTF-8) as \\uXXXX escapes."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False).translate(_LINE_BREAKS)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text + "\n"


_UNREADABLE = CacheEntry(key="", request={}, response={}, recorded_at="")


@dataclass
class ImportResult:
    added: int = 0
    identical: int = 0
    kept: int = 0  # differing entries left as they were
    replaced: int = 0


def read_export(path: Path) -> list[CacheEntry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportFormatError(
            f"modelprov: cannot read cache export {path}: {exc}; nothing was imported"
        ) from exc
    # "\n" only: str.splitlines() also splits inside answers holding U+2028, U+0085, \x1c...
    lines = text.split("\n")
    if not text.strip():
        raise ExportFormatError(
            f"modelprov: {path} is empty, not a cache export; nothing was imported"
        )
    try:
        header = json_loads(lines[0])
    except ValueError:
        header = None
    if not (
        isinstance(header, dict)
        and header.get("format") == EXPORT_FORMAT
        and header.get("version") == EXPORT_VERSION
    ):
        raise ExportFormatError(
            f"modelprov: {path} line 1 is not a {EXPORT_FORMAT} version {EXPORT_VERSION} "
            "header (export files are written by `modelprov cache export`); nothing was imported"
        )
    entries: list[CacheEntry] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        where = f"modelprov: {path} line {number}"
        try:
            data = json_loads(line, constants="null")
        except ValueError as exc:
            raise ExportFormatError(
                f"{where}: not valid JSON ({exc}); nothing was imported"
            ) from exc
        try:
            entries.append(check_entry(data, where))
        except ExportFormatError as exc:
            raise ExportFormatError(f"{exc}; nothing was imported") from exc
    declared = header.get("entries")
    if isinstance(declared, int) and declared != len(entries):
        raise ExportFormatError(
            f"modelprov: {path} declares {declared} entries but holds {len(entries)}; the file "
            "is truncated or was edited; nothing was imported."
        )
    return entries


def entry_from_response(key: CacheKey, response: dict[str, Any], run: str | None) -> CacheEntry:
    return CacheEntry(
        key=key.digest, request=key.components, response=response, recorded_at=utc_now(), run=run
    )
