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

import numpy as np
import numpy.typing as npt

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

IntArray = npt.NDArray[np.int64]
HashArray = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]

# character classes of the vectorised tokeniser
SKIP, LETTER, CJK, PUNCT, APOSTROPHE = 0, 1, 2, 3, 4
_MULTI = 0x80  # flag in a class: casefold gives several characters (the slow path)
_P = 0x100000001B3  # odd, so invertible modulo 2**64
_P_INV = pow(_P, -1, 2**64)
_MIX = 0x9E3779B97F4A7C15
_MASK = 2**64 - 1


def normalise(text: str) -> str:
    """NFKC, casefold, straight apostrophes, word-count footers removed."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return _FOOTER.sub(" ", text)


def _nfkc(text: str) -> str:
    # the quick check is ~5x cheaper than normalising text that is already normal
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def _char_class(ch: str) -> int:
    """Class of one (already folded) character under the rules of ``_WORD``."""
    if ch == "'":
        return APOSTROPHE
    if _CJK_CHAR.match(ch):
        return CJK
    # Python's \w is isalnum() or "_", \d is isdecimal(), \s is isspace()
    if ch.isalnum() and not ch.isdecimal():
        return LETTER
    if not ch.isalnum() and ch != "_" and not ch.isspace():
        return PUNCT
    return SKIP


@dataclass(frozen=True)
class _Table:
    fold: npt.NDArray[np.uint32]  # folded code point (apostrophes straightened, casefolded)
    cls: npt.NDArray[np.uint8]
    alpha: BoolArray  # folded character is alphabetic (str.isalpha)
    multi: BoolArray  # casefold gives several characters: the slow path handles these


def _describe(points: Sequence[int]) -> _Table:
    n = len(points)
    fold = np.empty(n, np.uint32)
    cls = np.empty(n, np.uint8)
    alpha = np.empty(n, np.bool_)
    multi = np.zeros(n, np.bool_)
    for i, c in enumerate(points):
        ch = chr(c)
        f = ch.translate(_APOSTROPHES).casefold()
        if len(f) != 1:
            multi[i] = True
            f = ch
        fold[i] = ord(f)
        cls[i] = _char_class(f) | (_MULTI if multi[i] else 0)
        alpha[i] = f.isalpha()
    return _Table(fold, cls, alpha, multi)


@lru_cache(maxsize=1)
def _bmp() -> _Table:
    return _describe(range(0x10000))


_powers: list[HashArray] = [np.ones(1, np.uint64), np.ones(1, np.uint64)]


def _power_tables(n: int) -> tuple[HashArray, HashArray]:
    """P**i and P**-i modulo 2**64 for i < n (grown and kept between calls)."""
    if _powers[0].size < n:
        size = max(n, 2 * _powers[0].size, 1 << 16)
        for k, base in enumerate((_P, _P_INV)):
            table = np.ones(size, np.uint64)
            with np.errstate(over="ignore"):
                np.cumprod(np.full(size - 1, base, np.uint64), out=table[1:])
            _powers[k] = table
    return _powers[0][:n], _powers[1][:n]


def _finish(h: HashArray, lengths: IntArray) -> HashArray:
    with np.errstate(over="ignore"):
        out = (h ^ (lengths.astype(np.uint64) * np.uint64(_MIX))) * np.uint64(_P)
    return np.asarray(out, np.uint64)


def hash_strings(words: Sequence[str]) -> HashArray:
    """The token hash of each (already tokenised, folded) string, as :func:`tokenise_many`
    computes it."""
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


def tokenise_many(texts: Sequence[str]) -> Tokens:
    """Tokenise all ``texts`` in one vectorised pass (same tokens as :func:`tokenise`)."""
    norm = [_nfkc(t) for t in texts]
    folded = False
    while True:
        joined = "\n".join(norm)
        raw = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
        table = _bmp()
        if raw.size and int(raw.max()) >= 0x10000:
            astral = np.flatnonzero(raw >= 0x10000)
            index = np.minimum(raw, 0xFFFF)
        else:
            astral, index = None, raw
        cp = table.fold[index]
        cls = table.cls[index]
        multi = bool(cls.size) and int(cls.max()) >= _MULTI
        if astral is not None:
            points, inverse = np.unique(raw[astral], return_inverse=True)
            extra = _describe(points.tolist())
            cp[astral], cls[astral] = extra.fold[inverse], extra.cls[inverse]
            multi = multi or bool(extra.multi.any())
            cls[astral] &= ~np.uint8(_MULTI)
        if not multi or folded:
            cls &= ~np.uint8(_MULTI)
            break
        # rare (e.g. German sharp s): casefold changes the length, so fold as text
        norm = [t.casefold() for t in norm]
        folded = True

    lengths = np.fromiter(map(len, norm), np.int64, len(norm))
    doc_starts = np.cumsum(lengths + 1) - (lengths + 1)
    _blank_footers(norm, cp, cls, doc_starts)

    n = cp.size
    letter = cls == LETTER
    apos = cls == APOSTROPHE
    word = letter.copy()
    if n >= 3:
        # an apostrophe between letters joins them, but a word takes one apostrophe part
        # only: in a chain like "rock'n'roll" the 1st, 3rd, ... apostrophes join
        cand = np.flatnonzero(apos[1:-1] & letter[:-2] & letter[2:]) + 1
        if cand.size:
            not_letter = np.cumsum(~letter, dtype=np.int32)
            same = not_letter[cand[1:] - 1] == not_letter[cand[:-1]]
            new = np.concatenate(([True], ~same))
            group = np.cumsum(new) - 1
            ordinal = np.arange(cand.size) - np.flatnonzero(new)[group]
            word[cand[ordinal % 2 == 0]] = True
    before = np.concatenate(([False], word[:-1]))
    after = np.concatenate((word[1:], [False]))
    single = (cls == CJK) | (cls == PUNCT) | (apos & ~word)
    starts = np.flatnonzero((word & ~before) | single)
    ends = starts + 1
    is_word = word[starts]
    ends[is_word] = np.flatnonzero(word & ~after) + 1
    # possessive "'s" belongs to the word: "elara's" counts as "elara"
    if n:
        e = ends[is_word]
        poss = (e - starts[is_word] >= 3) & (cp[e - 2] == 39) & (cp[e - 1] == 115)
        ends[np.flatnonzero(is_word)[poss]] -= 2

    pw, inv = _power_tables(n + 1)
    prefix = np.zeros(n + 1, np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(cp.astype(np.uint64) * pw[:n], out=prefix[1:])
        h = (prefix[ends] - prefix[starts]) * inv[starts]
    return Tokens(
        text=joined,
        folded=cp,
        starts=starts.astype(np.int64),
        ends=ends.astype(np.int64),
        hashes=_finish(h, ends - starts),
        docs=np.searchsorted(doc_starts, starts, side="right") - 1,
        alpha=_is_alpha(cp[starts]),
        n_texts=len(norm),
    )


def _is_alpha(points: npt.NDArray[np.uint32]) -> BoolArray:
    table = _bmp()
    out = table.alpha[np.minimum(points, 0xFFFF)]
    for i in np.flatnonzero(points >= 0x10000).tolist():
        out[i] = chr(int(points[i])).isalpha()
    return out


def _blank_footers(
    texts: Sequence[str],
    cp: npt.NDArray[np.uint32],
    cls: npt.NDArray[np.uint8],
    doc_starts: IntArray,
) -> None:
    """Turn word-count footers into spaces (only texts containing "word" can have one)."""
    if cp.size < 4:
        return
    hit = np.flatnonzero(
        (cp[:-3] == ord("w")) & (cp[1:-2] == ord("o")) & (cp[2:-1] == ord("r")) & (cp[3:] == 100)
    )
    if not hit.size:
        return
    for d in np.unique(np.searchsorted(doc_starts, hit, side="right") - 1).tolist():
        base = int(doc_starts[d])
        for m in _FOOTER.finditer(texts[d]):
            cp[base + m.start() : base + m.end()] = 32
            cls[base + m.start() : base + m.end()] = SKIP


def tokenise(text: str) -> list[str]:
    """Lowercase words; each CJK character is its own token.

    Possessive ``'s`` is merged into its word ("elara's" counts as "elara") so a name is
    not split into two features.
    """
    return tokenise_many([text]).strings()


def is_cjk(token: str) -> bool:
    return _CJK_CHAR.match(token) is not None


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """The package's English function-word list (``data/lexical/function_words.txt``)."""
    path = files("pytest_modelprov").joinpath("data/lexical/function_words.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def function_word_hashes() -> HashArray:
    """Token hashes of :func:`function_words` (sorted, for ``np.isin``)."""
    return np.sort(hash_strings(sorted(function_words())))
