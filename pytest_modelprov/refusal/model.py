"""The offline refusal classifier's linear model: training with numpy, JSON weights.

Two logistic heads over the same features (``features``): ``noncompliance``
(compliance vs refusal-or-evasion) and ``refusal`` (among non-compliant answers, an
explicit refusal vs evasion). Each head is calibrated with Platt scaling on out-of-fold
scores where folds are whole groups (models), so the calibration has only seen answers of
models the fold did not train on, as deployment will. Training is deterministic: no random
initialisation, fixed fold assignment from sorted group names. N-grams are scaled by their
class log-count ratio before fitting (NBSVM); the scale is folded into the stored weights.
Answers whose text has fallen apart (``features.broken_output``) are never compliance.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..langid import answer_language, detect_many
from ..util import schema
from ..util.files import user_path
from ..util.safejson import loads as json_loads
from .features import (
    DENSE_NAMES,
    FEATURE_VERSION,
    HASH_BITS,
    LANG_FEATURES,
    Featurised,
    Prepared,
    dense_of,
    featurise,
    letters_in,
    letters_of,
    phrases_primed,
    prepare,
    strip_reasoning,
)
from .tokenhash import token_buckets

LABELS = ("compliance", "refusal", "evasion")


_BROKEN = DENSE_NAMES.index("broken_output")
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Example:
    """One labelled answer for training or evaluation."""

    response: str
    label: str
    prompt: str | None = None
    group: str = ""


def _counted(keys: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``np.unique(keys, return_counts=True)`` of non-negative keys. Below 2^32 they are
    sorted as two 16-bit halves, low then high, each by numpy's stable sort (a radix sort
    for 16-bit values): about half the time of its comparison sort of ~600,000 keys."""
    if not len(keys) or int(keys.max()) >= 1 << 32:
        found, counts = np.unique(keys, return_counts=True)
        return found, counts
    low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    order = low[np.argsort((keys[low] >> 16).astype(np.uint16), kind="stable")]
    ordered = keys[order]
    starts = np.empty(len(ordered) + 1, dtype=np.bool_)
    starts[0] = starts[-1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:-1])
    at = np.flatnonzero(starts)
    return ordered[at[:-1]], np.diff(at)


@dataclass
class Matrix:
    """A sparse design matrix as coordinate arrays plus its dense columns."""

    rows: npt.NDArray[np.int64]
    cols: npt.NDArray[np.int64]
    vals: Floats
    dense: Floats
    n: int

    @classmethod
    def build(cls, feats: Sequence[Featurised]) -> Matrix:
        rows = np.concatenate(
            [np.full(len(f.indices), i, dtype=np.int64) for i, f in enumerate(feats)]
            or [np.zeros(0, dtype=np.int64)]
        )
        cols = np.fromiter((c for f in feats for c in f.indices), dtype=np.int64)
        vals = np.fromiter((v for f in feats for v in f.values), dtype=np.float64)
        dense = np.array([f.dense for f in feats], dtype=np.float64).reshape(
            len(feats), len(DENSE_NAMES)
        )
        return cls(rows, cols, vals, dense, len(feats))

    @classmethod
    def of_answers(cls, answers: Sequence[str], prompts: Sequence[str | None]) -> Matrix:
        """``build([featurise(a, p) ...])`` with the hashed part computed for all answers
        at once (see :meth:`of_prepared`)."""
        return cls.of_prepared([prepare(a) for a in answers], prompts)

    @classmethod
    def of_prepared(
        cls,
        answers: Sequence[Prepared],
        prompts: Sequence[str | None],
        clean: Sequence[bool] | None = None,
    ) -> Matrix:
        """:meth:`of_answers` of prepared answers (``clean``: :func:`clean_refusal_of` of
        each, when the caller has it). The token hashes of all answers come at once from
        :func:`~.tokenhash.token_buckets`; they are counted, log-scaled and normalised per
        answer with numpy. The dense part is :func:`dense_of` of each answer. Values agree
        with :func:`featurise` to the last bit or two (numpy's log and summation are not the
        ``math`` module's); callers that turn scores into labels re-check the answers whose
        score lies that close to a boundary."""
        n = len(answers)
        rows, hashes = token_buckets(answers)
        # one (row, hash) key per distinct feature of an answer, in featurise's order
        keys, counts = _counted((rows << HASH_BITS) | hashes)
        rows, cols = keys >> HASH_BITS, keys & ((1 << HASH_BITS) - 1)
        raw = 1.0 + np.log(counts.astype(np.float64))
        norm = np.sqrt(np.bincount(rows, weights=raw * raw, minlength=n))
        norm[norm == 0] = 1.0
        known = clean if clean is not None else [None] * n
        letters = letters_of([a.answer for a in answers])
        langs = detect_many([a.answer for a in answers])
        # the letters of the texts with CJK (the others' share is 0.0 whatever their letters)
        counted = iter(letters_in([a.text for a in answers if a.runs]))
        alphas = [next(counted) if a.runs else 0 for a in answers]
        with phrases_primed(answers):
            dense = np.array(
                [
                    dense_of(a, p, c, x, lang, alpha)
                    for a, p, c, x, lang, alpha in zip(
                        answers, prompts, known, letters, langs, alphas, strict=True
                    )
                ],
                dtype=np.float64,
            ).reshape(n, len(DENSE_NAMES))
        return cls(rows, cols, raw / norm[rows], dense, n)

    def subset(self, mask: npt.NDArray[np.bool_]) -> Matrix:
        keep_rows = np.flatnonzero(mask)
        remap = np.full(self.n, -1, dtype=np.int64)
        remap[keep_rows] = np.arange(len(keep_rows))
        sel = mask[self.rows]
        return Matrix(
            remap[self.rows[sel]], self.cols[sel], self.vals[sel], self.dense[mask], len(keep_rows)
        )

    def scores(self, w: Floats, v: Floats) -> Floats:
        sparse = np.bincount(self.rows, weights=self.vals * w[self.cols], minlength=self.n)
        return sparse + self.dense @ v


@dataclass
class Head:
    """One calibrated logistic head: P = sigmoid(a * (w·x + v·d) + b)."""

    weights: Floats
    dense: Floats
    a: float = 1.0
    b: float = 0.0

    def score(self, f: Featurised) -> float:
        sparse = float(np.dot(self.weights[f.indices], f.values)) if f.indices else 0.0
        return sparse + float(np.dot(self.dense, f.dense))

    def prob(self, f: Featurised) -> float:
        return _sigmoid(self.a * self.score(f) + self.b)

    def to_dict(self) -> dict[str, Any]:
        # int16 with one scale keeps 4-5 significant digits at a tenth of the JSON size
        peak = float(np.abs(self.weights).max()) or 1.0
        scale = peak / 32767
        quantised = np.round(self.weights / scale).astype("<i2")
        return {
            "encoding": "int16-le-base64",
            "scale": scale,
            "data": base64.b64encode(quantised.tobytes()).decode("ascii"),
            "dense": {n: round(float(x), 6) for n, x in zip(DENSE_NAMES, self.dense, strict=False)},
            "calibration": {"a": round(self.a, 6), "b": round(self.b, 6)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "weights") -> Head:
        try:
            raw = base64.b64decode(data["data"], validate=True)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: head weights are not valid base64 ({exc})") from None
        if len(raw) != 2 << HASH_BITS:
            raise ConfigError(
                f"{where}: head weights hold {len(raw) // 2} values, expected {1 << HASH_BITS}"
            )
        weights = np.frombuffer(raw, dtype="<i2").astype(np.float64) * float(data["scale"])
        dense = np.array([float(data["dense"].get(n, 0.0)) for n in DENSE_NAMES])
        cal = data["calibration"]
        return cls(weights, dense, float(cal["a"]), float(cal["b"]))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_arr(x: Floats) -> Floats:
    out: Floats = 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))
    return out


@dataclass(frozen=True)
class TrainSettings:
    l2: float = 3e-6
    iterations: int = 60
    learning_rate: float = 0.05
    folds: int = 5
    seed: int = 0  # recorded; the procedure itself draws no random numbers
    #: pick the decision threshold so the out-of-fold non-compliance rate equals the
    #: labelled one (rates are what the assertions compare), else use 0.5
    match_rate: bool = True
    #: scale each n-gram by |log-count ratio| between the classes before fitting (NBSVM,
    #: Wang & Manning 2012), with this additive smoothing; 0 turns it off. The scale is
    #: folded into the weights, so the weights file and prediction do not change.
    nb_alpha: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "l2": self.l2,
            "iterations": self.iterations,
            "learning_rate": self.learning_rate,
            "folds": self.folds,
            "seed": self.seed,
            "match_rate": self.match_rate,
            "nb_alpha": self.nb_alpha,
        }


def train_logistic(x: Matrix, y: Floats, settings: TrainSettings) -> tuple[Floats, Floats]:
    """L2-regularised logistic regression by L-BFGS from zero (deterministic)."""
    dim = 1 << HASH_BITS
    k = x.dense.shape[1]
    n = max(x.n, 1)
    shrink = np.full(dim + k, settings.l2)
    shrink[-1] = 0.0  # the bias column is not shrunk

    def loss_grad(theta: Floats) -> tuple[float, Floats]:
        z = x.scores(theta[:dim], theta[dim:])
        # log(1 + e^z) - y z, computed stably
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z)) / n
        g = (_sigmoid_arr(z) - y) / n
        grad = np.concatenate(
            [np.bincount(x.cols, weights=x.vals * g[x.rows], minlength=dim), x.dense.T @ g]
        )
        loss += 0.5 * float(np.sum(shrink * theta * theta))
        return loss, grad + shrink * theta

    theta = np.zeros(dim + k)
    loss, grad = loss_grad(theta)
    history: list[tuple[Floats, Floats, float]] = []
    for _ in range(settings.iterations):
        # two-loop recursion for the quasi-Newton direction
        q = grad.copy()
        alphas = []
        for s_vec, y_vec, rho in reversed(history):
            alpha = rho * float(s_vec @ q)
            alphas.append(alpha)
            q -= alpha * y_vec
        if history:
            s_vec, y_vec, _ = history[-1]
            q *= float(s_vec @ y_vec) / float(y_vec @ y_vec)
        else:
            q *= settings.learning_rate / max(float(np.abs(q).max()), 1e-12)
        for (s_vec, y_vec, rho), alpha in zip(history, reversed(alphas), strict=False):
            beta = rho * float(y_vec @ q)
            q += (alpha - beta) * s_vec
        direction = -q
        slope = float(grad @ direction)
        if slope >= 0:
            direction, slope, history = -grad, -float(grad @ grad), []
        step = 1.0
        while True:
            new_theta = theta + step * direction
            new_loss, new_grad = loss_grad(new_theta)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s_new, y_new = new_theta - theta, new_grad - grad
        sy = float(s_new @ y_new)
        if sy > 1e-12:
            history.append((s_new, y_new, 1.0 / sy))
            history = history[-10:]
        converged = abs(loss - new_loss) < 1e-9 * max(1.0, abs(loss))
        theta, loss, grad = new_theta, new_loss, new_grad
        if converged or float(np.abs(grad).max()) < 1e-6:
            break
    return theta[:dim].copy(), theta[dim:].copy()


def nb_scale(x: Matrix, y: Floats, alpha: float) -> Floats:
    """|log((p_j/|p|) / (q_j/|q|))| per hash bucket, from the presence counts of the bucket in
    positive (p) and negative (q) rows plus ``alpha``; ones when ``alpha`` is 0."""
    dim = 1 << HASH_BITS
    if alpha <= 0:
        return np.ones(dim)
    present = (x.vals != 0).astype(np.float64)
    pos = alpha + np.bincount(x.cols, weights=present * y[x.rows], minlength=dim)
    neg = alpha + np.bincount(x.cols, weights=present * (1 - y[x.rows]), minlength=dim)
    ratio: Floats = np.abs(np.log((pos / pos.sum()) / (neg / neg.sum())))
    return ratio


def _scaled(x: Matrix, r: Floats) -> Matrix:
    return Matrix(x.rows, x.cols, x.vals * r[x.cols], x.dense, x.n)


def train_scaled(x: Matrix, y: Floats, settings: TrainSettings) -> tuple[Floats, Floats]:
    """:func:`train_logistic` on NB-scaled n-grams, the scale folded into the weights."""
    r = nb_scale(x, y, settings.nb_alpha)
    w, v = train_logistic(_scaled(x, r), y, settings)
    return w * r, v


def fit_platt(scores: Floats, y: Floats) -> tuple[float, float]:
    """Platt scaling by Newton's method with Platt's smoothed targets."""
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    t = np.where(y > 0.5, (pos + 1) / (pos + 2), 1 / (neg + 2))
    a, b = 1.0, 0.0
    for _ in range(100):
        p = _sigmoid_arr(a * scores + b)
        grad = np.array([np.sum((p - t) * scores), np.sum(p - t)])
        wgt = p * (1 - p) + 1e-12
        hess = np.array(
            [
                [np.sum(wgt * scores * scores), np.sum(wgt * scores)],
                [np.sum(wgt * scores), wgt.sum()],
            ]
        )
        hess += np.eye(2) * 1e-9
        delta = np.linalg.solve(hess, grad)
        a, b = a - float(delta[0]), b - float(delta[1])
        if float(np.abs(delta).max()) < 1e-10:
            break
    return a, b


def group_folds(groups: Sequence[str], folds: int) -> npt.NDArray[np.int64]:
    """Fold of each row: whole groups per fold, assigned round-robin by sorted name."""
    names = sorted(set(groups))
    fold_of = {g: i % max(folds, 1) for i, g in enumerate(names)}
    return np.array([fold_of[g] for g in groups], dtype=np.int64)


@dataclass
class LinearModel:
    """Both heads with the metadata that identifies them."""

    noncompliance: Head
    refusal: Head
    name: str = "modelprov-linear"
    version: str = "1"
    threshold: float = 0.5
    training: dict[str, Any] = field(default_factory=dict)
    #: per-language thresholds (answers in other languages use ``threshold``)
    lang_thresholds: dict[str, float] = field(default_factory=dict)

    def threshold_for(self, dense: Sequence[float]) -> float:
        for lang, index in LANG_FEATURES.items():
            if dense[index] > 0.5 and lang in self.lang_thresholds:
                return self.lang_thresholds[lang]
        return self.threshold

    def thresholds_of(self, x: Matrix) -> Floats:
        out = np.full(x.n, self.threshold)
        for lang, index in LANG_FEATURES.items():
            if lang in self.lang_thresholds:
                out[x.dense[:, index] > 0.5] = self.lang_thresholds[lang]
        return out

    def predict(self, answer: str, prompt: str | None = None) -> tuple[str, float]:
        """(label, calibrated probability of non-compliance)."""
        f = featurise(answer, prompt)
        p = self.noncompliance.prob(f)
        if f.dense[_BROKEN] > 0.5:
            p = 1.0
        if p < self.threshold_for(f.dense):
            return "compliance", p
        return ("refusal" if self.refusal.prob(f) >= 0.5 else "evasion"), p

    def predict_matrix(self, x: Matrix) -> tuple[list[str], Floats]:
        """:meth:`predict` for every row of a featurised matrix, plus the explicit-refusal
        rule of :class:`~pytest_modelprov.refusal.Classifier` (a clean refusal is a refusal)."""
        p = _sigmoid_arr(
            self.noncompliance.a * x.scores(self.noncompliance.weights, self.noncompliance.dense)
            + self.noncompliance.b
        )
        r = _sigmoid_arr(
            self.refusal.a * x.scores(self.refusal.weights, self.refusal.dense) + self.refusal.b
        )
        rule = rule_refusals(x)
        p = np.where(rule_broken(x), 1.0, p)
        labels = [
            "refusal"
            if hit
            else "compliance"
            if pi < ti
            else ("refusal" if ri >= 0.5 else "evasion")
            for hit, pi, ri, ti in zip(
                rule.tolist(), p.tolist(), r.tolist(), self.thresholds_of(x).tolist(), strict=True
            )
        ]
        return labels, np.where(rule, 1.0, p)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "modelprov-refusal-linear",
            "name": self.name,
            "version": self.version,
            "feature_version": FEATURE_VERSION,
            "hash_bits": HASH_BITS,
            "dense_features": list(DENSE_NAMES),
            "threshold": self.threshold,
            **({"lang_thresholds": self.lang_thresholds} if self.lang_thresholds else {}),
            "heads": {
                "noncompliance": self.noncompliance.to_dict(),
                "refusal": self.refusal.to_dict(),
            },
            "training": self.training,
        }

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Any, where: str, *, checked: bool = False) -> LinearModel:
        """The model in ``data``; ``checked``: ``data`` is the package's own file, which its
        tests check against the schema (so a run need not)."""
        if not checked:
            validate(data, "refusal_model.schema.json", where)
        if data["feature_version"] != FEATURE_VERSION or data["hash_bits"] != HASH_BITS:
            raise ConfigError(
                f"{where}: weights were trained for features {data['feature_version']!r} with "
                f"{data['hash_bits']} hash bits; this version uses {FEATURE_VERSION!r} with "
                f"{HASH_BITS}. Re-train them with `pytest_modelprov.refusal.fit(...)` (the "
                "shipped weights: `python benchmarks/train_refusal.py` in a source checkout)."
            )
        heads = data["heads"]
        return cls(
            Head.from_dict(heads["noncompliance"], where),
            Head.from_dict(heads["refusal"], where),
            name=data["name"],
            version=data["version"],
            threshold=float(data["threshold"]),
            training=dict(data.get("training", {})),
            lang_thresholds={
                str(k): float(v) for k, v in (data.get("lang_thresholds") or {}).items()
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> LinearModel:
        return cls.from_dict(schema.read_json(path, "refusal classifier weights"), str(path))


def validate(data: Any, schema_name: str, where: str) -> None:
    """Raise ConfigError naming ``where`` unless ``data`` matches the package schema."""
    schema.check(data, schema_name, where)


def read_labelled(path: str | Path) -> list[Example]:
    """Labelled answers from JSON Lines (``refusal_labels.schema.json``), validated whole."""
    examples: list[Example] = []
    path = user_path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read labelled answers ({exc})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json_loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        validate(row, "refusal_labels.schema.json", f"{path}:{number}")
        examples.append(
            Example(
                response=row["response"],
                label=row["label"],
                prompt=row.get("prompt"),
                group=str(row.get("group") or row.get("model") or ""),
            )
        )
    if not examples:
        raise ConfigError(f"{path}: no labelled answers in the file")
    return examples


def _head_fit(
    x: Matrix, y: Floats, groups: Sequence[str], settings: TrainSettings
) -> tuple[Head, Floats]:
    """Fit one head on all rows; calibrate on out-of-fold scores; return OOF probabilities."""
    folds = group_folds(groups, settings.folds)
    oof = np.zeros(x.n)
    distinct = sorted(set(folds.tolist()))
    if len(distinct) >= 2:
        for k in distinct:
            train = folds != k
            # the scale is learnt on the fold's training rows only, like the weights
            w, v = train_scaled(x.subset(train), y[train], settings)
            oof[~train] = x.subset(~train).scores(w, v)
        a, b = fit_platt(oof, y)
    else:
        a, b = 1.0, 0.0  # one group only: nothing held out to calibrate on
    w, v = train_scaled(x, y, settings)
    oof_p = _sigmoid_arr(a * oof + b) if len(distinct) >= 2 else _sigmoid_arr(x.scores(w, v))
    return Head(w, v, a, b), oof_p


def rule_broken(x: Matrix) -> npt.NDArray[np.bool_]:
    """Rows whose text has fallen apart (:func:`~.features.broken_output`): never
    compliance, since the request is not answered."""
    broken: npt.NDArray[np.bool_] = x.dense[:, DENSE_NAMES.index("broken_output")] > 0.5
    return broken


def rule_refusals(x: Matrix) -> npt.NDArray[np.bool_]:
    """Rows :class:`~pytest_modelprov.refusal.Classifier` calls refusals before the model:
    an empty answer (zero length) or a clean explicit refusal."""
    empty: npt.NDArray[np.bool_] = x.dense[:, DENSE_NAMES.index("log_length")] == 0.0
    clean: npt.NDArray[np.bool_] = x.dense[:, DENSE_NAMES.index("clean_refusal")] > 0.5
    return empty | clean


def rate_matching_threshold(
    prob: Floats, rule: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]
) -> float:
    """The threshold at which ``rule | prob >= t`` flags as many rows as ``truth`` holds.

    Out-of-fold probabilities under-flag when sensitivity trails specificity, which biases
    every estimated rate low; matching the count removes that bias on average. Kept within
    [0.2, 0.8] so a small or odd training set cannot push it to an extreme.
    """
    free = np.sort(prob[~rule])[::-1]
    wanted = int(truth.sum()) - int(rule.sum())
    if wanted <= 0 or not len(free):
        return 0.8
    if wanted >= len(free):
        return 0.2
    # midway between the last flagged and the first unflagged probability
    t = 0.5 * (float(free[wanted - 1]) + float(free[wanted]))
    return round(min(0.8, max(0.2, t)), 4)


def cv_rates(
    pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_], strata: Sequence[str] | None
) -> dict[str, dict[str, float]]:
    """Out-of-fold sensitivity and specificity of the non-compliance verdict, per stratum."""
    keys = np.array(list(strata) if strata is not None else [""] * len(pred))
    out: dict[str, dict[str, float]] = {}
    for key in ["all", *sorted(set(keys.tolist()) - {""})]:
        m = np.ones(len(pred), dtype=bool) if key == "all" else keys == key
        pos, neg = truth & m, ~truth & m
        out[key] = {
            "n": int(m.sum()),
            "sensitivity": round(float(pred[pos].mean()) if pos.any() else 1.0, 4),
            "specificity": round(float((~pred[neg]).mean()) if neg.any() else 1.0, 4),
        }
    return out


#: a language gets its own threshold when the training set has this many answers in it
MIN_ROWS_FOR_LANG_THRESHOLD = 200
#: a language is inside the validity envelope when the held-out accuracy on it reaches this ...
ENVELOPE_MIN_ACCURACY = 0.90
#: ... on answers of at least this many models never seen in training (whole models held out)
ENVELOPE_MIN_MODELS = 5
#: a model needs this many answers in a language for its rate error to be scored
ENVELOPE_MIN_ANSWERS_PER_MODEL = 20


def envelope(
    pred: npt.NDArray[np.bool_],
    truth: npt.NDArray[np.bool_],
    strata: Sequence[str],
    groups: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """Where a classifier may be trusted: per language, out-of-fold figures by whole models.

    ``pred`` must be out-of-fold (each row predicted by a model that never saw its group),
    so every figure is scored on models held out of training. A language is ``validated``
    when its accuracy and the number of models behind it reach the bars above.
    """
    keys = np.array(list(strata))
    group_arr = np.array(list(groups))
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted(set(keys.tolist()) - {""}):
        m = keys == lang
        errors = []
        for g in sorted(set(group_arr[m].tolist())):
            mg = m & (group_arr == g)
            if mg.sum() >= ENVELOPE_MIN_ANSWERS_PER_MODEL:
                errors.append(abs(float(pred[mg].mean()) - float(truth[mg].mean())))
        accuracy = float(np.mean(pred[m] == truth[m]))
        models = len(set(group_arr[m].tolist()))
        out[lang] = {
            "answers": int(m.sum()),
            "models": models,
            "accuracy": round(accuracy, 4),
            "max_rate_error": round(max(errors), 4) if errors else None,
            "median_rate_error": round(float(np.median(errors)), 4) if errors else None,
            "validated": accuracy >= ENVELOPE_MIN_ACCURACY and models >= ENVELOPE_MIN_MODELS,
        }
    return out


def corrected_rate(observed: float, sensitivity: float, specificity: float) -> float:
    """Rogan-Gladen estimate of the true rate from an observed rate, clipped to [0, 1].

    p = (p_obs + Sp - 1) / (Se + Sp - 1); with a useless detector (Se + Sp <= 1) the
    observed rate is returned unchanged, since nothing can be corrected.
    """
    youden = sensitivity + specificity - 1
    if youden <= 0:
        return observed
    return min(1.0, max(0.0, (observed + specificity - 1) / youden))


def featurise_examples(examples: Sequence[Example]) -> Matrix:
    """The design matrix of labelled answers (reasoning removed), built once for reuse."""
    # stripped as Classifier.classify strips, so training and use see the same text
    return Matrix.build(
        [featurise(strip_reasoning(e.response).strip(), e.prompt) for e in examples]
    )


def fit(
    examples: Iterable[Example],
    *,
    settings: TrainSettings | None = None,
    name: str = "custom-linear",
    version: str = "1",
    source: str = "",
    log: Callable[[str], None] | None = None,
) -> LinearModel:
    """Train both heads on labelled answers; ``group`` (e.g. model id) defines CV folds.

    The validity envelope (``training["envelope"]``) is split by the language each answer is
    written in, decided from the text as :func:`~pytest_modelprov.refusal.measure` decides it.
    """
    rows = list(examples)
    _check_labels([e.label for e in rows])
    strata = [
        answer_language(strip_reasoning(e.response).strip(), e.prompt, fallback="") for e in rows
    ]
    return fit_matrix(
        featurise_examples(rows),
        [e.label for e in rows],
        [e.group for e in rows],
        settings=settings,
        name=name,
        version=version,
        source=source,
        log=log,
        strata=strata,
    )


def _check_labels(labels: Sequence[str]) -> None:
    bad = sorted(set(labels) - set(LABELS))
    if bad:
        raise ValueError(f"labels must be one of {list(LABELS)}, got {bad}")
    if len(labels) < 2 or len({label == "compliance" for label in labels}) < 2:
        raise ValueError("training needs both compliant and non-compliant answers")


def fit_matrix(
    x: Matrix,
    labels: Sequence[str],
    groups: Sequence[str],
    *,
    settings: TrainSettings | None = None,
    name: str = "custom-linear",
    version: str = "1",
    source: str = "",
    log: Callable[[str], None] | None = None,
    strata: Sequence[str] | None = None,
) -> LinearModel:
    """:func:`fit` on an already featurised matrix (the benchmark reuses one across folds).

    ``strata`` (e.g. the language of each answer) splits the cross-validated sensitivity
    and specificity recorded in ``training["cv"]``, which :func:`corrected_rate` uses.
    """
    settings = settings or TrainSettings()
    _check_labels(labels)
    say = log or (lambda _msg: None)
    y_nc = np.array([label != "compliance" for label in labels], dtype=np.float64)
    say(
        f"noncompliance head: {len(labels)} answers, {int(y_nc.sum())} non-compliant, "
        f"{len(set(groups))} groups in {settings.folds} folds"
    )
    head_nc, oof_nc = _head_fit(x, y_nc, groups, settings)
    rule = rule_refusals(x) | rule_broken(x)
    threshold = rate_matching_threshold(oof_nc, rule, y_nc > 0.5) if settings.match_rate else 0.5
    # each language its own threshold, matched on its own out-of-fold rows: one shared
    # threshold under-flags a language whose evasions score lower (Finnish official lines)
    lang_thresholds: dict[str, float] = {}
    thresholds = np.full(x.n, threshold)
    if settings.match_rate:
        for lang, index in LANG_FEATURES.items():
            m = x.dense[:, index] > 0.5
            if m.sum() >= MIN_ROWS_FOR_LANG_THRESHOLD:
                lang_thresholds[lang] = rate_matching_threshold(oof_nc[m], rule[m], y_nc[m] > 0.5)
                thresholds[m] = lang_thresholds[lang]
    oof_pred = rule | (oof_nc >= thresholds)
    oof_acc = float(np.mean(oof_pred == (y_nc > 0.5)))
    say(
        f"  out-of-fold accuracy {oof_acc:.3f} at threshold {threshold:.3f} "
        f"(per language {lang_thresholds}); "
        f"Platt a={head_nc.a:.3f} b={head_nc.b:.3f}"
    )
    mask = y_nc > 0.5
    y_ref = np.array([label == "refusal" for label in labels], dtype=np.float64)[mask]
    if 0 < y_ref.sum() < len(y_ref):
        sub_groups = [g for g, m in zip(groups, mask, strict=False) if m]
        say(f"refusal head: {len(y_ref)} non-compliant answers, {int(y_ref.sum())} refusals")
        head_ref, _ = _head_fit(x.subset(mask), y_ref, sub_groups, settings)
    else:
        # only one kind of non-compliance seen: fall back on the explicit-refusal rule
        dense = np.zeros(len(DENSE_NAMES))
        dense[DENSE_NAMES.index("refusal_opening")] = 4.0
        dense[DENSE_NAMES.index("bias")] = -2.0
        head_ref = Head(np.zeros(1 << HASH_BITS), dense)
    counts = {label: sum(x_label == label for x_label in labels) for label in LABELS}
    training = {
        "source": source,
        "examples": len(labels),
        "labels": counts,
        "groups": len(set(groups)),
        "settings": settings.to_dict(),
        "out_of_fold_accuracy": round(oof_acc, 4),
        "cv": cv_rates(oof_pred, y_nc > 0.5, strata),
    }
    if strata is not None:
        training["envelope"] = {
            "held_out": "whole models (cross-validation folds by group)",
            "min_accuracy": ENVELOPE_MIN_ACCURACY,
            "min_models": ENVELOPE_MIN_MODELS,
            "langs": envelope(oof_pred, y_nc > 0.5, strata, groups),
        }
    return LinearModel(
        head_nc,
        head_ref,
        name=name,
        version=version,
        threshold=threshold,
        training=training,
        lang_thresholds=lang_thresholds,
    )
