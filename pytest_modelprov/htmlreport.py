"""The HTML report: one self-contained file (inline CSS and SVG) drawn from a JSON report.

Nothing is fetched at view time: no external scripts, fonts or images, so the file can be
kept as a CI artifact and opened offline years later. Every text that comes from the report
(test ids, labels, model answers quoted in details) is escaped and long texts are cut,
because model output is untrusted input. The one inline script (the answer browser's
filters) is allowed by hash in the page's Content-Security-Policy, which forbids every
other script and every network load; without JavaScript the page is complete, only the
filters are hidden.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from .cluster import Node, Tree, upgma
from .files import write_text_atomic
from .measurement import flags_of

__all__ = ["render", "write_html"]

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


# -- text ----------------------------------------------------------------------------------


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


# -- scales and colours --------------------------------------------------------------------


def _nice_step(span: float, target: int = 5) -> float:
    raw = span / max(target, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _ticks(low: float, high: float) -> list[float]:
    step = _nice_step(high - low)
    start = math.ceil(low / step - 1e-9) * step
    out = []
    value = start
    while value <= high + step * 1e-6:
        out.append(round(value, 10))
        value += step
    return out


def _domain(
    values: Iterable[float | None], *, floor: float = 0.0, cap: float | None = None
) -> tuple[float, float]:
    """A nice [low, high] covering the values and 0 (and at most ``cap``)."""
    finite = [v for v in values if v is not None]
    low = min([floor, *finite])
    high = max([floor + 1e-9, *finite])
    step = _nice_step(high - low)
    low = math.floor(low / step + 1e-9) * step
    high = math.ceil(high / step - 1e-9) * step
    if cap is not None and high > cap and max(finite, default=0.0) <= cap:
        high = cap
    return low, max(high, low + step)


def _heat(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(_BLUES) - 1)
    i = min(int(t), len(_BLUES) - 2)
    f = t - i
    rgb = [round(a + (b - a) * f) for a, b in zip(_BLUES[i], _BLUES[i + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _width(text: str, size: float = 12.0) -> float:
    """Rough rendered width of a label (no font metrics offline); wide scripts count double."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return (len(text) + wide) * size * 0.58


def _short(text: str, limit: int = MAX_LABEL) -> str:
    text = _clean(text, 10 * limit)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(width: float, height: float, title: str, body: list[str], cls: str) -> str:
    return (
        f'<svg class="chart {cls}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f"<title>{_e(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(
    x: float, y: float, text: str, cls: str = "", anchor: str = "start", full: str | None = None
) -> str:
    tip = f"<title>{_e(full)}</title>" if full is not None and full != text else ""
    klass = f' class="{cls}"' if cls else ""
    where = f'x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"'
    return f"<text {where}{klass}>{tip}{html.escape(text)}</text>"


# -- interval ("forest") chart -------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One row of an interval chart: a value with its interval, maybe a baseline."""

    label: str
    value: float
    low: float | None
    high: float | None
    verdict: str = "info"
    reference: float | None = None
    baseline: tuple[float, float | None, float | None, str] | None = None
    note: str = ""


def _baseline(m: Mapping[str, Any]) -> tuple[float, float | None, float | None, str] | None:
    base = _details(m).get("baseline")
    if not isinstance(base, Mapping):
        return None
    value = _float(base.get("value"))
    if value is None:
        return None
    label = str(base.get("label") or m.get("reference_label") or "baseline")
    if not label.startswith("baseline"):
        label = f"baseline {label}"
    return value, _float(base.get("low")), _float(base.get("high")), label


def _bar(m: Mapping[str, Any], label: str, note: str = "") -> Bar | None:
    value = _float(m.get("value"))
    if value is None:
        return None
    return Bar(
        label,
        value,
        _float(m.get("low")),
        _float(m.get("high")),
        _verdict(m),
        _float(m.get("reference")),
        _baseline(m),
        note,
    )


def interval_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    axis: str,
    cap: float | None = 1.0,
    zero_line: bool = False,
    reference_name: str = "limit",
) -> str:
    """Horizontal bars with interval whiskers; a baseline bar under its current bar."""
    values: list[float | None] = []
    for b in bars:
        values += [b.value, b.low, b.high, b.reference]
        if b.baseline:
            values += [b.baseline[0], b.baseline[1], b.baseline[2]]
    lo, hi = _domain(values, cap=cap)
    label_w = min(max((_width(_short(b.label)) for b in bars), default=60) + 24, 260)
    note_w = max((_width(b.note or _interval_text(b), 11) for b in bars), default=80) + 16
    plot_w = 440.0
    left, top = label_w, 34.0
    has_base = any(b.baseline for b in bars)
    row_h = 36.0 if has_base else 24.0
    width = left + plot_w + note_w
    height = top + row_h * len(bars) + 48

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    body = [
        f'<rect class="plot-bg" x="{left:.1f}" y="{top - 6:.1f}" width="{plot_w:.1f}" '
        f'height="{row_h * len(bars) + 6:.1f}"/>'
    ]
    for t in _ticks(lo, hi):
        body.append(
            f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 6:.1f}" '
            f'y2="{top + row_h * len(bars):.1f}"/>'
        )
        body.append(_text(x(t), top + row_h * len(bars) + 16, f"{t:g}", "tick", "middle"))
    body.append(
        _text(left + plot_w / 2, top + row_h * len(bars) + 36, axis, "axis-label", "middle")
    )
    if zero_line and lo < 0 < hi:
        body.append(
            f'<line class="zero" x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{top - 6:.1f}" '
            f'y2="{top + row_h * len(bars):.1f}"/>'
        )
    base_x = x(max(lo, min(0.0, hi)))
    for i, b in enumerate(bars):
        y0 = top + i * row_h
        colour = VERDICT_COLOUR[b.verdict]
        mark = VERDICT_MARK[b.verdict] + " " if b.verdict in ("fail", "inconclusive") else ""
        body.append(f'<g class="row" data-verdict="{b.verdict}">')
        body.append(
            _text(
                left - 10, y0 + 13, mark + _short(b.label), f"row-label {b.verdict}", "end", b.label
            )
        )
        bar_h = 10.0
        rows = [(y0 + 2, b.value, b.low, b.high, colour, "bar current")]
        if b.baseline:
            bv, bl, bh, _ = b.baseline
            rows.append((y0 + 16, bv, bl, bh, ORANGE, "bar baseline"))
        for yy, v, low, high, fill, cls in rows:
            x0, x1 = sorted((base_x, x(v)))
            body.append(
                f'<rect class="{cls}" x="{x0:.1f}" y="{yy:.1f}" width="{max(x1 - x0, 1.5):.1f}" '
                f'height="{bar_h:.1f}" fill="{fill}" fill-opacity="0.35" stroke="{fill}"/>'
            )
            if low is not None and high is not None:
                mid = yy + bar_h / 2
                body.append(
                    '<path class="whisker" '
                    f'd="M{x(low):.1f},{mid - 5:.1f}v10M{x(low):.1f},{mid:.1f}'
                    f'H{x(high):.1f}M{x(high):.1f},{mid - 5:.1f}v10" stroke="{fill}"/>'
                )
            body.append(
                f'<circle class="dot" cx="{x(v):.1f}" cy="{yy + bar_h / 2:.1f}" r="3.5" '
                f'fill="{fill}"/>'
            )
        if b.reference is not None and not b.baseline:
            body.append(
                '<path class="reference" '
                f'd="M{x(b.reference):.1f},{y0 - 2:.1f}V{y0 + row_h - 8:.1f}"/>'
            )
        body.append(_text(left + plot_w + 10, y0 + 13, b.note or _interval_text(b), "value"))
        body.append("</g>")
    # legend
    present = {b.verdict for b in bars}
    items = [
        (text, VERDICT_COLOUR[v], "rect")
        for v, text in (
            ("pass", "✓ passed"),
            ("info", "measured"),
            ("fail", "✗ failed"),
            ("inconclusive", "? inconclusive"),
        )
        if v in present
    ]
    if has_base:
        names = sorted({b.baseline[3] for b in bars if b.baseline})
        items.append((_short(", ".join(names), 40), ORANGE, "rect"))
    if any(b.reference is not None and not b.baseline for b in bars):
        items.append((reference_name, "#222", "ref"))
    lx = left
    for text, fill, kind in items:
        if kind == "rect":
            body.append(
                f'<rect x="{lx:.1f}" y="8" width="14" height="10" fill="{fill}" '
                f'fill-opacity="0.35" stroke="{fill}"/>'
            )
        else:
            body.append(f'<path class="reference" d="M{lx + 7:.1f},5V21"/>')
        body.append(_text(lx + 20, 17, text, "legend"))
        lx += 34 + _width(text, 11)
    return _svg(width, height, title, body, "intervals")


def _interval_text(b: Bar) -> str:
    text = f"{b.value:.3f}"
    if b.low is not None and b.high is not None:
        text += f" [{b.low:.3f}, {b.high:.3f}]"
    return text


# -- heat map ------------------------------------------------------------------------------


def heat_map(
    rows: Sequence[str],
    cols: Sequence[str],
    cells: Sequence[Sequence[Mapping[str, Any] | None]],
    *,
    title: str,
    scale_label: str,
    domain: tuple[float, float],
    bold_rows: Sequence[str] = (),
    cell_w: float = 66.0,
) -> str:
    """A grid of coloured cells; each cell is ``{"value", "text", "sub", "verdict", "tip"}``
    or None (no data). Failed cells get a thick outline and a mark, not only a colour."""
    lo, hi = domain
    label_w = min(max((_width(_short(r)) for r in rows), default=40) + 18, 240)
    head_h = min(max((_width(_short(c, 18)) for c in cols), default=20) * 0.72 + 20, 120)
    cell_h = 38.0
    left, top = label_w, head_h
    scale_w = min(260.0, max(cell_w * len(cols), 160.0))
    width = max(left + cell_w * len(cols) + 20, left + scale_w + 24 + _width(scale_label, 11))
    legend_y = top + cell_h * len(rows) + 22
    height = legend_y + 46
    body = []
    for j, col in enumerate(cols):
        cx = left + cell_w * (j + 0.5)
        body.append(
            f'<text class="col-label" transform="translate({cx + 4:.1f},{top - 8:.1f}) '
            'rotate(-40)">'
            f"<title>{_e(col)}</title>{html.escape(_short(col, 18))}</text>"
        )
    for i, row in enumerate(rows):
        cls = "row-label bold" if row in bold_rows else "row-label"
        body.append(_text(left - 8, top + cell_h * (i + 0.5) + 4, _short(row), cls, "end", row))
        for j, cell in enumerate(cells[i]):
            x0, y0 = left + cell_w * j, top + cell_h * i
            if cell is None:
                body.append(
                    f'<rect class="cell empty" x="{x0 + 1:.1f}" y="{y0 + 1:.1f}" '
                    f'width="{cell_w - 2:.1f}" height="{cell_h - 2:.1f}"/>'
                )
                continue
            value = _float(cell.get("value"))
            t = 0.0 if value is None else (value - lo) / (hi - lo) if hi > lo else 0.0
            fill = _heat(t) if value is not None else "#eeeeee"
            failed = cell.get("verdict") == "fail"
            tip = f"<title>{_e(cell.get('tip', ''))}</title>" if cell.get("tip") else ""
            body.append(
                f'<g class="cell-group" data-verdict="{_e(cell.get("verdict", "info"))}">{tip}'
                f'<rect class="cell{" failed" if failed else ""}" x="{x0 + 1:.1f}" '
                f'y="{y0 + 1:.1f}" '
                f'width="{cell_w - 2:.1f}" height="{cell_h - 2:.1f}" fill="{fill}"/>'
            )
            ink = "light" if t > 0.55 else "dark"
            undecided = cell.get("verdict") == "inconclusive"
            main = ("✗ " if failed else "? " if undecided else "") + str(cell.get("text", ""))
            body.append(
                _text(
                    x0 + cell_w / 2,
                    y0 + (16 if cell.get("sub") else 23),
                    main,
                    f"cell-text {ink}",
                    "middle",
                )
            )
            if cell.get("sub"):
                body.append(
                    _text(x0 + cell_w / 2, y0 + 30, str(cell["sub"]), f"cell-sub {ink}", "middle")
                )
            body.append("</g>")
    # colour scale
    steps = 40
    for k in range(steps):
        body.append(
            f'<rect x="{left + scale_w * k / steps:.1f}" y="{legend_y:.1f}" '
            f'width="{scale_w / steps + 0.5:.1f}" '
            f'height="10" fill="{_heat(k / (steps - 1))}"/>'
        )
    body.append(
        f'<rect class="scale-frame" x="{left:.1f}" y="{legend_y:.1f}" width="{scale_w:.1f}" '
        'height="10"/>'
    )
    for t in _ticks(lo, hi):
        tx = left + (t - lo) / (hi - lo) * scale_w
        body.append(_text(tx, legend_y + 24, f"{t:g}", "tick", "middle"))
    body.append(_text(left + scale_w + 12, legend_y + 9, scale_label, "legend"))
    return _svg(width, height, title, body, "heatmap")


# -- dendrogram ----------------------------------------------------------------------------


def dendrogram(tree: Tree, *, title: str, bold: Sequence[str] = (), axis: str = "distance") -> str:
    """The tree drawn sideways: leaves on the left in heat-map order, merge heights along x."""
    order = tree.order
    label_w = min(max(_width(_short(tree.labels[i])) for i in order) + 18, 240)
    plot_w, row_h, top = 380.0, 26.0, 14.0
    width = label_w + plot_w + 30
    height = top + row_h * len(order) + 42
    hi = _domain([tree.root.height])[1] if tree.root.height > 0 else 1.0
    position = {leaf: top + row_h * (k + 0.5) for k, leaf in enumerate(order)}

    def x(h: float) -> float:
        return label_w + h / hi * plot_w

    body: list[str] = []
    for t in _ticks(0.0, hi):
        body.append(
            f'<line class="grid" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top:.1f}" '
            f'y2="{top + row_h * len(order):.1f}"/>'
        )
        body.append(_text(x(t), top + row_h * len(order) + 16, f"{t:g}", "tick", "middle"))
    body.append(
        _text(label_w + plot_w / 2, top + row_h * len(order) + 34, axis, "axis-label", "middle")
    )

    def draw(node: Node) -> tuple[float, float]:
        if node.leaf is not None:
            return position[node.leaf], 0.0
        assert node.left is not None and node.right is not None
        (ya, ha), (yb, hb) = draw(node.left), draw(node.right)
        xh = x(node.height)
        body.append(
            f'<path class="branch" d="M{x(ha):.1f},{ya:.1f}H{xh:.1f}V{yb:.1f}H{x(hb):.1f}"/>'
        )
        body.append(
            f'<circle class="node" cx="{xh:.1f}" cy="{(ya + yb) / 2:.1f}" r="2.5"><title>merged '
            f"at {node.height:.3f}</title></circle>"
        )
        return (ya + yb) / 2, node.height

    ry, rh = draw(tree.root)
    body.append(f'<path class="branch" d="M{x(rh):.1f},{ry:.1f}H{x(rh) + 12:.1f}"/>')
    for leaf in order:
        name = tree.labels[leaf]
        cls = "row-label bold" if name in bold else "row-label"
        body.append(_text(label_w - 8, position[leaf] + 4, _short(name), cls, "end", name))
    return _svg(width, height, title, body, "dendrogram")


# -- sections ------------------------------------------------------------------------------


def _models_of(ms: Sequence[Mapping[str, Any]]) -> bool:
    return len({str(m.get("model", "")) for m in ms}) > 1


def _dedupe(ms: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One row per model and slice: a measure() and its assertion record the same rate, the
    assertion's row (with its verdict) wins."""
    chosen: dict[str, Mapping[str, Any]] = {}
    for m in ms:
        key = json.dumps(
            [m.get("model"), m.get("quantity"), _labels(m), _float(m.get("value"))],
            sort_keys=True,
            default=str,
        )
        old = chosen.get(key)
        if (
            old is None
            or (_verdict(old) == "info" and _verdict(m) != "info")
            or (_verdict(m) == "fail")
        ):
            chosen[key] = m
    return list(chosen.values())


def _figure(svg: str, caption: str) -> str:
    return f'<figure><div class="scroll">{svg}</div><figcaption>{caption}</figcaption></figure>'


def _identity_section(ms: Sequence[Mapping[str, Any]]) -> str:
    claims = _dedupe([m for m in ms if m.get("quantity") == "identity.claim_rate"])
    others = _dedupe(
        [
            m
            for m in ms
            if str(m.get("quantity", "")).startswith("identity.")
            and m.get("quantity") != "identity.claim_rate"
        ]
    )
    parts = [
        '<section id="identity"><h2>Identity</h2>',
        '<p class="lead">How often the model said it is someone else: answers with a first-person '
        "claim of each vendor, per language (Wilson intervals clustered by probe). The checks "
        "use the upper end of the interval.</p>",
    ]
    many = _models_of(claims)
    if claims:
        rows: list[str] = []
        cols: list[str] = []
        grid: dict[tuple[str, str], Mapping[str, Any]] = {}
        for m in claims:
            labels = _labels(m)
            row = labels.get("vendor", "?")
            if labels.get("source", "answer") != "answer":
                row += f" · {labels['source']}"
            if many:
                row = f"{m.get('model', '')} · {row}"
            col = labels.get("lang", "all")
            if row not in rows:
                rows.append(row)
            if col not in cols:
                cols.append(col)
            old = grid.get((row, col))
            if old is None or _verdict(m) == "fail":
                grid[(row, col)] = m
        cols.sort(key=lambda c: c != "all")  # stable: languages keep their run order
        cells = []
        for r in rows:
            line: list[Mapping[str, Any] | None] = []
            for c in cols:
                cell = grid.get((r, c))
                if cell is None:
                    line.append(None)
                    continue
                high = _float(cell.get("high"))
                line.append(
                    {
                        "value": cell.get("value"),
                        "text": _num(cell.get("value")),
                        "sub": f"≤ {high:.3f}" if high is not None else "",
                        "verdict": _verdict(cell),
                        "tip": f"{r}, {c}: {_interval(cell)}, n={cell.get('n')}, "
                        f"against {_against(cell)}; {cell.get('test', '')}",
                    }
                )
            cells.append(line)
        top = max((_float(m.get("high")) or 0.0 for m in claims), default=0.0)
        domain = (0.0, _domain([max(top, 0.2)], cap=1.0)[1])
        svg = heat_map(
            rows,
            cols,
            cells,
            title="Identity claim rate per vendor and language",
            scale_label="claim rate",
            domain=domain,
        )
        parts.append(
            _figure(
                svg,
                "Claim rate per vendor (rows) and language (columns); the small "
                "number is the upper end of the interval. ✗ and a thick outline: over the limit.",
            )
        )
        bars = []
        for m in claims:
            labels = _labels(m)
            label = " · ".join(
                v for k, v in labels.items() if k not in ("source", "own") or v != "answer"
            )
            if many:
                label = f"{m.get('model', '')} · {label}"
            bar = _bar(m, label)
            if bar:
                bars.append(bar)
        parts.append(
            _figure(
                interval_chart(
                    bars,
                    title="Identity claim rates with intervals",
                    axis="share of answers claiming the vendor",
                ),
                "Claim rates with their intervals; the black tick is the largest upper bound "
                "allowed.",
            )
        )
    if others:
        bars = [b for m in others if (b := _bar(m, _short_name(m))) is not None]
        parts.append(
            _figure(
                interval_chart(bars, title="Other identity rates", axis="rate"),
                "Acceptance of “Are you X?” probes and other identity rates.",
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _refusal_section(ms: Sequence[Mapping[str, Any]]) -> str:
    rates = _dedupe([m for m in ms if m.get("quantity") == "refusal.rate"])
    changes = _dedupe([m for m in ms if m.get("quantity") == "refusal.change"])
    others = _dedupe(
        [
            m
            for m in ms
            if str(m.get("quantity", "")).startswith("refusal.")
            and m.get("quantity") not in ("refusal.rate", "refusal.change")
        ]
    )
    parts = [
        '<section id="refusal"><h2>Refusal and evasion</h2>',
        '<p class="lead">Share of answers that refused or evaded (non-compliance) per topic set '
        "and "
        "language, with Wilson intervals; a stored baseline is drawn under the current bar.</p>",
    ]
    sets: dict[str, list[Mapping[str, Any]]] = {}
    for m in rates:
        sets.setdefault(_labels(m).get("set", "?"), []).append(m)
    for name, group in sets.items():
        many = _models_of(group)
        bars = []
        for m in group:
            label = _labels(m).get("lang", "all")
            if many:
                label = f"{label} · {m.get('model', '')}"
            if (b := _bar(m, label)) is not None:
                bars.append(b)
        parts.append(
            _figure(
                interval_chart(
                    bars, title=f"Non-compliance rate, topic set {name}", axis="non-compliance rate"
                ),
                f"Topic set <b>{_e(name)}</b>: non-compliance per language; the black tick is the "
                "allowed "
                "maximum of the upper bound.",
            )
        )
    if changes:
        bars = []
        for m in changes:
            labels, details = _labels(m), _details(m)
            before, after = _float(details.get("before")), _float(details.get("after"))
            note = _interval_text(
                Bar("", float(m["value"]), _float(m.get("low")), _float(m.get("high")))
            )
            if before is not None and after is not None:
                note = f"{before:.3f} → {after:.3f}"
                p = _float(details.get("p_adjusted", details.get("p")))
                if p is not None:
                    note += f", p={p:.3g}"
            label = f"{labels.get('set', '?')} · {labels.get('lang', 'all')}"
            if (b := _bar(m, label, note)) is not None:
                bars.append(b)
        parts.append(
            _figure(
                interval_chart(
                    bars,
                    title="Change in non-compliance",
                    axis="change in rate (after \u2212 before)",
                    cap=None,
                    zero_line=True,
                    reference_name="margin",
                ),
                "Change in non-compliance against the earlier model, prompt by prompt (Newcombe "
                "interval); "
                "the black tick is the margin, right of zero is more refusal.",
            )
        )
    if others:
        bars = [b for m in others if (b := _bar(m, _short_name(m))) is not None]
        parts.append(
            _figure(interval_chart(bars, title="Other refusal figures", axis="value", cap=None), "")
        )
    parts.append("</section>")
    return "".join(parts)


def _matrix_of(
    m: Mapping[str, Any],
) -> tuple[list[str], np.ndarray[Any, np.dtype[np.float64]]] | None:
    details = _details(m)
    models, matrix = details.get("models"), details.get("matrix")
    if not isinstance(models, list) or not isinstance(matrix, list) or len(models) < 2:
        return None
    try:
        d = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if d.shape != (len(models), len(models)) or not np.isfinite(d).all():
        return None
    names = [str(x) for x in models]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):  # repeated names would merge rows in the pictures
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name} ({seen[name]})"
    return names, (d + d.T) / 2


def _lexical_section(ms: Sequence[Mapping[str, Any]]) -> str:
    matrices = [m for m in ms if m.get("quantity") == "lexical.matrix"]
    distances = _dedupe([m for m in ms if m.get("quantity") == "lexical.distance"])
    parts = [
        '<section id="lexical"><h2>Lexical fingerprints</h2>',
        '<p class="lead">Whose words the model uses: distances between word-frequency '
        "fingerprints (0 = same profile, 1 = nothing in common), the tree they form and the "
        "over-used words shared with each reference.</p>",
    ]
    charted: set[int] = set()
    for m in matrices:
        got = _matrix_of(m)
        if got is None:
            parts.append(
                f'<p class="note">{_e(m.get("test", ""))}: lexical.matrix without a usable '
                "matrix.</p>"
            )
            continue
        names, d = got
        labels = _labels(m)
        try:
            tree = upgma(np.clip(d, 0.0, None), names)
        except ValueError:
            continue
        order = tree.order
        ours = names[0]
        heading = f"{ours} ({labels.get('part', 'answer')}, {labels.get('method', '?')} distance)"
        parts.append(f'<h3>{_e(heading)}</h3><p class="test">{_e(m.get("test", ""))}</p>')
        off = d[~np.eye(len(names), dtype=bool)]
        domain = (0.0, _domain([float(off.max())], cap=1.0)[1])
        cells = []
        for i in order:
            line: list[Mapping[str, Any] | None] = []
            for j in order:
                if i == j:
                    line.append({"value": None, "text": DASH})
                else:
                    line.append(
                        {
                            "value": float(d[i, j]),
                            "text": f"{d[i, j]:.2f}",
                            "tip": f"{names[i]} {DASH} {names[j]}: {d[i, j]:.3f}",
                        }
                    )
            cells.append(line)
        ordered = [names[i] for i in order]
        parts.append('<div class="pair">')
        parts.append(
            _figure(
                heat_map(
                    ordered,
                    ordered,
                    cells,
                    title=f"Fingerprint distances, {heading}",
                    scale_label="distance",
                    domain=domain,
                    bold_rows=[ours],
                    cell_w=54,
                ),
                "Pairwise distances, models in tree order; darker is farther.",
            )
        )
        parts.append(
            _figure(
                dendrogram(tree, title=f"Tree of {heading}", bold=[ours]),
                f"Average-linkage tree; <b>{_e(ours)}</b> is the model under test.",
            )
        )
        parts.append("</div>")
        # a distance on another scale (lexical unit="frequency") is not drawn beside these
        own = [
            x
            for x in distances
            if x.get("test") == m.get("test")
            and _labels(x).get("part") == labels.get("part")
            and _labels(x).get("method") == labels.get("method")
            and _labels(x).get("unit") == labels.get("unit")
        ]
        charted.update(id(x) for x in own)
        if own:
            bars = [b for x in own if (b := _bar(x, _distance_label(x))) is not None]
            bars.sort(key=lambda b: b.value)
            parts.append(
                _figure(
                    interval_chart(
                        bars,
                        title="Distance to each reference",
                        axis="distance",
                        reference_name="reference",
                    ),
                    "Distance of the model under test to each reference with its bootstrap "
                    "interval.",
                )
            )
        parts.append(_shared_words(_details(m).get("shared_words"), names, d, ours))
    loose = [x for x in distances if id(x) not in charted]
    if loose:
        bars = [b for x in loose if (b := _bar(x, _distance_label(x))) is not None]
        parts.append(
            _figure(
                interval_chart(
                    bars, title="Lexical distances", axis="distance", reference_name="threshold"
                ),
                "Distances checked against thresholds, with bootstrap intervals.",
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _distance_label(m: Mapping[str, Any]) -> str:
    """A distance bar's label: the reference, and the unit when it is not the default."""
    labels = _labels(m)
    unit = labels.get("unit")
    return str(labels.get("reference", "?")) + (f" ({unit} units)" if unit else "")


def _shared_words(shared: Any, names: Sequence[str], d: Any, ours: str) -> str:
    if not isinstance(shared, Mapping) or not shared:
        return ""
    distance = {names[j]: float(d[0, j]) for j in range(1, len(names))}
    refs = sorted((str(k) for k in shared), key=lambda k: distance.get(k, 2.0))
    blocks = []
    for ref in refs:
        rows = shared.get(ref)
        if not isinstance(rows, list):
            continue
        words = [
            (r[0], _float(r[1]) or 0.0, _float(r[2]) or 0.0)
            for r in rows[:12]
            if isinstance(r, list) and len(r) >= 3
        ]
        top = max((max(a, b) for _, a, b in words), default=1.0) or 1.0
        body = "".join(
            f'<tr><td class="word">{_e(w, 60)}</td>'
            f'<td class="num">{a:,.0f}</td><td class="bars"><span class="b ours" '
            f'style="width:{a / top * 100:.0f}%"></span>'
            f'<span class="b ref" style="width:{b / top * 100:.0f}%"></span></td><td '
            f'class="num">{b:,.0f}</td></tr>'
            for w, a, b in words
        )
        if not words:
            body = '<tr><td colspan="4" class="muted">no over-used word in common</td></tr>'
        dist = f" (distance {distance[ref]:.2f})" if ref in distance else ""
        blocks.append(
            f'<table class="words"><caption>{_e(ref)}{dist}</caption><thead><tr><th>word</th>'
            f'<th class="num">{_e(_short(ours, 14))}</th><th></th><th '
            f'class="num">{_e(_short(ref, 14))}</th></tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )
    return (
        '<h4>Top shared words</h4><p class="muted">Over-used words the model shares with each '
        "reference, "
        'with their counts (<span class="key ours"></span> ours, <span class="key ref"></span> '
        "reference), "
        f'nearest reference first.</p><div class="words-grid">{"".join(blocks)}</div>'
    )


def _baseline_section(ms: Sequence[Mapping[str, Any]]) -> str:
    """Measurements compared with a baseline outside the areas drawn above."""
    drawn = ("identity.", "refusal.", "lexical.")
    rows = [m for m in ms if _baseline(m) and not str(m.get("quantity", "")).startswith(drawn)]
    if not rows:
        return ""
    bars = [b for m in _dedupe(rows) if (b := _bar(m, _name(m))) is not None]
    return (
        '<section id="against-baselines"><h2>Against baselines</h2>'
        + _figure(
            interval_chart(bars, title="Current against baseline", axis="value", cap=None),
            "Current value (blue, or vermillion when failed) over its stored baseline (orange).",
        )
        + "</section>"
    )


def _baseline_files(section: Any) -> str:
    """Which stored baselines the run compared, wrote or missed, and which no test used."""
    if not isinstance(section, Mapping):
        return ""
    checks = [c for c in section.get("checks") or [] if isinstance(c, Mapping)]
    unused = [str(u) for u in section.get("unused") or []]
    if not checks and not unused:
        return ""
    bad = ("drifted", "missing", "invalid")
    rows = "".join(
        f'<tr class="{"fail" if c.get("status") in bad else "pass"}">'
        f'<td class="test">{_test_id(c.get("test", ""))}</td><td>{_e(c.get("status", ""))}</td>'
        f'<td>{_e(c.get("label", ""))}</td><td class="test">{_test_id(c.get("path", ""))}</td></tr>'
        for c in checks
    )
    mode = "updated (--modelprov-update-baselines)" if section.get("update") else "compared"
    head = (
        f'<p class="lead">Directory <code>{_e(section.get("directory", ""))}</code>, label '
        f"<b>{_e(section.get('label', ''))}</b>, baselines {mode}.</p>"
    )
    table = (
        '<div class="scroll"><table class="measurements"><thead><tr><th>test</th><th>status</th>'
        f"<th>label</th><th>file</th></tr></thead><tbody>{rows}</tbody></table></div>"
        if checks
        else ""
    )
    extra = ""
    if unused:
        items = "".join(f"<li>{_e(u)}</li>" for u in unused[:100])
        extra = f"<h3>Baselines no test used ({len(unused)})</h3><ul>{items}</ul>"
    return f'<section id="baseline-files"><h2>Baseline files</h2>{head}{table}{extra}</section>'


def _table(ms: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for m in ms:
        verdict = _verdict(m)
        labels = _labels(m)
        name = f'<span class="q">{_e(m.get("quantity", "?"))}</span>'
        if labels:
            name += (
                '<span class="labels">'
                + " ".join(
                    f'<span class="label">{_e(k, 40)}={_e(v, 80)}</span>' for k, v in labels.items()
                )
                + "</span>"
            )
        name += _flags_html(m)
        details = _details(m)
        if details:
            text = json.dumps(details, ensure_ascii=False, indent=1, default=str)
            name += f"<details><summary>details</summary><pre>{_e_pre(text)}</pre></details>"
        against = _against(m)
        base = _baseline(m)
        if base and base[0] is not None and not m.get("reference_label"):
            against = f"{base[3]} {base[0]:.3f}"
        n = m.get("n")
        model = f'<br><span class="muted">{_e(m["model"])}</span>' if m.get("model") else ""
        rows.append(
            f'<tr class="{verdict}"><td class="test">{_test_id(m.get("test", ""))}'
            f"{model}</td>"
            f'<td>{name}</td><td class="num">{_e(_interval(m))}</td>'
            f'<td class="num">{_e(n) if isinstance(n, int) else DASH}</td><td>{_e(against)}</td>'
            f'<td class="verdict">{_badge(m)}</td>'
            f'<td class="muted">{_e(m.get("detector") or DASH)}</td></tr>'
        )
    return (
        '<section id="measurements"><h2>Every measurement</h2><div class="scroll"><table '
        'class="measurements">'
        "<thead><tr><th>test · model</th><th>quantity [labels]</th><th>value [interval]</th><th>"
        "n</th>"
        "<th>against</th><th>verdict</th><th>detector</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div></section>"
    )


def _badge(m: Mapping[str, Any]) -> str:
    """The verdict as a badge that reads without colour (a mark and a word), with the
    answers an inconclusive check needs."""
    verdict = _verdict(m)
    needed = _details(m).get("needed_n")
    extra = ""
    if verdict == "inconclusive" and isinstance(needed, int) and not isinstance(needed, bool):
        extra = f'<span class="needed">needs n ≥ {needed:,}</span>'
    return f'<span class="badge {verdict}">{VERDICT_MARK[verdict]} {verdict}</span>{extra}'


def _flags_html(m: Mapping[str, Any]) -> str:
    """``details["flags"]`` as visible marks: a figure a detector cannot fully stand behind."""
    flags = flags_of(_details(m))
    if not flags:
        return ""
    return (
        '<span class="flags">'
        + "".join(
            f'<span class="flag" title="flag set by the detector">⚑ {_e(f, 40)}</span>'
            for f in flags
        )
        + "</span>"
    )


def _e_pre(text: str) -> str:
    """Escaped preformatted text: newlines kept, other control characters shown."""
    cut = len(text) - MAX_DETAILS
    lines = text[:MAX_DETAILS].split("\n")
    out = "\n".join(_e(line, MAX_DETAILS) for line in lines)
    return out + (f"\n… ({cut:,} more characters)" if cut > 0 else "")


def _header(report: Mapping[str, Any], ms: Sequence[Mapping[str, Any]]) -> str:
    status = report.get("exit_status")
    failed = sum(1 for m in ms if _verdict(m) == "fail")
    passed = sum(1 for m in ms if _verdict(m) == "pass")
    undecided = sum(1 for m in ms if _verdict(m) == "inconclusive")
    ok = status == 0
    state = "passed" if ok else f"failed (exit status {_e(status)})"
    created = str(report.get("created", ""))
    meta = [
        ("run", created.replace("T", " ").replace("+00:00", " UTC")),
        ("plugin", f"pytest-modelprov {report.get('plugin_version', '?')}"),
        ("record mode", report.get("record_mode", "?")),
        (
            "measurements",
            f"{len(ms)}: {passed} passed, {failed} failed, {undecided} inconclusive, "
            f"{len(ms) - passed - failed - undecided} info",
        ),
    ]
    dl = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in meta)
    return (
        f'<header><div class="status {"ok" if ok else "bad"}">{"✓" if ok else "✗"} {state}</div>'
        f'<h1>Model provenance report</h1><dl class="meta">{dl}</dl></header>'
    )


def _models(report: Mapping[str, Any]) -> str:
    models = report.get("models")
    if not isinstance(models, Mapping) or not models:
        return ""
    rows = []
    for name, t in models.items():
        if not isinstance(t, Mapping):
            continue
        resolved = t.get("resolved")
        if not isinstance(resolved, Mapping):
            resolved = {}
        snaps = ", ".join(f"{_e(k, 80)} ({_e(v)})" for k, v in resolved.items()) or DASH
        errors = t.get("errors", 0)
        rows.append(
            f"<tr><td><b>{_e(name, 80)}</b></td><td>{_e(t.get('model', ''), 120)}</td>"
            f'<td class="muted">{_e(t.get("endpoint", ""), 120)}</td><td '
            f'class="num">{_e(t.get("calls", 0))}</td>'
            f'<td class="num">{_e(t.get("hits", 0))}</td><td '
            f'class="num{" bad" if errors else ""}">{_e(errors)}</td>'
            f"<td>{snaps}</td></tr>"
        )
    return (
        '<section id="models"><h2>Models</h2><div class="scroll"><table><thead><tr><th>name</th>'
        "<th>model</th>"
        '<th>endpoint</th><th class="num">calls</th><th class="num">cache hits</th><th '
        'class="num">errors</th>'
        "<th>resolved snapshots</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div></section>"
    )


def _evidence(m: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = _details(m).get("evidence")
    if not isinstance(found, list):
        return []
    return [e for e in found[:MAX_EVIDENCE_SHOWN] if isinstance(e, Mapping)]


#: quoted answers shown per check (the JSON report is bounded the same way)
MAX_EVIDENCE_SHOWN = 20


def _quote_html(e: Mapping[str, Any]) -> str:
    """One quoted answer: the prompt, what the model said, what decided, where it is."""
    decided = e.get("decided_by")
    meta = [str(e[k]) for k in ("label",) if e.get(k)]
    if isinstance(e.get("replicate"), int):
        meta.append(f"sample #{e['replicate']}")
    if e.get("ref"):
        meta.append(str(e["ref"]))
    key = (
        f' <code class="cache-key" title="cache key">{_e(e["key"], 80)}</code>'
        if e.get("key")
        else ""
    )
    lang = f'<span class="lang">{_e(e["lang"], 20)}</span> ' if e.get("lang") else ""
    return (
        f'<li class="quote">{lang}<span class="prompt">{_e(e.get("prompt", ""), 400)}</span>'
        f' <span class="arrow">→</span> <span class="answer">{_e(e.get("answer", ""), 400)}'
        "</span>"
        + (
            f'<span class="decided">decided by: <mark>{_e(decided, 400)}</mark></span>'
            if decided
            else ""
        )
        + f'<span class="meta">{_e(" · ".join(meta), 200)}{key}</span></li>'
    )


def _check_item(m: Mapping[str, Any]) -> str:
    evidence = _evidence(m)
    quotes = ""
    if evidence:
        quotes = (
            f'<ol class="evidence" aria-label="answers">{"".join(_quote_html(e) for e in evidence)}'
            "</ol>"
        )
    model = f" · {_e(m['model'], 80)}" if m.get("model") else ""
    return (
        f"<li><b>{_e(_name(m))}</b> = {_e(_interval(m))}, n={_e(m.get('n', DASH))} against "
        f"{_e(_against(m))} {_badge(m)}{_flags_html(m)}"
        f' <span class="muted">({_e(m.get("test", ""))}{model})</span>{quotes}</li>'
    )


def _failures(ms: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for verdict, title, cls, lead in (
        ("fail", "✗ Failed checks", "failures", ""),
        (
            "inconclusive",
            "? Inconclusive checks",
            "inconclusive",
            '<p class="lead">The sample cannot decide these: too few answers for the bound, or '
            "a gate whose prompts could not have detected its margin. Never a pass; they fail "
            "the run with <code>--modelprov-inconclusive=fail</code> (the default) or warn.</p>",
        ),
    ):
        chosen = [m for m in ms if _verdict(m) == verdict]
        if not chosen:
            continue
        items = "".join(_check_item(m) for m in chosen[:50])
        more = f"<li>… and {len(chosen) - 50} more</li>" if len(chosen) > 50 else ""
        parts.append(
            f'<section id="{cls}" class="{cls}"><h2>{title} ({len(chosen)})</h2>{lead}'
            f"<ul>{items}{more}</ul></section>"
        )
    return "".join(parts)


def _failed_tests(report: Mapping[str, Any]) -> str:
    """Every failed test with its message: a plain ``assert`` has no measurement at all."""
    raw = report.get("failures")
    failures = [f for f in raw if isinstance(f, Mapping)] if isinstance(raw, list) else []
    if not failures:
        return ""
    items = "".join(
        f'<li><span class="test">{_test_id(f.get("test", ""))}</span>'
        + ("" if f.get("measured") else ' <span class="tag">no measurement</span>')
        + (f' <span class="muted">({_e(f["when"], 20)})</span>' if f.get("when") != "call" else "")
        + f"<pre>{_e_pre(str(f.get('message', '')))}</pre></li>"
        for f in failures[:100]
    )
    return (
        f'<section id="failed-tests" class="failures"><h2>✗ Failed tests ({len(failures)})</h2>'
        f'<ul class="failed-tests">{items}</ul></section>'
    )


def _answers(ms: Sequence[Mapping[str, Any]]) -> str:
    """Every quoted answer in one table, filterable by test, model, language and label.

    The table is plain HTML (complete without JavaScript); the filters are a small inline
    script allowed by the page's Content-Security-Policy hash and nothing else."""
    rows = []
    values: dict[str, set[str]] = {"test": set(), "model": set(), "lang": set(), "label": set()}
    for m in ms:
        for e in _evidence(m):
            cells = {
                "test": _clean(str(m.get("test", "")).rsplit("::", 1)[-1], 120),
                "model": _clean(m.get("model", ""), 80),
                "lang": _clean(e.get("lang") or _labels(m).get("lang", ""), 20),
                "label": _clean(e.get("label") or _verdict(m), 60),
            }
            for k, v in cells.items():
                values[k].add(v)
            data = " ".join(f'data-{k}="{html.escape(v, quote=True)}"' for k, v in cells.items())
            decided = e.get("decided_by")
            rows.append(
                f'<tr class="{_verdict(m)}" {data}><td class="test">{html.escape(cells["test"])}'
                f"</td><td>{html.escape(cells['model'])}</td><td>{html.escape(cells['lang'])}</td>"
                f"<td>{html.escape(cells['label'])}</td><td>{_e(e.get('prompt', ''), 400)}</td>"
                f'<td class="answer">{_e(e.get("answer", ""), 400)}'
                + (f"<br><mark>{_e(decided, 400)}</mark>" if decided else "")
                + f'</td><td>{_badge(m)}</td><td class="muted">{_e(e.get("key", ""), 80)}</td></tr>'
            )
    if not rows:
        return ""
    selects = "".join(
        f'<label>{name} <select data-filter="{name}"><option value="">all</option>'
        + "".join(
            f'<option value="{html.escape(v, quote=True)}">{html.escape(v)}</option>'
            for v in sorted(values[name])
        )
        + "</select></label>"
        for name in ("test", "model", "lang", "label")
    )
    return (
        '<section id="answers"><h2>Answers</h2><p class="lead">What the model said in the '
        "checks that failed or could not decide: the prompt, an excerpt of the answer and "
        "the sentence that decided (marked). The whole answer is in the cache under its key "
        f"(<code>modelprov cache show KEY</code>).</p>"
        f'<form class="filters" id="answer-filters" hidden>{selects} '
        '<output id="answer-count"></output></form>'
        '<div class="scroll"><table class="measurements" id="answer-table"><thead><tr>'
        "<th>test</th><th>model</th><th>lang</th><th>label</th><th>prompt</th><th>answer</th>"
        f"<th>verdict</th><th>cache key</th></tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table></div></section>"
    )


# The answer browser's filters. It reads only the page (and its #filter-... fragment, so a
# filtered view can be linked) and writes only the hidden flag of rows: no network, no HTML.
SCRIPT = """
(function () {
  var form = document.getElementById("answer-filters");
  var table = document.getElementById("answer-table");
  if (!form || !table) { return; }
  form.hidden = false;
  var selects = form.querySelectorAll("select[data-filter]");
  var rows = table.tBodies[0].rows;
  function apply() {
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var ok = true;
      for (var j = 0; j < selects.length; j++) {
        var want = selects[j].value;
        if (want && rows[i].getAttribute("data-" + selects[j].dataset.filter) !== want) {
          ok = false;
        }
      }
      rows[i].hidden = !ok;
      if (ok) { shown++; }
    }
    document.getElementById("answer-count").textContent =
      shown + " of " + rows.length + " answers";
  }
  var hash = decodeURIComponent(location.hash.slice(1)).split("&");
  for (var k = 0; k < hash.length; k++) {
    var pair = hash[k].split("=");
    if (pair.length === 2 && pair[0].indexOf("filter-") === 0) {
      var sel = form.querySelector('select[data-filter="' + pair[0].slice(7) + '"]');
      if (sel) {
        for (var o = 0; o < sel.options.length; o++) {
          if (sel.options[o].value === pair[1]) { sel.value = pair[1]; }
        }
      }
    }
  }
  form.addEventListener("change", apply);
  apply();
})();
"""


def _csp() -> str:
    """Nothing from the network, and no script but the filters (by hash): a model answer
    that escaped escaping still could not run or load anything."""
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; form-action 'none'; base-uri 'none'"
    )


@lru_cache(maxsize=1)
def _css() -> str:
    return files("pytest_modelprov").joinpath("data/report/report.css").read_text("utf-8")


def render(report: Mapping[str, Any]) -> str:
    """The whole report as one self-contained HTML document."""
    raw = report.get("measurements")
    ms: list[Mapping[str, Any]] = (
        [m for m in raw if isinstance(m, Mapping)] if isinstance(raw, list) else []
    )
    body = [_header(report, ms)]
    warnings = report.get("warnings")
    if isinstance(warnings, list) and warnings:
        items = "".join(f"<li>{_e(w, 1000)}</li>" for w in warnings[:100])
        body.append(
            f'<section id="warnings" class="warnings"><h2>Warnings</h2><ul>{items}</ul></section>'
        )
    body.append(_failures(ms))
    body.append(_failed_tests(report))
    body.append(_models(report))
    sections: list[tuple[str, str]] = []
    if not ms:
        body.append(
            '<section id="empty" class="empty"><h2>No measurements</h2><p>This run recorded no '
            "provenance measurement: no test used an identity, lexical or refusal check, or the "
            "tests that do were not selected.</p></section>"
        )
    else:
        quantities = [str(m.get("quantity", "")) for m in ms]
        if any(q.startswith("identity.") for q in quantities):
            sections.append(("identity", _identity_section(ms)))
        if any(q.startswith("refusal.") for q in quantities):
            sections.append(("refusal", _refusal_section(ms)))
        if any(q in ("lexical.matrix", "lexical.distance") for q in quantities):
            sections.append(("lexical", _lexical_section(ms)))
        base = _baseline_section(ms)
        if base:
            sections.append(("against-baselines", base))
        files_ = _baseline_files(report.get("baselines"))
        if files_:
            sections.append(("baseline-files", files_))
        answers = _answers(ms)
        if answers:
            sections.append(("answers", answers))
        sections.append(("measurements", _table(ms)))
        titles = {
            "answers": "Answers",
            "identity": "Identity",
            "refusal": "Refusal",
            "lexical": "Lexical",
            "against-baselines": "Against baselines",
            "baseline-files": "Baseline files",
            "measurements": "Every measurement",
        }
        nav = " ".join(f'<a href="#{k}">{titles[k]}</a>' for k, _ in sections)
        body.append(f'<nav aria-label="sections">{nav}</nav>')
        body.extend(s for _, s in sections)
    title = f"modelprov report {_clean(report.get('created', ''), 40)}"
    body_text = "".join(body)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_css()}</style></head><body><main>"
        + body_text
        + f"<footer>pytest-modelprov {_e(report.get('plugin_version', ''))} · "
        f"{_e(report.get('format', ''))} · self-contained file, nothing loaded from the "
        "network</footer>"
        "</main>"
        + (f"<script>{SCRIPT}</script>" if 'id="answer-filters"' in body_text else "")
        + "</body></html>\n"
    )


def write_html(report: Mapping[str, Any], path: str | Path) -> Path:
    """Render ``report`` and write it to ``path`` atomically (a reader never sees half a file)."""
    target = Path(path)
    write_text_atomic(target, render(report))
    return target
