"""Counting a fingerprint's hashed features: group equal keys and keep the most frequent
ones seen in enough prompts (numpy, imported by the functions that count).

Split from :mod:`.fingerprints`, which holds what a fingerprint is, stores and compares; this
is only how its count matrices are made from the tokeniser's hashes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]


_GOLDEN = 0x9E3779B97F4A7C15


def group(keys: npt.NDArray[Any]) -> tuple[IntArray, npt.NDArray[Any], IntArray]:
    """Dense ids for ``keys``: ``(inverse, unique keys, counts)``, ids in no particular order.

    A vectorised open-addressing hash table: sorting (``np.unique``) was the slowest step of
    fingerprinting. Each round every unplaced key claims its slot if it is free; keys that
    find their slot taken by another key move one slot on (linear probing).
    """
    import numpy as np

    n = keys.size
    bits = max((2 * n).bit_length(), 4)
    size = 1 << bits
    with np.errstate(over="ignore"):
        slot = ((keys.astype(np.uint64) * np.uint64(_GOLDEN)) >> np.uint64(64 - bits)).astype(
            np.int64
        )
    table = np.zeros(size, keys.dtype)
    used = np.zeros(size, np.bool_)
    where = np.empty(n, np.int64)
    todo = np.arange(n)
    pending = keys
    while todo.size:
        free = ~used[slot]
        table[slot[free]] = pending[free]
        used[slot[free]] = True
        hit = table[slot] == pending
        where[todo[hit]] = slot[hit]
        miss = ~hit
        todo, pending, slot = todo[miss], pending[miss], (slot[miss] + 1) & (size - 1)
    dense = np.cumsum(used) - 1
    inverse = dense[where]
    uniq = table[used]
    return inverse, uniq, np.bincount(inverse, minlength=uniq.size)


def prefilter(keys: IntArray, rows: IntArray, need: int) -> tuple[IntArray, IntArray]:
    """Drop keys that certainly occur fewer than ``need`` times, before the exact grouping.

    Keys are counted by bucket (a count-min sketch with one row): a key's count is at most
    its bucket's, so a bucket below ``need`` holds no key that can qualify. Most n-grams
    occur once, and hashing them was the slowest step of fingerprinting.
    """
    import numpy as np

    bits = max((4 * keys.size).bit_length(), 4)
    with np.errstate(over="ignore"):
        bucket = ((keys.astype(np.uint64) * np.uint64(_GOLDEN)) >> np.uint64(64 - bits)).astype(
            np.intp
        )
    heavy = np.bincount(bucket, minlength=1 << bits)[bucket] >= need
    return keys[heavy], rows[heavy]


def select(
    keys: IntArray,
    rows: IntArray,
    n_rows: int,
    limit: int,
    min_prompts: int,
    dense: int | None = None,
) -> tuple[IntArray, IntArray]:
    """Keep the ``limit`` most frequent keys seen in >= ``min_prompts`` rows.

    ``dense``: the keys are already ids in ``range(dense)``. Returns the kept keys and
    their dense (rows x kept) count matrix.
    """
    import numpy as np

    if keys.size == 0 or limit <= 0:
        return np.zeros(0, np.int64), np.zeros((n_rows, 0), np.int64)
    need = min(min_prompts, n_rows)
    if dense is None and need > 1:
        keys, rows = prefilter(keys, rows, need)
        if keys.size == 0:
            return np.zeros(0, np.int64), np.zeros((n_rows, 0), np.int64)
    if dense is not None:
        inverse, uniq = keys, np.arange(dense, dtype=np.int64)
        totals = np.bincount(keys, minlength=dense)
    else:
        inverse, uniq, totals = group(keys)
    # a key seen fewer times than it needs prompts cannot qualify (most n-grams are seen once)
    cand = np.flatnonzero(totals >= need)
    slot = np.full(uniq.size, -1, np.int64)
    slot[cand] = np.arange(cand.size)
    s = slot[inverse]
    m = s >= 0
    pairs = s[m] * n_rows + rows[m]
    if cand.size * n_rows <= 1 << 24:
        seen = np.zeros(cand.size * n_rows, np.bool_)
        seen[pairs] = True
        spread = seen.reshape(cand.size, n_rows).sum(1)
    else:
        spread = np.bincount(np.unique(pairs) // n_rows, minlength=cand.size)
    eligible = cand[spread >= need]
    # most frequent first; ties broken by key so the selection is deterministic
    order = eligible[np.lexsort((uniq[eligible], -totals[eligible]))][:limit]
    column = np.full(uniq.size, -1, np.int64)
    column[order] = np.arange(order.size)
    col = column[inverse]
    mask = col >= 0
    flat = np.bincount(rows[mask] * order.size + col[mask], minlength=n_rows * order.size)
    return uniq[order], flat.reshape(n_rows, order.size)
