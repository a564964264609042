"""Judge-audited rates: the free classifier's figure, corrected by a judge on a random subset.

A judge on every answer is accurate and costs a call per answer; the offline classifier is
free and can be biased for one model. Prediction-powered inference (Angelopoulos et al.,
Science 2023) combines them: the classifier labels every answer, the judge a seeded random
subset, and the estimate is the classifier's rate plus the mean judge-minus-classifier
difference on that subset. The estimate is unbiased for the judge's rate however biased the
classifier is; only its interval widens when the classifier disagrees with the judge often.

The unit is the prompt: several samples of one prompt are not independent, so the subset
is drawn by prompt and every spread is measured between prompts. Two choices keep the
interval honest at the small audits people can afford:

* the sampling spread of the rate itself is a Wilson interval at the corrected estimate, on
  the effective number of answers (never a bare normal interval, which collapses at 0 or 1);
* the correction's spread counts two pseudo-prompts, one where the judge says "not
  compliant" and the classifier "compliant" and one the other way round (the device of
  Agresti and Caffo's interval): an audit that happens to see no disagreement is not taken
  as proof that there is none. Both spreads are combined by adding their squared
  half-widths (Newcombe's and Zou's MOVER).

``tests/test_audit.py`` checks by simulation that the interval covers the judge's rate at
its nominal level with a classifier biased by 0.15, and that it narrows as the classifier
improves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from .stats import _wilson_bounds, z_value


@dataclass(frozen=True)
class Audited:
    """An audited figure: the corrected estimate with its interval, and how it was made."""

    value: float
    low: float
    high: float
    confidence: float
    classifier_value: float
    correction: float
    audited_prompts: int
    prompts: int
    audited_answers: int
    answers: int
    p: float | None = None  # one-sided p-value that the change is above 0 (changes only)
    se: float | None = None  # standard error of a change (changes only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _design_effect(counts: Sequence[tuple[int, int]]) -> float:
    """Between-prompt spread of a rate over ``(k, n)`` per prompt, as a design effect >= 1."""
    total = sum(n for _, n in counts)
    used = [(k, n) for k, n in counts if n]
    # one answer per prompt: nothing is clustered (the rate's own Wilson interval, as
    # Result.rate gives it)
    if total == 0 or len(used) < 2 or all(n == 1 for _, n in used):
        return 1.0
    p = sum(k for k, _ in used) / total
    if p in (0.0, 1.0):
        return 1.0
    m = len(used)
    robust = m / (m - 1) * sum((k - p * n) ** 2 for k, n in used) / total**2
    return max(1.0, robust / (p * (1 - p) / total))


def _correction(
    audited: Sequence[tuple[int, int, int]], pseudo_size: float
) -> tuple[float, float, int]:
    """(mean judge-minus-classifier per answer, its variance, answers) over audited prompts.

    ``audited`` holds ``(judge positives, classifier positives, answers)`` per prompt. The
    variance is the cluster-robust one of a ratio estimator, with two pseudo-prompts of
    ``pseudo_size`` answers that disagree fully, one each way.
    """
    units = [(j - c, n) for j, c, n in audited if n]
    answers = sum(n for _, n in units)
    # no judged answer at all (every reply unparsed): no correction, and the pseudo-prompts
    # alone give the spread, so the interval says how little is known
    mean = sum(d for d, _ in units) / answers if answers else 0.0
    padded = [*units, (pseudo_size, pseudo_size), (-pseudo_size, pseudo_size)]
    m = len(padded)
    total = sum(n for _, n in padded)
    centre = sum(d for d, _ in padded) / total
    var = m / (m - 1) * sum((d - centre * n) ** 2 for d, n in padded) / total**2
    return mean, var, answers


def audited_rate(
    classifier_counts: Sequence[tuple[int, int]],
    audited: Sequence[tuple[int, int, int]],
    confidence: float = 0.95,
) -> Audited:
    """The audited rate over prompts.

    ``classifier_counts``: ``(classifier positives, answers)`` for every prompt.
    ``audited``: ``(judge positives, classifier positives, answers judged by both)`` for the
    audited prompts (a random subset of the same prompts).
    """
    answers = sum(n for _, n in classifier_counts)
    prompts = sum(1 for _, n in classifier_counts if n)
    if answers == 0:
        return Audited(0.0, 0.0, 1.0, confidence, 0.0, 0.0, 0, 0, 0, 0)
    f_bar = sum(k for k, _ in classifier_counts) / answers
    mean_size = answers / max(prompts, 1)
    correction, var_e, audited_answers = _correction(audited, mean_size)
    value = min(1.0, max(0.0, f_bar + correction))
    z = z_value(confidence)
    n_eff = answers / _design_effect(classifier_counts)
    w_low, w_high = _wilson_bounds(value, n_eff, z)
    # the audit's spread shrinks to nothing as the audit covers every answer
    half_e = z * math.sqrt(var_e * max(0.0, 1 - audited_answers / answers))
    low = max(0.0, value - math.hypot(value - w_low, half_e))
    high = min(1.0, value + math.hypot(w_high - value, half_e))
    return Audited(
        value,
        low,
        high,
        confidence,
        f_bar,
        correction,
        sum(1 for *_, n in audited if n),
        prompts,
        audited_answers,
        answers,
    )


def audited_change(
    classifier_changes: Sequence[float],
    audited: Sequence[tuple[float, float]],
    confidence: float = 0.95,
) -> Audited:
    """The audited change between two releases on the same prompts.

    ``classifier_changes``: per prompt, the classifier's non-compliance share after minus
    before. ``audited``: ``(judge change, classifier change)`` for the audited prompts. The
    p-value is one-sided (the change is above 0), from the normal approximation of the
    corrected mean of per-prompt changes.
    """
    n = len(classifier_changes)
    if n == 0:
        return Audited(0.0, -1.0, 1.0, confidence, 0.0, 0.0, 0, 0, 0, 0, 1.0)
    d_bar = sum(classifier_changes) / n
    errors = [j - c for j, c in audited]
    m = len(errors)
    correction = sum(errors) / m if m else 0.0
    value = max(-1.0, min(1.0, d_bar + correction))
    padded = [*errors, 1.0, -1.0]
    centre = sum(padded) / len(padded)
    var_e = sum((e - centre) ** 2 for e in padded) / (len(padded) - 1)
    # the spread of the true per-prompt change: whichever of the classifier's (all prompts)
    # and the judge's (audited prompts) is larger, so neither view understates it; two
    # pseudo-prompts that moved fully each way keep it above zero when every prompt moved
    # alike (twelve prompts that all flipped are not a certainty)
    spreads = [
        _variance([*classifier_changes, 1.0, -1.0]),
        _variance([*(j for j, _ in audited), 1.0, -1.0]),
    ]
    var_true = max(spreads) / n
    se = math.sqrt(var_true + var_e / max(m, 1) * max(0.0, 1 - m / n))
    z = z_value(confidence)
    p = 1 - NormalDist().cdf(value / se)
    return Audited(
        value,
        max(-1.0, value - z * se),
        min(1.0, value + z * se),
        confidence,
        d_bar,
        correction,
        m,
        n,
        m,
        n,
        p,
        se,
    )


def detectable_change(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The change a one-sided z test at ``alpha`` finds with ``power``, given its standard
    error: what an audited gate can see."""
    normal = NormalDist()
    return (normal.inv_cdf(1 - alpha) + normal.inv_cdf(power)) * se


def _variance(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)
