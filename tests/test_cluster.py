"""Average-linkage clustering against hand-worked cases and a brute-force re-computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pytest_modelprov.cluster import Node, upgma


def _line(points: list[float]) -> np.ndarray:
    p = np.array(points, dtype=float)
    return np.abs(p[:, None] - p[None, :])


def test_four_points_on_a_line_by_hand():
    # A=0, B=1, C=5, D=12. AB merge at 1; d(AB, C) = (5 + 4) / 2 = 4.5 is next;
    # d(ABC, D) = (12 + 11 + 7) / 3 = 10 (average over all pairs: not WPGMA's 9.25,
    # not single linkage's 7, not complete linkage's 12)
    tree = upgma(_line([0, 1, 5, 12]), ["A", "B", "C", "D"])
    assert [(a, b) for a, b, _ in tree.merges] == [((0,), (1,)), ((0, 1), (2,)), ((0, 1, 2), (3,))]
    assert [h for _, _, h in tree.merges] == pytest.approx([1.0, 4.5, 10.0])
    assert tree.order == [0, 1, 2, 3]
    assert tree.root.height == pytest.approx(10.0)


def test_leaf_zero_is_drawn_first_even_when_it_joins_last():
    # the same points, the outlier first: it merges last but is still the top row
    tree = upgma(_line([12, 0, 1, 5]), ["D", "A", "B", "C"])
    assert [h for _, _, h in tree.merges] == pytest.approx([1.0, 4.5, 10.0])
    assert tree.order == [0, 1, 2, 3]
    assert tree.root.left is not None and tree.root.left.leaf == 0


def test_two_pairs_by_hand():
    # {0, 2} at 2 and {1, 3} at 3; between the pairs the four cross distances average to 9
    d = np.array(
        [
            [0, 8, 2, 10],
            [8, 0, 9, 3],
            [2, 9, 0, 9],
            [10, 3, 9, 0],
        ],
        dtype=float,
    )
    tree = upgma(d, list("abcd"))
    assert [(a, b, h) for a, b, h in tree.merges] == [
        ((0,), (2,), 2.0),
        ((1,), (3,), 3.0),
        ((0, 2), (1, 3), 9.0),
    ]
    assert tree.order == [0, 2, 1, 3]


def _brute_force(d: np.ndarray) -> list[tuple[frozenset[int], float]]:
    """Textbook UPGMA: at each step the pair of clusters with the smallest mean distance
    over all member pairs, recomputed from the original matrix."""
    clusters = [frozenset([i]) for i in range(len(d))]
    out = []
    while len(clusters) > 1:
        best = min(
            itertools.combinations(range(len(clusters)), 2),
            key=lambda ij: np.mean([d[a, b] for a in clusters[ij[0]] for b in clusters[ij[1]]]),
        )
        a, b = clusters[best[0]], clusters[best[1]]
        height = float(np.mean([d[x, y] for x in a for y in b]))
        clusters = [c for k, c in enumerate(clusters) if k not in best] + [a | b]
        out.append((a | b, height))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_matches_brute_force_on_random_points(seed: int):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(int(rng.integers(3, 9)), 3))
    d = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    tree = upgma(d)
    got = [(frozenset(a + b), h) for a, b, h in tree.merges]
    expected = _brute_force(d)
    assert [s for s, _ in got] == [s for s, _ in expected]
    assert [h for _, h in got] == pytest.approx([h for _, h in expected])
    # heights never decrease (average linkage is monotone) and every cluster is contiguous
    assert all(x <= y + 1e-12 for (_, x), (_, y) in itertools.pairwise(got))

    def check(node: Node) -> None:
        positions = sorted(tree.order.index(i) for i in node.members)
        assert positions == list(range(positions[0], positions[0] + len(positions)))
        for child in (node.left, node.right):
            if child is not None:
                check(child)

    check(tree.root)
    assert sorted(tree.order) == list(range(len(d)))


def test_ascii_dendrogram_places_joins_at_their_heights():
    tree = upgma(_line([0, 1, 5, 12]), ["A", "B", "C", "D"])
    lines = tree.ascii(width=40).splitlines()
    assert [ln.split(" ")[0] for ln in lines[0:7:2]] == ["A", "B", "C", "D"]
    offset = 2  # one-letter labels and a space
    # the scale maps the root height 10 to column 39: joins at round(h * 3.9)
    for height in (1.0, 4.5, 10.0):
        col = offset + round(height * 3.9)
        assert any(ln[col : col + 1] == "├" for ln in lines[:-1]), (height, lines)
    # the join of the first merge sits in the row between A and B
    assert lines[1][offset + 4] == "├"
    assert lines[-1].rstrip().endswith("10.000")
    plain = tree.ascii(width=20, unicode=False)
    assert set(plain) <= set("ABCD +-|0.1\n")


def test_single_leaf_and_bad_input():
    assert upgma([[0.0]], ["only"]).order == [0]
    assert "only" in upgma([[0.0]], ["only"]).ascii()
    with pytest.raises(ValueError, match="square"):
        upgma([[0.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        upgma([[0.0, 1.0], [2.0, 0.0]])
    with pytest.raises(ValueError, match="negative"):
        upgma([[0.0, -1.0], [-1.0, 0.0]])
    with pytest.raises(ValueError, match="NaN"):
        upgma([[0.0, float("nan")], [float("nan"), 0.0]])
    with pytest.raises(ValueError, match="labels"):
        upgma([[0.0, 1.0], [1.0, 0.0]], ["a"])


def test_ties_are_broken_by_input_order():
    d = np.ones((4, 4)) - np.eye(4)
    tree = upgma(d)
    assert [(a, b) for a, b, _ in tree.merges] == [((0,), (1,)), ((0, 1), (2,)), ((0, 1, 2), (3,))]
    assert tree.order == [0, 1, 2, 3]
