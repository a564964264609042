"""Recording a lexical figure as a measurement of the running test.

Below :mod:`.fingerprints` (whose ``distance`` method records what it measured) and
:mod:`.checks` (whose assertions record theirs), typed on what they read of a fingerprint
(:class:`Recorded`), so neither of them imports the other's callers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from ..reports import recording
from ..reports.measurement import Measurement
from . import anchor as lexical_anchor
from . import distances as lexical_distance
from .distances import Fingerprint, flags, jaccard_scale, shared_prompts

if TYPE_CHECKING:
    from ..handle import ModelHandle


DETECTOR = "lexical/1"


#: what a ``delta`` figure is measured in (shown in reports beside the figure)
DELTA_UNIT = "delta: RMS difference of widely used words in units of their spread over prompts"


#: where a delta comparison across prompt sets was validated (benchmarks/bench_lexical.py)
DELTA_ACROSS_PROMPTS = (
    "different prompt sets: validated on stories (split-half, settings chosen on essays: 28 "
    "and 30 of 30 halves found their own model); on short essays 20 and 22 of 30"
)


class Recorded(Fingerprint, Protocol):
    """A fingerprint as recorded: where its measurements go and what it is called."""

    name: str
    model: str
    part: str
    handle: ModelHandle | None


def record_distance(a: Recorded, b: Fingerprint, method: str, value: float) -> None:
    """Record one plain distance (no interval) as an ``info`` measurement of the running
    test, with its flags: what ``a.distance(b)`` and :func:`distance` leave behind."""
    record = _recorder(a)
    if record is None:
        return
    record(
        Measurement(
            quantity="lexical.distance",
            value=value,
            labels={"reference": b.label, "part": a.part, "method": method},
            n=a.n_prompts,
            verdict="info",
            detector=DETECTOR,
            details=_context(a, b, method),
        )
    )


def _recorder(ours: Recorded) -> Callable[[Measurement], None] | None:
    """Where ``ours``'s measurements go: its model handle, else the running test (a
    fingerprint made with ``Fingerprint.from_texts``), else nowhere (outside pytest)."""
    if ours.handle is not None:
        return ours.handle.record
    current = recording.current()
    if current is None:
        return None
    model = ours.name or ours.model or "fingerprint"
    return lambda m: current(replace(m, model=m.model or model))


def _context(ours: Recorded, ref: Fingerprint, method: str) -> dict[str, Any]:
    """What a reader needs to judge one distance: flags, prompts shared, the scale."""
    out: dict[str, Any] = {
        "flags": flags(ours, ref, method),
        "shared_prompts": shared_prompts(ours, ref),
        "prompts": [ours.n_prompts, ref.n_prompts],
    }
    if method == "jaccard":
        scale = jaccard_scale()
        out["scale"] = scale
        out["scale_note"] = lexical_anchor.SCALES[scale]
        if scale != lexical_anchor.HUMAN:
            out["flags"] = [*out["flags"], "relative-scale"]
    if method == "delta":
        out["unit"] = DELTA_UNIT
        if lexical_distance.few_shared(ours, ref):
            out["envelope"] = DELTA_ACROSS_PROMPTS
    return out
