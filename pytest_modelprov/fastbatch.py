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
    # multiplicative hashing (numpy wraps the product around): into [0, _TABLE)
    return ((codes * _GOLDEN) >> 23) & (_TABLE - 1)


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


@contextlib.contextmanager
def primed(patterns: Sequence[Phrases], strings: Sequence[str]) -> Iterator[None]:
    """Within this block (in this thread), each phrase list looks at each of ``strings``
    (the same objects) with the phrases :class:`Phrases` would keep for it, found for all
    strings at once instead of one substring test per phrase and text (most of the cost of
    a phrase list over short answers). Every bigram and trigram of every text is looked up,
    with numpy, among the keys of the phrases' strings (for each string its rarest trigram,
    or the string itself when shorter); a string is looked for in a text (with ``in``, as
    before) only when the text holds its key, which every text holding the string does. The
    phrases kept are exactly those :meth:`Phrases._kept` keeps."""
    import numpy as np

    before = getattr(_state, "primed", None)
    lists = [p for p in patterns if p._prepare()]
    if getattr(_state, "exact", False) or not strings or not lists:
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
    # every string of every phrase: (list, phrase, string); its grams; the grams' ids
    owners: list[tuple[int, int, str]] = []
    vocab: dict[str, int] = {}
    incidence: list[list[int]] = []  # gram id -> strings holding it
    needs: list[int] = []
    unkeyed: list[int] = []
    for li, p in enumerate(lists):
        for pi, wanted in enumerate(p._filters):
            for text in wanted:
                f = len(owners)
                owners.append((li, pi, text))
                grams = _grams(text)
                needs.append(len(grams))
                if not grams:
                    unkeyed.append(f)
                for g in grams:
                    gid = vocab.setdefault(g, len(vocab))
                    if gid == len(incidence):
                        incidence.append([])
                    incidence[gid].append(f)
    # candidates[k]: strings whose every gram the k-th scanned text holds
    candidates: list[list[int]] = [[] for _ in scanned]
    if scanned and vocab:
        joined = "\0".join(hay for _, hay, _ in scanned)
        starts = np.cumsum([0] + [len(hay) + 1 for _, hay, _ in scanned[:-1]])
        points = _points(joined)
        pairs = []
        for size in (2, 3):
            wanted_grams = [g for g in vocab if len(g) == size]
            if not wanted_grams:
                continue
            want = _codes(_points("\0".join(wanted_grams)), size)[:: size + 1]
            ids = np.array([vocab[g] for g in wanted_grams], dtype=np.int64)
            order = np.argsort(want)
            want, ids = want[order], ids[order]
            codes = _codes(points, size)
            # a table of hashed codes rules out most positions in one gather; the few
            # left are looked up exactly (a binary search for each position costs more)
            marked = np.zeros(_TABLE, dtype=bool)
            marked[_hashed(want)] = True
            maybe = np.flatnonzero(marked[_hashed(codes)])
            at = np.searchsorted(want, codes[maybe])
            at[at == len(want)] = 0
            found = want[at] == codes[maybe]
            hit, at = maybe[found], at[found]
            rows = np.searchsorted(starts, hit, side="right") - 1
            pairs.append(np.unique(rows * len(vocab) + ids[at]))
        held = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
        rows, gids = held // len(vocab), held % len(vocab)
        # each (text, gram) held counts once for every string holding the gram
        sizes = np.array([len(x) for x in incidence], dtype=np.int64)
        flat = np.array([f for x in incidence for f in x], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        per = sizes[gids]
        expanded_rows = np.repeat(rows, per)
        firsts = np.repeat(offsets[gids], per)
        step = np.arange(int(per.sum())) - np.repeat(np.cumsum(per) - per, per)
        strings_of = flat[firsts + step]
        keys, counts = np.unique(expanded_rows * len(owners) + strings_of, return_counts=True)
        full = keys[counts == np.array(needs, dtype=np.int64)[keys % len(owners)]]
        for k, f in zip((full // len(owners)).tolist(), (full % len(owners)).tolist(), strict=True):
            candidates[k].append(f)
    # each row's phrases kept, per list
    kept: list[list[set[int]]] = [[set(p._always) for p in lists] for _ in strings]
    for (row, hay, modes), found_here in zip(scanned, candidates, strict=True):
        mine = kept[row]
        for f in found_here + unkeyed:
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
