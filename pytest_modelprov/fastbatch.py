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
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .fastre import _CASE_PARTNERS, Phrases, _lowered, _state

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


# A filter over every bigram and trigram of the texts: each character's code point times its
# own odd multiplier, xor-ed (in 32 bits, wrapping), the top _FILTER_BITS bits index a table
# that marks the keys' slots. A table of 64 KB stays in the cache; only the positions it
# marks (a few in a hundred) are compared exactly, code against code.
_FILTER_BITS = 16
_MULTIPLIERS = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D)


def _mixed(points: Any, size: int) -> Any:
    """The filter's hash of every ``size``-character substring (``points``: 32-bit)."""
    import numpy as np

    end = len(points) - size + 1
    out = points[:end] * np.uint32(_MULTIPLIERS[0])
    for j in range(1, size):
        out ^= points[j : end + j] * np.uint32(_MULTIPLIERS[j])
    out >>= np.uint32(32 - _FILTER_BITS)
    return out


# how often each letter (and the space) stands in English prose, per thousand characters; any
# other character counts as rare
_FREQUENCY = {
    ch: n
    for chars, n in (
        (" ", 200), ("e", 127), ("t", 91), ("a", 82), ("o", 75), ("i", 70), ("n", 67),
        ("s", 63), ("h", 61), ("r", 60), ("d", 43), ("l", 40), ("cu", 28), ("mw", 24),
        ("f", 22), ("gy", 20), ("p", 19), ("b", 15), ("v", 10), ("k", 8), ("jx", 2), ("qz", 1),
    )
    for ch in chars
}  # fmt: skip
# trigrams so frequent in prose that a string holding one is better keyed by another
_FREQUENT = frozenset((
    "the", "and", "ing", "ion", "tio", "ent", "ati", "for", "her", "ter", "hat", "tha", "ere",
    "ate", "his", "con", "res", "ver", "all", "ons", "nce", "men", "ith", "ted", "ers", "pro",
    "thi", "wit", "are", "ess", "not", "ive", "was", "ect", "rea", "com", "eve", "per", "int",
    "est", "sta", "cti", "ica", "ist", "ear", "ain", "one", "our", "iti", "rat", "ell", "ant",
))  # fmt: skip


def _grams(string: str) -> tuple[str, ...]:
    """What a text must hold to hold ``string``: its rarest trigram by letter frequency (its
    bigram if it has two characters); nothing for a shorter string or one holding the
    separator. Only the speed depends on the choice: few texts hold a rare trigram."""
    if len(string) < 2 or "\0" in string:
        return ()
    if len(string) == 2:
        return (string,)

    def rarity(gram: str) -> float:
        common = sum(_FREQUENCY.get(ch, 0.5) for ch in gram)
        return -common * (100 if gram in _FREQUENT else 1)

    return (max((string[i : i + 3] for i in range(len(string) - 2)), key=rarity),)


class _Tables:
    """What :func:`primed` reads off a tuple of phrase lists, the same for every batch: every
    string of every phrase (list, phrase, string), the key gram of each and where it stands
    in it, and the numpy tables :func:`_occurring` looks the grams and strings up in."""

    def __init__(self, lists: Sequence[Phrases]) -> None:
        import numpy as np

        self.lists = tuple(lists)  # held: the cache is keyed by their ids
        self.folds = [bool(p.flags & re.IGNORECASE) for p in lists]
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
                            (gid, f, i)
                            for i in range(len(text) - len(g) + 1)
                            if text.startswith(g, i)
                        ]
        self.owners, self.vocab, self.unkeyed = owners, vocab, unkeyed
        self.always = [p._always for p in lists]
        # what _kept hands out for each phrase: its pattern and its opening literal
        self.entries = [
            [
                (piece._fast or piece.fast, needle, opening)
                for piece, needle, opening in zip(
                    p._pieces, p._needles or (), p._opening, strict=False
                )
            ]
            for p in lists
        ]
        # per gram size: the key in each slot of the filter, with the keys' gram ids and
        # codes; keys sharing a slot (never seen: a few hundred keys in 65,536 slots) are left
        # to the slower search of their sorted codes
        self.keys: dict[int, tuple[Any, Any, Any, Any]] = {}
        for size in (2, 3):
            wanted_grams = [g for g in vocab if len(g) == size]
            if not wanted_grams:
                continue
            joined = "\0".join(wanted_grams)
            want = _codes(_points(joined), size)[:: size + 1]
            ids = np.array([vocab[g] for g in wanted_grams], dtype=np.int64)
            raw = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            slots = _mixed(raw, size)[:: size + 1]
            if len(np.unique(slots)) == len(slots) and len(slots) < 1 << 15:
                # each slot's key (its place plus one; 0: none) in 2 bytes: 128 KB in cache
                key_of = np.zeros(1 << _FILTER_BITS, dtype=np.int16)
                key_of[slots] = np.arange(1, len(slots) + 1)
                self.keys[size] = (key_of, ids, want, None)
            else:
                order = np.argsort(want)
                marked = np.zeros(1 << _FILTER_BITS, dtype=np.bool_)
                marked[slots] = True
                self.keys[size] = (marked, None, want[order], ids[order])
        table = np.array(anchors, dtype=np.int64).reshape(-1, 3)
        table = table[np.argsort(table[:, 0], kind="stable")]
        gram_ids = np.arange(len(vocab))
        self.first = np.searchsorted(table[:, 0], gram_ids, side="left")
        self.per = np.searchsorted(table[:, 0], gram_ids, side="right") - self.first
        self.anchor_string = np.ascontiguousarray(table[:, 1])
        self.anchor_offset = np.ascontiguousarray(table[:, 2])
        self.sizes = np.array([len(text) for _, _, text in owners], dtype=np.int64)
        self.fold_bit = np.array([1 << self.folds[li] for li, _, _ in owners], dtype=np.int64)
        # the strings' characters, padded with -1 (no character)
        self.width = int(self.sizes.max()) if owners else 0
        chars = np.full((len(owners), self.width), -1, dtype=np.int64)
        for f, (_, _, text) in enumerate(owners):
            chars[f, : len(text)] = _points(text)
        self.chars = chars
        self.head = chars[:, 0].copy() if owners else chars[:, :0]
        self.tail = chars[np.arange(len(owners)), self.sizes - 1] if owners else self.head


_CACHE: dict[tuple[int, ...], _Tables] = {}
_CACHE_LOCK = threading.Lock()


def _tables(lists: Sequence[Phrases]) -> _Tables:
    key = tuple(id(p) for p in lists)
    found = _CACHE.get(key)
    if found is None or any(a is not b for a, b in zip(found.lists, lists, strict=True)):
        found = _Tables(lists)
        with _CACHE_LOCK:
            if len(_CACHE) >= 16:
                _CACHE.clear()  # bounded: callers prime a few fixed tuples of lists
            _CACHE[key] = found
    return found


def _occurring(
    scanned: Sequence[tuple[int, str, frozenset[bool]]], tables: _Tables
) -> list[tuple[int, int]]:
    """(scanned text, string) for every string that occurs in a scanned text serving its
    list's case mode: wherever a string's key gram stands in a text, the string is compared
    with the text at the place it would start there (all places at once, with numpy)."""
    import numpy as np

    joined = "\0".join(hay for _, hay, _ in scanned)
    lengths = np.array([len(hay) for _, hay, _ in scanned], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    narrow = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    points = narrow.astype(np.int64)
    hits, hit_ids = [], []
    for size, (table, gram_of, want, ids) in tables.keys.items():
        # (slot -> key + 1, gram ids, codes, None), or (marked slots, None, codes, gram ids)
        if len(narrow) < size:
            continue
        slot = _mixed(narrow, size)
        if ids is None:
            key = table[slot]
            maybe = np.flatnonzero(key)
        else:
            maybe = np.flatnonzero(table[slot])
        codes = points[maybe]
        for j in range(1, size):
            codes <<= 21
            codes |= points[maybe + j]
        if ids is None:
            # the one key of each slot: a position holds it exactly when the codes agree
            at = key[maybe] - 1
            found = codes == want[at]
            hits.append(maybe[found])
            hit_ids.append(gram_of[at[found]])
            continue
        at = np.searchsorted(want, codes)
        at[at == len(want)] = 0
        found = want[at] == codes
        hits.append(maybe[found])
        hit_ids.append(ids[at[found]])
    if not hits:
        return []
    hit, gid = np.concatenate(hits), np.concatenate(hit_ids)
    # each place a gram stands, for every string holding that gram (at each of its offsets)
    first, per = tables.first[gid], tables.per[gid]
    which = np.repeat(first, per) + (
        np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
    )
    place = np.repeat(hit, per)
    string, begin = tables.anchor_string[which], place - tables.anchor_offset[which]
    sizes = tables.sizes
    row = np.searchsorted(starts, place, side="right") - 1
    bits = {mode: sum(1 << m for m in mode) for mode in {mode for _, _, mode in scanned}}
    modes = np.array([bits[mode] for _, _, mode in scanned], dtype=np.int64)
    fits = (
        (begin >= starts[row])
        & (begin + sizes[string] <= starts[row] + lengths[row])
        & (modes[row] & tables.fold_bit[string] != 0)
    )
    string, begin, row = string[fits], begin[fits], row[fits]
    # the first and the last character rule out most places in two gathers
    last = begin + sizes[string] - 1
    ends = (points[begin] == tables.head[string]) & (points[last] == tables.tail[string])
    string, begin, row = string[ends], begin[ends], row[ends]
    width = tables.width
    expected = tables.chars[string]
    # past a string's end (a -1 in ``expected``) the window may read anything: clipped there
    # to the last character rather than padded (a copy of every character)
    window = points[np.minimum(begin[:, None] + np.arange(width), len(points) - 1)]
    same = ((window == expected) | (expected == -1)).all(axis=1)
    count = len(tables.owners)
    pairs = np.unique(row[same] * count + string[same])
    return list(zip((pairs // count).tolist(), (pairs % count).tolist(), strict=True))


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


def _lower(string: str, lowered: bool) -> str | None:
    """:func:`~.fastre._lowered` of ``string``; ``lowered``: it is its own lower-cased form."""
    if not lowered:
        return _lowered(string)
    # an ASCII string holds none of the (non-ASCII) characters that IGNORECASE folds past
    # str.lower; a string that holds one is searched with the whole pattern, as _lowered says
    return string if string.isascii() or _CASE_PARTNERS.search(string) is None else None


@contextlib.contextmanager
def primed(
    patterns: Sequence[Phrases], strings: Sequence[str], lowered: bool = False
) -> Iterator[None]:
    """Within this block (in this thread), each phrase list looks at each of ``strings``
    (the same objects) with the phrases :class:`Phrases` would keep for it, found for all
    strings at once instead of one substring test per phrase and text (most of the cost of
    a phrase list over short answers). Every bigram and trigram of every text is looked up,
    with numpy, among the keys of the phrases' strings (for each string its rarest trigram,
    or the string itself when shorter); wherever a text holds a key, each string holding it
    is compared with the text where it would start (see :func:`_occurring`). The phrases
    kept are exactly those :meth:`Phrases._kept` keeps.

    ``lowered``: the caller knows every string to be its own ``str.lower()`` (a normalised
    answer; lower-casing twice changes nothing): a list that ignores case looks its strings
    up in the string itself, not in a lower-cased copy of it."""
    before = _state.primed
    lists = [p for p in patterns if p._prepare()]
    if _state.exact or not strings or not lists:
        yield
        return
    if before is not None and all((id(p), id(t)) in before for p in lists for t in strings):
        yield  # an outer block primed these already
        return
    table: dict[tuple[int, int], tuple[str, Any]] = dict(before or {})
    tables = _tables(lists)
    folds = tables.folds
    # the text each list looks its strings up in: lower-cased for a list that ignores case
    hays = {fold: [(_lower(t, lowered) if fold else t) for t in strings] for fold in set(folds)}
    # the texts scanned, with their row and the case modes they serve: a text that is its
    # own lower-cased form (a normalised answer) is scanned once for every list
    scanned: list[tuple[int, str, frozenset[bool]]] = []
    if len(hays) == 1:
        ((fold, texts),) = hays.items()
        mode = frozenset((fold,))
        scanned = [(row, hay, mode) for row, hay in enumerate(texts) if hay is not None]
    else:
        for row in range(len(strings)):
            seen: dict[str, set[bool]] = {}
            for fold, texts in hays.items():
                hay = texts[row]
                if hay is not None:
                    seen.setdefault(hay, set()).add(fold)
            scanned += [(row, hay, frozenset(modes)) for hay, modes in seen.items()]
    owners = tables.owners
    # each row's phrases kept, per list
    kept: list[list[set[int]]] = [[set(a) for a in tables.always] for _ in strings]
    if tables.vocab:
        for part in _parts(scanned):
            for k, f in _occurring(part, tables):
                li, pi, _ = owners[f]
                kept[part[k][0]][li].add(pi)
    if tables.unkeyed:
        for row, hay, modes in scanned:
            mine = kept[row]
            for f in tables.unkeyed:
                li, pi, text = owners[f]
                if folds[li] in modes and text in hay:
                    mine[li].add(pi)
    for li, p in enumerate(lists):
        chosen, own, texts = tables.entries[li], id(p), hays[folds[li]]
        for row, string in enumerate(strings):
            hay, found = texts[row], kept[row][li]
            table[(own, id(string))] = (
                string,
                None if hay is None else (hay, [chosen[i] for i in sorted(found)] if found else []),
            )
    _state.primed = table
    try:
        yield
    finally:
        _state.primed = before
