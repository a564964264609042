"""Identity results as baselines: the adapter that stores an
:class:`~.result.IdentityResult`'s claim rates and compares today's with them (registered
with :mod:`pytest_modelprov.baseline` on import).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import baseline, stats
from ..calls.client import excerpt
from .claims import DETECTOR_VERSION
from .probes import IDENTITY_KINDS
from .result import (
    FOREIGN,
    UNVALIDATED,
    IdentityResult,
    _foreign,
    _named,
    _own_set,
)


def _baseline_payload(result: IdentityResult) -> dict[str, Any]:
    if result.stopped_early:
        assert result.sequential is not None
        first = result.sequential["all"]
        raise ValueError(
            f"identity result stopped early ({first.sampled} of {first.total} probes asked, "
            "probe(..., stop_early=...)); it cannot be stored as a baseline nor compared with "
            "one. Probe the baseline check without stop_early."
        )
    rows: dict[str, dict[str, Any]] = {}
    for o in result.observations:
        if o.probe.kind not in IDENTITY_KINDS:
            continue
        row = rows.setdefault(
            o.probe.id,
            {
                "id": o.probe.id,
                "lang": o.probe.lang,
                "kind": o.probe.kind,
                "prompt": o.probe.text,
                "claimed": [],
                "excerpts": [],
            },
        )
        row["claimed"].append(sorted(o.claimed("answer")))
        row["excerpts"].append(excerpt(o.response.answer, 160))
    if not rows:
        raise ValueError(
            "identity baseline: the result has no who/creator/model/multiturn probes to store"
        )
    payload: dict[str, Any] = {"n": result.n, "source": "answer", "probes": list(rows.values())}
    outside = {o.probe.id for o in result.outside if o.probe.kind in IDENTITY_KINDS}
    if outside:
        # counted as the rules read them (unvalidated="mark"): the drift says so
        payload["unvalidated"] = sorted(outside)
    return payload


def _describe_identity(result: IdentityResult) -> dict[str, Any]:
    judged = any(o.judge is not None for o in result.observations)
    source = result.probes.source
    return {
        "model": result.handle.model,
        "model_name": result.handle.name,
        "resolved": sorted({o.response.model for o in result.observations if o.response.model}),
        "set": {
            "name": "identity-probes" if source == "built-in" else Path(source).name,
            "version": result.probes.version,
        },
        # a judge relabels answers, so judged and unjudged rates are not comparable
        "detector": DETECTOR_VERSION + ("+judge" if judged else ""),
        "samples": result.n,
    }


def _claims(claimed: Sequence[str], vendor: str, own: frozenset[str]) -> bool:
    """Whether an answer's claimed vendors count for the slice ``vendor`` ("any": any vendor
    at all; "foreign": any vendor not in ``own``)."""
    if vendor == "any":
        return bool(claimed)
    if vendor == FOREIGN:
        return bool(_foreign(claimed, own))
    return bool(_named(claimed, vendor))


def _shares(row: Mapping[str, Any], vendor: str, own: frozenset[str] = frozenset()) -> float:
    """Share of the probe's answers that count for the slice ``vendor``."""
    answers = row["claimed"]
    return sum(1 for c in answers if _claims(c, vendor, own)) / len(answers)


def _claiming(row: Mapping[str, Any], vendor: str, own: frozenset[str] = frozenset()) -> str:
    """The first answer of the probe that counts for the slice ``vendor``."""
    for claimed, text in zip(row["claimed"], row["excerpts"], strict=False):
        if _claims(claimed, vendor, own):
            return str(text)
    return str(row["excerpts"][0]) if row["excerpts"] else ""


def _baseline_vendors(payload: Mapping[str, Any]) -> set[str]:
    return {v for row in payload["probes"] for answer in row["claimed"] for v in answer}


def _baseline_drift(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    rules: Any,
    confidence: float,
    own: str | Iterable[str] | None = None,
) -> list[Any]:
    from ..drift import paired_drift

    rule = rules("identity.claim_rate")
    old = {row["id"]: row for row in before["probes"]}
    pairs = [(old[row["id"]], row) for row in after["probes"] if row["id"] in old]
    vendors = sorted(_baseline_vendors(before) | _baseline_vendors(after)) or ["any"]
    mine = frozenset[str]()
    if own is not None:
        try:
            mine = _own_set(own)
        except ValueError as exc:
            raise ValueError(f"check(own=...): {exc}") from None
        # one slice for every other vendor together: new claims spread thinly over many
        # vendors pass each vendor's slice, not this one
        vendors.append(FOREIGN)
    unread = set(before.get("unvalidated") or []) | set(after.get("unvalidated") or [])
    flagged = any(a["id"] in unread or b["id"] in unread for b, a in pairs)
    out = []
    for vendor in vendors:
        drift = paired_drift(
            "identity.claim_rate",
            {"vendor": vendor},
            [_shares(b, vendor, mine) for b, _ in pairs],
            [_shares(a, vendor, mine) for _, a in pairs],
            rule,
            items=[f"[{a['lang']}] {a['id']} {excerpt(a['prompt'], 60)!r}" for _, a in pairs],
            texts=[
                (
                    f"{_shares(b, vendor, mine):.0%} claimed",
                    f"{_shares(a, vendor, mine):.0%} claimed: {_claiming(a, vendor, mine)!r}",
                )
                for b, a in pairs
            ],
            confidence=confidence,
        )
        if flagged:
            drift = dataclasses.replace(
                drift,
                details={**drift.details, "flags": [*drift.details.get("flags", []), UNVALIDATED]},
            )
        out.append(drift)
    return out


def _baseline_summary(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for vendor in sorted(_baseline_vendors(payload)):
        counts = [
            (sum(1 for c in row["claimed"] if vendor in c), len(row["claimed"]))
            for row in payload["probes"]
        ]
        rate = stats.clustered_rate(counts)
        rows.append(
            {
                "quantity": "identity.claim_rate",
                "labels": {"vendor": vendor},
                "value": rate.value,
                "low": rate.low,
                "high": rate.high,
                "n": rate.n,
            }
        )
    return rows


baseline.register(
    baseline.Adapter(
        kind="identity",
        type=IdentityResult,
        default_name=lambda r: "identity",
        payload=_baseline_payload,
        describe=_describe_identity,
        drift=_baseline_drift,
        summary=_baseline_summary,
        options=frozenset({"own"}),
    )
)
