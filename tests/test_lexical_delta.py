"""The default ``delta`` distance, comparisons across prompt sets, the jaccard scale, and
measurements of fingerprints built from texts."""

from __future__ import annotations

import os
import sys
import warnings
from collections import Counter

import numpy as np
import pytest
from test_lexical import STYLE_WORDS, TOPICS, _author, _corpus, _story

from pytest_modelprov import lexical
from pytest_modelprov.lexical import Fingerprint, LexicalWarning
from pytest_modelprov.lexical import anchor as lexical_anchor
from pytest_modelprov.lexical.text import tokenise
from pytest_modelprov.reports import jsonreport

# read at import: the autouse clean_env fixture removes CI from the environment of each test
IN_CI = bool(os.environ.get("CI"))


def _fp(author: int, topics: list[str], per_topic: int, seed: int, name: str = "") -> Fingerprint:
    return Fingerprint.from_texts(*_corpus(author, topics, per_topic, seed), name=name)


def test_fingerprint_distance_is_the_documented_api():
    a = _fp(1, ["sea", "city"], 5, seed=1)
    b = _fp(2, ["sea", "city"], 5, seed=2)
    for method in ("delta", "profile", "jaccard"):
        assert a.distance(b, method=method) == lexical.distance(a, b, method)
        assert 0.0 <= a.distance(b, method=method) <= 1.0
    assert a.distance(b) == lexical.distance(a, b, "delta") == a.distance(b, "delta")
    with pytest.raises(ValueError, match=r"not a pairwise distance; use one of \['delta'"):
        a.distance(b, method="style")


def _rates_by_hand(texts: list[str], prompts: list[str]) -> tuple[list[str], dict[str, Counter]]:
    per_prompt: dict[str, Counter] = {}
    for text, prompt in zip(texts, prompts, strict=True):
        per_prompt.setdefault(prompt, Counter()).update(tokenise(text))
    return list(per_prompt), per_prompt


def _delta_by_hand(
    a: tuple[list[str], list[str]], b: tuple[list[str], list[str]], frequency: bool = False
) -> float:
    """The delta effect from the definition, with Counters (words in >= 10% of a side's
    prompts, the 100 most frequent of each side; spread floored at the median's); with
    ``frequency``, times the median over the words of the spread (at least the Poisson
    count noise) / squared mean frequency."""
    sides = [_rates_by_hand(*a), _rates_by_hand(*b)]
    names: list[str] = []
    for order, counts in sides:
        total: Counter = Counter()
        for c in counts.values():
            total.update(c)
        used = {w: sum(1 for c in counts.values() if c[w] > 0) / len(order) for w in total}
        ranked = sorted((w for w in total if used[w] >= 0.1), key=lambda w: -total[w])[:100]
        names += [w for w in ranked if w not in names]
    mats = []
    for order, counts in sides:
        # a fingerprint keeps only words seen in two or more of its prompts (Limits)
        kept = {w for w in names if sum(1 for c in counts.values() if c[w] > 0) >= 2}
        mats.append(
            np.array(
                [
                    [
                        counts[p][w] / sum(counts[p].values()) * 1000 if w in kept else 0
                        for w in names
                    ]
                    for p in order
                ]
            )
        )
    x, y = mats
    raw = (x.var(0, ddof=1) + y.var(0, ddof=1)) / 2
    spread = raw + np.median(raw)
    mean = np.vstack([x, y]).mean(0)
    tokens = [sum(c.values()) for _, counts in sides for c in counts.values()]
    counting = mean * 1000 * np.mean([1 / t for t in tokens])
    factor = float(np.median(np.maximum(raw, counting) / mean**2)) if frequency else 1.0
    shared = [p for p in sides[0][0] if p in sides[1][1]]
    if len(shared) >= 8:
        d = np.array([x[sides[0][0].index(p)] - y[sides[1][0].index(p)] for p in shared])
        diff, noise = d.mean(0), d.var(0, ddof=1) / len(shared)
    else:
        diff = x.mean(0) - y.mean(0)
        noise = x.var(0, ddof=1) / len(x) + y.var(0, ddof=1) / len(y)
    return float(np.mean((diff**2 - noise) / spread)) * factor


@pytest.mark.parametrize(
    "topics_b", [["sea", "city"], ["farm", "space"]], ids=["paired", "unpaired"]
)
def test_delta_matches_an_independent_computation(topics_b):
    a = _corpus(1, ["sea", "city"], 6, seed=11)
    b = _corpus(2, topics_b, 6, seed=12)
    fa, fb = Fingerprint.from_texts(*a), Fingerprint.from_texts(*b)
    assert lexical.delta_effect(fa, fb) == pytest.approx(_delta_by_hand(a, b), rel=1e-9)
    assert lexical.distance(fa, fb) == min(max(_delta_by_hand(a, b), 0.0), 1.0)
    # not capped at 1 (the paired case reads 1.58: a cap would hide the computation)
    by_hand = max(_delta_by_hand(a, b, frequency=True), 0.0)
    assert fa.distance(fb, unit="frequency") == pytest.approx(by_hand, rel=1e-9)


def _one_word_fp(seed: int, prompts: list[str]) -> Fingerprint:
    """A fingerprint whose only word is "the": a delta over one word sums in another order."""
    rng = np.random.default_rng(seed)
    n = len(prompts)
    return Fingerprint(
        features=["the", "the sea"],
        counts=rng.integers(1, 9, (n, 2)),
        prompt_ids=prompts,
        tokens=rng.integers(40, 90, n),
        texts=np.ones(n, np.int64),
    )


def _rare_words_fp(seed: int, prompts: list[str], wide: bool) -> Fingerprint:
    """Words each in 2 of the prompts (a tenth of them: in a resample, in that share of its
    rows or fewer), with ``wide`` two of them and "the" in every prompt, else one alone:
    resamples compare one word, or none, or several."""
    rng = np.random.default_rng(seed)
    n = len(prompts)
    rare = ["ink", "owl"] if wide else ["ink"]
    counts = np.zeros((n, len(rare) + 1), np.int64)
    for j in range(len(rare)):
        counts[[2 * j, 2 * j + 1], j] = rng.integers(1, 4, 2)
    counts[:, -1] = rng.integers(1, 9, n)
    keep = len(rare) + 1 if wide else len(rare)
    return Fingerprint(
        features=[*rare, "the"][:keep],
        counts=counts[:, :keep],
        prompt_ids=prompts,
        tokens=rng.integers(40, 90, n),
        texts=np.ones(n, np.int64),
    )


@pytest.mark.parametrize(
    "case",
    [
        "paired",
        "unpaired",
        "three-with-partial-overlap",
        "frequency",
        "one-word",
        "one-wide-word-and-rare-ones",
        "rare-words-only",
    ],
)
@pytest.mark.parametrize("block", ["whole", "one-resample-blocks"])
@pytest.mark.filterwarnings("error")  # a resample comparing no word must not warn either
def test_bootstrap_draws_of_delta_together_equal_one_resample_at_a_time(case, block, monkeypatch):
    """The comparison's bootstrap computes the delta of all resamples together (in blocks
    of resamples when they are large): every draw must be the very figure (to the last bit)
    of the resample's own fingerprints, also when a resample compares one word or none."""
    from pytest_modelprov.lexical import deltaterms
    from pytest_modelprov.lexical.deltaterms import DeltaPair, Resampler
    from pytest_modelprov.lexical.distances import (
        DELTA_FLOOR,
        DELTA_MIN_SPREAD,
        DELTA_WORDS,
        DeltaRow,
        _delta_terms,
        delta,
    )

    unit = "frequency" if case == "frequency" else "spread"
    if case == "unpaired":  # 6 shared prompts: fewer than PAIRED_MIN
        fps = [_fp(1, ["sea", "city"], 3, seed=1), _fp(2, ["sea", "city"], 3, seed=2)]
    elif case == "three-with-partial-overlap":  # the first two share "city", the third not
        fps = [
            _fp(1, ["sea", "city"], 5, seed=3),
            _fp(2, ["sea", "city"], 5, seed=4),
            _fp(1, ["sea", "farm"], 5, seed=5),
        ]
    elif case == "one-word":
        ids = [f"p{i}" for i in range(12)]
        fps = [_one_word_fp(6, ids), _one_word_fp(7, ids)]
    elif case in ("one-wide-word-and-rare-ones", "rare-words-only"):
        ids = [f"p{i}" for i in range(20)]
        wide = case == "one-wide-word-and-rare-ones"
        fps = [_rare_words_fp(10, ids, wide), _rare_words_fp(11, ids, wide)]
    else:
        fps = [_fp(1, ["sea", "city"], 6, seed=8), _fp(3, ["sea", "city"], 6, seed=9)]
    if block != "whole":
        monkeypatch.setattr(deltaterms, "_BLOCK", 1)
    rng = np.random.default_rng(0)
    resampler = Resampler(fps)
    rows = [resampler.draw(rng) for _ in range(60)]
    ours = np.stack([draw[0] for draw in rows])
    for j, fp in enumerate(fps[1:], start=1):
        pair = DeltaPair(fps[0], fp, DELTA_MIN_SPREAD, DELTA_WORDS)
        together = pair.terms_of_draws(DELTA_FLOOR, ours, np.stack([d[j] for d in rows]))
        one_at_a_time = [
            _delta_terms(
                fps[0].subset(d[0]), fp.subset(d[j]), DELTA_MIN_SPREAD, DELTA_WORDS, DELTA_FLOOR
            )
            for d in rows
        ]
        for (effect, relative), (effect1, relative1) in zip(together, one_at_a_time, strict=True):
            assert np.array_equal(effect, effect1)
            assert np.array_equal(relative, relative1)
        # the resamples differ: the check compares something
        sizes = Counter(e.size for e, _ in one_at_a_time)
        if case == "rare-words-only":  # some compare no word, others one or more
            assert sizes[0] and len(sizes) > 1
        else:
            assert len({float(np.mean(e)) for e, _ in one_at_a_time}) > 10
        if case == "one-wide-word-and-rare-ones":  # some compare "the" alone, some more
            assert sizes[1] and len(sizes) > 1
    distances = DeltaRow(fps, unit).draws(rows)
    for r, draw in enumerate(rows):
        for j, fp in enumerate(fps[1:], start=1):
            assert distances[r, j - 1] == delta(fps[0].subset(draw[0]), fp.subset(draw[j]), unit)


def test_a_comparison_whose_resamples_compare_no_word_does_not_warn():
    """Two fingerprints whose only words are each in 2 of 20 prompts: many resamples draw
    a word into fewer than a tenth of their prompts and so compare no word at all."""
    ids = [f"p{i}" for i in range(20)]
    a, b = _rare_words_fp(12, ids, wide=False), _rare_words_fp(13, ids, wide=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = lexical.compare(a, {"b": b}, resamples=50).distances["b"]
    assert 0.0 <= got.low <= got.value <= got.high <= 1.0


def test_delta_finds_each_authors_other_half_on_other_prompts_without_a_pool():
    """Halves on disjoint prompts of the same kind, compared pairwise: the twin shares no
    prompt, every other author's half on the same side shares all of them (as in the
    benchmark's disjoint split-half). Each prompt mixes one topic in."""
    halves, owners = [], []
    for author in range(5):
        for side in ("a", "b"):
            texts, prompts = _corpus(author, list(TOPICS), 3, seed=200 + author * 7 + len(halves))
            halves.append(Fingerprint.from_texts(texts, [f"{side}-{p}" for p in prompts]))
            owners.append(author)
    assert lexical.shared_prompts(halves[0], halves[1]) == 0
    assert lexical.shared_prompts(halves[0], halves[2]) == 12
    m = lexical.distance_matrix(halves)  # the default: delta
    np.fill_diagonal(m, np.inf)
    nearest = m.argmin(1)
    assert [owners[int(j)] for j in nearest] == owners


def test_delta_of_two_samples_of_one_author_is_centred_on_zero():
    """The sampling term is subtracted: a model against itself is 0 on average, paired or
    not, while two authors are far apart."""

    def sample(topic_seed: int, text_seed: int, side: str) -> Fingerprint:
        # each prompt draws its topic at random: two prompt sets are samples of one kind
        draw = np.random.default_rng(topic_seed).integers(len(TOPICS), size=16)
        rng = np.random.default_rng(text_seed)
        texts = [_story(rng, _author(3), list(TOPICS)[int(t)]) for t in draw]
        return Fingerprint.from_texts(texts, [f"{side}-{topic_seed}-{i}" for i in range(16)])

    same = []
    for seed in range(16):
        # paired (the same prompts) or not (other prompts of the same kind)
        a = sample(seed, 1000 + seed, "a")
        b = sample(seed, 2000 + seed, "a") if seed % 2 else sample(500 + seed, 2000 + seed, "b")
        same.append(lexical.delta_effect(a, b))
    other = lexical.delta_effect(_fp(3, ["sea"], 8, seed=1), _fp(4, ["sea"], 8, seed=2))
    # within a few hundredths of zero (slightly conservative), against 0.3+ for another author
    assert abs(np.mean(same)) < 0.02 and max(same) < 0.05
    assert other > 0.3


def test_comparisons_across_prompt_sets_warn_and_flag_unless_validated():
    a = _fp(1, ["sea", "city"], 5, seed=1)
    b = _fp(2, ["farm", "space"], 5, seed=2)
    c = _fp(2, ["sea", "city"], 5, seed=3)
    assert lexical.shared_prompts(a, b) == 0 and lexical.shared_prompts(a, c) == 10
    assert lexical.flags(a, b, "profile") == ["few-shared-prompts"]
    assert lexical.flags(a, b, "jaccard") == ["few-shared-prompts"]
    # delta compares across prompt sets by design; the report still says it did
    assert lexical.flags(a, b, "delta") == ["across-prompt-sets"]
    assert lexical.flags(a, c, "delta") == [] and lexical.flags(a, c, "profile") == []
    with pytest.warns(LexicalWarning, match="share 0 of 10 and 10 prompts"):
        a.distance(b, method="profile")
    with pytest.warns(LexicalWarning, match="few prompts"):
        lexical.compare(a, {"b": b}, method="jaccard", resamples=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a.distance(b)
        a.distance(c, method="profile")
        lexical.compare(a, {"b": b}, resamples=20)


def test_threshold_in_spread_units_passes_for_strangers_and_fails_for_a_relative():
    ours = _fp(5, list(TOPICS), 3, seed=51)
    stranger = _fp(6, list(TOPICS), 3, seed=52)
    # a "fine-tune": the same habits with a few words' weights moved
    rng = np.random.default_rng(7)
    habit = np.random.default_rng(5).dirichlet(np.full(len(STYLE_WORDS), 0.7))
    tuned = habit * np.exp(rng.normal(0, 0.15, habit.size))
    tuned /= tuned.sum()
    texts, prompts = [], []
    for topic in TOPICS:
        for i in range(3):
            words = [
                STYLE_WORDS[rng.choice(len(STYLE_WORDS), p=tuned)]
                if rng.random() < 0.55
                else TOPICS[topic][rng.integers(10)]
                for _ in range(220)
            ]
            texts.append(" ".join(words) + ".")
            prompts.append(f"{topic}-{i}")
    relative = Fingerprint.from_texts(texts, prompts)
    lexical.assert_distance_above(ours, stranger, 0.2, name="stranger")
    with pytest.raises(AssertionError) as info:
        lexical.assert_distance_above(ours, relative, 0.2, name="fine-tune")
    text = str(info.value)
    assert "not above 0.200" in text and "units of their spread over prompts" in text
    lexical.assert_distance_below(ours, relative, 0.2, name="fine-tune")


def _mixed_corpus(seed: int) -> tuple[list[str], list[str]]:
    """Frequent everyday words and a few less frequent invented ones (eligible: > 5 uses,
    >= 2 prompts): more than the anchor's 120 word slots."""
    rng = np.random.default_rng(seed)
    everyday = [
        w
        for w in [
            "house",
            "water",
            "people",
            "little",
            "world",
            "money",
            "family",
            "school",
            "night",
            "place",
            "great",
            "never",
            "thing",
            "three",
            "still",
            "small",
            "large",
            "under",
            "between",
            "government",
            "problem",
            "number",
            "point",
            "group",
            "country",
            "every",
            "start",
            "state",
            "hand",
            "high",
            "light",
            "right",
            "story",
            "young",
            "friend",
            "mother",
            "father",
            "child",
            "table",
            "paper",
            "music",
            "market",
            "river",
            "garden",
            "window",
            "street",
            "summer",
            "winter",
            "morning",
            "evening",
            "letter",
            "doctor",
            "kitchen",
            "village",
            "office",
            "animal",
            "flower",
            "forest",
            "island",
            "bridge",
            "station",
            "teacher",
            "student",
            "picture",
            "minute",
            "second",
            "hundred",
            "thousand",
            "million",
            "history",
            "science",
            "nature",
            "season",
            "weather",
            "answer",
            "question",
            "reason",
            "result",
            "change",
            "power",
            "money",
            "health",
            "city",
            "travel",
            "field",
            "heart",
            "voice",
            "bread",
            "paint",
            "stone",
            "glass",
            "plant",
            "cloud",
            "chair",
            "coffee",
            "dinner",
            "sport",
            "horse",
            "beach",
            "ocean",
            "hotel",
            "train",
            "clock",
            "price",
            "report",
            "order",
            "party",
            "board",
            "color",
            "dress",
            "sugar",
            "salt",
            "spring",
            "autumn",
            "rain",
            "snow",
            "south",
            "north",
            "east",
            "west",
            "middle",
            "corner",
            "sister",
            "brother",
            "uncle",
            "cousin",
            "doctor",
            "nurse",
            "farmer",
            "driver",
            "writer",
            "reader",
            "singer",
            "dancer",
            "player",
            "worker",
            "leader",
        ]
        if len(w) >= 4
    ]
    everyday = list(dict.fromkeys(everyday))
    invented = ["zorvath", "quelmira", "tavessin", "brulkan", "ydrethi", "omvalque"]
    texts, prompts = [], []
    for p in range(12):
        words = list(rng.choice(everyday, 900)) + [w for w in invented for _ in range(2)]
        rng.shuffle(words)
        texts.append(" ".join(words) + ".")
        prompts.append(f"p{p}")
    return texts, prompts


def test_jaccard_on_wordfreqs_scale_ranks_words_against_human_english():
    if IN_CI:  # .ci/run installs the extra: a missing wordfreq there is a failure
        import wordfreq
    else:
        wordfreq = pytest.importorskip("wordfreq")
    # the frequency table gives what wordfreq's own lookup gives (floored for unknown words)
    for word in ["whispered", "don't", "naïve", "the", "zorvath", "tapestry", "elara"]:
        expected = max(wordfreq.word_frequency(word, "en"), lexical_anchor.FLOOR)
        assert lexical_anchor.human_frequency(word) == expected
    fp = Fingerprint.from_texts(*_mixed_corpus(1))
    invented = {"zorvath", "quelmira", "tavessin", "brulkan", "ydrethi", "omvalque"}
    human = lexical.anchor_set(fp, scale="wordfreq")
    relative = lexical.anchor_set(fp, scale="relative")
    # over-use against ordinary English puts the invented words first; by frequency alone
    # they are the rarest eligible words and miss the 120 slots
    assert invented <= human and not invented & relative
    assert lexical.jaccard_scale() == "wordfreq"
    assert lexical.anchor_set(fp) == human  # the default with the extra installed


def test_without_wordfreq_jaccard_says_it_is_on_a_relative_scale(monkeypatch):
    monkeypatch.setitem(sys.modules, "wordfreq", None)  # as if the extra were not installed
    lexical_anchor._wordfreq.cache_clear()
    try:
        assert lexical.jaccard_scale() == "relative"
        fp = Fingerprint.from_texts(*_mixed_corpus(2))
        assert lexical.anchor_set(fp) == lexical.anchor_set(fp, scale="relative")
        assert "pytest-modelprov[wordfreq]" in lexical_anchor.SCALES["relative"]
    finally:
        lexical_anchor._wordfreq.cache_clear()


INNER = """
import numpy as np
from pytest_modelprov import lexical
from pytest_modelprov.lexical import Fingerprint

def _texts(words, seed, prompts):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, 150)) + "." for _ in prompts]

HABIT_A = "the a and of lantern ember hush murmur quiet hollow glimmer velvet".split()
HABIT_B = "the a and of ledger granite precise measured plain steady brisk useful".split()
P1 = [f"first prompt {i}" for i in range(10)]
P2 = [f"second prompt {i}" for i in range(10)]

def test_from_texts_comparisons_are_measured():
    ours = Fingerprint.from_texts(_texts(HABIT_A, 1, P1), P1, name="ours")
    theirs = Fingerprint.from_texts(_texts(HABIT_B, 2, P2), P2, name="theirs")
    again = Fingerprint.from_texts(_texts(HABIT_A, 3, P1), P1, name="again")
    lexical.assert_distance_above(ours, theirs, 0.2)
    lexical.compare(ours, {"theirs": theirs}, method="profile", resamples=20)
    lexical.compare(ours, {"again": again}, method="jaccard", resamples=20)

def test_a_plain_distance_is_measured_too():
    ours = Fingerprint.from_texts(_texts(HABIT_A, 1, P1), P1, name="plain")
    theirs = Fingerprint.from_texts(_texts(HABIT_B, 2, P1), P1, name="other")
    assert ours.distance(theirs) == lexical.distance(ours, theirs)
"""


def test_fingerprints_from_texts_record_measurements_with_flags(pytester):
    pytester.makepyfile(INNER)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        f"--modelprov-report-json={report}", "-W", "ignore::UserWarning"
    )
    result.assert_outcomes(passed=2)
    measured = jsonreport.load(report)["measurements"]
    plain = [m for m in measured if m["model"] == "plain"]
    assert len(plain) == 2 and all(m["low"] is None and m["verdict"] == "info" for m in plain)
    assert {m["labels"]["reference"] for m in plain} == {"other"}
    measured = [m for m in measured if m["model"] != "plain"]
    by_method = {m["labels"]["method"]: m for m in measured if m["quantity"] == "lexical.distance"}
    assert set(by_method) == {"delta", "profile", "jaccard"}
    delta, profile, jaccard = by_method["delta"], by_method["profile"], by_method["jaccard"]
    assert delta["model"] == "ours" and delta["verdict"] == "pass" and delta["reference"] == 0.2
    assert delta["details"]["flags"] == ["across-prompt-sets"]
    assert delta["details"]["shared_prompts"] == 0
    assert "validated on stories" in delta["details"]["envelope"]
    assert "spread over prompts" in delta["details"]["unit"]
    # profile across prompt sets is marked; jaccard says which scale it is on
    assert profile["details"]["flags"] == ["few-shared-prompts"]
    assert jaccard["details"]["scale"] == lexical_anchor.scale()
    assert ("relative-scale" in jaccard["details"]["flags"]) == (
        lexical_anchor.scale() == "relative"
    )


def test_modelprov_compare_defaults_to_delta_and_names_flags_and_scale(tmp_path, capsys):
    from pytest_modelprov.cli import main as cli

    a = _fp(1, ["sea", "city"], 5, seed=1, name="a").save(tmp_path / "a.json")
    b = _fp(2, ["farm", "space"], 5, seed=2, name="b").save(tmp_path / "b.json")
    assert cli(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "delta distance in spread units (0 = no difference beyond sampling noise" in out
    assert "few-shared-prompts" not in out
    assert "note: across-prompt-sets: a/b share few prompts" in out
    assert cli(["compare", str(a), str(b), "--method", "profile"]) == 0
    assert "note: few-shared-prompts: a/b share too few prompts" in capsys.readouterr().out
    assert cli(["compare", str(a), str(b), "--method", "jaccard"]) == 0
    assert lexical_anchor.SCALES[lexical_anchor.scale()] in capsys.readouterr().out


def test_fingerprints_of_texts_without_prompts_share_no_prompts_by_accident():
    sea = [
        f"The sea was calm and the boat drifted slowly past harbour number {i}." for i in range(12)
    ]
    city = [
        f"The city was loud and the tram rattled quickly past station number {i}."
        for i in range(12)
    ]
    a = lexical.Fingerprint.from_texts(sea, name="a")
    b = lexical.Fingerprint.from_texts(city, name="b")
    assert lexical.shared_prompts(a, b) == 0
    assert lexical.flags(a, b, "profile") == ["few-shared-prompts"]
    # the same texts are the same prompts
    assert lexical.shared_prompts(a, lexical.Fingerprint.from_texts(sea, name="again")) == 12
