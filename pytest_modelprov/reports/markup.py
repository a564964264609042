"""What every value in the HTML report goes through: limits on text, the colour-blind-safe
palette and verdict marks, and the helpers that escape, cut and format untrusted text
(model answers, test ids, labels) and figures.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Mapping
from typing import Any

#: longest text shown in a table cell or chart label; the rest is cut with a note
MAX_TEXT = 300


MAX_LABEL = 32


MAX_DETAILS = 4000


# Okabe-Ito: distinguishable with the common colour-vision deficiencies
BLUE, VERMILLION, GREEN, ORANGE, SKY, GREY = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#E69F00",
    "#56B4E9",
    "#6b6b6b",
)


PURPLE = "#CC79A7"  # Okabe-Ito reddish purple: inconclusive, apart from pass and fail


VERDICT_COLOUR = {"pass": BLUE, "fail": VERMILLION, "inconclusive": PURPLE, "info": GREY}


DASH = "\u2013"


VERDICT_MARK = {"pass": "✓", "fail": "✗", "inconclusive": "?", "info": "·"}


# ColorBrewer "Blues": sequential, single hue, reads in greyscale and in print
_BLUES = [
    (247, 251, 255),
    (222, 235, 247),
    (198, 219, 239),
    (158, 202, 225),
    (107, 174, 214),
    (66, 146, 198),
    (33, 113, 181),
    (8, 81, 156),
    (8, 48, 107),
]


_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A)) | {0x200E, 0x200F}


def _clean(value: Any, limit: int = MAX_TEXT) -> str:
    """Plain text safe to escape: control, bidi-override and surrogate characters shown as
    escapes (they could hide or reorder text), cut to ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) - limit
    if cut > 0:
        text = text[:limit]
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\t":
            out.append(" ")
        elif code in _BIDI or unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    result = "".join(out)
    if cut > 0:
        result += f"… ({cut:,} more characters)"
    return result


def _e(value: Any, limit: int = MAX_TEXT) -> str:
    """Escaped text for HTML content and attribute values."""
    return html.escape(_clean(value, limit), quote=True)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _num(value: Any) -> str:
    number = _float(value)
    if number is None:
        return DASH
    return f"{number:.3f}" if abs(number) < 10 else f"{number:,.4g}"


def _interval(m: Mapping[str, Any]) -> str:
    text = _num(m.get("value"))
    low, high = _float(m.get("low")), _float(m.get("high"))
    if low is not None and high is not None:
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def _labels(m: Mapping[str, Any]) -> dict[str, str]:
    labels = m.get("labels")
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


def _details(m: Mapping[str, Any]) -> Mapping[str, Any]:
    details = m.get("details")
    return details if isinstance(details, Mapping) else {}


def _verdict(m: Mapping[str, Any]) -> str:
    verdict = m.get("verdict")
    return verdict if verdict in VERDICT_COLOUR else "info"


def _name(m: Mapping[str, Any]) -> str:
    labels = _labels(m)
    quantity = str(m.get("quantity", "?"))
    if not labels:
        return quantity
    return f"{quantity}[{', '.join(f'{k}={v}' for k, v in labels.items())}]"


def _short_name(m: Mapping[str, Any]) -> str:
    """``acceptance_rate: placebo · any``: the quantity without its area, then the labels."""
    quantity = str(m.get("quantity", "?")).split(".", 1)[-1]
    labels = " · ".join(_labels(m).values())
    return f"{quantity}: {labels}" if labels else quantity


def _test_id(value: Any) -> str:
    """An escaped test id that may wrap after its separators rather than mid-word."""
    text = _e(value)
    for sep in ("::", "/", "["):
        text = text.replace(sep, sep + "<wbr>")
    return text


def _against(m: Mapping[str, Any]) -> str:
    reference = _float(m.get("reference"))
    label = m.get("reference_label") or ""
    if reference is None:
        return str(label) if label else DASH
    return f"{label} {reference:.3f}".strip()
