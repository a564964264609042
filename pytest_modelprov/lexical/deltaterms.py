"""The ``delta`` distance's per-word terms, on all prompts or on many bootstrap resamples.

A comparison's bootstrap computes the distance on 200 resamples of the prompts. One
resample at a time, most of the work is finding the widely used words: summing every word
over the resample's prompts, thousands of words of which at most 200 are compared.
:class:`DeltaPair` prepares what does not depend on the resample once, finds the compared
words of many resamples at once from each prompt's used words and how often it was drawn,
and sums over prompts only the words some resample of a block compares. The figures are the
same, to the last bit, as one resample at a time (``tests/test_lexical_delta.py`` checks it,
also for resamples comparing one word or none, which are computed on their own). The
distances themselves are in ``distances``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from .common import Counts as Counts

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]
#: shared prompts from which the delta distance compares prompt by prompt (paired)
PAIRED_MIN = 8
#: elements (float64) of each resamples x prompts x words array the batched path holds at once
_BLOCK = 1_000_000


def widely_used_columns(
    total: IntArray, spread: FloatArray, kinds: npt.NDArray[np.int8], min_spread: float, k: int
) -> IntArray:
    """The ``k`` most frequent words (by ``total``) used in at least ``min_spread`` of the
    prompts (``spread``: each feature's share of prompts), most frequent first."""
    import numpy as np

    idx = np.flatnonzero((kinds == 1) & (spread >= min_spread))
    return np.asarray(idx[np.argsort(-total[idx], kind="stable")][:k], np.int64)


def rates(counts: IntArray, tokens: IntArray, cols: IntArray) -> FloatArray:
    """Per-prompt frequency (per 1000 words) of the words in columns ``cols`` (-1: a word
    this side did not keep, all zeros): prompts x words."""
    import numpy as np

    mat = np.zeros((counts.shape[0], cols.size))
    have = cols >= 0
    mat[:, have] = counts[:, cols[have]]
    return np.asarray(mat / np.maximum(tokens, 1)[:, None] * 1000.0, np.float64)


def paired(ids_a: Sequence[str], ids_b: Sequence[str]) -> tuple[list[int], list[int]]:
    """Rows of ``a`` and ``b`` answering the same prompt, matched in order of occurrence
    (a bootstrap resample repeats a prompt: its k-th copy in ``a`` pairs with its k-th in ``b``)."""
    where: dict[str, list[int]] = {}
    for i, p in enumerate(ids_b):
        where.setdefault(p, []).append(i)
    seen: dict[str, int] = {}
    rows_a, rows_b = [], []
    for i, p in enumerate(ids_a):
        k = seen.get(p, 0)
        if p in where and k < len(where[p]):
            rows_a.append(i)
            rows_b.append(where[p][k])
            seen[p] = k + 1
    return rows_a, rows_b


def _columns(features: Sequence[str], index: dict[str, int]) -> IntArray:
    """The column of each of ``features`` in the fingerprint of ``index`` (-1: not kept)."""
    import numpy as np

    return np.fromiter((index.get(f, -1) for f in features), np.int64, len(features))


class Resampler:
    """Bootstrap draws of prompts, one set of rows per fingerprint; prompts all of them
    answered are drawn together (a paired bootstrap), so one prompt's answers stay matched
    across models. Which rows hold which prompt is worked out once for all draws."""

    def __init__(self, fps: Sequence[Counts]) -> None:
        import numpy as np

        shared = set(fps[0].prompt_ids).intersection(*(fp.prompt_ids for fp in fps[1:]))
        order = sorted(shared)
        self.n_shared = len(order)
        self.paired: list[IntArray] = []  # each fingerprint's row of each shared prompt
        self.own: list[IntArray] = []  # its rows of prompts not all of them answered
        for fp in fps:
            where = {p: i for i, p in enumerate(fp.prompt_ids)}
            self.paired.append(np.fromiter((where[p] for p in order), np.int64, len(order)))
            self.own.append(
                np.asarray([i for i, p in enumerate(fp.prompt_ids) if p not in shared], np.int64)
            )

    def draw(self, rng: np.random.Generator) -> list[IntArray]:
        import numpy as np

        pick = rng.integers(0, self.n_shared, self.n_shared)
        out: list[IntArray] = []
        for paired_rows, own in zip(self.paired, self.own, strict=True):
            rows = own[rng.integers(0, own.size, own.size)] if own.size else own
            out.append(np.concatenate([paired_rows[pick], rows]))
        return out


def _terms(
    x: FloatArray,
    y: FloatArray,
    tokens_a: IntArray,
    tokens_b: IntArray,
    pairs: tuple[list[int], list[int]],
    floor: float,
) -> tuple[FloatArray, FloatArray]:
    """Per compared word (columns of the rates ``x`` and ``y``): its delta effect, and its
    spread over prompts (at least its count noise) relative to its squared mean frequency."""
    import numpy as np

    vx, vy = x.var(0, ddof=1), y.var(0, ddof=1)
    raw = (vx + vy) / 2.0
    rows_a, rows_b = pairs
    if len(rows_a) >= PAIRED_MIN:
        d = x[rows_a] - y[rows_b]
        diff, noise = d.mean(0), d.var(0, ddof=1) / len(rows_a)
    else:
        diff, noise = x.mean(0) - y.mean(0), vx / len(x) + vy / len(y)
    mean = np.concatenate([x, y]).mean(0)
    tokens = np.maximum(np.concatenate([tokens_a, tokens_b]), 1).astype(np.float64)
    return _effects(raw, diff, noise, mean, float(np.mean(1.0 / tokens)), floor)


def _effects(
    raw: FloatArray,
    diff: FloatArray,
    noise: FloatArray,
    mean: FloatArray,
    per_token: float,
    floor: float,
) -> tuple[FloatArray, FloatArray]:
    """The terms from each compared word's spread over prompts (``raw``), difference of
    means and its noise, and mean rate; ``per_token``: the mean of 1 / each text's tokens.
    Element by element, so the one-resample and the batched paths agree to the last bit."""
    import numpy as np

    spread = raw + floor * max(float(np.median(raw)), 1e-12)
    # a word's spread over prompts is at least its count noise (a Poisson count's variance,
    # per 1000 words): answers that repeat word for word on every prompt have no spread at
    # all, and a factor of 0 would report any two of them as identical
    counting = mean * 1000.0 * per_token
    relative = np.maximum(raw, counting) / np.maximum(mean, 1e-9) ** 2
    return np.asarray((diff**2 - noise) / spread, np.float64), np.asarray(relative, np.float64)


class DeltaPair:
    """Two fingerprints prepared for the delta terms on all their prompts or on resamples."""

    def __init__(self, a: Counts, b: Counts, min_spread: float, words: int) -> None:
        self.a, self.b = a, b
        self.min_spread, self.words = min_spread, words

    # each side's column of every feature of the other (-1: not kept there), for the
    # resamples together; one distance looks up only the words it compares (thousands of
    # lookups would be most of a single ``delta`` call)
    @cached_property
    def b_in_a(self) -> IntArray:
        return _columns(self.b.features, self.a._index)

    @cached_property
    def a_in_b(self) -> IntArray:
        return _columns(self.a.features, self.b._index)

    def _compared(self, counts_a: IntArray, counts_b: IntArray) -> tuple[IntArray, IntArray]:
        """Columns in ``a`` and in ``b`` of the words compared: a's widely used ones, then
        b's that a's do not include (-1 where a side did not keep the word)."""
        import numpy as np

        a, b = self.a, self.b
        own_a = widely_used_columns(
            counts_a.sum(0), (counts_a > 0).mean(0), a.kinds, self.min_spread, self.words
        )
        own_b = widely_used_columns(
            counts_b.sum(0), (counts_b > 0).mean(0), b.kinds, self.min_spread, self.words
        )
        b_in_a = _columns([b.features[i] for i in own_b.tolist()], a._index)
        others = ~np.isin(b_in_a, own_a)
        own_b = own_b[others]
        return (
            np.concatenate([own_a, b_in_a[others]]),
            np.concatenate([_columns([a.features[i] for i in own_a.tolist()], b._index), own_b]),
        )

    def terms(
        self, floor: float, rows_a: IntArray | None = None, rows_b: IntArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Per compared word of ``a.subset(rows_a)`` and ``b.subset(rows_b)`` (all rows when
        None): its delta effect and relative spread (see ``distances._delta_terms``)."""
        import numpy as np

        a, b = self.a, self.b
        ids_a = a.prompt_ids if rows_a is None else [a.prompt_ids[i] for i in rows_a.tolist()]
        ids_b = b.prompt_ids if rows_b is None else [b.prompt_ids[i] for i in rows_b.tolist()]
        if len(ids_a) < 2 or len(ids_b) < 2:
            raise ValueError(
                f"delta distance: {a.label} has {len(ids_a)} and {b.label} {len(ids_b)} "
                "prompt(s); each needs at least 2 to measure how much a word varies from "
                "prompt to prompt"
            )
        counts_a = a.counts if rows_a is None else a.counts[rows_a]
        counts_b = b.counts if rows_b is None else b.counts[rows_b]
        tokens_a = a.tokens if rows_a is None else a.tokens[rows_a]
        tokens_b = b.tokens if rows_b is None else b.tokens[rows_b]
        cols_a, cols_b = self._compared(counts_a, counts_b)
        if not cols_a.size:
            return np.zeros(0), np.zeros(0)
        x, y = rates(counts_a, tokens_a, cols_a), rates(counts_b, tokens_b, cols_b)
        return _terms(x, y, tokens_a, tokens_b, paired(ids_a, ids_b), floor)

    def _aligned(self, rows_a: IntArray, rows_b: IntArray) -> int | None:
        """How many leading rows pair up one to one in every resample, or None when the
        pairing is anything else (then each resample is computed on its own).

        A :class:`Resampler` puts the prompts all fingerprints answered first, drawn
        together; when ``a`` and ``b`` share no other prompt and neither repeats one, those
        leading rows are exactly the pairs :func:`paired` finds."""
        import numpy as np

        ids_a, ids_b = self.a.prompt_ids, self.b.prompt_ids
        if len(set(ids_a)) != len(ids_a) or len(set(ids_b)) != len(ids_b):
            return None
        both = sorted(set(ids_a) & set(ids_b))
        code = {p: i for i, p in enumerate(both)}
        code_a = np.fromiter((code.get(p, -1) for p in ids_a), np.int64, len(ids_a))
        code_b = np.fromiter((code.get(p, -1) for p in ids_b), np.int64, len(ids_b))
        n = len(both)
        lead_a, lead_b = code_a[rows_a[:, :n]], code_b[rows_b[:, :n]]
        if (lead_a < 0).any() or not np.array_equal(lead_a, lead_b):
            return None
        if (code_a[rows_a[:, n:]] >= 0).any() or (code_b[rows_b[:, n:]] >= 0).any():
            return None
        return n

    def terms_of_draws(
        self, floor: float, rows_a: IntArray, rows_b: IntArray
    ) -> list[tuple[FloatArray, FloatArray]]:
        """:meth:`terms` of each resample ``(rows_a[r], rows_b[r])``: when the resamples
        pair up as a :class:`Resampler` draws them, the sums over prompts of a block of
        resamples at once, in the order of additions :meth:`terms` uses (so the figures are
        the same); otherwise, and for a resample comparing fewer than two words, one
        resample at a time."""
        import numpy as np

        n_pairs = self._aligned(rows_a, rows_b)
        if n_pairs is None or rows_a.shape[1] < 2 or rows_b.shape[1] < 2:
            return [self.terms(floor, ra, rb) for ra, rb in zip(rows_a, rows_b, strict=True)]
        a, b = self.a, self.b
        # every word either side could compare ("all words"): a's, then b's that a lacks
        words_a = np.flatnonzero(a.kinds == 1)
        words_b = np.flatnonzero(b.kinds == 1)
        in_a = self.b_in_a[words_b]
        only_b = in_a < 0
        # each of b's words' place among all words
        at = np.full(len(a.features), -1, np.int64)
        at[words_a] = np.arange(words_a.size)
        place_b = np.where(only_b, words_a.size + np.cumsum(only_b) - 1, at[in_a])
        all_a = np.concatenate([words_a, np.full(int(only_b.sum()), -1, np.int64)])
        all_b = np.concatenate([self.a_in_b[words_a], words_b[only_b]])
        side_a, side_b = _Used(a.counts[:, words_a]), _Used(b.counts[:, words_b])
        # which words each resample compares, for as many resamples at once as fit
        chunk = max(1, _BLOCK // max(1, words_a.size, words_b.size))
        chosen: list[IntArray] = []
        for start in range(0, rows_a.shape[0], chunk):
            ra, rb = rows_a[start : start + chunk], rows_b[start : start + chunk]
            chosen += self._chosen(ra, rb, side_a, side_b, place_b, all_a.size)
        # a block's rates cover the words its resamples compare: about ``words`` for each
        # side, most of them the same in every resample
        width = rows_a.shape[1] + rows_b.shape[1]
        block = max(1, _BLOCK // max(1, width * 2 * self.words))
        out: list[tuple[FloatArray, FloatArray]] = []
        for start in range(0, rows_a.shape[0], block):
            ra, rb = rows_a[start : start + block], rows_b[start : start + block]
            picked = chosen[start : start + block]
            # only the words some resample of the block compares: the rest (thousands of
            # rare words) would be summed over prompts for nothing
            cols = np.unique(np.concatenate(picked))
            terms = _block_terms(
                floor,
                rates(a.counts, a.tokens, all_a[cols])[ra],
                rates(b.counts, b.tokens, all_b[cols])[rb],
                np.concatenate([a.tokens[ra], b.tokens[rb]], axis=1),
                n_pairs,
                [np.searchsorted(cols, sel) for sel in picked],
            )
            for r, got in enumerate(terms):
                # one word or none: numpy sums a single column pairwise, not row by row as
                # in the block, and the median of no word warns; :meth:`terms` does both
                out.append(got if got is not None else self.terms(floor, ra[r], rb[r]))
        return out

    def _chosen(
        self,
        rows_a: IntArray,
        rows_b: IntArray,
        side_a: _Used,
        side_b: _Used,
        place_b: IntArray,
        n_words: int,
    ) -> list[IntArray]:
        """The words each resample compares, as places among all words, in the order
        :meth:`_compared` gives them (a's widely used ones, then b's that a's do not hold)."""
        import numpy as np

        top_a = self._top(rows_a, side_a)
        top_b = self._top(rows_b, side_b)
        out: list[IntArray] = []
        held = np.zeros(n_words, bool)
        for own_a, own_b in zip(top_a, top_b, strict=True):
            held[own_a] = True
            theirs = place_b[own_b]
            out.append(np.concatenate([own_a, theirs[~held[theirs]]]))
            held[own_a] = False
        return out

    def _top(self, rows: IntArray, side: _Used) -> list[IntArray]:
        """:func:`widely_used_columns` of each resample ``rows[r]`` of a side's words, as
        positions among those words."""
        import numpy as np

        total, used = side.sums(rows)
        # the share of rows using a word, as ``(counts > 0).mean(0)`` gives it: n / rows
        eligible = used / rows.shape[1] >= self.min_spread
        out: list[IntArray] = []
        for r in range(rows.shape[0]):
            # sorting only the eligible words (a few hundred of thousands); a stable sort
            # keeps ties in column order, as :func:`widely_used_columns` does
            idx = np.flatnonzero(eligible[r])
            out.append(idx[np.argsort(-total[r, idx], kind="stable")][: self.words])
        return out


class _Used:
    """A side's word counts (prompts x words) as each prompt's used words and their counts,
    for the sums over the rows of many resamples at once."""

    def __init__(self, counts: IntArray) -> None:
        import numpy as np

        self.n_words = counts.shape[1]
        self.cols = [np.flatnonzero(row) for row in counts]
        self.counts = [
            row[cols].astype(np.float64)[:, None]
            for row, cols in zip(counts, self.cols, strict=True)
        ]

    def sums(self, rows: IntArray) -> tuple[FloatArray, FloatArray]:
        """Each resample's (``rows[r]``) total count of each word and how many of its rows
        use it: resamples x words, twice.

        A resample's sum over its rows is each prompt's counts times how often the prompt
        was drawn. Adding only a prompt's used words (a few hundred of thousands) costs less
        than copying resamples x prompts x words, and, unlike a matrix product, starts no
        BLAS threads (they spin for a while after each product: more CPU than they save on
        products this small). Sums of counts as floats are exact integers far below 2**53.
        """
        import numpy as np

        times = np.zeros((len(self.cols), rows.shape[0]))
        np.add.at(times, (rows, np.arange(rows.shape[0])[:, None]), 1.0)
        total = np.zeros((self.n_words, rows.shape[0]))
        used = np.zeros((self.n_words, rows.shape[0]))
        for p, (cols, counts) in enumerate(zip(self.cols, self.counts, strict=True)):
            drawn = times[p]
            if drawn.any():
                total[cols] += counts * drawn
                used[cols] += drawn
        return total.T, used.T


def _block_terms(
    floor: float,
    x: FloatArray,
    y: FloatArray,
    tokens: IntArray,
    n_pairs: int,
    chosen: Sequence[IntArray],
) -> list[tuple[FloatArray, FloatArray] | None]:
    """:func:`_terms` of each resample of rates (resamples x prompts x words), on the words
    ``chosen[r]`` (columns of the rates); the sums over prompts of every word of every
    resample at once. None for a resample comparing fewer than two words (its caller
    computes those on their own)."""
    import numpy as np

    vx, vy = x.var(1, ddof=1), y.var(1, ddof=1)
    raw_all = (vx + vy) / 2.0
    if n_pairs >= PAIRED_MIN:
        d = x[:, :n_pairs] - y[:, :n_pairs]
        diff_all, noise_all = d.mean(1), d.var(1, ddof=1) / n_pairs
    else:
        diff_all = x.mean(1) - y.mean(1)
        noise_all = vx / x.shape[1] + vy / y.shape[1]
    mean_all = np.concatenate([x, y], axis=1).mean(1)
    inverse = 1.0 / np.maximum(tokens, 1).astype(np.float64)
    out: list[tuple[FloatArray, FloatArray] | None] = []
    for r, sel in enumerate(chosen):
        if sel.size < 2:
            out.append(None)
            continue
        per_token = float(np.mean(inverse[r]))
        raw, mean = raw_all[r, sel], mean_all[r, sel]
        out.append(_effects(raw, diff_all[r, sel], noise_all[r, sel], mean, per_token, floor))
    return out
