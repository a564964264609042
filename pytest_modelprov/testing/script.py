"""What the local server answers: a :class:`Script` of :class:`Rule` s, and the faults it
can inject (:class:`Fault` for chat completions, :class:`BatchFault` and
:class:`BatchEnding` for the Batch API), with the requests it recorded
(:class:`RecordedRequest`). A script file follows ``schemas/server_script.schema.json``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from ..util import schema
from ..util.files import user_path
from ..util.safejson import loads as json_loads

__all__ = [
    "BATCH_FAULT_KINDS",
    "FAULT_KINDS",
    "BatchEnding",
    "BatchFault",
    "Fault",
    "RecordedRequest",
    "Rule",
    "Script",
]


REASONING_STYLES = ("field", "think")


FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls", "function_call")


FAULT_KINDS = (
    "status",
    "malformed",
    "truncated",
    "empty_choices",
    "error_200",
    "reset",
    "delay",
    "invalid_utf8",
    "trickle",
    "redirect",
    "content",
    "nan_usage",
    "deep_json",
)


@dataclass
class Rule:
    """Answers prompts whose last user message matches ``match``."""

    match: str = ""
    answers: list[str] = field(default_factory=list)
    reasoning: str | None = None
    reasoning_style: str = "field"
    finish_reason: str = "stop"
    #: regex on the requested model id; empty matches every model (two "releases" of a
    #: model can then be served differently by one server)
    model: str = ""

    def __post_init__(self) -> None:
        self.answers = list(self.answers)
        if not self.answers or not all(isinstance(a, str) for a in self.answers):
            raise ValueError("answers: must be a non-empty list of strings")
        try:
            re.compile(self.match, re.S | re.I)
        except re.error as exc:
            raise ValueError(f"match: invalid regular expression {self.match!r}: {exc}") from None
        try:
            re.compile(self.model)
        except re.error as exc:
            raise ValueError(f"model: invalid regular expression {self.model!r}: {exc}") from None
        if self.reasoning_style not in REASONING_STYLES:
            raise ValueError(
                f"reasoning_style: {self.reasoning_style!r} is not one of {list(REASONING_STYLES)}"
            )
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(
                f"finish_reason: {self.finish_reason!r} is not one of {list(FINISH_REASONS)}"
            )

    def matches(self, text: str, model: str = "") -> bool:
        """Whether this rule answers ``text`` (the last user message) asked of ``model``."""
        if self.model and re.fullmatch(self.model, model) is None:
            return False
        return re.search(self.match, text, re.S | re.I) is not None


@dataclass
class Script:
    """What the server answers; first matching rule wins, else ``default_answer``.

    ``{excerpt}`` in ``default_answer`` is replaced by the first 60 characters of the last user
    message (whitespace collapsed), so unscripted prompts still get distinguishable answers.
    """

    rules: list[Rule] = field(default_factory=list)
    default_answer: str = 'Scripted answer to: "{excerpt}"'
    model_aliases: dict[str, str] = field(default_factory=dict)
    system_fingerprint: str | None = "fp_modelprov_local"
    latency: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.latency) or self.latency < 0:
            raise ValueError(f"latency: must be a finite number >= 0, got {self.latency!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Script:
        """Build a script from its JSON form; ValueError names every bad field."""
        errors = sorted(
            _schema_validator().iter_errors(data),
            key=lambda e: (_json_path(e.absolute_path), e.message),
        )
        if errors:
            problems = "; ".join(f"{_json_path(e.absolute_path)}: {e.message}" for e in errors[:5])
            raise ValueError(f"invalid server script: {problems}")
        rules = []
        for index, raw_rule in enumerate(data.get("rules", [])):
            try:
                rules.append(Rule(**raw_rule))
            except ValueError as exc:
                raise ValueError(f"invalid server script: rules[{index}].{exc}") from None
        options: dict[str, Any] = {
            k: data[k] for k in ("default_answer", "system_fingerprint") if k in data
        }
        if "model_aliases" in data:
            options["model_aliases"] = dict(data["model_aliases"])
        if "latency" in data:
            options["latency"] = float(data["latency"])
        try:
            return cls(rules=rules, **options)
        except ValueError as exc:
            raise ValueError(f"invalid server script: {exc}") from None

    @classmethod
    def from_file(cls, path: str | PathLike[str]) -> Script:
        """Load a JSON script file; errors name the file.

        A relative path is found beside the file of the code that names it (a conftest.py),
        not in the working directory.
        """
        path = user_path(path)
        with open(path, "rb") as handle:
            raw = handle.read()
        try:
            data = json_loads(raw)
        except ValueError as exc:  # includes UnicodeDecodeError
            raise ValueError(f"{path}: not valid JSON: {exc}") from None
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form accepted by :meth:`from_dict`."""
        return dataclasses.asdict(self)


@dataclass
class Fault:
    """A failure the server serves instead of (or around) a normal answer.

    Kinds: ``status`` (HTTP error with an OpenAI error body), ``malformed`` (200, not JSON),
    ``truncated`` (200, completion JSON cut in half), ``empty_choices`` (200, ``choices: []``),
    ``error_200`` (200 with an ``error`` object), ``reset`` (connection dropped unanswered),
    ``delay`` (answer normally after ``delay`` seconds), ``invalid_utf8`` (200, answer bytes
    not valid UTF-8), ``trickle`` (200, 8 bytes of leading whitespace every ``delay``
    seconds for up to 30 s, then the answer: each read is quick, the whole call is not),
    ``redirect`` (a 3xx, 307 unless ``status`` says another, to the URL in ``message``),
    ``content`` (200, the answer's ``content`` replaced by ``content``: "", None, a number),
    ``nan_usage`` (200, ``NaN`` and ``Infinity`` as usage counts), ``deep_json`` (200, the
    completion with an extra field nested 100 000 levels deep).
    """

    kind: str
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    message: str = "injected fault"
    #: the answer's content for a ``content`` fault (any JSON value)
    content: Any = None
    #: the finish_reason of a ``content`` fault
    finish_reason: str = "stop"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {list(FAULT_KINDS)}")
        if self.kind == "redirect":
            if self.status == 500:
                self.status = 307
            if isinstance(self.status, bool) or not 300 <= self.status <= 399:
                raise ValueError(f"status: a redirect is 300-399, got {self.status!r}")
        elif isinstance(self.status, bool) or not 400 <= self.status <= 599:
            raise ValueError(f"status: must be an HTTP error status 400-599, got {self.status!r}")
        if self.retry_after is not None and not (
            math.isfinite(self.retry_after) and self.retry_after >= 0
        ):
            raise ValueError(f"retry_after: must be >= 0 seconds, got {self.retry_after!r}")
        if not math.isfinite(self.delay) or self.delay < 0:
            raise ValueError(f"delay: must be >= 0 seconds, got {self.delay!r}")


@dataclass(frozen=True)
class RecordedRequest:
    """One chat-completions request as the server received it (kept in memory only)."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    fault: str | None
    received: float = 0.0  # time.monotonic() on arrival: what pacing tests look at


BATCH_FAULT_KINDS = (
    "status",
    "malformed",
    "empty_choices",
    "error_200",
    "truncated",
    "unknown_id",
    "duplicate",
    "dropped",
)


BATCH_ENDINGS = ("completed", "failed", "expired", "refused")


@dataclass
class BatchFault:
    """What a batch does with the lines whose last user message matches ``match``.

    Kinds: ``status`` (error-file line: HTTP ``status`` with an OpenAI error body),
    ``malformed`` (output line whose body is a string, not a completion), ``empty_choices``
    and ``error_200`` (output line, status 200, body not a usable completion), ``truncated``
    (output line cut in half: not JSON), ``unknown_id`` (output line under a custom_id the
    input never had), ``duplicate`` (the output line written twice), ``dropped`` (the line
    is in neither file). Unlike :class:`Fault` these are not consumed: every matching line
    of every batch gets them until :meth:`LocalServer.reset`.
    """

    match: str = ""
    kind: str = "status"
    status: int = 500
    message: str = "injected batch fault"
    #: regex on the requested model id; empty matches every model
    model: str = ""

    def __post_init__(self) -> None:
        if self.kind not in BATCH_FAULT_KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {list(BATCH_FAULT_KINDS)}")
        if isinstance(self.status, bool) or not 400 <= self.status <= 599:
            raise ValueError(f"status: must be an HTTP error status 400-599, got {self.status!r}")
        for name in ("match", "model"):
            try:
                re.compile(getattr(self, name))
            except re.error as exc:
                raise ValueError(f"{name}: invalid regular expression: {exc}") from None

    def matches(self, text: str, model: str) -> bool:
        if self.model and re.fullmatch(self.model, model) is None:
            return False
        return re.search(self.match, text, re.S | re.I) is not None


@dataclass
class BatchEnding:
    """How the next created batch ends (queued with :meth:`LocalServer.inject_batch`).

    ``completed`` answers every line; ``failed`` fails validation (``errors`` holds
    ``message``, no output file); ``expired`` answers the first ``processed`` fraction of the
    lines and puts the rest in the error file with code ``batch_expired``; ``refused`` answers
    the creation request itself with HTTP ``http_status`` and ``message`` (no batch exists).
    """

    status: str = "completed"
    processed: float = 1.0
    message: str = "injected batch failure"
    http_status: int = 400

    def __post_init__(self) -> None:
        if self.status not in BATCH_ENDINGS:
            raise ValueError(f"status: {self.status!r} is not one of {list(BATCH_ENDINGS)}")
        if not (math.isfinite(self.processed) and 0.0 <= self.processed <= 1.0):
            raise ValueError(f"processed: must be a fraction 0-1, got {self.processed!r}")
        if isinstance(self.http_status, bool) or not 400 <= self.http_status <= 599:
            raise ValueError(f"http_status: must be 400-599, got {self.http_status!r}")


def _schema_validator() -> Any:
    return schema.validator("server_script.schema.json")


def _json_path(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "<script>"
