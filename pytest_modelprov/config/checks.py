"""Parsing and checking setting values: numbers within sane bounds, prices, JSON values
and generation parameters, each error naming the setting and what to write instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..util.safejson import loads as json_loads
from .options import (
    Sources,
    _get,
)
from .settings import (
    _RESERVED_PARAMS,
    GENERATION_PARAMS,
    Price,
)

#: (lowest, highest) accepted for each numeric setting. The upper bounds are far above any
#: real use and keep the arithmetic built on them (lock waits of (timeout + max_retry_wait)
#: x (max_retries + 1), sleeps, monotonic deadlines) inside what the OS accepts: 1e10 s
#: overflowed every uncached call, 10**12 retries never ended.
BOUNDS: Mapping[str, tuple[float, float]] = {
    "concurrency": (1, 1024),
    "max_retries": (0, 100),
    "timeout": (0.001, 86_400.0),
    "retry_backoff": (0.0, 3_600.0),
    "max_retry_wait": (0.0, 86_400.0),
    "batch_poll": (0.01, 86_400.0),
    "batch_wait": (0.0, 30 * 86_400.0),
    "rpm": (1e-6, 1e9),
    "tpm": (1e-6, 1e12),
}


def check_number(name: str, raw: str, source: str, kind: type[Any] = float) -> Any:
    """``raw`` as ``kind`` within BOUNDS[name]; ConfigError naming the setting and source."""
    low, high = BOUNDS[name]
    try:
        value = kind(raw.strip())
    except (ValueError, OverflowError):
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(
            f"modelprov: {name} {raw!r} from {source} is not valid; it must be {what} from "
            f"{low:g} to {high:g}"
        )
    return value


def _flag(sources: Sources, name: str) -> bool:
    found = _get(sources, name)
    if not found:
        return False
    raw, source = found
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"modelprov: {name} {raw!r} from {source} is not valid; use true or false")


def _number(sources: Sources, name: str, default: Any, kind: type[Any]) -> Any:
    found = _get(sources, name)
    if not found:
        return default
    return check_number(name, found[0], found[1], kind)


def parse_price(raw: str, source: str) -> Price:
    parts = raw.replace(",", "/").split("/")
    try:
        if len(parts) != 2:
            raise ValueError
        values = [float(p) for p in parts]
        if any(v < 0 or not math.isfinite(v) for v in values):
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"modelprov: price {raw!r} from {source} is not valid; write INPUT/OUTPUT in USD "
            "per million tokens, e.g. 0.27/1.10"
        ) from None
    return Price(values[0], values[1])


def parse_json_value(raw: str) -> Any:
    """A parameter value: JSON when it parses, else the plain string."""
    text = raw.strip()
    try:
        return json_loads(text)
    except ValueError:
        return text


def validate_params(params: Mapping[str, Any], source: str) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if key in _RESERVED_PARAMS:
            raise ConfigError(
                f"modelprov: parameter {key!r} from {source} is not allowed: "
                f"{_RESERVED_PARAMS[key]}"
            )
        if key not in GENERATION_PARAMS:
            close = _close_matches(key, GENERATION_PARAMS)
            raise ConfigError(
                f"modelprov: unknown generation parameter {key!r} from {source}"
                + (f" (did you mean {close}?)" if close else "")
                + "; valid parameters: "
                + ", ".join(sorted(GENERATION_PARAMS))
                + ". Vendor-specific parameters go inside extra_body, e.g. "
                + 'extra_body={"enable_thinking": false}'
            )
        if key == "extra_body":
            if not isinstance(value, dict):
                raise ConfigError(f"modelprov: extra_body from {source} must be a JSON object")
            for inner in value:
                if inner in _RESERVED_PARAMS:
                    raise ConfigError(
                        f"modelprov: extra_body from {source} may not set {inner!r}: "
                        f"{_RESERVED_PARAMS[inner]}"
                    )
        if value is not None:
            clean[key] = value
    return clean


def _close_matches(word: str, candidates: Iterable[str]) -> str:
    import difflib

    return " or ".join(repr(m) for m in difflib.get_close_matches(word, sorted(candidates), n=2))


def _split_assignment(line: str, source: str, what: str) -> tuple[str, str]:
    if "=" not in line:
        raise ConfigError(f"modelprov: {line!r} from {source} is not {what}")
    key, _, value = line.partition("=")
    return key.strip(), value.strip()
