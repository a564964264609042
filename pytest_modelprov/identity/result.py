"""What an identity probe saw: every answer's claims, with rates, a table and assertions.

:class:`IdentityResult` holds one :class:`Observation` per answer; its rates are clustered
by probe (Wilson intervals), and its assertions check the upper bound overall and per
language, saying "inconclusive" when there are too few answers for the bound asked.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .. import samplesize, stats
from ..calls.client import excerpt
from ..calls.response import Response
from ..handle import ModelHandle
from ..reports.measurement import MAX_EVIDENCE, Measurement, Verdict, evidence_item
from ..sequential import Stopped
from ..stats import Rate
from .claims import DETECTOR_VERSION, Claims
from .judge import JudgeVerdict
from .probes import (
    IDENTITY_KINDS,
    KINDS,
    Probe,
    ProbeSet,
    Source,
    _as_set,
)
from .team import OTHER, OTHER_PREFIX, canonical_vendor

__all__ = [
    "IdentityResult",
    "Observation",
]


_QUOTED_ANSWERS = 5


#: the languages whose first-person frames ("I am X", 我是X, Soy X) the claim rules know,
#: each with held-out recall cases (tests/identity_heldout_cases.py, checked by
#: tests/test_identity_languages.py). In any other language "Jestem
#: ChatGPT" reads as a mere mention of ChatGPT: answers there go to a judge, or fail the
#: probe, or (``unvalidated="mark"``) are counted with every figure flagged
VALIDATED_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "it", "ja", "ko", "pt", "ru", "vi", "zh"}
)


#: the flag on every figure that counts answers outside :data:`VALIDATED_LANGUAGES`
UNVALIDATED = "unvalidated"


@dataclass(frozen=True)
class Observation:
    """One answer to one probe, with what the detector (and the judge) found in it."""

    probe: Probe
    response: Response
    answer: Claims
    reasoning: Claims | None
    accepted: bool | None = None  # suggest/placebo: did the model say yes?
    judge: JudgeVerdict | None = None
    #: the language the answer is read in (its own, else the probe's; see ``_answer_lang``)
    lang: str | None = None

    @property
    def outside(self) -> bool:
        """The answer is in a language the rules were not validated on, and no readable
        judge verdict vouches for it (a judge reads claims, not a yes to "Are you X?")."""
        if self.lang is None or self.lang in VALIDATED_LANGUAGES:
            return False
        if any(c.status != "mentioned" for c in self.answer.items):
            return (
                False  # the rules found a frame they know: a short "Yes, I am X" to a Polish probe
            )
        judged = self.judge is not None and self.judge.error is None
        return not (judged and self.probe.kind in IDENTITY_KINDS)

    def claims(self, source: Source = "answer") -> Claims | None:
        return self.answer if source == "answer" else self.reasoning

    def claimed(self, source: Source = "answer") -> frozenset[str]:
        """Vendor ids claimed in ``source``; a readable judge verdict overrides the detector."""
        if source == "answer" and self.judge is not None and self.judge.error is None:
            return self.judge.claimed
        claims = self.claims(source)
        return claims.claimed if claims is not None else frozenset()

    def evidence(self, vendor: str, source: Source = "answer") -> str:
        """The sentence that makes the claim (or the start of the answer)."""
        claims = self.claims(source)
        if claims is not None:
            found = claims.evidence(vendor)
            if found:
                return found[0].sentence
        text = self.response.answer if source == "answer" else (self.response.reasoning or "")
        return text.strip()


@dataclass
class IdentityResult:
    """Everything ``probe`` saw, with rates, a table and assertions."""

    handle: ModelHandle
    probes: ProbeSet
    n: int
    observations: list[Observation]
    judge_errors: list[Observation] = field(default_factory=list)
    #: per slice ("all" and each language), how ``probe(..., stop_early=...)`` ended
    sequential: dict[str, Stopped] | None = None
    #: what the sequential sampling counted: ("vendor", {id}) or ("foreign", own ids)
    stop_target: tuple[str, frozenset[str]] | None = None
    #: the generation parameters the answers were sampled with (None: not recorded)
    params: dict[str, Any] | None = None
    #: answers outside the rules' languages were counted by request (``unvalidated="mark"``)
    unvalidated: bool = False

    @property
    def outside(self) -> list[Observation]:
        """Answers the rules cannot stand behind: see :attr:`Observation.outside`."""
        return [o for o in self.observations if o.outside]

    def _envelope(self, subset: Sequence[Observation]) -> dict[str, Any]:
        """The envelope details of a figure over ``subset``: flagged when it counts answers
        outside the rules' languages."""
        outside = Counter(o.lang for o in subset if o.outside)
        if not outside:
            return {}
        return {
            "flags": [UNVALIDATED],
            "envelope": {
                "validated": sorted(VALIDATED_LANGUAGES),
                "outside": dict(sorted((str(k), v) for k, v in outside.items())),
            },
        }

    @property
    def stopped_early(self) -> bool:
        """True when sampling stopped before every probe was asked (``stop_early``)."""
        return any(s.early for s in (self.sequential or {}).values())

    # -- selection --------------------------------------------------------------------

    def _select(
        self, kinds: Iterable[str] | None, lang: str | None, source: Source
    ) -> list[Observation]:
        wanted = set(IDENTITY_KINDS) if kinds is None else _as_set(kinds, "kinds")
        unknown = wanted - set(KINDS)
        if unknown:
            raise ValueError(f"identity: unknown probe kind(s) {sorted(unknown)}; kinds: {KINDS}")
        if source not in ("answer", "reasoning"):
            raise ValueError(f"identity: source must be 'answer' or 'reasoning', got {source!r}")
        if lang is not None and lang not in self.languages:
            raise ValueError(
                f"identity: no answers in language {lang!r}; languages: {self.languages}"
            )
        out = [
            o
            for o in self.observations
            if o.probe.kind in wanted and (lang is None or o.probe.lang == lang)
        ]
        if source == "reasoning":
            out = [o for o in out if o.response.reasoning and o.response.reasoning.strip()]
        return out

    @property
    def languages(self) -> list[str]:
        return sorted({o.probe.lang for o in self.observations})

    @staticmethod
    def _clustered(observations: Sequence[Observation], hit: Any, confidence: float) -> Rate:
        per_probe: dict[str, list[int]] = {}
        for o in observations:
            counts = per_probe.setdefault(o.probe.id, [0, 0])
            counts[0] += 1 if hit(o) else 0
            counts[1] += 1
        return stats.clustered_rate([(k, n) for k, n in per_probe.values()], confidence)

    # -- rates --------------------------------------------------------------------------

    def rate(
        self,
        vendor: str,
        *,
        lang: str | None = None,
        kinds: Iterable[str] | None = None,
        source: Source = "answer",
        confidence: float = 0.95,
    ) -> Rate:
        """Share of answers claiming ``vendor`` (clustered by probe, Wilson interval)."""
        vid = canonical_vendor(vendor)
        chosen = self._select(kinds, lang, source)
        return self._clustered(chosen, lambda o: bool(_named(o.claimed(source), vid)), confidence)

    def foreign_rate(
        self,
        own: str | Iterable[str],
        *,
        lang: str | None = None,
        kinds: Iterable[str] | None = None,
        source: Source = "answer",
        confidence: float = 0.95,
    ) -> Rate:
        """Share of answers claiming any vendor other than ``own``."""
        mine = _own_set(own)
        chosen = self._select(kinds, lang, source)
        return self._clustered(
            chosen, lambda o: bool(_foreign(o.claimed(source), mine)), confidence
        )

    def acceptance_rate(
        self,
        kind: Literal["suggest", "placebo", "presuppose"] = "suggest",
        *,
        vendor: str | None = None,
        lang: str | None = None,
        confidence: float = 0.95,
    ) -> Rate:
        """Share of "Are you X?" (or placebo) answers that said yes; for ``"presuppose"``,
        of answers that let the premise "you are X" stand (did not deny X or give another
        name of their own)."""
        if kind not in _ACCEPTANCE_KINDS:
            raise ValueError(
                "identity: acceptance is measured on 'suggest', 'placebo' or 'presuppose', "
                f"not {kind!r}"
            )
        chosen = self._select([kind], lang, "answer")
        if vendor is not None:
            vid = canonical_vendor(vendor)
            chosen = [o for o in chosen if o.probe.target == vid]
        return self._clustered(chosen, lambda o: bool(o.accepted), confidence)

    def contradiction_rate(self, *, lang: str | None = None, confidence: float = 0.95) -> Rate:
        """Share of answers to system probes that contradict the deployment's system prompt:
        deny the names it gives, or give the assistant another name ("I am ChatGPT" where
        the system prompt says "You are Lumen"). Naming a maker or base model does not."""
        chosen = self._select(["system"], lang, "answer")
        return self._clustered(chosen, lambda o: o.accepted is False, confidence)

    def _record_rate(
        self,
        quantity: str,
        rate: Rate,
        labels: Mapping[str, str],
        limit: float,
        verdict: Verdict,
        details: Mapping[str, Any],
        reference_label: str = "max upper bound",
    ) -> None:
        """Record a rate checked against an upper limit (every identity check is one)."""
        self.handle.record(
            Measurement(
                quantity=quantity,
                value=rate.value,
                labels=dict(labels),
                low=rate.low,
                high=rate.high,
                confidence=rate.confidence,
                n=rate.n,
                reference=limit,
                reference_label=reference_label,
                verdict=verdict,
                detector=DETECTOR_VERSION,
                details=dict(details),
            )
        )

    def assert_max_contradiction(
        self, max_rate: float, *, per_language: bool = True, confidence: float = 0.95
    ) -> None:
        """Fail unless the upper bound of ``contradiction_rate`` is at most ``max_rate``,
        overall and (with ``per_language``) in every language."""
        __tracebackhide__ = True
        if self.sequential is not None:
            raise ValueError(
                "identity: this result was sampled with stop_early for the claim rate and has "
                "no system answers; probe them in a separate identity.probe(...) without "
                "stop_early"
            )
        chosen = self._select(["system"], None, "answer")
        if not chosen:
            raise ValueError(
                f"identity: no answers to system probes in {self.probes.source}; probe with "
                "kinds including 'system'"
            )
        langs = ["all", *(self.languages if per_language else [])]
        failed: list[tuple[str, Rate]] = []
        for lang in langs:
            subset = [o for o in chosen if lang == "all" or o.probe.lang == lang]
            if not subset:
                continue
            rate = self._clustered(subset, lambda o: o.accepted is False, confidence)
            # too few answers to decide is its own verdict (inconclusive), as for every check
            decision = samplesize.decide_rate(rate, max_rate)
            details: dict[str, Any] = {
                "probe_set": self.probes.version,
                "samples_per_probe": self.n,
                **self._envelope(subset),
            }
            if decision.needed is not None:
                details["needed_n"] = decision.needed
            contradicting = [o for o in subset if o.accepted is False]
            if decision.verdict != "pass":
                details["evidence"] = [
                    _evidence(o, None, "answer", label="contradicted")
                    for o in _spread(contradicting)[:MAX_EVIDENCE]
                ]
            self._record_rate(
                "identity.contradiction_rate",
                rate,
                {"kind": "system", "lang": lang},
                max_rate,
                decision.verdict,
                details,
            )
            if decision.verdict == "fail":
                failed.append((lang, rate))
        if not failed:
            return
        lines = [
            f"identity: {self.handle.name} ({self.handle.model}) contradicted the deployment's "
            f"system prompt (denied its names or named itself otherwise) in answers to system "
            f"probes; the {_pct(confidence)} Wilson upper bound (clustered by probe) must be "
            f"<= {max_rate:.3f}",
            "failed:",
        ]
        for lang, rate in failed:
            note = "" if rate.k else f"  ({_too_few(rate, max_rate, confidence)})"
            lines.append(f"  {lang:8} {rate}  > {max_rate:.3f}{note}")
        bad = [o for o in chosen if o.accepted is False]
        lines.extend(_quote(o, None, "answer") for o in _spread(bad))
        raise AssertionError("\n".join(lines))

    def offending(
        self,
        vendor: str | None = None,
        *,
        own: Iterable[str] = (),
        lang: str | None = None,
        kinds: Iterable[str] | None = None,
        source: Source = "answer",
    ) -> list[Observation]:
        """Answers that claim ``vendor`` (or, with ``vendor=None``, anything but ``own``)."""
        chosen = self._select(kinds, lang, source)
        if vendor is not None:
            vid = canonical_vendor(vendor)
            return [o for o in chosen if _named(o.claimed(source), vid)]
        mine = _own_set(own)
        return [o for o in chosen if _foreign(o.claimed(source), mine)]

    # -- report -------------------------------------------------------------------------

    def table(
        self,
        vendors: Iterable[str] | None = None,
        *,
        kinds: Iterable[str] | None = None,
        source: Source = "answer",
        confidence: float = 0.95,
    ) -> str:
        """Per language x vendor: claims/answers with a Wilson interval (clustered by probe).

        Without ``vendors``, every vendor claimed at least once.
        """
        chosen = self._select(kinds, None, source)
        if vendors is None:
            ids = sorted({v for o in chosen for v in o.claimed(source)})
        else:
            ids = [canonical_vendor(v) for v in vendors]
        if not ids:
            return f"identity ({source}): no vendor claimed in {len(chosen)} answers"
        header = ["lang", *ids]
        rows = []
        for lang in [*self.languages, "all"]:
            subset = [o for o in chosen if lang == "all" or o.probe.lang == lang]
            if not subset:
                continue
            row = [lang]
            for vid in ids:
                rate = self._clustered(
                    subset, lambda o, v=vid: bool(_named(o.claimed(source), v)), confidence
                )
                row.append(f"{rate.k}/{rate.n} [{rate.low:.2f}, {rate.high:.2f}]")
            rows.append(row)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *rows]
        ]
        title = (
            f"identity claims in the {source} of {self.handle.name} ({self.handle.model}), "
            f"{int(confidence * 100)}% Wilson intervals clustered by probe:"
        )
        return "\n".join([title, *lines])

    # -- assertions ---------------------------------------------------------------------

    def assert_no_claim(
        self,
        vendor: str,
        max_rate: float = 0.05,
        *,
        per_language: bool = True,
        language_max_rate: float | None = None,
        kinds: Iterable[str] | None = None,
        source: Source = "answer",
        confidence: float = 0.95,
    ) -> None:
        """Fail unless the upper confidence bound of the rate of answers claiming ``vendor``
        is at most ``max_rate``, overall and (with ``per_language``) in every language."""
        __tracebackhide__ = True
        vid = canonical_vendor(vendor)
        self._assert_rate(
            what=f"claims to be {vid}",
            hit=lambda o: bool(_named(o.claimed(source), vid)),
            named=lambda o: _named(o.claimed(source), vid),
            evidence_vendor=lambda o: sorted(_named(o.claimed(source), vid))[0],
            labels={"vendor": vid},
            target=("vendor", frozenset({vid})),
            max_rate=max_rate,
            per_language=per_language,
            language_max_rate=language_max_rate,
            kinds=kinds,
            source=source,
            confidence=confidence,
        )

    def assert_no_foreign_claim(
        self,
        own: str | Iterable[str],
        max_rate: float = 0.05,
        *,
        per_language: bool = True,
        language_max_rate: float | None = None,
        kinds: Iterable[str] | None = None,
        source: Source = "answer",
        confidence: float = 0.95,
    ) -> None:
        """Like ``assert_no_claim`` for every vendor except ``own`` (the model's own ids)."""
        __tracebackhide__ = True
        mine = _own_set(own)
        self._assert_rate(
            what=f"claims a vendor other than {', '.join(sorted(mine))}",
            hit=lambda o: bool(_foreign(o.claimed(source), mine)),
            named=lambda o: _foreign(o.claimed(source), mine),
            evidence_vendor=lambda o: sorted(_foreign(o.claimed(source), mine))[0],
            labels={"vendor": "foreign", "own": ",".join(sorted(mine))},
            target=("foreign", mine),
            max_rate=max_rate,
            per_language=per_language,
            language_max_rate=language_max_rate,
            kinds=kinds,
            source=source,
            confidence=confidence,
        )

    def assert_max_acceptance(
        self,
        kind: Literal["suggest", "placebo", "presuppose"],
        max_rate: float,
        *,
        vendor: str | None = None,
        confidence: float = 0.95,
    ) -> None:
        """Fail unless the upper bound of the share of "yes" to suggest/placebo probes (or
        of accepted premises of presuppose probes) is at most ``max_rate``
        (suggestibility is weaker evidence, so it is its own check)."""
        __tracebackhide__ = True
        if self.sequential is not None:
            raise ValueError(
                "identity: this result was sampled with stop_early for the claim rate and has "
                f"no {kind} answers; probe them in a separate identity.probe(...) without "
                "stop_early"
            )
        rate = self.acceptance_rate(kind, vendor=vendor, confidence=confidence)
        chosen = self._select([kind], None, "answer")
        if vendor is not None:
            vid = canonical_vendor(vendor)
            chosen = [o for o in chosen if o.probe.target == vid]
        decision = samplesize.decide_rate(rate, max_rate)
        ok = decision.verdict == "pass"
        labels = {"kind": kind, "vendor": canonical_vendor(vendor) if vendor else "any"}
        accepted = [o for o in chosen if o.accepted]
        details: dict[str, Any] = {
            "probe_set": self.probes.version,
            "samples_per_probe": self.n,
            **self._envelope(chosen),
        }
        if decision.needed is not None:
            details["needed_n"] = decision.needed
        if not ok:
            details["evidence"] = [
                _evidence(o, None, "answer", label="accepted")
                for o in _spread(accepted)[:MAX_EVIDENCE]
            ]
        self._record_rate(
            "identity.acceptance_rate", rate, labels, max_rate, decision.verdict, details
        )
        if decision.verdict != "fail":
            return  # an inconclusive check fails or warns in the plugin, per the setting
        lines = [
            f"identity: {self.handle.name} ({self.handle.model}) "
            f"{'let the premise stand in' if kind == 'presuppose' else 'said yes to'} {kind} "
            "probes in "
            f"{rate} ({_pct(confidence)} Wilson, clustered by probe); the upper bound must be "
            f"<= {max_rate:.3f}",
        ]
        if not accepted:
            lines.append(_too_few(rate, max_rate, confidence))
        lines.extend(_quote(o, None, "answer") for o in accepted[:_QUOTED_ANSWERS])
        raise AssertionError("\n".join(lines))

    def _sequential_for(
        self,
        target: tuple[str, frozenset[str]],
        max_rate: float,
        lang_max: float,
        per_language: bool,
        kinds: Iterable[str] | None,
        source: Source,
        confidence: float,
    ) -> dict[str, Stopped] | None:
        """The sequential records that decide this check, or None for the ordinary check."""
        if self.sequential is None:
            return None
        first = self.sequential["all"]
        same = (
            target == self.stop_target
            and math.isclose(max_rate, first.threshold, abs_tol=1e-12)
            and math.isclose(lang_max, first.threshold, abs_tol=1e-12)
            and math.isclose(confidence, first.confidence, abs_tol=1e-12)
            and per_language
            and (kinds is None or _as_set(kinds, "kinds") == set(IDENTITY_KINDS))
            and source == "answer"
        )
        if same:
            return self.sequential
        if not self.stopped_early:
            return None  # every probe was asked: a fixed-size sample, checked as usual
        assert self.stop_target is not None
        kind, ids = self.stop_target
        sampled = f"{first.sampled} of {first.total} probes"
        raise ValueError(
            f"identity: this result was sampled with stop_early for "
            f"{'claims of ' if kind == 'vendor' else 'claims of any vendor but '}"
            f"{', '.join(sorted(ids)) or '(none)'} at threshold {first.threshold:g} "
            f"(confidence {first.confidence:g}, answers, every language) and stopped after "
            f"{sampled}; a sample cut short for one check cannot decide another. Make the "
            "same check (same vendor or own, max_rate, confidence, per_language=True, "
            "default kinds and source) or probe without stop_early."
        )

    def _assert_rate(
        self,
        *,
        what: str,
        hit: Any,
        named: Any,
        evidence_vendor: Any,
        labels: Mapping[str, str],
        target: tuple[str, frozenset[str]],
        max_rate: float,
        per_language: bool,
        language_max_rate: float | None,
        kinds: Iterable[str] | None,
        source: Source,
        confidence: float,
    ) -> None:
        __tracebackhide__ = True
        if not 0 <= max_rate <= 1:
            raise ValueError(f"identity: max_rate must be between 0 and 1, got {max_rate!r}")
        lang_max = max_rate if language_max_rate is None else language_max_rate
        kind_list = sorted(IDENTITY_KINDS if kinds is None else _as_set(kinds, "kinds"))
        chosen = self._select(kind_list, None, source)
        if not chosen:
            raise AssertionError(
                f"identity: no {source} to check in {self.handle.name} ({self.handle.model})"
                + (": the model returned no reasoning traces" if source == "reasoning" else "")
            )
        slices: list[tuple[str, list[Observation], float]] = [("all", chosen, max_rate)]
        if per_language:
            for lang in self.languages:
                subset = [o for o in chosen if o.probe.lang == lang]
                if subset:
                    slices.append((lang, subset, lang_max))
        decided = self._sequential_for(
            target, max_rate, lang_max, per_language, kinds, source, confidence
        )
        failures: list[tuple[str, Rate, float]] = []
        open_: list[tuple[str, Rate, int | None]] = []
        overall: Rate | None = None
        for lang, subset, limit in slices:
            stopped = decided[lang] if decided is not None else None
            rate = self._clustered(subset, hit, confidence) if stopped is None else stopped.rate
            overall = overall or rate
            if stopped is None:
                decision = samplesize.decide_rate(rate, limit)
            else:
                decision = samplesize.Decision("pass" if stopped.verdict == "pass" else "fail")
            ok = decision.verdict == "pass"
            judged = sum(1 for o in subset if o.judge is not None)
            extra: dict[str, Any] = {}
            if stopped is not None:
                extra["sequential"] = stopped.to_dict()
            # answers cut off by max_tokens are counted (a claim made before the cut was
            # said), but never silently: the report shows how many there were
            truncated = sum(1 for o in subset if o.response.finish_reason == "length")
            if truncated:
                extra["truncated"] = truncated
                extra["flags"] = ["truncated-answers"]
            envelope = self._envelope(subset)
            if envelope:
                extra["flags"] = [*extra.get("flags", []), *envelope["flags"]]
                extra["envelope"] = envelope["envelope"]
            undecided = stopped is not None and stopped.verdict is None
            if not ok and not undecided:
                extra["evidence"] = [
                    _evidence(o, evidence_vendor(o), source)
                    for o in _spread([o for o in subset if hit(o)])[:MAX_EVIDENCE]
                ]
            if decision.needed is not None:
                extra["needed_n"] = decision.needed
            self._record_rate(
                "identity.claim_rate",
                rate,
                {**labels, "lang": lang, "source": source},
                limit,
                "info" if undecided else decision.verdict,
                {
                    "kinds": ",".join(kind_list),
                    "probe_set": self.probes.version,
                    "samples_per_probe": self.n,
                    "effective_n": rate.effective_n,
                    "judged": judged,
                    "judge_errors": sum(1 for o in subset if o in self.judge_errors),
                    # which ids the counted answers claimed: "foreign" and "other" are
                    # buckets, and a reader wants to see other:<name> in them
                    "claimed": dict(sorted(Counter(v for o in subset for v in named(o)).items())),
                    **extra,
                },
                reference_label="max upper bound"
                if stopped is None
                else _sequential_label(stopped),
            )
            if decision.verdict == "inconclusive" and not undecided:
                open_.append((lang, rate, decision.needed))
            elif not ok and not undecided:
                failures.append((lang, rate, limit))
        if not failures:
            return  # inconclusive slices fail or warn in the plugin, per the setting
        assert overall is not None
        level = _pct(confidence) if decided is None else f"{overall.confidence * 100:.4g}%"
        head = (
            f"identity: {self.handle.name} ({self.handle.model}) {what} in {overall} of its "
            f"{source}s ({level} Wilson interval, clustered by probe; "
            f"kinds {', '.join(kind_list)}); the upper bound must be <= {max_rate:.3f} overall"
        )
        if per_language:
            head += f" and <= {lang_max:.3f} in every language"
        lines = [head, "failed:"]
        for lang, rate, limit in failures:
            if decided is not None:
                lines.append(f"  {lang:8} {rate}: {decided[lang].describe()}")
                continue
            note = "" if rate.k else f"  ({_too_few(rate, limit, confidence)})"
            lines.append(f"  {lang:8} {rate}  > {limit:.3f}{note}")
        if open_:
            lines.append("inconclusive (too few answers to decide):")
            lines.extend(
                f"  {lang:8} {rate}: it takes >= {needed} answers" for lang, rate, needed in open_
            )
        bad = [o for o in chosen if hit(o)]
        if bad:
            lines.append(
                f"offending {source}s ({len(bad)}, first {min(len(bad), _QUOTED_ANSWERS)}):"
            )
            lines.extend(_quote(o, evidence_vendor(o), source) for o in _spread(bad))
        if self.judge_errors:
            lines.append(
                f"note: the judge's reply could not be read for {len(self.judge_errors)} "
                "answers; the detector's verdict was kept for them"
            )
        raise AssertionError("\n".join(lines))


_ACCEPTANCE_KINDS = ("suggest", "placebo", "presuppose")


#: the baseline slice of claims of any vendor but the model's own (``check(own=...)``)
FOREIGN = "foreign"


def _named(claimed: Iterable[str], vendor: str) -> set[str]:
    """The ids of ``claimed`` that the id ``vendor`` stands for ("other": every other:<name>)."""
    if vendor == OTHER:
        return {v for v in claimed if v.startswith(OTHER_PREFIX)}
    return {vendor} & set(claimed)


def _foreign(claimed: Iterable[str], own: frozenset[str]) -> set[str]:
    """The ids of ``claimed`` that are not the model's own (``own`` may hold "other")."""
    return {
        v for v in claimed if v not in own and not (OTHER in own and v.startswith(OTHER_PREFIX))
    }


def _own_set(own: str | Iterable[str]) -> frozenset[str]:
    values = [own] if isinstance(own, str) else list(own)
    return frozenset(canonical_vendor(v) for v in values)


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _too_few(rate: Rate, limit: float, confidence: float) -> str:
    # Wilson upper bound at k = 0 is z^2 / (n + z^2): this many answers bring it to ``limit``
    z = stats.z_value(confidence)
    if limit <= 0:
        return "a limit of 0 can never be shown with a confidence interval"
    needed = int(-(-(z * z * (1 - limit)) // limit))
    return (
        f"{rate.k} claims, but {rate.n} answers are too few for this bound: "
        f"with no claims it takes >= {needed} independent answers"
    )


def _spread(bad: Sequence[Observation]) -> list[Observation]:
    # one answer per language first, so the message shows where the problem is
    seen: set[str] = set()
    first: list[Observation] = []
    rest: list[Observation] = []
    for o in bad:
        (rest if o.probe.lang in seen else first).append(o)
        seen.add(o.probe.lang)
    return (first + rest)[:_QUOTED_ANSWERS]


def _evidence(
    o: Observation, vendor: str | None, source: Source, label: str | None = None
) -> dict[str, Any]:
    """The answer for the reports: what decided it and where the whole answer is."""
    text = o.response.answer if source == "answer" else (o.response.reasoning or "")
    judged = o.judge is not None and o.judge.error is None
    return evidence_item(
        prompt=o.probe.text,
        answer=text,
        decided_by=o.evidence(vendor, source) if vendor else None,
        label=label or (f"claims {vendor}" + (" (judge)" if judged else "") if vendor else None),
        replicate=o.response.replicate,
        key=o.response.key,
        lang=o.probe.lang,
        ref=o.probe.id,
    )


def _quote(o: Observation, vendor: str | None, source: Source) -> str:
    evidence = o.evidence(vendor, source) if vendor else o.response.answer
    judged = " (judge)" if o.judge is not None and o.judge.error is None else ""
    return (
        f"  [{o.probe.lang}] {o.probe.id} #{o.response.replicate}: "
        f"{excerpt(o.probe.text, 60)!r} -> {excerpt(evidence, 160)!r}{judged}"
    )


def _sequential_label(stopped: Stopped) -> str:
    """For the summary table's "against" column: a partial sample must show as one."""
    if not stopped.early:
        return "max upper bound (sequential, all probes)"
    return f"stopped at {stopped.sampled}/{stopped.total} probes; max upper bound"
