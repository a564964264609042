"""The hashed n-gram part of many answers' features at once, with numpy.

:func:`~.features.featurise` builds each token as a string (``"w:word"``, ``"ob:two words"``,
``"t:三个字"``) and hashes it with ``zlib.crc32``. :func:`token_buckets` gets the same
CRC-32 values for every token of a batch without building a token string or calling
anything per token.

CRC-32 runs a 32-bit register over the bytes: ``step(r, b) = T[(r ^ b) & 0xFF] ^ (r >> 8)``,
where the table ``T`` is linear over GF(2) (``T[x ^ y] = T[x] ^ T[y]``). So the register
after some bytes from a start ``r`` is ``L^n(r) ^ Z(bytes)``: ``L^n`` is ``n`` steps over
zero bytes (a linear map, applied with four 256-entry tables), and ``Z`` is the register
the same bytes leave when started from zero. A token is a prefix (``"w:"``, ``"ob:"``, ...)
then its text, so its register is ``L^n(prefix register) ^ Z(text)``, where the first term
depends only on the prefix and the length (a table), and ``Z`` of a word pair or a CJK
n-gram is made of the ``Z`` of its words or characters the same way. Only the words
themselves are run through byte by byte, all at once (one numpy step per byte position),
and stems are read off their words' registers on the way.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from .features import _CJK, _MASK, _OPENING_CHARS, _STEM, Prepared

Ints = npt.NDArray[np.int64]
Words = npt.NDArray[np.uint32]

__all__ = ["token_buckets"]


def _crc_table() -> Words:
    """The byte table of the reflected CRC-32 polynomial zlib uses."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1)
    return table


_TABLE = _crc_table()
# words of more bytes than this (rare) have their tokens hashed by zlib one by one: the
# byte loop would otherwise run position by position for a few long words
_LONG = 40
_SHIFTS = 2 * _LONG + 2  # the longest run of zero bytes a register is moved over


def _zero_step(x: Words) -> Words:
    """``L``: one step of the register over a zero byte."""
    out: Words = _TABLE[x & 0xFF] ^ (x >> 8)
    return out


def _shift_tables() -> Words:
    """``L^n`` for every ``n`` below ``_SHIFTS``, as four tables of 256 entries: the image of
    each byte of the register (``L^n`` is linear, so images of parts combine by xor)."""
    images = np.empty((_SHIFTS, 32), dtype=np.uint32)  # the image of each bit of a register
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
    for n in range(_SHIFTS):
        images[n] = basis
        basis = _zero_step(basis)
    by_byte = images.reshape(_SHIFTS, 4, 8)
    out = np.zeros((_SHIFTS, 4, 256), dtype=np.uint32)
    for bit in range(8):
        low = 1 << bit
        out[:, :, low : 2 * low] = out[:, :, :low] ^ by_byte[:, :, bit, None]
    return out


_SHIFT = _shift_tables().reshape(-1)


def _shifted(x: Words, n: Ints | int) -> Words:
    """``L^n(x)`` for each register (``n`` below ``_SHIFTS``: one for all, or one each)."""
    base = np.asarray(n, dtype=np.int64) * 1024
    out: Words = (
        _SHIFT[base + (x & 0xFF)]
        ^ _SHIFT[base + 256 + ((x >> 8) & 0xFF)]
        ^ _SHIFT[base + 512 + ((x >> 16) & 0xFF)]
        ^ _SHIFT[base + 768 + (x >> 24)]
    )
    return out


def _starts(kinds: str) -> Words:
    """``L^n`` of the register after the prefix of each token kind, for every ``n``: per
    kind, row 0 over the whole text, row 1 over its opening (prefix ``"o"``)."""
    prefixes = [f"{o}{kind}:" for kind in kinds for o in ("", "o")]
    # zlib hands out the complement of the register
    reg = np.array([~zlib.crc32(p.encode()) & 0xFFFFFFFF for p in prefixes], dtype=np.uint32)
    out = np.empty((_SHIFTS, len(prefixes)), dtype=np.uint32)
    for n in range(_SHIFTS):
        out[n] = reg
        reg = _zero_step(reg)
    starts: Words = out.T.reshape(len(kinds), 2, _SHIFTS)
    return starts


_WORD, _PAIR, _STEMS, _BIGRAM, _TRIGRAM = _starts("wbsct")
_SPACE = 0x20
_CJK_BYTES = 3  # every character of the CJK class is in the BMP above U+07FF


def _bucket(reg: Words) -> Ints:
    return ((~reg) & _MASK).astype(np.int64)


# answers hashed together: numpy's fixed costs shared, a few arrays of a few integers per
# character held at a time (a large batch goes through in chunks)
_CHUNK = 512


def token_buckets(answers: Sequence[Prepared]) -> tuple[Ints, Ints]:
    """(answer index, hash bucket) of every token of :func:`~.features.sparse_tokens` of
    every answer: for each answer, the multiset of buckets its token strings hash to."""
    if len(answers) <= _CHUNK:
        return _chunk_buckets(answers)
    rows, buckets = [], []
    for at in range(0, len(answers), _CHUNK):
        got = _chunk_buckets(answers[at : at + _CHUNK])
        rows.append(got[0] + at)
        buckets.append(got[1])
    return np.concatenate(rows), np.concatenate(buckets)


def _chunk_buckets(answers: Sequence[Prepared]) -> tuple[Ints, Ints]:
    texts: list[str] = []  # per segment: each answer's whole text, then its opening
    runs: list[str] = []
    run_counts: list[int] = []
    for p in answers:
        opening = p.text[:_OPENING_CHARS]
        opening_runs = _CJK.findall(opening) if p.runs else []
        texts += (p.text, opening)
        runs += p.runs
        runs += opening_runs
        run_counts += (len(p.runs), len(opening_runs))
    parts = []
    if answers:
        parts.append(_word_tokens(texts))
    if runs:
        segments = np.arange(2 * len(answers), dtype=np.int64)
        parts.append(_gram_tokens(runs, np.repeat(segments, run_counts)))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    segment, buckets = (np.concatenate(x) for x in zip(*parts, strict=True))
    return segment >> 1, buckets


# What _WORD reads: runs of letters ([^\W\d_]) of which two separated by one apostrophe
# make one word, and runs of digits; CJK characters are blanked before (features._tokens).
# Each character's class is read off those same classes, over the BMP once and beyond it
# per character met.
_LETTER, _DIGIT, _APOSTROPHE = 1, 2, 3
_CLASSES = ((_LETTER, r"[^\W\d_]+"), (_DIGIT, r"\d+"), (_APOSTROPHE, "['\u2019]+"))
_BEYOND: dict[int, int] = {}


@lru_cache(maxsize=1)
def _bmp_classes() -> npt.NDArray[np.uint8]:
    bmp = np.arange(0x10000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x10000, dtype=np.uint8)
    for kind, pattern in _CLASSES:
        for m in re.finditer(pattern, bmp):
            table[m.start() : m.end()] = kind
    for m in _CJK.finditer(bmp):
        table[m.start() : m.end()] = 0
    return table


def _classes(points: Words) -> npt.NDArray[np.uint8]:
    kinds: npt.NDArray[np.uint8] = _bmp_classes()[points & 0xFFFF]
    beyond = np.flatnonzero(points > 0xFFFF)
    if len(beyond):
        for point in np.unique(points[beyond]).tolist():
            if point not in _BEYOND:
                ch = chr(point)
                found = [k for k, pattern in _CLASSES if re.fullmatch(pattern, ch)]
                _BEYOND[point] = found[0] if found and not _CJK.match(ch) else 0
        kinds[beyond] = [_BEYOND[x] for x in points[beyond].tolist()]
    return kinds


def _runs(mask: npt.NDArray[np.bool_]) -> tuple[Ints, Ints]:
    """Start and end (exclusive) of each run of true values."""
    padded = np.concatenate(([False], mask, [False]))
    # where the value changes: a run starts, then ends, in turn
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def _sparse_runs(at: Ints) -> tuple[Ints, Ints]:
    """:func:`_runs` of a mask true at the sorted positions ``at`` (few: read off them)."""
    if not len(at):
        return at, at
    breaks = np.flatnonzero(at[1:] != at[:-1] + 1)
    return np.concatenate((at[:1], at[breaks + 1])), np.concatenate((at[breaks] + 1, at[-1:] + 1))


def _word_tokens(texts: list[str]) -> tuple[Ints, Ints]:
    """(segment, bucket) of the word, pair and stem tokens of each text (its segment: its
    place in ``texts``; an odd segment is an opening)."""
    joined = "\0".join(texts)  # no word holds "\0": none runs from one text into the next
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kinds = _classes(points)
    letters, letters_end = _runs(kinds == _LETTER)
    # a letter run takes the next one in when one apostrophe lies between them, unless it
    # was itself taken in: along a chain of such runs, every other one begins a word
    linked = np.zeros(len(letters), dtype=bool)
    if len(letters) > 1:
        linked[1:] = (letters[1:] == letters_end[:-1] + 1) & (
            kinds[letters_end[:-1]] == _APOSTROPHE
        )
    index = np.arange(len(letters))
    in_chain = index - np.maximum.accumulate(np.where(linked, 0, index))
    begins = in_chain % 2 == 0
    takes = begins & np.append(linked[1:], False)
    ends = np.where(takes, np.append(letters_end[1:], 0), letters_end)
    digits, digits_end = _sparse_runs(np.flatnonzero(kinds == _DIGIT))
    starts = np.concatenate((letters[begins], digits))
    order = np.argsort(starts, kind="stable")  # two sorted runs: merged in linear time
    starts, ends = starts[order], np.concatenate((ends[begins], digits_end))[order]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    segment = np.searchsorted(np.cumsum(lengths + 1), starts, side="right")
    # UTF-8 offset of every character (and of the end)
    size = (points >= 0x80).view(np.uint8) + (points >= 0x800).view(np.uint8)
    size += (points >= 0x10000).view(np.uint8)
    size += 1
    offset = np.concatenate(([0], np.cumsum(size, dtype=np.int64)))
    raw = joined.encode("utf-8", "surrogatepass")
    chars = ends - starts
    stem_ends = offset[np.minimum(starts + _STEM, len(points))]
    return _word_hashes(raw, offset[starts], offset[ends], chars, stem_ends, segment)


def _word_hashes(
    raw: bytes, starts: Ints, ends: Ints, chars: Ints, stem_ends: Ints, segment: Ints
) -> tuple[Ints, Ints]:
    """(segment, bucket) of the word, pair and stem tokens of the words at ``starts`` to
    ``ends`` of ``raw`` (``chars``: their lengths in characters; ``stem_ends``: where their
    first ``_STEM`` characters end), in order, each in its ``segment``."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    size = ends - starts
    stem_size = stem_ends - starts
    stemmed = chars > _STEM + 1
    opening = segment & 1
    paired = np.flatnonzero(segment[:-1] == segment[1:])
    long = size > _LONG
    zero, stem = _registers(buf, starts, size, stemmed & ~long, stem_size)
    word_reg = _WORD[opening, np.minimum(size, _LONG)] ^ zero
    stem_reg = _STEMS[opening, np.minimum(stem_size, _LONG)] ^ stem
    # the pair "a b": the prefix over all of it, then a and the space moved over b, then b
    a, b = paired, paired + 1
    short_b = np.minimum(size[b], _LONG)
    pair_reg = (
        _PAIR[opening[a], np.minimum(size[a] + 1 + size[b], _SHIFTS - 1)]
        ^ _shifted(_zero_step(zero[a]) ^ _TABLE[_SPACE], short_b)
        ^ zero[b]
    )
    short_pair = ~(long[a] | long[b])
    short_stem = stemmed & ~long
    buckets = [
        _bucket(word_reg[~long]),
        _bucket(pair_reg[short_pair]),
        _bucket(stem_reg[short_stem]),
    ]
    kept = [segment[~long], segment[paired[short_pair]], segment[short_stem]]
    # the tokens of long words (rare), by zlib
    seeds = {k: (zlib.crc32(f"{k}:".encode()), zlib.crc32(f"o{k}:".encode())) for k in "wbs"}
    slow: list[tuple[int, bytes, str]] = []  # (word, token text after the prefix, kind)
    for i in np.flatnonzero(long).tolist():
        slow.append((i, raw[starts[i] : ends[i]], "w"))
        if stemmed[i]:
            slow.append((i, raw[starts[i] : stem_ends[i]], "s"))
    for i in paired[~short_pair].tolist():
        slow.append((i, raw[starts[i] : ends[i]] + b" " + raw[starts[i + 1] : ends[i + 1]], "b"))
    if slow:
        kept.append(np.array([segment[i] for i, _, _ in slow], dtype=np.int64))
        buckets.append(
            np.array(
                [zlib.crc32(text, seeds[k][segment[i] & 1]) & _MASK for i, text, k in slow],
                dtype=np.int64,
            )
        )
    return np.concatenate(kept), np.concatenate(buckets)


def _registers(
    buf: npt.NDArray[np.uint8],
    starts: Ints,
    size: Ints,
    stemmed: npt.NDArray[np.bool_],
    stem_size: Ints,
) -> tuple[Words, Words]:
    """``Z`` of each word of at most ``_LONG`` bytes (the span ``starts``, ``size`` of
    ``buf``), and of the first ``stem_size`` bytes of each ``stemmed`` one.

    The words run longest first, so at byte position ``j`` those still running are a
    prefix of them: one table lookup per position for all of them."""
    zero = np.zeros(len(starts), dtype=np.uint32)
    stem = np.zeros(len(starts), dtype=np.uint32)
    short = np.flatnonzero(size <= _LONG)
    if not len(short):
        return zero, stem
    order = short[np.argsort((_LONG - size[short]).astype(np.uint8), kind="stable")]
    lengths = size[order]
    at = starts[order]
    reg = np.zeros(len(order), dtype=np.uint32)
    # how many words are longer than j, for every position j (lengths descend)
    running = np.searchsorted(-lengths, -np.arange(int(lengths[0])), side="left").tolist()
    # where each stem ends: the words (positions in ``order``) whose stem is that long
    has_stem = stemmed[order]
    stem_ends = stem_size[order]
    capture = {
        m: np.flatnonzero(has_stem & (stem_ends == m))
        for m in np.unique(stem_ends[has_stem]).tolist()
    }
    for j, k in enumerate(running):
        r = reg[:k]
        reg[:k] = _TABLE[(r ^ buf[at[:k]]) & 0xFF] ^ (r >> 8)
        at[:k] += 1
        got = capture.get(j + 1)
        if got is not None:
            stem[order[got]] = reg[got]
    zero[order] = reg
    return zero, stem


def _gram_tokens(runs: list[str], segment: Ints) -> tuple[Ints, Ints]:
    """(segment, bucket) of the bigrams and trigrams of CJK runs (a one-character run: that
    character, counted as a bigram; ``segment``: of each run)."""
    points = np.frombuffer("".join(runs).encode("utf-32-le"), dtype=np.uint32)
    sizes = np.fromiter(map(len, runs), dtype=np.int64, count=len(runs))
    ends = np.cumsum(sizes)
    run_of = np.repeat(np.arange(len(runs)), sizes)
    left = ends[run_of] - np.arange(len(points))  # characters from each to its run's end
    seg = segment[run_of]
    opening = seg & 1
    # ``Z`` of each character: its three UTF-8 bytes from a zero register
    zero = np.zeros(len(points), dtype=np.uint32)
    for byte in (0xE0 | (points >> 12), 0x80 | ((points >> 6) & 0x3F), 0x80 | (points & 0x3F)):
        zero = _TABLE[(zero ^ byte) & 0xFF] ^ (zero >> 8)
    moved = _shifted(zero, _CJK_BYTES)  # each character moved over one more
    two = np.flatnonzero(left >= 2)
    three = np.flatnonzero(left >= 3)
    one = (ends - sizes)[sizes == 1]
    return (
        np.concatenate((seg[two], seg[three], seg[one])),
        np.concatenate(
            (
                _bucket(_BIGRAM[opening[two], 2 * _CJK_BYTES] ^ moved[two] ^ zero[two + 1]),
                _bucket(
                    _TRIGRAM[opening[three], 3 * _CJK_BYTES]
                    ^ _shifted(moved[three], _CJK_BYTES)
                    ^ moved[three + 1]
                    ^ zero[three + 2]
                ),
                _bucket(_BIGRAM[opening[one], _CJK_BYTES] ^ zero[one]),
            )
        ),
    )
