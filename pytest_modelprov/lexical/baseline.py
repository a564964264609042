"""Lexical fingerprints as baselines: has the model's vocabulary moved since the release?

The drift is the ``profile`` distance between the stored fingerprint and today's on the
same prompts, with a basic bootstrap interval over prompts (paired). It fails when the
one-sided lower bound at the rule's alpha (``@ALPHA``, default 0.05) is above the rule's
margin, so a distance that sampling noise alone could produce does not fail a release.
The split-half noise floor is shown beside it.

The drift of a fingerprint sampled in this run (``lexical.fingerprint``) is replayed from
the run's result cache like the other lexical comparisons (:mod:`.replay`): its figures are
stored under the lexical detector's identity, the settings they depend on (confidence, the
rule's alpha), the fingerprint's description and the ordered cache keys of its answers, and
the digest of the baseline's payload (an edited baseline is another key). The verdict is
then made from the figures by the same :func:`~pytest_modelprov.drift.threshold_drift`,
with this run's rule.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .. import baseline
from ..calls import verdicts
from ..drift import Drift, Rule, threshold_drift
from . import replay
from .fingerprints import Fingerprint

DETECTOR = "lexical/1 profile"
RESAMPLES = 300
MAX_RESAMPLES = 5000
MIN_PROMPTS = 10


def _prompt_set(fp: Fingerprint) -> dict[str, str]:
    digest = hashlib.sha256("\n".join(sorted(fp.prompt_ids)).encode("utf-8")).hexdigest()
    return {"name": f"lexical-{fp.part}", "version": f"{fp.n_prompts} prompts {digest[:12]}"}


def _describe(fp: Fingerprint) -> dict[str, Any]:
    return {
        "model": fp.model,
        "model_name": fp.name or fp.model,
        "resolved": [],
        "set": _prompt_set(fp),
        "detector": DETECTOR,
        "samples": max(1, int(fp.texts.max())) if fp.n_prompts else 1,
    }


class Payload(dict[str, Any]):
    """A fingerprint's baseline payload (``Fingerprint.to_dict``) that remembers what its
    drift is keyed on: the fingerprint's replay side (None: not replayable) and handle."""

    side: tuple[dict[str, Any], list[tuple[str, str]]] | None = None
    fingerprint: Fingerprint | None = None


def _payload(fp: Fingerprint) -> dict[str, Any]:
    out = Payload(fp.to_dict())
    # after to_dict: a deferred fingerprint is counted by then, and still the one its
    # answers describe unless it was changed
    out.side, out.fingerprint = fp.replay_side(), fp
    return out


class _Figures(NamedTuple):
    """What :func:`_drift` measures; the verdict is made from it with the rule."""

    # a named tuple: a frozen dataclass cost ~0.8 ms in every run checking any baseline
    # (the adapters are all loaded)

    value: float
    low: float
    high: float
    bound: float
    pairs: int
    resamples: int
    floor: float | None


def _drift(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    rules: Callable[[str], Rule],
    confidence: float,
) -> list[Drift]:
    rule = rules("lexical.distance")
    figures = _replayed(before, after, rule, confidence)
    if figures is None:
        figures = _measure(before, after, rule, confidence)
    return [_verdict(figures, str(after["part"]), rule, confidence)]


def _measure(
    before: Mapping[str, Any], after: Mapping[str, Any], rule: Rule, confidence: float
) -> _Figures:
    # here, not at the top: loading the adapters (every baseline check does) loads no
    # distance code
    from .distances import basic_interval, bootstrap_draws, distance

    old = Fingerprint.from_dict(before, "baseline fingerprint")
    new = Fingerprint.from_dict(after, "this run's fingerprint")
    common = sorted(set(old.prompt_ids) & set(new.prompt_ids))
    _check_common(len(common))
    rows_old = [old.prompt_ids.index(p) for p in common]
    rows_new = [new.prompt_ids.index(p) for p in common]
    old, new = old.subset(rows_old), new.subset(rows_new)
    # the bound is the (1 - alpha) quantile of the draws: a small alpha needs enough draws
    # beyond it (about 10) not to be the maximum of a few hundred
    resamples = _resamples(rule)
    value, draws = bootstrap_draws(
        [old, new], lambda fps: distance(fps[0], fps[1], "profile"), resamples=resamples
    )
    low, high = basic_interval(value, draws, confidence)
    # the verdict is a one-sided test at the rule's alpha: the lower end of the two-sided
    # interval at 1 - 2 alpha, from the same draws as the interval shown
    bound, _ = basic_interval(value, draws, 1 - 2 * rule.alpha)
    floor = distance(*old.halves(), "profile") if old.n_prompts >= 4 else None
    return _Figures(
        float(value), float(low), float(high), float(bound), len(common), resamples, floor
    )


def _resamples(rule: Rule) -> int:
    return min(MAX_RESAMPLES, max(RESAMPLES, math.ceil(10 / rule.alpha)))


def _check_common(shared: int) -> None:
    if shared < MIN_PROMPTS:
        # measured: with 2-6 prompts a model compared with itself "drifted" in 67-100% of
        # trials; with 12 prompts x 2 answers, in none
        raise AssertionError(
            f"lexical baseline: {shared} prompt(s) in common with the baseline, fewer "
            f"than the {MIN_PROMPTS} a distance needs to be told from noise; fingerprint the "
            "same prompts (at least 10), or re-record the baseline"
        )


def _verdict(figures: _Figures, part: str, rule: Rule, confidence: float) -> Drift:
    return threshold_drift(
        "lexical.distance",
        {"reference": "baseline", "part": part},
        figures.value,
        figures.low,
        figures.high,
        rule,
        confidence=confidence,
        pairs=figures.pairs,
        test=f"basic bootstrap over prompts ({figures.resamples} resamples)",
        details={
            "noise_floor": figures.floor,
            "method": "profile",
            "one_sided_low": figures.bound,
            "alpha": rule.alpha,
        },
        bound=figures.bound,
    )


def _replayed(
    before: Mapping[str, Any], after: Mapping[str, Any], rule: Rule, confidence: float
) -> _Figures | None:
    """The drift's figures from the run's result cache (computed and stored on a miss);
    None when ``after`` is not the payload of a fingerprint of cached answers in a run
    with a result cache (then :func:`_drift` computes them, storing nothing)."""
    if not isinstance(after, Payload) or after.side is None or after.fingerprint is None:
        return None
    handle = after.fingerprint.handle
    store = handle.verdicts if handle is not None else None
    if store is None:
        return None
    try:
        shared = len({r["id"] for r in before["prompts"]} & {r["id"] for r in after["prompts"]})
        contents = json.dumps(
            before, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (KeyError, TypeError, ValueError):
        return None  # not a payload Fingerprint.from_dict reads: it says why, computing
    # before the cache: a drift it refuses is refused, not replayed
    _check_common(shared)
    side, answers = after.side
    settings = {
        "call": "baseline_drift",
        "confidence": confidence,
        "alpha": rule.alpha,
        "side": side,
        "baseline": hashlib.sha256(contents.encode("utf-8", "surrogatepass")).hexdigest(),
    }
    return verdicts.cached_result(
        store,
        replay.identity(),
        settings,
        answers,
        lambda: _measure(before, after, rule, confidence),
        _encode,
        _decode,
    )


def _encode(figures: _Figures) -> list[Any]:
    return [
        figures.value,
        figures.low,
        figures.high,
        figures.bound,
        figures.pairs,
        figures.resamples,
        figures.floor,
    ]


def _decode(data: Any) -> _Figures:
    if not isinstance(data, list) or len(data) != 7:
        raise ValueError("not the figures of a lexical baseline drift")
    *numbers, pairs, resamples, floor = data
    if not all(_float(x) for x in numbers) or (floor is not None and not _float(floor)):
        raise TypeError("a figure is not a number")
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (pairs, resamples)):
        raise TypeError("a count is not an integer")
    value, low, high, bound = (float(x) for x in numbers)
    return _Figures(
        value, low, high, bound, pairs, resamples, None if floor is None else float(floor)
    )


def _float(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


baseline.register(
    baseline.Adapter(
        kind="lexical",
        type=Fingerprint,
        default_name=lambda fp: f"lexical-{fp.part}",
        payload=_payload,
        describe=_describe,
        drift=_drift,
        summary=lambda payload: [],
        validate=Fingerprint.from_dict,
    )
)
