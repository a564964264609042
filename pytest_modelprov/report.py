"""Text of the terminal summary (kept apart from the hooks so it can be tested directly)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .baseline import BaselineEvent
from .config import Settings
from .files import display_path
from .ledger import Ledger
from .measurement import Measurement, format_against, format_value


def _money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def summary_lines(ledger: Ledger, settings: Settings) -> list[str]:
    """Lines for the modelprov section; empty when no model was used in the run."""
    if not ledger.used:
        return [f"warning: {w}" for w in ledger.warnings]
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
                f"{name}: {t.model}",
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
            snaps = ", ".join(f"{k} ({v})" for k, v in sorted(t.resolved.items()))
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
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(
        0,
        f"record mode: {settings.record_mode} ({settings.record_mode_source}); "
        f"cache: {settings.cache_dir}",
    )
    if total_calls == 0 and total_hits and not any(t.batched for t in ledger.tallies.values()):
        lines.append("every answer came from the cache: no model was called")
    lines.extend(resolved_notes)
    lines.extend(f"warning: {w}" for w in ledger.warnings)
    return lines


def measurement_lines(measurements: Sequence[tuple[str, Measurement]]) -> list[str]:
    """One table of every provenance measurement in the run."""
    header = ("test", "model", "quantity", "value [interval]", "n", "against", "verdict")
    rows = []
    for nodeid, m in measurements:
        against = format_against(m) or "-"
        rows.append(
            (
                nodeid.rsplit("::", 1)[-1],
                m.model,
                m.name,
                format_value(m),
                "-" if m.n is None else str(m.n),
                against,
                m.verdict.upper() if m.verdict == "fail" else m.verdict,
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


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
