"""Reading JSON that came from elsewhere: bounded in depth and size, strict about constants.

Every JSON the package reads (live answers, cache entries, cache exports, baselines, batch
files, server scripts, topic sets) may have been written by someone else: a proxy, a
CI artifact, a colleague's branch. Python's decoder recurses once per ``[`` or ``{``, so
100 000 of them raise RecursionError, and code that walks the result recurses again
(schema checks, canonical JSON for keys). ``loads`` turns all of that into one
:class:`JSONLimitError`, a ValueError, so every caller's existing "not valid JSON" path
names the file and says what to do.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

#: deeper than any answer, baseline or export this package writes (they nest < 12 levels);
#: far below Python's recursion limit, so whatever walks the value afterwards is safe too
MAX_DEPTH = 64
#: one JSON document held in memory at once; answers and baselines are far smaller
MAX_BYTES = 256 * 1024 * 1024

Constants = Literal["reject", "null", "keep"]


class JSONLimitError(ValueError):
    """The JSON is nested too deeply or too large to be read safely."""


def _reject(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (strict JSON has no NaN or Infinity)")


def _null(name: str) -> None:
    return None


#: the largest magnitude of an integer ``bounded_numbers`` lets through
MAX_INT = 2**63


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal[:40]} is not a finite number")
    return value


def _int64(literal: str) -> int:
    value = int(literal)
    # 18 digits cannot exceed 2**63: only longer literals need the comparison
    if len(literal) > 18 and abs(value) > MAX_INT:
        raise ValueError(f"{literal[:40]}... is an integer beyond 64 bits")
    return value


def loads(
    text: str | bytes,
    *,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_BYTES,
    constants: Constants = "keep",
    bounded_numbers: bool = False,
) -> Any:
    """``json.loads`` for untrusted input.

    ``constants``: what NaN, Infinity and -Infinity become: an error (``reject``, strict
    JSON), ``None`` (``null``: a live answer's usage counts, which are worth keeping the
    answer for) or floats (``keep``: files this package wrote itself with ``allow_nan``).
    ``bounded_numbers``: a number that is not finite (``1e999`` parses as infinity) or an
    integer beyond 64 bits is a ValueError, checked as each literal is parsed (a walk over
    the parsed value afterwards costs five times as much).
    Raises :class:`JSONLimitError` (a ValueError) when too deep or too large, and
    ValueError for anything else that is not JSON.
    """
    if len(text) > max_bytes:
        raise JSONLimitError(
            f"the JSON is {len(text):,} bytes, more than the {max_bytes:,} this reads"
        )
    hooks: dict[str, Any] = {}
    if constants != "keep":
        hooks["parse_constant"] = _reject if constants == "reject" else _null
    if bounded_numbers:
        hooks.update(parse_float=_finite_float, parse_int=_int64)
    try:
        value = json.loads(text, **hooks)
    except RecursionError:
        raise JSONLimitError(
            f"the JSON is nested more than {max_depth} levels deep (it cannot be a file or "
            "answer this package reads)"
        ) from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """JSONLimitError when ``value`` nests lists or dicts more than ``max_depth`` deep."""
    if not isinstance(value, (list, dict)):
        return
    # iterative: the point is not to recurse on input someone else controls
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise JSONLimitError(f"the JSON is nested more than {max_depth} levels deep")
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (list, dict)):
                stack.append((child, depth + 1))
