"""Lexical fingerprint benchmark on ../shared/data/lexical/outputs.jsonl.

Two groups of 15 models answered the same 150 prompts each: ``slopscore`` (stories) and
``speechmap`` (political essays), one answer per prompt.

1. cross-group split-half self-attribution, per method and the default ``a.distance(b)``:
   on draws of 32 prompts, each model's answers split into two halves either on the *same*
   prompts (odd against even paragraphs of every answer: the data has one answer per prompt,
   so this stands in for replicate answers) or on *disjoint* prompts (16 prompts against the
   other 16, split the same way for every model, so other models' halves share a half's
   prompts and its twin shares none). A half counts when its nearest of the other 29 halves
   is its own model's (of 30). The ``delta`` settings are chosen on one group and scored on
   the other, both ways round (``--choose`` re-runs the choice; ~15 minutes);
2. the anchor-scale check: the ``jaccard`` split-half figures on the published method's
   split (odd/even prompts, 75 a half) with and without the ``wordfreq`` extra, against the
   published ones;
3. a threshold for every genre: the ``delta`` distance in spread units and in frequency
   units (``unit="frequency"``) between unrelated vendors, fine-tunes/post-trainings/merges
   of one model and later checkpoints, at 36 and 150 prompts; the split-half noise-floor
   ratio for contrast; a threshold chosen on one group and scored on the other, both ways
   round and in both units; the README example (``assert_distance_above(ours, gemini, 0.17,
   unit="frequency")``) on two unrelated vendors on stories and on essays and on a model
   against its own fine-tune (gemma-3-27b-it against gemma-3-27b-it-antislop);
4. speed (MB/s) and peak memory against a pure-Python implementation of the anchor method;
   a comparison's bootstrap (200 delta draws to 2 references, 3 story models at 36 and 150
   prompts) computed together against one resample's fingerprints at a time, same figures;
5. (``--neighbours``) each model's three nearest with bootstrap intervals.

Run: ``python benchmarks/bench_lexical.py [--quick] [--speed] [--neighbours] [--choose]`` from
the project root (about 3-4 minutes on 2 cores; ``--quick`` about 2; ``--speed`` only
section 4). ``pip install -e '.[wordfreq]'`` for the anchor-scale check.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
import tracemalloc
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pytest_modelprov import lexical
from pytest_modelprov.lexical import Fingerprint
from pytest_modelprov.lexical import anchor as lexical_anchor
from pytest_modelprov.lexical import distances as lexical_distance
from pytest_modelprov.lexical.distances import _resample_rows, delta_effect
from pytest_modelprov.lexical.text import function_words

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


#: ``delta`` settings (min_spread, words, floor) chosen by ``--choose``: on speechmap (the
#: shipped default) and on slopscore (ties there broken by the mean margin of the twin)
CHOSEN = {"speechmap": (0.1, 100, 1.0), "slopscore": (0.5, 300, 1.0)}
GRID = [(q, k, f) for q in (0.1, 0.3, 0.5) for k in (100, 300) for f in (0.3, 1.0, 3.0)]
DRAWS = (0, 1)  # seeds of the 32-prompt draws


def _split_paragraphs(text: str) -> tuple[str, str]:
    parts = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(parts) < 2:
        parts = re.split(r"(?<=[.!?])\s+", text)
    return "\n\n".join(parts[0::2]), "\n\n".join(parts[1::2])


def split_halves(
    models: dict[str, list[dict[str, str]]], mode: str, prompts: int, seed: int
) -> tuple[list[Fingerprint], list[str]]:
    """Two half-fingerprints per model (see the module doc), in model order."""
    keys = sorted({r["shared_prompt_key"] for rows in models.values() for r in rows})
    drawn = list(np.random.default_rng(seed).permutation(keys)[:prompts])
    first = set(drawn[: prompts // 2])
    fps, owners = [], []
    for model, all_rows in sorted(models.items()):
        rows = [r for r in all_rows if r["shared_prompt_key"] in drawn]
        if mode == "disjoint":
            for side in (True, False):
                sel = [r for r in rows if (r["shared_prompt_key"] in first) == side]
                fps.append(
                    Fingerprint.from_texts(
                        [r["response"] for r in sel], [r["shared_prompt_key"] for r in sel]
                    )
                )
                owners.append(model)
        else:
            parts = [_split_paragraphs(r["response"]) for r in rows]
            for k in (0, 1):
                fps.append(
                    Fingerprint.from_texts(
                        [p[k] for p in parts], [r["shared_prompt_key"] for r in rows]
                    )
                )
                owners.append(model)
    return fps, owners


def found_halves(matrix: np.ndarray, owners: list[str]) -> int:
    """Halves whose nearest other half is their own model's (of len(owners))."""
    m = matrix.copy()
    np.fill_diagonal(m, np.inf)
    nearest = m.argmin(1)
    return sum(owners[int(nearest[i])] == owners[i] for i in range(len(owners)))


def pair_matrix(fps: list[Fingerprint], fn) -> np.ndarray:
    n = len(fps)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = fn(fps[i], fps[j])
    return out


def delta_with(setting: tuple[float, int, float]):
    q, k, f = setting
    return lambda a, b: delta_effect(a, b, min_spread=q, words=k, floor=f)


def choose(groups, source: str) -> tuple[float, int, float]:
    """The grid setting with the most halves found on ``source`` (same + disjoint draws);
    ties broken by the mean relative margin of the twin over the nearest other model."""
    best: tuple[float, float, tuple[float, int, float]] | None = None
    splits = [split_halves(groups[source], m, 32, s) for m in ("same", "disjoint") for s in DRAWS]
    for setting in GRID:
        total, margins = 0, []
        for fps, owners in splits:
            m = pair_matrix(fps, delta_with(setting))
            total += found_halves(m, owners)
            np.fill_diagonal(m, np.inf)
            for i in range(len(owners)):
                twin = i ^ 1
                other = min(m[i, j] for j in range(len(owners)) if j not in (i, twin))
                margins.append((other - m[i, twin]) / max(abs(other), 1e-9))
        key = (total, float(np.mean(margins)), setting)
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    print(f"  chosen on {source}: {best[2]} ({best[0]} halves of {30 * len(splits)})")
    return best[2]


def section_split_half(groups, prompts: int, chosen: dict[str, tuple[float, int, float]]) -> None:
    print(
        f"== 1. split-half self-attribution, {prompts} prompts a draw, draws {list(DRAWS)} "
        "(halves finding their own model, of 30 each) =="
    )
    scale = lexical_anchor.scale()
    print(f"{'group':<10} {'halves':<9} {'method':<52} found per draw")
    for source in ("slopscore", "speechmap"):
        for mode in ("same", "disjoint"):
            splits = [split_halves(groups[source], mode, prompts, s) for s in DRAWS]
            default = "default a.distance(b): delta chosen on speechmap"
            runs = {
                default + (" (held out)" if source == "slopscore" else " (NOT held out)"): (
                    lambda f: lexical.distance_matrix(f, "delta")
                ),
            }
            if source == "speechmap":
                runs["delta chosen on slopscore (held out)"] = lambda f: pair_matrix(
                    f, delta_with(chosen["slopscore"])
                )
            runs.update(
                {
                    "profile": lambda f: lexical.distance_matrix(f, "profile"),
                    f"jaccard ({scale} scale)": lambda f: lexical.distance_matrix(f, "jaccard"),
                    "style (pooled over all 30 halves)": lambda f: lexical.distance_matrix(
                        f, "style"
                    ),
                }
            )
            for name, fn in runs.items():
                counts = [found_halves(fn(fps), owners) for fps, owners in splits]
                print(f"{source:<10} {mode:<9} {name:<52} {counts}")


def section_anchor(groups) -> None:
    print("\n== 2. anchor scale: jaccard on the published split (odd/even prompts, 75 a half) ==")
    print("  published (methods.md / data README): stories same model 0.62-0.79 (0.60-0.79),")
    print("  different models ~0.94 (~0.88), twin found 15/15; essays same 0.70-0.81,")
    print("  different ~0.81, twin found 3/15")
    scales = [lexical_anchor.RELATIVE]
    if lexical_anchor.scale() == lexical_anchor.HUMAN:
        scales.insert(0, lexical_anchor.HUMAN)
    else:
        print("  (wordfreq not installed: pip install -e '.[wordfreq]' for the published scale)")
    for source in ("slopscore", "speechmap"):
        fps, owners = halves(groups[source])
        for scale in scales:
            sets = [lexical.anchor_set(fp, scale=scale) for fp in fps]
            n = len(sets)
            matrix = np.zeros((n, n))
            for i in range(n):
                for j in range(i + 1, n):
                    matrix[i, j] = matrix[j, i] = 1 - len(sets[i] & sets[j]) / len(
                        sets[i] | sets[j]
                    )
            found, lo, hi, other = self_attribution(matrix, owners)
            print(
                f"  {source:<10} {scale:<9} same model {lo:.2f}-{hi:.2f}, different models "
                f"median {other:.2f}, twin found {found}/15"
            )
    print("  rank correlation with the published distance matrix: not measurable here (the")
    print("  published matrix is not in ../shared/data)")


VENDORS = {
    "chatgpt": "openai", "gpt": "openai", "o3": "openai", "claude": "anthropic",
    "deepseek": "deepseek", "r1-1776": "deepseek", "mai-ds-r1": "deepseek",
    "gemini": "google", "gemma": "google", "glm": "zhipu", "kimi": "moonshot",
    "llama": "meta", "mistral": "mistral", "grok": "xai", "qwen": "alibaba",
}  # fmt: skip
#: the README example's threshold: ``delta`` in frequency units, chosen on slopscore (stories,
#: where the de-slopped fine-tune is) by :func:`choose_threshold`, scored on speechmap (essays).
#: Chosen on essays it would be 0.06: their derived models (post-trainings of R1) kept R1's
#: words, which the de-slopped gemma was trained not to do, so it passes the fine-tune.
README_THRESHOLD = 0.17
#: the spread-unit threshold the README used before (three pairs, both genres), for contrast
OLD_THRESHOLD = 0.17
EXAMPLES = {
    "slopscore": [("deepseek-r1", "gemini-2.5-flash", "unrelated vendors: pass"),
                  (BASE, ANTISLOP, "a model and its own fine-tune: fail")],
    "speechmap": [("deepseek-v3-0324", "gemini-1.5-pro-002", "unrelated vendors: pass")],
}  # fmt: skip
#: fine-tunes, post-trainings and merges of one model's weights (their model cards): a
#: threshold should put these below it, unrelated vendors above it
DERIVED = {
    "slopscore": [(BASE, ANTISLOP)],
    "speechmap": [("deepseek-r1", "r1-1776"), ("deepseek-r1", "mai-ds-r1"),
                  ("deepseek-r1", "deepseek-r1t-chimera")],
}  # fmt: skip
#: later checkpoints of one model: reported, not used to choose
CHECKPOINTS = {
    "slopscore": [],
    "speechmap": [("deepseek-v3", "deepseek-v3-0324"), ("deepseek-r1", "deepseek-r1-0528")],
}
UNITS = ("spread", "frequency")


def vendor(model: str) -> str:
    return next(v for k, v in VENDORS.items() if model.startswith(k))


def _fingerprints(models: dict[str, list[dict[str, str]]], prompts: int) -> dict[str, Fingerprint]:
    keys = sorted({r["shared_prompt_key"] for rows in models.values() for r in rows})
    drawn = set(np.random.default_rng(1).permutation(keys)[:prompts])
    return {
        m: Fingerprint.from_texts(
            [r["response"] for r in rows if r["shared_prompt_key"] in drawn],
            [r["shared_prompt_key"] for r in rows if r["shared_prompt_key"] in drawn],
            name=m,
        )
        for m, rows in sorted(models.items())
    }


def pair_kinds(source: str, names: list[str]) -> dict[tuple[str, str], str]:
    """``unrelated`` (other vendors), ``derived``, ``checkpoint`` or ``same-vendor``."""
    derived = {frozenset(p) for p in DERIVED[source]}
    later = {frozenset(p) for p in CHECKPOINTS[source]}
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pair = frozenset((a, b))
            out[(a, b)] = (
                "derived" if pair in derived
                else "checkpoint" if pair in later
                else "unrelated" if vendor(a) != vendor(b)
                else "same-vendor"
            )  # fmt: skip
    return out


def choose_threshold(below: list[float], above: list[float]) -> float:
    """The threshold that best separates ``below`` from ``above`` (balanced accuracy); of
    equally good ones, the middle of the widest gap between measured values."""
    values = sorted(set(below) | set(above))
    cuts = [(x + y) / 2 for x, y in itertools.pairwise(values)]
    lo, hi = np.array(below), np.array(above)

    def key(t: float) -> tuple[float, float]:
        accuracy = ((lo < t).mean() + (hi > t).mean()) / 2
        gap = min(abs(v - t) for v in values)
        return float(accuracy), gap

    return max(cuts, key=key)


def section_threshold(groups, resamples: int) -> None:
    print(
        "\n== 3. a threshold for every genre: delta in spread units (the plain distance) and "
        "in frequency units (unit='frequency') =="
    )
    print(
        "  pairs: unrelated = other vendors; derived = fine-tunes/post-trainings/merges of one "
        "model's weights (slopscore: gemma-3-27b-it/antislop; speechmap: deepseek-r1 against "
        "r1-1776, mai-ds-r1, r1t-chimera); checkpoints = later releases (v3/v3-0324, r1/r1-0528)"
    )
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    fingerprints = {}
    for prompts in (36, 150):
        for source in ("slopscore", "speechmap"):
            fps = _fingerprints(groups[source], prompts)
            fingerprints[(prompts, source)] = fps
            names = list(fps)
            kinds = pair_kinds(source, names)
            for unit in UNITS:
                rows = defaultdict(list)
                for (a, b), kind in kinds.items():
                    d = lexical.distance(fps[a], fps[b], "delta", unit)
                    rows[kind].append(d)
                    values[(unit, source, kind)].append(d)
                u = np.array(rows["unrelated"])
                derived = ", ".join(f"{x:.3f}" for x in rows["derived"])
                later = ", ".join(f"{x:.3f}" for x in rows["checkpoint"]) or "-"
                print(
                    f"  {prompts:>3} prompts {source:<10} {unit:<9} unrelated median "
                    f"{np.median(u):.3f} (10th pct {np.quantile(u, 0.1):.3f}, n={u.size}); "
                    f"derived {derived}; checkpoints {later}; other same-vendor median "
                    f"{np.median(rows['same-vendor']):.3f}"
                )
    print(
        "  two samples of one model (odd against even paragraphs of each answer, same prompts) "
        "and unrelated vendors on those half-length answers:"
    )
    for source in ("slopscore", "speechmap"):
        halves_, owners = split_halves(groups[source], "same", 36, 1)
        for unit in UNITS:
            own = [
                lexical.distance(halves_[i], halves_[i + 1], "delta", unit)
                for i in range(0, len(halves_), 2)
            ]
            unrelated = [
                lexical.distance(halves_[i], halves_[j], "delta", unit)
                for i in range(0, len(halves_), 2)
                for j in range(i + 2, len(halves_), 2)
                if vendor(owners[i]) != vendor(owners[j])
            ]
            print(
                f"   36 prompts {source:<10} {unit:<9} same model {min(own):.3f}-{max(own):.3f} "
                f"(median {np.median(own):.3f}); unrelated median {np.median(unrelated):.3f} "
                "on half-length answers"
            )
    print(
        "  for contrast, units of the split-half noise floor: profile distance between halves "
        "(odd/even prompts) of the two models over that between each model's own halves"
    )
    for (prompts, source), fps in fingerprints.items():
        split = {m: fp.halves() for m, fp in fps.items()}
        rows = defaultdict(list)
        with warnings.catch_warnings():  # halves share no prompt: that is the measurement
            warnings.simplefilter("ignore", lexical.LexicalWarning)
            ratios = {
                pair: _floor_ratio(split[pair[0]], split[pair[1]])
                for pair in pair_kinds(source, list(fps))
            }
        for pair, kind in pair_kinds(source, list(fps)).items():
            rows[kind].append(ratios[pair])
        derived = ", ".join(f"{x:.2f}" for x in rows["derived"])
        print(
            f"  {prompts:>3} prompts {source:<10} noise-floor ratio: unrelated median "
            f"{np.median(rows['unrelated']):.2f}; derived {derived}"
        )
    print("  threshold chosen on one group (36 and 150 prompts pooled), scored on the other:")
    chosen = {}
    for unit in UNITS:
        for source, other in (("slopscore", "speechmap"), ("speechmap", "slopscore")):
            t = choose_threshold(
                values[(unit, source, "derived")], values[(unit, source, "unrelated")]
            )
            chosen[(unit, source)] = t
            own_u = np.array(values[(unit, source, "unrelated")])
            own_d = np.array(values[(unit, source, "derived")])
            u = np.array(values[(unit, other, "unrelated")])
            dv = np.array(values[(unit, other, "derived")])
            cp = np.array(values[(unit, other, "checkpoint")])
            later = f", checkpoints below {int((cp < t).sum())}/{cp.size}" if cp.size else ""
            print(
                f"  {unit:<9} chosen on {source:<9} {t:.3f} (there: unrelated above "
                f"{int((own_u > t).sum())}/{own_u.size}, derived below "
                f"{int((own_d < t).sum())}/{own_d.size}) | scored on {other:<9}: unrelated "
                f"above {int((u > t).sum())}/{u.size}, derived below {int((dv < t).sum())}/"
                f"{dv.size}{later}"
            )
    t = round(chosen[("frequency", "slopscore")], 2)
    if t != README_THRESHOLD:
        print(f"NOTE: README_THRESHOLD {README_THRESHOLD} is not the chosen {t}")
    print(
        f"  README example: assert_distance_above(ours, ref, {README_THRESHOLD}, "
        f"unit='frequency') (95% basic bootstrap, {resamples} resamples; spread-unit "
        f"{OLD_THRESHOLD} for contrast)"
    )
    for (prompts, source), fps in fingerprints.items():
        for a, b, what in EXAMPLES[source]:
            cells = []
            for unit, threshold in (("frequency", README_THRESHOLD), ("spread", OLD_THRESHOLD)):
                try:
                    d = lexical.assert_distance_above(
                        fps[a], fps[b], threshold, unit=unit, resamples=resamples
                    )
                    verdict = "passes"
                except AssertionError:
                    verdict = "FAILS"
                    d = _interval(fps[a], fps[b], unit, resamples)
                cells.append(f"{unit} {d.value:.3f} [{d.low:.3f}, {d.high:.3f}] {verdict}")
            print(f"  {prompts:>3} prompts {source:<10} {a} vs {b} ({what}): " + "; ".join(cells))


def _floor_ratio(a: tuple[Fingerprint, Fingerprint], b: tuple[Fingerprint, Fingerprint]) -> float:
    """Profile distance between two models' halves over that between each model's own."""
    (a1, a2), (b1, b2) = a, b
    cross = lexical.distance(a1, b2, "profile") + lexical.distance(a2, b1, "profile")
    own = lexical.distance(a1, a2, "profile") + lexical.distance(b1, b2, "profile")
    return cross / own


def _interval(a: Fingerprint, b: Fingerprint, unit: str, resamples: int) -> lexical.Interval:
    """The interval an assertion saw (the same seed and resamples, so the same draws): a
    distance is at most 1, so this assertion always passes and returns it."""
    return lexical.assert_distance_below(a, b, 1.01, unit=unit, resamples=resamples)


def section_neighbours(groups: dict[str, dict[str, list[dict[str, str]]]], resamples: int) -> None:
    print(
        "\n== 5. three nearest per model "
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
    print("\n== 4. speed: fingerprint every model of both groups (anchor set of each) ==")
    corpora = [
        ([r["response"] for r in rows], [r["shared_prompt_key"] for r in rows])
        for models in groups.values()
        for rows in models.values()
    ]
    mb = sum(len(t.encode("utf-8")) for texts, _ in corpora for t in texts) / 1e6

    def ours() -> None:
        for texts, prompts in corpora:
            lexical.anchor_set(Fingerprint.from_texts(texts, prompts), scale="relative")

    def pure() -> None:
        for texts, prompts in corpora:
            python_anchor(texts, prompts)

    big = max(corpora, key=lambda c: sum(map(len, c[0])))
    big_mb = sum(len(t.encode("utf-8")) for t in big[0]) / 1e6
    build = {
        "numpy Fingerprint + anchor set": lambda t, p: lexical.anchor_set(
            Fingerprint.from_texts(t, p), scale="relative"
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
    print(f"  speed-up: {ratio:.1f}x (target >= 10x; both rank by frequency, no baseline)")
    if lexical_anchor.scale() == lexical_anchor.HUMAN:
        lexical_anchor.human_frequency.cache_clear()  # cold: every word looked up again
        start = time.perf_counter()
        for texts, prompts in corpora:
            lexical.anchor_set(Fingerprint.from_texts(texts, prompts), scale="wordfreq")
        cold = time.perf_counter() - start
        print(
            f"  numpy Fingerprint + anchor set on the wordfreq scale (cold lookups): "
            f"{mb / cold:.2f} MB/s, {results['pure-Python anchor'] / cold:.1f}x the pure-Python "
            "anchor without a baseline"
        )
    fps = [Fingerprint.from_texts(texts, prompts) for texts, prompts in corpora[:15]]
    start = time.perf_counter()
    lexical.distance_matrix(fps, "delta")
    print(f"  delta distance matrix of 15 fingerprints: {time.perf_counter() - start:.2f} s")

    text = Fingerprint.from_texts(*big).to_json()
    start = time.perf_counter()
    Fingerprint.from_json(text)
    seconds = time.perf_counter() - start
    print(f"  Fingerprint.from_json of a {len(text) / 1e6:.2f} MB fingerprint: {seconds:.3f} s")
    section_bootstrap_speed(groups["slopscore"], repeats)


def _together(fps: list[Fingerprint], rows: list[list[np.ndarray]]) -> np.ndarray:
    return lexical_distance.DeltaRow(fps).draws(rows)


def _one_at_a_time(fps: list[Fingerprint], rows: list[list[np.ndarray]]) -> np.ndarray:
    return np.array(
        [
            [lexical.delta(fps[0].subset(d[0]), fp.subset(d[j])) for j, fp in enumerate(fps[1:], 1)]
            for d in rows
        ]
    )


def section_bootstrap_speed(models: dict[str, list[dict[str, str]]], repeats: int) -> None:
    """A comparison's 200 bootstrap draws of the delta distance to 2 references, computed
    together (``DeltaRow.draws``, what ``lexical.compare`` runs) against one resample's
    fingerprints at a time (the baseline, as before the batched path), in the same run."""
    from pytest_modelprov.lexical.deltaterms import Resampler

    names = ["chatgpt-4o-latest", "claude-sonnet-4-20250514", "deepseek-r1"]
    print("\n  a comparison's bootstrap (delta, 200 resamples, 2 references; stories):")
    for prompts in (36, 150):
        built = _fingerprints({m: models[m] for m in names}, prompts)
        fps = [built[m] for m in names]
        rng = np.random.default_rng(0)
        resampler = Resampler(fps)
        rows = [resampler.draw(rng) for _ in range(200)]

        # CPU time (numpy may start threads), best of a few, the two taking turns
        times: dict[str, list[float]] = {"together": [], "one at a time": []}
        figures = {}
        for _ in range(repeats):
            for name, fn in (("together", _together), ("one at a time", _one_at_a_time)):
                start = time.process_time()
                figures[name] = fn(fps, rows)
                times[name].append(time.process_time() - start)
        same = np.array_equal(figures["together"], figures["one at a time"])
        fast, slow = min(times["together"]), min(times["one at a time"])
        print(
            f"    {prompts:>3} prompts: together {fast:.3f} s CPU, one resample at a time "
            f"{slow:.3f} s ({slow / fast:.1f}x; best of {repeats}); the same figures: {same}"
        )


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
    parser.add_argument(
        "--neighbours", action="store_true", help="also each model's three nearest (slow)"
    )
    parser.add_argument(
        "--choose", action="store_true", help="re-run the choice of the delta settings (~15 min)"
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
    shipped = (
        lexical_distance.DELTA_MIN_SPREAD,
        lexical_distance.DELTA_WORDS,
        lexical_distance.DELTA_FLOOR,
    )
    chosen = dict(CHOSEN)
    if args.choose:
        print("== 0. choosing the delta settings on each group ==")
        chosen = {source: choose(groups, source) for source in ("speechmap", "slopscore")}
    if chosen["speechmap"] != shipped:
        print(f"NOTE: the shipped delta settings {shipped} are not those chosen on speechmap")
    section_split_half(groups, 32, chosen)
    section_anchor(groups)
    section_threshold(groups, max(resamples, 100))
    if args.neighbours:
        section_neighbours(groups, resamples)
    section_speed(groups, 1 if args.quick else 2)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
