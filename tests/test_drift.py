"""Drift rules and the paired drift test, checked against independent computation."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest

from pytest_modelprov.drift import (
    DEFAULT_RULES,
    Rule,
    decide,
    paired_drift,
    parse_rule,
    parse_rules,
    resolve_rule,
    threshold_drift,
)
from pytest_modelprov.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "quantity", "margin", "direction", "alpha"),
    [
        ("refusal.rate:+0.05", "refusal.rate", 0.05, "increase", 0.05),
        ("refusal.rate:-0.1", "refusal.rate", 0.1, "decrease", 0.05),
        ("identity.claim_rate:0.05", "identity.claim_rate", 0.05, "either", 0.05),
        ("identity.claim_rate:±.2", "identity.claim_rate", 0.2, "either", 0.05),
        (" refusal.rate : +0.05 @ 0.01 ", "refusal.rate", 0.05, "increase", 0.01),
        ("lexical.distance:+0.08", "lexical.distance", 0.08, "increase", 0.05),
        # a distance only rises: no sign means a rise
        ("lexical.distance:0.08@0.01", "lexical.distance", 0.08, "increase", 0.01),
    ],
)
def test_rule_grammar(text, quantity, margin, direction, alpha):
    rule = parse_rule(text, "test")
    assert (rule.quantity, rule.margin, rule.direction, rule.alpha) == (
        quantity,
        margin,
        direction,
        alpha,
    )
    # the printed form parses back to the same rule
    assert parse_rule(str(rule), "test") == rule


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("refusal.rate+0.05", "is not QUANTITY:[+|-]MARGIN[@ALPHA]"),
        ("refusal.rate:+5%", "is not QUANTITY"),
        ("refusal.rate:+1.5", "a rate margin is between 0 and 1"),
        ("refusal.rate:+0.05@0.7", "ALPHA must be between 0 and 0.5"),
        ("Refusal.Rate:+0.05", "is not QUANTITY"),
        ("refusal_rate:+0.05", "unknown quantity 'refusal_rate' (did you mean refusal.rate?)"),
        ("lexical.distance:+1.5", "between 0 and 1"),
        ("lexical.distance:-0.08", "only a rise can be tested; write lexical.distance:+0.08"),
    ],
)
def test_bad_rules_name_their_source_and_the_grammar(text, says):
    with pytest.raises(ConfigError) as err:
        parse_rule(text, "ini modelprov_drift")
    assert f"drift rule {text!r} from ini modelprov_drift" in str(err.value)
    assert says in str(err.value)


def test_rules_lines_commas_comments_and_later_wins():
    rules = parse_rules(
        ["refusal.rate:+0.2, identity.claim_rate:0.1  # both", "", "refusal.rate:+0.05"], "x"
    )
    assert rules["refusal.rate"].margin == 0.05
    assert rules["identity.claim_rate"].direction == "either"


def test_resolve_takes_the_first_layer_that_has_the_quantity():
    high = {"refusal.rate": Rule("refusal.rate", 0.3, source="cli")}
    low = {
        "refusal.rate": Rule("refusal.rate", 0.2, source="ini"),
        "identity.claim_rate": Rule("identity.claim_rate", 0.01, source="ini"),
    }
    assert resolve_rule("refusal.rate", high, low).source == "cli"
    assert resolve_rule("identity.claim_rate", high, low).source == "ini"
    assert resolve_rule("lexical.distance", high, low) == DEFAULT_RULES["lexical.distance"]
    with pytest.raises(ConfigError, match=r"--modelprov-drift custom\.rate:"):
        resolve_rule("custom.rate", high, low)


def _exact_sign_p(up: int, down: int) -> float:
    """P[Binomial(up + down, 1/2) >= up], summed here with integers."""
    m = up + down
    return sum(comb(m, i) for i in range(up, m + 1)) / 2**m if m else 1.0


@pytest.mark.parametrize(("up", "down", "same"), [(7, 1, 12), (3, 3, 4), (0, 5, 5), (12, 0, 8)])
def test_binary_drift_is_mcnemar_with_the_rule_direction(up, down, same):
    before = [0] * up + [1] * down + [0] * same
    after = [1] * up + [0] * down + [0] * same
    inc = paired_drift("q", {}, before, after, Rule("q", 0.1, "increase"))
    dec = paired_drift("q", {}, before, after, Rule("q", 0.1, "decrease"))
    both = paired_drift("q", {}, before, after, Rule("q", 0.1, "either"))
    assert inc.p == pytest.approx(_exact_sign_p(up, down))
    assert dec.p == pytest.approx(_exact_sign_p(down, up))
    assert both.p == pytest.approx(min(1.0, 2 * min(inc.p, dec.p)))
    n = up + down + same
    assert inc.change == pytest.approx((up - down) / n)
    assert inc.low <= inc.change <= inc.high
    assert inc.test.startswith("exact McNemar")


def test_shares_use_the_sign_test_and_a_bootstrap_interval():
    before = [0.0, 0.2, 0.4, 0.0, 0.6, 0.2, 0.0, 0.2]
    after = [0.4, 0.6, 0.4, 0.2, 1.0, 0.2, 0.2, 0.6]
    d = paired_drift("q", {}, before, after, Rule("q", 0.1))
    assert d.test.startswith("exact sign test")
    assert d.p == pytest.approx(_exact_sign_p(6, 0))
    assert d.change == pytest.approx(np.mean(after) - np.mean(before))
    assert d.low <= d.change <= d.high


def test_examples_are_the_items_that_moved_in_the_rule_direction():
    before = [0, 1, 0, 0]
    after = [1, 0, 0, 1]
    d = paired_drift("q", {}, before, after, Rule("q", 0.1), items=["a", "b", "c", "d"])
    assert [e[0] for e in d.examples] == ["a", "d"]
    d = paired_drift("q", {}, before, after, Rule("q", 0.1, "decrease"), items=list("abcd"))
    assert [e[0] for e in d.examples] == ["b"]


def test_decide_needs_significance_and_margin_and_holm_adjusts():
    rule = Rule("q", 0.2)
    big_sure = paired_drift("q", {"s": "1"}, [0] * 30, [1] * 10 + [0] * 20, rule)
    small_sure = paired_drift("q", {"s": "2"}, [0] * 100, [1] * 10 + [0] * 90, rule)
    big_unsure = paired_drift("q", {"s": "3"}, [0] * 3, [1] * 2 + [0], rule)
    out = decide([big_sure, small_sure, big_unsure])
    assert [d.failed for d in out] == [True, False, False]
    raw = [big_sure.p, small_sure.p, big_unsure.p]
    # Holm by hand: sorted ascending, multiplied by (m - rank), made monotone
    order = sorted(range(3), key=lambda i: raw[i])
    running, expected = 0.0, [0.0] * 3
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        expected[i] = running
    assert [d.p_adjusted for d in out] == pytest.approx(expected)


def test_underpowered_when_n_cannot_detect_the_margin():
    few = paired_drift("q", {}, [0] * 10, [0] * 10, Rule("q", 0.1))
    many = paired_drift("q", {}, [0] * 400, [0] * 400, Rule("q", 0.1))
    assert few.underpowered and few.detectable is not None and few.detectable > 0.1
    assert not many.underpowered


def test_false_alarm_rate_is_at_most_alpha_when_nothing_changed():
    rng = np.random.default_rng(7)
    rule = Rule("q", 0.0, "increase", alpha=0.05)
    alarms = 0
    trials = 200
    for _ in range(trials):
        before = (rng.random(60) < 0.3).astype(float)
        after = (rng.random(60) < 0.3).astype(float)
        alarms += decide([paired_drift("q", {}, before, after, rule)])[0].failed
    assert alarms / trials <= 0.05 + 0.03  # exact test: conservative, plus simulation noise


def test_threshold_drift_fails_only_when_the_whole_interval_is_above():
    rule = Rule("lexical.distance", 0.1)
    calm = threshold_drift(
        "lexical.distance", {}, 0.12, 0.08, 0.16, rule, confidence=0.95, pairs=9, test="t"
    )
    moved = threshold_drift(
        "lexical.distance", {}, 0.3, 0.2, 0.4, rule, confidence=0.95, pairs=9, test="t"
    )
    assert not calm.failed and moved.failed and moved.p is None
    assert decide([calm, moved]) == [calm, moved]


def test_brute_force_binary_tables_agree_with_mcnemar():
    # every 0/1 pairing of 5 items: the one-sided p equals the exact sign test on discordants
    for pairs in itertools.product([(0, 0), (0, 1), (1, 0), (1, 1)], repeat=5):
        before = [b for b, _ in pairs]
        after = [a for _, a in pairs]
        up = sum(1 for b, a in pairs if a > b)
        down = sum(1 for b, a in pairs if a < b)
        assert paired_drift("q", {}, before, after, Rule("q", 0.1)).p == pytest.approx(
            _exact_sign_p(up, down)
        )


def test_either_direction_shows_a_fall_and_sizes_power_on_the_smaller_side():
    before = [1] * 12 + [0] * 8
    after = [0] * 20
    d = decide([paired_drift("q", {}, before, after, Rule("q", 0.3, "either"))])[0]
    assert d.failed and len(d.examples) == 3
    assert d.detectable is not None and d.detectable < 1.0
