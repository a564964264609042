"""Tokenisation for lexical fingerprints: words for alphabetic scripts, characters for CJK.

The rules are those of the regular expression ``_WORD`` applied to :func:`normalise`\\ d text;
:func:`tokenise_many` implements them with numpy over a whole corpus at once (one pass over
the code points, tokens identified by a 64-bit hash) because a regex call per text was what
made fingerprinting slow.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

# Han, kana and CJK compatibility ideographs are written without spaces, so a "word" there is
# one character and phrases are character n-grams. Hangul is spaced, so it stays word-based.
_CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
)
_CJK = "".join(f"{chr(a)}-{chr(b)}" for a, b in _CJK_RANGES)
# a letter run, optionally with one apostrophe part ("don't", "model's"); digits and
# underscores are not letters, so "4o" or "word_count" do not become words. The pattern of
# the tokeniser's specification (the tests compare with it); compiling it took ~5 ms in
# every process that imports the package's lexical part, and the tokeniser never uses it.
_WORD = f"[{_CJK}]|[^\\W\\d_{_CJK}]+(?:'[^\\W\\d_{_CJK}]+)?|[^\\w\\s]"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\uff07": "'"})
# word-count footers and markdown noise are confounds the anchor method names explicitly
_FOOTER = re.compile(r"(?im)^\W*(?:word\s*count|words)\s*[:=]?\s*~?\d[\d,]*\W*$")

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]
    HashArray = npt.NDArray[np.uint64]
    BoolArray = npt.NDArray[np.bool_]

# character classes of the vectorised tokeniser
SKIP, LETTER, CJK, PUNCT, APOSTROPHE = 0, 1, 2, 3, 4
_MULTI = 0x80  # flag in a class: casefold gives several characters (the slow path)
# one packed uint32 per code point, so a single table lookup describes a character:
# bits 0-20 the folded code point, then flags, and the class in the top byte
_CP_MASK = 0x1FFFFF
_ALPHA = 1 << 21  # the folded character is alphabetic (str.isalpha)
# NFKC maps it, whatever its neighbours, to characters that NFKC leaves alone ("…" -> "...")
_SIMPLE = 1 << 22
_COMPLEX = 1 << 23  # NFKC may change it or its neighbours: the text is normalised whole
_P = 0x100000001B3  # odd, so invertible modulo 2**64
_P_INV = pow(_P, -1, 2**64)
_MIX = 0x9E3779B97F4A7C15
_MASK = 2**64 - 1


def normalise(text: str) -> str:
    """NFKC, casefold, straight apostrophes, word-count footers removed."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return _FOOTER.sub(" ", text)


def _char_class(ch: str) -> int:
    """Class of one (already folded) character under the rules of ``_WORD``."""
    if ch == "'":
        return APOSTROPHE
    if _in_cjk_ranges(ch):
        return CJK
    # Python's \w is isalnum() or "_", \d is isdecimal(), \s is isspace()
    if ch.isalnum() and not ch.isdecimal():
        return LETTER
    if not ch.isalnum() and ch != "_" and not ch.isspace():
        return PUNCT
    return SKIP


# What _computed_seconds() finds under the Unicode versions of Python 3.10-3.13 (the same
# 133 characters in each): working it out takes ~20 ms, in every process that fingerprints
# anything. tests/test_lexical.py checks the constant against the running version.
_SECONDS_RANGES = (
    (0x0300, 0x0304), (0x0306, 0x030C), (0x030F, 0x030F), (0x0311, 0x0311), (0x0313, 0x0314),
    (0x031B, 0x031B), (0x0323, 0x0328), (0x032D, 0x032E), (0x0330, 0x0331), (0x0338, 0x0338),
    (0x0342, 0x0342), (0x0345, 0x0345), (0x05B4, 0x05B4), (0x05B7, 0x05B9), (0x05BC, 0x05BC),
    (0x05BF, 0x05BF), (0x05C1, 0x05C2), (0x0653, 0x0655), (0x093C, 0x093C), (0x09BC, 0x09BC),
    (0x09BE, 0x09BE), (0x09D7, 0x09D7), (0x0A3C, 0x0A3C), (0x0B3C, 0x0B3C), (0x0B3E, 0x0B3E),
    (0x0B56, 0x0B57), (0x0BBE, 0x0BBE), (0x0BD7, 0x0BD7), (0x0C56, 0x0C56), (0x0CC2, 0x0CC2),
    (0x0CD5, 0x0CD6), (0x0D3E, 0x0D3E), (0x0D57, 0x0D57), (0x0DCA, 0x0DCA), (0x0DCF, 0x0DCF),
    (0x0DDF, 0x0DDF), (0x0F72, 0x0F72), (0x0F74, 0x0F74), (0x0F80, 0x0F80), (0x0FB5, 0x0FB5),
    (0x0FB7, 0x0FB7), (0x102E, 0x102E), (0x1161, 0x1175), (0x11A8, 0x11C2), (0x1B35, 0x1B35),
    (0x3099, 0x309A), (0x110BA, 0x110BA), (0x11127, 0x11127), (0x1133E, 0x1133E),
    (0x11357, 0x11357), (0x114B0, 0x114B0), (0x114BA, 0x114BA), (0x114BD, 0x114BD),
    (0x115AF, 0x115AF), (0x11930, 0x11930), (0x1D165, 0x1D165), (0x1D16E, 0x1D172),
)  # fmt: skip
_SECONDS_VERSIONS = frozenset({"13.0.0", "14.0.0", "15.0.0", "15.1.0"})


@lru_cache(maxsize=1)
def _composition_seconds() -> frozenset[int]:
    """Characters that can compose with the character before them under NFC/NFKC."""
    if unicodedata.unidata_version in _SECONDS_VERSIONS:
        return frozenset(c for a, b in _SECONDS_RANGES for c in range(a, b + 1))
    return _computed_seconds()  # another Unicode version may have added some


def _computed_seconds() -> frozenset[int]:
    """:func:`_composition_seconds` worked out from the running Python's Unicode data."""
    out = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    for c in range(0x20000):  # no canonical pair decomposes beyond plane 1
        d = unicodedata.decomposition(chr(c))
        if d and not d.startswith("<") and len(parts := d.split()) == 2:
            out.add(int(parts[1], 16))
    return frozenset(out)


def _inert(ch: str, seconds: frozenset[int]) -> bool:
    """NFKC leaves ``ch`` alone and it cannot interact with its neighbours: a starter that
    composes with nothing before it, whose decomposition starts with such a starter."""
    head = unicodedata.normalize("NFKD", ch)[:1] or ch
    return (
        unicodedata.normalize("NFKC", ch) == ch
        and unicodedata.combining(ch) == 0
        and ord(ch) not in seconds
        and unicodedata.combining(head) == 0
        and ord(head) not in seconds
    )


def _nfkc_flag(ch: str, seconds: frozenset[int]) -> int:
    if 0xD800 <= ord(ch) < 0xE000:  # lone surrogates: leave them to unicodedata
        return _COMPLEX
    if _inert(ch, seconds):
        return 0
    nf = unicodedata.normalize("NFKC", ch)
    # NFKC(x c y) == NFKC(x) NFKC(c) NFKC(y) when NFKC(c) is a run of characters that
    # decompose to themselves and are inert, and x, y are inert or such characters too
    if (
        nf != ch
        and unicodedata.normalize("NFKD", ch) == nf
        and all(unicodedata.normalize("NFKD", x) == x and _inert(x, seconds) for x in nf)
    ):
        return _SIMPLE
    return _COMPLEX


def _describe(points: Sequence[int]) -> npt.NDArray[np.uint32]:
    """The packed table entries of these code points."""
    import numpy as np

    seconds = _composition_seconds()
    out = np.empty(len(points), np.uint32)
    for i, c in enumerate(points):
        ch = chr(c)
        f = ch.translate(_APOSTROPHES).casefold()
        multi = len(f) != 1
        if multi:
            f = ch
        cls = _char_class(f) | (_MULTI if multi else 0)
        alpha = _ALPHA if f.isalpha() else 0
        out[i] = ord(f) | alpha | _nfkc_flag(ch, seconds) | (cls << 24)
    return out


# The BMP table, filled as code points are first seen: describing all 65,536 up front cost
# ~85 ms in every process that fingerprints anything, for the few hundred a corpus uses.
# Made on first use, like numpy itself: importing the lexical package imports no numpy.
@lru_cache(maxsize=1)
def _bmp_arrays() -> tuple[npt.NDArray[np.uint32], BoolArray]:
    import numpy as np

    return np.zeros(0x10000, np.uint32), np.zeros(0x10000, bool)


def _bmp_table(raw: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    import numpy as np

    table, known = _bmp_arrays()
    bmp = raw[raw < 0x10000]
    if not known[bmp].all():
        new = np.unique(bmp[~known[bmp]])
        table[new] = _describe(new.tolist())
        known[new] = True  # after the entries: a racing reader never sees a blank
    return table


def _lookup(raw: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """Packed table entries of the code points ``raw``."""
    import numpy as np

    table = _bmp_table(raw)
    if not raw.size or int(raw.max()) < 0x10000:
        return table[raw]
    astral = np.flatnonzero(raw >= 0x10000)
    pk = table[np.minimum(raw, 0xFFFF)]
    points, inverse = np.unique(raw[astral], return_inverse=True)
    pk[astral] = _describe(points.tolist())[inverse]
    return pk


def _encode(text: str) -> npt.NDArray[np.uint32]:
    import numpy as np

    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)


# P**i and P**-i, grown on demand (empty until the first tokenisation)
_powers: list[HashArray] = []


def _power_tables(n: int) -> tuple[HashArray, HashArray]:
    """P**i and P**-i modulo 2**64 for i < n (grown and kept between calls)."""
    import numpy as np

    if not _powers or _powers[0].size < n:
        size = max(n, 2 * _powers[0].size if _powers else 0, 1 << 16)
        tables = []
        for base in (_P, _P_INV):
            table = np.ones(size, np.uint64)
            with np.errstate(over="ignore"):
                np.cumprod(np.full(size - 1, base, np.uint64), out=table[1:])
            tables.append(table)
        _powers[:] = tables
    return _powers[0][:n], _powers[1][:n]


def _finish(h: HashArray, lengths: IntArray) -> HashArray:
    import numpy as np

    with np.errstate(over="ignore"):
        out = (h ^ (lengths.astype(np.uint64) * np.uint64(_MIX))) * np.uint64(_P)
    return np.asarray(out, np.uint64)


def hash_strings(words: Sequence[str]) -> HashArray:
    """The token hash of each (already tokenised, folded) string, as :func:`tokenise_many`
    computes it."""
    import numpy as np

    out = np.empty(len(words), np.uint64)
    for i, w in enumerate(words):
        h, p = 0, 1
        for ch in w:
            h = (h + ord(ch) * p) & _MASK
            p = (p * _P) & _MASK
        out[i] = h
    return _finish(out, np.fromiter(map(len, words), np.int64, len(words)))


@dataclass(frozen=True)
class Tokens:
    """The tokens of several texts, as offsets into one joined text plus a hash per token.

    Hashes are 64-bit polynomial hashes of the folded token: two different tokens share
    one with probability ~1e-10 for a vocabulary of a million types.
    """

    text: str  # the texts joined by "\n", NFKC-normalised (casefolded in the slow path)
    folded: npt.NDArray[np.uint32]  # code points of ``text``, folded; footers blanked
    starts: IntArray
    ends: IntArray  # a possessive "'s" is excluded
    hashes: HashArray
    docs: IntArray  # index of each token's text
    alpha: BoolArray  # the token starts with a letter (a word or a CJK character)
    n_texts: int

    def __len__(self) -> int:
        return int(self.starts.size)

    def string(self, i: int) -> str:
        """Token ``i`` as text."""
        s = self.text[int(self.starts[i]) : int(self.ends[i])]
        return s.translate(_APOSTROPHES).casefold()

    def strings(self, which: IntArray | None = None) -> list[str]:
        """Tokens (all, or those at the indices ``which``) as text, decoded in one go."""
        import numpy as np

        idx = np.arange(len(self)) if which is None else np.asarray(which, np.int64)
        if not idx.size:
            return []
        starts, lengths = self.starts[idx], self.ends[idx] - self.starts[idx]
        # tokens never contain whitespace, so "\n" separates them safely
        width = lengths + 1
        offsets = np.cumsum(width) - width
        chars = np.full(int(width.sum()), ord("\n"), np.uint32)
        inside = np.arange(chars.size) - np.repeat(offsets, width)
        body = inside < np.repeat(lengths, width)
        chars[body] = self.folded[(np.repeat(starts, width) + inside)[body]]
        return chars[:-1].tobytes().decode("utf-32-le", "surrogatepass").split("\n")


def _normalised(texts: Sequence[str]) -> tuple[list[str], npt.NDArray[np.uint32]]:
    """NFKC of every text and the packed table entries of the texts joined by "\n".

    One lookup over the joined text finds the few texts NFKC changes; only those are
    normalised (characters such as "…" that NFKC maps on their own are replaced in place)
    and looked up again.
    """
    import numpy as np

    norm = list(texts)
    raw = _encode("\n".join(norm))
    pk = _lookup(raw)
    flags = pk.view(np.uint8)[2::4]  # the byte holding _ALPHA, _SIMPLE and _COMPLEX
    marked = np.flatnonzero(flags >= _SIMPLE >> 16)
    if not marked.size:
        return norm, pk
    lengths = np.fromiter(map(len, norm), np.int64, len(norm))
    doc_starts = np.cumsum(lengths + 1) - (lengths + 1)
    docs = np.searchsorted(doc_starts, marked, side="right") - 1
    hard = set(docs[flags[marked] >= _COMPLEX >> 16].tolist())
    changed, first = np.unique(docs, return_index=True)
    bounds = np.append(first, docs.size).tolist()
    for k, d in enumerate(changed.tolist()):
        if d in hard:
            norm[d] = unicodedata.normalize("NFKC", norm[d])
        else:
            for c in np.unique(raw[marked[bounds[k] : bounds[k + 1]]]).tolist():
                ch = chr(c)
                norm[d] = norm[d].replace(ch, unicodedata.normalize("NFKC", ch))
    # the changed texts are looked up together, then spliced in place of the old ones
    fresh = _lookup(_encode("".join(norm[d] for d in changed.tolist())))
    pieces: list[npt.NDArray[np.uint32]] = []
    at = done = 0
    for d in changed.tolist():
        start, size = int(doc_starts[d]), len(norm[d])
        pieces += [pk[at:start], fresh[done : done + size]]
        at, done = start + int(lengths[d]), done + size
    pieces.append(pk[at:])
    return norm, np.concatenate(pieces)


def _scan(pk: npt.NDArray[np.uint32]) -> tuple[IntArray, IntArray, HashArray]:
    """Token starts, ends and hashes of packed characters (all of one or several texts)."""
    import numpy as np

    n = pk.size
    cls = np.ascontiguousarray(pk.view(np.uint8)[3::4])
    letter = cls == LETTER
    apos = np.flatnonzero(cls == APOSTROPHE)
    single = (cls == CJK) | (cls == PUNCT)
    word = letter.copy()
    # an apostrophe between letters joins them, but a word takes one apostrophe part
    # only: in a chain like "rock'n'roll" the 1st, 3rd, ... apostrophes join
    inner = apos[(apos > 0) & (apos < n - 1)]
    cand = inner[letter[inner - 1] & letter[inner + 1]]
    joins = cand
    if cand.size > 1:
        # two candidates are in one chain when only letters lie between them
        gap = cand[1:] - cand[:-1]
        between = np.add.reduceat(letter, cand, dtype=np.int64)[:-1]
        chained = between == gap - 1
        new = np.concatenate(([True], ~chained))
        group = np.cumsum(new) - 1
        ordinal = np.arange(cand.size) - np.flatnonzero(new)[group]
        joins = cand[ordinal % 2 == 0]
    word[joins] = True
    loose = np.setdiff1d(apos, joins, assume_unique=True)
    single[loose] = True
    # possessive "'s" belongs to the word: "elara's" counts as "elara" (the apostrophe
    # joined letters, so the word has at least one letter before it)
    if joins.size:
        s_after = (pk[joins + 1] & _CP_MASK) == ord("s")
        last = joins + 2 >= n
        ends_word = last | ~word[np.minimum(joins + 2, n - 1)]
        poss = joins[s_after & ends_word]
        word[poss] = False
        word[poss + 1] = False
    edge = np.diff(word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero((edge[:-1] == 1) | single)
    ends = starts + 1
    is_word = word[starts]
    ends[is_word] = np.flatnonzero(edge == -1)
    pw, inv = _power_tables(n + 1)
    prefix = np.zeros(n + 1, np.uint64)
    with np.errstate(over="ignore"):
        np.multiply(pk & np.uint32(_CP_MASK), pw[:n], out=prefix[1:])
        np.cumsum(prefix[1:], out=prefix[1:])
        h = (prefix[ends] - prefix[starts]) * inv[starts]
    return starts, ends, _finish(h, ends - starts)


_NON_WORD = re.compile(r"\W*")


@lru_cache(maxsize=1)
def _footer_hashes() -> HashArray:
    """Hashes of the tokens a word-count footer starts with ("word count", "words: 5")."""
    return hash_strings(["word", "words", "wordcount"])


def tokenise_many(texts: Sequence[str]) -> Tokens:
    """Tokenise all ``texts`` in one vectorised pass (same tokens as :func:`tokenise`)."""
    import numpy as np

    norm, pk = _normalised(texts)
    if pk.size and int(pk.view(np.uint8)[3::4].max()) >= _MULTI:
        # rare (e.g. German sharp s): casefold changes the length, so fold as text
        norm = [t.casefold() for t in norm]
        pk = _lookup(_encode("\n".join(norm)))
        pk.view(np.uint8)[3::4] &= ~np.uint8(_MULTI)
    lengths = np.fromiter(map(len, norm), np.int64, len(norm))
    doc_starts = np.cumsum(lengths + 1) - (lengths + 1)
    starts, ends, hashes = _scan(pk)
    bounds = np.searchsorted(starts, np.append(doc_starts, pk.size + 1))
    # a word-count footer holds one of these tokens: only its text can have one, and only
    # if nothing but non-word characters precede the token on its line
    marks = _footer_hashes()
    hit = np.flatnonzero((hashes == marks[0]) | (hashes == marks[1]) | (hashes == marks[2]))
    found: dict[int, list[tuple[int, int]]] = {}
    for d, p in zip(
        (np.searchsorted(bounds, hit, side="right") - 1).tolist(),
        (starts[hit] - doc_starts[np.searchsorted(bounds, hit, side="right") - 1]).tolist(),
        strict=True,
    ):
        text = norm[d]
        if d not in found and _NON_WORD.fullmatch(text, text.rfind("\n", 0, p) + 1, p):
            found[d] = [m.span() for m in _FOOTER.finditer(text)]
    pieces = []
    for d, spans in sorted(found.items()):
        if not spans:
            continue
        base = int(doc_starts[d])
        for a, b in spans:
            pk[base + a : base + b] = ord(" ")  # class SKIP, no flags
        sub = _scan(pk[base : base + int(lengths[d])])
        pieces.append((int(bounds[d]), int(bounds[d + 1]), (sub[0] + base, sub[1] + base, sub[2])))
    if pieces:  # splice the re-tokenised texts in
        parts: list[list[npt.NDArray[Any]]] = [[], [], []]
        at = 0
        for lo, hi, sub in pieces:
            for k, arr in enumerate((starts, ends, hashes)):
                parts[k] += [arr[at:lo], sub[k]]
            at = hi
        for k, arr in enumerate((starts, ends, hashes)):
            parts[k].append(arr[at:])
        starts, ends, hashes = (np.concatenate(p) for p in parts)
        bounds = np.searchsorted(starts, np.append(doc_starts, pk.size + 1))
    docs = np.repeat(np.arange(len(norm)), np.diff(bounds))
    return Tokens(
        text="\n".join(norm),
        folded=pk & np.uint32(_CP_MASK),
        starts=starts.astype(np.int64),
        ends=ends.astype(np.int64),
        hashes=hashes,
        docs=docs,
        alpha=(pk[starts] & np.uint32(_ALPHA)) != 0,
        n_texts=len(norm),
    )


def tokenise(text: str) -> list[str]:
    """Lowercase words; each CJK character is its own token.

    Possessive ``'s`` is merged into its word ("elara's" counts as "elara") so a name is
    not split into two features.
    """
    return tokenise_many([text]).strings()


def is_cjk(token: str) -> bool:
    return bool(token) and _in_cjk_ranges(token[0])


def _in_cjk_ranges(ch: str) -> bool:
    # what the character class of _CJK matches, without compiling it (~3 ms per process)
    return any(a <= ord(ch) <= b for a, b in _CJK_RANGES)


def is_cjk_points(points: npt.NDArray[np.uint32]) -> BoolArray:
    """:func:`is_cjk` of tokens starting with each of these code points."""
    import numpy as np

    out = np.zeros(points.shape, np.bool_)
    for a, b in _CJK_RANGES:
        out |= (points >= a) & (points <= b)
    return out


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """The package's English function-word list (``data/lexical/function_words.txt``)."""
    path = files("pytest_modelprov").joinpath("data/lexical/function_words.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def function_word_hashes() -> HashArray:
    """Token hashes of :func:`function_words` (sorted, for ``np.isin``)."""
    import numpy as np

    return np.sort(hash_strings(sorted(function_words())))
