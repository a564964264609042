"""Review r3 of the refusal batch speed work (issue 19): texts where a shortcut gave another
answer than the code it stands for (a pattern as written, ``unicodedata``)."""

from __future__ import annotations

import random
import re

import pytest

from pytest_modelprov import fastbatch, fastre

# Greek words in capitals: str.lower turns a capital sigma at a word's end into the final
# sigma, where IGNORECASE matches the pattern's medial sigma to it all the same
GREEK = ["ΠΩΣ", "ΠΩΣ τα λες", "ΑΣ ΠΟΥΜΕ", "ΕΙΣΑΙ ΕΔΩ", "ΟΧΙ ΑΚΟΜΑ", "καλός", "Σ", "ΣΑΣ."]
PHRASES = ("πωσ τα", "ασ π", "εισ", "σασ", "α\\w+σ", "οχι")


def _spans(pattern: re.Pattern[str] | fastre.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


@pytest.mark.parametrize("text", GREEK)
def test_phrases_with_a_medial_sigma_find_a_capital_sigma_at_a_words_end(text):
    """A phrase's literal is looked up in the lower-cased text; a medial sigma in it could
    not be found where the text has a capital sigma lower-cased as a final one."""
    written = re.compile("|".join(f"(?:{p})" for p in PHRASES), re.I)
    fast = fastre.phrases(PHRASES, re.I)
    assert _spans(fast, text) == _spans(written, text)
    # and the batch path, which reads the same literals off the phrases
    with fastbatch.primed([fast], [text]):
        assert _spans(fast, text) == _spans(written, text)


def test_guarded_with_a_medial_sigma_is_possible_where_the_pattern_matches():
    pattern = fastre.guarded(r"\bπωσ\b", re.I)
    assert pattern.search("ΠΩΣ;") is not None
    assert pattern.possible("ΠΩΣ;")


def test_random_greek_texts_give_the_spans_of_the_patterns_as_written():
    rng = random.Random(41)
    pieces = ["Σ", "σ", "ς", "ΑΣ", "πω", "ΠΩ", " ", ".", "τα", "ΤΑ", "π", "ει", "ΕΙ", "α", "Α"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))) for _ in range(3000)]
    written = re.compile("|".join(f"(?:{p})" for p in PHRASES), re.I)
    fast = fastre.phrases(PHRASES, re.I)
    expected = [_spans(written, t) for t in texts]
    assert [_spans(fast, t) for t in texts] == expected
    with fastbatch.primed([fast], texts):
        assert [_spans(fast, t) for t in texts] == expected
    assert sum(bool(s) for s in expected) > 500
