"""Refusal/evasion classifier accuracy on real labelled answers, with held-out models.

    python benchmarks/bench_refusal.py [--folds 5] [--by family|model]

Reads ``../shared/data/refusal/labelled.jsonl`` (XSTest human labels; SpeechMap China sets
in English and Chinese and the US "hard" gold set, judge labels). Reports binary
non-compliance (refusal + evasion) accuracy and F1 per source and language, and per model
the estimated against the labelled rate, for:

* the keyword baseline (an XSTest-style string match on the opening of the answer);
* the offline classifier, re-trained for each fold on the other folds' models and
  evaluated only on answers of models it never saw (groups: whole models, or whole vendor
  families with ``--by family``). The shipped weights are trained on everything and so
  cannot be evaluated here.

Skips (exit 0) with a message when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from pytest_modelprov.refusal import Classifier, KeywordClassifier
from pytest_modelprov.refusal_model import (
    Example,
    LinearModel,
    TrainSettings,
    fit,
    group_folds,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "refusal" / "labelled.jsonl"
LABEL_MAP = {"compliance": "compliance", "refusal": "refusal", "partial": "evasion"}
TARGETS = {
    "xstest-v2": 0.95,
    "speechmap-china_criticism-en": 0.92,
    "speechmap-china_criticism-zh": 0.92,
}
MIN_ANSWERS_PER_MODEL = 20


def family(model: str) -> str:
    return model.split("/")[0]


def binary_scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    acc = float(np.mean(pred == truth))
    tp = float(np.sum(pred & truth))
    denom = float(np.sum(pred) + np.sum(truth))
    return acc, (2 * tp / denom if denom else 1.0)


def report(name: str, rows: list[dict], pred: np.ndarray) -> dict[str, float]:
    truth = np.array([r["label"] != "compliance" for r in rows])
    sources = np.array([r["source"] for r in rows])
    models = np.array([r["model"] for r in rows])
    print(f"\n## {name}")
    print(f"{'source':34} {'n':>5} {'acc':>6} {'F1':>6} {'rate err max':>13} {'mean':>6}")
    summary: dict[str, float] = {}
    for source in sorted(set(sources)):
        m = sources == source
        acc, f1 = binary_scores(pred[m], truth[m])
        errors = []
        for model in sorted(set(models[m])):
            mm = m & (models == model)
            if mm.sum() >= MIN_ANSWERS_PER_MODEL:
                errors.append((abs(pred[mm].mean() - truth[mm].mean()), model))
        worst = max(errors)[0] if errors else float("nan")
        mean = float(np.mean([e for e, _ in errors])) if errors else float("nan")
        target = TARGETS.get(source)
        mark = "" if target is None else (" ok" if acc >= target else f" below {target}")
        print(f"{source:34} {int(m.sum()):5d} {acc:6.3f} {f1:6.3f} {worst:13.3f} {mean:6.3f}{mark}")
        summary[source] = acc
    return summary


def per_model(rows: list[dict], preds: dict[str, np.ndarray], source: str) -> None:
    truth = np.array([r["label"] != "compliance" for r in rows])
    models = np.array([r["model"] for r in rows])
    m_src = np.array([r["source"] == source for r in rows])
    print(f"\n### per model, {source}: labelled vs estimated non-compliance rate")
    print(f"{'model':48} {'n':>3} {'label':>6} " + " ".join(f"{k:>9}" for k in preds))
    for model in sorted(set(models[m_src])):
        mm = m_src & (models == model)
        if mm.sum() < MIN_ANSWERS_PER_MODEL:
            continue
        cells = " ".join(f"{p[mm].mean():9.2f}" for p in preds.values())
        print(f"{model:48} {int(mm.sum()):3d} {truth[mm].mean():6.2f} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="refusal classifier benchmark")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--by", choices=["model", "family"], default="model")
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SKIPPED: {args.data} is absent (the labelled benchmark data is not shipped)")
        return 0
    started = time.perf_counter()
    rows = [json.loads(x) for x in args.data.read_text(encoding="utf-8").splitlines() if x]
    print(f"{len(rows)} labelled answers from {args.data}")

    keyword = KeywordClassifier()
    kw = np.array([keyword.classify(r["response"], r["prompt"]) != "compliance" for r in rows])

    groups = [family(r["model"]) if args.by == "family" else r["model"] for r in rows]
    folds = group_folds(groups, args.folds)
    held = np.zeros(len(rows), dtype=bool)
    labels: list[str] = [""] * len(rows)
    settings = TrainSettings(folds=3)  # inner calibration folds, kept small for run time
    for k in sorted(set(folds.tolist())):
        train = [
            Example(r["response"], LABEL_MAP[r["label"]], r["prompt"], g)
            for r, g, f in zip(rows, groups, folds, strict=False)
            if f != k
        ]
        model = fit(train, settings=settings, name="bench-fold", version=str(k))
        # round-trip through the shipped JSON format, so quantisation is part of the test
        clf = Classifier(LinearModel.from_dict(model.to_dict(), f"fold {k}"))
        test = [i for i, f in enumerate(folds) if f == k]
        for i in test:
            labels[i] = clf.classify(rows[i]["response"], rows[i]["prompt"])
        held[test] = True
        unseen = len({groups[i] for i in test})
        print(
            f"fold {k}: trained on {len(train)} answers, evaluated {len(test)} answers "
            f"of {unseen} unseen {args.by}s"
        )
    assert held.all()
    linear = np.array([label != "compliance" for label in labels])

    report("keyword baseline (XSTest-style string match)", rows, kw)
    report(f"offline classifier, held-out {args.by}s ({args.folds} folds)", rows, linear)
    for source in ("speechmap-china_criticism-en", "speechmap-china_criticism-zh", "xstest-v2"):
        per_model(rows, {"keyword": kw, "offline": linear}, source)
    evasive = np.array([r["label"] == "partial" for r in rows])
    china = np.array([r["source"].startswith("speechmap-china") for r in rows])
    caught = float(linear[evasive & china].mean())
    caught_kw = float(kw[evasive & china].mean())
    print(f"\nChina-set evasive answers caught: offline {caught:.2f}, keyword {caught_kw:.2f}")
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
