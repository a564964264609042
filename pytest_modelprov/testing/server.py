"""A scripted, OpenAI-compatible chat-completions server bound to loopback only.

Used by the project's own tests through the real ``openai`` SDK and by users who want to run
their model suites offline::

    with LocalServer(Script(rules=[Rule("capital of France", ["Paris"])])) as server:
        client = openai.OpenAI(base_url=server.url, api_key="sk-test")

Run ``python -m pytest_modelprov.testing.server --script FILE`` to serve a script from the shell.

It also serves the subset of the Files and Batches API that a batch fill uses (upload a JSONL
file, create a batch, poll it, download its output and error files, cancel it). Batch lines
are answered by the same rules as live requests, so a cache filled from a batch replays like
one recorded live. Batches live in memory only: a new server does not know old batch ids.

Over 800 lines: :class:`LocalServer` (its state, the scripted answers, files and batches)
and its HTTP request handler are one unit: the handler calls ten of the server's methods
that run under its lock, and a module boundary between them would only restate those
methods as an interface. The script types are in :mod:`.script`, the request parsing and
answer encoding in :mod:`.wire`.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import math
import random
import re
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from .script import (
    BatchEnding,
    BatchFault,
    Fault,
    RecordedRequest,
    Rule,
    Script,
)
from .wire import (
    _CHAT_PATH,
    _ApiError,
    _content_text,
    _count_tokens,
    _default_answer,
    _dumps,
    _dumps_invalid_utf8,
    _encode,
    _error_type,
    _last_user_text,
    _list_query,
    _model_object,
    _parse_api_object,
    _parse_batch_input,
    _parse_multipart,
    _parse_object,
    _validate_chat,
)

__all__ = [
    "LocalServer",
    "main",
]

#: how long a ``trickle`` fault dribbles whitespace before the answer, unless hung up on
TRICKLE_SECONDS = 30.0
#: how deep a ``deep_json`` fault nests its extra field (Python's decoder recurses per level)
DEEP_JSON_LEVELS = 100_000
# Faults whose response has nothing to do with the request, so they skip validation.
_REPLACING_FAULTS = frozenset({"status", "malformed", "error_200", "redirect"})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MODELS_PATH = "/v1/models"
_FILES_PATH = "/v1/files"
_BATCHES_PATH = "/v1/batches"
_JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_BATCH_RE = re.compile(r"/v1/batches/([^/]+)")
_BATCH_CANCEL_RE = re.compile(r"/v1/batches/([^/]+)/cancel")
_FILE_RE = re.compile(r"/v1/files/([^/]+)")
_FILE_CONTENT_RE = re.compile(r"/v1/files/([^/]+)/content")
_BATCH_ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
_BATCH_STARTED = ("in_progress", "finalizing")


@dataclass
class _StoredFile:
    meta: dict[str, Any]
    data: bytes


@dataclass
class _Batch:
    id: str
    input_file_id: str
    lines: list[dict[str, Any]]
    ending: BatchEnding
    delay: float
    created_at: int
    started: float  # monotonic
    metadata: dict[str, Any] | None
    model: str | None
    status: str = "validating"
    cancel_started: float | None = None
    cancelling_at: int | None = None
    done: dict[str, Any] = field(default_factory=dict)  # API fields set when the batch ended


class LocalServer:
    """Serves a :class:`Script` over HTTP on loopback; ``url`` is the SDK ``base_url``.

    ``batch_delay`` is how long a batch takes from creation to completion (its lines are
    answered then, by the script's rules, and counted in ``batch_lines_served``, never in
    ``request_count``).
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        batch_delay: float = 0.05,
    ) -> None:
        if host not in _LOOPBACK_HOSTS:
            raise ValueError(
                f"LocalServer only binds loopback; refusing host {host!r} "
                f"(use one of {sorted(_LOOPBACK_HOSTS)})"
            )
        if isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"port: must be 0-65535, got {port!r}")
        if not math.isfinite(batch_delay) or batch_delay < 0:
            raise ValueError(f"batch_delay: must be a finite number >= 0, got {batch_delay!r}")
        #: seconds from the creation of a batch to its end; validating, in_progress and
        #: finalizing take a third each. Applies to batches created after a change.
        self.batch_delay = float(batch_delay)
        #: when set, ``DELETE /v1/files/{id}`` answers this HTTP error status and keeps the
        #: file (for clients that must survive a failed clean-up)
        self.file_deletion_error: int | None = None
        self.script: Script = script if script is not None else Script()
        # "localhost" may resolve to ::1 or 127.0.0.1 depending on the resolver; pin it.
        self._bind_host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._fault_queue: deque[Fault] = deque()
        self._fault_rate = 0.0
        self._fault_kinds: tuple[Fault, ...] = ()
        self._fault_seed = 0
        self._rng = random.Random(0)
        self._requests: list[RecordedRequest] = []
        self._request_count = 0
        self._faults_served = 0
        self._completion_counter = 0
        self._prompt_counters: dict[str, int] = {}
        self._models_seen: dict[str, None] = {}
        # batch state has its own lock: finishing a batch answers its lines through
        # _complete, which takes self._lock
        self._batch_lock = threading.Lock()
        self._files: dict[str, _StoredFile] = {}
        self._batches: dict[str, _Batch] = {}
        self._batch_faults: list[BatchFault] = []
        self._batch_endings: deque[BatchEnding] = deque()
        self._batch_lines_served = 0
        # set by stop(): a trickling answer stops dribbling
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for ``openai.OpenAI(base_url=...)``, e.g. ``http://127.0.0.1:PORT/v1``."""
        httpd = self._httpd
        if httpd is None:
            raise RuntimeError("LocalServer is not running; call start() or use it as a context")
        host = f"[{self._bind_host}]" if ":" in self._bind_host else self._bind_host
        return f"http://{host}:{httpd.server_port}/v1"

    def start(self) -> LocalServer:
        """Bind and serve in a daemon thread; a no-op if already running."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self._bind_host, self._port), self)
        bound = httpd.socket.getsockname()[0]
        if not ipaddress.ip_address(bound).is_loopback:
            httpd.server_close()
            raise RuntimeError(f"refusing to serve on non-loopback address {bound!r}")
        thread = threading.Thread(
            target=httpd.serve_forever,
            # stop() waits up to one poll for the loop to notice; tests start and stop servers
            # by the hundred, and an idle 10 ms select costs next to nothing.
            kwargs={"poll_interval": 0.01},
            name=f"modelprov-server-{httpd.server_port}",
            daemon=True,
        )
        self._httpd, self._thread = httpd, thread
        self._stopping.clear()
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        self._stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting and faults --------------------------------------------------------------

    def add_rule(
        self,
        match: str,
        *answers: str,
        reasoning: str | None = None,
        reasoning_style: str = "field",
        finish_reason: str = "stop",
        model: str = "",
    ) -> None:
        """Append a rule to the current script (after the existing ones)."""
        rule = Rule(match, list(answers), reasoning, reasoning_style, finish_reason, model)
        with self._lock:
            self.script.rules.append(rule)

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each of the next chat requests consumes one, in order."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"inject() takes Fault objects, got {type(fault).__name__}")
        with self._lock:
            self._fault_queue.extend(faults)

    def set_fault_rate(self, rate: float, kinds: Sequence[Fault], seed: int = 0) -> None:
        """Serve a fault, drawn from ``kinds``, on about ``rate`` of chat requests.

        The draw uses its own RNG seeded with ``seed``, so the same request sequence gets the
        same faults. Queued faults from :meth:`inject` take precedence. ``rate=0`` disables.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate: must be between 0 and 1, got {rate!r}")
        kinds = tuple(kinds)
        if rate > 0 and not kinds:
            raise ValueError("kinds: at least one Fault is needed when rate > 0")
        for fault in kinds:
            if not isinstance(fault, Fault):
                raise TypeError(f"kinds: expected Fault objects, got {type(fault).__name__}")
        with self._lock:
            self._fault_rate = rate
            self._fault_kinds = kinds
            self._fault_seed = seed
            self._rng = random.Random(seed)

    def add_batch_fault(self, *faults: BatchFault) -> None:
        """Apply ``faults`` to matching lines of every batch from now on (first match wins)."""
        for fault in faults:
            if not isinstance(fault, BatchFault):
                raise TypeError(f"add_batch_fault() takes BatchFault objects, got {fault!r}")
        with self._batch_lock:
            self._batch_faults.extend(faults)

    def inject_batch(self, *endings: BatchEnding) -> None:
        """Queue how the next batches end; each created batch consumes one, in order."""
        for ending in endings:
            if not isinstance(ending, BatchEnding):
                raise TypeError(f"inject_batch() takes BatchEnding objects, got {ending!r}")
        with self._batch_lock:
            self._batch_endings.extend(endings)

    # -- observation -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every chat-completions request received (faulted and invalid ones too), in order."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """Number of chat-completions requests received."""
        with self._lock:
            return self._request_count

    @property
    def faults_served(self) -> int:
        """Number of chat requests that were answered with a fault."""
        with self._lock:
            return self._faults_served

    @property
    def batch_lines_served(self) -> int:
        """Number of batch lines answered; they are not in ``request_count`` or ``requests``."""
        with self._batch_lock:
            return self._batch_lines_served

    @property
    def files(self) -> list[dict[str, Any]]:
        """Every file uploaded or produced by a batch and not deleted, oldest first."""
        with self._batch_lock:
            return [dict(f.meta) for f in self._files.values()]

    @property
    def batches(self) -> list[dict[str, Any]]:
        """Every batch created (its API object as last polled), oldest first."""
        with self._batch_lock:
            return [self._batch_object(b) for b in self._batches.values()]

    def reset(self) -> None:
        """Forget requests, counters, answer cycling and queued faults; keep the script.

        The fault-rate setting is kept and its RNG restarts from its seed, so a reset server
        replays the same faults for the same requests. Batch faults, queued batch endings and
        the batch line count are dropped; files and batches stay, so a client may still poll.
        """
        with self._batch_lock:
            self._batch_faults.clear()
            self._batch_endings.clear()
            self._batch_lines_served = 0
        with self._lock:
            self._requests.clear()
            self._request_count = 0
            self._faults_served = 0
            self._completion_counter = 0
            self._prompt_counters.clear()
            self._models_seen.clear()
            self._fault_queue.clear()
            self._rng = random.Random(self._fault_seed)

    # -- request handling (called from handler threads) ------------------------------------

    def _admit(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[Script, Fault | None]:
        with self._lock:
            self._request_count += 1
            fault: Fault | None = None
            if self._fault_queue:
                fault = self._fault_queue.popleft()
            elif self._fault_rate > 0 and self._rng.random() < self._fault_rate:
                fault = self._fault_kinds[self._rng.randrange(len(self._fault_kinds))]
            if fault is not None:
                self._faults_served += 1
            model = body.get("model")
            if isinstance(model, str) and model:
                self._models_seen[model] = None
            kind = fault.kind if fault is not None else None
            self._requests.append(RecordedRequest(path, body, headers, kind, time.monotonic()))
            return self.script, fault

    def _complete(self, script: Script, body: dict[str, Any]) -> dict[str, Any]:
        messages: list[dict[str, Any]] = body["messages"]
        n: int = body.get("n") or 1
        seed = body.get("seed")
        text = _last_user_text(messages)
        with self._lock:
            rule = next((r for r in script.rules if r.matches(text, body["model"])), None)
            if rule is None:
                answers = [_default_answer(script.default_answer, text)]
            else:
                answers = list(rule.answers)
            self._completion_counter += 1
            number = self._completion_counter
            if isinstance(seed, int):
                start = seed
            else:
                key = json.dumps(messages, sort_keys=True, separators=(",", ":"))
                start = self._prompt_counters.get(key, 0)
                self._prompt_counters[key] = start + n
            model = script.model_aliases.get(body["model"], body["model"])
            fingerprint = script.system_fingerprint

        choices = []
        completion_tokens = reasoning_tokens = 0
        for i in range(n):
            answer = answers[(start + i) % len(answers)]
            message: dict[str, Any] = {"role": "assistant", "content": answer, "refusal": None}
            reasoning = rule.reasoning if rule is not None else None
            if rule is not None and reasoning is not None:
                reasoning_tokens += _count_tokens(reasoning)
                if rule.reasoning_style == "think":
                    message["content"] = f"<think>{reasoning}</think>\n\n{answer}"
                else:
                    message["reasoning_content"] = reasoning
                    completion_tokens += _count_tokens(reasoning)
            completion_tokens += _count_tokens(message["content"])
            choices.append(
                {
                    "index": i,
                    "message": message,
                    "finish_reason": rule.finish_reason if rule is not None else "stop",
                    "logprobs": None,
                }
            )
        prompt_tokens = sum(_count_tokens(_content_text(m.get("content"))) for m in messages)
        return {
            "id": f"chatcmpl-local-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": fingerprint,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
            },
        }

    def _model_ids(self) -> list[str]:
        with self._lock:
            aliases = self.script.model_aliases
            ids = [*aliases, *aliases.values(), *self._models_seen]
        return list(dict.fromkeys(ids))

    # -- files and batches (called from handler threads) -----------------------------------

    def _store_file(self, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        # random ids: a state file naming a batch of an earlier server must never match a
        # batch of this one
        meta: dict[str, Any] = {
            "id": f"file-{uuid.uuid4().hex[:24]}",
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }
        self._files[meta["id"]] = _StoredFile(meta, data)
        return meta

    def _upload(self, fields: dict[str, tuple[str | None, bytes]]) -> dict[str, Any]:
        purpose = fields.get("purpose", (None, b""))[1].decode("utf-8", "replace")
        if purpose != "batch":
            raise _ApiError(
                f"The modelprov local server only accepts purpose 'batch', got {purpose!r}.",
                param="purpose",
            )
        if "file" not in fields:
            raise _ApiError("'file' is a required multipart field.", param="file")
        filename, data = fields["file"]
        _parse_batch_input(data)
        with self._batch_lock:
            return self._store_file(filename or "upload.jsonl", purpose, data)

    def _file(self, file_id: str) -> _StoredFile:
        with self._batch_lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise _ApiError(f"No such File object: {file_id}", 404, param="id")
        return stored

    def _delete_file(self, file_id: str) -> dict[str, Any]:
        if self.file_deletion_error is not None:
            raise _ApiError("injected file deletion failure", self.file_deletion_error)
        with self._batch_lock:
            if self._files.pop(file_id, None) is None:
                raise _ApiError(f"No such File object: {file_id}", 404, param="id")
        return {"id": file_id, "object": "file", "deleted": True}

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise _ApiError("input_file_id is required.", param="input_file_id")
        if body.get("endpoint") != _CHAT_PATH:
            raise _ApiError(
                f"The modelprov local server batches only {_CHAT_PATH}, got "
                f"{body.get('endpoint')!r}.",
                param="endpoint",
            )
        if body.get("completion_window") != "24h":
            raise _ApiError("completion_window must be '24h'.", param="completion_window")
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise _ApiError("metadata must be an object.", param="metadata")
        stored = self._file(file_id)
        if stored.meta["purpose"] != "batch":
            raise _ApiError(f"File {file_id} was not uploaded for purpose 'batch'.", param="id")
        lines = _parse_batch_input(stored.data)
        models = list(dict.fromkeys(str(line["body"].get("model")) for line in lines))
        with self._batch_lock:
            ending = self._batch_endings.popleft() if self._batch_endings else BatchEnding()
            if ending.status == "refused":
                _, code = _error_type(ending.http_status)
                raise _ApiError(ending.message, ending.http_status, code=code)
            if len(models) > 1:  # the real API takes one model per batch
                ending = BatchEnding(
                    "failed", message=f"A batch can use one model only; this file uses {models}."
                )
            batch = _Batch(
                id=f"batch_{uuid.uuid4().hex[:24]}",
                input_file_id=file_id,
                lines=lines,
                ending=ending,
                delay=self.batch_delay,
                created_at=int(time.time()),
                started=time.monotonic(),
                metadata=metadata,
                model=models[0] if len(models) == 1 else None,
            )
            self._batches[batch.id] = batch
            return self._batch_object(batch)

    def _get_batch(self, batch_id: str) -> dict[str, Any]:
        with self._batch_lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                raise _ApiError(f"No such Batch object: {batch_id}", 404, param="batch_id")
            self._advance(batch)
            return self._batch_object(batch)

    def _cancel_batch(self, batch_id: str) -> dict[str, Any]:
        with self._batch_lock:
            batch = self._batches.get(batch_id)
            if batch is None:
                raise _ApiError(f"No such Batch object: {batch_id}", 404, param="batch_id")
            self._advance(batch)
            if batch.status not in _BATCH_ACTIVE:
                raise _ApiError(
                    f"Cannot cancel a batch with status '{batch.status}'.", 409, code="conflict"
                )
            if batch.cancel_started is None:
                batch.cancel_started = time.monotonic()
                batch.cancelling_at = int(time.time())
                batch.status = "cancelling"
            return self._batch_object(batch)

    def _list_batches(self, after: str | None, limit: int) -> dict[str, Any]:
        with self._batch_lock:
            ordered = list(reversed(self._batches.values()))  # newest first, like the API
            if after is not None:
                ids = [b.id for b in ordered]
                ordered = ordered[ids.index(after) + 1 :] if after in ids else []
            page = ordered[:limit]
            for batch in page:
                self._advance(batch)
            data = [self._batch_object(b) for b in page]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(ordered) > limit,
        }

    def _progress(self, batch: _Batch, now: float) -> float:
        """Fraction of the lines a batch has worked through at ``now`` (in_progress phase)."""
        third = batch.delay / 3
        if third <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - batch.started - third) / third))

    def _advance(self, batch: _Batch) -> None:
        """Move a batch along its timeline; the caller holds _batch_lock."""
        if batch.status not in _BATCH_ACTIVE:
            return
        now = time.monotonic()
        third = batch.delay / 3
        if batch.cancel_started is not None:
            if now - batch.cancel_started >= third:
                done = math.floor(len(batch.lines) * self._progress(batch, batch.cancel_started))
                self._finish(batch, "cancelled", done)
            return
        elapsed = now - batch.started
        if batch.ending.status == "failed":
            if elapsed >= third:
                self._finish(batch, "failed", 0)
        elif elapsed < third:
            batch.status = "validating"
        elif elapsed < 2 * third:
            batch.status = "in_progress"
        elif elapsed < batch.delay:
            batch.status = "finalizing"
        elif batch.ending.status == "completed":
            self._finish(batch, "completed", len(batch.lines))
        else:
            self._finish(batch, "expired", math.floor(len(batch.lines) * batch.ending.processed))

    def _finish(self, batch: _Batch, status: str, processed: int) -> None:
        now = int(time.time())
        batch.status = status
        if status == "failed":
            error = {"code": "invalid_batch", "message": batch.ending.message}
            batch.done = {
                "failed_at": now,
                "errors": {"object": "list", "data": [{**error, "param": None, "line": None}]},
            }
            return
        output: list[str] = []
        errors: list[str] = []
        completed = failed = 0
        for index, line in enumerate(batch.lines):
            if index >= processed:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                reason = (
                    "could not be executed before the completion window expired"
                    if status == "expired"
                    else "was not executed because the batch was cancelled"
                )
                record = {
                    "id": f"batch_req_{uuid.uuid4().hex[:24]}",
                    "custom_id": line["custom_id"],
                    "response": None,
                    "error": {"code": code, "message": f"This request {reason}."},
                }
                errors.append(json.dumps(record, ensure_ascii=False))
                failed += 1
                continue
            where, texts = self._answer_line(line)
            if where == "output":
                output.extend(texts)
                completed += 1
            elif where == "error":
                errors.extend(texts)
                failed += 1
        done: dict[str, Any] = {
            f"{status}_at": now,
            "finalizing_at": now,
            "request_counts": {"total": len(batch.lines), "completed": completed, "failed": failed},
            "output_file_id": None,
            "error_file_id": None,
        }
        for suffix, texts in (("output", output), ("error", errors)):
            if texts:
                data = _encode("".join(t + "\n" for t in texts))
                stored = self._store_file(f"{batch.id}_{suffix}.jsonl", "batch_output", data)
                done[f"{suffix}_file_id"] = stored["id"]
        batch.done = done

    def _answer_line(self, line: dict[str, Any]) -> tuple[str, list[str]]:
        """Where one batch line's result goes ("output", "error" or "dropped") and its text."""
        body: dict[str, Any] = line["body"]
        model = body.get("model") if isinstance(body.get("model"), str) else ""
        messages = body.get("messages")
        text = _last_user_text(messages) if isinstance(messages, list) else ""
        fault = next((f for f in self._batch_faults if f.matches(text, str(model))), None)
        kind = fault.kind if fault is not None else None
        if kind == "dropped":
            return "dropped", []
        self._batch_lines_served += 1
        custom_id = line["custom_id"]
        record: dict[str, Any] = {
            "id": f"batch_req_{uuid.uuid4().hex[:24]}",
            "custom_id": custom_id,
            "response": None,
            "error": None,
        }
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        problem = _validate_chat(body)
        if fault is not None and kind == "status":
            error_type, code = _error_type(fault.status)
            error = {"message": fault.message, "type": error_type, "param": None, "code": code}
            status = fault.status
        elif problem is not None:
            error = {
                "message": problem[0],
                "type": "invalid_request_error",
                "param": problem[1],
                "code": None,
            }
            status = 400
        else:
            completion: Any = self._complete(self.script, body)
            if kind == "empty_choices":
                completion["choices"] = []
            elif kind == "error_200" and fault is not None:
                completion = {"error": {"message": fault.message, "type": "server_error"}}
            elif kind == "malformed":
                completion = "<html><body><h1>modelprov</h1><p>bad gateway</p></body></html>"
            if kind == "unknown_id":
                record["custom_id"] = f"modelprov-unknown-{uuid.uuid4().hex[:12]}"
            record["response"] = {"status_code": 200, "request_id": request_id, "body": completion}
            out = json.dumps(record, ensure_ascii=False)
            if kind == "truncated":
                out = out[: len(out) // 2]
            return "output", [out, out] if kind == "duplicate" else [out]
        record["response"] = {
            "status_code": status,
            "request_id": request_id,
            "body": {"error": error},
        }
        return "error", [json.dumps(record, ensure_ascii=False)]

    def _batch_object(self, batch: _Batch) -> dict[str, Any]:
        total = len(batch.lines)
        counts = {"total": total, "completed": 0, "failed": 0}
        if batch.status in _BATCH_STARTED:
            counts["completed"] = math.floor(total * self._progress(batch, time.monotonic()))
        third = batch.delay / 3
        started = batch.status not in ("validating", "failed") or batch.cancel_started is not None
        obj: dict[str, Any] = {
            "id": batch.id,
            "object": "batch",
            "endpoint": _CHAT_PATH,
            "model": batch.model,
            "errors": None,
            "input_file_id": batch.input_file_id,
            "completion_window": "24h",
            "status": batch.status,
            "output_file_id": None,
            "error_file_id": None,
            "created_at": batch.created_at,
            "in_progress_at": math.floor(batch.created_at + third) if started else None,
            "expires_at": batch.created_at + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": batch.cancelling_at,
            "cancelled_at": None,
            "request_counts": counts,
            "metadata": batch.metadata,
        }
        obj.update(batch.done)
        return obj


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Handler threads may be asleep in a "delay" fault; stop() must not wait for them.
    block_on_close = False
    # socketserver's 5 drops connections when 64 clients connect at once; each dropped one
    # costs its client a retry, which a concurrency benchmark would charge to the client
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], owner: LocalServer) -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that can stall offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.socket.getsockname()[:2]
        self.server_name = host
        self.server_port = port

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-answer are expected (delay/reset faults).
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms each.
    disable_nagle_algorithm = True
    server: _HTTPServer
    _responded = False

    def log_message(self, format: str, *args: Any) -> None:
        # Requests carry Authorization headers and tests run it thousands of times: stay silent.
        return

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    # -- routing ---------------------------------------------------------------------------

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_PUT(self) -> None:
        self._dispatch(self._other)

    def do_PATCH(self) -> None:
        self._dispatch(self._other)

    def do_DELETE(self) -> None:
        self._dispatch(self._other)

    def _dispatch(self, route: Callable[[str], None]) -> None:
        self._responded = False
        try:
            route(urlsplit(self.path).path.rstrip("/"))
        except OSError:
            raise
        except Exception as exc:
            # A bug here should reach the test as a readable 500, not as a dropped connection.
            if not self._responded:
                self.close_connection = True
                self._send_error(500, f"modelprov local server error: {exc!r}", "server_error")
            else:
                raise

    def _post(self, path: str) -> None:
        raw = self._read_body()
        owner = self.server.owner
        if path == _CHAT_PATH:
            self._chat(raw)
        elif raw is None:
            self._send_error(400, "Unreadable request body.")
        elif path == _FILES_PATH:
            content_type = self.headers.get("Content-Type", "")
            self._api(lambda: owner._upload(_parse_multipart(content_type, raw)))
        elif path == _BATCHES_PATH:
            self._api(lambda: owner._create_batch(_parse_api_object(raw)))
        elif match := _BATCH_CANCEL_RE.fullmatch(path):
            batch_id = unquote(match[1])
            self._api(lambda: owner._cancel_batch(batch_id))
        else:
            self._not_found_or_not_allowed(path)

    def _api(self, handle: Callable[[], dict[str, Any]]) -> None:
        try:
            payload = handle()
        except _ApiError as exc:
            error_type, _ = _error_type(exc.status)
            self._send_error(exc.status, exc.message, error_type, param=exc.param, code=exc.code)
            return
        self._send_json(200, payload)

    def _get(self, path: str) -> None:
        if self._read_body() is None:
            self._send_error(400, "Unreadable request body.")
            return
        owner = self.server.owner
        if path == _MODELS_PATH:
            data = [_model_object(m) for m in owner._model_ids()]
            self._send_json(200, {"object": "list", "data": data})
        elif path.startswith(_MODELS_PATH + "/"):
            model = unquote(path[len(_MODELS_PATH) + 1 :])
            if model in owner._model_ids():
                self._send_json(200, _model_object(model))
            else:
                message = f"The model '{model}' does not exist"
                self._send_error(404, message, param="model", code="model_not_found")
        elif path == _BATCHES_PATH:
            self._api(lambda: owner._list_batches(*_list_query(self.path)))
        elif match := _BATCH_RE.fullmatch(path):
            batch_id = unquote(match[1])
            self._api(lambda: owner._get_batch(batch_id))
        elif match := _FILE_CONTENT_RE.fullmatch(path):
            try:
                stored = owner._file(unquote(match[1]))
            except _ApiError as exc:
                self._send_error(exc.status, exc.message, param=exc.param)
                return
            self._send(200, stored.data, content_type="application/octet-stream")
        elif match := _FILE_RE.fullmatch(path):
            file_id = unquote(match[1])
            self._api(lambda: owner._file(file_id).meta)
        else:
            self._not_found_or_not_allowed(path)

    def _other(self, path: str) -> None:
        if self._read_body() is None:
            self._send_error(400, "Unreadable request body.")
        elif self.command == "DELETE" and (match := _FILE_RE.fullmatch(path)):
            file_id = unquote(match[1])
            self._api(lambda: self.server.owner._delete_file(file_id))
        else:
            self._not_found_or_not_allowed(path)

    def _not_found_or_not_allowed(self, path: str) -> None:
        if path in (_CHAT_PATH, _MODELS_PATH) or path.startswith(_MODELS_PATH + "/"):
            self._send_error(405, f"Method {self.command} is not allowed on {path}.")
        else:
            self._send_error(
                404, f"Unknown request URL: {self.command} {path}.", code="unknown_url"
            )

    # -- chat completions ------------------------------------------------------------------

    def _chat(self, raw: bytes | None) -> None:
        owner = self.server.owner
        body, parse_problem = _parse_object(raw)
        headers = {name.lower(): value for name, value in self.headers.items()}
        script, fault = owner._admit(self.path, body if body is not None else {}, headers)
        if script.latency > 0:
            time.sleep(script.latency)
        extra = _fault_headers(fault)
        if fault is not None:
            if fault.kind == "reset":
                self._drop_connection()
                return
            if fault.kind in _REPLACING_FAULTS:
                self._send_fault(fault, extra)
                return
            if fault.kind == "delay":
                time.sleep(fault.delay)
        if raw is None:
            self.close_connection = True
            self._send_error(400, "Unreadable request body.")
            return
        if body is None:
            self._send_error(400, parse_problem)
            return
        problem = _validate_chat(body)
        if problem is not None:
            self._send_error(400, problem[0], param=problem[1], headers=extra)
            return
        completion = owner._complete(script, body)
        kind = fault.kind if fault is not None else None
        if kind == "empty_choices":
            completion["choices"] = []
            usage = completion["usage"]
            usage["completion_tokens"] = usage["completion_tokens_details"]["reasoning_tokens"] = 0
            usage["total_tokens"] = usage["prompt_tokens"]
        if kind == "content" and fault is not None:
            choice = completion["choices"][0]
            choice["message"]["content"] = fault.content
            choice["finish_reason"] = fault.finish_reason
        if kind == "nan_usage":
            completion["usage"]["prompt_tokens"] = math.nan
            completion["usage"]["total_tokens"] = math.inf
        if kind == "truncated":
            text = json.dumps(completion, ensure_ascii=False)
            data = _encode(text[: len(text) // 2])
        elif kind == "invalid_utf8":
            data = _dumps_invalid_utf8(completion)
        elif kind == "deep_json":
            completion["extra"] = "@@deep@@"
            deep = b"[" * DEEP_JSON_LEVELS + b"]" * DEEP_JSON_LEVELS
            data = _dumps(completion).replace(b'"@@deep@@"', deep, 1)
        else:
            data = _dumps(completion)
        if kind == "trickle" and fault is not None:
            self._trickle(data, fault.delay or 0.2, extra)
            return
        self._send(200, data, extra)

    def _trickle(self, data: bytes, interval: float, headers: dict[str, str]) -> None:
        """The answer after whitespace (valid leading JSON whitespace) sent 8 bytes at a time."""
        chunks = max(1, math.ceil(TRICKLE_SECONDS / interval))
        self._responded = True
        self.send_response(200)
        self.send_header("Content-Type", _JSON_CONTENT_TYPE)
        self.send_header("Content-Length", str(8 * chunks + len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for _ in range(chunks):
                self.wfile.write(b" " * 8)
                self.wfile.flush()
                if self.server.owner._stopping.wait(interval):
                    break
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up: what the fault is for

    def _send_fault(self, fault: Fault, extra: dict[str, str]) -> None:
        if fault.kind == "status":
            error_type, code = _error_type(fault.status)
            self._send_error(fault.status, fault.message, error_type, code=code, headers=extra)
        elif fault.kind == "redirect":
            self._send(fault.status, b"", {**extra, "Location": fault.message})
        elif fault.kind == "malformed":
            # Proxies in front of real APIs produce exactly this: HTML where JSON was promised.
            html = f"<html><body><h1>modelprov</h1><p>{fault.message}</p></body></html>\n"
            self._send(200, _encode(html), extra)
        else:  # error_200
            error = {"message": fault.message, "type": "server_error", "param": None, "code": None}
            self._send_json(200, {"error": error}, extra)

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- I/O helpers -----------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The request body, or None when its framing is broken (the connection is closed)."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
            return self.rfile.read(length)
        except ValueError:
            self.close_connection = True
            return None

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline(65537).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing we use
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(
        self,
        status: int,
        data: bytes,
        headers: dict[str, str] | None = None,
        *,
        content_type: str = _JSON_CONTENT_TYPE,
    ) -> None:
        self._responded = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send(status, _dumps(payload), headers)

    def _send_error(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": error_type, "param": param, "code": code}
        self._send_json(status, {"error": error}, headers)


# -- pure helpers ----------------------------------------------------------------------------


# -- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a script until Ctrl-C; prints the base URL on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_modelprov.testing.server",
        description="Serve scripted OpenAI-compatible chat completions on loopback.",
    )
    parser.add_argument(
        "--script",
        metavar="FILE",
        help="JSON script (schema: pytest_modelprov/schemas/server_script.schema.json); "
        "without it every prompt gets the default answer",
    )
    parser.add_argument("--host", default="127.0.0.1", choices=sorted(_LOOPBACK_HOSTS))
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--latency", type=float, metavar="S", help="seconds to sleep per chat request"
    )
    parser.add_argument(
        "--batch-delay",
        type=float,
        default=0.05,
        metavar="S",
        help="seconds from creating a batch to its completion (default 0.05)",
    )
    args = parser.parse_args(argv)
    if args.latency is not None and not (math.isfinite(args.latency) and args.latency >= 0):
        parser.error("--latency must be a number >= 0")
    if not (math.isfinite(args.batch_delay) and args.batch_delay >= 0):
        parser.error("--batch-delay must be a number >= 0")
    try:
        # a path typed in a shell is the working directory's
        script = Script.from_file(Path(args.script).absolute()) if args.script else Script()
    except (OSError, ValueError) as exc:
        print(f"modelprov server: {exc}", file=sys.stderr)
        return 2
    if args.latency is not None:
        script.latency = args.latency
    try:
        server = LocalServer(
            script, host=args.host, port=args.port, batch_delay=args.batch_delay
        ).start()
    except (OSError, ValueError) as exc:
        print(f"modelprov server: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(server.url, flush=True)
    print("modelprov server: serving; press Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def _fault_headers(fault: Fault | None) -> dict[str, str]:
    if fault is None or fault.retry_after is None:
        return {}
    seconds = fault.retry_after
    value = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}".rstrip("0")
    return {"Retry-After": value}
