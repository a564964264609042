"""NFKC of a text by folds of its characters, where NFKC would give the same.

``unicodedata.normalize("NFKC", text)`` decomposes, reorders and recomposes every character
of a text (~65 ns a character). Almost every character of an answer (letters, CJK, common
punctuation) is left as it is by NFKC and starts a new segment of it: nothing before it
reaches past it. A text whose other characters are each changed alone into such characters
(full-width punctuation, ligatures, compatibility forms) is normalised by replacing each of
them with its fold; any other text is normalised whole. :func:`build` reads the table of
the characters NFKC may change or join off the BMP once (~7 ms); until it has run,
:func:`nfkc` normalises every text whole (a run that never prepares a batch pays nothing).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["JOINING", "build", "nfkc"]

# The characters of the BMP (with a combining class of 0) that canonical composition joins to
# the character before them: Indic vowel parts, Hangul vowels and trailing consonants
JOINING = "\u09be\u09d7\u0b3e\u0b56\u0b57\u0bbe\u0bd7\u0cc2\u0cd5\u0cd6\u0d3e\u0d57\u0dcf"
JOINING += "\u0ddf\u0fb5\u0fb7\u102e\u1161-\u1175\u11a8-\u11c2\u1b35"
# Every character NFKC may change or join to a neighbour (built by build(), on the first
# features.prepare() of a text that is not ASCII; until then None, and every text is normalised
# whole), and what NFKC makes of each of them met so far alone (None: it may act on others)
_TABLE: re.Pattern[str] | None = None
_FOLDS: dict[str, str | None] = {}
_UNKNOWN = object()


def build() -> re.Pattern[str]:
    """A class of the characters NFKC may change or join to a neighbour: of the BMP, those it
    changes alone, the combining marks and JOINING; every lone surrogate and every character
    beyond the BMP. The others (almost all of a text: letters, CJK, common punctuation) are
    left as they are and start a new segment for NFKC (nothing before them reaches past)."""
    global _TABLE
    if _TABLE is None:
        joining = re.compile(f"[{JOINING}]")
        changed = [
            c
            for c in map(chr, range(0x10000))
            if unicodedata.combining(c) or joining.match(c) or unicodedata.normalize("NFKC", c) != c
        ]
        spans: list[list[int]] = []
        for point in map(ord, changed):
            if spans and spans[-1][1] == point - 1:
                spans[-1][1] = point
            else:
                spans.append([point, point])
        items = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in spans)
        _TABLE = re.compile(f"[{items}\\ud800-\\udfff\\U00010000-\\U0010ffff]")
    return _TABLE


def _fold(char: str, unstable: re.Pattern[str]) -> str | None:
    """NFKC of ``char`` alone when it acts on nothing around it: not a combining mark nor a
    joining character, and made only of characters :func:`build` leaves alone (one that
    may join to its neighbours, or become such: None)."""
    # one lookup, not a test then a read: another thread may clear the memo in between
    known = _FOLDS.get(char, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    fold: str | None = None
    point = ord(char)
    if point <= 0xFFFF and not (0xD800 <= point <= 0xDFFF) and not unicodedata.combining(char):
        made = unicodedata.normalize("NFKC", char)
        if not re.match(f"[{JOINING}]", char) and unstable.search(made) is None:
            fold = made
    if len(_FOLDS) >= 4096:
        _FOLDS.clear()  # bounded: a text can hold many distinct characters
    _FOLDS[char] = fold
    return fold


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``. Once :func:`build` has run, a text whose
    every character is left alone, or changed alone (each fold made of characters left alone:
    none joins to what stands before it, and nothing reaches past them), has each of the latter
    replaced by its fold; any other text is normalised whole."""
    unstable = _TABLE
    if unstable is None:
        return unicodedata.normalize("NFKC", text)
    found = unstable.findall(text)
    if not found:
        return text
    for char in set(found):
        fold = _fold(char, unstable)
        if fold is None:
            return unicodedata.normalize("NFKC", text)
        text = text.replace(char, fold)
    return text
