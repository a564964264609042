"""The statistics behind every rate and drift verdict.

Model outputs are samples, so a rate is reported with an interval and a drift verdict is a
test with a stated error rate. Everything here is exact or closed-form and needs only the
standard library (no scipy): the tests check it against published figures, against
brute-force computation and against the numpy code it replaced. numpy is imported only by
:func:`bootstrap_interval`, whose random stream is numpy's: a warm run that replays cached
answers computes its rates, intervals and tests without loading it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    ks = [float(c[0]) for c in counts]
    ns = [float(c[1]) for c in counts]
    if any(n < 0 or k < 0 or k > n for k, n in zip(ks, ns, strict=True)):
        raise ValueError("every (k, n) needs 0 <= k <= n")
    k_total, n_total = int(_pairwise_sum(ks)), int(_pairwise_sum(ns))
    if n_total == 0:
        return Rate(0, 0, 0.0, 1.0, confidence, 0.0)
    p = k_total / n_total
    m = sum(1 for n in ns if n != 0)
    deff = 1.0
    if 0 < p < 1 and m > 1:
        spread = _pairwise_sum([(k - p * n) ** 2 for k, n in zip(ks, ns, strict=True)])
        robust = m / (m - 1) * spread / n_total**2
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


def _pairwise_sum(values: Sequence[float]) -> float:
    """``numpy.sum`` of a float array, bit for bit: numpy's pairwise summation (eight
    running sums in blocks of up to 128, halves above), so that a figure computed here
    is the float the numpy code it replaced gave, not one a last bit away."""
    return 0.0 + _pairwise(values, 0, len(values))


def _pairwise(values: Sequence[float], start: int, count: int) -> float:
    if count < 8:
        total = -0.0
        for i in range(start, start + count):
            total += values[i]
        return total
    if count <= 128:
        r = [float(v) for v in values[start : start + 8]]
        i = 8
        stop = count - count % 8
        while i < stop:
            at = start + i
            r[0] += values[at]
            r[1] += values[at + 1]
            r[2] += values[at + 2]
            r[3] += values[at + 3]
            r[4] += values[at + 4]
            r[5] += values[at + 5]
            r[6] += values[at + 6]
            r[7] += values[at + 7]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for j in range(start + i, start + count):
            total += values[j]
        return total
    half = count // 2
    half -= half % 8
    return _pairwise(values, start, half) + _pairwise(values, start + half, count - half)


#: log(k!) for k = 0, 1, ...; extended on demand (lgamma: within a few ulps of the exact
#: value, where the running sum of logs the numpy code used drifted by 2e-10 at 10,000)
_LOG_FACTORIALS: list[float] = [0.0]
_LOG_FACTORIALS_LOCK = threading.Lock()


def _log_factorials(n: int) -> list[float]:
    """The table of log-factorials, at least up to ``n``! (only ever appended to)."""
    if len(_LOG_FACTORIALS) <= n:
        with _LOG_FACTORIALS_LOCK:  # two threads extending at once would misplace values
            start = len(_LOG_FACTORIALS)
            _LOG_FACTORIALS.extend(math.lgamma(k + 1) for k in range(start, n + 1))
    return _LOG_FACTORIALS


@cache
def _critical_b(n: int, alpha: float) -> tuple[int, ...]:
    """For every m <= n, the smallest b with P[Bin(m, 1/2) >= b] < alpha (m + 1 if none).

    Exact, in integers: with ``S = sum(comb(m, i) for i >= b)`` the tail is ``S / 2**m``,
    and from one m to the next the critical b stays or grows by one (the tail of m + 1 at b
    is the mean of the tails of m at b and b - 1), so one comparison per m suffices and
    ``S`` and ``comb(m, b - 1)`` follow by a few additions: O(n) big-integer steps, not the
    O(n^2) float sums of every tail.
    """
    # The numpy code compared float tails with a hair of slack so that rounding could not
    # move a boundary; the exact tails keep its threshold, so the boundaries are its own
    # wherever its rounding stayed within the slack, and the exact test's (mcnemar_p)
    # where it did not (at alpha 0.5 from m ~ 650: tests/test_stats_numpy_free.py)
    limit = alpha * (1 - 1e-12)
    if not limit > 0:  # no tail is below it (NaN included)
        return tuple(m + 1 for m in range(n + 1))
    if limit > 1:  # every tail is, even the whole distribution
        return (0,) * (n + 1)
    num, den = limit.as_integer_ratio()  # den is a power of two
    shift = den.bit_length() - 1

    def below(tail: int, m: int) -> bool:  # tail / 2**m < num / 2**shift
        return tail << shift < num << m

    crit = [0] * (n + 1)
    # m = 0: the only tail at b = 0 is 1
    b, tail, before = (0, 1, 0) if below(1, 0) else (1, 0, 1)
    crit[0] = b
    for m in range(n):
        # S(m + 1, b) = 2 S(m, b) + comb(m, b - 1); ``before`` is comb(m, b - 1)
        at_b = 2 * tail + before
        if below(at_b, m + 1):
            # comb(m + 1, b - 1) = comb(m, b - 1) + comb(m, b - 2)
            before += before * (b - 1) // (m - b + 2) if b >= 1 else 0
            tail = at_b
        else:
            # comb(m + 1, b) = comb(m, b) + comb(m, b - 1)
            here = before * (m - b + 1) // b if b >= 1 else 1
            before += here
            tail = at_b - before
            b += 1
        crit[m + 1] = b
    return tuple(crit)


#: a sum stops once its next term, times the number of terms left, is below the sum times
#: this: the terms fall away from their mode, so what is left out is smaller still
_NEGLIGIBLE = 1e-20


def _tail_terms(
    m: int, low: int, share: float, log_s: float, log_f: float, at_m: float
) -> list[float]:
    """The terms of P[Bin(m, s) >= low] * P[m discordant pairs] that matter to its sum:
    from the largest (the binomial mode, or ``low`` above it) outwards both ways, each term
    from its neighbour by the pmf's ratio, until the rest cannot change the sum."""
    lf = _LOG_FACTORIALS
    odds = math.exp(log_s - log_f)  # s / (1 - s)
    start = min(max(math.floor((m + 1) * share), low), m)
    first = math.exp(lf[m] - lf[start] - lf[m - start] + start * log_s + (m - start) * log_f + at_m)
    terms = [first]
    total = first
    count = m - low + 1
    term = first
    for b in range(start + 1, m + 1):  # pmf(b) = pmf(b - 1) * (m - b + 1) / b * odds
        term *= (m - b + 1) / b * odds
        terms.append(term)
        total += term
        if term * count <= total * _NEGLIGIBLE:
            break
    term = first
    for b in range(start - 1, low - 1, -1):  # pmf(b) = pmf(b + 1) * (b + 1) / (m - b) / odds
        term *= (b + 1) / (m - b) / odds
        terms.append(term)
        total += term
        if term * count <= total * _NEGLIGIBLE:
            break
    return terms


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
    lf = _log_factorials(n)
    # The power is the sum over m (discordant pairs) of P[m] * P[the test on m pairs
    # rejects]. P[m] is binomial: it falls away from its mode and bounds the term at m, so
    # the sum starts at the mode and stops both ways where the rest is negligible: O(sqrt n)
    # values of m, each with O(sqrt m) terms of its own tail, not the n x n of every pair.
    if discordant >= 1:  # every prompt is discordant
        log_d, log_nd, mode = 0.0, -math.inf, n
    else:
        log_d, log_nd = math.log(discordant), math.log1p(-discordant)
        mode = min(n, math.floor((n + 1) * discordant))
    log_s, log_f = (math.log(share_up), math.log1p(-share_up)) if share_up < 1 else (0.0, 0.0)
    terms: list[float] = []
    total = 0.0
    for start, stop, step in ((mode, n + 1, 1), (mode - 1, -1, -1)):
        for m in range(start, stop, step):
            if discordant >= 1:
                at_m = 0.0 if m == n else -math.inf
            else:
                at_m = lf[n] - lf[m] - lf[n - m] + m * log_d + (n - m) * log_nd
            chance = math.exp(at_m)
            if crit[m] <= m and chance > 0:
                if share_up >= 1:  # every discordant pair flips up: the tail is b = m
                    terms.append(chance)
                    total += chance
                else:
                    more = _tail_terms(m, crit[m], share_up, log_s, log_f, at_m)
                    terms.extend(more)
                    total += sum(more)
            if chance * (n + 1) <= total * _NEGLIGIBLE:
                break
    return min(1.0, math.fsum(terms))


def mcnemar_detectable(
    n: int, alpha: float = 0.05, power: float = 0.8, discordance: float | None = None
) -> float:
    """The smallest increase in the positive rate that ``n`` paired prompts detect.

    ``discordance`` is the expected share of prompts flipping the other way (c/n), which
    costs power; ``None`` assumes 0.05, typical of two releases of one model. Returns 1.0
    when no increase is detectable (n too small for ``alpha``).
    """
    return _detectable(n, alpha, power, 0.05 if discordance is None else discordance)


@lru_cache(maxsize=1024)
def _detectable(n: int, alpha: float, power: float, reverse: float) -> float:
    # cached: every check of a run with the same prompts asks the same (a warm example
    # run asked six times for two figures), and each answer is some 30 power sums
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
    values: np.ndarray[Any, Any] | Sequence[float],
    stat: Callable[[np.ndarray[Any, Any]], float],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` over the first axis (resampling items).

    ``stat`` receives numpy arrays: the resampling is numpy's seeded generator, so that an
    interval recorded before stays the same figure, and numpy is imported here only.
    """
    import numpy as np

    data = np.asarray(values)
    if len(data) == 0:
        raise ValueError("cannot bootstrap an empty sample")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(data), size=(resamples, len(data)))
    estimates = np.array([stat(data[row]) for row in index], dtype=float)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)
