"""A small non-linear second stage over the linear refusal model (stacking), for
``select_refusal.py``'s ``stack-*`` candidates only: it did not win on held-out models or
vendor families (2026-12-02), so nothing of it is in the package.

The linear heads (``model``) add up evidence; they cannot express that the same evidence
means different things together: a long answer with official-line phrasing and little
critique vocabulary, to a request to criticise, in Finnish, is an evasion, where each part
alone is weak. The second stage is a few hundred shallow regression trees, gradient-boosted
on the logistic loss (numpy only, deterministic), over the linear non-compliance head's
calibrated log-odds and the dense features (language flags and request types among them).
Boosting starts from the linear log-odds, so the trees learn corrections to it and a stage
with no trees is the linear model.

Training data for the second stage must be scores the linear head gives answers it did not
train on: its out-of-fold scores with whole models held out (those ``fit_matrix`` computes
for calibration), so the trees learn how the linear model errs on unseen models, as at use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BoostSettings:
    """The second stage's recipe (fixed in advance; ``benchmarks/select_refusal.py`` compares
    a few by nested cross-validation)."""

    depth: int = 2
    rounds: int = 100
    learning_rate: float = 0.1
    #: L2 shrinkage of each leaf's Newton step (XGBoost's lambda)
    l2: float = 1.0
    #: a split must leave this much Hessian weight (about 4x this many uncertain answers)
    #: on each side
    min_hessian: float = 3.0
    #: split points per feature: quantiles of the training values
    bins: int = 32


@dataclass
class Boosted:
    """Trees as flat arrays: node ``i`` of tree ``t`` splits on ``feature[t, i]`` at
    ``threshold[t, i]`` (left: value <= threshold) with children ``2i+1`` and ``2i+2``, or is
    a leaf (``feature == -1``) adding ``value[t, i]`` to the log-odds."""

    feature: Ints
    threshold: Floats
    value: Floats
    names: tuple[str, ...]

    def raw(self, x: Floats) -> Floats:
        """The summed tree outputs (log-odds corrections) of each row of ``x``."""
        n = x.shape[0]
        out = np.zeros(n)
        rows = np.arange(n)
        for t in range(self.feature.shape[0]):
            node = np.zeros(n, dtype=np.int64)
            feat = self.feature[t]
            while True:
                f = feat[node]
                inner = f >= 0
                if not inner.any():
                    break
                go_left = x[rows, np.where(inner, f, 0)] <= self.threshold[t][node]
                node = np.where(inner, np.where(go_left, 2 * node + 1, 2 * node + 2), node)
            out += self.value[t][node]
        return out


def _edges(x: Floats, bins: int) -> list[Floats]:
    """Candidate split points per column: distinct quantiles of the training values."""
    out = []
    qs = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    for j in range(x.shape[1]):
        values = np.unique(x[:, j])
        if len(values) <= bins:
            # midpoints between the distinct values (binary features: one split)
            edges = (values[:-1] + values[1:]) / 2
        else:
            edges = np.unique(np.quantile(x[:, j], qs))
        out.append(edges.astype(np.float64))
    return out


def fit_boosted(
    x: Floats,
    y: Floats,
    offset: Floats,
    names: Sequence[str],
    settings: BoostSettings | None = None,
) -> Boosted:
    """Boost ``settings.rounds`` trees of depth ``settings.depth`` on the logistic loss,
    starting from the log-odds ``offset``; splits are chosen on per-column histograms."""
    s = settings or BoostSettings()
    n, p = x.shape
    edges = _edges(x, s.bins)
    width = max((len(e) for e in edges), default=0) + 1
    # bin b of column j holds values in (edges[b-1], edges[b]]: x <= edges[b] iff bin <= b
    binned = np.stack([np.searchsorted(e, x[:, j], side="left") for j, e in enumerate(edges)], 1)
    flat = binned + np.arange(p, dtype=np.int64)[None, :] * width
    size = (1 << (s.depth + 1)) - 1
    features = np.full((s.rounds, size), -1, dtype=np.int64)
    thresholds = np.zeros((s.rounds, size))
    values = np.zeros((s.rounds, size))
    f = offset.astype(np.float64).copy()
    valid = np.zeros((p, width), dtype=bool)
    for j, e in enumerate(edges):
        valid[j, : len(e)] = True
    for t in range(s.rounds):
        prob = 1.0 / (1.0 + np.exp(-np.clip(f, -40, 40)))
        g, h = prob - y, prob * (1 - prob)
        node_of = np.zeros(n, dtype=np.int64)
        for node in range(size):
            rows = np.flatnonzero(node_of == node)
            gs, hs = float(g[rows].sum()), float(h[rows].sum())
            level = int(np.floor(np.log2(node + 1)))
            split = None
            if level < s.depth and len(rows) > 1:
                cells = flat[rows].ravel()
                gh = np.bincount(cells, np.repeat(g[rows], p), p * width).reshape(p, width)
                hh = np.bincount(cells, np.repeat(h[rows], p), p * width).reshape(p, width)
                gl, hl = np.cumsum(gh, 1), np.cumsum(hh, 1)
                gr, hr = gs - gl, hs - hl
                gain = gl**2 / (hl + s.l2) + gr**2 / (hr + s.l2) - gs**2 / (hs + s.l2)
                ok = valid & (hl >= s.min_hessian) & (hr >= s.min_hessian)
                gain = np.where(ok, gain, -np.inf)
                best = int(np.argmax(gain))
                if gain.flat[best] > 1e-9:
                    split = divmod(best, width)
            if split is None:
                values[t, node] = -s.learning_rate * gs / (hs + s.l2)
                continue
            j, b = split
            features[t, node] = j
            thresholds[t, node] = float(edges[j][b])
            left = binned[rows, j] <= b
            node_of[rows[left]] = 2 * node + 1
            node_of[rows[~left]] = 2 * node + 2
        f += values[t][node_of]
    return Boosted(features, thresholds, values, tuple(names))
