"""Refusal results as baselines: the adapter that stores a :class:`~.measuring.Result`
and compares today's with it (registered with :mod:`pytest_modelprov.baseline` on import).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .. import baseline
from ..audit import detectable_change
from ..calls.client import excerpt
from ..drift import Drift, Rule, paired_drift
from .classifiers import NONCOMPLIANT
from .comparing import (
    _audited_change,
    _merged_flags,
    _same_audit,
)
from .measuring import PromptOutcome, Result


def _baseline_drift(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    rules: Callable[[str], Rule],
    confidence: float,
) -> list[Drift]:
    old, new = Result.from_dict(before, "baseline"), Result.from_dict(after, "this run")
    _same_audit(old, new)
    rule = rules("refusal.rate")
    out = []
    for lang in sorted(set(old.langs) & set(new.langs)):
        by_key = {p.key: p for p in old.select(lang)}
        pairs = [
            (by_key[p.key], p)
            for p in new.select(lang)
            if p.key in by_key and p.share is not None and by_key[p.key].share is not None
        ]
        out.append(
            paired_drift(
                "refusal.rate",
                {"set": new.topic_set, "lang": lang},
                [b.share or 0.0 for b, _ in pairs],
                [a.share or 0.0 for _, a in pairs],
                rule,
                items=[f"[{a.lang}] {excerpt(a.prompt, 70)!r}" for _, a in pairs],
                texts=[
                    (
                        "/".join(b.outcomes),
                        f"{'/'.join(a.outcomes)}: {_telling(b, a)!r}",
                    )
                    for b, a in pairs
                ],
                confidence=confidence,
            )
        )
        extra: dict[str, Any] = {"envelope": new.envelope.get(lang, {})}
        flags = _merged_flags(old, new, lang)
        if flags:
            extra["flags"] = flags
        if old.audit is not None and new.audit is not None:
            # both runs audited: the verdict rests on the corrected change, as in assert_stable,
            # and the figures shown are the audited rates, not the classifier's
            checked = _audited_change(old.select(lang), new.select(lang), confidence)
            extra["audit"] = {**new.audit, **checked.to_dict()}
            rate_b, rate_a = old.rate(lang, confidence), new.rate(lang, confidence)
            out[-1] = replace(
                out[-1],
                before=rate_b.value,
                after=rate_a.value,
                before_interval=(rate_b.low, rate_b.high),
                after_interval=(rate_a.low, rate_a.high),
                change=checked.value,
                low=checked.low,
                high=checked.high,
                p=checked.p,
                detectable=detectable_change(checked.se or 1.0, rule.alpha),
                test="judge-audited paired change, one-sided z (prediction-powered)",
            )
        if "flags" in extra:
            extra["flags"] = [*out[-1].details.get("flags", []), *extra["flags"]]
        out[-1] = replace(out[-1], details={**dict(out[-1].details), **extra})
    return out


def _telling(before: PromptOutcome, after: PromptOutcome) -> str:
    """The answer that shows the move: a non-compliant one when non-compliance rose."""
    rose = (after.share or 0.0) >= (before.share or 0.0)
    for outcome, text in zip(after.outcomes, after.excerpts, strict=False):
        if (outcome in NONCOMPLIANT) == rose:
            return excerpt(text, 90)
    return excerpt(after.excerpts[0], 90) if after.excerpts else ""


def _baseline_summary(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    result = Result.from_dict(payload, "baseline")
    rows = []
    for lang in result.langs:
        rate = result.rate(lang)
        rows.append(
            {
                "quantity": "refusal.rate",
                "labels": {"set": result.topic_set, "lang": lang},
                "value": rate.value,
                "low": rate.low,
                "high": rate.high,
                "n": rate.n,
            }
        )
    return rows


def _baseline_payload(result: Result) -> dict[str, Any]:
    # a sample cut short for one threshold is not a release's behaviour on the set: as a
    # baseline (or paired with one) it would compare a few prompts as if they were all
    if result.stopped_early:
        assert result.sequential is not None
        cut = ", ".join(
            f"{lang} {s.sampled}/{s.total}" for lang, s in result.sequential.items() if s.early
        )
        raise ValueError(
            f"refusal result on {result.topic_set!r} stopped early ({cut} prompts sampled, "
            "measure(..., stop_early=...)); it cannot be stored as a baseline nor compared "
            "with one. Measure the baseline check without stop_early."
        )
    return result._payload()


def _describe_result(result: Result) -> dict[str, Any]:
    return {
        "model": result.model,
        "model_name": result.model_name,
        "resolved": result.resolved,
        "set": {"name": result.topic_set, "version": result.topic_version},
        "detector": result.detector,
        "samples": result.n,
    }


baseline.register(
    baseline.Adapter(
        kind="refusal",
        type=Result,
        default_name=lambda r: f"refusal-{r.topic_set}",
        payload=_baseline_payload,
        describe=_describe_result,
        drift=_baseline_drift,
        summary=_baseline_summary,
        validate=Result.from_dict,
    )
)
