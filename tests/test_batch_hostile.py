"""The refusal batch path on hostile input: random strings from an alphabet of the characters
each batch shortcut reads differently from the per-answer code (lone surrogates, NUL, code
points beyond the BMP and the class tables, combining marks, Unicode whitespace, letters that
case-fold past ``str.lower``, NFKC expanders, words at the zlib hand-off), in batches that cross
the chunk boundaries, against the answer-by-answer path and the frozen reference. Seeded:
a failure names the strings, and reruns the same."""

from __future__ import annotations

import random
import re
import threading
import zlib
from collections import Counter
from typing import Any

import numpy as np
import pytest
import refusal_reference

from pytest_modelprov import fastbatch, fastre, langid, refusal
from pytest_modelprov.refusal import _nfkc as nfkc
from pytest_modelprov.refusal import features, tokenhash
from pytest_modelprov.refusal.model import Matrix

HOSTILE = [
    *("a", "Z", "é", "e\u0301", "\u0301", "\u0308", "ß", "\u1e9e", "\u0130", "\u0131"),
    *("\u03c2", "\u03a3", "\u017f", "\u212a", "\u01c5", "\ufb01", "\uff21", "\uff76"),
    *("\u0456", "\u042f", "\u0939\u093f", "\ud55c", "\u5b57", "\u4e00", "\u30a2"),
    *("\U00020000", "\U0001d518", "\U0001f600", "\ue000", "\U000f0000"),
    *("\ud800", "\udfff", "\0", " ", "\t", "\n", "\x0b", "\x1c", "\x1f", "\x85"),
    *("\xa0", "\u2028", "\u2029", "\u3000", "\u200b", "'", "\u2019", "_", "1", "\u0663", "\xb2"),
    *("\ufdfa", "\u337f", "-", ".", "```", "<think>", "</think>", "<|im_end|>"),
    *("fooBar", "FOO_BAR", "a_b", "x" * 40, "x" * 41, "\xe9" * 20, "\xe9" * 21),
    *("sorry", "I'm sorry, but I can't help with that.", "As an AI, I won't", "I cannot"),
    *("\u62b1\u6b49\uff0c\u6211\u4e0d\u80fd", " the plan failed because costs rose "),
]


def _hostile(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        # lengths at the opening, tail and _MAX_CHARS cuts, a refusal or an expander at the end
        size = rng.choice([239, 240, 241, 1499, 1500, 1501, 3999, 4000, 4001])
        body = "".join(rng.choice(HOSTILE) for _ in range(size))[:size]
        return body + rng.choice(["", " sorry", "\ufdfa", " I can't help with that."])
    if roll < 0.15:
        return rng.choice(["", " ", "\u3000\u2028", "\n\t\x1c", "\0", "\ud800"])
    text = "".join(rng.choice(HOSTILE) for _ in range(rng.choice([1, 2, 3, 5, 10, 30, 80])))
    if rng.random() < 0.2:  # blanks around it: clean_refusal_of normalises it again
        text = rng.choice([" ", "\n", "\u3000"]) + text + rng.choice(["", " "])
    return text


def _batch(seed: int, size: int) -> tuple[list[str], list[str | None]]:
    rng = random.Random(seed)
    texts = [_hostile(rng) for _ in range(size)]
    prompts = [None if rng.random() < 0.4 else _hostile(rng) for _ in texts]
    return texts, prompts


def _differing(texts: list[str], *labels: list[str]) -> list[str]:
    return [
        f"{texts[i][:80]!r}: {[x[i] for x in labels]}"
        for i in range(len(texts))
        if len({x[i] for x in labels}) > 1
    ]


def test_hostile_batch_labels_equal_each_answer_and_the_reference():
    texts, prompts = _batch(19, 1300)  # crosses the 512-answer chunks of tokenhash, letters_of
    clf = refusal.default_classifier()
    batch = clf.classify_many(texts, prompts)
    alone = [clf.classify(t, p) for t, p in zip(texts, prompts, strict=True)]
    with refusal_reference.as_it_was():
        before = [clf.classify(t, p) for t, p in zip(texts, prompts, strict=True)]
    assert batch == alone == before, _differing(texts, batch, alone, before)[:5]
    # the strings reach every label, so a label path that broke would show
    assert set(batch) == {"compliance", "refusal", "evasion"}


def test_hostile_batch_features_equal_featurise_as_it_was():
    texts, prompts = _batch(21, 700)
    batch = Matrix.of_answers(texts, prompts)
    with refusal_reference.as_it_was():
        single = Matrix.build(
            [features.featurise(t, p) for t, p in zip(texts, prompts, strict=True)]
        )
    assert batch.rows.tolist() == single.rows.tolist()
    assert batch.cols.tolist() == single.cols.tolist()
    assert np.abs(batch.vals - single.vals).max(initial=0.0) < 1e-12
    wrong = [
        texts[i][:80]
        for i in range(len(texts))
        if batch.dense[i].tolist() != single.dense[i].tolist()
    ]
    assert not wrong, wrong[:5]
    assert batch.dense[:, features.DENSE_NAMES.index("glued_identifiers")].any()


def _wordy(rng: random.Random) -> str:
    """Function words of one language with those of others, word shapes, other words and
    hostile pieces, curly quotes and capitals mixed in: what langid counts, near its
    thresholds."""
    lexicons = [words.split() for words in langid._WORDS.values()]
    own = rng.choice(lexicons)
    others = [w for words in lexicons for w in words]
    plain = ["xyz", "zoo", "yes", "quiz", "jazz", "suomessa", "ordnung", "running", "société"]
    parts = []
    for _ in range(rng.choice([3, 10, 40, 120])):
        roll = rng.random()
        pool = own if roll < 0.4 else others if roll < 0.6 else plain if roll < 0.9 else HOSTILE
        word = rng.choice(pool)
        parts.append(word.upper() if rng.random() < 0.1 else word)
        parts.append(rng.choice([" ", " ", ", ", "\u2019", ". ", "\n", "`", "\u2014"]))
    return "".join(parts)


def test_languages_of_a_batch_equal_each_text_and_the_reference():
    rng = random.Random(17)
    texts = [_wordy(rng) for _ in range(700)] + [_hostile(rng) for _ in range(300)]
    found = langid.detect_many(texts)
    assert found == [langid.detect(t) for t in texts]
    assert found == [refusal_reference.detect(t) for t in texts]
    assert len(set(found)) > 5  # many languages decided, and undecided texts


def test_hostile_token_buckets_equal_the_crc_of_every_token():
    rng = random.Random(5)
    for _ in range(300):
        texts = [_hostile(rng) for _ in range(rng.choice([1, 3, 20]))]
        rows, buckets = tokenhash.token_buckets([features.prepare(t) for t in texts])
        for i, text in enumerate(texts):
            expected = Counter(
                zlib.crc32(t.encode("utf-8")) & features._MASK for t in features.sparse_tokens(text)
            )
            assert Counter(buckets[rows == i].tolist()) == expected, text[:80]


_LISTS = (features.REFUSAL_RE, features.PIVOT_RE, features.CRITIQUE_RE, features.OFFICIAL_RE)


def _phrase_text(rng: random.Random, strings: list[str]) -> str:
    """The phrases' own literal strings, cut, upper-cased and glued to hostile characters:
    every key gram stands in the text, often at a text's very start or end."""
    parts = []
    for _ in range(rng.choice([0, 1, 2, 4, 8, 20])):
        if rng.random() < 0.5:
            s = rng.choice(strings)
            if rng.random() < 0.3:
                cut = rng.randrange(len(s) + 1)
                s = s[cut:] if rng.random() < 0.5 else s[:cut]
            parts.append(s.upper() if rng.random() < 0.2 else s)
        else:
            parts.append(rng.choice(HOSTILE[:45]))
    return "".join(parts)


def _spans(texts: list[str]) -> list[list[list[tuple[int, int]]]]:
    return [[[m.span() for m in p.finditer(t)] for p in _LISTS] for t in texts]


def test_primed_phrases_find_what_the_patterns_as_written_find():
    strings = sorted({t for p in _LISTS if p._prepare() for f in p._filters for t in f})
    rng = random.Random(3)
    texts = [_phrase_text(rng, strings) for _ in range(600)]
    texts += [features.normalise(t) for t in texts[:300]]
    with fastre.exact():
        exact = _spans(texts)
    with fastbatch.primed(_LISTS, texts):
        primed = _spans(texts)
    assert primed == exact, [t[:80] for t, a, b in zip(texts, primed, exact, strict=True) if a != b]
    assert sum(bool(s) for row in exact for s in row) > 300


@pytest.mark.parametrize("bits", [4, 9])
def test_a_filter_whose_keys_share_slots_keeps_the_same_phrases(monkeypatch, bits):
    """A small filter (keys sharing its slots, most positions marked) takes the search of
    sorted codes: the phrases kept are the same as with the full filter."""
    strings = sorted({t for p in _LISTS if p._prepare() for f in p._filters for t in f})
    rng = random.Random(8)
    texts = [_phrase_text(rng, strings) for _ in range(300)]
    with fastbatch.primed(_LISTS, texts):
        full = [[p._kept(t) for p in _LISTS] for t in texts]
    monkeypatch.setattr(fastbatch, "_FILTER_BITS", bits)
    monkeypatch.setattr(fastbatch, "_CACHE", {})
    with fastbatch.primed(_LISTS, texts):
        assert [[p._kept(t) for p in _LISTS] for t in texts] == full
    assert any(k[1] is None for k in fastbatch._CACHE[tuple(map(id, _LISTS))].keys.values())


def test_lower_casing_twice_changes_nothing():
    """What ``primed(..., lowered=True)`` rests on: a normalised text (lower-cased) is its
    own lower-cased form, for every code point (str.lower maps each character alone but for
    the capital sigma, whose lower forms are their own)."""
    once = [chr(c).lower() for c in range(0x110000)]
    assert [s for s in once if s.lower() != s] == []


def test_priming_lowered_texts_keeps_what_lower_casing_them_keeps():
    rng = random.Random(5)
    strings = sorted({t for p in _LISTS if p._prepare() for f in p._filters for t in f})
    texts = [features.normalise(_phrase_text(rng, strings)) for _ in range(400)]
    texts += [features.normalise(_hostile(rng)) for _ in range(200)]
    with fastbatch.primed(_LISTS, texts):
        lowered = [[p._kept(t) for p in _LISTS] for t in texts]
    with fastbatch.primed(_LISTS, texts, lowered=True):
        assert [[p._kept(t) for p in _LISTS] for t in texts] == lowered
    assert sum(bool(k and k[1]) for row in lowered for k in row) > 200


def test_nfkc_by_folds_equals_nfkc_of_the_whole_text():
    """nfkc.nfkc (the characters NFKC changes alone replaced by their folds where none
    acts on a neighbour) against unicodedata on strings of composing, joining, compatibility
    and hostile characters."""
    import unicodedata

    nfkc.build()
    pieces = [*HOSTILE, "\u1100", "\u1161", "\u11a8", "\uac00", "\u3099", "\u309b", "\u304b"]
    pieces += ["\uff0c", "\u2026", "\u00bd", "\uf900", "\u0b47", "\u0b3e", "\u0e33", "\u201c"]
    pieces += ["\u1e9b", "\u0323", "\u212b", "\u0958", "\u0f73", "\uff9e", "\u00e4", "\u0627"]
    rng = random.Random(13)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))) for _ in range(20000)]
    assert [nfkc.nfkc(t) for t in texts] == [unicodedata.normalize("NFKC", t) for t in texts]
    folded = sum(nfkc.nfkc(t) != t for t in texts)
    assert 1000 < folded < len(texts) - 1000  # texts changed and texts left as they are


def test_the_joining_characters_are_those_canonical_composition_joins():
    """nfkc.JOINING: the characters of the BMP with combining class 0 that end a
    canonical decomposition of two (the second of a composition pair), read off the running
    Python's Unicode data; and no pair beyond the BMP has its second in the BMP."""
    import unicodedata

    seconds = set()
    for point in range(0x110000):
        parts = unicodedata.decomposition(chr(point)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second = int(parts[1], 16)
            assert second > 0xFFFF or point <= 0xFFFF, hex(point)
            seconds.add(second)
    joining = re.compile(f"[{nfkc.JOINING}]")
    expected = {p for p in seconds if p <= 0xFFFF and not unicodedata.combining(chr(p))}
    expected |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul, by rule
    assert {p for p in range(0x10000) if joining.match(chr(p))} == expected


def test_priming_a_large_batch_scans_it_in_bounded_parts(monkeypatch):
    """Memory: the numpy scan of a batch holds some tens of bytes a character; a large batch
    is scanned in parts of at most _SCAN_CHARS characters, with the same phrases kept."""
    rng = random.Random(11)
    texts = [features.normalise(_hostile(rng) * 30)[:4000] for _ in range(400)]
    texts += ["i'm sorry, but i can't help with that. " * 100]
    alone = [[p._kept(t) for p in _LISTS] for t in texts]
    sizes: list[int] = []
    scan = fastbatch._occurring

    def counted(scanned: Any, *rest: Any) -> Any:
        sizes.append(sum(len(hay) + 1 for _, hay, _ in scanned))
        return scan(scanned, *rest)

    monkeypatch.setattr(fastbatch, "_occurring", counted)
    monkeypatch.setattr(fastbatch, "_SCAN_CHARS", 50_000)
    with fastbatch.primed(_LISTS, texts):
        assert [[p._kept(t) for p in _LISTS] for t in texts] == alone
    assert sum(sizes) > 10 * 50_000  # the batch was large
    assert max(sizes) <= 50_000 + 4001, sizes  # one text may end a part past the limit


@pytest.mark.parametrize("size", [0, 1, 2, 513])
def test_empty_and_small_batches(size):
    texts, prompts = _batch(size + 100, size)
    clf = refusal.default_classifier()
    assert clf.classify_many(texts, prompts) == [
        clf.classify(t, p) for t, p in zip(texts, prompts, strict=True)
    ]
    assert Matrix.of_answers(texts, prompts).dense.shape == (size, len(features.DENSE_NAMES))


def test_a_large_batch_is_classified_in_parts_with_the_same_labels(monkeypatch):
    from pytest_modelprov.refusal import classifiers

    texts, prompts = _batch(23, 90)
    clf = refusal.default_classifier()
    whole = clf.classify_many(texts, prompts)
    monkeypatch.setattr(classifiers, "_PART", 7)
    assert clf.classify_many(texts, prompts) == whole


def test_two_threads_classify_at_once_as_one_does(monkeypatch):
    """The lazily built tables (letter and class tables, the classes met beyond the BMP,
    the phrase lists' literals) built by two threads at once, and the primed phrases of one
    thread's batch never read by the other's."""
    batches = [_batch(seed, n) for seed, n in ((31, 600), (32, 40), (33, 300), (34, 1))]
    clf = refusal.default_classifier()
    expected = [clf.classify_many(t, p) for t, p in batches]
    features._letter_table.cache_clear()
    tokenhash._bmp_classes.cache_clear()
    monkeypatch.setattr(tokenhash, "_BEYOND", {})
    for p in _LISTS:
        monkeypatch.setattr(p, "_needles", None)
    got: list[Any] = [None] * len(batches)
    start = threading.Barrier(len(batches))

    def run(i: int) -> None:
        start.wait()
        try:
            got[i] = clf.classify_many(*batches[i])
        except Exception as exc:  # reported below, with the thread's batch
            got[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected
