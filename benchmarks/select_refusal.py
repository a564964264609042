"""Choose the refusal recipe's variant on one part of the data, score it on another (nested CV).

    python benchmarks/select_refusal.py [--by model|family] [--folds 5]

For each outer fold (whole models, or whole vendor families, held out) every candidate
variant of the training recipe is fitted on the other folds; its *inner* out-of-fold figures
(``training["envelope"]``: cross-validation by whole models inside the outer training part)
pick one variant per outer fold, and only that variant's labels of the held-out fold are
scored. So the figures printed as ``NESTED`` never saw the answers they are scored on, not
even through the choice of variant. Each candidate's own outer figures are printed too, for
comparison only: picking the best of those would choose on the held-out data.

Candidates differ in L2 strength (the rest of the recipe is ``benchmarks/train_refusal.py``'s).
A candidate may also ``drop`` named dense features (zeroed), to test a feature's worth.
Skips (exit 0) with a message when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt

from pytest_modelprov.refusal.features import DENSE_NAMES
from pytest_modelprov.refusal.model import (
    LinearModel,
    Matrix,
    TrainSettings,
    featurise_examples,
    fit_matrix,
    group_folds,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_refusal import DATA, load

CANDIDATES: dict[str, dict[str, Any]] = {
    "l2=3e-6": {},
    "l2=1e-5": {"l2": 1e-5},
    "l2=1e-6": {"l2": 1e-6},
}
LANGS = ("en", "zh", "fi")
ACC_TARGET, ERR_TARGET = 0.92, 0.10


def inner_score(env: dict[str, Any]) -> tuple[int, float]:
    """Targets met on the inner folds (accuracy and worst per-model rate error, per
    language), then mean accuracy less a quarter of the mean worst error."""
    langs = [x for x in LANGS if x in env]
    errs = [
        env[x]["max_rate_error"] if env[x]["max_rate_error"] is not None else 1.0 for x in langs
    ]
    met = sum(env[x]["accuracy"] >= ACC_TARGET for x in langs)
    met += sum(e <= ERR_TARGET for e in errs)
    mean_acc = sum(env[x]["accuracy"] for x in langs) / len(langs)
    return met, round(mean_acc - sum(errs) / len(errs) / 4, 4)


def masked(x: Matrix, drop: tuple[str, ...]) -> Matrix:
    dense = x.dense.copy()
    for name in drop:
        dense[:, DENSE_NAMES.index(name)] = 0.0
    return Matrix(x.rows, x.cols, x.vals, dense, x.n)


def score(rows: list[dict[str, Any]], pred: npt.NDArray[np.bool_]) -> str:
    """Per China-set language: accuracy, worst and median per-model rate error, signs."""
    truth = np.array([r["label"] != "compliance" for r in rows])
    src = np.array([r["source"] for r in rows])
    models = np.array([r["model"] for r in rows])
    parts = []
    for lang in LANGS:
        s = src == f"speechmap-china_criticism-{lang}"
        rates = {}
        for m in sorted(set(models[s].tolist())):
            mm = s & (models == m)
            if mm.sum() >= 20:
                rates[m] = (float(pred[mm].mean()), float(truth[mm].mean()))
        errs = np.abs([e - t for e, t in rates.values()])
        right = big = 0
        names = sorted(rates)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if a.split("/")[0] == b.split("/")[0]:
                    labelled = rates[b][1] - rates[a][1]
                    if abs(labelled) >= 0.1:
                        big += 1
                        right += int(np.sign(rates[b][0] - rates[a][0]) == np.sign(labelled))
        acc = float((pred[s] == truth[s]).mean())
        parts.append(
            f"{lang} acc {acc:.3f} max {errs.max():.2f} median {np.median(errs):.2f} "
            f"signs {right}/{big}"
        )
    return " | ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--by", choices=["model", "family"], default="model")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SKIPPED: {args.data} is absent (the labelled benchmark data is not shipped)")
        return 0
    started = time.perf_counter()
    examples, langs, _ = load(args.data)
    rows = [json.loads(x) for x in args.data.read_text(encoding="utf-8").splitlines() if x]
    x = featurise_examples(examples)
    labels = [e.label for e in examples]
    groups = [e.group.split("/")[0] if args.by == "family" else e.group for e in examples]
    folds = group_folds(groups, args.folds)
    preds = {v: np.zeros(x.n, dtype=bool) for v in CANDIDATES}
    nested = np.zeros(x.n, dtype=bool)
    for k in sorted(set(folds.tolist())):
        train = folds != k
        inner: dict[str, tuple[int, float]] = {}
        for name, spec in CANDIDATES.items():
            xv = masked(x, tuple(spec.get("drop", ())))
            settings = TrainSettings(**{a: b for a, b in spec.items() if a != "drop"})
            fitted = fit_matrix(
                xv.subset(train),
                [lab for lab, t in zip(labels, train, strict=True) if t],
                [g for g, t in zip(groups, train, strict=True) if t],
                settings=settings,
                strata=[lang for lang, t in zip(langs, train, strict=True) if t],
            )
            model = LinearModel.from_dict(fitted.to_dict(), f"fold {k}", checked=True)
            fold_labels, _ = model.predict_matrix(xv.subset(~train))
            preds[name][~train] = [lab != "compliance" for lab in fold_labels]
            inner[name] = inner_score(model.training["envelope"]["langs"])
        # ties go to the earlier (simpler) candidate
        order = list(CANDIDATES)
        pick = max(order, key=lambda v: (inner[v], -order.index(v)))
        nested[~train] = preds[pick][~train]
        print(f"outer fold {k}: inner scores {inner} -> {pick}", flush=True)
    print(f"\nheld-out {args.by}s, {args.folds} outer folds")
    print(f"{'NESTED':12} {score(rows, nested)}")
    for name, pred in preds.items():
        print(f"{name:12} {score(rows, pred)}  (one candidate: for comparison only)")
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
