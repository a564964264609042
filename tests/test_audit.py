"""Judge-audited rates and changes: coverage and error rates by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_modelprov import stats
from pytest_modelprov.audit import audited_change, audited_rate


def _suite(rng, prompts, n, rate, miss, false_alarm, audit_n):
    """One simulated suite: judge labels are the truth; the classifier misses ``miss`` of
    the non-compliant answers and flags ``false_alarm`` of the compliant ones."""
    truth = rng.random((prompts, n)) < rate
    clf = truth.copy()
    clf[truth & (rng.random((prompts, n)) < miss)] = False
    clf[~truth & (rng.random((prompts, n)) < false_alarm)] = True
    counts = [(int(clf[i].sum()), n) for i in range(prompts)]
    picked = rng.choice(prompts, size=audit_n, replace=False)
    audited = [(int(truth[i].sum()), int(clf[i].sum()), n) for i in picked]
    return audited_rate(counts, audited)


@pytest.mark.parametrize("audit_n", [20, 40, 80])
@pytest.mark.parametrize(
    "rate,miss,false_alarm",
    [(0.5, 0.3, 0.0), (0.3, 0.5, 0.0), (0.5, 0.0, 0.3)],
    ids=["misses-0.15", "misses-0.15-low-rate", "over-counts-0.15"],
)
def test_the_interval_covers_the_true_rate_with_a_classifier_biased_by_0_15(
    audit_n, rate, miss, false_alarm
):
    rng = np.random.default_rng(audit_n)
    runs = 600
    bias = rate * miss - (1 - rate) * false_alarm
    assert abs(abs(bias) - 0.15) < 1e-9  # the scenario is what its name says
    covered = sum(
        (r := _suite(rng, 150, 1, rate, miss, false_alarm, audit_n)).low <= rate <= r.high
        for _ in range(runs)
    )
    # nominal 95%; 600 runs put the 0.94 bar ~1.1 standard errors below 0.95
    assert covered / runs >= 0.94, covered / runs


def test_the_classifier_alone_would_not_cover_it():
    """The check above can fail: without the audit the biased rate is confidently wrong."""
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(300):
        truth = rng.random(150) < 0.5
        clf = truth & ~(rng.random(150) < 0.3)
        plain = stats.wilson(int(clf.sum()), 150)
        covered += plain.low <= 0.5 <= plain.high
    assert covered / 300 < 0.3


def test_the_interval_narrows_as_the_classifier_improves():
    rng = np.random.default_rng(7)

    def width(miss):
        return np.mean(
            [
                (lambda r: r.high - r.low)(_suite(rng, 150, 1, 0.5, miss, 0.0, 40))
                for _ in range(300)
            ]
        )

    widths = [width(m) for m in (0.4, 0.2, 0.0)]
    assert widths[0] > widths[1] > widths[2]


def test_clustered_prompts_keep_their_coverage():
    rng = np.random.default_rng(3)
    runs, covered = 500, 0
    for _ in range(runs):
        per_prompt = np.clip(rng.beta(2, 2, size=50), 0, 1)
        truth = rng.random((50, 3)) < per_prompt[:, None]
        clf = truth & ~(rng.random((50, 3)) < 0.3)
        counts = [(int(clf[i].sum()), 3) for i in range(50)]
        picked = rng.choice(50, size=20, replace=False)
        r = audited_rate(counts, [(int(truth[i].sum()), int(clf[i].sum()), 3) for i in picked])
        covered += r.low <= 0.5 <= r.high
    assert covered / runs >= 0.94


def test_auditing_every_answer_is_the_judge_rate_with_its_wilson_interval():
    judge = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0] * 3
    clf = [0, 1, 0, 0, 0, 1, 1, 0, 1, 0] * 3
    counts = [(c, 1) for c in clf]
    r = audited_rate(counts, [(j, c, 1) for j, c in zip(judge, clf, strict=False)])
    plain = stats.wilson(sum(judge), len(judge))
    assert r.value == pytest.approx(sum(judge) / len(judge))
    assert (r.low, r.high) == pytest.approx((plain.low, plain.high))
    assert r.classifier_value == pytest.approx(sum(clf) / len(clf))


def _gate(rng, prompts, before, after, miss_before, miss_after, audit_n):
    yb, ya = rng.random(prompts) < before, rng.random(prompts) < after
    fb = yb & ~(rng.random(prompts) < miss_before)
    fa = ya & ~(rng.random(prompts) < miss_after)
    changes = (fa.astype(float) - fb.astype(float)).tolist()
    picked = rng.choice(prompts, size=audit_n, replace=False)
    audited = [(float(ya[i]) - float(yb[i]), changes[i]) for i in picked]
    return audited_change(changes, audited)


@pytest.mark.parametrize("miss_before,miss_after", [(0.3, 0.0), (0.0, 0.3), (0.1, 0.1)])
def test_the_audited_gate_keeps_its_error_rate_when_the_classifier_is_biased_differently(
    miss_before, miss_after
):
    """No true change; the classifier sees one (or hides one): the gate must not fail more
    often than its one-sided 5% (allowance for the normal approximation and 800 runs)."""
    rng = np.random.default_rng(11)
    runs = 800
    wrong = sum(_gate(rng, 50, 0.4, 0.4, miss_before, miss_after, 40).p < 0.05 for _ in range(runs))
    assert wrong / runs <= 0.075, wrong / runs


def test_the_audited_gate_finds_a_change_the_classifier_hides():
    """The Finnish story: the classifier misses most of release B's official-line answers."""
    rng = np.random.default_rng(5)
    found = sum(_gate(rng, 50, 0.4, 0.94, 0.0, 0.85, 20).p < 0.05 for _ in range(200))
    assert found / 200 >= 0.95
    plain = [_gate(rng, 50, 0.4, 0.94, 0.0, 0.85, 20) for _ in range(50)]
    assert np.mean([g.classifier_value for g in plain]) < 0.15  # what the classifier alone saw
