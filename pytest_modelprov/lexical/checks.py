"""Lexical fingerprints: whose words does the model use?

A :class:`Fingerprint` counts the words, bigrams and trigrams of a set of texts per prompt.
Distances: ``delta`` (default: differences of widely used words in units of their spread
over prompts, which discounts topic, so fingerprints of different prompt sets compare),
``profile`` (Hellinger over widely used words, same prompts only), ``jaccard`` (the anchor
"slop profile" method; on its published scale with the ``wordfreq`` extra) and ``style``
(pooled over several models on the same prompts). Assertions compare with bootstrap
intervals over prompts, never single numbers, and record what they measured.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..comparable import require_same_params
from ..errors import ConfigError
from ..handle import ModelHandle
from ..reports.measurement import MAX_EVIDENCE, Measurement, evidence_item
from ..util import schema
from ..util.files import user_path
from ..util.safejson import loads as json_loads
from . import replay
from .common import FEW_SHARED, FREQUENCY, METHODS, SPREAD, UNITS, Interval
from .fingerprints import Fingerprint, Limits, pooled
from .record import (
    DELTA_UNIT,
    DETECTOR,
    FREQUENCY_NOTE,
    FREQUENCY_UNIT,
    _context,
    _labels,
    _recorder,
)
from .replay import Outcome

if TYPE_CHECKING:
    import numpy as np

# the package (pytest_modelprov.lexical) is the public face; these are defined here
__all__ = [
    "Comparison",
    "assert_distance_above",
    "assert_distance_below",
    "assert_nearest",
    "compare",
    "distance",
    "fingerprint",
    "load_prompts",
    "noise_floor",
    "prompts",
    "shared_words",
]

PARTS = ("answer", "reasoning")
#: references needed before ``method="auto"`` pools them (the style distance)
STYLE_MIN_REFS = 5
#: the numbers behind a delta threshold (benchmarks/bench_lexical.py, section 4)
SCALE_NOTE = (
    "measured: two samples of one model 0.00-0.08, a model and its fine-tune 0.16-0.17, "
    "unrelated vendors median 0.29-0.32 on stories and 0.11-0.12 on essays"
)


def load_prompts(path: str | Path | None = None) -> list[tuple[str, str]]:
    """``(id, text)`` pairs of a prompt set file (default: the built-in creative set)."""
    source = files("pytest_modelprov").joinpath("data/lexical/prompts.json")
    where = str(path) if path is not None else "built-in data/lexical/prompts.json"
    try:
        text = user_path(path).read_text("utf-8") if path is not None else source.read_text("utf-8")
        data = json_loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read lexical prompt file {where}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"lexical prompt file {where} is not JSON: {exc}") from None
    # the package's own file is checked against the schema by its tests
    # (tests/test_verdicts.py), not in every process that fingerprints
    if path is not None:
        _check_prompts(data, where)
    ids = [p["id"] for p in data["prompts"]]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"lexical prompt file {where}: prompt ids must be unique")
    return [(p["id"], p["text"]) for p in data["prompts"]]


def _check_prompts(data: Any, where: str) -> None:
    found = schema.problems(data, "lexical_prompts.schema.json")
    if found:
        at, message = found[0]
        raise ConfigError(
            f"lexical prompt file {where} does not match lexical_prompts.schema.json: "
            f"{message} (at {'top level' if at == '(top level)' else at})"
        )


@lru_cache(maxsize=1)
def _builtin() -> tuple[tuple[str, str], ...]:
    return tuple(load_prompts())


def prompts() -> list[str]:
    """The built-in creative-writing prompts (texts)."""
    return [text for _, text in _builtin()]


def fingerprint(
    handle: ModelHandle,
    n: int = 3,
    *,
    prompts: Sequence[str] | None = None,
    part: str = "answer",
    limits: Limits | None = None,
    **params: Any,
) -> Fingerprint:
    """Sample ``handle`` on the prompts (default: built-in set), ``n`` answers each, and
    fingerprint the final answers or, with ``part="reasoning"``, the reasoning traces.

    The fingerprint remembers the handle, so assertions record their measurements on it.
    It counts the answers when something first needs the counts (:meth:`Fingerprint.
    deferred`): a comparison the run's result cache holds is replayed without them.
    """
    if part not in PARTS:
        raise ValueError(f"part: {part!r} is not one of {list(PARTS)}")
    if prompts is None:
        ids, texts = [i for i, _ in _builtin()], [t for _, t in _builtin()]
    else:
        texts = list(prompts)
        ids = texts
    samples = handle.sample(texts, n=n, **params)
    chosen: list[str] = []
    keys: list[str] = []
    answers: list[str] = []
    for r in samples:
        text = r.answer if part == "answer" else r.reasoning
        if text and text.strip():
            chosen.append(text)
            keys.append(ids[r.prompt_index])
            answers.append(r.key)
    if not chosen:
        raise ValueError(
            f"{handle.name} ({handle.model}) returned no {part} text for any of "
            f"{len(texts)} prompts x {n}: nothing to fingerprint"
            + (
                " (the model or endpoint does not return reasoning traces)"
                if part != "answer"
                else ""
            )
        )
    # counted when first needed: a comparison replayed from the result cache never does
    fp = Fingerprint.deferred(
        chosen,
        keys,
        name=handle.name,
        model=handle.model,
        part=part,
        limits=limits,
        answers=answers,
    )
    fp.handle = handle
    fp.params = handle.sampling_params(**params)
    return fp


def distance(a: Fingerprint, b: Fingerprint, method: str = "delta", unit: str = SPREAD) -> float:
    """Distance between two fingerprints (the same as ``a.distance(b, method)``), in [0, 1]:
    ``delta`` (default; ``unit="frequency"`` for the genre-free scale, not capped at 1),
    ``profile`` or ``jaccard``. Warns (:class:`LexicalWarning`) when a method not validated
    across prompt sets compares fingerprints sharing few prompts."""
    return replay.distance(a, b, method, unit, stacklevel=3)


def noise_floor(fp: Fingerprint, method: str = "delta", unit: str = SPREAD) -> float:
    """Distance between the fingerprints of the even and odd prompts of ``fp``.

    What the same model's two halves already differ by: a distance to another model that
    is not clearly above this says little.
    """

    def compute() -> Outcome:
        return Outcome(_noise_floor(fp, method, unit))

    settings = {"method": method, "unit": unit}
    outcome = replay.replayed("noise_floor", settings, [fp], compute, replay.number)
    return replay.number(outcome.value)


def _noise_floor(fp: Fingerprint, method: str, unit: str) -> float:
    from . import distances as lexical_distance

    a, b = fp.halves()
    return lexical_distance.distance(a, b, method, unit)


def shared_words(
    a: Fingerprint, b: Fingerprint, k: int = 12, background: Fingerprint | None = None
) -> list[tuple[str, int, int]]:
    """Words both over-use: ``(word, count in a, count in b)``, most over-used first.

    Ranked against ``background`` (e.g. the pooled references) when given, else by
    frequency among content words.
    """

    def compute() -> Outcome:
        return Outcome([list(row) for row in _shared_words(a, b, k, background)])

    fps = [a, b] if background is None else [a, b, background]
    outcome = replay.replayed("shared_words", {"k": k}, fps, compute, replay.word_counts)
    return replay.word_counts(outcome.value)


def _shared_words(
    a: Fingerprint, b: Fingerprint, k: int, background: Fingerprint | None
) -> list[tuple[str, int, int]]:
    from .distances import ranked

    top_a = [w for w, _, _ in ranked(a, "word", 150, background)]
    top_b = {w: i for i, (w, _, _) in enumerate(ranked(b, "word", 150, background))}
    both = [(max(i, top_b[w]), w) for i, w in enumerate(top_a) if w in top_b]
    return [(w, a.count(w), b.count(w)) for _, w in sorted(both)[:k]]


@dataclass(frozen=True)
class Comparison:
    """Distances of one fingerprint to several references, with bootstrap intervals."""

    ours: Fingerprint
    refs: Mapping[str, Fingerprint]
    method: str
    distances: Mapping[str, Interval]
    #: intervals of d(ours, other) - d(ours, nearest) for every other reference
    margins: Mapping[str, Interval] = field(default_factory=dict)
    floor: float | None = None
    #: the unit of ``delta`` distances (:data:`UNITS`)
    unit: str = SPREAD

    @property
    def nearest(self) -> str:
        return min(self.distances, key=lambda name: self.distances[name].value)

    def table(self) -> str:
        scale = f" ({self.unit} units)" if self.method == "delta" else ""
        confidence = self.distances[self.nearest].confidence
        lines = [f"  {self.method} distance{scale}, {confidence:.0%} bootstrap intervals:"]
        for name in sorted(self.distances, key=lambda x: self.distances[x].value):
            d = self.distances[name]
            lines.append(f"  {name:<24} {d.value:.3f} [{d.low:.3f}, {d.high:.3f}]")
        if self.floor is not None:
            lines.append(f"  (split-half noise floor of {self.ours.label}: {self.floor:.3f})")
        return "\n".join(lines)


def _pick_method(
    ours: Fingerprint, refs: Sequence[Fingerprint], method: str, unit: str = SPREAD
) -> str:
    from . import distances as lexical_distance

    if method != "auto":
        if method not in METHODS:
            raise ValueError(f"method: {method!r} is not one of {['auto', *METHODS]}")
        lexical_distance.check_unit(unit, method)
        return method
    lexical_distance.check_unit(unit, "delta")
    if unit != SPREAD:  # only delta has units
        return "delta"
    # a pool of >= 3 models on common prompts lets topic cancel: use it when there is one
    common = set(ours.prompt_ids)
    for fp in refs:
        common &= set(fp.prompt_ids)
    # below ~6 fingerprints the pool's per-word spread is too noisy to scale by (measured:
    # a 4-fingerprint pool picked the wrong nearest in tests/test_lexical_plugin.py)
    return "style" if len(refs) >= STYLE_MIN_REFS and common else "delta"


def _row(
    fps: Sequence[Fingerprint], method: str, unit: str = SPREAD
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Distances from fps[0] to each of fps[1:]."""
    import numpy as np

    from . import distances as lexical_distance
    from .distances import style_matrix

    if method == "style":
        return style_matrix(fps)[0, 1:]
    return np.array([lexical_distance.distance(fps[0], fp, method, unit) for fp in fps[1:]])


def compare(
    ours: Fingerprint,
    refs: Mapping[str, Fingerprint],
    *,
    method: str = "auto",
    unit: str = SPREAD,
    confidence: float = 0.95,
    resamples: int = 200,
    seed: int = 0,
) -> Comparison:
    """Distances from ``ours`` to each reference with basic bootstrap intervals
    (:func:`basic_interval`; prompts resampled, paired where the fingerprints share
    prompts), and percentile bounds of the paired differences behind ``assert_nearest``.
    ``unit``: of the ``delta`` distance (:data:`UNITS`; ``"frequency"`` makes ``auto``
    pick ``delta``).

    Each distance is recorded as an ``info`` measurement of the running test.
    """
    _check_refs(ours, refs)

    def compute() -> Outcome:
        result = _compare(ours, refs, method, confidence, resamples, seed, unit)
        messages = _warnings(ours, refs, result.method, unit)
        made: tuple[Measurement, ...] = ()
        if _recorder(ours) is not None:
            made = tuple(
                _measurement(
                    ours,
                    refs[name],
                    name,
                    d,
                    method=result.method,
                    reference=None,
                    reference_label="",
                    verdict="info",
                    details=_floor(result),
                    unit=result.unit,
                )
                for name, d in result.distances.items()
            )
        return Outcome(replay.comparison_json(result), made, messages)

    settings = replay.settings(refs, method, unit, confidence, resamples, seed)
    outcome = replay.replayed(
        "compare", settings, [ours, *refs.values()], compute, replay.comparison_parts
    )
    replay.emit(outcome, ours, stacklevel=4)
    return _comparison(ours, refs, outcome.value)


def _comparison(ours: Fingerprint, refs: Mapping[str, Fingerprint], value: Any) -> Comparison:
    method, unit, floor, found, margins = replay.comparison_parts(value)
    if list(found) != list(refs):
        raise ValueError("a comparison with other references")
    return Comparison(ours, dict(refs), method, found, margins, floor, unit)


def _check_refs(ours: Fingerprint, refs: Mapping[str, Fingerprint]) -> None:
    """Errors a comparison raises before it computes (also when it is replayed)."""
    if not refs:
        raise ValueError("compare: no reference fingerprints given")
    for name, ref in refs.items():
        require_same_params(
            ref.params,
            ours.params,
            a_name=f"{name} ({ref.model})",
            b_name=f"{ours.label} ({ours.model})",
            what=f"the fingerprints of {ours.label} and {name}",
        )


def _floor(result: Comparison) -> dict[str, Any]:
    return {} if result.floor is None else {"noise_floor": result.floor}


def _compare(
    ours: Fingerprint,
    refs: Mapping[str, Fingerprint],
    method: str,
    confidence: float,
    resamples: int,
    seed: int,
    unit: str = SPREAD,
) -> Comparison:
    import numpy as np

    from .deltaterms import Resampler
    from .distances import DeltaRow, basic_interval

    _check_refs(ours, refs)
    names = list(refs)
    fps = [ours, *(refs[n] for n in names)]
    chosen = _pick_method(ours, fps[1:], method, unit)
    rng = np.random.default_rng(seed)
    values = _row(fps, chosen, unit)
    draws = np.empty((resamples, len(names)))
    resampler = Resampler(fps)
    rows = [resampler.draw(rng) for _ in range(resamples)]
    if chosen == "delta":
        # the default method's resamples together, without building their fingerprints
        draws[:] = DeltaRow(fps, unit).draws(rows)
    else:
        for r, draw in enumerate(rows):
            subsets = [fp.subset(rw) for fp, rw in zip(fps, draw, strict=True)]
            draws[r] = _row(subsets, chosen, unit)
    # basic bootstrap: percentiles of the draws overstate the distance (see basic_interval)
    lows, highs = basic_interval(values, draws, confidence, np.inf if unit == FREQUENCY else 1.0)
    distances = {
        name: Interval(float(values[j]), float(lows[j]), float(highs[j]), confidence, resamples)
        for j, name in enumerate(names)
    }
    best = int(np.argmin(values))
    margins = {}
    # one-sided bounds, Bonferroni over the other references: "nearer than every other"
    others = max(len(names) - 1, 1)
    for j, name in enumerate(names):
        if j == best:
            continue
        diff = draws[:, j] - draws[:, best]
        low = float(np.quantile(diff, (1.0 - confidence) / others))
        margins[name] = Interval(
            float(values[j] - values[best]), low, float(diff.max()), confidence, resamples
        )
    floor = None
    if ours.n_prompts >= 4 and chosen != "style":
        floor = _noise_floor(ours, chosen, unit)
    return Comparison(ours, dict(refs), chosen, distances, margins, floor, unit)


def _word_hits(fp: Fingerprint, words: Sequence[str]) -> Iterator[tuple[str, str, str, str]]:
    """(prompt, answer, word, excerpt around it) for each of ``fp``'s example answers that
    uses one of ``words`` (the first of them it uses)."""
    from .text import tokenise

    for prompt, text in fp.examples:
        tokens = set(tokenise(text))
        hit = next((w for w in words if w in tokens), None)
        if hit is None:
            continue
        pos = text.lower().find(hit)
        snippet = " ".join(text[max(0, pos - 60) : pos + len(hit) + 60].split())
        yield prompt, text, hit, snippet


def _excerpt(fp: Fingerprint, words: Sequence[str], limit: int = 2) -> list[str]:
    return [
        f"    [{prompt[:40]}] ...{snippet}..."
        for prompt, _, _, snippet in itertools.islice(_word_hits(fp, words), limit)
    ]


def _word_evidence(
    fp: Fingerprint, ref: Fingerprint, name: str, bg: Fingerprint | None
) -> list[dict[str, Any]]:
    """Answers of ``fp`` that use the over-used words it shares with ``ref``, for the
    reports (the excerpt around the word is what decided)."""
    words = [w for w, _, _ in _shared_words(fp, ref, 12, bg)]
    return [
        evidence_item(
            prompt=prompt, answer=text, decided_by=snippet, label=f"shares {hit!r} with {name}"
        )
        for prompt, text, hit, snippet in itertools.islice(_word_hits(fp, words), MAX_EVIDENCE)
    ]


def _shared_block(ours: Fingerprint, ref: Fingerprint, name: str, bg: Fingerprint | None) -> str:
    words = _shared_words(ours, ref, 12, bg)
    if not words:
        return f"  no over-used word shared with {name}"
    listed = ", ".join(f"{w} ({ca}/{cb})" for w, ca, cb in words)
    lines = [f"  top shared words with {name} (count ours/theirs): {listed}"]
    lines += _excerpt(ours, [w for w, _, _ in words])
    return "\n".join(lines)


def _warnings(
    ours: Fingerprint, refs: Mapping[str, Fingerprint], method: str, unit: str = SPREAD
) -> tuple[str, ...]:
    """The :class:`LexicalWarning` messages of a comparison of ``ours`` with ``refs``."""
    from . import distances as lexical_distance
    from .distances import flags, shared_prompts

    out = [
        lexical_distance.unvalidated_message(ours, fp, name)
        for name, fp in refs.items()
        if lexical_distance.UNVALIDATED in flags(ours, fp, method, unit)
    ]
    few = [n for n, fp in refs.items() if FEW_SHARED in flags(ours, fp, method)]
    if few:
        counts = ", ".join(str(shared_prompts(ours, refs[n])) for n in few)
        out.append(
            f"lexical {method} distance of {ours.label} to {', '.join(map(repr, few))}: "
            f"they share few prompts ({counts} of {ours.n_prompts}), so the figure "
            "measures topic as much as style; use the default 'delta' distance, or "
            "fingerprint both on the same prompts"
        )
    return tuple(out)


def _measurement(
    ours: Fingerprint,
    ref: Fingerprint,
    name: str,
    d: Interval,
    *,
    method: str,
    reference: float | None,
    reference_label: str,
    verdict: str,
    details: Mapping[str, Any] | None = None,
    unit: str = SPREAD,
) -> Measurement:
    return Measurement(
        quantity="lexical.distance",
        value=d.value,
        labels=_labels(ours.part, method, unit, reference=name),
        low=d.low,
        high=d.high,
        confidence=d.confidence,
        n=ours.n_prompts,
        reference=reference,
        reference_label=reference_label,
        verdict="pass" if verdict == "pass" else "fail" if verdict == "fail" else "info",
        detector=DETECTOR,
        details={**_context(ours, ref, method, unit), **dict(details or {})},
    )


def _matrix_measurement(
    ours: Fingerprint,
    refs: Mapping[str, Fingerprint],
    result: Comparison,
    background: Fingerprint | None,
    words: int = 12,
) -> Measurement:
    """Every pairwise distance (for the report's heat map and tree) and the words ``ours``
    shares with each reference, as one ``lexical.matrix`` measurement."""
    from .distances import distance_matrix, flags

    names = list(refs)
    matrix = distance_matrix([ours, *(refs[n] for n in names)], result.method, result.unit)
    nearest = result.distances[result.nearest]
    shared = {
        name: [[w, ca, cb] for w, ca, cb in _shared_words(ours, refs[name], words, background)]
        for name in names
    }
    marks = sorted({f for n in names for f in flags(ours, refs[n], result.method, result.unit)})
    return Measurement(
        quantity="lexical.matrix",
        value=nearest.value,
        labels=_labels(ours.part, result.method, result.unit),
        low=nearest.low,
        high=nearest.high,
        confidence=nearest.confidence,
        n=ours.n_prompts,
        reference_label=f"nearest: {result.nearest}",
        verdict="info",
        detector=DETECTOR,
        details={
            "models": [ours.label, *names],
            "matrix": [[round(float(x), 6) for x in row] for row in matrix],
            "shared_words": shared,
            "flags": marks,
        },
    )


def assert_nearest(
    ours: Fingerprint,
    refs: Mapping[str, Fingerprint],
    expected: str,
    *,
    method: str = "auto",
    unit: str = SPREAD,
    confidence: float = 0.95,
    resamples: int = 200,
    seed: int = 0,
) -> Comparison:
    """Assert ``refs[expected]`` is the nearest reference, with ``confidence``.

    The bootstrap lower bound of every other reference's distance minus the expected one's
    must be above 0 (one-sided, Bonferroni over the others). The failure message lists the
    distances with intervals and the words ``ours`` shares with the actual nearest.
    ``unit`` as in :func:`compare`.
    """
    __tracebackhide__ = True
    if expected not in refs:
        raise ValueError(f"expected: {expected!r} is not one of the references {list(refs)}")
    _check_refs(ours, refs)

    def compute() -> Outcome:
        result = _compare(ours, refs, method, confidence, resamples, seed, unit)
        messages = _warnings(ours, refs, result.method, unit)
        nearest = result.nearest
        unsure = [n for n, m in result.margins.items() if m.low <= 0.0]
        ok = nearest == expected and not unsure
        bg = pooled(list(refs.values())) if len(refs) >= 2 else None
        made: list[Measurement] = []
        if _recorder(ours) is not None:
            for name, d in result.distances.items():
                verdict = "info" if name != expected else ("pass" if ok else "fail")
                evidence = None
                if verdict == "fail":
                    evidence = {"evidence": _word_evidence(ours, refs[nearest], nearest, bg)}
                made.append(
                    _measurement(
                        ours,
                        refs[name],
                        name,
                        d,
                        method=result.method,
                        reference=result.distances[nearest].value if name == expected else None,
                        reference_label=f"nearest: {nearest}" if name == expected else "",
                        verdict=verdict,
                        details={**_floor(result), **(evidence or {})},
                        unit=result.unit,
                    )
                )
            made.append(_matrix_measurement(ours, refs, result, bg))
        value = replay.comparison_json(result)
        if ok:
            return Outcome(value, tuple(made), messages)
        if nearest != expected:
            head = (
                f"{ours.label} ({ours.part}) is nearest to {nearest!r}, not {expected!r} "
                f"({result.method} distance, {confidence:.0%} bootstrap intervals over "
                f"{ours.n_prompts} prompts):"
            )
        else:
            head = (
                f"{ours.label} ({ours.part}) is nearest to {expected!r} but not with "
                f"{confidence:.0%} confidence: {', '.join(map(repr, unsure))} may be as near "
                f"({result.method} distance over {ours.n_prompts} prompts; sample more "
                "prompts or answers per prompt):"
            )
        blocks = [head, result.table(), _shared_block(ours, refs[nearest], nearest, bg)]
        if nearest != expected:
            blocks.append(_shared_block(ours, refs[expected], expected, bg))
        return Outcome(value, tuple(made), messages, "\n".join(blocks))

    settings = {
        **replay.settings(refs, method, unit, confidence, resamples, seed),
        "expected": expected,
    }
    outcome = replay.replayed(
        "nearest", settings, [ours, *refs.values()], compute, replay.comparison_parts
    )
    replay.emit(outcome, ours, stacklevel=4)
    if outcome.failure is not None:
        raise AssertionError(outcome.failure)
    return _comparison(ours, refs, outcome.value)


def _threshold_check(
    ours: Fingerprint,
    ref: Fingerprint,
    threshold: float,
    above: bool,
    name: str | None,
    method: str,
    confidence: float,
    resamples: int,
    seed: int,
    unit: str = SPREAD,
) -> Interval:
    __tracebackhide__ = True
    if method == "style" or method == "auto":
        method = "delta"
    if unit not in UNITS:
        from . import distances as lexical_distance

        lexical_distance.check_unit(unit, method)
    if unit != SPREAD and method != "delta":
        raise ValueError(
            f"unit={unit!r} is a unit of the 'delta' distance; method {method!r} has its own "
            "scale (drop method= or unit=)"
        )
    label = name or ref.label
    refs = {label: ref}
    _check_refs(ours, refs)

    def compute() -> Outcome:
        from .distances import flags, shared_prompts

        result = _compare(ours, refs, method, confidence, resamples, seed, unit)
        messages = _warnings(ours, refs, method, unit)
        d = result.distances[label]
        # one-sided: the whole two-sided interval must clear the threshold
        ok = d.low > threshold if above else d.high < threshold
        unit_name = "" if unit == SPREAD else f" ({unit} units)"
        made: tuple[Measurement, ...] = ()
        if _recorder(ours) is not None:
            made = (
                _measurement(
                    ours,
                    ref,
                    label,
                    d,
                    method=method,
                    reference=threshold,
                    reference_label=f"{'min' if above else 'max'} distance{unit_name}",
                    verdict="pass" if ok else "fail",
                    details={
                        **_floor(result),
                        **({} if ok else {"evidence": _word_evidence(ours, ref, label, None)}),
                    },
                    unit=unit,
                ),
            )
        if ok:
            return Outcome(replay.interval_json(d), made, messages)
        relation = "above" if above else "below"
        msg = [
            f"lexical {method} distance{unit_name} of {ours.label} ({ours.part}) to {label!r} "
            f"is {d.value:.3f} [{d.low:.3f}, {d.high:.3f}] ({confidence:.0%} bootstrap over "
            f"{ours.n_prompts} prompts): not {relation} {threshold:.3f} with that confidence",
        ]
        if method == "delta" and unit == FREQUENCY:
            msg.append(f"  ({FREQUENCY_UNIT}; {FREQUENCY_NOTE})")
        elif method == "delta":
            msg.append(f"  ({DELTA_UNIT}; {SCALE_NOTE})")
        marks = flags(ours, ref, method, unit)
        if marks:
            msg.append(f"  flags: {', '.join(marks)} ({shared_prompts(ours, ref)} shared prompts)")
        if result.floor is not None:
            msg.append(f"  (split-half noise floor of {ours.label}: {result.floor:.3f})")
        msg.append(_shared_block(ours, ref, label, None))
        return Outcome(replay.interval_json(d), made, messages, "\n".join(msg))

    settings = {
        **replay.settings(refs, method, unit, confidence, resamples, seed),
        "threshold": threshold,
        "above": above,
    }
    outcome = replay.replayed("threshold", settings, [ours, ref], compute, replay.interval)
    replay.emit(outcome, ours, stacklevel=4)
    if outcome.failure is not None:
        raise AssertionError(outcome.failure)
    return replay.interval(outcome.value)


def assert_distance_above(
    ours: Fingerprint,
    ref: Fingerprint,
    threshold: float,
    *,
    name: str | None = None,
    method: str = "delta",
    unit: str = SPREAD,
    confidence: float = 0.95,
    resamples: int = 200,
    seed: int = 0,
) -> Interval:
    """Assert the distance to ``ref`` is above ``threshold`` (its interval's lower end).

    With the default ``delta`` distance the threshold is in units of the words' spread over
    prompts (:data:`SCALE_NOTE`): unrelated models sit farther apart on stories than on
    essays. ``unit="frequency"`` measures the same differences against the words' own
    frequency, where one threshold held in both genres (:data:`FREQUENCY_NOTE`, README).
    """
    __tracebackhide__ = True
    return _threshold_check(
        ours, ref, threshold, True, name, method, confidence, resamples, seed, unit
    )


def assert_distance_below(
    ours: Fingerprint,
    ref: Fingerprint,
    threshold: float,
    *,
    name: str | None = None,
    method: str = "delta",
    unit: str = SPREAD,
    confidence: float = 0.95,
    resamples: int = 200,
    seed: int = 0,
) -> Interval:
    """Assert the distance to ``ref`` is below ``threshold`` (its interval's upper end);
    ``unit`` as in :func:`assert_distance_above`."""
    __tracebackhide__ = True
    return _threshold_check(
        ours, ref, threshold, False, name, method, confidence, resamples, seed, unit
    )
