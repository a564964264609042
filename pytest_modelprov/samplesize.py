"""How many answers a check needs, before a suite spends money on them, and the three-way
verdict that follows from having too few.

A rate check passes when the upper end of its Wilson interval is at most the limit. With
no offending answer at all that bound is ``z² / (n + z²)``, so below
``answers_for_bound(limit)`` answers a check cannot pass whatever the model says: it is
*inconclusive* (unless the answers already show the rate is above the limit, which is a
fail at any size). A drift gate (McNemar, prompt by prompt) is inconclusive when it found
no significant increase but its prompts could not have detected the margin at 80% power.

Use them in a test to size a suite::

    from pytest_modelprov import samplesize

    samplesize.answers_for_bound(0.05)        # 73 independent answers for a 5% bound
    samplesize.prompts_for_margin(0.10)       # paired prompts to detect +10 points
    samplesize.answers_for_width(n=40, low=0.21, high=0.35, half_width=0.03)

The same figures are printed by ``--modelprov-plan`` for every check the tests would make.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from . import stats
from .reports.measurement import Measurement, Verdict, safe_text

__all__ = [
    "Decision",
    "answers_for_bound",
    "answers_for_width",
    "decide_rate",
    "plan_lines",
    "prompts_for_margin",
]

#: answers no helper will suggest past: a figure beyond it means "this cannot be shown"
MAX_ANSWERS = 10_000_000


def answers_for_bound(limit: float, *, confidence: float = 0.95, found: int = 0) -> int:
    """The fewest independent answers for which ``found`` offending answers still give a
    Wilson upper bound (two-sided ``confidence``) of at most ``limit``.

    ``found=0`` is the clean model: ``identity.assert_no_claim(vendor, max_rate=limit)``
    per language, ``refusal.assert_rate_at_most(result, limit)``. With no offending answer
    every answer counts in full (the interval clustered by prompt has nothing to cluster);
    once some answers offend, samples of one prompt count for less.
    """
    if not 0 < limit < 1:
        raise ValueError(f"limit must be between 0 and 1 (exclusive), got {limit!r}")
    if found < 0:
        raise ValueError(f"found must be >= 0, got {found!r}")
    z = stats.z_value(confidence)
    if found == 0:
        n = max(1, math.ceil(z * z * (1 - limit) / limit - 1e-9))
        while stats.wilson(0, n, confidence).high > limit:  # float rounding at the edge
            n += 1
        return n
    if found / limit > MAX_ANSWERS:
        raise ValueError(f"{found} offending answers cannot be shown below {limit}")
    low, high = found, max(found, 1)
    while stats.wilson(found, high, confidence).high > limit:
        low, high = high, high * 2
    while high - low > 1:  # the bound falls as n grows, with k fixed
        mid = (low + high) // 2
        if stats.wilson(found, mid, confidence).high > limit:
            low = mid
        else:
            high = mid
    return high


def prompts_for_margin(
    margin: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    discordance: float | None = None,
) -> int:
    """The fewest paired prompts for which the exact one-sided McNemar test at ``alpha``
    detects an increase of ``margin`` with ``power`` (``refusal.assert_stable``, refusal
    baselines). ``discordance`` is the share of prompts expected to flip the other way
    (default 0.05, two releases of one model)."""
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1 (exclusive), got {margin!r}")
    reverse = 0.05 if discordance is None else discordance
    if margin + 2 * reverse > 1:
        raise ValueError(f"a margin of {margin} with discordance {reverse} is not possible")
    low, high = 1, 8
    while stats.mcnemar_power(high, margin, reverse, alpha) < power:
        low, high = high, high * 2
        if high > 100_000:
            raise ValueError(f"no sample of up to 100,000 prompts detects {margin}")
    while high - low > 1:
        mid = (low + high) // 2
        if stats.mcnemar_power(mid, margin, reverse, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def answers_for_width(*, n: int, low: float, high: float, half_width: float) -> int:
    """From a pilot run of ``n`` answers whose interval was ``[low, high]``: the answers for
    an interval of ``± half_width`` (a lexical distance, a rate far from 0). Interval
    widths shrink as 1/sqrt(n), so this is an estimate to plan with, not a guarantee."""
    if n <= 0 or half_width <= 0 or high < low:
        raise ValueError("need n > 0, half_width > 0 and low <= high")
    now = (high - low) / 2
    if now <= half_width:
        return n
    return min(MAX_ANSWERS, math.ceil(n * (now / half_width) ** 2))


@dataclass(frozen=True)
class Decision:
    """A rate check's verdict, and the answers that would decide it when it is open."""

    verdict: Verdict
    needed: int | None = None

    def note(self) -> str:
        if self.verdict != "inconclusive" or self.needed is None:
            return ""
        return f"inconclusive: too few answers to decide; it takes >= {self.needed} answers"


def decide_rate(rate: stats.Rate, limit: float) -> Decision:
    """pass when the upper bound is at most ``limit``; inconclusive when it is not, but the
    sample is too small for any result to pass and the offending answers do not show the
    rate above ``limit`` either; fail otherwise."""
    if rate.high <= limit:
        return Decision("pass")
    if not 0 < limit < 1:
        return Decision("fail")
    needed = answers_for_bound(limit, confidence=rate.confidence)
    if rate.n < needed and rate.low <= limit:
        return Decision("inconclusive", needed)
    return Decision("fail")


def plan_lines(measurements: Sequence[tuple[str, Measurement]]) -> list[str]:
    """What each check the dry run saw needs, against what the tests would collect."""
    lines: list[str] = []
    for nodeid, m in measurements:
        need = _need(m)
        if need is None:
            continue
        have, needed, unit = need
        state = "enough" if have >= needed else f"TOO FEW (inconclusive below {needed:,})"
        lines.append(
            safe_text(
                f"  {nodeid.rsplit('::', 1)[-1]}: {m.name} against {m.reference:g}: "
                f"{have:,} {unit}, {needed:,} needed: {state}",
                400,
            )
        )
    if lines:
        lines.insert(0, "sample sizes (what each check needs to decide, see samplesize):")
    return lines


def _need(m: Measurement) -> tuple[int, int, str] | None:
    if m.reference is None or m.n is None:
        return None
    confidence = m.confidence or 0.95
    try:
        if m.quantity in ("identity.claim_rate", "identity.acceptance_rate", "refusal.rate"):
            if m.details.get("sequential"):
                return None
            return m.n, answers_for_bound(m.reference, confidence=confidence), "answers"
        if m.quantity == "refusal.change":
            return m.n, prompts_for_margin(m.reference), "paired prompts"
    except ValueError:
        return None
    return None
