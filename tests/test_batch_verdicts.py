"""The batch paths give exactly the per-answer verdicts: on the package's own texts always,
and on every shared answer when ``../shared`` is there (measuring only: nothing is copied)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import refusal_reference
from shared_data import shared_data
from test_identity_detect import CASES
from test_refusal import (
    _OWN_COMPLY,
    _OWN_EVADE,
    _OWN_REFUSE,
    COMPLY_EN,
    COMPLY_ZH,
    ESSAY,
    EVADE_EN,
    EVADE_ZH,
    KILL_PROCESS,
    REFUSALS,
)

from pytest_modelprov import fastre, refusal
from pytest_modelprov.identity.detect import Detector, default_detector
from pytest_modelprov.refusal import features as refusal_features
from pytest_modelprov.refusal.model import Matrix

ROOT = Path(__file__).resolve().parent.parent


SHARED = shared_data(ROOT)


class _Reference:
    """The detector as it was: every alias tried at every position, every pattern as
    written (no fastre lookahead)."""

    def __init__(self) -> None:
        self.detector = Detector(default_detector().vendors)
        self.detector._prefilter = False

    def detect(self, text: str) -> Any:
        with fastre.exact():
            return self.detector.detect(text)


def _reference() -> _Reference:
    return _Reference()


def _identity_texts() -> list[str]:
    texts = [case[1] for case in CASES]
    # the same texts run together, cut mid-word and doubled: names at odd offsets, a clause
    # with several names, markdown around them
    joined = " ".join(texts)
    texts += [joined[i : i + 600] for i in range(0, len(joined), 257)]
    texts += [f"**{t}** — {t.upper()}" for t in texts[:40]]
    return texts


def test_identity_prefilter_finds_exactly_what_every_alias_everywhere_finds():
    texts = _identity_texts()
    assert len(texts) > 150
    fast, slow = default_detector(), _reference()
    found = [fast.detect(t) for t in texts]
    assert found == [slow.detect(t) for t in texts]
    assert sum(bool(c.items) for c in found) > 100  # the texts do name vendors


def test_every_alias_of_the_table_is_found_where_it_stands():
    """Each alias alone, in a frame and glued to other scripts: the prefilter must not skip
    the position where any of them starts."""
    fast, slow = default_detector(), _reference()
    texts = []
    for alias in fast._aliases:
        if alias.regex:
            continue
        texts += [
            alias.text,
            f"I am {alias.text}.",
            f"我是{alias.text}。",
            f"x{alias.text} {alias.text}x",
        ]
    texts += ["gpt-4o", "I am GPT-4.1 and o3-mini", "llama-3.1 or yi-34b", "I'm GLM-4, not ERNIE-4"]
    assert [fast.detect(t) for t in texts] == [slow.detect(t) for t in texts]


def _shared_rows(name: str) -> list[dict[str, object]]:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(
            f"no shared data at {path} (measuring only; the package's own texts run always)"
        )
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_identity_on_every_shared_answer():
    rows = _shared_rows("refusal/labelled.jsonl")
    fast, slow = default_detector(), _reference()
    # the opening of each (where self-descriptions are): the reference takes ~20 ms per
    # 600 characters, and there are ~7,000 answers
    texts = [str(r["response"])[:250] for r in rows]
    assert len(texts) > 1000
    assert [fast.detect(t) for t in texts] == [slow.detect(t) for t in texts]


# -- refusal ----------------------------------------------------------------------------------


def _reference_labels(
    monkeypatch: pytest.MonkeyPatch, texts: list[str], prompts: list[str | None]
) -> list[str]:
    """``classify`` answer by answer on the mechanics as they were (every pattern as written,
    the code-stripping regex, script runs as tuples, ...): the verdicts before the batch."""
    clf = refusal.default_classifier()
    with refusal_reference.as_it_was():
        return [clf.classify(t, p) for t, p in zip(texts, prompts, strict=True)]


def _refusal_pairs() -> list[tuple[str | None, str]]:
    prompts = [p for p, _ in REFUSALS.values()]
    answers = [a for _, a in REFUSALS.values()]
    answers += [COMPLY_EN, COMPLY_ZH, EVADE_EN, EVADE_ZH, KILL_PROCESS[1], ESSAY * 20]
    answers += _OWN_COMPLY + _OWN_REFUSE + _OWN_EVADE
    # code, links and bare domains (what the broken-output check strips), long runs without
    # spaces, and reasoning to remove
    answers += [
        "See `pip install x` and https://example.org/a, or mail@example.com.\n```py\nx = 1\n```",
        "```\nunclosed block with site.io inside" + "一" * 300,
        "word" * 400 + ".net and more" + "x" * 300,
        "<think>I should refuse.</think>Here is the essay: the plan failed because costs rose.",
        "",
        "   ",
    ]
    pairs: list[tuple[str | None, str]] = []
    for i, answer in enumerate(answers):
        pairs.append((prompts[i % len(prompts)], answer))
        pairs.append((None, answer))
    return pairs


def test_refusal_batch_gives_exactly_the_per_answer_labels(monkeypatch):
    pairs = _refusal_pairs()
    prompts, texts = [p for p, _ in pairs], [a for _, a in pairs]
    batch = refusal.default_classifier().classify_many(texts, prompts)
    assert batch == _reference_labels(monkeypatch, texts, prompts)
    assert set(batch) == {"compliance", "refusal", "evasion"}


def _features_agree(texts: list[str], prompts: list[str | None]) -> None:
    """The features themselves, not only the labels: the dense part exactly as the old
    mechanics compute it, the batch matrix as featurise builds it (values to rounding)."""
    dense = [refusal_features.dense_features(t, p) for t, p in zip(texts, prompts, strict=True)]
    with refusal_reference.as_it_was():
        before = [
            refusal_features.dense_features(t, p) for t, p in zip(texts, prompts, strict=True)
        ]
    assert dense == before
    batch = Matrix.of_answers(texts, prompts)
    single = Matrix.build(
        [refusal_features.featurise(t, p) for t, p in zip(texts, prompts, strict=True)]
    )
    assert batch.rows.tolist() == single.rows.tolist()
    assert batch.cols.tolist() == single.cols.tolist()
    assert np.abs(batch.vals - single.vals).max(initial=0.0) < 1e-12
    assert batch.dense.tolist() == single.dense.tolist()


def test_refusal_features_equal_the_old_mechanics_on_own_texts():
    pairs = _refusal_pairs()
    _features_agree([a for _, a in pairs], [p for p, _ in pairs])


_LISTS = ("REFUSAL_RE", "PIVOT_RE", "CRITIQUE_RE", "OFFICIAL_RE")


def _primed_agree(texts: list[str]) -> None:
    """A batch primed at once keeps, for every text and phrase list, exactly the phrases the
    text alone keeps, and finds the same matches; the clean-refusal rule of a prepared
    answer is clean_refusal's."""
    prepared = [refusal_features.prepare(t) for t in texts]
    lists = [getattr(refusal_features, name) for name in _LISTS]
    alone = [[p._kept(x.text) for p in lists] for x in prepared]
    found = [[p.findall(x.text) for p in lists] for x in prepared]
    with refusal_features.phrases_primed(prepared):
        assert [[p._kept(x.text) for p in lists] for x in prepared] == alone
        assert [[p.findall(x.text) for p in lists] for x in prepared] == found
    # the filter does leave phrases out, and the texts do hold phrases
    assert any(
        len(k[1]) < len(p._pieces) for row in alone for p, k in zip(lists, row, strict=True) if k
    )
    assert sum(bool(f) for row in found for f in row) > 5
    assert [refusal_features.clean_refusal_of(x) for x in prepared] == [
        refusal_features.clean_refusal(t) for t in texts
    ]


def test_a_primed_batch_keeps_what_each_text_keeps():
    texts = [a for _, a in _refusal_pairs()] + _FOLDING
    _primed_agree(texts + [" " + t + "\n" for t in texts[:20]])


def test_finder_finds_any_of_its_strings():
    find = fastre.finder(["social stability", "soc", "人权", "x"])
    assert find is not None and fastre.finder([]) is None
    assert [bool(find.search(t)) for t in ("so", "asocial", "人", "侵犯人权", "X", "ax")] == [
        False, True, False, True, False, True,
    ]  # fmt: skip


# each phrase list against texts where case folding reaches past ASCII (dotless i, long s,
# the Kelvin sign), upper-case text and phrases overlapping each other
_FOLDING = [
    "İT IS IMPORTANT TO NOTE the balanced view",
    "crıtıcısm of the regıme and ſocial ſtability",
    "\u212aritisoi and KRITISOI and kritisoi",
    "It Is Important To Note That A Balanced Perspective Is Complex And Nuanced.",
    "I'm sorry, but I can't help. I cannot do that; I won't promise anything.",
    "social stability social stabilitysocial stability, territorial integrity",
    "客观公正地说，需要指出的是，坚定不移，和谐和谐 maintaining stability has always",
]


@pytest.mark.parametrize("name", ["REFUSAL_RE", "PIVOT_RE", "CRITIQUE_RE", "OFFICIAL_RE"])
def test_phrase_lists_find_what_the_patterns_as_written_find(name):
    pattern = getattr(refusal_features, name)
    written = re.compile(pattern.pattern, pattern.flags)
    texts = _FOLDING + [refusal_features.normalise(t) for t in _FOLDING]
    texts += [a for _, a in _refusal_pairs()]
    texts += [" ".join(texts)]
    for text in texts:
        assert pattern.findall(text) == written.findall(text)
        assert [m.span() for m in pattern.finditer(text)] == [
            m.span() for m in written.finditer(text)
        ]
        found, expected = pattern.search(text, 3), written.search(text, 3)
        assert (found and found.span()) == (expected and expected.span())
    # the texts do exercise the phrases (the filter must not make the check vacuous)
    assert sum(bool(written.findall(t)) for t in texts) > 5


def _described_as_before(p: fastre.Phrases) -> tuple[Any, ...]:
    """What Phrases._prepare read off its pieces before each was parsed once: the joined
    alternation compiled to see it holds no group, each piece parsed for each reading."""
    from re import _parser as parser  # type: ignore[attr-defined]

    sources = [piece for alt in p._alternatives for piece in fastre._split_top(alt)]
    try:
        joined = re.compile("|".join(f"(?:{x})" for x in sources), p.flags)
        plain = joined.groups == 0 and not p.flags & re.VERBOSE
        if plain and all(not fastre._items(parser.parse(x, p.flags))[1] for x in sources):
            found = [fastre._needle(x, p.flags) for x in sources]
        else:
            found = []
    except (fastre._Unknown, re.error):
        found = []
    needles = tuple(n for n, _ in found)
    filters = tuple(p._filter(x, n) for x, n in zip(sources, needles, strict=False))
    return needles, tuple(o for _, o in found), filters


@pytest.mark.parametrize(
    "alternatives",
    [
        *[getattr(refusal_features, name)._alternatives for name in _LISTS],
        (r"\bab(c)d", "xyz"),  # a group: the whole pattern
        ("abc", "(?i)def"),  # an inline global flag past the start: the whole pattern
        ("abc|x?", "def"),  # a piece that can match nothing
        (r"(?:foo|bar)baz", r"q\d+rst", "(?i:ab)cde"),
    ],
)
def test_each_piece_parsed_once_reads_as_parsing_it_for_each_reading(alternatives):
    for flags in (0, re.IGNORECASE):
        fresh = fastre.Phrases(alternatives, flags)
        fresh._prepare()
        assert (fresh._needles, fresh._opening, fresh._filters) == _described_as_before(fresh)
        for piece in fresh._pieces:  # the lookahead from the kept parse, as from the source
            assert piece.fast.pattern == fastre.Pattern(piece.pattern, flags).fast.pattern


def test_phrases_keep_a_phrase_without_a_literal_and_whole_pattern_when_unsure():
    p = fastre.phrases((r"\bab\w+", r"[xy]z", r"(c)d"))
    assert p._prepare() == ()  # a group: the whole pattern runs, as written
    q = fastre.phrases((r"\bsocial stability\b", r"[xy]\d|\bking\b"), re.I)
    assert q._prepare() == ("social stability", None, "king")
    assert q.findall("SOCIAL STABILITY, x1, KING") == ["SOCIAL STABILITY", "x1", "KING"]
    assert q.findall("\u212aing") == ["\u212aing"]  # the Kelvin sign: the whole pattern runs


def test_code_stripping_equals_the_regex_on_tricky_texts():
    code = refusal_features._CODE
    texts = [a for _, a in _refusal_pairs()] + [
        "a.com", "`x`a.com b", "x.comy", ".com", "foo.bar.com.", "a`b`c.net", "ab.io\nc",
        "`a\nb` x.gov", "http://a.com.b.io", "``` open", "```a```b.org``", "x" * 50 + ".io",
    ]  # fmt: skip
    assert [refusal_features.strip_code(t) for t in texts] == [code.sub(" ", t) for t in texts]


def test_refusal_on_every_shared_answer(monkeypatch):
    rows = _shared_rows("refusal/labelled.jsonl")
    texts = [str(r["response"]) for r in rows]
    prompts = [r.get("prompt") if isinstance(r.get("prompt"), str) else None for r in rows]
    code = refusal_features._CODE
    assert [refusal_features.strip_code(t) for t in texts] == [code.sub(" ", t) for t in texts]
    batch = refusal.default_classifier().classify_many(texts, prompts)  # type: ignore[arg-type]
    assert batch == _reference_labels(monkeypatch, texts, prompts)  # type: ignore[arg-type]
    _features_agree(texts[::5], prompts[::5])  # type: ignore[arg-type]
    _primed_agree(texts[::3])
    for name in ("REFUSAL_RE", "PIVOT_RE", "CRITIQUE_RE", "OFFICIAL_RE"):
        pattern = getattr(refusal_features, name)
        written = re.compile(pattern.pattern, pattern.flags)
        for text in texts:
            text = refusal_features.normalise(text[:4000])
            assert pattern.findall(text) == written.findall(text), (name, text[:80])


# -- fastre -----------------------------------------------------------------------------------

PATTERNS = [
    (r"\bi (?:can't|cannot) (?:help|do)\b|抱歉|(?:^|\s)no\b", 0),
    (r"(?:a|b)?c|d*e", 0),  # optional and repeated openings: their followers count too
    (r"[а-яё]+ь|\d{2,}|[^\W\d]x", 0),  # a negated category inside a class: not described
    (r"(?i)hello", 0),  # inline global flags must stay first: used as written
    (r"x*", 0),  # matches the empty string: no class
    (r"(a)\1|(b)?\2c", 0),  # back-references
    (r"(?<![a-z])gpt-?[345]|claude", re.I),
    (r"(?=foo)f\w+|(?!bar)b\w+", 0),
]
SAMPLES = [
    "I can't help with that. 抱歉，no thanks",
    "abc de ddde ce e",
    "привет пять 12345 ax bx",
    "HELLO hello HeLLo",
    "aa xaa",
    "GPT-4 and gpt3, Claude; xgpt-5",
    "foo bar food barn",
    "",
]


PATTERNS += [
    (r"(?i:\bmy name is|call me)\s+(?P<n>\w+)|(?:私は|[яЯ])\s*(?P<m>\w+)", 0),  # scoped flags
    (r"\bsocial stability\b|criti(?:cism|cise)|\bkritisoi", re.I),
    (r"мо[её] имя|σοφία|\bstraße", re.I),  # letters with case partners beyond ASCII
]
SAMPLES += [
    "MY NAME IS Nova. Call me Ada; 私は Kimi, Я Бот",
    "SOCIAL STABILITY and Crıtıcısm, ſocial ſtability, \u212aRITISOI",
    "МОЁ ИМЯ, мое имя, ΣΟΦΊΑ σοφία σοφίας, STRASSE, Straße",
]
MAKERS = {
    "compile": fastre.compile,
    "guarded": fastre.guarded,
    "phrases": lambda source, flags: fastre.phrases((source,), flags),
}


@pytest.mark.parametrize("make", list(MAKERS))
@pytest.mark.parametrize(("source", "flags"), PATTERNS)
def test_fastre_finds_what_the_pattern_as_written_finds(source, flags, make):
    if make == "phrases" and source.startswith("(?i)"):
        pytest.skip("a phrase list wraps each phrase in a group: no global flags inside")
    fast = MAKERS[make](source, flags)
    written = re.compile(source, flags)
    for text in [*SAMPLES, " ".join(SAMPLES)]:
        assert fast.findall(text) == written.findall(text)
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in written.finditer(text)]
        assert fast.sub("_", text) == written.sub("_", text)
        for at in range(len(text) + 1):
            a, b = fast.match(text, at), written.match(text, at)
            assert (a and a.span()) == (b and b.span())


def test_case_folding_reaches_no_literal_the_filters_look_up_by_str_lower():
    """Every character a pattern literal may be looked up as: IGNORECASE matches it only to
    characters that ``str.lower`` turns into it, or to ones that send the text to the whole
    pattern (checked against every character of the BMP)."""
    every = "".join(chr(i) for i in range(0x10000) if not 0xD800 <= i < 0xE000)
    checked = 0
    for code in [*range(0x20, 0x250), *range(0x370, 0x530), 0x1E9E, 0x212A, 0x2126]:
        low = fastre._plain(code, True)
        if low is None:
            continue
        checked += 1
        for t in re.findall(re.escape(chr(code)), every, re.I):
            assert t.lower() == low or t in fastre._CASE_PARTNERS_SET, (chr(code), t)
    assert checked > 300


def test_a_guard_reads_the_strings_every_match_needs():
    g = fastre.guarded(r"(?i:\bi am|my name is)\s+\w+|我是|[яЯ] ")
    assert set(g._needles()) == {("i am", True), ("my name is", True), ("我是", False),
                                 ("я", False), ("Я", False)}  # fmt: skip
    assert not g.possible("nothing to see here")
    assert g.possible("I AM Nova") and g.possible("Я бот")
    assert g.possible("\u0130 AM")  # a character str.lower turns into two: the pattern runs
    assert fastre.guarded(r"\w+ing")._needles() == (("ing", False),)
    assert fastre.guarded(r"[^a]x?")._needles() == ()  # nothing required: always runs


def test_fastre_adds_a_lookahead_only_where_it_can():
    assert fastre.first_class(r"\bab|c?d") == "[acd]"
    assert fastre.first_class(r"x*") is None
    assert fastre.first_class(r"(a)?\1x") is None  # a back-reference may come first
    assert fastre.compile(r"(?i)hello").fast is fastre.compile(r"(?i)hello").written
    assert fastre.compile(r"\bab|cd").fast.pattern == r"(?=[ac])(?:\bab|cd)"
    assert fastre.compile(r"[ab]+c").fast.pattern == r"[ab]+c"  # nothing to skip ahead of


# -- what the batch counts for all answers at once ------------------------------------------


def test_whitespace_compaction_equals_the_regex():
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    pieces = [*spaces, "a", "字", "é", "\u200b"]  # a zero-width space is no whitespace
    texts = ["", " ", "\n\n", "a", " a ", "a \t\n b", "".join(spaces), "x" + "".join(spaces) + "y"]
    texts += [
        "".join(pieces[(i * 7 + j * 3) % len(pieces)] for j in range(i % 9)) for i in range(400)
    ]
    assert [refusal_features._compact(t) for t in texts] == [re.sub(r"\s+", " ", t) for t in texts]


def test_letters_of_a_batch_equal_each_answers_patterns():
    texts = [a for _, a in _refusal_pairs()] + _FOLDING
    texts += ["", "𝔘 \U00020000 \ud800", "한국어 русский ελληνικά עברית ไทย हिन्दी", "ÀÿĀɏ"]
    F = refusal_features
    assert F.letters_of(texts) == [
        F.Letters(F._script_sizes(t), len(F._STRAY.findall(t))) for t in texts
    ]
    assert F.letters_of(texts * 300) == F.letters_of(texts) * 300  # in chunks
    assert any(x.stray for x in F.letters_of(texts))


def test_letters_in_a_batch_equal_each_texts_letters():
    texts = [a for _, a in _refusal_pairs()] + _FOLDING
    texts += ["", "𝔘 \U00020000 \ud800", "한국어 русский 字 \u3099・", "", "ÀÿĀɏ", "x"]
    F = refusal_features
    expected = [sum(map(str.isalpha, t)) for t in texts]
    assert F.letters_in(texts) == expected
    assert F.letters_in(texts * 300) == expected * 300  # in chunks
    assert F.letters_in([]) == [] and F.letters_in([""]) == [0]


def test_no_cjk_in_a_normalised_text_means_none_in_its_end_normalised_alone():
    """What the degeneration feature skips the tail on: where normalise(answer) holds no CJK,
    normalise(answer[-k:]) holds none either, for every cut (composing marks and jamo, kana
    voicing marks, compatibility forms around the cut)."""
    pieces = ["a", "\u1100", "\u1161", "\u11a8", "\uac00", "\u3099", "\u309b", "\u304b"]
    pieces += ["\u3131", "\u314f", "\uf900", "\u2f00", "\u3280", "\uff76", "\uff9e", "e"]
    pieces += ["\u0301", " ", "\u03a3", "\u0130", "\ufb01", "\u1e9b", "\u0308", "\u3000"]
    rng = random.Random(9)
    cjk, checked = refusal_features._CJK, 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        if cjk.search(refusal_features.normalise(text)) is None:
            checked += 1
            for cut in range(len(text)):
                assert cjk.search(refusal_features.normalise(text[cut:])) is None, text
    assert checked > 300


def test_glued_identifiers_found_without_the_regex_where_the_regex_finds_them():
    pieces = ["ab", "Cd", "e", "_", "XY", " ", "é", "字", "zzTop", "a_b", "ab_cd", "x\ud800"]
    texts = ["", "abCde", "abCd", "aCde", "ab_cd", "AB_CD", "a_bc", "ab_c", "éaBcd", "abÉcd"]
    texts += [
        "".join(pieces[(i * 5 + j * 7) % len(pieces)] for j in range(i % 7)) for i in range(600)
    ]
    texts += [a for _, a in _refusal_pairs()]
    anywhere = refusal_features._GLUED_ANYWHERE
    found = [refusal_features._glued_somewhere(t) for t in texts]
    assert found == [anywhere.search(t) is not None for t in texts]
    assert 10 < sum(found) < len(texts) - 10


def test_glued_identifiers_counted_without_the_regex_as_the_regex_counts_them():
    pieces = ["ab", "Cd", "e", "_", "XY", " ", "é", "字", "zzTop", "a_b", "ab_cd", "x\ud800"]
    pieces += [".", "1", "\u0663", "\xb2", "`", "fooBar", "FOO_BAR", "Def", "\n", "ß", "_x"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(30))) for _ in range(5000)]
    texts += [refusal_features.strip_code(a) for _, a in _refusal_pairs()]
    glued = refusal_features._GLUED.written
    counts = [refusal_features._glued_count(t) for t in texts]
    assert counts == [len(glued.findall(t)) for t in texts]
    assert sum(c > 1 for c in counts) > 100  # several in one text, and texts with none
    assert sum(c == 0 for c in counts) > 100


def test_a_prepared_answer_has_the_cjk_runs_of_its_text():
    texts = [
        "",
        "plain ascii",
        "ﬁne ＡＢＣ ① … e\u0301 ㌀ ｶ",
        "中文，全角！",
        "\ud800x",
        "mixed 中文 text",
    ]
    texts += [a for _, a in _refusal_pairs()] + _FOLDING
    prepared = [refusal_features.prepare(t) for t in texts]
    assert [p.runs for p in prepared] == [refusal_features._CJK.findall(p.text) for p in prepared]
    assert sum(bool(p.runs) for p in prepared) > 5
