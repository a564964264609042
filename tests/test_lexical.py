"""Lexical fingerprints: tokenisation, counting, JSON, distances, pooled style, bootstrap."""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter

import numpy as np
import pytest

from pytest_modelprov import lexical
from pytest_modelprov.errors import ConfigError
from pytest_modelprov.lexical import Fingerprint
from pytest_modelprov.lexical.text import function_words, tokenise

# --- synthetic "authors": each has its own habits in common words, each topic its own nouns
STYLE_WORDS = [
    "the",
    "a",
    "and",
    "of",
    "to",
    "in",
    "was",
    "it",
    "that",
    "with",
    "but",
    "as",
    "on",
    "for",
    "at",
    "by",
]
TOPICS = {
    "sea": ["harbour", "tide", "boat", "gull", "rope", "salt", "wave", "sailor", "anchor", "deck"],
    "city": [
        "street",
        "tram",
        "window",
        "market",
        "stair",
        "bridge",
        "office",
        "lamp",
        "crowd",
        "brick",
    ],
    "farm": [
        "barn",
        "field",
        "tractor",
        "hay",
        "goat",
        "fence",
        "orchard",
        "plough",
        "mud",
        "well",
    ],
    "space": [
        "orbit",
        "hull",
        "engine",
        "comet",
        "signal",
        "airlock",
        "station",
        "planet",
        "pilot",
        "dust",
    ],
}


def _author(seed: int) -> np.ndarray:
    """An author's preference over the shared style words (a fixed habit)."""
    return np.random.default_rng(seed).dirichlet(np.full(len(STYLE_WORDS), 0.7))


def _story(rng: np.random.Generator, habit: np.ndarray, topic: str, words: int = 220) -> str:
    out = []
    for _ in range(words):
        if rng.random() < 0.55:
            out.append(STYLE_WORDS[rng.choice(len(STYLE_WORDS), p=habit)])
        else:
            out.append(TOPICS[topic][rng.integers(len(TOPICS[topic]))])
    return " ".join(out) + "."


def _corpus(
    author: int, topics: list[str], per_topic: int, seed: int
) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    habit = _author(author)
    texts, prompts = [], []
    for topic in topics:
        for i in range(per_topic):
            texts.append(_story(rng, habit, topic))
            prompts.append(f"{topic}-{i}")
    return texts, prompts


# --- tokenisation --------------------------------------------------------------------------


def test_tokenise_normalises_apostrophes_possessives_and_footers():
    text = "Elara’s lantern didn’t fade.\nWord count: 750\nＦＵＬＬ width"
    assert tokenise(text) == ["elara", "lantern", "didn't", "fade", ".", "full", "width"]


def test_tokenise_reads_cjk_by_character_and_keeps_other_scripts_as_words():
    assert tokenise("我是一只猫。Кот спит") == ["我", "是", "一", "只", "猫", "。", "кот", "спит"]
    assert tokenise("ねこが好き") == ["ね", "こ", "が", "好", "き"]


def _regex_tokenise(text: str) -> list[str]:
    """The tokeniser's specification: one regex over the normalised text."""
    from pytest_modelprov.lexical.text import _WORD, normalise

    return [t[:-2] if t.endswith("'s") else t for t in re.findall(_WORD, normalise(text))]


def test_vectorised_tokeniser_matches_the_regex_rules_on_random_text():
    """Apostrophe chains, possessives, footers, digits, case folding that changes the length
    (sharp s), astral characters and combining marks, against the regex."""
    from pytest_modelprov.lexical.text import tokenise_many

    pieces = [
        *"abXY'\u2019 _-1.\n",
        *("\u00df", "\u732b", "\u00e9", "\u03a3", "\U0001f600", "\u00b2", "\u01c5", "\u0130"),
        *("\u0301", "\ufb01", "\U00010400", "\u0149", "'s", "Word count: 12\n", "WORDS 3"),
    ]
    rng = np.random.default_rng(7)
    texts = ["".join(rng.choice(pieces, rng.integers(0, 30))) for _ in range(3000)]
    for text in texts:
        assert tokenise(text) == _regex_tokenise(text), repr(text)
    # one pass over many texts: no token crosses a text boundary, every token has its text
    toks = tokenise_many(texts[:300])
    words = toks.strings()
    for i, text in enumerate(texts[:300]):
        mine = [w for w, d in zip(words, toks.docs.tolist(), strict=True) if d == i]
        assert mine == _regex_tokenise(text), repr(text)


def test_partial_normalisation_matches_nfkc_of_the_whole_text():
    """Only texts NFKC changes are normalised, some by replacing single characters: check
    against the regex on fully normalised text, with characters that compose with or
    decompose into their neighbours (Hangul jamo, combining marks, Tamil vowel signs)."""
    from pytest_modelprov.lexical.text import tokenise_many

    pieces = [
        *"ab e'\n",
        *("\u2026", "\u2122", "\uff0c", "\u00a0", "\u2082", "\u00bd", "\u2011", "\uff21"),
        *("\u0301", "\u0323", "\u00e9", "\u1100", "\u1161", "\u11a8", "\uac00", "\u0b95"),
        *("\u0bbe", "\u0bc6", "\ufb01", "\u212b", "\u1e9b", "\U0001d400", "\u2163", "Words: 4"),
    ]
    rng = np.random.default_rng(11)
    texts = ["".join(rng.choice(pieces, rng.integers(0, 25))) for _ in range(2000)]
    toks = tokenise_many(texts)
    words = toks.strings()
    docs = toks.docs.tolist()
    per_text: list[list[str]] = [[] for _ in texts]
    for w, d in zip(words, docs, strict=True):
        per_text[d].append(w)
    for text, mine in zip(texts, per_text, strict=True):
        assert mine == _regex_tokenise(text), repr(text)


def test_stored_composition_table_is_what_this_pythons_unicode_data_gives():
    """The tokeniser reads the characters that compose with their neighbour from a constant
    for the Unicode versions it was worked out on; under the running one it must equal what
    unicodedata gives, and an unknown version works it out."""
    import unicodedata

    from pytest_modelprov.lexical import text

    computed = text._computed_seconds()
    assert text._composition_seconds() == computed
    if unicodedata.unidata_version in text._SECONDS_VERSIONS:
        assert {c for a, b in text._SECONDS_RANGES for c in range(a, b + 1)} == computed


def test_every_bmp_character_is_classified_as_the_regex_does():
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    for k in range(0, len(chars), 4000):
        text = " ".join(chars[k : k + 4000])
        assert tokenise(text) == _regex_tokenise(text), k


def test_cjk_text_gives_a_non_empty_fingerprint_with_character_ngrams():
    texts = [
        "月光照在湖面上，湖水很安静。",
        "湖面上有一只小船，月光很亮。",
        "小船在湖面上慢慢地走。",
    ]
    fp = Fingerprint.from_texts(texts * 2)
    assert fp.count("湖") == 8
    assert fp.count("湖 面") == 6  # character bigram, present in all six
    assert [w for w, _, _ in fp.top("word", 3)], "CJK profile must not be empty"


def test_texts_without_letters_are_refused_clearly():
    with pytest.raises(ValueError, match="contain no words"):
        Fingerprint.from_texts(["12345 678", "!!! ???"])
    with pytest.raises(ValueError, match="no texts"):
        Fingerprint.from_texts([])
    with pytest.raises(ValueError, match="2 texts but 1 prompt ids"):
        Fingerprint.from_texts(["one", "two"], ["p"])


# --- counting against a brute-force count ----------------------------------------------------


def _brute(
    texts: list[str], prompts: list[str]
) -> tuple[Counter[str], Counter[str], dict[str, set[str]]]:
    words: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    seen: dict[str, set[str]] = {}
    stop = function_words()
    for text, prompt in zip(texts, prompts, strict=True):
        toks = re.findall(r"[a-z]+(?:'[a-z]+)?|[^\w\s]", text.lower())
        toks = [t[:-2] if t.endswith("'s") else t for t in toks]
        for t in toks:
            words[t] += 1
            seen.setdefault(t, set()).add(prompt)
        content = [t for t in toks if t not in stop and t[0].isalpha()]
        for x, y in itertools.pairwise(content):
            bigrams[f"{x} {y}"] += 1
            seen.setdefault(f"{x} {y}", set()).add(prompt)
    return words, bigrams, seen


def test_counts_match_a_brute_force_count_and_the_prompt_filter():
    texts, prompts = _corpus(1, ["sea", "farm"], 5, seed=3)
    texts.append("Zorbulak the goat walked. Zorbulak sang.")  # a name in one prompt only
    prompts.append("only-here")
    fp = Fingerprint.from_texts(texts, prompts)
    words, bigrams, seen = _brute(texts, prompts)
    assert fp.count("zorbulak") == 0, "a word from one prompt only must be dropped"
    assert fp.n_tokens == sum(words.values())
    for w, c in words.items():
        if len(seen[w]) >= 2:
            assert fp.count(w) == c, w
    kept = [b for b in bigrams if len(seen[b]) >= 2]
    assert kept
    for b in kept:
        assert fp.count(b) == bigrams[b], b
    # per-prompt rows add up to the totals
    assert int(fp.tokens.sum()) == fp.n_tokens
    assert fp.n_prompts == 11 and fp.n_texts == 11


# --- JSON --------------------------------------------------------------------------------------


def test_json_round_trip_and_save_load(tmp_path):
    texts, prompts = _corpus(2, ["city", "space"], 4, seed=5)
    fp = Fingerprint.from_texts(texts, prompts, name="v1", model="m-1")
    back = Fingerprint.from_json(fp.to_json())
    assert back.features == fp.features and back.prompt_ids == fp.prompt_ids
    assert np.array_equal(back.counts, fp.counts) and np.array_equal(back.tokens, fp.tokens)
    path = fp.save(tmp_path / "fps" / "v1.json")
    loaded = Fingerprint.load(path)
    assert (loaded.name, loaded.model) == ("v1", "m-1")
    assert lexical.distance(loaded, fp) == 0.0


def test_bad_fingerprint_files_name_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.json is not JSON"):
        Fingerprint.load(bad)
    texts, prompts = _corpus(2, ["city"], 3, seed=1)
    data = json.loads(Fingerprint.from_texts(texts, prompts).to_json())
    data["prompts"][0]["counts"][0] = -4
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"broken\.json is not a valid lexical fingerprint at prompts/0/counts/0"
    ):
        Fingerprint.load(bad)
    data["prompts"][0]["counts"][0] = 1
    data["prompts"][0]["features"][0] = 10**6
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="feature indices"):
        Fingerprint.load(bad)
    with pytest.raises(ConfigError, match="cannot read fingerprint file"):
        Fingerprint.load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d["prompts"][1]["counts"].__setitem__(2, 1.5), "prompts/1/counts/2"),
        (lambda d: d["prompts"][1]["counts"].__setitem__(0, True), "prompts/1/counts/0"),
        (lambda d: d["prompts"][2]["counts"].__setitem__(1, 0), "prompts/2/counts/1"),
        (lambda d: d["prompts"][0]["features"].__setitem__(3, -1), "prompts/0/features/3"),
        (lambda d: d["prompts"][2]["features"].__setitem__(0, "7"), "prompts/2/features/0"),
        (lambda d: d["features"].__setitem__(5, "two  spaces"), "features/5"),
        (lambda d: d["features"].__setitem__(4, 17), "features/4"),
        (lambda d: d["features"].__setitem__(1, "a b c d"), "features/1"),
        (lambda d: d["prompts"][1].__setitem__("tokens", -3), "prompts/1/tokens"),
        (lambda d: d.__setitem__("part", "thoughts"), "part"),
    ],
)
def test_fast_validation_rejects_what_the_full_schema_rejects(tmp_path, mutate, where):
    """The big arrays are checked with numpy, not jsonschema: the same rules must hold, and
    the error must still name the file and the field."""
    import jsonschema

    from pytest_modelprov.lexical.fingerprints import _schema

    texts, prompts = _corpus(3, ["sea", "farm"], 3, seed=9)
    data = json.loads(Fingerprint.from_texts(texts, prompts).to_json())
    jsonschema.validate(data, _schema())  # the untouched file is valid for both
    mutate(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, _schema())
    path = tmp_path / "mutated.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Fingerprint.load(path)
    message = str(info.value)
    assert "mutated.json is not a valid lexical fingerprint" in message
    assert f"at {where}:" in message
    assert "Re-create it" in message


def test_builtin_prompt_set_is_valid_and_bad_sets_are_named(tmp_path):
    builtin = lexical.load_prompts()
    assert len(builtin) >= 32 and len({i for i, _ in builtin}) == len(builtin)
    bad = tmp_path / "prompts.json"
    bad.write_text(json.dumps({"version": 1, "prompts": [{"id": "Bad Id", "text": "x" * 20}]}))
    with pytest.raises(ConfigError, match=r"prompts\.json does not match"):
        lexical.load_prompts(bad)


# --- distances ---------------------------------------------------------------------------------


def _hellinger_by_hand(a_texts: list[str], b_texts: list[str]) -> float:
    """Independent computation of the profile distance's definition with Counters."""

    def stats(texts: list[str]) -> tuple[Counter[str], Counter[str], int]:
        counts: Counter[str] = Counter()
        spread: Counter[str] = Counter()
        for t in texts:
            toks = tokenise(t)
            counts.update(toks)
            spread.update(set(toks))
        return counts, spread, len(texts)

    (ca, sa, na), (cb, sb, nb) = stats(a_texts), stats(b_texts)

    def top(c: Counter[str], s: Counter[str], n: int) -> list[str]:
        wide = [w for w in c if s[w] / n >= 0.5 and s[w] >= 2]
        return sorted(wide, key=lambda w: (-c[w], w))[:200]

    names = list(dict.fromkeys(top(ca, sa, na) + top(cb, sb, nb)))
    # a word one text set used in a single prompt is not part of its fingerprint
    p = np.array([ca[w] if sa[w] >= 2 else 0 for w in names], float)
    q = np.array([cb[w] if sb[w] >= 2 else 0 for w in names], float)
    bc = np.sqrt(p / p.sum() * q / q.sum()).sum()
    return math.sqrt(max(0.0, 1 - bc))


def test_profile_distance_matches_an_independent_computation():
    a_texts, a_prompts = _corpus(1, ["sea", "city"], 6, seed=11)
    b_texts, b_prompts = _corpus(2, ["sea", "city"], 6, seed=12)
    a = Fingerprint.from_texts(a_texts, a_prompts)
    b = Fingerprint.from_texts(b_texts, b_prompts)
    d = lexical.distance(a, b, "profile")
    assert d == pytest.approx(_hellinger_by_hand(a_texts, b_texts), abs=1e-9)
    assert d == pytest.approx(lexical.distance(b, a, "profile"))
    assert 0 < d < 1 and lexical.distance(a, a, "profile") == 0.0


def test_jaccard_is_the_set_jaccard_of_the_anchor_sets():
    a_texts, a_prompts = _corpus(1, ["sea", "farm"], 6, seed=21)
    b_texts, b_prompts = _corpus(1, ["sea", "space"], 6, seed=22)
    a = Fingerprint.from_texts(a_texts, a_prompts)
    b = Fingerprint.from_texts(b_texts, b_prompts)
    sa, sb = lexical.anchor_set(a), lexical.anchor_set(b)
    # the anchor words have 4+ letters and are no function words; "sea" is shared by both
    assert "harbour" in sa and "harbour" in sb and "mud" not in sa
    assert all(len(w) >= 4 for w in sa if " " not in w)
    shared = {w for w in TOPICS["sea"] if len(w) >= 4}
    only_a = {w for w in TOPICS["farm"] if len(w) >= 4}
    only_b = {w for w in TOPICS["space"] if len(w) >= 4}
    words_a, words_b = {w for w in sa if " " not in w}, {w for w in sb if " " not in w}
    assert words_a == shared | only_a and words_b == shared | only_b
    expected = 1 - len(sa & sb) / len(sa | sb)
    assert lexical.jaccard(a, b) == pytest.approx(expected)
    assert lexical.distance(a, a, "jaccard") == 0.0


def test_pooled_style_finds_each_authors_other_half_across_topics():
    """Halves on disjoint topics: topic vocabulary would pair halves of different authors."""
    halves, owners = [], []
    for author in range(4):
        for topics in (["sea", "city"], ["farm", "space"]):
            texts, prompts = _corpus(author, topics, 5, seed=100 + author * 7 + len(halves))
            halves.append(Fingerprint.from_texts(texts, prompts, name=f"a{author}"))
            owners.append(author)
    found = {}
    for method in ("style", "profile"):
        m = lexical.distance_matrix(halves, method)
        np.fill_diagonal(m, np.inf)
        nearest = m.argmin(1)
        found[method] = sum(owners[int(nearest[i])] == owners[i] for i in range(len(halves)))
    assert found["style"] == len(halves)
    # the pairwise profile is what the pooled distance improves on: here topic wins there
    assert found["profile"] < len(halves) // 2
    with pytest.raises(ValueError, match="pool of at least 3"):
        lexical.style_matrix(halves[:2])


def test_bootstrap_interval_brackets_the_value_and_narrows_with_more_prompts():
    def interval(per_topic: int) -> lexical.Interval:
        a = Fingerprint.from_texts(*_corpus(1, list(TOPICS), per_topic, seed=31))
        b = Fingerprint.from_texts(*_corpus(2, list(TOPICS), per_topic, seed=32))
        return lexical.compare(a, {"b": b}, resamples=150).distances["b"]

    small, large = interval(2), interval(8)
    for d in (small, large):
        assert d.low <= d.value <= d.high
    assert large.high - large.low < small.high - small.low


def test_assert_nearest_passes_and_fails_with_shared_words():
    ours = Fingerprint.from_texts(*_corpus(1, list(TOPICS), 3, seed=41), name="ours")
    twin = Fingerprint.from_texts(*_corpus(1, list(TOPICS), 3, seed=42), name="twin")
    other = Fingerprint.from_texts(*_corpus(3, list(TOPICS), 3, seed=43), name="other")
    third = Fingerprint.from_texts(*_corpus(5, list(TOPICS), 3, seed=44), name="third")
    refs = {"twin": twin, "other": other, "third": third}
    result = lexical.assert_nearest(ours, refs, expected="twin")
    assert result.method == "delta" and result.nearest == "twin"
    with pytest.raises(AssertionError) as info:
        lexical.assert_nearest(ours, refs, expected="other")
    text = str(info.value)
    assert "is nearest to 'twin', not 'other'" in text
    assert "top shared words with twin" in text
    with pytest.raises(AssertionError, match=r"not above 0\.900"):
        lexical.assert_distance_above(ours, twin, 0.9)
    lexical.assert_distance_below(ours, twin, 0.9)


# --- coverage of the bootstrap interval of one distance, by simulation ----------------------
# Two synthetic "models" write from known word distributions (a shared Zipf-like base, the
# second perturbed), each prompt mixing in its own topic words. The population distance is
# approximated by fingerprints of 2000 prompts; intervals come from 30-prompt samples.
_SYLLABLES = ["ba", "ko", "ri", "mu", "te", "sa", "lo", "ne", "vi", "da", "pe", "gu"]


def _synthetic_models(seed: int) -> tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    vocab = sorted({"".join(rng.choice(_SYLLABLES, 3)) for _ in range(2000)})[:500]
    base = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    rng.shuffle(base)
    other = base * np.exp(rng.normal(0.0, 0.3, base.size))
    topics = []
    for _ in range(200):
        t = np.where(rng.random(base.size) < 0.05, 1.0, 1e-3) * np.exp(
            rng.normal(0, 0.5, base.size)
        )
        topics.append(t / t.sum())
    return vocab, base / base.sum(), other / other.sum(), topics


def _write(vocab, p, topics, prompts, rng, tokens=150):
    texts = []
    for t in prompts:
        counts = rng.multinomial(tokens, 0.75 * p + 0.25 * topics[t % len(topics)])
        words = np.repeat(np.arange(len(vocab)), counts)
        rng.shuffle(words)
        texts.append(" ".join(vocab[i] for i in words))
    return Fingerprint.from_texts(texts, [f"p{t}" for t in prompts])


def test_basic_bootstrap_interval_covers_the_population_distance():
    vocab, pa, pb, topics = _synthetic_models(123)
    rng = np.random.default_rng(5)
    everything = list(range(2000))
    truth = lexical.profile(
        _write(vocab, pa, topics, everything, rng), _write(vocab, pb, topics, everything, rng)
    )
    covered = below = 0
    reps = 100
    for r in range(reps):
        prompts = (rng.choice(2000, 30, replace=False) + 10_000).tolist()
        a, b = _write(vocab, pa, topics, prompts, rng), _write(vocab, pb, topics, prompts, rng)
        d = lexical.compare(a, {"b": b}, method="profile", resamples=150, seed=r).distances["b"]
        covered += d.low <= truth <= d.high
        below += d.low <= truth
    # nominal 0.95 two-sided; the lower end (what assert_distance_above relies on) 0.975
    print(f"coverage {covered / reps:.2f}, lower end {below / reps:.2f}, truth {truth:.4f}")
    assert 0.90 <= covered / reps <= 0.99, (covered, truth)
    assert below / reps >= 0.95, (below, truth)


def test_the_lexical_drift_verdict_is_a_one_sided_test_at_the_rules_alpha():
    from pytest_modelprov.drift import Drift, Rule
    from pytest_modelprov.lexical import baseline as lexical_baseline

    topics = list(TOPICS)
    old = Fingerprint.from_texts(*_corpus(1, topics, 4, seed=1))
    new = Fingerprint.from_texts(*_corpus(2, topics, 4, seed=2))
    assert old.n_prompts >= lexical_baseline.MIN_PROMPTS

    def drift(margin: float, alpha: float) -> Drift:
        rule = Rule("lexical.distance", margin, "increase", alpha)
        (d,) = lexical_baseline._drift(old.to_dict(), new.to_dict(), lambda q: rule, 0.95)
        return d

    shown = drift(0.0, 0.05)
    # the 95% two-sided interval shown keeps 2.5% per side; a one-sided test at 0.05 keeps
    # 5%, so its bound sits above the interval's lower end, and at 0.01 below it
    bound_05 = shown.details["one_sided_low"]
    bound_01 = drift(0.0, 0.01).details["one_sided_low"]
    assert bound_01 < shown.low < bound_05 <= shown.change
    margin = (shown.low + bound_05) / 2
    assert drift(margin, 0.05).failed  # the distance is above the margin at 95% one-sided
    assert not drift(margin, 0.01).failed  # not at 99%: @ALPHA changes the verdict
    assert drift(margin, 0.01).details["alpha"] == 0.01
