"""Refusal/evasion classifier accuracy on real labelled answers, with held-out models.

    python benchmarks/bench_refusal.py [--folds 5] [--by model|family] [--iterations N]

Reads ``../shared/data/refusal/labelled.jsonl`` (XSTest human labels; SpeechMap China sets
in English, Chinese and Finnish and the US "hard" gold set, judge labels). Reports binary
non-compliance (refusal + evasion) accuracy and F1 per source and language, per model the
estimated against the labelled rate, and the 3-label confusion, for:

* the keyword baseline (an XSTest-style string match on the opening of the answer);
* the offline classifier's training recipe (``benchmarks/train_refusal.py``: same
  settings, same code), re-trained for each fold on the other folds' models and evaluated
  only on answers of models it never saw (groups: whole models, or whole vendor families
  with ``--by family``). Every answer is featurised once; folds select rows of that matrix.

The shipped weights are trained on all of this data, so scoring them here would score
answers they were trained on: the figures below are the cross-validated figures of the
recipe that produced them, not of the shipped file itself.

Where the data has a second judge's label (the SpeechMap China sets), its per-model rate is
shown as ``judge-2``: the labels' own noise floor for the per-model rate error. What a
drift gate measures, the change between two releases, is stood in for by pairs of models of
one vendor on the same prompts.

The audit tables treat the labels as the judge: per model, the judge-audited rate
(``refusal.measure(..., audit=..., audit_n=...)``) against the labelled rate for audit sizes
20, 40 and 80, next to the classifier alone.

Rates are reported raw and Rogan-Gladen corrected, with the sensitivity and specificity
each fold's model measured out-of-fold on its own training models (never on the held-out
ones). Skips (exit 0) with a message when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

# the machine's cores are shared: the sparse work gains nothing from BLAS threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt

from pytest_modelprov.audit import audited_rate
from pytest_modelprov.refusal import Classifier, KeywordClassifier
from pytest_modelprov.refusal.features import strip_reasoning
from pytest_modelprov.refusal.model import (
    Example,
    LinearModel,
    corrected_rate,
    featurise_examples,
    fit_matrix,
    group_folds,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_refusal import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "refusal" / "labelled.jsonl"
LABEL_MAP = {"compliance": "compliance", "refusal": "refusal", "partial": "evasion"}
TARGETS = {
    "xstest-v2": 0.95,
    "speechmap-china_criticism-en": 0.92,
    "speechmap-china_criticism-zh": 0.92,
    "speechmap-china_criticism-fi": 0.92,
}
RATE_TARGET = 0.10
MIN_ANSWERS_PER_MODEL = 20
Bools = npt.NDArray[np.bool_]


def family(model: str) -> str:
    return model.split("/")[0]


def binary_scores(pred: Bools, truth: Bools) -> tuple[float, float]:
    acc = float(np.mean(pred == truth))
    tp = float(np.sum(pred & truth))
    denom = float(np.sum(pred) + np.sum(truth))
    return acc, (2 * tp / denom if denom else 1.0)


def report(name: str, rows: list[dict[str, Any]], pred: Bools) -> None:
    truth = np.array([r["label"] != "compliance" for r in rows])
    keys = np.array([f"{r['source']} [{r['lang']}]" for r in rows])
    print(f"\n## {name}: binary non-compliance")
    print(f"{'source [lang]':38} {'n':>5} {'acc':>6} {'F1':>6}  target")
    for key in sorted(set(keys.tolist())):
        m = keys == key
        acc, f1 = binary_scores(pred[m], truth[m])
        target = TARGETS.get(key.split(" ")[0])
        mark = "" if target is None else ("ok" if acc >= target else f"MISSED ({target})")
        print(f"{key:38} {int(m.sum()):5d} {acc:6.3f} {f1:6.3f}  {mark}")
    acc, f1 = binary_scores(pred, truth)
    print(f"{'all':38} {len(rows):5d} {acc:6.3f} {f1:6.3f}")


def per_model(
    rows: list[dict[str, Any]], estimates: dict[str, npt.NDArray[np.float64]], source: str
) -> dict[str, list[float]]:
    """Per model rate table; ``estimates`` holds one per-row estimate column per method.
    Returns each method's per-model absolute rate errors."""
    truth = np.array([r["label"] != "compliance" for r in rows], dtype=np.float64)
    models = np.array([r["model"] for r in rows])
    m_src = np.array([r["source"] == source for r in rows])
    counts = {m: int((m_src & (models == m)).sum()) for m in set(models[m_src].tolist())}
    if max(counts.values()) < MIN_ANSWERS_PER_MODEL:
        print(f"\n### {source}: no model has {MIN_ANSWERS_PER_MODEL}+ answers; no per-model rates")
        return {}
    print(f"\n### {source}: labelled vs estimated non-compliance rate per model")
    print(f"{'model':46} {'n':>4} {'label':>6} " + " ".join(f"{k:>9}" for k in estimates))
    errors: dict[str, list[float]] = {k: [] for k in estimates}
    for model in sorted(set(models[m_src].tolist())):
        mm = m_src & (models == model)
        if mm.sum() < MIN_ANSWERS_PER_MODEL:
            continue
        label = float(truth[mm].mean())
        cells = []
        for k, est in estimates.items():
            if np.isnan(est[mm]).any():  # this estimate does not cover this source
                cells.append(f"{'-':>9}")
                continue
            value = float(est[mm].mean())
            errors[k].append(abs(value - label))
            cells.append(f"{value:9.2f}")
        print(f"{model[:46]:46} {int(mm.sum()):4d} {label:6.2f} " + " ".join(cells))
    for stat, fn in (("max |err|", np.max), ("median |err|", np.median)):
        line = " ".join(f"{float(fn(e)):9.3f}" if e else f"{'-':>9}" for e in errors.values())
        print(f"{stat:46} {'':4} {'':6} {line}")
    # rates are means of 0/1 rows, so "within 0.05" must not lose 0.05 to float rounding
    within = " ".join(
        f"{sum(x <= RATE_TARGET + 1e-9 for x in e):>6}/{len(e):<2}" if e else f"{'-':>9}"
        for e in errors.values()
    )
    print(f"{'models within ' + str(RATE_TARGET):46} {'':4} {'':6} {within}")
    return errors


def release_pairs(
    rows: list[dict[str, Any]], estimates: dict[str, npt.NDArray[np.float64]], source: str
) -> dict[str, tuple[int, int]]:
    """What a drift gate sees: the change in rate between two models of one vendor (stand-ins
    for two releases) on the same prompts, estimated against labelled. Returns, per method,
    (changes of 0.1 or more with the right sign, changes of 0.1 or more)."""
    truth = np.array([r["label"] != "compliance" for r in rows], dtype=np.float64)
    models = np.array([r["model"] for r in rows])
    m_src = np.array([r["source"] == source for r in rows])
    names = [
        m
        for m in sorted(set(models[m_src].tolist()))
        if (m_src & (models == m)).sum() >= MIN_ANSWERS_PER_MODEL
    ]
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if family(a) == family(b)]
    if not pairs:
        return {}
    print(f"\n### {source}: change between two models of one vendor, {len(pairs)} pairs")
    print(
        f"{'':30} {'max |err|':>10} {'median':>8} {'within ' + str(RATE_TARGET):>12} "
        f"{'sign right (|change| >= 0.1)':>30}"
    )
    signs: dict[str, tuple[int, int]] = {}
    for name, est in estimates.items():
        if np.isnan(est[m_src]).any():
            continue
        errs, right, big = [], 0, 0
        for a, b in pairs:
            ma, mb = m_src & (models == a), m_src & (models == b)
            labelled = float(truth[mb].mean() - truth[ma].mean())
            estimated = float(est[mb].mean() - est[ma].mean())
            errs.append(abs(estimated - labelled))
            if abs(labelled) >= 0.1:
                big += 1
                right += np.sign(estimated) == np.sign(labelled)
        within = sum(e <= RATE_TARGET + 1e-9 for e in errs)
        print(
            f"{name:30} {max(errs):10.3f} {float(np.median(errs)):8.3f} "
            f"{within:>9}/{len(errs):<2} {right:>25}/{big:<3}"
        )
        signs[name] = (int(right), big)
    return signs


AUDIT_SIZES = (20, 40, 80)
AUDIT_DRAWS = 200


def audit_table(rows: list[dict[str, Any]], offline: Bools, source: str, seed: int = 0) -> None:
    """What an audit buys: treating the labels as the judge, per model, the audited rate
    (``pytest_modelprov.audit``, ``AUDIT_DRAWS`` random audits per size) against the
    labelled rate, next to the classifier alone. Coverage is of the labelled rate of the
    model's answers; an audit size at or above a model's answers is the plain judge."""
    truth = np.array([r["label"] != "compliance" for r in rows])
    models = np.array([r["model"] for r in rows])
    m_src = np.array([r["source"] == source for r in rows])
    names = [
        m
        for m in sorted(set(models[m_src].tolist()))
        if (m_src & (models == m)).sum() >= MIN_ANSWERS_PER_MODEL
    ]
    if not names:
        return
    rng = np.random.default_rng(seed)
    print(f"\n### {source}: audited rate per model ({AUDIT_DRAWS} random audits each)")
    print(
        f"{'':22} {'max |err|':>10} {'median':>8} {'within ' + str(RATE_TARGET):>12} "
        f"{'coverage':>9} {'width':>7}"
    )
    alone = [
        abs(
            float(offline[m_src & (models == m)].mean())
            - float(truth[m_src & (models == m)].mean())
        )
        for m in names
    ]
    print(
        f"{'classifier alone':22} {max(alone):10.3f} {float(np.median(alone)):8.3f} "
        f"{sum(e <= RATE_TARGET + 1e-9 for e in alone):>9}/{len(alone):<2} {'-':>9} {'-':>7}"
    )
    for size in AUDIT_SIZES:
        worst, cover, widths = [], [], []
        for m in names:
            mm = np.flatnonzero(m_src & (models == m))
            y, f = truth[mm].astype(int), offline[mm].astype(int)
            counts = [(int(v), 1) for v in f]
            label_rate = float(y.mean())
            errs = []
            for _ in range(AUDIT_DRAWS if size < len(mm) else 1):
                pick = rng.choice(len(mm), size=min(size, len(mm)), replace=False)
                est = audited_rate(counts, [(int(y[i]), int(f[i]), 1) for i in pick])
                errs.append(abs(est.value - label_rate))
                cover.append(est.low <= label_rate <= est.high)
                widths.append(est.high - est.low)
            worst.append(float(np.mean(errs)))
        print(
            f"{'audit_n = ' + str(size):22} {max(worst):10.3f} {float(np.median(worst)):8.3f} "
            f"{sum(e <= RATE_TARGET + 1e-9 for e in worst):>9}/{len(worst):<2} "
            f"{float(np.mean(cover)):9.3f} {float(np.mean(widths)):7.3f}"
        )


def confusion(rows: list[dict[str, Any]], labels: Sequence[str], source: str) -> None:
    names = ("compliance", "refusal", "evasion")
    idx = [i for i, r in enumerate(rows) if r["source"] == source]
    table = np.zeros((3, 3), dtype=int)
    for i in idx:
        table[names.index(LABEL_MAP[rows[i]["label"]]), names.index(labels[i])] += 1
    three = float(np.trace(table)) / max(len(idx), 1)
    print(f"\n{source}: 3-label confusion (rows labelled, columns predicted), acc {three:.3f}")
    print(f"{'':12} " + " ".join(f"{n:>10}" for n in names))
    for name, line in zip(names, table, strict=True):
        print(f"{name:12} " + " ".join(f"{v:10d}" for v in line))


def targets(
    rows: list[dict[str, Any]],
    offline: Bools,
    model_errors: dict[str, list[float]],
    pair_signs: dict[str, tuple[int, int]],
    by: str,
) -> None:
    """Issue 15's targets, met or missed, per language of the China sets (held-out ``by``)."""
    truth = np.array([r["label"] != "compliance" for r in rows])
    sources = np.array([r["source"] for r in rows])
    print(f"\n## targets (offline recipe, held-out {by}s)")
    print(
        f"{'source':32} {'accuracy':>16} {'max model |err|':>18} {'median':>7} {'pair signs':>16}"
    )
    for source in sorted(TARGETS):
        if not source.startswith("speechmap-china"):
            continue
        m = sources == source
        if not m.any():
            continue
        acc = float(np.mean(offline[m] == truth[m]))
        errs = model_errors.get(source, [])
        worst = max(errs) if errs else float("nan")
        right, big = pair_signs.get(source, (0, 0))

        def mark(ok: bool) -> str:
            return "ok" if ok else "MISSED"

        print(
            f"{source:32} {acc:7.3f} {mark(acc >= TARGETS[source]):>8} "
            f"{worst:9.3f} {mark(worst <= RATE_TARGET + 1e-9):>8} "
            f"{float(np.median(errs)) if errs else float('nan'):7.3f} "
            f"{right:>6}/{big:<3} {mark(right == big):>6}"
        )
    print(
        f"targets: accuracy >= {TARGETS['speechmap-china_criticism-en']}, per-model rate error "
        f"<= {RATE_TARGET}, every labelled same-vendor change >= 0.1 with the right sign"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="refusal classifier benchmark")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--by", choices=["model", "family"], default="model")
    parser.add_argument(
        "--iterations", type=int, default=None, help="override the recipe (experiments only)"
    )
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SKIPPED: {args.data} is absent (the labelled benchmark data is not shipped)")
        return 0
    started = time.perf_counter()
    rows = [json.loads(x) for x in args.data.read_text(encoding="utf-8").splitlines() if x]
    print(f"{len(rows)} labelled answers from {args.data}")
    settings = SETTINGS
    if args.iterations is not None:
        settings = replace(settings, iterations=args.iterations)
        print(f"NOTE: iterations overridden to {args.iterations}; not the shipped recipe")
    print(f"recipe: TrainSettings {settings.to_dict()} (same as benchmarks/train_refusal.py)")

    keyword = KeywordClassifier()
    kw = np.array([keyword.classify(r["response"], r["prompt"]) != "compliance" for r in rows])

    examples = [
        Example(r["response"], LABEL_MAP[r["label"]], r["prompt"], r["model"]) for r in rows
    ]
    x = featurise_examples(examples)
    empty = np.array([not strip_reasoning(r["response"]).strip() for r in rows])
    print(
        f"featurised once: {x.n} answers, {len(x.vals)} non-zeros, "
        f"{time.perf_counter() - started:.0f} s"
    )

    labels_all = [e.label for e in examples]
    langs = [r["lang"] for r in rows]
    groups = [family(r["model"]) if args.by == "family" else r["model"] for r in rows]
    folds = group_folds(groups, args.folds)
    labels: list[str] = [""] * len(rows)
    prob = np.zeros(len(rows))
    corrected = np.zeros(len(rows))  # per-row Rogan-Gladen inputs, aggregated per model below
    sens = np.zeros(len(rows))
    spec = np.zeros(len(rows))
    for k in sorted(set(folds.tolist())):
        t0 = time.perf_counter()
        train = folds != k
        test = np.flatnonzero(~train)
        fitted = fit_matrix(
            x.subset(train),
            [lab for lab, t in zip(labels_all, train, strict=True) if t],
            [g for g, t in zip(groups, train, strict=True) if t],
            settings=settings,
            name="bench-fold",
            version=str(k),
            strata=[lang for lang, t in zip(langs, train, strict=True) if t],
        )
        # round-trip through the shipped JSON format, so quantisation is part of the test
        model = LinearModel.from_dict(fitted.to_dict(), f"fold {k}")
        fold_labels, fold_p = model.predict_matrix(x.subset(~train))
        for j, i in enumerate(test):
            labels[i] = "refusal" if empty[i] else fold_labels[j]
            prob[i] = 1.0 if empty[i] else fold_p[j]
            cv = model.training["cv"].get(langs[i], model.training["cv"]["all"])
            sens[i], spec[i] = cv["sensitivity"], cv["specificity"]
        if k == 0:
            # the matrix path must agree with the public entry point on real answers
            clf = Classifier(model)
            probe = test[:150]
            t_call = time.perf_counter()
            agree = sum(
                clf.classify(rows[i]["response"], rows[i]["prompt"]) == labels[i] for i in probe
            )
            per_call = (time.perf_counter() - t_call) / len(probe)
            print(
                f"fold 0: Classifier.classify agrees with the matrix path on {agree}/{len(probe)}; "
                f"{1000 * per_call:.1f} ms per classify() call "
                f"(mean answer {np.mean([len(rows[i]['response']) for i in probe]):.0f} chars)"
            )
        cv_txt = ", ".join(
            f"{s} Se {v['sensitivity']:.2f} Sp {v['specificity']:.2f}"
            for s, v in model.training["cv"].items()
        )
        print(
            f"fold {k}: trained on {int(train.sum())} answers, evaluated {len(test)} answers of "
            f"{len({groups[i] for i in test})} unseen {args.by}s in "
            f"{time.perf_counter() - t0:.0f} s; inner CV {cv_txt}"
        )
    assert all(labels)
    offline = np.array([lab != "compliance" for lab in labels])

    report("keyword baseline (XSTest-style string match)", rows, kw)
    report(f"offline recipe, held-out {args.by}s ({args.folds} folds)", rows, offline)

    # Rogan-Gladen per model: observed rate of the held-out model, corrected with the
    # Se/Sp its fold's model measured on its own training models for that language.
    models = np.array([r["model"] for r in rows])
    sources = np.array([r["source"] for r in rows])
    for source in sorted(set(sources.tolist())):
        for model in set(models[sources == source].tolist()):
            mm = (sources == source) & (models == model)
            obs = float(offline[mm].mean())
            corrected[mm] = corrected_rate(obs, float(sens[mm].mean()), float(spec[mm].mean()))
    # The label noise floor: where a second LLM judge labelled the same answers, its rate
    # against the first judge's shows how close any estimate can be expected to come.
    second = np.array(
        [float(r["label_judge2"] != "COMPLETE") if "label_judge2" in r else np.nan for r in rows]
    )
    model_errors: dict[str, list[float]] = {}
    for source in sorted(set(sources.tolist())):
        model_errors[source] = per_model(
            rows,
            {
                "keyword": kw.astype(np.float64),
                "offline": offline.astype(np.float64),
                "RG-corr": corrected,
                "mean-p": prob,
                "judge-2": second,
            },
            source,
        ).get("offline", [])
    pair_signs: dict[str, tuple[int, int]] = {}
    for source in sorted(set(sources.tolist())):
        pair_signs[source] = release_pairs(
            rows,
            {
                "keyword": kw.astype(np.float64),
                "offline": offline.astype(np.float64),
                "judge-2": second,
            },
            source,
        ).get("offline", (0, 0))
    for source in sorted(set(sources.tolist())):
        if source.startswith("speechmap-china"):
            audit_table(rows, offline, source)
    for source in sorted(set(sources.tolist())):
        confusion(rows, labels, source)
    evasive = np.array([r["label"] == "partial" for r in rows])
    china = np.array([r["source"].startswith("speechmap-china") for r in rows])
    print(
        f"\nChina-set evasive answers caught: offline {float(offline[evasive & china].mean()):.2f},"
        f" keyword {float(kw[evasive & china].mean()):.2f}"
    )
    targets(rows, offline, model_errors, pair_signs, args.by)
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
