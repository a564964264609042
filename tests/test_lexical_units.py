"""The ``frequency`` unit of the ``delta`` distance: one threshold for genres whose topics
move the common words by different amounts."""

from __future__ import annotations

import numpy as np
import pytest
from test_lexical import STYLE_WORDS, TOPICS, _author

from pytest_modelprov import cli, jsonreport, lexical, lexical_distance
from pytest_modelprov.lexical import Fingerprint

PROMPTS = 24
#: words per prompt (inside the frequency unit's calibration): enough that the prompts'
#: topics, not count noise, make a common word's frequency vary (the unit's assumption; at
#: 400 words the weak-topic genre's spread was mostly count noise and the two genres'
#: figures differed 2-fold)
WORDS = 2400


def _writer(habit: np.ndarray, genre: tuple[float, float], seed: int) -> Fingerprint:
    """One text per prompt. A prompt of the genre sets how much of the text is common words
    (the rest is its topic's words, spelled apart for each prompt so that, as in real
    answers, they are not widely used): the same share for every writer on that prompt,
    drawn from ``genre``'s range, so a strong-topic genre moves every common word's
    frequency from prompt to prompt while the writers' habits stay what they are."""
    share = np.random.default_rng(99).uniform(*genre, PROMPTS)
    topics = list(TOPICS)
    rng = np.random.default_rng(seed)
    style = np.asarray(STYLE_WORDS)
    texts, prompts = [], []
    for p in range(PROMPTS):
        topic = np.asarray(
            [w + "abcdefghijklmnopqrstuvwxyz"[p] for w in TOPICS[topics[p % len(topics)]]]
        )
        common = rng.random(WORDS) < share[p]
        words = topic[rng.integers(topic.size, size=WORDS)]
        words[common] = style[rng.choice(style.size, int(common.sum()), p=habit)]
        texts.append(" ".join(words) + ".")
        prompts.append(f"prompt-{p}")
    return Fingerprint.from_texts(texts, prompts)


def _tuned(habit: np.ndarray, seed: int, moved_by: float = 0.1) -> np.ndarray:
    """The same habits with every word's weight moved: a little (a fine-tune) or more (a
    stranger; two independent random habits over these 16 words differ far more than real
    models do, beyond the range the frequency unit was measured on)."""
    moved = habit * np.exp(np.random.default_rng(seed).normal(0, moved_by, habit.size))
    return np.asarray(moved / moved.sum())


WEAK, STRONG = (0.4, 0.7), (0.05, 0.95)  # how much the prompts move the common words


@pytest.fixture(scope="module")
def genres() -> dict[str, dict[str, Fingerprint]]:
    ours = _author(11)
    out = {}
    for name, genre in (("weak topics", WEAK), ("strong topics", STRONG)):
        out[name] = {
            "ours": _writer(ours, genre, 1),
            "stranger": _writer(_tuned(ours, 5, 0.3), genre, 2),
            "fine-tune": _writer(_tuned(ours, 3), genre, 3),
        }
    return out


def test_spread_units_shrink_with_strong_topics_where_frequency_units_do_not(genres):
    spread = {g: fps["ours"].distance(fps["stranger"]) for g, fps in genres.items()}
    freq = {g: fps["ours"].distance(fps["stranger"], unit="frequency") for g, fps in genres.items()}
    # the same two writers: strong topics divide the spread-unit distance several times over
    assert spread["weak topics"] > 3 * spread["strong topics"]
    # within 1.5-fold (1.35 here: the weak genre's spread is still partly count noise)
    assert 0.67 < freq["weak topics"] / freq["strong topics"] < 1.5
    # far from 1: no cap decides this comparison (the frequency unit has none)
    assert max(freq.values()) < 1


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
    # the sample's distances are profile ones; as delta (spread units) they differ from the
    # frequency-unit row below by its unit label alone (a profile distance has no unit)
    for m in report["measurements"]:
        if m["test"] == matrix_test and m["quantity"].startswith("lexical."):
            m["labels"]["method"] = "delta"
    labels = {"reference": "gemini", "part": "answer", "method": "delta", "unit": "frequency"}
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
    # the same test's spread-unit distances keep their chart, the other scale gets its own
    assert "gemini" not in own[0] and "ember" in own[0]
    assert "gemini (frequency units)" in loose[0]


def test_compare_nearest_and_matrix_take_the_unit_and_the_table_shows_it(genres):
    fps = genres["strong topics"]
    ours, refs = fps["ours"], {"stranger": fps["stranger"], "fine-tune": fps["fine-tune"]}
    spread = lexical.compare(ours, refs, method="delta", resamples=50)
    freq = lexical.compare(ours, refs, unit="frequency", resamples=50)
    # "auto" would pool (style) with enough references; a unit belongs to delta only
    assert (freq.method, freq.unit) == ("delta", "frequency")
    for name, ref in refs.items():
        assert freq.distances[name].value == pytest.approx(ours.distance(ref, unit="frequency"))
        assert freq.distances[name].value != pytest.approx(spread.distances[name].value)
    assert "delta distance (frequency units)" in freq.table()
    assert "delta distance (spread units)" in spread.table()
    near = lexical.assert_nearest(ours, refs, "fine-tune", unit="frequency", resamples=50)
    assert near.unit == "frequency" and near.nearest == "fine-tune"
    matrix = lexical.distance_matrix([ours, *refs.values()], unit="frequency")
    assert matrix[0, 1] == pytest.approx(freq.distances["stranger"].value)
    with pytest.raises(ValueError, match="is a unit of the 'delta' distance only"):
        lexical.compare(ours, refs, method="profile", unit="frequency")
    with pytest.raises(ValueError, match=r"unit: 'bogus' is not one of \['spread', 'frequency'\]"):
        ours.distance(refs["stranger"], "profile", unit="bogus")
    with pytest.raises(ValueError, match="unit: 'bogus' is not one of"):
        lexical.distance_matrix([ours, *refs.values()], unit="bogus")


def test_the_cli_compares_in_frequency_units(genres, tmp_path, capsys):
    fps = genres["weak topics"]
    paths = [str(fp.save(tmp_path / f"{name}.json")) for name, fp in fps.items()]
    assert cli.main(["compare", *paths, "--unit", "frequency", "--json"]) == 0
    data = capsys.readouterr().out
    import json

    parsed = json.loads(data)
    assert parsed["unit"] == "frequency"
    want = fps["ours"].distance(fps["stranger"], unit="frequency")
    assert parsed["distances"][0][1] == pytest.approx(want)
    assert cli.main(["compare", *paths, "--unit", "frequency"]) == 0
    assert "delta distance in frequency units" in capsys.readouterr().out
    assert cli.main(["compare", *paths, "--unit", "frequency", "--method", "profile"]) == 2
    assert "is a unit of the 'delta' distance only" in capsys.readouterr().err


def _repeated(text: str, prompts: int = 12, copies: int = 1) -> Fingerprint:
    keys = [f"prompt-{p}" for p in range(prompts) for _ in range(copies)]
    return Fingerprint.from_texts([text] * len(keys), keys)


def test_answers_repeated_word_for_word_still_differ_in_frequency_units():
    # no spread over prompts at all: only the count noise floor keeps the factor above 0
    words = [
        "the",
        "a",
        "and",
        "of",
        "to",
        "in",
        "lantern",
        "ember",
        "hush",
        "murmur",
        "quiet",
        "hollow",
    ]
    a = _repeated(" ".join(words * 60))
    b = _repeated(" ".join(words * 60 + ["the", "of"] * 90))
    assert lexical.delta(a, b, unit="frequency") > 0.01
    assert lexical.delta(a, _repeated(" ".join(words * 60)), unit="frequency") == 0.0


def _style_text(rng: np.random.Generator, words: int) -> str:
    return " ".join(np.asarray(STYLE_WORDS)[rng.integers(len(STYLE_WORDS), size=words)]) + "."


def _plain(words: int, copies: int = 1, seed: int = 0) -> Fingerprint:
    rng = np.random.default_rng(seed)
    keys = [f"prompt-{p}" for p in range(12) for _ in range(copies)]
    return Fingerprint.from_texts([_style_text(rng, words) for _ in keys], keys)


def test_more_or_less_text_per_prompt_than_calibrated_is_flagged():
    one, other = _plain(800), _plain(800, seed=1)
    assert lexical.flags(one, other, "delta", unit="frequency") == []
    three = _plain(800, copies=3, seed=2)  # 3 answers per prompt
    short = _plain(150, seed=3)  # 150 words per prompt
    long = _plain(4000, seed=4)
    for odd in (three, short, long):
        assert lexical.flags(odd, one, "delta", unit="frequency") == ["outside-calibration"]
        assert lexical.flags(one, odd, "delta", unit="frequency") == ["outside-calibration"]
        # the spread unit carries no calibrated threshold of this kind
        assert lexical.flags(odd, one, "delta") == []
    assert lexical_distance.texts_per_prompt(three) == 3.0
    assert lexical_distance.words_per_prompt(short) == 151.0  # with the full stop


ACROSS = """
import numpy as np
import pytest
from pytest_modelprov import lexical
from pytest_modelprov.lexical import Fingerprint, LexicalWarning

WORDS = "the a and of to in lantern ember hush murmur quiet hollow".split()

def _fp(name, prompts, seed, per_prompt=1, extra=()):
    rng = np.random.default_rng(seed)
    words = WORDS + list(extra)
    keys = [p for p in prompts for _ in range(per_prompt)]
    texts = [" ".join(rng.choice(words, 600)) + "." for _ in keys]
    return Fingerprint.from_texts(texts, keys, name=name)

def test_across_prompt_sets():
    ours = _fp("ours", [f"p{i}" for i in range(16)], 1)
    theirs = _fp("theirs", [f"q{i}" for i in range(16)], 2, extra=["the", "of"])
    with pytest.warns(LexicalWarning, match="calibrated only on fingerprints of the same"):
        lexical.compare(ours, {"theirs": theirs}, unit="frequency", resamples=30)
    lexical.compare(ours, {"theirs": theirs}, resamples=30)

def test_three_answers_per_prompt():
    prompts = [f"p{i}" for i in range(16)]
    ours = _fp("ours", prompts, 3, per_prompt=3)
    theirs = _fp("theirs", prompts, 4, per_prompt=3, extra=["the", "of"])
    lexical.assert_nearest(ours, {"theirs": theirs, "ours again": _fp("o", prompts, 5, 3)},
                           "ours again", unit="frequency", resamples=30)
"""


def test_frequency_units_across_prompt_sets_are_unvalidated_and_say_so(pytester):
    pytester.makepyfile(ACROSS)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(f"--modelprov-report-json={report}")
    result.assert_outcomes(passed=2)
    rows = [
        m for m in jsonreport.load(report)["measurements"] if m["quantity"] == "lexical.distance"
    ]
    across = [m for m in rows if m["test"].endswith("test_across_prompt_sets")]
    freq = [m for m in across if m["labels"].get("unit") == "frequency"]
    spread = [m for m in across if "unit" not in m["labels"]]
    assert len(freq) == 1 and len(spread) == 1
    assert freq[0]["details"]["flags"] == ["across-prompt-sets", "unvalidated"]
    assert "frequency units: not validated" in freq[0]["details"]["envelope"]
    assert spread[0]["details"]["flags"] == ["across-prompt-sets"]
    assert spread[0]["details"]["envelope"] == lexical.DELTA_ACROSS_PROMPTS
    # what a reader compares with the calibration: answers and words per prompt
    assert freq[0]["details"]["texts_per_prompt"] == [1.0, 1.0]
    assert freq[0]["details"]["words_per_prompt"] == [601.0, 601.0]
    three = [m for m in rows if m["test"].endswith("test_three_answers_per_prompt")]
    assert len(three) == 2 and all(m["labels"]["unit"] == "frequency" for m in three)
    assert all("outside-calibration" in m["details"]["flags"] for m in three)
    assert all(m["details"]["texts_per_prompt"] == [3.0, 3.0] for m in three)
