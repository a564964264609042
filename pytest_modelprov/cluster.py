"""Hierarchical clustering of a distance matrix (average linkage, UPGMA), in pure Python.

Used to order the models of a fingerprint heat map and to draw the tree of a model among
its references, in the terminal (:meth:`Tree.ascii`) and in the HTML report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Node", "Tree", "upgma"]


@dataclass(frozen=True)
class Node:
    """A leaf (``leaf`` is its index) or a merge of ``left`` and ``right`` at ``height``.

    ``height`` is the average distance between the members of the two merged clusters
    (0 for a leaf); ``members`` are the leaf indices below, in drawing order.
    """

    height: float
    members: tuple[int, ...]
    leaf: int | None = None
    left: Node | None = None
    right: Node | None = None

    @property
    def is_leaf(self) -> bool:
        return self.leaf is not None


@dataclass(frozen=True)
class Tree:
    """The result of :func:`upgma`: the root, the leaf order and the merges in order."""

    root: Node
    labels: tuple[str, ...]
    #: (left members, right members, height) in the order the clusters were merged
    merges: tuple[tuple[tuple[int, ...], tuple[int, ...], float], ...]

    @property
    def order(self) -> list[int]:
        """Leaf indices top to bottom: members of every cluster are adjacent."""
        return list(self.root.members)

    def ascii(self, width: int = 40, *, unicode: bool = True) -> str:
        """The dendrogram drawn sideways: one row per leaf, heights along the x axis."""
        return _ascii(self, max(width, 8), unicode)


def _rows(matrix: Any) -> list[list[float]]:
    """``matrix`` (nested sequences, or a numpy array) as rows of floats, or ValueError
    naming its shape when it is not a square matrix."""
    shape = getattr(matrix, "shape", None)
    rows: list[list[float]] | None = None
    if shape is None or len(shape) == 2:
        try:
            rows = [[float(x) for x in row] for row in matrix]
        except TypeError:  # not a sequence of sequences: a scalar or a flat list
            rows = None
    if rows is None or any(len(row) != len(rows) for row in rows) or (shape is None and not rows):
        # (an empty list has shape (0,), as numpy saw it: not square either)
        found = tuple(shape) if shape is not None else _shape_of(matrix)
        raise ValueError(f"upgma: the distance matrix must be square, got shape {found}")
    return rows


def _shape_of(matrix: Any) -> tuple[int, ...]:
    if not isinstance(matrix, Iterable):
        return ()
    items = list(matrix)
    inner = {len(x) for x in items if isinstance(x, Sequence)}
    return (len(items), inner.pop()) if len(inner) == 1 else (len(items),)


def _check(matrix: Any, labels: Sequence[str] | None) -> list[list[float]]:
    d = _rows(matrix)
    n = len(d)
    if n == 0:
        raise ValueError("upgma: the distance matrix is empty")
    if not all(math.isfinite(x) for row in d for x in row):
        raise ValueError("upgma: the distance matrix holds NaN or infinite values")
    if any(x < 0 for row in d for x in row):
        raise ValueError("upgma: distances must not be negative")
    # numpy.allclose(d, d.T, rtol=1e-9, atol=1e-12), which this test was
    if any(
        abs(d[i][j] - d[j][i]) > 1e-12 + 1e-9 * abs(d[j][i]) for i in range(n) for j in range(n)
    ):
        raise ValueError("upgma: the distance matrix is not symmetric")
    if labels is not None and len(labels) != n:
        raise ValueError(f"upgma: {len(labels)} labels for a {n}x{n} distance matrix")
    return d


def upgma(matrix: Any, labels: Sequence[str] | None = None) -> Tree:
    """Cluster by average linkage: repeatedly merge the two clusters whose members are
    closest on average. Ties go to the pair that comes first (by first leaf), so the result
    never depends on floating-point noise in the order of the input.

    ``matrix`` is a square matrix of distances: nested sequences or a numpy array.
    The child holding the lower leaf index is drawn first, so leaf 0 (the model under
    test, by convention) is always the top row.
    """
    dist = _check(matrix, labels)
    n = len(dist)
    names = tuple(labels) if labels is not None else tuple(str(i) for i in range(n))
    clusters: list[Node] = [Node(0.0, (i,), leaf=i) for i in range(n)]
    # average distance between live clusters, kept as a matrix updated by Lance-Williams
    for i in range(n):
        dist[i][i] = math.inf
    live = list(range(n))
    merges = []
    while len(live) > 1:
        best: tuple[float, int, int] | None = None
        for a_pos, a in enumerate(live):
            for b in live[a_pos + 1 :]:
                value = dist[a][b]
                # exact ties resolved by slot order; 1e-12 absorbs summation noise
                if best is None or value < best[0] - 1e-12:
                    best = (value, a, b)
        assert best is not None
        height, a, b = best
        ca, cb = clusters[a], clusters[b]
        first, second = (ca, cb) if min(ca.members) < min(cb.members) else (cb, ca)
        merged = Node(height, first.members + second.members, left=first, right=second)
        size_a, size_b = len(ca.members), len(cb.members)
        # the new cluster reuses slot a; its distance to k is the size-weighted average
        for k in live:
            if k not in (a, b):
                dist[a][k] = dist[k][a] = (size_a * dist[a][k] + size_b * dist[b][k]) / (
                    size_a + size_b
                )
        clusters[a] = merged
        live.remove(b)
        merges.append((first.members, second.members, height))
    return Tree(clusters[live[0]], names, tuple(merges))


def _ascii(tree: Tree, width: int, unicode: bool) -> str:
    h_line, v_line, top, bottom, join = (
        ("─", "│", "┐", "┘", "├") if unicode else ("-", "|", "+", "+", "+")
    )
    order = tree.order
    n = len(order)
    label_width = max(len(tree.labels[i]) for i in order)
    top_height = tree.root.height
    scale = (width - 1) / top_height if top_height > 0 else 0.0
    rows = 2 * n - 1
    grid = [[" "] * (width + 1) for _ in range(rows)]
    leaf_row = {leaf: 2 * pos for pos, leaf in enumerate(order)}

    def col(height: float) -> int:
        return round(height * scale)

    def place(node: Node) -> tuple[int, int]:
        """Draw the subtree; return the row and column its stem leaves from."""
        if node.leaf is not None:
            return leaf_row[node.leaf], 0
        assert node.left is not None and node.right is not None
        here = col(node.height)
        ends = []
        for child in (node.left, node.right):
            row, start = place(child)
            for c in range(start, here):
                grid[row][c] = h_line
            ends.append(row)
        upper, lower = ends
        for r in range(upper + 1, lower):
            grid[r][here] = v_line
        grid[upper][here] = top
        grid[lower][here] = bottom
        mid = (upper + lower) // 2
        grid[mid][here] = join
        return mid, here + 1

    row, start = place(tree.root)
    for c in range(start, width + 1):
        grid[row][c] = h_line
    lines = []
    for r in range(rows):
        name = tree.labels[order[r // 2]] if r % 2 == 0 else ""
        lines.append(f"{name:<{label_width}} {''.join(grid[r])}".rstrip())
    axis_left = "0"
    axis_right = f"{top_height:.3f}"
    lines.append(
        " " * (label_width + 1) + axis_left + axis_right.rjust(max(width - len(axis_left), 1))
    )
    return "\n".join(lines)
