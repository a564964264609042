"""Keep the reasoning trace apart from the final answer.

Assertions about what a model says ("I am ChatGPT") must look at the answer, not at a
trace that muses "the user asks whether I am ChatGPT". Reasoning arrives in one of three
shapes: a separate ``reasoning_content`` field (DeepSeek, vLLM), a ``reasoning`` field
(OpenRouter), or a ``<think>…</think>`` block inside the content (open-weight models served
raw).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_OPEN = re.compile(r"<think(?:ing)?>", re.I)
_CLOSE = re.compile(r"</think(?:ing)?>", re.I)
_ANY = re.compile(r"</?think(?:ing)?>", re.I)


def split_think(content: str, *, after_block: bool = False) -> tuple[str, str | None]:
    """Split ``<think>`` blocks out of content: (answer, reasoning or None)."""
    if _ANY.search(content) is None:  # the common case, one scan
        return content, None
    close = _CLOSE.search(content)
    opened = _OPEN.search(content)
    if close is None:
        # Opened and never closed: cut off by max_tokens while thinking. At the start, or
        # after a completed block, that is a trace; mid-prose it is likely a mention.
        if opened is not None and (after_block or not content[: opened.start()].strip()):
            return content[: opened.start()].strip(), content[opened.end() :].strip() or None
        return content, None
    if opened is None or opened.start() > close.start():
        # Some chat templates put <think> in the prompt, so the output starts mid-thought.
        reasoning = content[: close.start()]
        rest = content[close.end() :]
    else:
        reasoning = content[opened.end() : close.start()]
        rest = content[: opened.start()] + content[close.end() :]
    more_answer, more_reasoning = split_think(rest, after_block=True)
    parts = [reasoning.strip()] + ([more_reasoning] if more_reasoning else [])
    return more_answer.strip(), "\n\n".join(p for p in parts if p)


def split_message(message: Mapping[str, Any]) -> tuple[str, str | None]:
    """(final answer, reasoning trace) of one chat-completion message."""
    content = message.get("content")
    text = content if isinstance(content, str) else _text_of_parts(content)
    answer, think = split_think(text)
    field = message.get("reasoning_content")
    if not isinstance(field, str) or not field:
        field = message.get("reasoning") if isinstance(message.get("reasoning"), str) else None
    traces = [t for t in (field, think) if t]
    return answer, ("\n\n".join(traces) if traces else None)


def _text_of_parts(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
