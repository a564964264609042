"""The HTML report's inline SVG charts: the interval ("forest") chart of figures with their
confidence intervals against a baseline, the heat map of a distance matrix and the
dendrogram of its clustering; and the scales they share.
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..cluster import Node, Tree
from .markup import (
    _BLUES,
    MAX_LABEL,
    ORANGE,
    VERDICT_COLOUR,
    VERDICT_MARK,
    _clean,
    _details,
    _e,
    _float,
    _verdict,
)


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
