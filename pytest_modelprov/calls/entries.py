"""Cache entries: what is stored under a key, in which form, and how it is checked.

An entry is the response body with its request and provenance, stored as UTF-8 (a header
line, the raw answer and reasoning texts, then JSON), never as a pickle: a cache is shared
between machines and CI jobs. Every entry read is checked against its schema and its key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ExportFormatError
from ..util import schema
from ..util.safejson import loads as json_loads
from .keys import (
    CacheKey,
    key_of_components,
    utc_now,
)
from .reasoning import split_message
from .response import Usage, unusable_answer

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
    try:
        key = key_of_components(data["request"])
    except ValueError as exc:  # 1e400 reads as inf, which no key can hold
        raise ExportFormatError(f"{where}: field request: {exc}") from None
    if key != data["key"]:
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


def entry_from_response(key: CacheKey, response: dict[str, Any], run: str | None) -> CacheEntry:
    return CacheEntry(
        key=key.digest, request=key.components, response=response, recorded_at=utc_now(), run=run
    )
