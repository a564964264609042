"""The local server's wire format: parsing and validating request bodies (chat completions,
multipart uploads, batch input files) and encoding answers and errors as the OpenAI API
does. Pure functions, no server state.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..util.safejson import loads as json_loads

_CHAT_PATH = "/v1/chat/completions"


_MAX_N = 16


_EXCERPT_CHARS = 60


_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


# the Batch API's limits per input file
_BATCH_MAX_LINES = 50_000


_BATCH_MAX_BYTES = 200 * 1024 * 1024


class _ApiError(Exception):
    """An OpenAI-style error answer for the files and batches endpoints."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code


def _parse_object(raw: bytes | None) -> tuple[dict[str, Any] | None, str]:
    if raw is None:
        return None, "Unreadable request body."
    try:
        data = json_loads(raw)
    except ValueError:
        return None, "We could not parse the JSON body of your request."
    if not isinstance(data, dict):
        return None, "The request body must be a JSON object."
    return data, ""


def _parse_api_object(raw: bytes) -> dict[str, Any]:
    body, problem = _parse_object(raw)
    if body is None:
        raise _ApiError(problem)
    return body


def _list_query(target: str) -> tuple[str | None, int]:
    query = parse_qs(urlsplit(target).query)
    after = query.get("after", [None])[-1]
    try:
        limit = int(query.get("limit", ["20"])[-1])
    except ValueError:
        raise _ApiError("limit must be an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise _ApiError("limit must be between 1 and 100.", param="limit")
    return after, limit


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename, bytes)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise _ApiError(f"Expected a multipart/form-data upload, got {content_type or 'none'!r}.")
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise _ApiError("The multipart body could not be parsed.")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


def _parse_batch_input(data: bytes) -> list[dict[str, Any]]:
    """The request lines of a batch input file; _ApiError names the first bad line."""
    if len(data) > _BATCH_MAX_BYTES:
        raise _ApiError(f"A batch input file may hold at most {_BATCH_MAX_BYTES} bytes.", 413)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _ApiError("The batch input file is not UTF-8 text.", param="file") from None
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json_loads(line)
        except ValueError:
            item = None
        problem = None
        if not isinstance(item, dict):
            problem = "is not a JSON object"
        elif not isinstance(item.get("custom_id"), str) or not item["custom_id"]:
            problem = "has no custom_id string"
        elif item["custom_id"] in seen:
            problem = f"repeats custom_id {item['custom_id']!r}; each must be unique"
        elif item.get("method") != "POST":
            problem = f"has method {item.get('method')!r}; only 'POST' is supported"
        elif item.get("url") != _CHAT_PATH:
            problem = f"has url {item.get('url')!r}; this server batches only {_CHAT_PATH}"
        elif not isinstance(item.get("body"), dict):
            problem = "has no body object"
        if problem is not None:
            raise _ApiError(
                f"Line {number} of the batch input file {problem}.",
                param="file",
                code="invalid_batch_file",
            )
        assert isinstance(item, dict)
        seen.add(item["custom_id"])
        lines.append(item)
    if not lines:
        raise _ApiError("The batch input file has no requests.", param="file")
    if len(lines) > _BATCH_MAX_LINES:
        raise _ApiError(f"A batch may hold at most {_BATCH_MAX_LINES} requests.", param="file")
    return lines


def _validate_chat(body: dict[str, Any]) -> tuple[str, str] | None:
    """(message, param) for the first problem in a chat request, like the real API."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "you must provide a model parameter", "model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array of message objects", "messages"
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages[{index}] must be an object", f"messages[{index}]"
        if not isinstance(message.get("role"), str) or not message["role"]:
            return f"messages[{index}] is missing the 'role' field", f"messages[{index}].role"
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX_N):
        return f"'n' must be an integer between 1 and {_MAX_N}, got {n!r}", "n"
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return f"'seed' must be an integer, got {seed!r}", "seed"
    if body.get("stream"):
        return "stream=true is not supported by the modelprov local server", "stream"
    return None


def _content_text(content: Any) -> str:
    """Text of a message content given as a string or as a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _last_user_text(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _default_answer(template: str, text: str) -> str:
    excerpt = " ".join(text.split())[:_EXCERPT_CHARS]
    # Plain replace, not str.format: user templates may contain other braces.
    return template.replace("{excerpt}", excerpt)


def _count_tokens(text: str) -> int:
    """A crude, deterministic token count: words and punctuation marks."""
    count = len(_TOKEN_RE.findall(text))
    return max(count, 1) if text else 0


def _error_type(status: int) -> tuple[str, str | None]:
    if status == 429:
        return "requests", "rate_limit_exceeded"
    if status == 401:
        return "invalid_request_error", "invalid_api_key"
    if status >= 500:
        return "server_error", None
    return "invalid_request_error", None


def _model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "modelprov-local"}


def _encode(text: str) -> bytes:
    # Lone surrogates (legal as JSON escapes in a request) cannot be UTF-8 encoded; re-escaping
    # them keeps the response valid JSON.
    return text.encode("utf-8", errors="backslashreplace")


def _dumps(payload: Any) -> bytes:
    return _encode(json.dumps(payload, ensure_ascii=False))


def _dumps_invalid_utf8(completion: dict[str, Any]) -> bytes:
    """The completion as JSON whose answer contents start with bytes that are not UTF-8."""
    originals = []
    for index, choice in enumerate(completion["choices"]):
        originals.append(choice["message"]["content"])
        choice["message"]["content"] = f"@@modelprov-invalid-utf8-{index}@@"
    data = _dumps(completion)
    for index, content in enumerate(originals):
        escaped = _encode(json.dumps(content, ensure_ascii=False)[1:-1])
        marker = f"@@modelprov-invalid-utf8-{index}@@".encode()
        data = data.replace(marker, b"\xff\xfe" + escaped, 1)
    return data
