"""Fill the response cache through the OpenAI Batch API (half the price, answers within 24 h).

:func:`fill` takes the calls a dry plan pass collected, skips those already cached, uploads the
rest as JSONL files (one batch per 50,000 lines or 200 MB), polls the batches and stores every
usable answer exactly as a live call would, so a later replay cannot tell the two apart.

Every batch has a state file in ``state_dir``, written *before* the batch is created (the id is
added once the server confirms it). A fill stopped at any point (Ctrl-C, SIGKILL, a timeout)
therefore finds its batches on the next run and polls them instead of paying twice. State
files hold the batch and file ids, the endpoint, the model and the cache-key components of each
line; never an API key or a header.

Over 800 lines: one fill is one object (``_Fill``, about 600 lines) whose steps (resume,
upload, create, poll, download, store, clean up) share its state files, counters and
budget, and the tests drive it through :func:`fill` alone; the types a fill reports are
the first 250 lines.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from ..config import ModelSpec, Price
from ..errors import ConfigError, ModelCallError
from ..util import schema
from ..util.safejson import loads as json_loads
from .cache import ResponseCache
from .client import excerpt, request_body, server_message
from .entries import entry_from_response
from .keys import CacheKey, key_of_components, utc_now
from .planning import Call
from .response import InvalidResponse, Response, check_completion

if TYPE_CHECKING:
    import openai

__all__ = [
    "MAX_BYTES",
    "MAX_LINES",
    "BatchOutcome",
    "BatchProgress",
    "BatchStateError",
    "LineError",
    "fill",
]

STATE_FORMAT = "pytest-modelprov-batch"
STATE_VERSION = 1
STATE_SCHEMA = "batch_state.schema.json"
#: the Batch API's limits per input file
MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024
CHAT_ENDPOINT: Final = "/v1/chat/completions"
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_MESSAGE_CHARS = 500
_FIRST_ERRORS = 10
# a poll that fails this many times in a row stops the fill (the state stays, to resume)
_POLL_FAILURES = 5
_TRANSFER_TIMEOUT = 600.0  # uploads and downloads of up to 200 MB
_BATCH_ID = re.compile(r'"batch_id"\s*:\s*"([^"\\]+)"')


class BatchStateError(ConfigError):
    """A state file in the batch state directory cannot be read; it was renamed aside."""


@dataclass(frozen=True)
class BatchProgress:
    """One poll of one batch, for a progress line."""

    batch_id: str
    status: str
    total: int
    completed: int
    failed: int
    batches: int  # batches this fill is waiting on
    finished: int  # of those, how many have ended

    def __str__(self) -> str:
        return (
            f"batch {self.batch_id}: {self.status}, {self.completed}/{self.total} done, "
            f"{self.failed} failed ({self.finished}/{self.batches} batches ended)"
        )


@dataclass(frozen=True)
class LineError:
    """Why one call of a batch got no stored answer."""

    key: str
    batch_id: str
    status: int | None  # HTTP status of the line, None when the batch gave no response
    message: str

    def __str__(self) -> str:
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        return f"key {self.key[:12]}… in {self.batch_id}: {status}: {self.message}"


@dataclass
class BatchOutcome:
    """What one :func:`fill` did. ``summary()`` is the human version."""

    name: str
    model: str
    url: str
    state_dir: Path
    requested: int = 0  # distinct keys asked for
    already_cached: int = 0
    submitted: int = 0  # lines sent in new batches (resubmitted ones included)
    resubmitted: int = 0  # of those, calls whose earlier batch was unknown or gave no answer
    resumed: int = 0  # calls covered by batches found in the state directory
    filled: int = 0  # answers this fill stored
    invalid_lines: int = 0  # result lines with an unknown or repeated custom_id, or garbage
    prompt_tokens: int = 0  # usage of the answers stored (reasoning counts as completion)
    completion_tokens: int = 0
    batches_submitted: list[str] = field(default_factory=list)
    batches_resumed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # batches still running at the timeout
    pending_calls: int = 0
    unfilled: list[str] = field(default_factory=list)  # requested keys ended without an answer
    errors: list[LineError] = field(default_factory=list)  # the first few, for unfilled keys
    invalid: list[str] = field(default_factory=list)  # the first few invalid lines, described
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.unfilled)

    def cost(self, price: Price | None) -> float | None:
        """USD for the stored answers at the Batch API's half price; None without a price."""
        if price is None:
            return None
        return price.cost(self.prompt_tokens, self.completion_tokens) / 2

    @property
    def complete(self) -> bool:
        """Every requested call has a cached answer."""
        return not self.unfilled and not self.pending

    def summary(self) -> str:
        head = (
            f"modelprov batch fill for {self.model} at {self.url} ({self.name}): "
            f"{self.requested} calls, {self.already_cached} already cached, "
            f"{self.submitted} submitted in {len(self.batches_submitted)} "
            f"batch{'es' * (len(self.batches_submitted) != 1)}"
        )
        if self.resubmitted:
            head += f" ({self.resubmitted} of them again)"
        if self.batches_resumed:
            head += f", {self.resumed} resumed from {len(self.batches_resumed)} earlier batches"
        lines = [
            head + f"; {self.filled} answers stored ({self.prompt_tokens} prompt and "
            f"{self.completion_tokens} completion tokens)."
        ]
        if self.unfilled:
            lines.append(
                f"{len(self.unfilled)} calls got no usable answer; a re-run submits them again:"
            )
            lines.extend(f"  {e}" for e in self.errors)
            if len(self.unfilled) > len(self.errors):
                lines.append(f"  … and {len(self.unfilled) - len(self.errors)} more")
        if self.invalid_lines:
            lines.append(f"{self.invalid_lines} result lines were unusable and not stored:")
            lines.extend(f"  {text}" for text in self.invalid)
        lines.extend(self.notes)
        if self.pending:
            lines.append(
                f"{len(self.pending)} batches ({self.pending_calls} calls) are still running: "
                f"{', '.join(self.pending)}. Their state is kept in {self.state_dir}; the next "
                "batch fill polls them instead of submitting again."
            )
        return "\n".join(lines)


@dataclass
class _State:
    path: Path
    data: dict[str, Any]
    keys: dict[str, CacheKey]

    @property
    def batch_id(self) -> str | None:
        value = self.data.get("batch_id")
        return value if isinstance(value, str) else None


@dataclass
class _Tracked:
    state: _State
    resumed: bool
    failures: int = 0


@dataclass
class FillReport:
    """What a ``--modelprov-batch`` fill did, for the run's summary (here, not in batchfill,
    so the session can hold one without importing the module that drives the session)."""

    lines: list[str] = field(default_factory=list)
    complete: bool = True
    submitted: int = 0
    filled: int = 0
    rounds: int = 0


def fill(
    sdk: openai.OpenAI,
    spec: ModelSpec,
    calls: Sequence[Call],
    cache: ResponseCache,
    *,
    run_id: str,
    state_dir: Path,
    poll_interval: float = 5.0,
    timeout: float | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    max_lines: int = MAX_LINES,
    max_bytes: int = MAX_BYTES,
) -> BatchOutcome:
    """Get answers for ``calls`` of ``spec`` through the Batch API and store them in ``cache``.

    Calls already cached are skipped; calls covered by a batch in ``state_dir`` are polled, not
    submitted again. Waits until every batch ended or ``timeout`` seconds passed (``0``:
    submit and return); batches still running then stay in ``state_dir`` for the next fill.
    Raises ModelCallError when an upload, batch creation or download fails, and
    BatchStateError for an unreadable state file (renamed aside, never deleted).
    """
    if not (math.isfinite(poll_interval) and poll_interval >= 0):
        raise ValueError(f"poll_interval: must be >= 0 seconds, got {poll_interval!r}")
    if timeout is not None and not (timeout >= 0):
        raise ValueError(f"timeout: must be >= 0 seconds or None, got {timeout!r}")
    if max_lines < 1 or max_bytes < 1:
        raise ValueError("max_lines and max_bytes must be >= 1")
    return _Fill(sdk, spec, cache, run_id, Path(state_dir), progress, max_lines, max_bytes).run(
        calls, poll_interval, timeout
    )


class _Fill:
    def __init__(
        self,
        sdk: openai.OpenAI,
        spec: ModelSpec,
        cache: ResponseCache,
        run_id: str,
        state_dir: Path,
        progress: Callable[[BatchProgress], None] | None,
        max_lines: int,
        max_bytes: int,
    ) -> None:
        self.sdk = sdk
        self.spec = spec
        self.cache = cache
        self.run_id = run_id
        self.state_dir = state_dir
        self.progress = progress
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.outcome = BatchOutcome(spec.name, spec.model, spec.display_url, state_dir)
        self.reasons: dict[str, LineError] = {}  # the last known reason a key has no answer
        self._orphaned: set[str] = set()  # keys of batches from state files that are gone
        self._batches = 0  # batches this fill waits on, and how many of them ended
        self._ended = 0

    # -- the whole fill ----------------------------------------------------------------------

    def run(
        self, calls: Sequence[Call], poll_interval: float, timeout: float | None
    ) -> BatchOutcome:
        out = self.outcome
        wanted = self._wanted(calls)
        out.requested = len(wanted)
        missing = {d: c for d, c in wanted.items() if self.cache.get(d) is None}
        out.already_cached = len(wanted) - len(missing)
        deadline = None if timeout is None else time.monotonic() + timeout

        active: list[_Tracked] = []
        covered: set[str] = set()
        for state in self._load_states():
            tracked = self._resume(state)
            if tracked is not None:
                active.append(tracked)
                covered.update(state.keys)
                out.resumed += len(missing.keys() & state.keys.keys())
        sent: set[str] = set()  # each key is submitted at most once per fill
        fresh = [c for d, c in missing.items() if d not in covered]
        out.resubmitted += sum(1 for c in fresh if c.key.digest in self._orphaned)
        active.extend(self._submit(fresh, sent))

        while active:
            still: list[_Tracked] = []
            for tracked in active:
                batch = self._poll(tracked)
                if batch is None:
                    still.append(tracked)
                    continue
                if str(batch.get("status")) not in TERMINAL:
                    self._report(tracked, batch)
                    still.append(tracked)
                    continue
                self._ended += 1
                self._report(tracked, batch)
                self._harvest(tracked, batch)
                if tracked.resumed:
                    again = [
                        missing[d]
                        for d in tracked.state.keys
                        if d in missing and d not in sent and self.cache.get(d) is None
                    ]
                    out.resubmitted += len(again)
                    still.extend(self._submit(again, sent))
            active = still
            if not active:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                out.pending = [t.state.batch_id or t.state.data["input_file_id"] for t in active]
                out.pending_calls = sum(len(t.state.keys) for t in active)
                break
            wait = poll_interval if deadline is None else min(poll_interval, deadline - now)
            time.sleep(max(0.0, wait))

        waiting = {d for t in active for d in t.state.keys}
        out.unfilled = [d for d in wanted if d not in waiting and self.cache.get(d) is None]
        out.errors = [self.reasons[d] for d in out.unfilled if d in self.reasons][:_FIRST_ERRORS]
        return out

    def _wanted(self, calls: Sequence[Call]) -> dict[str, Call]:
        wanted: dict[str, Call] = {}
        for call in calls:
            components = call.key.components
            if (components.get("endpoint"), components.get("model")) != (
                self.spec.cache_endpoint,
                self.spec.model,
            ):
                raise ConfigError(
                    f"modelprov: batch fill for {self.spec.model} at {self.spec.display_url} "
                    f"({self.spec.name}) was given a call planned for {components.get('model')} "
                    f"at {components.get('endpoint')}; fill each model with its own calls."
                )
            wanted.setdefault(call.key.digest, call)
        return wanted

    # -- state files --------------------------------------------------------------------------

    def _load_states(self) -> list[_State]:
        if not self.state_dir.is_dir():
            return []
        states = []
        for path in sorted(self.state_dir.glob("batch-*.json")):
            state = self._read_state(path)
            if (state.data["endpoint"], state.data["model"]) == (
                self.spec.cache_endpoint,
                self.spec.model,
            ):
                states.append(state)
        return states

    def _read_state(self, path: Path) -> _State:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            self._corrupt(path, "", "it is not UTF-8 text")
        except OSError as exc:
            raise BatchStateError(
                f"modelprov: cannot read batch state file {path}: {exc.strerror or exc}"
            ) from None
        try:
            data = json_loads(text)
        except ValueError as exc:
            self._corrupt(path, text, f"not valid JSON: {exc}")
        found = schema.problems(data, STATE_SCHEMA)
        if found:
            at, message = found[0]
            self._corrupt(path, text, f"does not match schemas/{STATE_SCHEMA} at {at}: {message}")
        keys: dict[str, CacheKey] = {}
        for item in data["calls"]:
            try:
                key = key_of_components(item["request"])
            except ValueError as exc:  # NaN, or 1e400 read as inf: no key can hold them
                self._corrupt(path, text, f"a request cannot be keyed: {exc}")
            if key != item["key"]:
                self._corrupt(
                    path, text, f"key {item['key'][:12]}… does not match its request fields"
                )
            keys[item["key"]] = CacheKey(item["key"], item["request"])
        return _State(path, data, keys)

    def _corrupt(self, path: Path, text: str, why: str) -> NoReturn:
        aside = path.with_name(path.name + ".corrupt")
        number = 1
        while aside.exists():
            number += 1
            aside = path.with_name(f"{path.name}.corrupt{number}")
        try:
            os.replace(path, aside)
            where = f"It was renamed to {aside} (not deleted)"
        except OSError as exc:
            where = f"It could not be renamed aside ({exc.strerror or exc}); move it yourself"
        found = _BATCH_ID.search(text)
        batch = (
            f"it names batch {found[1]}, which may still be running and is paid for: check it "
            "in the provider's dashboard"
            if found
            else "its batch, if one was created, may still be running: check the provider's "
            "dashboard"
        )
        raise BatchStateError(
            f"modelprov: batch state file {path} is unreadable: {why}. {where}; {batch}. "
            "Run the batch fill again to submit the calls it covered anew."
        )

    def _write_state(self, state: _State) -> None:
        # ASCII JSON: a lone surrogate in a prompt must not make the state unwritable
        text = json.dumps(state.data)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".batch-", suffix=".tmp", dir=self.state_dir)
        except OSError as exc:
            raise BatchStateError(
                f"modelprov: cannot write batch state file {state.path}: "
                f"{exc.strerror or exc}. No batch was created for input file "
                f"{state.data['input_file_id']}; make the directory writable."
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, state.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _drop_state(self, state: _State) -> None:
        state.path.unlink(missing_ok=True)

    # -- resuming ----------------------------------------------------------------------------

    def _resume(self, state: _State) -> _Tracked | None:
        """The batch of a state file to poll, or None when there is nothing to wait for."""
        if all(self.cache.get(d) is not None for d in state.keys):
            # every answer is in (a crash after storing, before dropping the state): a batch
            # still running would only pay for answers nobody reads
            if state.batch_id is not None:
                with contextlib.suppress(Exception):
                    self.sdk.batches.cancel(state.batch_id)
            self._drop_state(state)
            return None
        if state.batch_id is None:
            # interrupted between upload and confirmation: the batch may exist or not
            batch_id = self._find_batch(state)
            if batch_id is None:
                self._forget(state, "was never created (the run stopped while creating it)")
                return None
            state.data["batch_id"] = batch_id
            self._write_state(state)
        try:
            self._call(
                "poll", lambda: self.sdk.batches.retrieve(state.batch_id or ""), missing=True
            )
        except _NotFound:
            self._forget(
                state,
                f"is not known at {self.spec.display_url} (made on another server or with "
                "another key or project, or deleted)",
            )
            return None
        except ModelCallError as exc:
            if not _transient(exc):
                raise
            # a blip: the poll loop tries again, and gives up after a few in a row
        self.outcome.batches_resumed.append(state.batch_id or "")
        self._batches += 1
        return _Tracked(state, resumed=True)

    def _forget(self, state: _State, why: str) -> None:
        self._orphaned.update(state.keys)
        self.outcome.notes.append(
            f"Batch {state.batch_id or '(for input file ' + state.data['input_file_id'] + ')'} "
            f"from {state.path.name} {why}; its {len(state.keys)} calls were submitted again "
            "if still missing."
        )
        self._drop_state(state)

    def _find_batch(self, state: _State) -> str | None:
        wanted = state.data["input_file_id"]
        since = float(state.data.get("created_unix") or 0) - 3600

        def search() -> str | None:
            # newest first; the SDK fetches older pages as the loop reaches them
            for batch in self.sdk.batches.list(limit=100):
                if batch.input_file_id == wanted:
                    return str(batch.id)
                if batch.created_at < since:
                    break
            return None

        try:
            found: str | None = self._call("batch list", search, missing=True)
        except _NotFound:
            return None
        return found

    # -- submitting --------------------------------------------------------------------------

    def _submit(self, calls: Sequence[Call], sent: set[str]) -> list[_Tracked]:
        tracked = []
        for chunk in self._chunks(calls):
            tracked.append(self._submit_one(chunk))
            sent.update(c.key.digest for c, _ in chunk)
            self.outcome.submitted += len(chunk)
        return tracked

    def _chunks(self, calls: Sequence[Call]) -> Iterable[list[tuple[Call, bytes]]]:
        chunk: list[tuple[Call, bytes]] = []
        size = 0
        for call in calls:
            line = self._line(call)
            if len(line) > self.max_bytes:
                raise ModelCallError(
                    f"modelprov: one request for {self.spec.model} ({self.spec.name}) is "
                    f"{len(line)} bytes, more than a batch file may hold ({self.max_bytes}); "
                    "sample it live instead."
                )
            if chunk and (len(chunk) >= self.max_lines or size + len(line) > self.max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append((call, line))
            size += len(line)
        if chunk:
            yield chunk

    def _line(self, call: Call) -> bytes:
        record = {
            "custom_id": call.key.digest,
            "method": "POST",
            "url": CHAT_ENDPOINT,
            "body": request_body(self.spec, call),
        }
        try:
            return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in a prompt: JSON escapes carry it
            return (json.dumps(record) + "\n").encode("ascii")

    def _submit_one(self, chunk: list[tuple[Call, bytes]]) -> _Tracked:
        data = b"".join(line for _, line in chunk)
        uploaded = self._call(
            "batch input upload",
            lambda: self.sdk.files.create(
                file=("modelprov-batch.jsonl", data, "application/jsonl"),
                purpose="batch",
                timeout=_TRANSFER_TIMEOUT,
            ),
            created="no batch was created and nothing was written to the state directory",
        )
        file_id = str(uploaded.id)
        state = _State(
            self.state_dir / f"batch-{_safe(file_id)}.json",
            {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "batch_id": None,
                "input_file_id": file_id,
                "endpoint": self.spec.cache_endpoint,
                "url": self.spec.display_url,
                "model": self.spec.model,
                "name": self.spec.name,
                "run": self.run_id,
                "created_at": utc_now(),
                "created_unix": time.time(),
                "calls": [{"key": c.key.digest, "request": c.key.components} for c, _ in chunk],
            },
            {c.key.digest: c.key for c, _ in chunk},
        )
        # written before the batch exists: a run killed while creating it finds it by file id
        self._write_state(state)
        try:
            batch = self._call(
                "batch creation",
                lambda: self.sdk.batches.create(
                    input_file_id=file_id,
                    endpoint=CHAT_ENDPOINT,
                    completion_window="24h",
                    metadata={"modelprov_run": self.run_id[:512]},
                ),
                created=f"the batch does not exist; input file {file_id} stays on the server "
                "until it expires",
            )
        except ModelCallError:
            self._drop_state(state)
            raise
        state.data["batch_id"] = str(batch.id)
        self._write_state(state)
        self.outcome.batches_submitted.append(str(batch.id))
        self._batches += 1
        return _Tracked(state, resumed=False)

    # -- polling -----------------------------------------------------------------------------

    def _poll(self, tracked: _Tracked) -> dict[str, Any] | None:
        """The batch as the server has it now; None after a transient failure."""
        batch_id = tracked.state.batch_id or ""
        try:
            batch = self._call("poll", lambda: self.sdk.batches.retrieve(batch_id), missing=True)
        except _NotFound:
            # known a moment ago; gone now: nothing more will come of it
            return {"id": batch_id, "status": "cancelled", "vanished": True}
        except ModelCallError as exc:
            if not _transient(exc):
                raise
            tracked.failures += 1
            if tracked.failures >= _POLL_FAILURES:
                raise ModelCallError(
                    f"{exc} ({tracked.failures} polls in a row failed; the state in "
                    f"{tracked.state.path} is kept, so the next batch fill resumes batch "
                    f"{batch_id})",
                    status=exc.status,
                    attempts=tracked.failures,
                ) from None
            return None
        tracked.failures = 0
        result: dict[str, Any] = batch.model_dump()
        return result

    def _report(self, tracked: _Tracked, batch: Mapping[str, Any]) -> None:
        if self.progress is None:
            return
        counts = batch.get("request_counts") or {}
        self.progress(
            BatchProgress(
                batch_id=str(batch.get("id")),
                status=str(batch.get("status")),
                total=int(counts.get("total") or len(tracked.state.keys)),
                completed=int(counts.get("completed") or 0),
                failed=int(counts.get("failed") or 0),
                batches=self._batches,
                finished=self._ended,
            )
        )

    # -- results -----------------------------------------------------------------------------

    def _harvest(self, tracked: _Tracked, batch: Mapping[str, Any]) -> None:
        state = tracked.state
        batch_id = str(batch.get("id"))
        status = str(batch.get("status"))
        keys = state.keys
        answered: set[str] = set()
        invalid_before = self.outcome.invalid_lines
        if batch.get("vanished"):
            self.outcome.notes.append(f"Batch {batch_id} disappeared from the server while polled.")
        if status == "failed":
            errors = (batch.get("errors") or {}).get("data") or []
            text = "; ".join(
                _cut(f"{e.get('code') or 'error'}: {e.get('message')}") for e in errors[:3]
            )
            self.outcome.notes.append(f"Batch {batch_id} failed: {text or 'no reason given'}.")
            for digest in keys:
                self._reason(digest, batch_id, None, f"the batch failed: {text}")
        output = self._download(batch.get("output_file_id"), batch_id, "output")
        errors_file = self._download(batch.get("error_file_id"), batch_id, "error")
        for custom_id, record in self._records(output, keys, batch_id, "output", answered):
            self._store(keys[custom_id], record, batch_id)
        for custom_id, record in self._records(errors_file, keys, batch_id, "error", answered):
            status_code, message = _error_of(record)
            self._reason(custom_id, batch_id, status_code, message)
        if status != "failed":
            for digest in keys.keys() - answered:
                what = {
                    "expired": "the batch expired before it was run",
                    "cancelled": "the batch was cancelled before it was run",
                }.get(status, "no result line for it in the batch output")
                self._reason(digest, batch_id, None, what)
        # every line is stored or reported: the batch needs no more watching
        self._drop_state(state)
        if status == "failed" or self.outcome.invalid_lines > invalid_before:
            # the report quotes only the first lines: keep the files to look into
            self.outcome.notes.append(
                f"The files of batch {batch_id} are kept at the provider: it "
                + ("failed" if status == "failed" else "returned unusable lines")
                + "; delete them once looked into."
            )
            return
        # the answers are in the cache now; the files would only fill the provider's storage
        for file_id in (
            state.data["input_file_id"],
            batch.get("output_file_id"),
            batch.get("error_file_id"),
        ):
            self._delete_file(file_id, batch_id)

    def _delete_file(self, file_id: Any, batch_id: str) -> None:
        if not isinstance(file_id, str) or not file_id:
            return
        try:
            self._call(
                "file deletion",
                lambda: self.sdk.files.delete(file_id, timeout=_TRANSFER_TIMEOUT),
                missing=True,
            )
        except _NotFound:
            pass  # already gone (expired, or deleted by hand): nothing to clean up
        except ModelCallError as exc:
            self.outcome.notes.append(
                f"File {file_id} of batch {batch_id} could not be deleted ({exc}); its answers "
                "are stored, so it can be deleted by hand."
            )

    def _download(self, file_id: Any, batch_id: str, what: str) -> bytes:
        if not isinstance(file_id, str) or not file_id:
            return b""
        try:
            content = self._call(
                f"{what} file download",
                lambda: self.sdk.files.content(file_id, timeout=_TRANSFER_TIMEOUT),
                missing=True,
            )
        except _NotFound:
            self.outcome.notes.append(
                f"The {what} file {file_id} of batch {batch_id} is gone from the server "
                "(batch files expire after 30 days); its calls were not filled."
            )
            return b""
        return bytes(content.content)

    def _records(
        self,
        data: bytes,
        keys: Mapping[str, CacheKey],
        batch_id: str,
        what: str,
        answered: set[str],
    ) -> Iterable[tuple[str, dict[str, Any]]]:
        """The usable records of a result file; invalid lines are counted and described.

        Keys with a line (usable or not) are added to ``answered``.
        """
        parsed: list[tuple[int, str, dict[str, Any]]] = []
        # "\n" only: answers may hold U+2028 and friends, which splitlines() would cut at
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                record = json_loads(raw.decode("utf-8"))
            except ValueError:  # UnicodeDecodeError included
                self._invalid(f"{what} file of {batch_id} line {number}: not a JSON line")
                continue
            custom_id = record.get("custom_id") if isinstance(record, dict) else None
            if not isinstance(custom_id, str):
                self._invalid(f"{what} file of {batch_id} line {number}: no custom_id")
                continue
            parsed.append((number, custom_id, record))
        seen = Counter(custom_id for _, custom_id, _ in parsed)
        for number, custom_id, record in parsed:
            where = f"{what} file of {batch_id} line {number}"
            if custom_id not in keys:
                self._invalid(f"{where}: custom_id {excerpt(custom_id, 40)!r} was never sent")
                continue
            answered.add(custom_id)
            if seen[custom_id] > 1:
                # which copy is right cannot be known: neither is stored
                self._invalid(f"{where}: custom_id {custom_id[:12]}… appears {seen[custom_id]}x")
                self._reason(custom_id, batch_id, None, "its result line appeared twice")
            else:
                yield custom_id, record

    def _store(self, key: CacheKey, record: Mapping[str, Any], batch_id: str) -> None:
        response = record.get("response")
        status = response.get("status_code") if isinstance(response, Mapping) else None
        body = response.get("body") if isinstance(response, Mapping) else None
        if status != 200:
            code, message = _error_of(record)
            self._reason(key.digest, batch_id, code, message)
            return
        try:
            check_completion(body)
            assert isinstance(body, dict)
            answer = Response.from_body(
                body,
                messages=key.components["messages"],
                prompt_index=0,
                replicate=int(key.components["replicate"]),
                requested_model=self.spec.model,
                cached=False,
                key=key.digest,
            )
            cacheable = answer.cacheable
        except (InvalidResponse, TypeError, KeyError, AttributeError, ValueError) as exc:
            self._invalid(f"output of {batch_id} for key {key.digest[:12]}…: {_cut(str(exc))}")
            self._reason(key.digest, batch_id, 200, f"unusable answer: {_cut(str(exc))}")
            return
        if not cacheable:
            # what a live call does too: an empty or filtered answer is never replayed
            self._reason(
                key.digest,
                batch_id,
                200,
                f"answer not cacheable (finish_reason {answer.finish_reason!r}, "
                f"{'empty' if not answer.answer.strip() else 'filtered'})",
            )
            return
        stored = self.cache.put(entry_from_response(key, body, self.run_id))
        if stored.response is body:
            self.outcome.filled += 1
            self.outcome.prompt_tokens += answer.usage.prompt_tokens
            self.outcome.completion_tokens += answer.usage.completion_tokens
        else:  # recorded meanwhile by a live run; the first answer stays
            self.outcome.already_cached += 1

    def _reason(self, digest: str, batch_id: str, status: int | None, message: str) -> None:
        self.reasons[digest] = LineError(digest, batch_id, status, _cut(message))

    def _invalid(self, text: str) -> None:
        self.outcome.invalid_lines += 1
        if len(self.outcome.invalid) < _FIRST_ERRORS:
            self.outcome.invalid.append(_cut(text))

    # -- the SDK ------------------------------------------------------------------------------

    def _call(
        self, what: str, request: Callable[[], Any], *, created: str = "", missing: bool = False
    ) -> Any:
        """Run one SDK request; failures become ModelCallError naming the endpoint.

        With ``missing``, HTTP 404 raises _NotFound instead: the caller has a plan for it.
        """
        import openai

        try:
            return request()
        except openai.APIStatusError as exc:
            status: int | None = exc.status_code
            detail = f"HTTP {status}: {server_message(exc)}"
        except openai.APITimeoutError:
            status, detail = None, "timed out"
        except openai.APIConnectionError as exc:
            status, detail = None, f"connection failed: {exc.__cause__ or exc}"
        message = (
            f"modelprov: {what} at {self.spec.display_url} for {self.spec.model} "
            f"({self.spec.name}) failed: {detail}"
        )
        if created:
            message += f"; {created}"
        key = self.sdk.api_key
        if key:
            message = message.replace(key, "***")
        error = ModelCallError(message, status=status)
        if missing and status == 404:
            raise _NotFound(error)
        raise error


class _NotFound(Exception):
    def __init__(self, error: ModelCallError) -> None:
        super().__init__(str(error))
        self.error = error


def _transient(exc: ModelCallError) -> bool:
    return exc.status is None or exc.status >= 500 or exc.status in (408, 409, 429)


def _error_of(record: Mapping[str, Any]) -> tuple[int | None, str]:
    """(HTTP status, message) of an error-file line, in either shape the API writes."""
    response = record.get("response")
    status = None
    message = ""
    if isinstance(response, Mapping):
        code = response.get("status_code")
        status = code if isinstance(code, int) and not isinstance(code, bool) else None
        body = response.get("body")
        err = body.get("error") if isinstance(body, Mapping) else None
        if isinstance(err, Mapping):
            message = str(err.get("message") or err.get("code") or "")
        elif body is not None:
            message = json.dumps(body, ensure_ascii=False)[:_MESSAGE_CHARS]
    err = record.get("error")
    if not message and isinstance(err, Mapping):
        code_name = err.get("code")
        message = f"{code_name}: {err.get('message')}" if code_name else str(err.get("message"))
    return status, _cut(message or "no error message")


def _cut(text: str) -> str:
    return excerpt(text, _MESSAGE_CHARS)


def _safe(identifier: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", identifier)[:120]
