"""The statistics, checked against published figures, brute force and simulation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pytest_modelprov import stats


def test_wilson_matches_newcombes_published_example():
    # Newcombe (1998), Stat Med 17:857, example 81/263: 0.2553 to 0.3662
    rate = stats.wilson(81, 263)
    assert rate.low == pytest.approx(0.2553, abs=5e-5)
    assert rate.high == pytest.approx(0.3662, abs=5e-5)
    assert str(rate) == "81/263 = 0.308 [0.255, 0.366]"


@pytest.mark.parametrize(("k", "n"), [(1, 10), (7, 40), (39, 40), (3, 1000)])
def test_wilson_bounds_solve_the_score_equation(k, n):
    # the Wilson bounds are the two p where the score statistic equals z
    rate = stats.wilson(k, n, 0.9)
    z = stats.z_value(0.9)
    for p in (rate.low, rate.high):
        assert abs(k / n - p) == pytest.approx(z * math.sqrt(p * (1 - p) / n), rel=1e-9)


def test_wilson_at_the_edges():
    zero = stats.wilson(0, 50)
    assert zero.low == 0.0
    # the rule of three is a one-sided 95% bound, i.e. the upper end of a 90% interval
    assert stats.wilson(0, 50, 0.90).high == pytest.approx(stats.rule_of_three(50), rel=0.2)
    assert zero.high > stats.wilson(0, 50, 0.90).high
    assert stats.wilson(50, 50).high == 1.0
    empty = stats.wilson(0, 0)
    assert (empty.low, empty.high, empty.value) == (0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.wilson(5, 4)
    with pytest.raises(ValueError, match="confidence"):
        stats.wilson(1, 4, confidence=95)


def test_newcombe_unpaired_matches_the_published_example():
    # Newcombe (1998), method 10, 56/70 - 48/80: +0.0524 to +0.3339
    low, high = stats.newcombe_unpaired(48, 80, 56, 70)
    assert low == pytest.approx(0.0524, abs=5e-5)
    assert high == pytest.approx(0.3339, abs=5e-5)


@pytest.mark.parametrize(
    ("baseline", "candidate", "published"),
    # the R1 -> R1-0528 China-criticism figures quoted in the project's design notes
    # (non-compliant of 50; English 12 -> 14 complied, Chinese 13 -> 1, Finnish 29 -> 3)
    [(38, 36, 0.75), (37, 49, 4e-4), (21, 47, 1e-8)],
)
def test_fisher_matches_the_published_p_values(baseline, candidate, published):
    p = stats.fisher_greater_p(baseline, 50, candidate, 50)
    assert p == pytest.approx(published, rel=0.1)


def test_fisher_by_enumerating_tables():
    # brute force: every way to place the positives, counted by hand
    k1, n1, k2, n2 = 2, 6, 5, 7
    items = [1] * n1 + [2] * n2
    positives = k1 + k2
    hits = total = 0
    for chosen in itertools.combinations(range(n1 + n2), positives):
        total += 1
        if sum(items[i] == 2 for i in chosen) >= k2:
            hits += 1
    assert stats.fisher_greater_p(k1, n1, k2, n2) == pytest.approx(hits / total)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 0), (5, 2), (2, 5), (7, 7)])
def test_mcnemar_by_enumerating_coin_flips(b, c):
    m = b + c
    flips = list(itertools.product((0, 1), repeat=m))
    brute = sum(1 for f in flips if sum(f) >= b) / len(flips)
    assert stats.mcnemar_p(b, c) == pytest.approx(brute)


def test_paired_table_counts_each_kind():
    before = [True, True, False, False, False, True]
    after = [True, False, True, True, False, True]
    assert stats.paired_table(before, after) == (2, 2, 1, 1)
    with pytest.raises(ValueError, match="same prompts"):
        stats.paired_table([True], [True, False])


def _simulate_paired(rng, n, p_up, p_down, p_both):
    draws = rng.multinomial(n, [p_both, p_up, p_down, 1 - p_both - p_up - p_down])
    return tuple(int(x) for x in draws)


def test_newcombe_paired_covers_the_true_change_about_95_percent():
    rng = np.random.default_rng(7)
    n, p_up, p_down, p_both = 60, 0.15, 0.05, 0.3
    truth = p_up - p_down
    covered = 0
    trials = 1500
    for _ in range(trials):
        low, high = stats.newcombe_paired(*_simulate_paired(rng, n, p_up, p_down, p_both))
        covered += low <= truth <= high
    assert 0.93 <= covered / trials <= 0.985


def test_newcombe_paired_is_antisymmetric_and_brackets_the_estimate():
    low, high = stats.newcombe_paired(5, 10, 2, 33)
    assert low < (10 - 2) / 50 < high
    flipped = stats.newcombe_paired(5, 2, 10, 33)
    assert flipped == pytest.approx((-high, -low))


def test_mcnemar_power_agrees_with_simulation():
    rng = np.random.default_rng(3)
    n, increase, reverse = 50, 0.15, 0.05
    rejections = 0
    trials = 3000
    for _ in range(trials):
        _, b, c, _ = _simulate_paired(rng, n, reverse + increase, reverse, 0.2)
        rejections += stats.mcnemar_p(b, c) < 0.05
    assert stats.mcnemar_power(n, increase, reverse) == pytest.approx(rejections / trials, abs=0.03)


def test_power_uses_the_exact_rejection_region():
    # the float rejection region the power sums over equals the exact test's
    table = stats._critical_b(80, 0.05)
    for m in range(80):
        crit = int(table[m])
        if crit <= m:
            assert stats.mcnemar_p(crit, m - crit) < 0.05
        if crit > 0:
            assert stats.mcnemar_p(crit - 1, m - crit + 1) >= 0.05


def test_detectable_change_shrinks_with_more_prompts():
    at_50 = stats.mcnemar_detectable(50)
    at_500 = stats.mcnemar_detectable(500)
    # the design notes quote 0.16-0.24 for 50 prompts at 80% power
    assert 0.15 <= at_50 <= 0.25
    assert at_500 < at_50 / 2
    assert stats.mcnemar_power(50, at_50, 0.05) >= 0.8
    assert stats.mcnemar_power(50, at_50 - 0.01, 0.05) < 0.8
    assert stats.mcnemar_detectable(3) == 1.0


def test_holm_matches_the_textbook_procedure():
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made monotone
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_clustered_rate_counts_prompts_not_samples_when_samples_agree():
    # each prompt answered the same way 5 times: 20 answers are 4 pieces of evidence, and
    # the small-sample factor m/(m-1) of the cluster-robust variance leaves m - 1 = 3
    clustered = stats.clustered_rate([(5, 5), (0, 5), (0, 5), (0, 5)])
    assert clustered.effective_n == pytest.approx(3.0)
    naive = stats.wilson(5, 20)
    assert clustered.high > naive.high
    assert (clustered.k, clustered.n) == (5, 20)


def test_clustered_rate_is_the_wilson_rate_when_samples_vary_like_coins():
    clustered = stats.clustered_rate([(1, 4), (1, 4), (1, 4), (1, 4), (1, 4), (1, 4)])
    # no between-prompt spread: the design effect floors at 1
    assert clustered.effective_n == 24
    assert (clustered.low, clustered.high) == pytest.approx(
        (stats.wilson(6, 24).low, stats.wilson(6, 24).high)
    )


def test_bootstrap_interval_of_a_mean_is_close_to_the_normal_interval():
    rng = np.random.default_rng(1)
    values = rng.normal(10, 2, size=400)
    low, high = stats.bootstrap_interval(values, lambda v: float(v.mean()))
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert low == pytest.approx(values.mean() - half, abs=0.05)
    assert high == pytest.approx(values.mean() + half, abs=0.05)
    with pytest.raises(ValueError, match="empty"):
        stats.bootstrap_interval(np.array([]), lambda v: 0.0)
