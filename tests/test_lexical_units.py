"""The ``frequency`` unit of the ``delta`` distance: one threshold for genres whose topics
move the common words by different amounts."""

from __future__ import annotations

import numpy as np
import pytest
from test_lexical import STYLE_WORDS, TOPICS, _author

from pytest_modelprov import jsonreport, lexical
from pytest_modelprov.lexical import Fingerprint

PROMPTS = 24


def _writer(habit: np.ndarray, genre: tuple[float, float], seed: int) -> Fingerprint:
    """One text per prompt. A prompt of the genre sets how much of the text is common words
    (the rest is its topic's words): the same share for every writer on that prompt, drawn
    from ``genre``'s range, so a strong-topic genre moves every common word's frequency from
    prompt to prompt while the writers' habits stay what they are."""
    share = np.random.default_rng(99).uniform(*genre, PROMPTS)
    topics = list(TOPICS)
    rng = np.random.default_rng(seed)
    texts, prompts = [], []
    for p in range(PROMPTS):
        topic = TOPICS[topics[p % len(topics)]]
        words = [
            STYLE_WORDS[rng.choice(len(STYLE_WORDS), p=habit)]
            if rng.random() < share[p]
            else topic[rng.integers(len(topic))]
            for _ in range(400)
        ]
        texts.append(" ".join(words) + ".")
        prompts.append(f"prompt-{p}")
    return Fingerprint.from_texts(texts, prompts)


def _tuned(habit: np.ndarray, seed: int) -> np.ndarray:
    """A fine-tune: the same habits with every word's weight moved a little."""
    moved = habit * np.exp(np.random.default_rng(seed).normal(0, 0.15, habit.size))
    return np.asarray(moved / moved.sum())


WEAK, STRONG = (0.5, 0.6), (0.15, 0.85)  # how much the prompts move the common words


@pytest.fixture(scope="module")
def genres() -> dict[str, dict[str, Fingerprint]]:
    ours = _author(11)
    out = {}
    for name, genre in (("weak topics", WEAK), ("strong topics", STRONG)):
        out[name] = {
            "ours": _writer(ours, genre, 1),
            "stranger": _writer(_author(12), genre, 2),
            "fine-tune": _writer(_tuned(ours, 3), genre, 3),
        }
    return out


def test_spread_units_shrink_with_strong_topics_where_frequency_units_do_not(genres):
    spread = {g: fps["ours"].distance(fps["stranger"]) for g, fps in genres.items()}
    freq = {g: fps["ours"].distance(fps["stranger"], unit="frequency") for g, fps in genres.items()}
    # the same two writers: strong topics divide the spread-unit distance several times over
    assert spread["weak topics"] > 2 * spread["strong topics"]
    assert 0.75 < freq["weak topics"] / freq["strong topics"] < 1.33


def test_a_frequency_threshold_chosen_on_one_genre_holds_on_the_other(genres):
    for chosen_on, scored_on in (
        ("weak topics", "strong topics"),
        ("strong topics", "weak topics"),
    ):
        fps = genres[chosen_on]
        near = fps["ours"].distance(fps["fine-tune"], unit="frequency")
        far = fps["ours"].distance(fps["stranger"], unit="frequency")
        assert near < far
        threshold = float(np.sqrt(near * far))  # halfway on a log scale
        held = genres[scored_on]
        lexical.assert_distance_above(
            held["ours"], held["stranger"], threshold, unit="frequency", resamples=100
        )
        with pytest.raises(AssertionError, match=r"distance \(frequency units\)"):
            lexical.assert_distance_above(
                held["ours"], held["fine-tune"], threshold, unit="frequency", resamples=100
            )
    # in spread units the threshold chosen on weak topics fails the stranger on strong ones
    weak, strong = genres["weak topics"], genres["strong topics"]
    threshold = float(
        np.sqrt(weak["ours"].distance(weak["fine-tune"]) * weak["ours"].distance(weak["stranger"]))
    )
    with pytest.raises(AssertionError, match="units of their spread over prompts"):
        lexical.assert_distance_above(strong["ours"], strong["stranger"], threshold, resamples=100)


def test_unit_is_a_delta_setting_with_clear_errors(genres):
    fps = genres["weak topics"]
    with pytest.raises(ValueError, match=r"unit: 'noise' is not one of \['spread', 'frequency'\]"):
        lexical.assert_distance_above(fps["ours"], fps["stranger"], 0.1, unit="noise")
    with pytest.raises(ValueError, match="unit='frequency' is a unit of the 'delta' distance"):
        lexical.assert_distance_below(
            fps["ours"], fps["stranger"], 0.1, method="profile", unit="frequency"
        )
    with pytest.raises(ValueError, match="is a unit of the 'delta' distance only"):
        fps["ours"].distance(fps["stranger"], method="jaccard", unit="frequency")


INNER = """
import numpy as np
import pytest
from pytest_modelprov import lexical
from pytest_modelprov.lexical import Fingerprint

def _texts(words, seed, prompts):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, 300)) + "." for _ in prompts]

A = "the a and of to in lantern ember hush murmur quiet hollow".split()
B = A + "the the of of".split()  # the same words, a few used more often
P = [f"prompt {i}" for i in range(16)]

def test_frequency_units():
    ours = Fingerprint.from_texts(_texts(A, 1, P), P, name="ours")
    theirs = Fingerprint.from_texts(_texts(B, 2, P), P, name="theirs")
    lexical.assert_distance_above(ours, theirs, 0.03, unit="frequency", resamples=50)
    lexical.assert_distance_above(ours, theirs, 0.03, resamples=50)
    with pytest.raises(AssertionError):
        lexical.assert_distance_below(ours, theirs, 0.03, unit="frequency", resamples=50)
"""


def test_the_unit_is_in_the_measurement(pytester):
    pytester.makepyfile(INNER)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(f"--modelprov-report-json={report}")
    result.assert_outcomes(passed=1)
    measured = [m for m in jsonreport.load(report)["measurements"] if m["model"] == "ours"]
    freq = [m for m in measured if m["labels"].get("unit") == "frequency"]
    spread = [m for m in measured if "unit" not in m["labels"]]
    assert [m["verdict"] for m in freq] == ["pass", "fail"]
    assert [m["verdict"] for m in spread] == ["pass"]
    assert freq[0]["reference_label"] == "min distance (frequency units)"
    assert "relative to their own frequency" in freq[0]["details"]["unit"]
    assert "spread over prompts" in spread[0]["details"]["unit"]
    # the two scales measure the same pair differently, and the record says which is which
    assert freq[0]["value"] != spread[0]["value"]


def test_the_html_report_keeps_frequency_units_out_of_the_spread_unit_chart():
    from test_htmlreport import _row, sample_report

    from pytest_modelprov import htmlreport
    from pytest_modelprov.measurement import Measurement

    report = sample_report()
    matrix_test = next(
        m["test"] for m in report["measurements"] if m["quantity"] == "lexical.matrix"
    )
    labels = {"reference": "gemini", "part": "answer", "method": "profile", "unit": "frequency"}
    report["measurements"].append(
        _row(
            matrix_test,
            Measurement(
                "lexical.distance",
                0.61,
                model="model",
                labels=labels,
                low=0.5,
                high=0.7,
                n=36,
                reference=0.17,
                verdict="pass",
            ),
        )
    )
    html = htmlreport.render(report)
    figures = html.split("<figure>")
    own = [f for f in figures if "Distance to each reference" in f]
    loose = [f for f in figures if "Lexical distances" in f]
    assert len(own) == 1 and len(loose) == 1
    # the sample matrix is a profile one: the unit label alone must keep them apart; the same
    # test's spread-unit distances keep their chart, the other scale gets its own
    assert "gemini" not in own[0] and "ember" in own[0]
    assert "gemini (frequency units)" in loose[0]
