"""Phrase lists over a batch of texts: which phrases can match each text, found for all
texts at once.

:class:`~pytest_modelprov.fastre.Phrases` tests, text by text, whether each phrase's
literal strings are in the text (a substring test per phrase: most of the cost of a phrase
list over a short answer). :func:`primed` does the same for many texts with numpy and
hands each phrase list, for each text, the very phrases it would have kept (see
:meth:`Phrases._kept`), for the duration of a block.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from .fastre import Phrases, _lowered, _state

__all__ = ["primed"]


def _points(text: str) -> Any:
    """The code point of every character of ``text``, as 64-bit integers."""
    import numpy as np

    c = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return c.astype(np.int64)


def _codes(points: Any, size: int) -> Any:
    """The code of every ``size``-character substring of the text of ``points`` (21 bits a
    character)."""
    if len(points) < size:
        return points[:0]
    out = points[: len(points) - size + 1].copy()
    for j in range(1, size):
        out <<= 21
        out |= points[j : len(points) - size + 1 + j]
    return out


_TABLE = 1 << 20
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)  # 2^64 / golden ratio, as a signed 64-bit number


def _hashed(codes: Any) -> Any:
    # multiplicative hashing (numpy wraps the product around): the top bits of the product,
    # which every bit of the code reaches, into [0, _TABLE)
    return ((codes * _GOLDEN) >> (64 - _TABLE.bit_length() + 1)) & (_TABLE - 1)


# letters by how often they occur in prose, most often first
_COMMON = "etaoinsrhldcumfpgwybvkxjqz"


def _grams(string: str) -> tuple[str, ...]:
    """What a text must hold to hold ``string``: its rarest trigram by letter frequency (its
    bigram if it has two characters); nothing for a shorter string or one holding the
    separator. Only the speed depends on the choice: few texts hold a rare trigram."""
    if len(string) < 2 or "\0" in string:
        return ()
    if len(string) == 2:
        return (string,)

    def rarity(gram: str) -> int:
        return sum(_COMMON.find(ch) if ch in _COMMON else 30 for ch in gram)

    return (max((string[i : i + 3] for i in range(len(string) - 2)), key=rarity),)


def _occurring(
    scanned: Sequence[tuple[int, str, frozenset[bool]]],
    owners: Sequence[tuple[int, int, str]],
    vocab: dict[str, int],
    anchors: Sequence[tuple[int, int, int]],
    folds: Sequence[bool],
) -> list[tuple[int, int]]:
    """(scanned text, string) for every string that occurs in a scanned text serving its
    list's case mode: wherever a string's key gram stands in a text, the string is compared
    with the text at the place it would start there (all places at once, with numpy)."""
    import numpy as np

    joined = "\0".join(hay for _, hay, _ in scanned)
    lengths = np.array([len(hay) for _, hay, _ in scanned], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    points = _points(joined)
    hits, hit_ids = [], []
    for size in (2, 3):
        wanted_grams = [g for g in vocab if len(g) == size]
        if not wanted_grams:
            continue
        want = _codes(_points("\0".join(wanted_grams)), size)[:: size + 1]
        ids = np.array([vocab[g] for g in wanted_grams], dtype=np.int64)
        order = np.argsort(want)
        want, ids = want[order], ids[order]
        codes = _codes(points, size)
        slots = _hashed(want)
        if len(np.unique(slots)) == len(want):
            # each key alone in its slot of a hashed table: a position holds a key exactly
            # when its code is the one in its slot (no search)
            slot_of = np.zeros(_TABLE, dtype=np.int32)
            slot_of[slots] = np.arange(1, len(want) + 1)
            key = slot_of[_hashed(codes)]
            maybe = np.flatnonzero(key)
            at = key[maybe] - 1
            found = want[at] == codes[maybe]
            hits.append(maybe[found])
            hit_ids.append(ids[at[found]])
            continue
        # keys sharing a slot: the table rules out most positions, the rest are looked up
        marked = np.zeros(_TABLE, dtype=bool)
        marked[slots] = True
        maybe = np.flatnonzero(marked[_hashed(codes)])
        at = np.searchsorted(want, codes[maybe])
        at[at == len(want)] = 0
        found = want[at] == codes[maybe]
        hits.append(maybe[found])
        hit_ids.append(ids[at[found]])
    if not hits:
        return []
    hit, gid = np.concatenate(hits), np.concatenate(hit_ids)
    # each place a gram stands, for every string holding that gram (at each of its offsets)
    table = np.array(anchors, dtype=np.int64).reshape(-1, 3)
    table = table[np.argsort(table[:, 0], kind="stable")]
    first = np.searchsorted(table[:, 0], gid, side="left")
    per = np.searchsorted(table[:, 0], gid, side="right") - first
    which = np.repeat(first, per) + (
        np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    )
    string, begin = table[which, 1], np.repeat(hit, per) - table[which, 2]
    sizes = np.array([len(text) for _, _, text in owners], dtype=np.int64)
    row = np.searchsorted(starts, np.repeat(hit, per), side="right") - 1
    modes = np.array([sum(1 << m for m in mode) for _, _, mode in scanned], dtype=np.int64)
    fold_bit = np.array([1 << folds[li] for li, _, _ in owners], dtype=np.int64)
    fits = (
        (begin >= starts[row])
        & (begin + sizes[string] <= starts[row] + lengths[row])
        & (modes[row] & fold_bit[string] != 0)
    )
    string, begin, row = string[fits], begin[fits], row[fits]
    # the strings' characters, padded with -1 (no character): compared at every place
    width = int(sizes.max())
    chars = np.full((len(owners), width), -1, dtype=np.int64)
    for f, (_, _, text) in enumerate(owners):
        chars[f, : len(text)] = _points(text)
    # the first and the last character rule out most places in two gathers
    last = begin + sizes[string] - 1
    ends = (points[begin] == chars[string, 0]) & (points[last] == chars[string, sizes[string] - 1])
    string, begin, row = string[ends], begin[ends], row[ends]
    padded = np.concatenate((points, np.full(width, -2, dtype=np.int64)))
    expected = chars[string]
    window = padded[begin[:, None] + np.arange(width)]
    same = ((window == expected) | (expected == -1)).all(axis=1)
    pairs = np.unique(row[same] * len(owners) + string[same])
    return list(zip((pairs // len(owners)).tolist(), (pairs % len(owners)).tolist(), strict=True))


# characters of texts scanned at once: _occurring holds a few integer arrays of this length
# (some 60 bytes a character at its peak), so a large batch is looked at in parts rather
# than all at once (10,000 answers of 4,000 characters would need ~2.5 GB)
_SCAN_CHARS = 1 << 20


def _parts(
    scanned: Sequence[tuple[int, str, frozenset[bool]]],
) -> Iterator[Sequence[tuple[int, str, frozenset[bool]]]]:
    """``scanned`` in consecutive parts of at most ``_SCAN_CHARS`` characters (a longer
    text in a part of its own)."""
    begin, size = 0, 0
    for end, (_, hay, _) in enumerate(scanned):
        if end > begin and size + len(hay) > _SCAN_CHARS:
            yield scanned[begin:end]
            begin, size = end, 0
        size += len(hay) + 1
    if begin < len(scanned):
        yield scanned[begin:]


@contextlib.contextmanager
def primed(patterns: Sequence[Phrases], strings: Sequence[str]) -> Iterator[None]:
    """Within this block (in this thread), each phrase list looks at each of ``strings``
    (the same objects) with the phrases :class:`Phrases` would keep for it, found for all
    strings at once instead of one substring test per phrase and text (most of the cost of
    a phrase list over short answers). Every bigram and trigram of every text is looked up,
    with numpy, among the keys of the phrases' strings (for each string its rarest trigram,
    or the string itself when shorter); wherever a text holds a key, each string holding it
    is compared with the text where it would start (see :func:`_occurring`). The phrases
    kept are exactly those :meth:`Phrases._kept` keeps."""
    before = _state.primed
    lists = [p for p in patterns if p._prepare()]
    if _state.exact or not strings or not lists:
        yield
        return
    if before is not None and all((id(p), id(t)) in before for p in lists for t in strings):
        yield  # an outer block primed these already
        return
    table: dict[tuple[int, int], tuple[str, Any]] = dict(before or {})
    folds = [bool(p.flags & re.IGNORECASE) for p in lists]
    # the text each list looks its strings up in: lower-cased for a list that ignores case
    hays = {fold: [(_lowered(t) if fold else t) for t in strings] for fold in set(folds)}
    # the texts scanned, with their row and the case modes they serve: a text that is its
    # own lower-cased form (a normalised answer) is scanned once for every list
    scanned: list[tuple[int, str, frozenset[bool]]] = []
    for row in range(len(strings)):
        seen: dict[str, set[bool]] = {}
        for fold, texts in hays.items():
            hay = texts[row]
            if hay is not None:
                seen.setdefault(hay, set()).add(fold)
        scanned += [(row, hay, frozenset(modes)) for hay, modes in seen.items()]
    # every string of every phrase: (list, phrase, string); where its key gram stands in it
    owners: list[tuple[int, int, str]] = []
    vocab: dict[str, int] = {}
    anchors: list[tuple[int, int, int]] = []  # (gram id, string, offset of the gram in it)
    unkeyed: list[int] = []
    for li, p in enumerate(lists):
        for pi, wanted in enumerate(p._filters):
            for text in wanted:
                f = len(owners)
                owners.append((li, pi, text))
                grams = _grams(text)
                if not grams:
                    unkeyed.append(f)
                for g in grams:
                    gid = vocab.setdefault(g, len(vocab))
                    anchors += [
                        (gid, f, i) for i in range(len(text) - len(g) + 1) if text.startswith(g, i)
                    ]
    # each row's phrases kept, per list
    kept: list[list[set[int]]] = [[set(p._always) for p in lists] for _ in strings]
    if vocab:
        for part in _parts(scanned):
            for k, f in _occurring(part, owners, vocab, anchors, folds):
                li, pi, _ = owners[f]
                kept[part[k][0]][li].add(pi)
    for row, hay, modes in scanned:
        mine = kept[row]
        for f in unkeyed:
            li, pi, text = owners[f]
            if folds[li] in modes and text in hay:
                mine[li].add(pi)
    # what _kept hands out for each phrase: its pattern and its opening literal
    entries = [
        [
            (piece._fast or piece.fast, needle if opening else None)
            for piece, needle, opening in zip(p._pieces, p._needles or (), p._opening, strict=False)
        ]
        for p in lists
    ]
    for row, string in enumerate(strings):
        for li, p in enumerate(lists):
            hay = hays[folds[li]][row]
            if hay is None:
                table[(id(p), id(string))] = (string, None)
                continue
            chosen = entries[li]
            table[(id(p), id(string))] = (string, (hay, [chosen[i] for i in sorted(kept[row][li])]))
    _state.primed = table
    try:
        yield
    finally:
        _state.primed = before
