"""The statistics a warm run computes, in pure Python, against the numpy code they replaced.

Issue 19: a warm run replays every answer and verdict from the cache, so importing numpy
(~0.1 s) only to compute intervals and tests on a few counts was most of its cost. The
functions below were numpy code until 7ea3ae9; a verbatim copy of that code is the oracle
here. Where the arithmetic is the same the results must be bit-identical (sums are numpy's
pairwise summation, reproduced); where it cannot be (numpy's vectorised log/exp are not
libm's, and the power's sums stop where the rest is negligible) the tolerance is stated
with its reason. Brute force in exact fractions checks the new code where numpy's own
rounding is the larger error.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_modelprov import drift, samplesize, stats
from pytest_modelprov.cluster import upgma
from pytest_modelprov.drift import Rule
from pytest_modelprov.refusal import PromptOutcome
from pytest_modelprov.refusal import comparing as refusal_comparing
from pytest_modelprov.reports import htmlsections

# --- the numpy code these replaced (7ea3ae9), verbatim but for names ------------------------


def np_clustered_rate(counts: Sequence[tuple[int, int]], confidence: float = 0.95) -> stats.Rate:
    if not counts:
        return stats.Rate(0, 0, 0.0, 1.0, confidence, 0.0)
    ks = np.array([c[0] for c in counts], dtype=float)
    ns = np.array([c[1] for c in counts], dtype=float)
    if np.any(ns < 0) or np.any(ks < 0) or np.any(ks > ns):
        raise ValueError("every (k, n) needs 0 <= k <= n")
    k_total, n_total = int(ks.sum()), int(ns.sum())
    if n_total == 0:
        return stats.Rate(0, 0, 0.0, 1.0, confidence, 0.0)
    p = k_total / n_total
    m = int(np.count_nonzero(ns))
    deff = 1.0
    if 0 < p < 1 and m > 1:
        robust = m / (m - 1) * float(np.sum((ks - p * ns) ** 2)) / n_total**2
        deff = max(1.0, robust / (p * (1 - p) / n_total))
    n_eff = n_total / deff
    low, high = stats._wilson_bounds(p, n_eff, stats.z_value(confidence))
    return stats.Rate(k_total, n_total, low, high, confidence, n_eff)


@cache
def np_log_factorials(n: int) -> Any:
    return np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=float)))))


def np_log_binom_pmf(k: Any, n: int, p: float) -> Any:
    lf = np_log_factorials(n)
    if p <= 0 or p >= 1:
        return np.where(k == (n if p >= 1 else 0), 0.0, -np.inf)
    return np.asarray(lf[n] - lf[k] - lf[n - k] + k * math.log(p) + (n - k) * math.log1p(-p))


@cache
def np_critical_b(n: int, alpha: float) -> Any:
    crit = np.empty(n + 1, dtype=int)
    for m in range(n + 1):
        pmf = np.exp(np_log_binom_pmf(np.arange(m + 1), m, 0.5))
        tails = np.cumsum(pmf[::-1])[::-1]  # tails[b] = P[X >= b]
        below = np.nonzero(tails < alpha * (1 - 1e-12))[0]
        crit[m] = int(below[0]) if len(below) else m + 1
    return crit


def np_mcnemar_power(n: int, increase: float, reverse: float, alpha: float = 0.05) -> float:
    up, down = reverse + increase, reverse
    if n <= 0 or up <= 0:
        return 0.0
    if up + down > 1:
        raise ValueError(
            f"increase + 2 * reverse must not exceed 1, got increase={increase}, reverse={reverse}"
        )
    discordant = up + down
    share_up = up / discordant
    crit = np_critical_b(n, alpha)
    log_pm = np_log_binom_pmf(np.arange(n + 1), n, discordant)
    ms = np.flatnonzero((crit <= np.arange(n + 1)) & np.isfinite(log_pm))
    if not len(ms):
        return 0.0
    if share_up >= 1:
        return min(1.0, float(np.exp(log_pm[ms]).sum()))
    lf = np_log_factorials(n)
    log_s, log_f = math.log(share_up), math.log1p(-share_up)
    bs = np.arange(n + 1)
    power = 0.0
    for start in range(0, len(ms), 256):
        m = ms[start : start + 256, None]
        inside = (bs >= crit[m]) & (bs <= m)
        k = np.where(inside, bs, 0)
        terms = lf[m] - lf[k] - lf[np.where(inside, m - bs, 0)] + k * log_s + (m - k) * log_f
        terms = np.where(inside, terms + log_pm[m], -np.inf)
        power += float(np.exp(terms).sum())
    return min(1.0, power)


def np_mcnemar_detectable(
    n: int, alpha: float = 0.05, power: float = 0.8, discordance: float | None = None
) -> float:
    reverse = 0.05 if discordance is None else discordance
    top = 1.0 - 2 * reverse
    if n <= 0 or top <= 0 or np_mcnemar_power(n, top, reverse, alpha) < power:
        return 1.0
    low, high = 0.0, top
    for _ in range(30):
        mid = (low + high) / 2
        if np_mcnemar_power(n, mid, reverse, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def np_prompts_for_margin(margin: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    reverse = 0.05
    low, high = 1, 8
    while np_mcnemar_power(high, margin, reverse, alpha) < power:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if np_mcnemar_power(mid, margin, reverse, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def np_paired_drift(
    quantity: str,
    labels: dict[str, str],
    before: Sequence[float],
    after: Sequence[float],
    rule: Rule,
    *,
    items: Sequence[str] | None = None,
    confidence: float = 0.95,
    texts: Sequence[tuple[str, str]] | None = None,
) -> drift.Drift:
    # the shared statistics (McNemar, Newcombe, Wilson, detectable) are today's: this
    # checks drift's own arithmetic, and those are checked against numpy on their own
    b = np.asarray(before, dtype=float)
    a = np.asarray(after, dtype=float)
    if b.shape != a.shape:
        raise ValueError(f"paired_drift: {b.size} items before but {a.size} after")
    n = int(b.size)
    if n == 0:
        return drift.Drift(
            quantity, dict(labels), rule, 0.0, 0.0, 0.0, -1.0, 1.0, confidence, 1.0, 0,
            "no paired items", 1.0,
        )  # fmt: skip
    up, down = int(np.sum(a > b)), int(np.sum(a < b))
    p = drift._one_sided(up, down, rule.direction)
    change = float(a.mean() - b.mean())
    binary = bool(np.all((b == 0) | (b == 1)) and np.all((a == 0) | (a == 1)))
    if binary:
        table = stats.paired_table([bool(x) for x in b], [bool(x) for x in a])
        low, high = stats.newcombe_paired(*table, confidence=confidence)
        test = "exact McNemar"
    else:
        low, high = stats.bootstrap_interval(
            a - b, lambda d: float(np.mean(d)), confidence=confidence
        )
        test = "exact sign test"
    test += " (two-sided)" if rule.direction == "either" else " (one-sided)"
    reverse = {"increase": down, "decrease": up, "either": min(up, down)}[rule.direction] / n
    alpha = rule.alpha / 2 if rule.direction == "either" else rule.alpha
    detectable = stats.mcnemar_detectable(n, alpha, 0.8, reverse)
    moved_by = {"increase": a - b, "decrease": b - a, "either": np.abs(a - b)}[rule.direction]
    order = np.argsort(-moved_by, kind="stable")
    examples: list[tuple[str, str, str]] = []
    for i in order[:3]:
        if moved_by[i] <= 0:
            break
        name = items[i] if items is not None else f"item {i}"
        bt, at = texts[i] if texts is not None else (f"{b[i]:.2f}", f"{a[i]:.2f}")
        examples.append((name, bt, at))
    return drift.Drift(
        quantity, dict(labels), rule, float(b.mean()), float(a.mean()), change, low, high,
        confidence, p, n, test, detectable, examples=tuple(examples),
        before_interval=np_mean_interval(b, binary, confidence),
        after_interval=np_mean_interval(a, binary, confidence),
    )  # fmt: skip


def np_mean_interval(values: Any, binary: bool, confidence: float) -> tuple[float, float]:
    if binary:
        rate = stats.wilson(int(values.sum()), int(values.size), confidence)
        return rate.low, rate.high
    return stats.bootstrap_interval(values, lambda v: float(np.mean(v)), confidence=confidence)


def np_paired_lang(
    before: list[PromptOutcome], after: list[PromptOutcome], confidence: float, single: bool
) -> tuple[Any, ...]:
    pairs, usable = refusal_comparing._paired(before, after)
    skipped = len(pairs) - len(usable)
    shares_b = np.array([b.share for b, _ in usable], dtype=float)
    shares_a = np.array([a.share for _, a in usable], dtype=float)
    up = int(np.sum(shares_a > shares_b))
    down = int(np.sum(shares_a < shares_b))
    p = stats.mcnemar_p(up, down)
    if not usable:
        return 1.0, 0.0, -1.0, 1.0, 0, skipped, []
    change = float(np.mean(shares_a - shares_b))
    if single:
        table = stats.paired_table(
            [bool(x) for x in shares_b > 0.5], [bool(x) for x in shares_a > 0.5]
        )
        low, high = stats.newcombe_paired(*table, confidence=confidence)
    else:
        diffs = shares_a - shares_b
        low, high = stats.bootstrap_interval(
            diffs, lambda d: float(np.mean(d)), confidence=confidence
        )
    flipped = sorted(
        ((b, a) for b, a in usable if (a.share or 0) > (b.share or 0)),
        key=lambda ba: (ba[1].share or 0) - (ba[0].share or 0),
        reverse=True,
    )
    return p, change, low, high, len(usable), skipped, flipped


def np_upgma_merges(matrix: Any) -> list[tuple[tuple[int, ...], tuple[int, ...], float]]:
    """The merges of 7ea3ae9's numpy UPGMA (its Node bookkeeping reduced to member tuples)."""
    d = np.asarray(matrix, dtype=np.float64)
    n = d.shape[0]
    members: list[tuple[int, ...]] = [(i,) for i in range(n)]
    dist = d.copy()
    np.fill_diagonal(dist, np.inf)
    live = list(range(n))
    merges = []
    while len(live) > 1:
        best: tuple[float, int, int] | None = None
        for a_pos, a in enumerate(live):
            for b in live[a_pos + 1 :]:
                value = float(dist[a, b])
                if best is None or value < best[0] - 1e-12:
                    best = (value, a, b)
        assert best is not None
        height, a, b = best
        ca, cb = members[a], members[b]
        first, second = (ca, cb) if min(ca) < min(cb) else (cb, ca)
        size_a, size_b = len(ca), len(cb)
        for k in live:
            if k not in (a, b):
                dist[a, k] = dist[k, a] = (size_a * dist[a, k] + size_b * dist[b, k]) / (
                    size_a + size_b
                )
        members[a] = first + second
        live.remove(b)
        merges.append((first, second, height))
    return merges


# --- sums and rates: bit for bit ------------------------------------------------------------

LENGTHS = [*range(0, 140), 255, 256, 257, 1000, 1023, 1025, 5000, 10_000]


@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e9])
def test_pairwise_sum_is_numpys_sum_bit_for_bit(scale: float) -> None:
    rng = random.Random(7)
    for n in LENGTHS:
        values = [rng.random() * scale * rng.choice([1, -1, 1e-6, 1e6]) for _ in range(n)]
        assert stats._pairwise_sum(values) == float(np.sum(np.array(values))), n
    # the last bit does depend on the order: a plain running sum differs somewhere
    values = [rng.random() for _ in range(1000)]
    assert any(
        math.fsum(values[:n]) != stats._pairwise_sum(values[:n]) for n in range(9, 1000)
    ) or any(sum(values[:n]) != stats._pairwise_sum(values[:n]) for n in range(9, 1000))


def _count_grid() -> list[list[tuple[int, int]]]:
    rng = random.Random(11)
    grid: list[list[tuple[int, int]]] = [
        [],
        [(0, 0)],
        [(0, 0), (0, 0)],
        [(0, 1)],
        [(1, 1)],
        [(3, 5)],  # one prompt: nothing to cluster
        [(0, 5)] * 7,  # k = 0 everywhere
        [(5, 5)] * 9,  # k = n everywhere
        [(5, 5), (0, 5), (0, 5), (0, 5)],
        [(1, 4)] * 6,
        [(2, 3), (0, 0), (1, 3)],  # an empty prompt does not count as one
    ]
    for m in [2, 3, 7, 8, 9, 16, 100, 128, 129, 500, 5000]:
        for samples in (1, 2, 5, 10):
            rate = rng.random()
            counts = []
            for _ in range(m):
                n = rng.randint(0, samples)
                counts.append((sum(rng.random() < rate for _ in range(n)), n))
            grid.append(counts)
    return grid


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.999999])
def test_clustered_rate_is_the_numpy_figure_bit_for_bit(confidence: float) -> None:
    for counts in _count_grid():
        assert stats.clustered_rate(counts, confidence) == np_clustered_rate(counts, confidence)


def test_clustered_rate_refuses_what_the_numpy_code_refused() -> None:
    for bad in ([(2, 1)], [(-1, 3)], [(1, -1)], [(1, 2), (3, 2)]):
        with pytest.raises(ValueError, match="0 <= k <= n"):
            np_clustered_rate(bad)
        with pytest.raises(ValueError, match="0 <= k <= n"):
            stats.clustered_rate(bad)


# --- the exact McNemar test's critical values and power -------------------------------------

ALPHAS = [1e-12, 1e-6, 0.001, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4999]


def _exact_critical(m: int, alpha: float) -> int:
    limit = Fraction(alpha * (1 - 1e-12))
    tail = 2**m  # 2**m * P[Bin(m, 1/2) >= b], from b = 0 up
    for b in range(m + 1):
        if Fraction(tail, 2**m) < limit:
            return b
        tail -= math.comb(m, b)
    return m + 1


@pytest.mark.parametrize("alpha", [*ALPHAS, 0.5, 0.75, 1.0, 1.5, 0.0, -0.1])
def test_critical_values_are_the_exact_ones(alpha: float) -> None:
    assert stats._critical_b(120, alpha) == tuple(_exact_critical(m, alpha) for m in range(121))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_critical_values_are_numpys_up_to_2000_prompts(alpha: float) -> None:
    assert stats._critical_b(2000, alpha) == tuple(int(x) for x in np_critical_b(2000, alpha))


def test_critical_values_at_5000_prompts() -> None:
    assert stats._critical_b(5000, 0.05) == tuple(int(x) for x in np_critical_b(5000, 0.05))


def test_the_exact_values_settle_what_numpys_rounding_moved() -> None:
    # At alpha 0.5 the tail of Bin(m, 1/2) at (m + 1) / 2 is exactly 0.5 for odd m: numpy's
    # float tails (log-factorial sums drifting by 1e-11 at m = 650) fell below the
    # 1e-12 slack and put the boundary one lower than the exact test (mcnemar_p) draws it.
    old = [int(x) for x in np_critical_b(1000, 0.5)]
    new = stats._critical_b(1000, 0.5)
    moved = [m for m in range(1001) if old[m] != new[m]]
    assert moved  # the case this test is about still happens in the numpy code
    for m in moved:
        assert stats.mcnemar_p(old[m], m - old[m]) == 0.5  # not < 0.5: no rejection there
        assert stats.mcnemar_p(new[m], m - new[m]) < 0.5
        assert stats.mcnemar_p(new[m] - 1, m - new[m] + 1) >= 0.5


def _power_tolerance(n: int) -> float:
    """Relative. Not bit-identical because numpy's log/exp are its own vectorised ones, and
    its log-factorials a running sum of logs, drifting with n (the sum of its binomial pmf
    is 1 +- 1e-11 at n = 2000, 4e-10 at 10,000; lgamma's, used now, 10-30x closer); the new
    sums stop where the rest is below 1e-20 of them and are exactly rounded (fsum)."""
    return 1e-12 + 5e-14 * n


POWER_GRID = [
    (increase, reverse)
    for increase in (0.0, 1e-6, 0.01, 0.05, 0.1, 0.3, 0.6, 0.9, 1.0)
    for reverse in (0.0, 0.01, 0.05, 0.2, 0.45)
    if increase + 2 * reverse <= 1
]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 50, 52, 200, 1000])
@pytest.mark.parametrize("alpha", [1e-9, 0.01, 0.05, 0.3])
def test_mcnemar_power_is_numpys(n: int, alpha: float) -> None:
    for increase, reverse in POWER_GRID:
        old = np_mcnemar_power(n, increase, reverse, alpha)
        new = stats.mcnemar_power(n, increase, reverse, alpha)
        if old == 0.0:  # no rejection region (or no chance to reach it): nothing to sum
            assert new == 0.0, (increase, reverse)
        else:  # 1.0 included: numpy's sum went a hair above it and was capped
            assert new == pytest.approx(old, rel=_power_tolerance(n)), (increase, reverse)


@pytest.mark.parametrize(("increase", "reverse"), [(0.03, 0.05), (0.0, 0.2), (0.01, 0.3)])
def test_mcnemar_power_at_5000_prompts(increase: float, reverse: float) -> None:
    old = np_mcnemar_power(5000, increase, reverse)
    assert stats.mcnemar_power(5000, increase, reverse) == pytest.approx(
        old, rel=_power_tolerance(5000)
    )


def _exact_power(n: int, increase: Fraction, reverse: Fraction, alpha: float) -> Fraction:
    up, down = reverse + increase, reverse
    total = Fraction(0)
    for b in range(n + 1):
        for c in range(n - b + 1):
            if b + c and _exact_critical(b + c, alpha) <= b:
                total += (
                    math.comb(n, b)
                    * math.comb(n - b, c)
                    * up**b
                    * down**c
                    * (1 - up - down) ** (n - b - c)
                )
    return total


@pytest.mark.parametrize("n", [1, 7, 20, 30])
def test_mcnemar_power_is_the_exact_sum(n: int) -> None:
    for increase, reverse in [(0.1, 0.05), (0.3, 0.0), (0.05, 0.2), (0.5, 0.25), (0.0, 0.1)]:
        exact = _exact_power(n, Fraction(increase), Fraction(reverse), 0.05)
        got = stats.mcnemar_power(n, increase, reverse)
        # the exact sum of the float inputs; what is left is lgamma's and exp's rounding
        assert got == pytest.approx(float(exact), rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("n", [1, 3, 10, 50, 52, 100, 300])
def test_mcnemar_detectable_is_numpys(n: int) -> None:
    same = 0
    for discordance in (None, 0.0, 0.02, 0.1, 0.3):
        for alpha in (0.01, 0.025, 0.05):
            old = np_mcnemar_detectable(n, alpha, 0.8, discordance)
            new = stats.mcnemar_detectable(n, alpha, 0.8, discordance)
            # a bisection on power >= 0.8: the same steps, so the same float, unless a
            # midpoint's power is within the power tolerance of 0.8; then both end within
            # 2**-30 of that crossing
            assert new == pytest.approx(old, abs=1e-8), (discordance, alpha)
            same += new == old
    assert same >= 14  # in practice every one (the abs bound is the proof, not the rule)


@pytest.mark.parametrize("margin", [0.1, 0.15, 0.2, 0.3, 0.5])
def test_prompts_for_margin_is_numpys(margin: float) -> None:
    assert samplesize.prompts_for_margin(margin) == np_prompts_for_margin(margin)


# --- drift and the refusal comparison: their own arithmetic, bit for bit --------------------


def _drift_cases() -> list[tuple[list[float], list[float]]]:
    rng = random.Random(5)
    cases: list[tuple[list[float], list[float]]] = [
        ([0.0], [1.0]),
        ([1.0], [1.0]),
        ([0.0] * 20, [0.0] * 20),  # k = 0 on both sides
        ([1.0] * 20, [1.0] * 20),  # k = n on both sides
        ([1.0] * 20, [0.0] * 20),
    ]
    for n in (2, 9, 50, 129, 1000):
        before = [float(rng.random() < 0.2) for _ in range(n)]
        cases.append((before, [x if rng.random() < 0.9 else 1.0 - x for x in before]))
    for n in (1, 12, 60):  # shares of several samples: the bootstrap path
        before = [rng.randint(0, 4) / 4 for _ in range(n)]
        cases.append((before, [min(1.0, x + rng.choice([0, 0, 0.25, -0.25])) for x in before]))
        cases[-1] = (cases[-1][0], [max(0.0, x) for x in cases[-1][1]])
    return cases


@pytest.mark.parametrize("direction", ["increase", "decrease", "either"])
def test_paired_drift_is_the_numpy_verdict(direction: Any) -> None:
    rule = Rule("refusal.rate", 0.05, direction, 0.05)
    for before, after in _drift_cases():
        items = [f"p{i}" for i in range(len(before))]
        for kwargs in ({}, {"items": items}):
            got = drift.paired_drift("refusal.rate", {"lang": "zh"}, before, after, rule, **kwargs)
            want = np_paired_drift("refusal.rate", {"lang": "zh"}, before, after, rule, **kwargs)
            assert got == want, (len(before), kwargs)
            assert got.describe() == want.describe()
    with pytest.raises(ValueError, match="2 items before but 1 after"):
        drift.paired_drift("refusal.rate", {}, [0.0, 1.0], [1.0], rule)
    empty = drift.paired_drift("refusal.rate", {}, [], [], rule)
    assert empty == np_paired_drift("refusal.rate", {}, [], [], rule)


def _outcomes(shares: Sequence[float | None], samples: int) -> list[PromptOutcome]:
    out = []
    for i, share in enumerate(shares):
        if share is None:
            labels = ["error"] * samples  # no decided answer: no share
        else:
            hits = round(share * samples)
            labels = ["refusal"] * hits + ["compliance"] * (samples - hits)
        out.append(PromptOutcome(f"t{i}", "zh", f"prompt {i}", labels, ["a"] * samples))
    return out


@pytest.mark.parametrize("samples", [1, 4])
def test_paired_refusal_comparison_is_the_numpy_one(samples: int) -> None:
    rng = random.Random(9)
    for n in (0, 1, 2, 9, 40, 300):
        before = [rng.randint(0, samples) / samples for _ in range(n)]
        after = [min(1.0, x + rng.choice([0.0, 0.0, 1 / samples])) for x in before]
        b, a = _outcomes(before, samples), _outcomes(after, samples)
        got = refusal_comparing._paired_lang(b, a, 0.95, samples == 1)
        assert got == np_paired_lang(b, a, 0.95, samples == 1), n
    # prompts without a decided answer on one side are skipped the same way
    b = _outcomes([1.0, None, 0.0, 1.0], samples)
    a = _outcomes([1.0, 1.0, None, 0.0], samples)
    got = refusal_comparing._paired_lang(b, a, 0.95, samples == 1)
    assert got == np_paired_lang(b, a, 0.95, samples == 1)
    assert got[5] == 2


# --- the clustering and the report's fingerprint matrix -------------------------------------


def test_upgma_merges_as_the_numpy_code_did() -> None:
    rng = np.random.default_rng(4)
    for n in (1, 2, 3, 5, 8, 20, 40):
        for _ in range(5):
            points = rng.normal(size=(n, 3))
            d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
            assert list(upgma(d).merges) == np_upgma_merges(d)
            assert list(upgma(d.tolist()).merges) == np_upgma_merges(d)
    tied = np.ones((6, 6)) - np.eye(6)  # ties: the first pair by slot, in both
    assert list(upgma(tied).merges) == np_upgma_merges(tied)


def test_upgma_refuses_what_the_numpy_code_refused() -> None:
    for bad, match in [
        ([], r"square, got shape \(0,\)"),
        ([0.0, 1.0], r"square, got shape \(2,\)"),
        ([[0.0, 1.0]], r"square, got shape \(1, 2\)"),
        (np.zeros((1, 1, 1)), r"square, got shape \(1, 1, 1\)"),
        (np.zeros((0, 0)), "empty"),
        ([[0.0, 1.0], [1.0 + 1e-6, 0.0]], "symmetric"),
        ([[0.0, math.inf], [math.inf, 0.0]], "NaN or infinite"),
    ]:
        with pytest.raises(ValueError, match=match):
            upgma(bad)
    # within numpy.allclose's tolerances counts as symmetric, as it did
    assert upgma([[0.0, 1.0], [1.0 + 1e-10, 0.0]]).merges[0][2] == 1.0


def test_report_matrix_reading_is_the_numpy_one() -> None:
    good = [[0.0, 0.25, 0.5], [0.2500000001, 0.0, "0.4"], [0.5, 0.4, 0.0]]
    names, d = htmlsections._matrix_of({"details": {"models": ["a", "b", "a"], "matrix": good}})
    want = np.array(good, dtype=np.float64)
    assert names == ["a", "b", "a (2)"]
    assert d == ((want + want.T) / 2).tolist()
    for matrix in (
        [[0.0, 1.0], [1.0, 0.0]],  # two rows for three models
        [[0.0, 1.0, 2.0], [1.0, 0.0], [2.0, 1.0, 0.0]],
        [[0.0, "x", 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
        [[0.0, None, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
        [[0.0, math.nan, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
        [[0.0, [1.0], 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
        [[0.0, 1.0, 1.0], "abc", [1.0, 1.0, 0.0]],
        [[0.0, 10**400, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]],  # numpy raised here
    ):
        details = {"details": {"models": ["a", "b", "c"], "matrix": matrix}}
        assert htmlsections._matrix_of(details) is None, matrix


# --- numpy stays unloaded -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_statistics_does_not_import_numpy() -> None:
    done = _python(
        """
        import sys
        import pytest_modelprov.stats, pytest_modelprov.drift, pytest_modelprov.sequential
        import pytest_modelprov.samplesize, pytest_modelprov.cluster, pytest_modelprov.audit
        import pytest_modelprov.reports.htmlsections
        assert "numpy" not in sys.modules, sorted(m for m in sys.modules if "numpy" in m)
        print("ok")
        """
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_warm_runs_statistics_run_with_numpy_blocked() -> None:
    # The refusal package itself still loads numpy (its classifiers; issue 19 makes that
    # lazy elsewhere), so comparing.py is checked by what it runs: once everything is
    # imported, numpy is made unimportable and every figure a warm example run computes
    # is computed again, here, on 0/1 outcomes and several samples per prompt alike.
    done = _python(
        """
        import sys
        from pytest_modelprov import audit, drift, samplesize, sequential, stats
        from pytest_modelprov.cluster import upgma
        from pytest_modelprov.refusal import PromptOutcome, Result
        from pytest_modelprov.refusal import comparing

        sys.modules["numpy"] = None  # "import numpy" raises ImportError from here on

        def outcomes(labels):
            return [PromptOutcome(f"t{i}", "zh", f"p{i}", ls, ["a"] * len(ls))
                    for i, ls in enumerate(labels)]

        clf = {"name": "c", "version": "1", "settings": {}, "detector": "c/1"}
        before = Result("m", "m", "set", "1", clf, 1, outcomes([["compliance"]] * 40))
        after = Result("m", "m", "set", "1", clf, 1,
                       outcomes([["refusal"]] * 4 + [["compliance"]] * 36))
        result = comparing.compare(before, after, margin=0.25)
        comparing.assert_stable(before, after, margin=0.25)
        rate = after.rate("zh", 0.95)
        samplesize.decide_rate(rate, 0.05)
        samplesize.decide_rate(stats.clustered_rate([(1, 3), (0, 3), (2, 3)]), 0.4)
        samplesize.answers_for_bound(0.05)
        samplesize.prompts_for_margin(0.2)
        stats.mcnemar_detectable(50, discordance=0.1)
        rule = drift.Rule("refusal.rate", 0.1)
        d = drift.paired_drift("refusal.rate", {}, [0.0, 1.0, 0.0] * 10, [1.0, 1.0, 0.0] * 10,
                               rule)
        drift.decide([d])
        sequential.decide([(0, 1)] * 30, threshold=0.2, confidence=0.95, remaining=0,
                          samples=1)
        audit.audited_rate([(1, 2), (0, 2)], [(1, 1, 2)])
        upgma([[0.0, 0.3], [0.3, 0.0]]).ascii()
        try:
            drift.paired_drift("refusal.rate", {}, [0.5], [0.75], rule)
        except ImportError:
            print("bootstrap needs numpy")  # the one path that still does, on purpose
        print(result[0].p, d.p)
        """
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "bootstrap needs numpy"  # so the blocking above did block
    assert len(lines) == 2
