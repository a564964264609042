"""Lexical fingerprints as baselines: has the model's vocabulary moved since the release?

The drift is the ``profile`` distance between the stored fingerprint and today's on the
same prompts, with a basic bootstrap interval over prompts (paired). It fails when the
one-sided lower bound at the rule's alpha (``@ALPHA``, default 0.05) is above the rule's
margin, so a distance that sampling noise alone could produce does not fail a release.
The split-half noise floor is shown beside it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from typing import Any

from .. import baseline
from ..drift import Drift, Rule, threshold_drift
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


def _drift(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    rules: Callable[[str], Rule],
    confidence: float,
) -> list[Drift]:
    # here, not at the top: loading the adapters (every baseline check does) loads no
    # distance code
    from .distances import basic_interval, bootstrap_draws, distance

    old = Fingerprint.from_dict(before, "baseline fingerprint")
    new = Fingerprint.from_dict(after, "this run's fingerprint")
    common = sorted(set(old.prompt_ids) & set(new.prompt_ids))
    if len(common) < MIN_PROMPTS:
        # measured: with 2-6 prompts a model compared with itself "drifted" in 67-100% of
        # trials; with 12 prompts x 2 answers, in none
        raise AssertionError(
            f"lexical baseline: {len(common)} prompt(s) in common with the baseline, fewer "
            f"than the {MIN_PROMPTS} a distance needs to be told from noise; fingerprint the "
            "same prompts (at least 10), or re-record the baseline"
        )
    rows_old = [old.prompt_ids.index(p) for p in common]
    rows_new = [new.prompt_ids.index(p) for p in common]
    old, new = old.subset(rows_old), new.subset(rows_new)
    rule = rules("lexical.distance")
    # the bound is the (1 - alpha) quantile of the draws: a small alpha needs enough draws
    # beyond it (about 10) not to be the maximum of a few hundred
    resamples = min(MAX_RESAMPLES, max(RESAMPLES, math.ceil(10 / rule.alpha)))
    value, draws = bootstrap_draws(
        [old, new], lambda fps: distance(fps[0], fps[1], "profile"), resamples=resamples
    )
    low, high = basic_interval(value, draws, confidence)
    # the verdict is a one-sided test at the rule's alpha: the lower end of the two-sided
    # interval at 1 - 2 alpha, from the same draws as the interval shown
    bound, _ = basic_interval(value, draws, 1 - 2 * rule.alpha)
    floor = distance(*old.halves(), "profile") if old.n_prompts >= 4 else None
    return [
        threshold_drift(
            "lexical.distance",
            {"reference": "baseline", "part": new.part},
            value,
            float(low),
            float(high),
            rule,
            confidence=confidence,
            pairs=len(common),
            test=f"basic bootstrap over prompts ({resamples} resamples)",
            details={
                "noise_floor": floor,
                "method": "profile",
                "one_sided_low": float(bound),
                "alpha": rule.alpha,
            },
            bound=float(bound),
        )
    ]


baseline.register(
    baseline.Adapter(
        kind="lexical",
        type=Fingerprint,
        default_name=lambda fp: f"lexical-{fp.part}",
        payload=lambda fp: fp.to_dict(),
        describe=_describe,
        drift=_drift,
        summary=lambda payload: [],
        validate=Fingerprint.from_dict,
    )
)
