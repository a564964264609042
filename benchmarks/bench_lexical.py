"""Lexical fingerprint benchmark on ../shared/data/lexical/outputs.jsonl.

1. split-half self-attribution (odd vs even prompts; both halves must pick each other as
   nearest among the group's 30 half-fingerprints) for the anchor Jaccard (frequency
   ranking and a relative baseline pooled over the group), the default ``profile`` distance
   and the pooled ``style`` distance;
2. each model's three nearest with bootstrap intervals, and where gemma-3-27b-it-antislop
   lands relative to its base model;
3. speed (MB/s) and peak memory against a pure-Python implementation of the anchor method.

Run: ``python benchmarks/bench_lexical.py [--quick] [--speed] [--resamples N]`` from the project
root (about 2-3 minutes on 2 cores; ``--quick`` about 1; ``--speed`` only section 3).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pytest_modelprov import lexical
from pytest_modelprov.lexical import Fingerprint
from pytest_modelprov.lexical_distance import _resample_rows
from pytest_modelprov.lexical_text import function_words

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lexical" / "outputs.jsonl"
ANTISLOP, BASE = "gemma-3-27b-it-antislop", "gemma-3-27b-it"


def load() -> dict[str, dict[str, list[dict[str, str]]]]:
    groups: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    with DATA.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            groups[row["source"]][row["model"]].append(row)
    return groups


def halves(models: dict[str, list[dict[str, str]]]) -> tuple[list[Fingerprint], list[str]]:
    keys = sorted({r["shared_prompt_key"] for rows in models.values() for r in rows})
    odd = set(keys[1::2])
    fps, owners = [], []
    for model, rows in models.items():
        for side in (False, True):
            sel = [r for r in rows if (r["shared_prompt_key"] in odd) == side]
            fps.append(
                Fingerprint.from_texts(
                    [r["response"] for r in sel], [r["shared_prompt_key"] for r in sel], name=model
                )
            )
            owners.append(model)
    return fps, owners


def anchor_matrix(fps: list[Fingerprint], background: Fingerprint | None) -> np.ndarray:
    sets = [lexical.anchor_set(fp, background) for fp in fps]
    n = len(sets)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = 1 - len(sets[i] & sets[j]) / len(sets[i] | sets[j])
    return out


def self_attribution(matrix: np.ndarray, owners: list[str]) -> tuple[int, float, float, float]:
    m = matrix.copy()
    np.fill_diagonal(m, np.inf)
    nearest = m.argmin(1)
    found = sum(1 for i in range(0, len(owners), 2) if nearest[i] == i + 1 and nearest[i + 1] == i)
    same = [matrix[i, i + 1] for i in range(0, len(owners), 2)]
    other = [
        matrix[i, j]
        for i in range(len(owners))
        for j in range(len(owners))
        if owners[i] != owners[j]
    ]
    return found, float(np.min(same)), float(np.max(same)), float(np.median(other))


def section_split_half(groups: dict[str, dict[str, list[dict[str, str]]]]) -> None:
    print("== 1. split-half self-attribution (both halves pick each other; of 15) ==")
    print(f"{'group':<10} {'method':<34} {'found':>6}  same-model range   other median")
    for source in ("slopscore", "speechmap"):
        fps, owners = halves(groups[source])
        pool = lexical.pooled(fps)
        runs = {
            "anchor jaccard (frequency rank)": anchor_matrix(fps, None),
            "anchor jaccard (pooled baseline)": anchor_matrix(fps, pool),
            "profile (default a.distance(b))": lexical.distance_matrix(fps, "profile"),
            "style (pooled, per-prompt)": lexical.distance_matrix(fps, "style"),
        }
        for name, matrix in runs.items():
            found, lo, hi, other = self_attribution(matrix, owners)
            print(f"{source:<10} {name:<34} {found:>3}/15  {lo:.3f}-{hi:.3f}        {other:.3f}")


def section_neighbours(groups: dict[str, dict[str, list[dict[str, str]]]], resamples: int) -> None:
    print(
        "\n== 2. three nearest per model "
        f"(95% basic bootstrap over prompts, {resamples} resamples) =="
    )
    for source in ("slopscore", "speechmap"):
        models = groups[source]
        fps = {
            m: Fingerprint.from_texts(
                [r["response"] for r in rows], [r["shared_prompt_key"] for r in rows], name=m
            )
            for m, rows in models.items()
        }
        pool = lexical.pooled(list(fps.values()))
        names = list(fps)
        for method in ("style", "profile", "jaccard"):
            print(f"-- {source}, {method}")
            if method == "jaccard":
                full = anchor_matrix([fps[n] for n in names], pool)
                bounds = None
            else:
                full, bounds = matrix_intervals([fps[n] for n in names], method, resamples)
            for i, name in enumerate(names):
                row = {n: full[i, j] for j, n in enumerate(names) if n != name}
                near = sorted(row, key=row.__getitem__)[:3]
                if bounds is None:
                    cells = [f"{n} {row[n]:.3f}" for n in near]
                else:
                    cells = [
                        f"{n} {row[n]:.3f} [{bounds[0][i, names.index(n)]:.3f},"
                        f"{bounds[1][i, names.index(n)]:.3f}]"
                        for n in near
                    ]
                if name == ANTISLOP:
                    rank = sorted(row, key=row.__getitem__).index(BASE) + 1
                    cells.append(f"| base {BASE}: rank {rank}/14, {row[BASE]:.3f}")
                print(f"  {name:<28} " + "; ".join(cells))


def matrix_intervals(
    fps: list[Fingerprint], method: str, resamples: int
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The distance matrix and 95% basic bootstrap bounds for every cell.

    One paired draw of prompts per resample serves the whole matrix (what
    ``lexical.compare`` does for one row), so the cost is one matrix per resample rather
    than one per model; the bounds are ``lexical.basic_interval``'s, as in ``compare``.
    """
    rng = np.random.default_rng(0)
    full = lexical.distance_matrix(fps, method)
    draws = np.empty((resamples, *full.shape))
    for r in range(resamples):
        rows = _resample_rows(fps, rng)
        draws[r] = lexical.distance_matrix(
            [fp.subset(rw) for fp, rw in zip(fps, rows, strict=True)], method
        )
    return full, lexical.basic_interval(full, draws, 0.95)


# -- a straightforward pure-Python implementation of the anchor method (for speed) -----------

_PY_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def python_anchor(texts: list[str], prompts: list[str]) -> frozenset[str]:
    stop = function_words()
    words: Counter[str] = Counter()
    word_prompts: dict[str, set[str]] = defaultdict(set)
    grams: dict[int, Counter[str]] = {2: Counter(), 3: Counter()}
    gram_prompts: dict[str, set[str]] = defaultdict(set)
    total = 0
    for text, prompt in zip(texts, prompts, strict=True):
        tokens = _PY_WORD.findall(text.lower().replace("\u2019", "'"))
        total += len(tokens)
        content = []
        for tok in tokens:
            if tok.endswith("'s"):
                tok = tok[:-2]
            if len(tok) >= 4 and tok not in stop:
                words[tok] += 1
                word_prompts[tok].add(prompt)
            if tok not in stop:
                content.append(tok)
        for n in (2, 3):
            for i in range(len(content) - n + 1):
                gram = " ".join(content[i : i + n])
                grams[n][gram] += 1
                gram_prompts[gram].add(prompt)
    ranked = [w for w, c in words.most_common() if c > 5 and len(word_prompts[w]) >= 2]
    chosen = ranked[:120]
    for n, size in ((2, 40), (3, 40)):
        top = [g for g, _ in grams[n].most_common() if len(gram_prompts[g]) >= 3][:200]
        chosen += sorted(top, key=lambda g: -grams[n][g])[:size]
    return frozenset(chosen)


def section_speed(groups: dict[str, dict[str, list[dict[str, str]]]], repeats: int) -> None:
    print("\n== 3. speed: fingerprint every model of both groups (anchor set of each) ==")
    corpora = [
        ([r["response"] for r in rows], [r["shared_prompt_key"] for r in rows])
        for models in groups.values()
        for rows in models.values()
    ]
    mb = sum(len(t.encode("utf-8")) for texts, _ in corpora for t in texts) / 1e6

    def ours() -> None:
        for texts, prompts in corpora:
            lexical.anchor_set(Fingerprint.from_texts(texts, prompts))

    def pure() -> None:
        for texts, prompts in corpora:
            python_anchor(texts, prompts)

    big = max(corpora, key=lambda c: sum(map(len, c[0])))
    big_mb = sum(len(t.encode("utf-8")) for t in big[0]) / 1e6
    build = {
        "numpy Fingerprint + anchor set": lambda t, p: lexical.anchor_set(
            Fingerprint.from_texts(t, p)
        ),
        "pure-Python anchor": python_anchor,
    }
    ours()  # builds the character tables once per process (~0.4 s), as any first call does
    runs = (("numpy Fingerprint + anchor set", ours), ("pure-Python anchor", pure))
    # best of a few runs, the two implementations taking turns: the machine is shared, the
    # minimum is the least disturbed run, and turns expose both to the same load
    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    for _ in range(repeats):
        for name, fn in runs:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    results = {}
    for name, _ in runs:
        seconds = min(times[name])
        # peak memory while building the largest model's set: each build frees its memory
        # before the next, and tracing every corpus would take minutes for the pure version
        tracemalloc.start()
        build[name](*big)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        results[name] = seconds
        print(
            f"  {name:<32} {mb / seconds:6.2f} MB/s ({seconds:.2f} s for {mb:.1f} MB, best of"
            f" {repeats}), peak traced memory {peak:.0f} MB for one model ({big_mb:.1f} MB)"
        )
    ratio = results["pure-Python anchor"] / results["numpy Fingerprint + anchor set"]
    print(f"  speed-up: {ratio:.1f}x (target >= 10x)")

    text = Fingerprint.from_texts(*big).to_json()
    start = time.perf_counter()
    Fingerprint.from_json(text)
    seconds = time.perf_counter() - start
    print(f"  Fingerprint.from_json of a {len(text) / 1e6:.2f} MB fingerprint: {seconds:.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--resamples", type=int, default=None, help="bootstrap resamples (default 20, quick 10)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer resamples and one timing run (~1 minute)"
    )
    parser.add_argument(
        "--speed", action="store_true", help="only the speed section (best of 3 timing runs)"
    )
    args = parser.parse_args()
    resamples = args.resamples or (10 if args.quick else 20)
    if not DATA.exists():
        print(f"SKIP: benchmark data {DATA} is absent (it lives in ../shared/data beside the repo)")
        return 0
    started = time.perf_counter()
    groups = load()
    if args.speed:
        section_speed(groups, 3)
        print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
        return 0
    section_split_half(groups)
    section_neighbours(groups, resamples)
    section_speed(groups, 1 if args.quick else 2)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
