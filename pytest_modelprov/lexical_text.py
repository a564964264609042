"""Tokenisation for lexical fingerprints: words for alphabetic scripts, characters for CJK."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib.resources import files

# Han, kana and CJK compatibility ideographs are written without spaces, so a "word" there is
# one character and phrases are character n-grams. Hangul is spaced, so it stays word-based.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK_CHAR = re.compile(f"[{_CJK}]")
# a letter run, optionally with one apostrophe part ("don't", "model's"); digits and
# underscores are not letters, so "4o" or "word_count" do not become words
_WORD = re.compile(f"[{_CJK}]|[^\\W\\d_{_CJK}]+(?:'[^\\W\\d_{_CJK}]+)?|[^\\w\\s]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})
# word-count footers and markdown noise are confounds the anchor method names explicitly
_FOOTER = re.compile(r"(?im)^\W*(?:word\s*count|words)\s*[:=]?\s*~?\d[\d,]*\W*$")


def normalise(text: str) -> str:
    """NFKC, casefold, straight apostrophes, word-count footers removed."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return _FOOTER.sub(" ", text)


def tokenise(text: str) -> list[str]:
    """Lowercase words; each CJK character is its own token.

    Possessive ``'s`` is merged into its word ("elara's" counts as "elara") so a name is
    not split into two features.
    """
    tokens = _WORD.findall(normalise(text))
    return [t[:-2] if t.endswith("'s") else t for t in tokens]


def is_cjk(token: str) -> bool:
    return _CJK_CHAR.match(token) is not None


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """The package's English function-word list (``data/lexical/function_words.txt``)."""
    path = files("pytest_modelprov").joinpath("data/lexical/function_words.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))
