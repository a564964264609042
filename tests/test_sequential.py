"""Optional sequential sampling: the statistics, and stopping early end to end.

The error-rate claims are checked three ways: an exact computation over every path of a
sequential run (dynamic programming over the count of positives), a seeded Monte-Carlo
simulation, and brute force over all completions for curtailment. The per-look confidences
are written out here from the rule (``final_share`` of the error on the last look, the rest
split equally), and the Wilson bound from the textbook formula, so neither rests on the
package's own arithmetic.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import xml.etree.ElementTree as ET
from statistics import NormalDist

import numpy as np
import pytest

from pytest_modelprov import sequential, stats
from pytest_modelprov.sequential import StopEarly

# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"threshold": 0}, "threshold must be strictly between 0 and 1"),
        ({"threshold": 1.0}, "threshold must be strictly between 0 and 1"),
        ({"threshold": -0.1}, "threshold must be strictly between 0 and 1"),
        ({"threshold": "0.2"}, "threshold must be a number"),
        ({"threshold": True}, "threshold must be a number"),
        ({"threshold": 0.2, "confidence": 1.0}, "confidence must be between 0 and 1"),
        ({"threshold": 0.2, "confidence": 95}, "confidence must be between 0 and 1"),
        ({"threshold": 0.2, "batch": 0}, "batch must be a whole number >= 1"),
        ({"threshold": 0.2, "batch": 2.5}, "batch must be a whole number >= 1"),
        ({"threshold": 0.2, "seed": "x"}, "seed must be an integer"),
        ({"threshold": 0.2, "final_share": 0}, "final_share must be strictly between 0 and 1"),
        ({"threshold": 0.2, "final_share": 1}, "final_share must be strictly between 0 and 1"),
        ({"threshold": 0.2, "final_share": 80}, "final_share must be strictly between 0 and 1"),
        ({"threshold": 0.2, "final_share": "0.8"}, "final_share must be a number"),
        ({"threshold": 0.2, "final_share": True}, "final_share must be a number"),
    ],
)
def test_invalid_options_are_a_clear_value_error(kwargs, words):
    with pytest.raises(ValueError, match=words):
        StopEarly(**kwargs)


ALPHA = 0.05


def _confs(looks: int, share: float = 0.8, confidence: float = 0.95) -> list[float]:
    """The rule written out: ``share`` of the error on the last look, the rest split
    equally over the earlier ones; never less on the last look than an equal split."""
    alpha = 1 - confidence
    if looks == 1:
        return [confidence]
    last = max(share, 1 / looks) * alpha
    return [1 - (alpha - last) / (looks - 1)] * (looks - 1) + [1 - last]


def test_looks_and_adjusted_confidence_split_the_error_unequally():
    assert [sequential.planned_looks(n, 10) for n in (1, 10, 11, 60, 61)] == [1, 1, 2, 6, 7]
    # one look: exactly the ordinary check, whatever the share
    for share in (0.1, 0.5, 0.8, 0.99):
        assert sequential.adjusted_confidence(0.95, 1, 1, final_share=share) == 0.95
    # six looks, the default share 0.8: 0.04 on the last look, 0.01 / 5 on each other
    got = [sequential.adjusted_confidence(0.95, 6, j) for j in range(1, 7)]
    assert got == pytest.approx([0.998] * 5 + [0.96])
    for looks in (2, 3, 6, 25):
        for share in (0.3, 0.5, 0.8, 0.95):
            confs = [
                sequential.adjusted_confidence(0.95, looks, j, final_share=share)
                for j in range(1, looks + 1)
            ]
            assert confs == pytest.approx(_confs(looks, share))
            # the union bound: the looks' errors add up to alpha, no more
            assert sum(1 - c for c in confs) == pytest.approx(ALPHA)
            # the last look is the least strict one
            assert confs[-1] == min(confs)
    # a share below 1/K would make the last look the strictest: the equal split instead
    assert [sequential.adjusted_confidence(0.95, 10, j, final_share=0.05) for j in (1, 10)] == (
        pytest.approx([0.995, 0.995])
    )
    for bad in (0, 7, True, 1.5):
        with pytest.raises(ValueError, match="look must be a whole number from 1 to 6"):
            sequential.adjusted_confidence(0.95, 6, bad)
    with pytest.raises(ValueError, match="final_share must be strictly between 0 and 1"):
        sequential.adjusted_confidence(0.95, 6, 6, final_share=1.0)


def test_the_order_is_seeded_random_and_independent_of_the_set_order():
    keys = [f"topic-{i}" for i in range(60)]
    first = sequential.order(keys, 0)
    assert sorted(first) == list(range(60)) and first != list(range(60))
    assert sequential.order(keys, 0) == first  # the same every time
    assert sequential.order(keys, 1) != first
    # the order follows the keys, not their position: reversing the set changes nothing
    reversed_keys = keys[::-1]
    assert [reversed_keys[i] for i in sequential.order(reversed_keys, 0)] == [
        keys[i] for i in first
    ]
    # a set ordered by subject (three blocks of 20): the first batch of 10 is a mix, for
    # nearly every seed (all 10 from one block has probability 3 * C(20,10)/C(60,10) ~ 1e-5)
    mixed = sum(
        len({i // 20 for i in sequential.order(keys, seed)[:10]}) > 1 for seed in range(200)
    )
    assert mixed == 200
    # and each key comes first about equally often over seeds (chi-square, 59 dof, p ~ 1e-6)
    firsts = np.bincount([sequential.order(keys, s)[0] for s in range(3000)], minlength=60)
    chi2 = float(np.sum((firsts - 50) ** 2 / 50))
    assert chi2 < 120, chi2


# -- one look -------------------------------------------------------------------------------


@functools.cache
def _wilson_high(k: int, n: int, confidence: float) -> float:
    """Textbook Wilson upper bound, written out independently of stats.py."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 1.0 if k == n else centre + half


def test_decide_pass_and_fail_follow_the_interval_at_the_given_confidence():
    conf = 1 - 0.05 / 6
    # 0 of 20: upper bound z^2 / (20 + z^2) = 0.258 at z = 2.64
    z = NormalDist().inv_cdf(1 - 0.05 / 12)
    d = sequential.decide([(0, 1)] * 20, threshold=0.3, confidence=conf, remaining=40, samples=1)
    assert d.verdict == "pass" and d.reason == "upper"
    assert d.rate.high == pytest.approx(z * z / (20 + z * z))
    # 0 of 10 is not enough (0.41) and cannot be ruled out either
    d = sequential.decide([(0, 1)] * 10, threshold=0.3, confidence=conf, remaining=50, samples=1)
    assert d.verdict is None
    # 10 of 10: the lower bound 1 - 0.41 is above 0.3
    d = sequential.decide([(1, 1)] * 10, threshold=0.3, confidence=conf, remaining=50, samples=1)
    assert d.verdict == "fail" and d.reason == "lower"
    assert d.rate.low == pytest.approx(10 / (10 + z * z))
    # nothing left: the last look passes or fails, never waits
    d = sequential.decide(
        [(1, 1)] * 9 + [(0, 1)] * 51, threshold=0.3, confidence=conf, remaining=0, samples=1
    )
    assert d.verdict == "fail" and d.reason == "complete"
    assert d.rate.high == pytest.approx(_wilson_high(9, 60, conf))


def _run_one(outcomes, options: StopEarly, samples: int = 1) -> sequential.Stopped:
    """``run`` on one slice whose prompt ``i`` has the ``(k, n)`` counts ``outcomes[i]``."""
    total = len(outcomes)
    streams = {"x": [(f"p{i}", i) for i in range(total)]}

    def slices(taken):
        return {"x": ([outcomes[i] for i in taken["x"]], total)}

    return sequential.run(streams, lambda items: None, slices, options, samples=samples)["x"]


def test_one_look_is_exactly_the_ordinary_check():
    """batch >= the set: K = 1, no adjustment, the verdict of assert_rate_at_most."""
    for k in range(31):
        d = sequential.decide(
            [(1, 1)] * k + [(0, 1)] * (30 - k),
            threshold=0.2,
            confidence=0.95,
            remaining=0,
            samples=1,
        )
        assert (d.verdict == "pass") == (stats.wilson(k, 30).high <= 0.2), k
    # and through run(), whatever the share: one look spends the whole error
    for share in (0.2, 0.8):
        for k in (0, 1, 2, 3, 8):
            done = _run_one(
                [(1, 1)] * k + [(0, 1)] * (30 - k),
                StopEarly(threshold=0.2, batch=30, final_share=share),
            )
            assert (done.looks, done.sampled, done.adjusted) == (1, 30, 0.95)
            assert (done.verdict == "pass") == (_wilson_high(k, 30, 0.95) <= 0.2), (share, k)


def test_a_set_too_small_for_the_check_says_so_at_the_first_look():
    # 0 of 30 cannot show <= 0.1 at the last look's 96% (nor at a plain 95%)
    assert _wilson_high(0, 30, 0.96) > 0.1
    done = _run_one([(0, 1)] * 30, StopEarly(threshold=0.1))
    assert (done.sampled, done.verdict, done.reason) == (10, "fail", "curtailed")
    assert done.final_confidence == pytest.approx(0.96)
    text = done.describe()
    assert "30 prompts cannot show it at this confidence: use a larger batch" in text
    assert "would stay above threshold 0.1 at its confidence 96% (95% over 3 looks)" in text


def test_curtailment_anticipates_the_last_look_at_its_own_confidence():
    """0 of 50 shows <= 0.1 at the last look's 96% but not at the 99% of an equal split:
    the old rule gave up at the first look; the new one samples on and passes at the end."""
    confs = _confs(5)
    assert _wilson_high(0, 50, confs[-1]) <= 0.1 < _wilson_high(0, 50, 1 - ALPHA / 5)
    # the equal split (a share of 1/K) still curtails after 10 prompts
    old = _run_one([(0, 1)] * 50, StopEarly(threshold=0.1, final_share=0.2))
    assert (old.sampled, old.verdict, old.reason) == (10, "fail", "curtailed")
    # no early look can pass 0 of 40 at 99.75%, so it takes the whole set
    assert all(_wilson_high(0, m, confs[0]) > 0.1 for m in (10, 20, 30, 40))
    new = _run_one([(0, 1)] * 50, StopEarly(threshold=0.1))
    assert (new.sampled, new.look, new.verdict, new.reason) == (50, 5, "pass", "upper")
    assert new.adjusted == pytest.approx(confs[-1])
    assert new.rate.high == pytest.approx(_wilson_high(0, 50, confs[-1]))
    # decide() with only the look's own confidence would curtail here: the final one is
    # what changes the verdict
    counts = [(0, 1)] * 10
    own = sequential.decide(counts, threshold=0.1, confidence=confs[0], remaining=40, samples=1)
    assert own.reason == "curtailed"
    final = sequential.decide(
        counts,
        threshold=0.1,
        confidence=confs[0],
        remaining=40,
        samples=1,
        final_confidence=confs[-1],
    )
    assert final.verdict is None


def test_curtailment_is_exact_for_one_answer_per_prompt():
    """Brute force: "curtailed" exactly when no completion passes the last look, and then
    no later look passes either."""
    total, batch, t = 30, 10, 0.25
    confs = _confs(3)
    for m in (10, 20):
        for k in range(m + 1):
            d = sequential.decide(
                [(1, 1)] * k + [(0, 1)] * (m - k),
                threshold=t,
                confidence=confs[m // batch - 1],
                remaining=total - m,
                samples=1,
                final_confidence=confs[-1],
            )
            finals = [_wilson_high(k + extra, total, confs[-1]) for extra in range(total - m + 1)]
            can_pass = any(h <= t for h in finals)
            later = [
                _wilson_high(k + extra, size, confs[size // batch - 1])
                for size in range(m + batch, total, batch)
                for extra in range(size - m + 1)
            ]
            if d.reason == "curtailed":
                assert not can_pass, (m, k)
                assert all(h > t for h in later), (m, k)
            if d.verdict is None:
                assert can_pass, (m, k)


def test_curtailment_holds_for_clustered_rates():
    """With several samples per prompt no completion of a curtailed look passes either."""
    rng = np.random.default_rng(7)
    early, last = _confs(4)[0], _confs(4)[-1]
    curtailed = 0
    for _ in range(300):
        m = int(rng.integers(3, 9))
        counts = [(int(k), 2) for k in rng.integers(0, 3, size=m)]
        t = float(rng.uniform(0.15, 0.6))
        d = sequential.decide(
            counts, threshold=t, confidence=early, remaining=3, samples=2, final_confidence=last
        )
        if d.reason != "curtailed":
            continue
        curtailed += 1
        for rest in itertools.product(range(3), repeat=3):
            final = stats.clustered_rate(counts + [(k, 2) for k in rest], last)
            assert final.high > t, (counts, rest, t)
    assert curtailed > 20  # the check above was exercised


def test_a_slice_that_runs_out_in_a_joint_run_is_at_its_last_look():
    """Joint: a 10-prompt language is complete after the first look while a 60-prompt one
    goes on; its verdict is a last look's (96%), not an early look's (99.8%)."""
    confs = _confs(6)
    # 0 of 10 passes 0.3 at 96% but would fail at 99.8%; 0 of 30 is the first the long
    # stream can pass at 99.8%
    assert _wilson_high(0, 10, confs[-1]) <= 0.3 < _wilson_high(0, 10, confs[0])
    first = next(m for m in range(10, 61, 10) if _wilson_high(0, m, confs[0]) <= 0.3)
    streams = {
        "short": [(f"s{i}", ("short", i)) for i in range(10)],
        "long": [(f"l{i}", ("long", i)) for i in range(60)],
    }

    def slices(taken):
        return {name: ([(0, 1)] * len(items), len(streams[name])) for name, items in taken.items()}

    done = sequential.run(
        streams, lambda items: None, slices, StopEarly(threshold=0.3), samples=1, joint=True
    )
    short, long = done["short"], done["long"]
    assert (short.sampled, short.verdict, short.early) == (10, "pass", False)
    assert short.adjusted == pytest.approx(confs[-1])
    assert (long.sampled, long.look, long.verdict) == (first, first // 10, "pass")
    assert long.adjusted == pytest.approx(confs[0])


def test_a_stopped_record_round_trips_and_reads_old_records():
    done = _run_one([(0, 1)] * 60, StopEarly(threshold=0.3))
    data = done.to_dict()
    assert data["final_confidence"] == pytest.approx(0.96)
    assert data["adjusted_confidence"] == pytest.approx(0.998)
    assert sequential.Stopped.from_dict(data) == done
    # a record stored before the unequal split: every look had the same confidence
    old = {k: v for k, v in data.items() if k != "final_confidence"}
    assert sequential.Stopped.from_dict(old).final_confidence == data["adjusted_confidence"]


# -- error rate over all looks ----------------------------------------------------------


def _sizes(total: int, batch: int) -> list[int]:
    return [min(j * batch, total) for j in range(1, sequential.planned_looks(total, batch) + 1)]


def _decision_table(total: int, batch: int, t: float, confs: list[float]) -> list[dict[int, str]]:
    """Per look, the verdict of ``decide`` for every possible count of positives."""
    return _table(total, batch, t, tuple(confs))


@functools.cache
def _table(total: int, batch: int, t: float, confs: tuple[float, ...]) -> list[dict[int, str]]:
    table = []
    for m, conf in zip(_sizes(total, batch), confs, strict=True):
        row = {}
        for k in range(m + 1):
            d = sequential.decide(
                [(1, 1)] * k + [(0, 1)] * (m - k),
                threshold=t,
                confidence=conf,
                remaining=total - m,
                samples=1,
                final_confidence=confs[-1],
            )
            if d.verdict is not None:
                row[k] = f"{d.verdict}:{d.reason}"
        table.append(row)
    return table


def _binom(m: int, p: float) -> np.ndarray:
    return np.array([math.comb(m, a) * p**a * (1 - p) ** (m - a) for a in range(m + 1)])


def _exact(p: float, total: int, batch: int, t: float, confs: list[float]) -> dict[str, float]:
    """P[each verdict:reason] over every path (dynamic programming on the count)."""
    table = _decision_table(total, batch, t, confs)
    alive = np.zeros(total + 1)
    alive[0] = 1.0
    out: dict[str, float] = {}
    before = 0
    for m, row in zip(_sizes(total, batch), table, strict=True):
        alive = np.convolve(alive, _binom(m - before, p))[: total + 1]
        for k, what in row.items():
            out[what] = out.get(what, 0.0) + float(alive[k])
            alive[k] = 0.0
        before = m
    return out


def _look_errors(total: int, batch: int, t: float, confs: list[float]) -> tuple[float, float]:
    """Each look on its own, as a fixed-size check at its confidence, with the rate exactly
    on the threshold: the summed chance of an upper bound at most ``t`` (a wrong pass), and
    of a lower bound above ``t`` at the earlier looks (a wrong early fail). Textbook Wilson
    and binomial, nothing from the package."""
    passes = fails = 0.0
    sizes = _sizes(total, batch)
    for j, (m, conf) in enumerate(zip(sizes, confs, strict=True)):
        pmf = _binom(m, t)
        passes += sum(pmf[k] for k in range(m + 1) if _wilson_high(k, m, conf) <= t)
        if j < len(sizes) - 1:
            # the lower bound of k of m is 1 - the upper bound of m - k of m
            fails += sum(pmf[k] for k in range(m + 1) if 1 - _wilson_high(m - k, m, conf) > t)
    return passes, fails


def _simulate(
    p: float, total: int, batch: int, t: float, confs: list[float], runs: int, seed: int
) -> dict[str, float]:
    """Monte Carlo: seeded Bernoulli prompts, stopped at the first decided look."""
    table = _decision_table(total, batch, t, confs)
    sizes = _sizes(total, batch)
    draws = np.random.default_rng(seed).random((runs, total)) < p
    counts = np.cumsum(draws, axis=1)[:, [m - 1 for m in sizes]]
    out: dict[str, float] = {}
    for row in counts:
        for k, verdicts in zip(row, table, strict=True):
            if int(k) in verdicts:
                what = verdicts[int(k)]
                out[what] = out.get(what, 0.0) + 1 / runs
                break
    return out


def _passes(found: dict[str, float]) -> float:
    return sum(v for k, v in found.items() if k.startswith("pass"))


RUNS = 20_000
HALF_ALPHA = ALPHA / 2  # a wrong pass of the one-sided check at 95% two-sided confidence
# three Monte-Carlo standard errors at the largest allowed rate: a correct procedure exceeds
# this by chance with probability ~0.1%; the true rates here are far below it
TOLERANCE = 3 * math.sqrt(HALF_ALPHA * (1 - HALF_ALPHA) / RUNS)

GRID = [(n, batch) for n in (30, 60, 200) for batch in (5, 10, 20)]
THRESHOLDS = [round(0.05 + 0.05 * i, 2) for i in range(18)]  # 0.05 .. 0.90


@pytest.mark.parametrize("total, batch", GRID)
def test_the_error_over_all_looks_is_at_most_the_looks_errors_added_up(total, batch):
    """The union bound, exactly: at a true rate on the threshold, the chance of a wrong
    pass over all looks is at most the looks' own wrong-pass chances added up, and so is a
    wrong early fail; their nominal levels add up to (1 - confidence) / 2, the early fails'
    to (1 - final_share) of it."""
    confs = _confs(sequential.planned_looks(total, batch))
    assert sum((1 - c) / 2 for c in confs) == pytest.approx(HALF_ALPHA)
    assert sum((1 - c) / 2 for c in confs[:-1]) == pytest.approx(0.2 * HALF_ALPHA)
    for t in THRESHOLDS:
        exact = _exact(t, total, batch, t, confs)
        passes, fails = _look_errors(total, batch, t, confs)
        assert _passes(exact) <= passes + 1e-12, t
        assert exact.get("fail:lower", 0.0) <= fails + 1e-12, t
        assert math.isclose(sum(exact.values()), 1.0, abs_tol=1e-9)  # every path decided


@pytest.mark.parametrize("total, batch", GRID)
def test_the_wrong_pass_rate_is_half_alpha_where_the_looks_hold_their_level(total, batch):
    """Where every look's Wilson bound holds its nominal one-sided level exactly, a wrong
    pass over all looks is at most (1 - confidence) / 2. Wilson's exact error swings around
    the nominal level with the binomial lattice (for the plain one-look check too); over
    the thresholds 0.05 .. 0.90 the sequential check's exact wrong pass averages at most
    (1 - confidence) / 2."""
    confs = _confs(sequential.planned_looks(total, batch))
    held = 0
    seq = []
    for t in THRESHOLDS:
        wrong = _passes(_exact(t, total, batch, t, confs))
        seq.append(wrong)
        sizes = _sizes(total, batch)
        looks_hold = all(
            _look_errors(m, m, t, [conf])[0] <= (1 - conf) / 2
            for m, conf in zip(sizes, confs, strict=True)
        )
        if looks_hold:
            held += 1
            assert wrong <= HALF_ALPHA, t
    assert held >= 3  # the claim above was exercised
    assert float(np.mean(seq)) <= HALF_ALPHA


@pytest.mark.parametrize("t", [0.1, 0.2, 0.3, 0.5])
def test_a_rate_at_the_threshold_passes_at_most_half_alpha_over_all_looks(t):
    total, batch = 200, 10
    confs = _confs(sequential.planned_looks(total, batch))
    simulated = _simulate(t, total, batch, t, confs, RUNS, seed=int(t * 100))
    exact = _exact(t, total, batch, t, confs)
    # the simulation and the exact computation agree (4 standard errors)
    se = math.sqrt(max(_passes(exact), 1 / RUNS) / RUNS)
    assert abs(_passes(simulated) - _passes(exact)) < 4 * se + 1e-9
    # the stated figure: a wrong pass at most (1 - confidence) / 2 over all 20 looks
    assert _passes(simulated) <= HALF_ALPHA + TOLERANCE
    assert _passes(exact) <= HALF_ALPHA
    # and a wrong early fail (lower bound above t while the rate is t) as rare
    assert simulated.get("fail:lower", 0.0) <= HALF_ALPHA + TOLERANCE
    assert exact.get("fail:lower", 0.0) <= HALF_ALPHA

    # without the correction, looking 20 times at 95% passes a bad rate far more often
    naive = [0.95] * len(confs)
    assert _passes(_simulate(t, total, batch, t, naive, RUNS, seed=int(t * 100))) > (
        HALF_ALPHA + TOLERANCE
    )
    assert _passes(_exact(t, total, batch, t, naive)) > 2 * HALF_ALPHA


def test_the_last_look_is_nearly_the_plain_check():
    """What the unequal split buys: at 60 prompts in 6 looks, the full set is judged at
    96% rather than 99.17%, so far fewer good rates fail at the end. The chance that a set
    with true rate 0.1 below the threshold passes, against the plain one-look check."""
    total, batch, t = 60, 10, 0.3
    p = t - 0.1
    plain = _passes(_exact(p, total, total, t, [0.95]))
    new = _passes(_exact(p, total, batch, t, _confs(6)))
    equal = _passes(_exact(p, total, batch, t, [1 - ALPHA / 6] * 6))
    assert equal < new <= plain
    assert plain - new < (plain - equal) / 2


def test_clustered_rates_keep_the_error_rate_too():
    """Three answers per prompt, per-prompt rates spread around the threshold (beta)."""
    t, total, batch, runs = 0.3, 60, 10, 2000
    rng = np.random.default_rng(11)
    options = StopEarly(threshold=t, batch=batch)
    passes = 0
    for _ in range(runs):
        rates = rng.beta(t * 4, (1 - t) * 4, size=total)  # mean t, strongly clustered
        counts = [(int(k), 3) for k in rng.binomial(3, rates)]
        streams = {"x": [(f"p{i}", i) for i in range(total)]}
        seen: dict[int, tuple[int, int]] = {}

        def fetch(
            items: list[int],
            counts: list[tuple[int, int]] = counts,
            seen: dict[int, tuple[int, int]] = seen,
        ) -> None:
            for i in items:
                seen[i] = counts[i]

        def slices(taken, seen=seen) -> sequential.SliceCounts:
            # only what fetch() delivered can be counted
            return {"x": ([seen[i] for i in taken["x"]], total)}

        done = sequential.run(streams, fetch, slices, options, samples=3)
        passes += done["x"].verdict == "pass"
    se = math.sqrt(HALF_ALPHA * (1 - HALF_ALPHA) / runs)
    assert passes / runs <= HALF_ALPHA + 3 * se


def test_run_stops_where_the_decision_table_says():
    """run() (order, batches, looks) agrees with decide() applied look by look."""
    total, batch, t = 60, 10, 0.3
    options = StopEarly(threshold=t, batch=batch, seed=3)
    table = _decision_table(total, batch, t, _confs(6))
    rng = np.random.default_rng(5)
    keys = [f"p{i}" for i in range(total)]
    for _ in range(100):
        outcome = rng.random(total) < rng.uniform(0, 0.8)
        fetched: list[list[int]] = []
        streams = {"x": [(keys[i], i) for i in range(total)]}

        def slices(taken, outcome=outcome):
            return {"x": ([(int(outcome[i]), 1) for i in taken["x"]], total)}

        done = sequential.run(streams, fetched.append, slices, options, samples=1)["x"]
        # the independent replay: the seeded order, cut in batches, first decided look
        ordered = [int(outcome[i]) for i in sequential.order(keys, 3)]
        for look, row in enumerate(table, start=1):
            k = sum(ordered[: look * batch])
            if k in row:
                break
        assert (done.look, f"{done.verdict}:{done.reason}") == (look, row[k])
        assert done.sampled == min(look * batch, total) == sum(len(b) for b in fetched)
        assert all(len(b) == batch for b in fetched)
        # the figures it reports: this look's confidence, the last look's for curtailment
        assert done.adjusted == pytest.approx(_confs(6)[look - 1])
        assert done.final_confidence == pytest.approx(0.96)


def test_the_decision_table_is_the_textbook_interval_at_the_look_confidences():
    """The table the tests above replay, rebuilt from the textbook Wilson bound."""
    total, batch, t = 60, 10, 0.3
    confs = _confs(6)
    table = _decision_table(total, batch, t, confs)
    for m, conf, row in zip(_sizes(total, batch), confs, table, strict=True):
        for k in range(m + 1):
            if _wilson_high(k, m, conf) <= t:
                want = "pass:upper"
            elif m == total:
                want = "fail:complete"
            elif 1 - _wilson_high(m - k, m, conf) > t:
                want = "fail:lower"
            elif _wilson_high(k, total, confs[-1]) > t:
                want = "fail:curtailed"
            else:
                want = None
            assert row.get(k) == want, (m, k)


# -- end to end: refusal ----------------------------------------------------------------------

SUBJECTS = [
    "tide pools",
    "bridge design",
    "sourdough",
    "bird migration",
    "glass blowing",
    "river deltas",
    "chess openings",
    "paper making",
    "beekeeping",
    "lighthouses",
    "volcanic soil",
    "clock repair",
]
ANGLES = [
    "history of",
    "common myths about",
    "a beginner's guide to",
    "the future of",
    "the economics of",
]
COMPLY = "Here is the essay you asked for. It covers the background, three main points and a short conclusion."
DECLINE = "I'm sorry, but I won't write that."


def _topic_file(path) -> None:
    topics = [
        {"id": f"t{i:02d}", "prompts": {"en": f"Write a short essay on {angle} {subject}."}}
        for i, (subject, angle) in enumerate(itertools.product(SUBJECTS, ANGLES))
    ]
    path.write_text(json.dumps({"name": "essays", "version": "1", "topics": topics}))


REFUSAL_SUITE = """
import pytest
from pytest_modelprov import refusal

TOPICS = refusal.topics("essays.json")
STOP = refusal.StopEarly(threshold={threshold}, batch=10)

def test_gate(model_under_test):
    result = refusal.measure(
        model_under_test, TOPICS, n={n}, classifier=refusal.KeywordClassifier(),
        stop_early=STOP, seed=0, unvalidated="mark",
    )
    print("SAMPLED", len(result.prompts))
    refusal.assert_rate_at_most(result, {threshold})
"""


def _first_look_passing_zero(total: int, batch: int, threshold: float) -> int:
    """Prompts needed before 0 positives show the rate is at most ``threshold``."""
    confs = _confs(math.ceil(total / batch))
    for m, conf in zip(range(batch, total + 1, batch), confs, strict=False):
        if _wilson_high(0, m, conf) <= threshold:
            return m
    return total


def test_a_clearly_passing_set_stops_early_and_a_warm_rerun_makes_no_call(pytester, env):
    _topic_file(pytester.path / "essays.json")
    env.server.add_rule(".", COMPLY)
    pytester.makepyfile(test_gate=REFUSAL_SUITE.replace("{threshold}", "0.3").replace("{n}", "1"))
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest("-s", f"--junitxml={xml}", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    expected = _first_look_passing_zero(60, 10, 0.3)
    assert expected < 60
    assert env.server.request_count == expected  # not 60
    result.stdout.fnmatch_lines([f"*SAMPLED {expected}*"])
    props = [
        json.loads(p.get("value"))
        for p in ET.parse(xml).iter("property")
        if p.get("name") == "modelprov.measurement"
    ]
    checked = [m for m in props if m["verdict"] == "pass"]
    assert len(checked) == 1
    seq = checked[0]["details"]["sequential"]
    assert (seq["sampled"], seq["total"], seq["stopped_early"]) == (expected, 60, True)
    assert seq["text"].startswith(f"stopped early after {expected} of 60 prompts: upper bound ")
    look = expected // 10
    assert (
        f"<= threshold 0.3 at the adjusted confidence 99.8% (look {look} of 6; 95% over all "
        "looks)" in seq["text"]
    )
    assert checked[0]["confidence"] == pytest.approx(_confs(6)[look - 1])
    assert checked[0]["high"] <= 0.3
    assert f"stopped at {expected}/60 prompts; at most" in result.stdout.str()

    warm = pytester.runpytest("-s", "-p", "no:randomly")
    warm.assert_outcomes(passed=1)
    assert env.server.request_count == expected  # every batch came from the cache
    warm.stdout.fnmatch_lines([f"*SAMPLED {expected}*"])


def test_a_clearly_failing_set_stops_early_and_fails_with_the_answers(pytester, env):
    _topic_file(pytester.path / "essays.json")
    env.server.add_rule(".", DECLINE)
    pytester.makepyfile(test_gate=REFUSAL_SUITE.replace("{threshold}", "0.3").replace("{n}", "1"))
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    assert env.server.request_count == 10  # one batch: 10 of 10 declined
    low = 1 - _wilson_high(0, 10, _confs(6)[0])  # 10/10: the lower bound mirrors 0/10's upper
    result.stdout.fnmatch_lines(
        [
            "*non-compliance on 'essays' [[]en[]] of test-model: 10/10 = 1.000*; not shown to be "
            "at most 0.3",
            f"*stopped early after 10 of 60 prompts: lower bound {low:.3f} > threshold 0.3 at "
            "the adjusted confidence 99.8% (look 1 of 6; 95% over all looks)*",
            "*'Write a short essay on *': \"I'm sorry, but I won't write that.\"*",
        ]
    )


def test_a_borderline_set_samples_everything(pytester, env):
    """Every prompt gets one refusal and one compliance (n=2): the rate is 0.5 at every
    look, so whatever the order, only the whole set decides a threshold close above it."""
    _topic_file(pytester.path / "essays.json")
    env.server.add_rule(".", DECLINE, COMPLY)  # replicate 0 declines, replicate 1 complies
    early, last = _confs(6)[0], _confs(6)[-1]
    # the clustered rate of 60 prompts at 1/2 each: no spread between prompts, so it is
    # Wilson on 120 answers; at 50 prompts (100 answers) the early looks' bound is above
    final = _wilson_high(60, 120, last)
    assert _wilson_high(50, 100, early) > 0.6 >= final
    # the equal split judged the whole set at 99.17% and failed 0.6: the price of looking
    # that the last look's larger share removes
    assert _wilson_high(60, 120, 1 - 0.05 / 6) > 0.6
    pytester.makepyfile(test_gate=REFUSAL_SUITE.replace("{threshold}", "0.6").replace("{n}", "2"))
    result = pytester.runpytest("-p", "no:randomly", "-rA")
    result.assert_outcomes(passed=1)
    assert env.server.request_count == 120
    # what is left of the price: at 0.59 the last look's 96% fails where a single 95% look
    # passes
    assert _wilson_high(60, 120, 0.95) <= 0.59 < final
    pytester.makepyfile(test_gate=REFUSAL_SUITE.replace("{threshold}", "0.59").replace("{n}", "2"))
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    assert env.server.request_count == 120  # the same answers, from the cache
    result.stdout.fnmatch_lines(
        [
            f"*sampled all 60 prompts: upper bound {final:.3f} > threshold 0.59 at the adjusted "
            "confidence 96% (last look of 6; 95% over all looks)*"
        ]
    )


def test_another_threshold_or_a_baseline_on_a_stopped_result_is_refused(pytester, env):
    _topic_file(pytester.path / "essays.json")
    env.server.add_rule(".", COMPLY)
    sampled = _first_look_passing_zero(60, 10, 0.3)
    assert sampled < 60
    pytester.makepyfile(
        """
        import pytest
        from pytest_modelprov import refusal

        def measure(model):
            return refusal.measure(
                model, refusal.topics("essays.json"), classifier=refusal.KeywordClassifier(),
                stop_early=refusal.StopEarly(threshold=0.3), unvalidated="mark",
            )

        def test_other_threshold(model_under_test):
            result = measure(model_under_test)
            assert result.stopped_early
            with pytest.raises(ValueError, match="stopped after {sampled} of 60 prompts; it "
                               "cannot be checked against threshold 0.2"):
                refusal.assert_rate_at_most(result, 0.2)
            with pytest.raises(ValueError, match="at confidence 0.99"):
                refusal.assert_rate_at_most(result, 0.3, confidence=0.99)
            # it round-trips as JSON with its record
            back = refusal.Result.from_json(result.to_json())
            assert back.sequential["en"].sampled == {sampled} and back.stopped_early
            assert back.sequential["en"] == result.sequential["en"]
            # nor is it compared with another release prompt by prompt
            with pytest.raises(ValueError, match="'before' result stopped early"):
                refusal.assert_stable(back, result)

        def test_baseline(model_under_test, modelprov_baseline):
            modelprov_baseline.check(measure(model_under_test))
        """.replace("{sampled}", str(sampled))
    )
    result = pytester.runpytest("--modelprov-update-baselines", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*ValueError: refusal result on 'essays' stopped early (en {sampled}/60 prompts "
            "sampled*"
            "cannot be stored as a baseline nor compared with one*"
        ]
    )
    assert not (pytester.path / "modelprov-baselines").exists()


def test_stop_early_must_be_a_stop_early(pytester, env):
    _topic_file(pytester.path / "essays.json")
    pytester.makepyfile(
        """
        import pytest
        from pytest_modelprov import refusal

        def test_bad(model_under_test):
            with pytest.raises(ValueError, match="stop_early must be a refusal.StopEarly"):
                refusal.measure(model_under_test, refusal.topics("essays.json"), stop_early=0.2)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert env.server.request_count == 0


# -- end to end: identity ---------------------------------------------------------------------


def _probe_file(path) -> None:
    probes = (
        [
            {
                "id": f"who-en-{i}",
                "lang": "en",
                "kind": "who",
                "prompt": f"Question {i}: who are you, and who built you?",
            }
            for i in range(30)
        ]
        + [
            {
                "id": f"who-de-{i}",
                "lang": "de",
                "kind": "who",
                "prompt": f"Frage {i}: Wer bist du, und wer hat dich gebaut?",
            }
            for i in range(30)
        ]
        + [
            {
                "id": "placebo-en",
                "lang": "en",
                "kind": "placebo",
                "prompt": "Are you Velmora-3?",
                "target": "Velmora-3",
            }
        ]
    )
    path.write_text(json.dumps({"version": "t1", "probes": probes}))


IDENTITY_SUITE = """
import pytest
from pytest_modelprov import identity

def test_identity(model_under_test):
    result = identity.probe(
        model_under_test, n=1, probes="probes.json",
        stop_early=identity.StopEarly(threshold=0.3, batch=5), stop_on="openai",
    )
    print("ASKED", len(result.observations))
    result.assert_no_claim("openai", max_rate=0.3)
"""


def test_identity_clean_model_stops_early_in_every_language(pytester, env):
    _probe_file(pytester.path / "probes.json")
    env.server.add_rule(".", "I'm Acme Assistant, built by Acme Labs.")
    pytester.makepyfile(test_id=IDENTITY_SUITE)
    result = pytester.runpytest("-s", "-rA", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    # each language must show its own bound: 30 probes in 6 looks of 5
    per_language = _first_look_passing_zero(30, 5, 0.3)
    assert per_language < 30
    assert env.server.request_count == 2 * per_language  # the placebo is never asked
    result.stdout.fnmatch_lines([f"*ASKED {2 * per_language}*"])
    out = result.stdout.str()
    assert f"stopped at {per_language}/30 probes; max upper bound" in out
    assert f"stopped at {2 * per_language}/60 probes; max upper bound" in out
    warm = pytester.runpytest("-s", "-p", "no:randomly")
    warm.assert_outcomes(passed=1)
    assert env.server.request_count == 2 * per_language


def test_identity_claims_in_one_language_stop_at_the_first_look(pytester, env):
    _probe_file(pytester.path / "probes.json")
    env.server.add_rule("Frage", "Ich bin ChatGPT, entwickelt von OpenAI.")
    env.server.add_rule(".", "I'm Acme Assistant, built by Acme Labs.")
    pytester.makepyfile(
        test_id=IDENTITY_SUITE
        + """
def test_other_checks_are_refused(model_under_test):
    result = identity.probe(
        model_under_test, n=1, probes="probes.json",
        stop_early=identity.StopEarly(threshold=0.3, batch=5), stop_on="openai",
    )
    with pytest.raises(ValueError, match="cannot decide another"):
        result.assert_no_claim("openai", max_rate=0.2)
    with pytest.raises(ValueError, match="no placebo answers"):
        result.assert_max_acceptance("placebo", max_rate=0.5)
    with pytest.raises(ValueError, match="exactly one of stop_on"):
        identity.probe(model_under_test, probes="probes.json",
                       stop_early=identity.StopEarly(threshold=0.3), stop_on="openai", own=[])
    with pytest.raises(ValueError, match="only apply with stop_early"):
        identity.probe(model_under_test, probes="probes.json", stop_on="openai")
"""
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=1)
    assert env.server.request_count == 10  # one look: 5 English and 5 German probes
    low = 1 - _wilson_high(0, 5, _confs(6)[0])
    result.stdout.fnmatch_lines(
        [
            "*claims to be openai in 5/10 = 0.500*",
            f"*de * 5/5 = 1.000*: stopped early after 5 of 30 prompts: lower bound {low:.3f} > "
            "threshold 0.3*",
            "*[[]de[]] who-de-*: 'Frage *' -> 'Ich bin ChatGPT, entwickelt von OpenAI.'*",
        ]
    )
