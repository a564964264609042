"""Optional sequential sampling: stop a rate check early once its verdict is certain.

A rate assertion ("non-compliance is at most 0.2") passes when the upper bound of the rate's
confidence interval is at most the threshold. With :class:`StopEarly`, the prompts of each
slice (a language) are taken in a seeded random order, ``batch`` at a time, and the rate is
looked at after every batch:

- **pass** as soon as the upper bound is at most the threshold;
- **fail** as soon as the lower bound is above it, or when not even a clean answer to every
  remaining prompt could bring the upper bound at the end down to it (curtailment: the
  verdict at the end is then already known, so this adds no error);
- at the last look (every prompt sampled) pass if and only if the upper bound is at most the
  threshold, as without stopping.

Looking many times inflates the error rate, so every look (the last one included) uses the
two-sided Wilson interval (clustered by prompt when there are several samples per prompt)
at the **adjusted confidence** ``1 - (1 - confidence) / K`` for ``K`` planned looks
(Bonferroni). The chance of a wrong pass (true rate at or above the threshold) is then at
most ``(1 - confidence) / 2`` over all looks together, the same as one look at
``confidence`` without stopping; so is the chance of a wrong early fail (true rate at or
below the threshold). With one look (``batch`` >= the number of prompts) nothing changes.
The price: a set that is sampled to the end is judged at the adjusted confidence, so a
borderline rate can fail where the single full-sample check would pass.

The random order is a hash of the seed and each prompt's id, so it does not depend on
how the set is ordered, adding a prompt does not reshuffle the others, and a warm re-run
takes the same batches from the cache and stops at the same look with no call.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from . import stats
from .stats import Rate

__all__ = [
    "Decision",
    "StopEarly",
    "Stopped",
    "adjusted_confidence",
    "decide",
    "order",
    "planned_looks",
    "rate_of",
    "run",
]

Verdict = Literal["pass", "fail"]
#: why sampling ended: the upper bound passed, the lower bound failed, the pass became
#: impossible, or every prompt was sampled and the upper bound was still above
Reason = Literal["upper", "lower", "curtailed", "complete"]

T = TypeVar("T")


@dataclass(frozen=True)
class StopEarly:
    """Opt-in sequential sampling for a rate check against ``threshold`` (at most).

    ``threshold`` and ``confidence`` must be those of the assertion made on the result.
    ``batch`` prompts per slice (language) are sampled between looks; ``seed`` fixes the
    random order of the prompts.
    """

    threshold: float
    confidence: float = 0.95
    batch: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)):
            raise ValueError(f"StopEarly: threshold must be a number, got {self.threshold!r}")
        if not 0 < self.threshold < 1:
            raise ValueError(
                f"StopEarly: threshold must be strictly between 0 and 1, got {self.threshold!r} "
                "(a rate can never be shown to be at most 0, and is always at most 1)"
            )
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, (int, float)):
            raise ValueError(f"StopEarly: confidence must be a number, got {self.confidence!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(
                f"StopEarly: confidence must be between 0 and 1, got {self.confidence!r}"
            )
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise ValueError(f"StopEarly: batch must be a whole number >= 1, got {self.batch!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"StopEarly: seed must be an integer, got {self.seed!r}")

    def matches(self, threshold: float, confidence: float) -> bool:
        """Whether an assertion at ``threshold``/``confidence`` is the one sampled for."""
        return math.isclose(threshold, self.threshold, rel_tol=0, abs_tol=1e-12) and math.isclose(
            confidence, self.confidence, rel_tol=0, abs_tol=1e-12
        )


def planned_looks(total: int, batch: int) -> int:
    """``K``: the number of looks at a slice of ``total`` prompts, ``batch`` at a time."""
    return max(1, -(-total // batch))


def adjusted_confidence(confidence: float, looks: int) -> float:
    """Bonferroni: the per-look confidence that keeps the error over ``looks`` looks."""
    return 1 - (1 - confidence) / max(1, looks)


def order(keys: Sequence[str], seed: int) -> list[int]:
    """A seeded random order of ``keys`` (indexes), stable across runs and Python versions."""

    def rank(i: int) -> bytes:
        return hashlib.sha256(f"{seed}\x00{keys[i]}".encode()).digest()

    return sorted(range(len(keys)), key=lambda i: (rank(i), i))


def rate_of(counts: Sequence[tuple[int, int]], confidence: float) -> Rate:
    """Wilson with one answer per prompt, clustered by prompt with several."""
    if all(n <= 1 for _, n in counts):
        return stats.wilson(sum(k for k, _ in counts), sum(n for _, n in counts), confidence)
    return stats.clustered_rate(counts, confidence)


@dataclass(frozen=True)
class Decision:
    """The verdict at one look (``None``: keep sampling) and the rate it rests on."""

    verdict: Verdict | None
    reason: Reason | None
    rate: Rate


def decide(
    counts: Sequence[tuple[int, int]],
    *,
    threshold: float,
    confidence: float,
    remaining: int,
    samples: int,
) -> Decision:
    """The verdict at one look: ``counts`` are ``(k_i, n_i)`` per sampled prompt,
    ``confidence`` the adjusted one, ``remaining`` prompts not sampled yet with
    ``samples`` answers each."""
    rate = rate_of(counts, confidence)
    if rate.n and rate.high <= threshold:
        return Decision("pass", "upper", rate)
    if remaining == 0:
        return Decision("fail", "complete", rate)
    if rate.n and rate.low > threshold:
        return Decision("fail", "lower", rate)
    # The best the end can bring: no further positive. Counting every answer as independent
    # gives the narrowest interval the clustered rate can have (its design effect is >= 1),
    # and the Wilson upper bound falls with n and rises with k: if even this is above the
    # threshold, no completion passes.
    best = stats.wilson(rate.k, rate.n + remaining * samples, confidence)
    if best.high > threshold:
        return Decision("fail", "curtailed", rate)
    return Decision(None, None, rate)


@dataclass(frozen=True)
class Stopped:
    """How sequential sampling of one slice ended (``early``: before the last prompt)."""

    threshold: float
    confidence: float
    adjusted: float
    sampled: int
    total: int
    look: int
    looks: int
    verdict: Verdict | None
    reason: Reason | None
    rate: Rate
    #: set when the slice was left undecided because another slice decided the check
    note: str = ""

    @property
    def early(self) -> bool:
        return self.sampled < self.total

    def describe(self) -> str:
        """One line for messages and measurement details."""
        conf = f"adjusted confidence {self.adjusted * 100:.4g}% ({self.confidence * 100:g}% over "
        conf += f"{self.looks} look{'s' if self.looks != 1 else ''}, Bonferroni)"
        t = f"{self.threshold:g}"
        if self.early:
            head = f"stopped early after {self.sampled} of {self.total} prompts"
        else:
            head = f"sampled all {self.total} prompts"
        r = self.rate
        if self.reason == "upper":
            return f"{head}: upper bound {r.high:.3f} <= threshold {t} at the {conf}"
        if self.reason == "lower":
            return f"{head}: lower bound {r.low:.3f} > threshold {t} at the {conf}"
        if self.reason == "curtailed":
            text = (
                f"{head}: {r.k}/{r.n} positive already; even with none in the remaining "
                f"{self.total - self.sampled} prompts the upper bound would stay above "
                f"threshold {t} at the {conf}"
            )
            if r.k == 0:
                # no data could pass: the set is too small for this many looks
                text += (
                    f"; {self.total} prompts cannot show it at this confidence: use a larger "
                    "batch (fewer looks), more prompts, or no stop_early"
                )
            return text
        if self.reason == "complete":
            return f"{head}: upper bound {r.high:.3f} > threshold {t} at the {conf}"
        return f"{head}: undecided ({self.note or 'sampling stopped'}) at the {conf}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "confidence": self.confidence,
            "adjusted_confidence": self.adjusted,
            "sampled": self.sampled,
            "total": self.total,
            "look": self.look,
            "looks": self.looks,
            "verdict": self.verdict,
            "reason": self.reason,
            "stopped_early": self.early,
            "k": self.rate.k,
            "n": self.rate.n,
            "low": self.rate.low,
            "high": self.rate.high,
            "effective_n": self.rate.effective_n,
            "note": self.note,
            "text": self.describe(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stopped:
        rate = Rate(
            int(data["k"]),
            int(data["n"]),
            float(data["low"]),
            float(data["high"]),
            float(data["adjusted_confidence"]),
            None if data.get("effective_n") is None else float(data["effective_n"]),
        )
        verdict, reason = data.get("verdict"), data.get("reason")
        if verdict not in ("pass", "fail", None) or reason not in (
            "upper",
            "lower",
            "curtailed",
            "complete",
            None,
        ):
            raise ValueError(f"unknown verdict/reason {verdict!r}/{reason!r}")
        return cls(
            float(data["threshold"]),
            float(data["confidence"]),
            float(data["adjusted_confidence"]),
            int(data["sampled"]),
            int(data["total"]),
            int(data["look"]),
            int(data["looks"]),
            verdict,
            reason,
            rate,
            str(data.get("note", "")),
        )


#: per slice: ``(k_i, n_i)`` per sampled prompt and the slice's number of prompts
SliceCounts = Mapping[str, tuple[Sequence[tuple[int, int]], int]]


def run(
    streams: Mapping[str, Sequence[tuple[str, T]]],
    fetch: Callable[[list[T]], None],
    slices: Callable[[Mapping[str, Sequence[T]]], SliceCounts],
    options: StopEarly,
    *,
    samples: int,
    joint: bool = False,
) -> dict[str, Stopped]:
    """Sample ``streams`` batch by batch until every slice is decided.

    ``streams`` maps a stream (a language) to its items as ``(key, item)``; the key fixes
    the item's place in the seeded order. ``fetch(items)`` samples and scores a batch (one
    model call per look, every stream's batch together); ``slices(taken)`` gives the
    counts of each slice over the items taken so far.

    Independent (``joint=False``): slice ``s`` is stream ``s``; each stops on its own,
    with its own number of looks. Joint: every stream advances at every look (so each
    slice, e.g. "all languages", is a sample of fixed size at each look) and all stop
    together: when every slice passes, or as soon as one fails.
    """
    if not streams:
        raise ValueError("sequential sampling needs at least one prompt")
    ordered = {
        name: [items[i][1] for i in order([k for k, _ in items], options.seed)]
        for name, items in streams.items()
    }
    totals = {name: len(items) for name, items in ordered.items()}
    if any(t == 0 for t in totals.values()):
        empty = sorted(n for n, t in totals.items() if t == 0)
        raise ValueError(f"sequential sampling: no prompts in {empty}")
    looks = {name: planned_looks(t, options.batch) for name, t in totals.items()}
    shared = max(looks.values())
    taken: dict[str, list[T]] = {name: [] for name in ordered}
    done: dict[str, Stopped] = {}
    look = 0
    while True:
        look += 1
        active = [n for n in ordered if n not in done] if not joint else list(ordered)
        batch: list[T] = []
        for name in active:
            start = len(taken[name])
            more = ordered[name][start : start + options.batch]
            taken[name].extend(more)
            batch.extend(more)
        if batch:
            fetch(batch)
        counted = slices(taken)
        decisions: dict[str, tuple[Decision, int, int, int]] = {}
        for name, (counts, total) in counted.items():
            if not joint and name in done:
                continue
            k_looks = shared if joint else looks[name]
            adjusted = adjusted_confidence(options.confidence, k_looks)
            sampled = len(counts)
            # the last look is the last planned one, when everything has been sampled
            last = (look >= k_looks) if joint else sampled >= total
            decision = decide(
                counts,
                threshold=options.threshold,
                confidence=adjusted,
                remaining=0 if last else total - sampled,
                samples=samples,
            )
            decisions[name] = (decision, sampled, total, k_looks)
        if joint:
            verdicts = [d.verdict for d, *_ in decisions.values()]
            finished = "fail" in verdicts or all(v == "pass" for v in verdicts)
            if not finished:
                continue
            failing = sorted(n for n, (d, *_) in decisions.items() if d.verdict == "fail")
            for name, (d, sampled, total, k_looks) in decisions.items():
                note = (
                    f"not decided when {', '.join(failing)} failed"
                    if d.verdict is None and failing
                    else ""
                )
                done[name] = _stopped(options, d, sampled, total, look, k_looks, note)
            return done
        for name, (d, sampled, total, k_looks) in decisions.items():
            if d.verdict is not None:
                done[name] = _stopped(options, d, sampled, total, look, k_looks, "")
        if len(done) == len(counted):
            return done


def _stopped(
    options: StopEarly, d: Decision, sampled: int, total: int, look: int, looks: int, note: str
) -> Stopped:
    return Stopped(
        threshold=options.threshold,
        confidence=options.confidence,
        adjusted=adjusted_confidence(options.confidence, looks),
        sampled=sampled,
        total=total,
        look=min(look, looks),
        looks=looks,
        verdict=d.verdict,
        reason=d.reason,
        rate=d.rate,
        note=note,
    )
