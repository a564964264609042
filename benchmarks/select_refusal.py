"""Choose the refusal recipe's variant on one part of the data, score it on another (nested CV).

    python benchmarks/select_refusal.py [--by model|family] [--folds 5]

For each outer fold (whole models, or whole vendor families, held out) every candidate
variant of the training recipe is fitted on the other folds; its *inner* out-of-fold figures
(``training["envelope"]``: cross-validation by whole models inside the outer training part)
pick one variant per outer fold, and only that variant's labels of the held-out fold are
scored. So the figures printed as ``NESTED`` never saw the answers they are scored on, not
even through the choice of variant. Each candidate's own outer figures are printed too, for
comparison only: picking the best of those would choose on the held-out data.

Candidates differ from the recipe (``benchmarks/train_refusal.py``'s) in named ways: ``l2``
(or any other ``TrainSettings`` field); ``drop``: dense features zeroed, to test a feature's
worth; ``extra``: a candidate featuriser from ``EXTRA`` whose tokens join the hashed part, so a
feature is tried here before anything in the package changes; ``weight``: per-language row
weights in training (a weight of 2 trains on each such answer twice; scoring is unchanged);
``interact``: the dense features get a second copy for answers in that language.
``stack``: another model class, a second stage of boosted shallow trees (``stacking.py``)
over ``base``'s out-of-fold log-odds (those ``fit_matrix`` computes for calibration, so the
trees learn how the linear head errs on unseen models) and the dense features, with its own
per-language rate-matched thresholds from cross-validating the trees over the same inner
folds; ``req``: the request's language as an input; ``unforced``: broken output is an input,
not a rule; ``expert``: a Finnish-only linear head's out-of-fold log-odds as an input;
``fluency``: the share of a Finnish answer's words fewer than two other training models
write; ``per_model``: per-language thresholds with the least mean per-model rate error
instead of matched rates (with ``rounds`` 0: no trees). Stack candidates need ``base`` and
cost no linear fit of their own. ``--only`` runs a subset of the candidates (the machine is
shared; the default is the last set compared); ``--dump`` writes each candidate's held-out
predictions. Skips (exit 0) with a message when the data folder is absent.

Runs of 2026-12-02 (~35 min each with the feature candidates; ~3 min with ``base`` and stack
candidates only). Session 1, feature candidates: no candidate won on both splits, so the
shipped recipe stayed ``base``. By model, NESTED fi 0.902 (base 0.893), worst per-model error
0.30 (0.42), but zh 0.914 (0.918); by vendor, NESTED fi 0.880 (base 0.883) and every
candidate alone lost en or zh accuracy against ``base``. Session 2, model classes (stacking
with 2 or 3-deep trees, the request's language, broken output unforced, a Finnish expert
head on words or character n-grams, fluency; per-model-error thresholds): none won. By
model, NESTED of {base, stack-d2, stack-fluency, lin-permodel}: en 0.963/0.12, zh 0.923/0.10,
fi 0.890/0.42 (base alone 0.962/0.12, 0.918/0.14, 0.893/0.42); by vendor: en 0.935/0.26, zh
0.879/0.28, fi 0.890/0.40 (base 0.935/0.26, 0.867/0.28, 0.883/0.40), and every stack
candidate alone lost zh accuracy by vendor (0.846-0.850). The worst Finnish errors are models,
not answers: garbled Finnish from a small model that the source's single judge calls evasive
(-0.36 to -0.42) and a larger one of the same vendor whose Finnish answers the broken-output
rule forces to non-compliance though judged compliant (+0.28 to +0.30).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import numpy.typing as npt

from pytest_modelprov.langid import UNDECIDED, detect, leaning
from pytest_modelprov.refusal import model as linear_module
from pytest_modelprov.refusal.features import (
    DENSE_NAMES,
    HASH_BITS,
    LANG_FEATURES,
    dense_features,
    normalise,
    sparse_tokens,
    strip_reasoning,
)
from pytest_modelprov.refusal.model import (
    MIN_ROWS_FOR_LANG_THRESHOLD,
    LinearModel,
    Matrix,
    TrainSettings,
    envelope,
    fit_matrix,
    group_folds,
    rate_matching_threshold,
    rule_broken,
    rule_refusals,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stacking import BoostSettings, fit_boosted
from train_refusal import DATA, load

_MASK = (1 << HASH_BITS) - 1
_MAX_CHARS = 4000  # as features: the hashed part reads this much of an answer
# Latin-script words only (CJK runs already have character n-grams in the package)
_LATIN_WORD = re.compile(r"[a-z\u00c0-\u024f]+(?:'[a-z\u00c0-\u024f]+)?")


def char_ngrams(text: str) -> list[str]:
    """Character 3-5-grams inside each Latin word, with word-boundary marks: Finnish puts
    case, number and possession in the ending ("sensuuri-ssa", "vaino-t-en"), so the
    suffix and the stem each get a feature, where the 5-letter stem only sees the start."""
    out: list[str] = []
    for word in _LATIN_WORD.findall(text):
        if len(word) < 4:
            continue
        marked = f"<{word}>"
        for n in (3, 4, 5):
            out.extend(f"g:{marked[i : i + n]}" for i in range(len(marked) - n + 1))
    return out


def suffixes(text: str) -> list[str]:
    """The last 3 and 4 letters of each long Latin word (its inflection), and the pair of
    consecutive words' endings (agreement between them is what broken Finnish gets wrong)."""
    words = [w for w in _LATIN_WORD.findall(text) if len(w) > 6]
    out = [f"x3:{w[-3:]}" for w in words] + [f"x4:{w[-4:]}" for w in words]
    out.extend(f"xx:{a[-3:]} {b[-3:]}" for a, b in itertools.pairwise(words))
    return out


#: candidate featurisers: (tokens of the normalised answer, languages they apply to; empty
#: means every answer)
EXTRA: dict[str, tuple[Callable[[str], list[str]], tuple[str, ...]]] = {
    "char-fi": (char_ngrams, ("fi",)),
    "suffix-fi": (suffixes, ("fi",)),
    "char-all": (char_ngrams, ()),
}

CANDIDATES: dict[str, dict[str, Any]] = {
    "base": {},
    "char-fi": {"extra": "char-fi"},
    "fi-x2": {"weight": {"fi": 2}},
    "char-fi+x2": {"extra": "char-fi", "weight": {"fi": 2}},
    "fi-x3": {"weight": {"fi": 3}},
    "dense-fi": {"interact": "fi"},
    # a second stage of boosted trees over the base model's out-of-fold log-odds and the
    # dense features (``refusal/stacking.py``); costs no linear fit of its own
    "stack-d2": {"stack": {"depth": 2, "rounds": 100}},
    "stack-d3": {"stack": {"depth": 3, "rounds": 100}},
    "stack-d3-slow": {"stack": {"depth": 3, "rounds": 200, "learning_rate": 0.05}},
    # + the request's language (answering a Finnish request in Chinese is a known evasion)
    "stack-d2-req": {"stack": {"depth": 2, "rounds": 100}, "req": True},
    # ... and broken output is one more input for the trees instead of a rule
    "stack-d2-req-nb": {"stack": {"depth": 2, "rounds": 100}, "req": True, "unforced": True},
    # no trees: the linear head, broken output not forced (the rule alone)
    "lin-nb": {"stack": {"rounds": 0}, "unforced": True},
}
# a Finnish expert: a linear head of its own trained on the Finnish answers only (its
# out-of-fold log-odds one more input of the trees): words, or words and character n-grams
CANDIDATES["stack-fi-words"] = {"stack": {"depth": 2, "rounds": 100}, "expert": "words"}
CANDIDATES["stack-fi-char"] = {"stack": {"depth": 2, "rounds": 100}, "expert": "char-fi"}
# + how much of a Finnish answer is made of words other models never write (garbled output)
CANDIDATES["stack-fluency"] = {"stack": {"depth": 2, "rounds": 100}, "fluency": True}
# no trees: per-language thresholds with the least mean per-model rate error (not matched)
CANDIDATES["lin-permodel"] = {"stack": {"rounds": 0}, "per_model": True}
DEFAULT_ONLY = ("base", "stack-d2", "stack-fluency", "lin-permodel")
#: the dense features a language of its own may re-weigh (those before the language flags)
_INTERACTED = DENSE_NAMES.index("lang_en")


#: candidate keys that are not ``TrainSettings`` fields
_NOT_SETTINGS = (
    *("drop", "extra", "weight", "interact", "stack", "req", "unforced", "expert", "per_model"),
    "fluency",
)


def interact(dense: npt.NDArray[np.float64], lang: str) -> npt.NDArray[np.float64]:
    """A copy of the dense features that is non-zero only on answers in ``lang`` (its own
    sub-model for them: Daume's feature augmentation), inserted before the unshrunk bias,
    which training expects last."""
    own = dense[:, :_INTERACTED] * dense[:, LANG_FEATURES[lang]][:, None]
    return np.hstack([dense[:, :-1], own, dense[:, -1:]])


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


def build(answers: Sequence[str], dense: npt.NDArray[np.float64], extra: str | None) -> Matrix:
    """The design matrix of ``featurise`` (same tokens, hash, sublinear counts and unit
    length), with a candidate featuriser's tokens added to the hashed part of the answers
    in its languages (told by the dense language columns, as at use)."""
    fn, langs = EXTRA[extra] if extra else (None, ())
    in_langs = (
        np.ones(len(answers), dtype=bool)
        if not langs
        else np.any([dense[:, LANG_FEATURES[x]] > 0.5 for x in langs], axis=0)
    )
    cache: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, answer in enumerate(answers):
        tokens = sparse_tokens(answer)
        if fn is not None and in_langs[i]:
            tokens += fn(normalise(answer[:_MAX_CHARS]))
        counts: dict[int, int] = {}
        for t in tokens:
            h = cache.get(t)
            if h is None:
                h = cache[t] = zlib.crc32(t.encode("utf-8")) & _MASK
            counts[h] = counts.get(h, 0) + 1
        keys = sorted(counts)
        raw = [1.0 + math.log(counts[k]) for k in keys]
        norm = math.sqrt(sum(v * v for v in raw)) or 1.0
        rows.extend([i] * len(keys))
        cols.extend(keys)
        vals.extend(v / norm for v in raw)
    return Matrix(
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(vals, dtype=np.float64),
        dense,
        len(answers),
    )


def same_recipe(
    answers: Sequence[str], prompts: Sequence[str | None], dense: npt.NDArray[np.float64]
) -> None:
    """Stop unless :func:`build` without a candidate is the shipped featuriser: ``base`` must
    stay the shipped recipe when the package's features change (they are optimised apart)."""
    shipped = Matrix.of_answers(answers, prompts)
    ours = build(answers, dense, None)
    same = (
        np.array_equal(shipped.rows, ours.rows)
        and np.array_equal(shipped.cols, ours.cols)
        and np.allclose(shipped.vals, ours.vals, rtol=1e-12, atol=0)
        and np.array_equal(shipped.dense, ours.dense)
    )
    if not same:
        raise SystemExit(
            "select_refusal.build() no longer reproduces the package's features "
            "(Matrix.of_answers); update build() before comparing candidates"
        )


def take(x: Matrix, index: npt.NDArray[np.int64]) -> Matrix:
    """Rows ``index`` of ``x`` in that order, repeats allowed (row weights by repetition)."""
    order = np.argsort(x.rows, kind="stable")
    starts = np.searchsorted(x.rows[order], np.arange(x.n + 1))
    pieces = [order[starts[i] : starts[i + 1]] for i in index.tolist()]
    sizes = np.array([len(p) for p in pieces], dtype=np.int64)
    picked = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return Matrix(
        np.repeat(np.arange(len(index), dtype=np.int64), sizes),
        x.cols[picked],
        x.vals[picked],
        x.dense[index],
        len(index),
    )


def masked(x: Matrix, drop: tuple[str, ...]) -> Matrix:
    dense = x.dense.copy()
    for name in drop:
        dense[:, DENSE_NAMES.index(name)] = 0.0
    return Matrix(x.rows, x.cols, x.vals, dense, x.n)


STACK_NAMES = ("linear_logodds", *DENSE_NAMES[:-1])
REQUEST_LANGS = ("en", "zh", "fi")


def request_flags(prompts: Sequence[str | None]) -> npt.NDArray[np.float64]:
    """One column per language: the request (prompt) is written in it (requests are short:
    :func:`leaning` decides those :func:`detect` cannot)."""
    found = [(detect(p) if detect(p) != UNDECIDED else leaning(p)) if p else "" for p in prompts]
    return np.array([[float(f == x) for x in REQUEST_LANGS] for f in found]).reshape(
        len(prompts), len(REQUEST_LANGS)
    )


def _logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    q = np.clip(p, 1e-9, 1 - 1e-9)
    out: npt.NDArray[np.float64] = np.log(q / (1 - q))
    return out


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
    return out


def stack_inputs(
    z: npt.NDArray[np.float64], dense: npt.NDArray[np.float64], req: Any = None
) -> Any:
    """The second stage's inputs: the linear log-odds and the dense features but the bias
    (and the request-language flags ``req``, when given)."""
    return np.column_stack([z, dense[:, :-1]] + ([] if req is None else [req]))


def rules(dense: npt.NDArray[np.float64]) -> tuple[Any, Any]:
    """(explicit-refusal rule, broken-output rule) of rows with these dense features."""
    x = Matrix(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), dense, len(dense))
    return rule_refusals(x), rule_broken(x)


def apply_limits(dense: npt.NDArray[np.float64], limits: Any) -> npt.NDArray[np.float64]:
    """Rows' thresholds from ``limits`` (the general threshold, per-language ones)."""
    glob, per = limits
    out = np.full(len(dense), glob)
    for lang, index in LANG_FEATURES.items():
        if lang in per:
            out[dense[:, index] > 0.5] = per[lang]
    return out


def fit_stack(
    z: npt.NDArray[np.float64],
    dense: npt.NDArray[np.float64],
    truth: npt.NDArray[np.bool_],
    groups: Sequence[str],
    strata: Sequence[str],
    settings: BoostSettings,
    req: Any = None,
    forced: bool = True,
    per_model: bool = False,
) -> tuple[Any, Any, dict[str, Any]]:
    """The second stage on the training part: ``z`` are the linear head's out-of-fold
    log-odds there. Its own inner figures (and thresholds) come from cross-validating the
    trees over the same whole-model folds; the final trees are fitted on every row the
    rules do not decide. (The log-odds of a row in one inner fold came from linear models
    that saw the other folds, so these inner figures are slightly optimistic for stacking:
    they only choose; the outer held-out figures score.)"""
    x = stack_inputs(z, dense, req)
    names = STACK_NAMES + tuple(f"more_{i}" for i in range(x.shape[1] - len(STACK_NAMES)))
    rule, broken = rules(dense)
    if not forced:
        broken = np.zeros_like(broken)
    decided = rule | broken
    y = truth.astype(np.float64)
    folds = group_folds(groups, 5)
    oof = z.copy()
    for k in sorted(set(folds.tolist())):
        tr = (folds != k) & ~decided
        te = folds == k
        trees = fit_boosted(x[tr], y[tr], z[tr], names, settings)
        oof[te] = z[te] + trees.raw(x[te])
    prob = np.where(broken, 1.0, _sigmoid(oof))
    glob = rate_matching_threshold(prob, rule, truth)
    per = {}
    for lang, index in LANG_FEATURES.items():
        m = dense[:, index] > 0.5
        if m.sum() >= MIN_ROWS_FOR_LANG_THRESHOLD:
            per[lang] = rate_matching_threshold(prob[m], rule[m], truth[m])
            if per_model:
                per[lang] = least_model_error(prob[m], rule[m], truth[m], np.array(groups)[m])
    limits = (glob, per)
    pred = rule | (prob >= apply_limits(dense, limits))
    env = envelope(pred, truth, strata, groups)
    trees = fit_boosted(x[~decided], y[~decided], z[~decided], names, settings)
    return trees, limits, env


def least_model_error(prob: Any, rule: Any, truth: Any, groups: Any) -> float:
    """The threshold in [0.2, 0.8] (steps of 0.01) with the least mean absolute per-model
    rate error over models with 20 answers or more (rate matching zeroes the pooled error
    instead, which a few large models can dominate)."""
    models = [g for g in sorted(set(groups.tolist())) if (groups == g).sum() >= 20]
    if not models:
        return rate_matching_threshold(prob, rule, truth)
    best, best_err = 0.5, math.inf
    for t in np.round(np.arange(0.2, 0.801, 0.01), 2).tolist():
        pred = rule | (prob >= t)
        err = float(
            np.mean([abs(pred[groups == g].mean() - truth[groups == g].mean()) for g in models])
        )
        if err < best_err - 1e-12:
            best, best_err = t, err
    return float(best)


def model_words(answers: Sequence[str], fi: npt.NDArray[np.bool_]) -> list[set[str]]:
    """The distinct Latin words (4 letters or more) of each Finnish answer."""
    return [
        {w for w in _LATIN_WORD.findall(normalise(a[:_MAX_CHARS])) if len(w) >= 4} if f else set()
        for a, f in zip(answers, fi.tolist(), strict=True)
    ]


def unseen_share(
    words: list[set[str]], groups: Sequence[str], train: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Per answer, the share of its words written by fewer than two *other* training models
    (no labels used: a vocabulary of the training part's Finnish). Garbled Finnish from a
    small model is words nobody else writes; fluent Finnish, however unusual the topic, is
    mostly not."""
    by_model: dict[str, set[str]] = {}
    for w, g, t in zip(words, groups, train.tolist(), strict=True):
        if t:
            by_model.setdefault(g, set()).update(w)
    seen: dict[str, int] = {}
    for vocab in by_model.values():
        for w in vocab:
            seen[w] = seen.get(w, 0) + 1
    out = np.zeros((len(words), 1))
    for i, (w, g) in enumerate(zip(words, groups, strict=True)):
        if not w:
            continue
        own = by_model.get(g, set())  # empty for a held-out model
        rare = sum(seen.get(x, 0) - (x in own) < 2 for x in w)
        out[i, 0] = rare / len(w)
    return out


def expert_logodds(
    x: Matrix, train: npt.NDArray[np.bool_], labels: Sequence[str], groups: Sequence[str]
) -> npt.NDArray[np.float64]:
    """A non-compliance head trained on the Finnish answers of the training part only: its
    out-of-fold log-odds there (whole models held out), its log-odds on the held-out part,
    zero on answers in other languages (one column)."""
    fi = x.dense[:, LANG_FEATURES["fi"]] > 0.5
    idx = np.flatnonzero(train & fi)
    y = np.array([labels[i] != "compliance" for i in idx.tolist()], dtype=np.float64)
    head, oof = linear_module._head_fit(
        take(x, idx), y, [groups[i] for i in idx.tolist()], TrainSettings()
    )
    out = np.zeros((x.n, 1))
    out[idx, 0] = _logit(oof)
    held = ~train & fi
    out[held, 0] = head.a * x.subset(held).scores(head.weights, head.dense) + head.b
    return out


def predict_stack(
    model: LinearModel, trees: Any, limits: Any, x: Matrix, req: Any = None, forced: bool = True
) -> Any:
    """Non-compliance of each row of ``x`` by the linear head plus the trees."""
    nc = model.noncompliance
    z = nc.a * x.scores(nc.weights, nc.dense) + nc.b
    prob = _sigmoid(z + trees.raw(stack_inputs(z, x.dense, req)))
    rule, broken = rules(x.dense)
    if forced:
        prob = np.where(broken, 1.0, prob)
    return rule | (prob >= apply_limits(x.dense, limits))


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
        acc = float((pred[s] == truth[s]).mean()) if s.any() else math.nan
        worst = f"max {errs.max():.2f} median {np.median(errs):.2f}" if len(errs) else "max -"
        parts.append(f"{lang} acc {acc:.3f} {worst} signs {right}/{big}")
    return " | ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--by", choices=["model", "family"], default="model")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), default=list(DEFAULT_ONLY))
    parser.add_argument(
        "--dump", type=Path, help="write each candidate's held-out predictions here (.npz)"
    )
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SKIPPED: {args.data} is absent (the labelled benchmark data is not shipped)")
        return 0
    started = time.perf_counter()
    candidates = {k: v for k, v in CANDIDATES.items() if k in args.only}
    examples, langs, _ = load(args.data)
    rows = [json.loads(x) for x in args.data.read_text(encoding="utf-8").splitlines() if x]
    # stripped as Classifier.classify strips, so training and use see the same text
    answers = [strip_reasoning(e.response).strip() for e in examples]
    dense = np.array(
        [dense_features(a, e.prompt) for a, e in zip(answers, examples, strict=True)],
        dtype=np.float64,
    ).reshape(len(examples), len(DENSE_NAMES))
    same_recipe(answers[:300], [e.prompt for e in examples[:300]], dense[:300])
    matrices: dict[str | None, Matrix] = {}
    for spec in candidates.values():
        for extra in (spec.get("extra"), spec.get("expert")):
            extra = None if extra == "words" else extra
            if extra not in matrices:
                matrices[extra] = build(answers, dense, extra)
    print(f"featurised in {time.perf_counter() - started:.0f} s", flush=True)
    labels = [e.label for e in examples]
    req = request_flags([e.prompt for e in examples])
    fi_words = model_words(answers, dense[:, LANG_FEATURES["fi"]] > 0.5)
    # a vocabulary is counted per model even when whole families are held out
    groups_by_model = [e.group for e in examples]
    groups = [e.group.split("/")[0] if args.by == "family" else e.group for e in examples]
    lang_arr = np.array(langs)
    folds = group_folds(groups, args.folds)
    preds = {v: np.zeros(len(examples), dtype=bool) for v in candidates}
    nested = np.zeros(len(examples), dtype=bool)
    for k in sorted(set(folds.tolist())):
        train = folds != k
        inner: dict[str, tuple[int, float]] = {}
        linear: dict[str, Any] = {}
        for name, spec in candidates.items():
            if spec.get("stack"):
                continue
            xv = masked(matrices[spec.get("extra")], tuple(spec.get("drop", ())))
            if spec.get("interact"):
                xv = Matrix(xv.rows, xv.cols, xv.vals, interact(xv.dense, spec["interact"]), xv.n)
            index = np.flatnonzero(train)
            for lang, times in spec.get("weight", {}).items():
                again = index[lang_arr[index] == lang]
                index = np.concatenate([index, *[again] * (times - 1)])
            settings = TrainSettings(**{a: b for a, b in spec.items() if a not in _NOT_SETTINGS})
            captured: list[Any] = []
            head_fit = linear_module._head_fit

            def capture(
                *args: Any, _fit: Any = head_fit, _into: list[Any] = captured, **kwargs: Any
            ) -> Any:
                out = _fit(*args, **kwargs)
                _into.append(out[1])
                return out

            # the non-compliance head's out-of-fold probabilities (its first fit), which
            # fit_matrix computes for calibration: the second stage trains on them
            linear_module._head_fit = capture  # type: ignore[assignment]
            try:
                fitted = fit_matrix(
                    take(xv, index),
                    [labels[i] for i in index.tolist()],
                    [groups[i] for i in index.tolist()],
                    settings=settings,
                    strata=[langs[i] for i in index.tolist()],
                )
            finally:
                linear_module._head_fit = head_fit  # type: ignore[assignment]
            # the stored form (int16 weights) is what ships; the weights file holds only the
            # package's dense features, so a candidate with more is scored unstored
            model = (
                fitted
                if spec.get("interact")
                else LinearModel.from_dict(fitted.to_dict(), f"fold {k}", checked=True)
            )
            fold_labels, _ = model.predict_matrix(xv.subset(~train))
            preds[name][~train] = [lab != "compliance" for lab in fold_labels]
            inner[name] = inner_score(model.training["envelope"]["langs"])
            print(f"  fold {k} {name}: inner {inner[name]}", flush=True)
            if not spec:
                linear = {"model": model, "oof": captured[0], "x": xv}
        for name, spec in candidates.items():
            if not spec.get("stack"):
                continue
            if not linear:
                raise SystemExit("a stack candidate needs the base candidate in --only")
            index = np.flatnonzero(train)
            xb = linear["x"]
            more = req if spec.get("req") else None
            if spec.get("fluency"):
                more = unseen_share(fi_words, groups_by_model, train)
            if spec.get("expert"):
                expert_x = matrices[None if spec["expert"] == "words" else spec["expert"]]
                more = expert_logodds(expert_x, train, labels, groups)
            trees, limits, env = fit_stack(
                _logit(linear["oof"]),
                xb.dense[index],
                np.array([labels[i] != "compliance" for i in index.tolist()]),
                [groups[i] for i in index.tolist()],
                [langs[i] for i in index.tolist()],
                BoostSettings(**spec["stack"]),
                None if more is None else more[index],
                not spec.get("unforced"),
                bool(spec.get("per_model")),
            )
            preds[name][~train] = predict_stack(
                linear["model"],
                trees,
                limits,
                xb.subset(~train),
                None if more is None else more[~train],
                not spec.get("unforced"),
            )
            inner[name] = inner_score(env)
            print(f"  fold {k} {name}: inner {inner[name]} limits {limits}", flush=True)
        # ties go to the earlier (simpler) candidate
        order = list(candidates)
        pick = max(order, key=lambda v: (inner[v], -order.index(v)))
        nested[~train] = preds[pick][~train]
        print(f"outer fold {k}: inner scores {inner} -> {pick}", flush=True)
    print(f"\nheld-out {args.by}s, {args.folds} outer folds")
    print(f"{'NESTED':12} {score(rows, nested)}")
    for name, pred in preds.items():
        print(f"{name:12} {score(rows, pred)}  (one candidate: for comparison only)")
    if args.dump:
        np.savez(args.dump, nested=nested, folds=folds, **preds)
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
