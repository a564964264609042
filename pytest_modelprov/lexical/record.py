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
from .common import FREQUENCY, SPREAD, Counts

if TYPE_CHECKING:
    from ..calls.verdicts import VerdictStore


DETECTOR = "lexical/1"


#: what a ``delta`` figure is measured in (shown in reports beside the figure)
DELTA_UNIT = "delta: RMS difference of widely used words in units of their spread over prompts"


#: the same, for ``unit="frequency"`` (the scale for a threshold that holds in every genre)
FREQUENCY_UNIT = (
    "delta in frequency units: squared difference of widely used words relative to their "
    "own frequency (the spread-unit figure times the words' median ratio of spread over "
    "prompts to squared frequency)"
)


#: the numbers behind a frequency-unit threshold (benchmarks/bench_lexical.py, section 3)
FREQUENCY_NOTE = (
    "measured at 36 and 150 prompts: unrelated vendors median 0.31-0.32 on stories and "
    "0.30-0.34 on essays; gemma-3-27b-it against its de-slopped fine-tune 0.17; post-trainings "
    "of DeepSeek-R1 0.01-0.05 and its merge with V3 0.23-0.29 on essays; 0.17, chosen on the "
    "stories, passed 135 of 162 unrelated pairs on the essays (0.17 in spread units: 44); "
    "pairs among 15 models per genre, so not independent, and the threshold was in effect "
    "set by one related pair (gemma against its fine-tune). Calibrated on one answer per "
    "prompt, ~780 (essays) to ~1450 (stories) words per prompt: more text per prompt "
    "(several answers, longer answers) raises the figure (details: texts_per_prompt, "
    "words_per_prompt; flag outside-calibration)"
)


#: where a frequency-unit comparison across prompt sets stands (flag ``unvalidated``)
FREQUENCY_ACROSS_PROMPTS = (
    "different prompt sets in frequency units: not validated; the frequency unit and its "
    "0.17 threshold were calibrated only on fingerprints of the same prompts "
    "(benchmarks/bench_lexical.py, section 3)"
)


#: where a delta comparison across prompt sets was validated (benchmarks/bench_lexical.py)
DELTA_ACROSS_PROMPTS = (
    "different prompt sets: validated on stories (split-half, settings chosen on essays: 28 "
    "and 30 of 30 halves found their own model); on short essays 20 and 22 of 30"
)


class Handle(Protocol):
    """What the lexical code uses of a fingerprint's model handle (a ``ModelHandle``):
    typed on that alone, so that the code a lexical result is computed by does not import
    the model handle and the calls behind it (nor does its identity, :mod:`.replay`, read
    them: they only brought the answers, which the result is keyed on)."""

    @property
    def verdicts(self) -> VerdictStore | None: ...

    def record(self, measurement: Measurement) -> None: ...


class Recorded(Counts, Protocol):
    """A fingerprint as recorded: where its measurements go and what it is called."""

    name: str
    model: str
    part: str
    handle: Handle | None


def _labels(part: str, method: str, unit: str, **extra: str) -> dict[str, str]:
    """Measurement labels; ``unit`` only when it is not the default, so a spread-unit
    distance keeps the key it had before units existed (baselines match on labels)."""
    out = {**extra, "part": part, "method": method}
    if unit != SPREAD:
        out["unit"] = unit
    return out


def record_distance(a: Recorded, b: Counts, method: str, value: float, unit: str = SPREAD) -> None:
    """Record one plain distance (no interval) as an ``info`` measurement of the running
    test, with its flags: what ``a.distance(b)`` and :func:`distance` leave behind."""
    record = _recorder(a)
    if record is None:
        return
    record(distance_measurement(a, b, method, value, unit))


def distance_measurement(
    a: Recorded, b: Counts, method: str, value: float, unit: str = SPREAD
) -> Measurement:
    """The ``info`` measurement :func:`record_distance` records."""
    return Measurement(
        quantity="lexical.distance",
        value=value,
        labels=_labels(a.part, method, unit, reference=b.label),
        n=a.n_prompts,
        verdict="info",
        detector=DETECTOR,
        details=_context(a, b, method, unit),
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


def _context(ours: Recorded, ref: Counts, method: str, unit: str = SPREAD) -> dict[str, Any]:
    """What a reader needs to judge one distance: flags, prompts shared, the scale."""
    # here, not at the top: a replayed result reads none of it (see :mod:`.replay`)
    from . import anchor as lexical_anchor
    from . import distances as lexical_distance
    from .distances import flags, jaccard_scale, shared_prompts

    out: dict[str, Any] = {
        "flags": flags(ours, ref, method, unit),
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
        out["unit"] = FREQUENCY_UNIT if unit == FREQUENCY else DELTA_UNIT
        # what the frequency unit was calibrated on is comparable with these
        out["texts_per_prompt"] = [
            round(lexical_distance.texts_per_prompt(fp), 2) for fp in (ours, ref)
        ]
        out["words_per_prompt"] = [
            round(lexical_distance.words_per_prompt(fp), 1) for fp in (ours, ref)
        ]
        if lexical_distance.few_shared(ours, ref):
            out["envelope"] = (
                FREQUENCY_ACROSS_PROMPTS if unit == FREQUENCY else DELTA_ACROSS_PROMPTS
            )
    return out
