"""Optional sequential sampling: stop a rate check early once its verdict is certain.

A rate assertion ("non-compliance is at most 0.2") passes when the upper bound of the rate's
confidence interval is at most the threshold. With :class:`StopEarly`, the prompts of each
slice (a language) are taken in a seeded random order, ``batch`` at a time, and the rate is
looked at after every batch, ``K`` looks in all for a slice of ``N`` prompts
(``K = ceil(N / batch)``):

- **pass** as soon as the upper bound is at most the threshold;
- **fail** as soon as the lower bound is above it, or when not even a clean answer to every
  remaining prompt could bring the upper bound at the last look down to it (curtailment:
  the verdict of the last look is then already known, so this adds no error);
- at the last look (every prompt sampled) pass if and only if the upper bound is at most the
  threshold, as without stopping.

Looking many times inflates the error rate, so the error ``alpha = 1 - confidence`` is split
between the looks (weighted Bonferroni): the last look gets ``alpha_K = final_share * alpha``
and each earlier look an equal part of the rest, ``alpha_j = (1 - final_share) * alpha /
(K - 1)`` (a share below ``1 / K`` counts as ``1 / K``, the equal split: the last look is
never the strictest). Look ``j`` uses the two-sided Wilson interval (clustered by prompt
when there are several samples per prompt) at the **adjusted confidence** ``1 - alpha_j``.
Curtailment anticipates the last look, so it uses the last look's confidence; a later pass
at a stricter earlier look is then impossible too. A slice that has every prompt sampled is
at its last look (in a joint run it can run out before the others: the looks it skips only
leave their error unspent).

The guarantee: a wrong pass (true rate at or above the threshold) needs the upper bound at
or below it at some look, so by the union bound its chance over all looks is at most the
sum of the looks' one-sided errors, nominally ``sum(alpha_j) / 2 = (1 - confidence) / 2``,
the same as one look at ``confidence`` without stopping. A wrong early fail (lower bound
above the threshold while the true rate is at or below it) can only happen at the earlier
looks: nominally at most ``(1 - final_share) * (1 - confidence) / 2``. Nominally, because the
Wilson bound's exact one-sided error at a given n and rate swings around its nominal level
with the binomial lattice, for the check without stopping too (at 30 to 200 prompts its
exact wrong pass at a rate on the threshold ranges up to 0.03 to 0.05 instead of 0.025 for
some thresholds); the sequential check inherits this look by look, and over thresholds
0.05 to 0.90 its exact wrong pass averages about 0.02. With one look (``batch`` >= the
number of prompts) nothing changes.

The default ``final_share = 0.8`` keeps the last look close to the plain check (96% instead
of 95% two-sided), so a set sampled to the end rarely fails where the full-sample check
passes, while the early looks stay strict (99.8% each for six looks) and stop only on clear
evidence. ``final_share = 1 / K`` is the equal split (every look at ``1 - alpha / K``).

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

#: the part of the error spent on the last look; see the module docstring
FINAL_SHARE = 0.8


def _check_share(share: object, name: str) -> None:
    if isinstance(share, bool) or not isinstance(share, (int, float)):
        raise ValueError(f"{name} must be a number, got {share!r}")
    if not 0 < share < 1:
        raise ValueError(
            f"{name} must be strictly between 0 and 1, got {share!r} (the share of the error "
            "spent on the last look; the earlier looks need some of it to stop at all)"
        )


@dataclass(frozen=True)
class StopEarly:
    """Opt-in sequential sampling for a rate check against ``threshold`` (at most).

    ``threshold`` and ``confidence`` must be those of the assertion made on the result.
    ``batch`` prompts per slice (language) are sampled between looks; ``seed`` fixes the
    random order of the prompts; ``final_share`` is the part of the error spent on the last
    look (the rest is split equally between the earlier looks).
    """

    threshold: float
    confidence: float = 0.95
    batch: int = 10
    seed: int = 0
    final_share: float = FINAL_SHARE

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
        _check_share(self.final_share, "StopEarly: final_share")

    def matches(self, threshold: float, confidence: float) -> bool:
        """Whether an assertion at ``threshold``/``confidence`` is the one sampled for."""
        return math.isclose(threshold, self.threshold, rel_tol=0, abs_tol=1e-12) and math.isclose(
            confidence, self.confidence, rel_tol=0, abs_tol=1e-12
        )


def planned_looks(total: int, batch: int) -> int:
    """``K``: the number of looks at a slice of ``total`` prompts, ``batch`` at a time."""
    return max(1, -(-total // batch))


def adjusted_confidence(
    confidence: float, looks: int, look: int, *, final_share: float = FINAL_SHARE
) -> float:
    """The confidence of look ``look`` (1 to ``looks``) so that the errors of all ``looks``
    add up to ``1 - confidence``: weighted Bonferroni, ``final_share`` of it on the last
    look (never less than an equal split: the last look is never the strictest)."""
    _check_share(final_share, "final_share")
    looks = max(1, looks)
    if isinstance(look, bool) or not isinstance(look, int) or not 1 <= look <= looks:
        raise ValueError(f"look must be a whole number from 1 to {looks}, got {look!r}")
    alpha = 1 - confidence
    if looks == 1:
        return confidence
    share = max(final_share, 1 / looks)
    if look == looks:
        return 1 - share * alpha
    return 1 - (1 - share) * alpha / (looks - 1)


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
    final_confidence: float | None = None,
) -> Decision:
    """The verdict at one look: ``counts`` are ``(k_i, n_i)`` per sampled prompt,
    ``confidence`` this look's adjusted one, ``remaining`` prompts not sampled yet with
    ``samples`` answers each, ``final_confidence`` the last look's (for curtailment;
    default ``confidence``)."""
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
    # The verdict anticipated is the last look's, so its confidence applies: a pass at a
    # stricter earlier look is then impossible too (the bound only grows with the
    # confidence and shrinks with n).
    final = confidence if final_confidence is None else final_confidence
    best = stats.wilson(rate.k, rate.n + remaining * samples, final)
    if best.high > threshold:
        return Decision("fail", "curtailed", rate)
    return Decision(None, None, rate)


@dataclass(frozen=True)
class Stopped:
    """How sequential sampling of one slice ended (``early``: before the last prompt).

    ``adjusted`` is the confidence of the look that decided, ``final`` the last look's
    (the one curtailment anticipates).
    """

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
    final: float | None = None

    @property
    def early(self) -> bool:
        return self.sampled < self.total

    @property
    def final_confidence(self) -> float:
        # records written before the unequal split judged every look alike
        return self.adjusted if self.final is None else self.final

    def describe(self) -> str:
        """One line for messages and measurement details."""
        over = f"{self.confidence * 100:g}% over all looks"
        which = f"look {self.look}" if self.early else "last look"
        conf = f"adjusted confidence {self.adjusted * 100:.4g}% ({which} of {self.looks}; {over})"
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
                f"{self.total - self.sampled} prompts the upper bound at the last look would "
                f"stay above threshold {t} at its confidence "
                f"{self.final_confidence * 100:.4g}% ({self.confidence * 100:g}% over "
                f"{self.looks} looks)"
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
            "final_confidence": self.final_confidence,
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
        final = data.get("final_confidence")
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
            None if final is None else float(final),
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
        decisions: dict[str, tuple[Decision, int, int, int, float, float]] = {}
        for name, (counts, total) in counted.items():
            if not joint and name in done:
                continue
            k_looks = shared if joint else looks[name]
            sampled = len(counts)
            # A slice with every prompt sampled is at its last look, even when a joint run
            # goes on for other slices: its data cannot change any more, so the looks it
            # skips only leave their share of the error unspent.
            last = sampled >= total or look >= k_looks
            now, final = _confidences(options, k_looks, k_looks if last else look)
            decision = decide(
                counts,
                threshold=options.threshold,
                confidence=now,
                remaining=0 if last else total - sampled,
                samples=samples,
                final_confidence=final,
            )
            decisions[name] = (decision, sampled, total, k_looks, now, final)
        if joint:
            verdicts = [d.verdict for d, *_ in decisions.values()]
            finished = "fail" in verdicts or all(v == "pass" for v in verdicts)
            if not finished:
                continue
            failing = sorted(n for n, (d, *_) in decisions.items() if d.verdict == "fail")
            for name, (d, sampled, total, k_looks, now, final) in decisions.items():
                note = (
                    f"not decided when {', '.join(failing)} failed"
                    if d.verdict is None and failing
                    else ""
                )
                done[name] = _stopped(options, d, sampled, total, look, k_looks, now, final, note)
            return done
        for name, (d, sampled, total, k_looks, now, final) in decisions.items():
            if d.verdict is not None:
                done[name] = _stopped(options, d, sampled, total, look, k_looks, now, final, "")
        if len(done) == len(counted):
            return done


def _confidences(options: StopEarly, looks: int, look: int) -> tuple[float, float]:
    """This look's confidence and the last look's."""
    now = adjusted_confidence(options.confidence, looks, look, final_share=options.final_share)
    last = adjusted_confidence(options.confidence, looks, looks, final_share=options.final_share)
    return now, last


def _stopped(
    options: StopEarly,
    d: Decision,
    sampled: int,
    total: int,
    look: int,
    looks: int,
    adjusted: float,
    final: float,
    note: str,
) -> Stopped:
    return Stopped(
        threshold=options.threshold,
        confidence=options.confidence,
        adjusted=adjusted,
        sampled=sampled,
        total=total,
        look=min(look, looks),
        looks=looks,
        verdict=d.verdict,
        reason=d.reason,
        rate=d.rate,
        note=note,
        final=final,
    )
