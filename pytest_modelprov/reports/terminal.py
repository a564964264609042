"""Text of the terminal summary (kept apart from the hooks so it can be tested directly)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from ..baseline import BaselineEvent
from ..calls.ledger import Ledger
from ..config import Settings
from ..util.files import display_path
from .measurement import Measurement, format_against, format_value, safe_text, verdict_text


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def summary_lines(ledger: Ledger, settings: Settings, width: int | None = None) -> list[str]:
    """Lines for the modelprov section; empty when no model was used in the run. Wider
    than ``width``, each model's name gets a line of its own above its figures."""
    if not ledger.used:
        return [f"warning: {safe_text(w, 2000)}" for w in ledger.warnings]
    header = (
        "model", "answers", "calls", "cache hits", "not cached", "errors", "retries",
        "tokens spent", "cost",
    )  # fmt: skip
    rows: list[tuple[str, ...]] = []
    resolved_notes: list[str] = []
    total_calls = total_hits = 0
    for name, t in sorted(ledger.tallies.items()):
        spent = t.prompt_tokens + t.completion_tokens
        cost = _money(t.cost) if t.priced else "-"
        rows.append(
            (
                safe_text(f"{name}: {t.model}"),
                str(t.calls + t.hits),
                str(t.calls),
                str(t.hits),
                str(t.uncached),
                str(t.errors),
                str(t.retries),
                f"{spent:,}",
                cost,
            )
        )
        total_calls += t.calls
        total_hits += t.hits
        if t.priced and t.saved_cost and not t.batched:  # a batch fill paid for those hits
            resolved_notes.append(f"{name}: the cache saved about {_money(t.saved_cost)}")
        if len(t.resolved) > 1:
            snaps = ", ".join(f"{safe_text(k)} ({v})" for k, v in sorted(t.resolved.items()))
            resolved_notes.append(f"{name}: answers came from several snapshots: {snaps}")
        if t.throttled:
            resolved_notes.append(
                f"{name}: {t.throttled} rate-limit answer{'s' * (t.throttled != 1)} (429); every "
                "call to it paused for the Retry-After and the pace was slowed"
            )
        if t.paced >= 0.05:
            resolved_notes.append(
                f"{name}: calls waited {t.paced:,.1f} s in all to stay under the rate limits"
            )
        if t.batched:
            resolved_notes.append(
                f"{name}: {t.batched} answers came through the Batch API (their tokens and "
                "cost, at the batch price, are in the row above)"
            )
        if t.reasoning_tokens:
            resolved_notes.append(
                f"{name}: {t.reasoning_tokens:,} of the tokens spent were reasoning"
            )
    lines = _tally_table(header, rows, width)
    where = (
        f"record mode: {settings.record_mode} ({settings.record_mode_source}); "
        f"cache: {settings.cache_dir}"
    )
    if width is not None and len(where) > width:
        lines[:0] = [
            f"record mode: {settings.record_mode} ({settings.record_mode_source})",
            f"cache: {display_path(settings.cache_dir)}",
        ]
    else:
        lines.insert(0, where)
    if total_calls == 0 and total_hits and not any(t.batched for t in ledger.tallies.values()):
        lines.append("every answer came from the cache: no model was called")
    lines.extend(resolved_notes)
    lines.extend(f"warning: {safe_text(w, 2000)}" for w in ledger.warnings)
    return lines


def _tally_table(
    header: tuple[str, ...], rows: Sequence[tuple[str, ...]], width: int | None
) -> list[str]:
    def lay(head: Sequence[str], body: Sequence[Sequence[str]], indent: str) -> list[str]:
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
        return [
            indent
            + "  ".join(
                cell.ljust(w) if i == 0 and indent == "" else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in [head, *body]
        ]

    lines = lay(header, rows, "")
    if width is None or max(len(line) for line in lines) <= width:
        return lines
    numbers = lay(header[1:], [r[1:] for r in rows], "  ")
    out = [numbers[0]]
    for row, figures in zip(rows, numbers[1:], strict=True):
        out.append(row[0][:width])
        out.append(figures)
    return out


def measurement_lines(
    measurements: Sequence[tuple[str, Measurement]], width: int | None = None
) -> list[str]:
    """One table of every provenance measurement in the run, at most ``width`` columns.

    A table wider than the terminal is grouped: each test (and model) gets a heading line
    and its rows drop those two columns and the quantity's area (``claim_rate`` for
    ``identity.claim_rate``); cells still too wide wrap onto more lines. Value, n and
    verdict are never cut, so the verdict stays visible at 80 columns. Every text is one
    inert line: a model id or label with escape codes cannot reach the terminal raw.
    """
    rows = [_row(nodeid, m, short=False) for nodeid, m in measurements]
    if width is None or _table_width([HEADER, *rows]) <= width:
        return _lay_out(HEADER, [(None, rows)], None)
    groups: list[tuple[str | None, list[tuple[str, ...]]]] = []
    for nodeid, m in measurements:
        heading = safe_text(nodeid.rsplit("::", 1)[-1]) + f"  ({safe_text(m.model)})"
        row = _row(nodeid, m, short=True)[2:]
        if groups and groups[-1][0] == heading:
            groups[-1][1].append(row)
        else:
            groups.append((heading, [row]))
    return _lay_out(HEADER[2:], groups, width)


def _lay_out(
    header: tuple[str, ...],
    groups: Sequence[tuple[str | None, Sequence[tuple[str, ...]]]],
    width: int | None,
) -> list[str]:
    rows = [r for _, group in groups for r in group]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    if width is not None:
        widths = _fit(widths, header, width - len(_INDENT))
    indent = _INDENT if width is not None else ""

    def draw(row: Sequence[str], prefix: str) -> list[str]:
        cells = [_wrap(c, w) for c, w in zip(row, widths, strict=True)]
        return [
            prefix
            + _GAP.join(
                (c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)
            ).rstrip()
            for k in range(max(len(c) for c in cells))
        ]

    lines = draw(header, indent)
    for heading, group in groups:
        if heading is not None and width is not None:
            lines.extend(textwrap.wrap(heading, width, break_on_hyphens=False) or [""])
        for row in group:
            lines.extend(draw(row, indent))
    return lines


HEADER = ("test", "model", "quantity", "value [interval]", "n", "against", "verdict")
_GAP = "  "
_INDENT = "  "
# columns that wrap: the width they keep while others are wider, and the narrowest
_SOFT = {"test": 24, "model": 12, "quantity": 18, "against": 12, "verdict": 12}
_HARD = {"test": 8, "model": 6, "quantity": 10, "against": 6, "verdict": 12}


def _row(nodeid: str, m: Measurement, *, short: bool) -> tuple[str, ...]:
    if short:
        quantity = m.quantity.split(".", 1)[-1]
        name = quantity + (f"[{', '.join(m.labels.values())}]" if m.labels else "")
        against = (m.reference_label or "").replace("max upper bound", "max")
        against = " ".join(
            p for p in (against, "" if m.reference is None else f"{m.reference:.3f}") if p
        )
    else:
        name, against = m.name, format_against(m)
    return (
        safe_text(nodeid.rsplit("::", 1)[-1]),
        safe_text(m.model),
        safe_text(name),
        format_value(m),
        "-" if m.n is None else str(m.n),
        safe_text(against) or "-",
        verdict_text(m),
    )


def _table_width(rows: Sequence[Sequence[str]]) -> int:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return sum(widths) + len(_GAP) * (len(widths) - 1)


def _fit(widths: list[int], header: Sequence[str], width: int) -> list[int]:
    """Narrow the wrapping column furthest above its soft minimum, one character at a
    time, until the table fits; then below the soft minima down to the hard ones."""
    widths = list(widths)
    total = sum(widths) + len(_GAP) * (len(widths) - 1)
    for floor in (_SOFT, _HARD):
        while total > width:
            room = {i: widths[i] - floor[h] for i, h in enumerate(header) if h in floor}
            i = max(room, key=lambda j: room[j])
            if room[i] <= 0:
                break
            widths[i] -= 1
            total -= 1
    return widths


def _wrap(cell: str, width: int) -> list[str]:
    if len(cell) <= width:
        return [cell]
    # break after separators first: a test id or a label list reads better cut there
    return textwrap.wrap(cell, width, break_long_words=True, break_on_hyphens=True) or [""]


def baseline_lines(
    events: Sequence[BaselineEvent], unused: Sequence[Path], *, directory: Path, update: bool
) -> list[str]:
    """What happened to the baselines: counts per status, then files that need a person."""
    if not events and not unused:
        return []
    counts: dict[str, int] = {}
    for e in events:
        counts[e.status] = counts.get(e.status, 0) + 1
    order = ("compared", "drifted", "written", "unchanged", "missing", "invalid", "incomparable")
    parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
    labels = ", ".join(sorted({e.label for e in events})) or "-"
    lines = [
        f"baselines in {display_path(directory)} ({labels}): " + (", ".join(parts) or "none used")
    ]
    for e in events:
        if e.status in ("missing", "invalid", "incomparable", "drifted", "written"):
            lines.append(f"  {e.status}: {display_path(Path(e.path))}  ({e.test})")
    if unused:
        lines.append(
            f"{len(unused)} baseline(s) no test used"
            + (
                " (delete them if their tests are gone):"
                if update
                else " (a test renamed or deleted? delete them, or run those tests):"
            )
        )
        lines.extend(f"  unused: {display_path(p)}" for p in unused)
    return lines
