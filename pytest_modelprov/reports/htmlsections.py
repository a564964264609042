"""The HTML report's section per detector: identity claim rates, refusal rates, lexical
distances (with the heat map and dendrogram of a matrix) and baselines, each drawn from the
JSON report's measurements with the charts of :mod:`.charts`; and the HTML building blocks
(tables, badges, flags) the rest of the page uses too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..cluster import upgma
from .charts import (
    Bar,
    _bar,
    _baseline,
    _domain,
    _interval_text,
    _short,
    dendrogram,
    heat_map,
    interval_chart,
)
from .markup import (
    DASH,
    MAX_DETAILS,
    VERDICT_MARK,
    _against,
    _details,
    _e,
    _float,
    _interval,
    _labels,
    _name,
    _num,
    _short_name,
    _test_id,
    _verdict,
)
from .measurement import flags_of


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


def _matrix_of(m: Mapping[str, Any]) -> tuple[list[str], list[list[float]]] | None:
    """The models and their distance matrix (made symmetric), or None when the details do
    not hold a finite square matrix with a row per model (untrusted: read from a report)."""
    details = _details(m)
    models, matrix = details.get("models"), details.get("matrix")
    if not isinstance(models, list) or not isinstance(matrix, list) or len(models) < 2:
        return None
    size = len(models)
    if len(matrix) != size or not all(
        isinstance(row, (list, tuple)) and len(row) == size for row in matrix
    ):
        return None
    try:
        d = [[float(x) for x in row] for row in matrix]
    except (TypeError, ValueError, OverflowError):
        return None
    if not all(math.isfinite(x) for row in d for x in row):
        return None
    names = [str(x) for x in models]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):  # repeated names would merge rows in the pictures
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name} ({seen[name]})"
    return names, [[(d[i][j] + d[j][i]) / 2 for j in range(size)] for i in range(size)]


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
            tree = upgma([[max(x, 0.0) for x in row] for row in d], names)
        except ValueError:
            continue
        order = tree.order
        ours = names[0]
        heading = f"{ours} ({labels.get('part', 'answer')}, {labels.get('method', '?')} distance)"
        parts.append(f'<h3>{_e(heading)}</h3><p class="test">{_e(m.get("test", ""))}</p>')
        off = max(d[i][j] for i in range(len(names)) for j in range(len(names)) if i != j)
        domain = (0.0, _domain([off], cap=1.0)[1])
        cells = []
        for i in order:
            line: list[Mapping[str, Any] | None] = []
            for j in order:
                if i == j:
                    line.append({"value": None, "text": DASH})
                else:
                    line.append(
                        {
                            "value": d[i][j],
                            "text": f"{d[i][j]:.2f}",
                            "tip": f"{names[i]} {DASH} {names[j]}: {d[i][j]:.3f}",
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


def _shared_words(
    shared: Any, names: Sequence[str], d: Sequence[Sequence[float]], ours: str
) -> str:
    if not isinstance(shared, Mapping) or not shared:
        return ""
    distance = {names[j]: d[0][j] for j in range(1, len(names))}
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
