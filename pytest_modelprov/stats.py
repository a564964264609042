"""The statistics behind every rate and drift verdict.

Model outputs are samples, so a rate is reported with an interval and a drift verdict is a
test with a stated error rate. Everything here is exact or closed-form and needs only the
standard library and numpy (no scipy): the tests check it against published figures and
against brute-force computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from statistics import NormalDist

import numpy as np

__all__ = [
    "Rate",
    "bootstrap_interval",
    "clustered_rate",
    "fisher_greater_p",
    "holm",
    "mcnemar_detectable",
    "mcnemar_p",
    "mcnemar_power",
    "newcombe_paired",
    "newcombe_unpaired",
    "paired_table",
    "rule_of_three",
    "wilson",
    "z_value",
]


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.96 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` with a two-sided interval at ``confidence``.

    ``effective_n`` is smaller than ``n`` when the answers are clustered (several samples
    of one prompt are not independent evidence), and the interval is built from it.
    """

    k: int
    n: int
    low: float
    high: float
    confidence: float
    effective_n: float | None = None
    #: a corrected estimate that replaces ``k / n`` (a judge-audited rate)
    estimate: float | None = None

    @property
    def value(self) -> float:
        if self.estimate is not None:
            return self.estimate
        return self.k / self.n if self.n else 0.0

    def __str__(self) -> str:
        if self.estimate is not None:
            return (
                f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}] audited "
                f"(classifier {self.k}/{self.n})"
            )
        return f"{self.k}/{self.n} = {self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _wilson_bounds(p: float, n: float, z: float) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # at p = 0 or 1 the exact bound is 0 or 1; rounding must not put it a hair off
    low = 0.0 if p == 0 else max(0.0, centre - half)
    high = 1.0 if p == 1 else min(1.0, centre + half)
    return low, high


def wilson(k: int, n: int, confidence: float = 0.95) -> Rate:
    """Wilson score interval: honest at small n and at rates near 0 or 1, unlike Wald."""
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    low, high = _wilson_bounds(k / n if n else 0.0, n, z_value(confidence))
    return Rate(k, n, low, high, confidence)


def rule_of_three(n: int) -> float:
    """The approximate 95% upper bound of a rate when 0 of ``n`` were seen."""
    if n <= 0:
        raise ValueError("n must be positive")
    return min(1.0, 3.0 / n)


def clustered_rate(counts: Sequence[tuple[int, int]], confidence: float = 0.95) -> Rate:
    """A rate over prompts with several samples each, ``(k_i, n_i)`` per prompt.

    Samples of one prompt agree with each other more than samples of different prompts, so
    ``sum(n_i)`` overstates the evidence. The cluster-robust (ratio-estimator) variance
    gives a design effect; the Wilson interval is built on ``n / design effect``. The design
    effect is never taken below 1 (the interval is never narrower than for independent
    answers). When every answer agrees (rate 0 or 1), or there is one prompt, the spread
    between prompts cannot be estimated and the answers count as independent: the usual
    choice, and the least cautious one, so a bound at 0 claims is as tight as ``wilson``.
    """
    if not counts:
        return Rate(0, 0, 0.0, 1.0, confidence, 0.0)
    ks = np.array([c[0] for c in counts], dtype=float)
    ns = np.array([c[1] for c in counts], dtype=float)
    if np.any(ns < 0) or np.any(ks < 0) or np.any(ks > ns):
        raise ValueError("every (k, n) needs 0 <= k <= n")
    k_total, n_total = int(ks.sum()), int(ns.sum())
    if n_total == 0:
        return Rate(0, 0, 0.0, 1.0, confidence, 0.0)
    p = k_total / n_total
    m = int(np.count_nonzero(ns))
    deff = 1.0
    if 0 < p < 1 and m > 1:
        robust = m / (m - 1) * float(np.sum((ks - p * ns) ** 2)) / n_total**2
        deff = max(1.0, robust / (p * (1 - p) / n_total))
    n_eff = n_total / deff
    low, high = _wilson_bounds(p, n_eff, z_value(confidence))
    return Rate(k_total, n_total, low, high, confidence, n_eff)


def paired_table(baseline: Sequence[bool], candidate: Sequence[bool]) -> tuple[int, int, int, int]:
    """``(a, b, c, d)``: both positive, became positive, stopped being positive, neither."""
    if len(baseline) != len(candidate):
        raise ValueError(
            f"paired outcomes need the same prompts: {len(baseline)} against {len(candidate)}"
        )
    a = b = c = d = 0
    for before, after in zip(baseline, candidate, strict=True):
        if before and after:
            a += 1
        elif after:
            b += 1
        elif before:
            c += 1
        else:
            d += 1
    return a, b, c, d


@cache
def _binom_tail_half(m: int, b: int) -> float:
    """P[Binomial(m, 1/2) >= b], exactly."""
    if b <= 0:
        return 1.0
    if b > m:
        return 0.0
    return float(Fraction(sum(math.comb(m, i) for i in range(b, m + 1)), 2**m))


def mcnemar_p(b: int, c: int) -> float:
    """Exact one-sided McNemar p-value that positives increased: P[Bin(b + c, 1/2) >= b]."""
    if b < 0 or c < 0:
        raise ValueError("b and c are counts")
    return _binom_tail_half(b + c, b)


def newcombe_paired(
    a: int, b: int, c: int, d: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for the paired change ``(b - c) / n`` (Newcombe 1998, method 10)."""
    n = a + b + c + d
    if n == 0:
        return -1.0, 1.0
    z = z_value(confidence)
    p1, p2 = (a + b) / n, (a + c) / n  # candidate, baseline
    l1, u1 = _wilson_bounds(p1, n, z)
    l2, u2 = _wilson_bounds(p2, n, z)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denominator) if denominator else 0.0
    delta = p1 - p2
    below = (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2
    above = (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2
    return max(-1.0, delta - math.sqrt(max(below, 0.0))), min(
        1.0, delta + math.sqrt(max(above, 0.0))
    )


def newcombe_unpaired(
    k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for ``k2/n2 - k1/n1`` from two independent samples (hybrid score)."""
    z = z_value(confidence)
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = _wilson_bounds(p1, n1, z)
    l2, u2 = _wilson_bounds(p2, n2, z)
    delta = p2 - p1
    return (
        max(-1.0, delta - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)),
        min(1.0, delta + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)),
    )


def fisher_greater_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Exact one-sided Fisher p-value that group 2's rate is greater than group 1's."""
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise ValueError("need 0 <= k <= n in both groups")
    total, positives = n1 + n2, k1 + k2
    denominator = math.comb(total, n2)
    if denominator == 0:
        return 1.0
    upper = min(positives, n2)
    numerator = sum(
        math.comb(positives, x) * math.comb(total - positives, n2 - x) for x in range(k2, upper + 1)
    )
    return float(Fraction(numerator, denominator))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@cache
def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=float)))))


def _log_binom_pmf(k: np.ndarray, n: int, p: float) -> np.ndarray:
    lf = _log_factorials(n)
    if p <= 0 or p >= 1:
        return np.where(k == (n if p >= 1 else 0), 0.0, -np.inf)
    return np.asarray(lf[n] - lf[k] - lf[n - k] + k * math.log(p) + (n - k) * math.log1p(-p))


@cache
def _critical_b(n: int, alpha: float) -> np.ndarray:
    """For every m <= n, the smallest b with P[Bin(m, 1/2) >= b] < alpha (m + 1 if none)."""
    crit = np.empty(n + 1, dtype=int)
    for m in range(n + 1):
        pmf = np.exp(_log_binom_pmf(np.arange(m + 1), m, 0.5))
        tails = np.cumsum(pmf[::-1])[::-1]  # tails[b] = P[X >= b]
        # a hair of slack so float rounding cannot move a boundary the exact p-value sets
        below = np.nonzero(tails < alpha * (1 - 1e-12))[0]
        crit[m] = int(below[0]) if len(below) else m + 1
    return crit


def mcnemar_power(n: int, increase: float, reverse: float, alpha: float = 0.05) -> float:
    """Power of the one-sided exact McNemar test on ``n`` prompts.

    ``reverse`` is the share of prompts expected to flip the other way (c/n); the share
    flipping towards positive is ``reverse + increase``.
    """
    up, down = reverse + increase, reverse
    if n <= 0 or up <= 0:
        return 0.0
    if up + down > 1:
        raise ValueError(
            f"increase + 2 * reverse must not exceed 1, got increase={increase}, reverse={reverse}"
        )
    discordant = up + down
    share_up = up / discordant
    crit = _critical_b(n, alpha)
    log_pm = _log_binom_pmf(np.arange(n + 1), n, discordant)
    power = 0.0
    for m in range(n + 1):
        if crit[m] > m or log_pm[m] == -np.inf:
            continue
        bs = np.arange(crit[m], m + 1)
        power += float(np.exp(log_pm[m] + _log_binom_pmf(bs, m, share_up)).sum())
    return min(1.0, power)


def mcnemar_detectable(
    n: int, alpha: float = 0.05, power: float = 0.8, discordance: float | None = None
) -> float:
    """The smallest increase in the positive rate that ``n`` paired prompts detect.

    ``discordance`` is the expected share of prompts flipping the other way (c/n), which
    costs power; ``None`` assumes 0.05, typical of two releases of one model. Returns 1.0
    when no increase is detectable (n too small for ``alpha``).
    """
    reverse = 0.05 if discordance is None else discordance
    top = 1.0 - 2 * reverse
    if n <= 0 or top <= 0 or mcnemar_power(n, top, reverse, alpha) < power:
        return 1.0
    low, high = 0.0, top
    for _ in range(30):
        mid = (low + high) / 2
        if mcnemar_power(n, mid, reverse, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def bootstrap_interval(
    values: np.ndarray,
    stat: Callable[[np.ndarray], float],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` over the first axis (resampling items)."""
    data = np.asarray(values)
    if len(data) == 0:
        raise ValueError("cannot bootstrap an empty sample")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(data), size=(resamples, len(data)))
    estimates = np.array([stat(data[row]) for row in index], dtype=float)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)
