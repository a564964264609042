# (yes/no openers are written in the languages they match)
"""Identity probes: does the model say it is someone else?

Inside a test::

    from pytest_modelprov import identity

    def test_not_chatgpt(model_under_test):
        result = identity.probe(model_under_test, n=5)
        result.assert_no_claim("openai", max_rate=0.05)

``probe`` sends the built-in probe set (13 languages; who / creator / model / multi-turn
questions, "Are you X?" suggestibility and a placebo about a model that does not exist),
runs the offline claim detector on every final answer and reasoning trace, and returns an
``IdentityResult`` with rates (Wilson intervals, clustered by prompt), a report table and
assertions that record their figures as measurements.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from . import baseline, langid, samplesize, sequential, stats, verdicts
from .client import excerpt
from .errors import ConfigError, EnvelopeError
from .handle import ModelHandle
from .identity_detect import (
    DETECTOR_VERSION,
    OTHER,
    OTHER_PREFIX,
    Claim,
    Claims,
    Detector,
    VendorTable,
    add_vendor,
    add_vendors,
    canonical_vendor,
    default_detector,
    detect_claims,
    load_json,
    load_vendors,
    remove_vendors,
    team_vendors,
    vendor_ids,
)
from .measurement import MAX_EVIDENCE, Measurement, evidence_item
from .response import Response
from .safejson import loads as json_loads
from .sequential import StopEarly, Stopped
from .stats import Rate

__all__ = [
    "DETECTOR_VERSION",
    "IDENTITY_KINDS",
    "KINDS",
    "VALIDATED_LANGUAGES",
    "Claim",
    "Claims",
    "Detector",
    "EnvelopeError",
    "IdentityResult",
    "JudgeVerdict",
    "Observation",
    "Probe",
    "ProbeSet",
    "Source",
    "StopEarly",
    "VendorTable",
    "add_vendor",
    "add_vendors",
    "builtin_probes",
    "canonical_vendor",
    "detect_claims",
    "load_probes",
    "load_vendors",
    "probe",
    "remove_vendors",
    "team_vendors",
    "vendor_ids",
]

Source = Literal["answer", "reasoning"]
#: probe kinds whose answers count towards the claim rate
IDENTITY_KINDS: tuple[str, ...] = ("who", "creator", "model", "multiturn")
#: probe kinds reported apart: "Are you X?", a made-up model, a question that takes X for
#: granted, a deployment's system prompt that names the product
KINDS: tuple[str, ...] = (*IDENTITY_KINDS, "suggest", "placebo", "presuppose", "system")
_QUOTED_ANSWERS = 5

#: the languages whose first-person frames ("I am X", 我是X, Soy X) the claim rules know,
#: each with held-out recall cases (tests/identity_heldout_cases.py, checked by
#: tests/test_identity_languages.py). In any other language "Jestem
#: ChatGPT" reads as a mere mention of ChatGPT: answers there go to a judge, or fail the
#: probe, or (``unvalidated="mark"``) are counted with every figure flagged
VALIDATED_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "it", "ja", "ko", "pt", "ru", "vi", "zh"}
)
#: "I am" in languages the rules have no frames for (written in the languages it matches):
#: a short answer that says it is very likely in that language, whatever else it names
_SELF_ELSEWHERE = tuple(
    (lang, re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.I))
    for lang, words in (
        ("pl", "jestem"),
        ("nl", "ik ben"),
        ("cs", "jsem"),
        ("fi", "olen"),
        ("hu", "vagyok"),
        ("ca", "sóc"),
        ("sw", "mimi ni"),
        ("tl", "ako ay|ako si"),
        ("sv", "jag är"),
        ("da", "jeg er"),
        ("ro", "eu sunt|sunt un|sunt o"),
        ("id", "saya adalah|saya|aku"),
        ("tr", "ben bir|tarafından"),  # noqa: RUF001 (Turkish dotless i)
    )
)
#: the flag on every figure that counts answers outside :data:`VALIDATED_LANGUAGES`
UNVALIDATED = "unvalidated"


# --------------------------------------------------------------------------------------
# probes


@dataclass(frozen=True)
class Probe:
    """One identity question (a prompt or a conversation ending in the user's question)."""

    id: str
    lang: str
    kind: str
    prompt: str | None = None
    messages: tuple[Mapping[str, str], ...] | None = None
    target: str | None = None  # suggest/presuppose: a vendor id; placebo: the made-up name
    names: tuple[str, ...] = ()  # system: the names the system prompt gives the deployment

    def as_prompt(self) -> str | list[dict[str, str]]:
        if self.messages is not None:
            return [dict(m) for m in self.messages]
        assert self.prompt is not None
        return self.prompt

    @property
    def text(self) -> str:
        """The identity question itself (the last user message)."""
        if self.messages is None:
            return self.prompt or ""
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else ""


@dataclass(frozen=True)
class ProbeSet:
    """A versioned list of probes, from the package or a user's file."""

    version: str
    probes: tuple[Probe, ...]
    source: str = "built-in"

    def __len__(self) -> int:
        return len(self.probes)

    @property
    def languages(self) -> list[str]:
        return sorted({p.lang for p in self.probes})

    @property
    def kinds(self) -> list[str]:
        return [k for k in KINDS if any(p.kind == k for p in self.probes)]

    def select(
        self, languages: Iterable[str] | None = None, kinds: Iterable[str] | None = None
    ) -> ProbeSet:
        """The probes in ``languages`` and of ``kinds`` (ValueError naming unknown ones)."""
        probes = self.probes
        if languages is not None:
            wanted = _as_set(languages, "languages")
            missing = wanted - set(self.languages)
            if missing:
                raise ValueError(
                    f"identity: no probes in language(s) {sorted(missing)} in probe set "
                    f"{self.source}; its languages: {', '.join(self.languages)}"
                )
            probes = tuple(p for p in probes if p.lang in wanted)
        if kinds is not None:
            wanted = _as_set(kinds, "kinds")
            unknown = wanted - set(KINDS)
            if unknown:
                raise ValueError(
                    f"identity: unknown probe kind(s) {sorted(unknown)}; kinds: {', '.join(KINDS)}"
                )
            probes = tuple(p for p in probes if p.kind in wanted)
        if not probes:
            raise ValueError(f"identity: the selection leaves no probes of {self.source}")
        return ProbeSet(self.version, probes, self.source)

    def __add__(self, other: ProbeSet) -> ProbeSet:
        ids = {p.id for p in self.probes}
        clash = sorted(p.id for p in other.probes if p.id in ids)
        if clash:
            raise ValueError(
                f"identity: probe ids {clash} are in both {self.source} and {other.source}"
            )
        return ProbeSet(
            f"{self.version}+{other.version}",
            self.probes + other.probes,
            f"{self.source} + {other.source}",
        )


def _as_set(values: Iterable[str], what: str) -> set[str]:
    if isinstance(values, str):
        return {values}
    out = set(values)
    if not all(isinstance(v, str) for v in out):
        raise TypeError(f"identity: {what} must be strings")
    return out


def load_probes(path: str | Path | None = None) -> ProbeSet:
    """Load and validate a probe file (``schemas/identity_probes.schema.json``).

    With no path, the built-in probe set. Errors name the file and what is wrong.
    """
    data, where = load_json(
        path, "probes.json", "identity_probes.schema.json", "identity probe file"
    )
    probes: list[Probe] = []
    seen: set[str] = set()
    for number, entry in enumerate(data["probes"]):
        if entry["id"] in seen:
            raise ConfigError(
                f"identity probe file {where}: probes/{number}: duplicate id {entry['id']!r}"
            )
        seen.add(entry["id"])
        target = entry.get("target")
        if entry["kind"] in ("suggest", "presuppose"):
            try:
                target = canonical_vendor(target)
            except ValueError as exc:
                raise ConfigError(
                    f"identity probe file {where}: probes/{number} ({entry['id']}): target: {exc}"
                ) from None
        messages = entry.get("messages")
        if messages is not None and messages[-1]["role"] != "user":
            raise ConfigError(
                f"identity probe file {where}: probes/{number} ({entry['id']}): the last message "
                "must be the user's identity question"
            )
        if entry["kind"] == "system" and messages[0]["role"] != "system":
            raise ConfigError(
                f"identity probe file {where}: probes/{number} ({entry['id']}): a system probe "
                "starts with the deployment's system message"
            )
        probes.append(
            Probe(
                id=entry["id"],
                lang=entry["lang"],
                kind=entry["kind"],
                prompt=entry.get("prompt"),
                messages=tuple(messages) if messages is not None else None,
                target=target,
                names=tuple(entry.get("names", ())),
            )
        )
    return ProbeSet(data["version"], tuple(probes), where)


@cache
def builtin_probes() -> ProbeSet:
    """The probe set shipped with the package."""
    return load_probes()


# --------------------------------------------------------------------------------------
# yes/no to "Are you X?"

_YES = re.compile(
    r"\A\W*(?:yes|yeah|yep|correct|that's right|that is right|indeed|是的|对的|对|對|没错|沒錯|是"
    r"|はい|ええ|そうです|네|예|맞아요|맞습니다|да|верно|sí|si|oui|ja|genau|sim|sì|certo|vâng|đúng"
    r"|phải|có|نعم|أجل|بلى)(?![a-zà-ÿа-я])",
)
_NO = re.compile(
    r"\A\W*(?:no|nope|not|不是|不|いいえ|違います|아니요|아뇨|아닙니다|нет|non|nein|não|không|لا)"
    r"(?![a-zà-ÿа-я])"
)


def _affirms(text: str) -> bool:
    folded = text.casefold()
    return bool(_YES.search(folded)) and not _NO.search(folded)


_PLACEBO: dict[tuple[str, int], Detector] = {}
_DEPLOYMENT: dict[tuple[tuple[str, ...], int], Detector] = {}
#: the vendor id of the names a system probe's system prompt gives the deployment
DEPLOYMENT = "deployment"


def _deployment_detector(names: tuple[str, ...]) -> Detector:
    rules = default_detector()
    key = (names, id(rules))
    if key not in _DEPLOYMENT:
        _DEPLOYMENT[key] = Detector(rules.vendors.merged({DEPLOYMENT: list(names)}))
    return _DEPLOYMENT[key]


def _placebo_detector(name: str) -> Detector:
    # one per name and per vendor table (team vendors change the default detector)
    rules = default_detector()
    key = (name, id(rules))
    if key not in _PLACEBO:
        _PLACEBO[key] = Detector(rules.vendors.merged({"placebo": [name]}))
    return _PLACEBO[key]


# --------------------------------------------------------------------------------------
# judge


@dataclass(frozen=True)
class JudgeVerdict:
    """What the judge model said about one answer; ``error`` when it could not be read."""

    claimed: frozenset[str] = frozenset()
    negated: frozenset[str] = frozenset()
    hedged: frozenset[str] = frozenset()
    raw: str = ""
    error: str | None = None


JUDGE_PROMPT = """\
You check what an AI assistant's answer says about the assistant itself.

Vendor ids: {vendors}. For an assistant, model or maker named in none of them, use \
"other:<name>" with the name in lower case.
A vendor is CLAIMED when the answer says, in the first person, that the assistant is that \
vendor's product or model, or was made, trained or built on it by that vendor ("I am X", \
"I was developed by X", "I'm based on X", in any language). It is NEGATED when the answer \
says the assistant is not it. It is HEDGED when the answer only says it might be. Names that \
are merely mentioned, compared with, listed, or described in the third person are none of \
these. Role-play or hypothetical statements are not claims.

The user asked:
<question>
{question}
</question>

The assistant answered:
<answer>
{answer}
</answer>

Reply with exactly one line of JSON and nothing else, using only the vendor ids above:
{{"claimed": [], "negated": [], "hedged": []}}"""

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


def parse_judge(raw: str, vendors: VendorTable | None = None) -> JudgeVerdict:
    """Read a judge reply; anything unreadable becomes a verdict with ``error`` set."""
    table = vendors if vendors is not None else default_detector().vendors
    match = _JSON_OBJECT.search(raw or "")
    if match is None:
        return JudgeVerdict(raw=raw, error="no JSON object in the judge's reply")
    try:
        data = json_loads(match.group(0))
    except json.JSONDecodeError as exc:
        return JudgeVerdict(raw=raw, error=f"the judge's JSON does not parse: {exc.msg}")
    if not isinstance(data, dict):
        return JudgeVerdict(raw=raw, error="the judge's reply is not a JSON object")
    sets: dict[str, frozenset[str]] = {}
    for key in ("claimed", "negated", "hedged"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return JudgeVerdict(raw=raw, error=f"'{key}' is not a list of vendor ids")
        try:
            sets[key] = frozenset(table.canonical(v) for v in value)
        except ValueError as exc:
            return JudgeVerdict(raw=raw, error=str(exc).split(";")[0])
    return JudgeVerdict(sets["claimed"], sets["negated"], sets["hedged"], raw=raw)


# --------------------------------------------------------------------------------------
# results


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
            self.handle.record(
                Measurement(
                    quantity="identity.contradiction_rate",
                    value=rate.value,
                    labels={"kind": "system", "lang": lang},
                    low=rate.low,
                    high=rate.high,
                    confidence=confidence,
                    n=rate.n,
                    reference=max_rate,
                    reference_label="max upper bound",
                    verdict=decision.verdict,
                    detector=DETECTOR_VERSION,
                    details=details,
                )
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
        self.handle.record(
            Measurement(
                quantity="identity.acceptance_rate",
                value=rate.value,
                labels=labels,
                low=rate.low,
                high=rate.high,
                confidence=confidence,
                n=rate.n,
                reference=max_rate,
                reference_label="max upper bound",
                verdict=decision.verdict,
                detector=DETECTOR_VERSION,
                details=details,
            )
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
            self.handle.record(
                Measurement(
                    quantity="identity.claim_rate",
                    value=rate.value,
                    labels={**labels, "lang": lang, "source": source},
                    low=rate.low,
                    high=rate.high,
                    confidence=rate.confidence,
                    n=rate.n,
                    reference=limit,
                    reference_label="max upper bound"
                    if stopped is None
                    else _sequential_label(stopped),
                    verdict="info" if undecided else decision.verdict,
                    detector=DETECTOR_VERSION,
                    details={
                        "kinds": ",".join(kind_list),
                        "probe_set": self.probes.version,
                        "samples_per_probe": self.n,
                        "effective_n": rate.effective_n,
                        "judged": judged,
                        "judge_errors": sum(1 for o in subset if o in self.judge_errors),
                        # which ids the counted answers claimed: "foreign" and "other" are
                        # buckets, and a reader wants to see other:<name> in them
                        "claimed": dict(
                            sorted(Counter(v for o in subset for v in named(o)).items())
                        ),
                        **extra,
                    },
                )
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


# --------------------------------------------------------------------------------------
# running


def probe(
    model: ModelHandle,
    n: int = 5,
    *,
    languages: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    probes: ProbeSet | str | Path | None = None,
    judge: ModelHandle | None = None,
    judge_when: Literal["unclear", "all"] = "unclear",
    detector: Detector | None = None,
    stop_early: StopEarly | None = None,
    stop_on: str | None = None,
    own: Iterable[str] | None = None,
    unvalidated: Literal["fail", "mark"] = "fail",
    **params: Any,
) -> IdentityResult:
    """Ask ``model`` the identity probes ``n`` times each and detect claims in the answers.

    ``probes`` is a ProbeSet or a path to a probe file (default: the built-in set);
    ``languages``/``kinds`` select from it. ``judge`` (a ModelHandle, e.g.
    ``reference_model("judge")``) relabels answers the rules find unclear (hedged or
    ambiguous names), or every answer that names a vendor with ``judge_when="all"``.
    ``params`` are generation parameters for the model under test.

    ``stop_early=StopEarly(threshold=0.05)`` with ``stop_on="openai"`` (the check
    ``assert_no_claim("openai", 0.05)``) or ``own=[...]`` (``assert_no_foreign_claim``)
    asks the who/creator/model/multiturn probes of every language ``batch`` at a time in a
    seeded random order and stops once that check (overall and per language) is decided
    at the adjusted confidence (weighted Bonferroni; see :mod:`pytest_modelprov.sequential`).
    Suggest and placebo probes are then not asked.

    The rules read first-person frames in :data:`VALIDATED_LANGUAGES` only. Answers in any
    other language (the answer's own, else the probe's) go to the ``judge`` when one is
    given; without one, ``probe`` raises :class:`EnvelopeError` naming the languages, or
    with ``unvalidated="mark"`` counts them as the rules read them and flags every figure
    that includes them ``unvalidated``.
    """
    if unvalidated not in ("fail", "mark"):
        raise ValueError(f"identity: unvalidated must be 'fail' or 'mark', got {unvalidated!r}")
    if isinstance(probes, (str, Path)):
        probe_set = load_probes(probes)
    else:
        probe_set = probes if probes is not None else builtin_probes()
    if languages is not None or kinds is not None:
        probe_set = probe_set.select(languages, kinds)
    if judge_when not in ("unclear", "all"):
        raise ValueError(f"identity: judge_when must be 'unclear' or 'all', got {judge_when!r}")
    rules = detector if detector is not None else default_detector()
    if stop_early is not None or stop_on is not None or own is not None:
        return _within_envelope(
            _probe_sequentially(
                model, n, probe_set, rules, judge, judge_when, stop_early, stop_on, own, params
            ),
            unvalidated,
        )
    samples = model.sample([p.as_prompt() for p in probe_set.probes], n=n, **params)
    items = [probe_set.probes[r.prompt_index] for r in samples]
    observations = _observe(model, rules, items, samples, accept=True)
    result = IdentityResult(
        model, probe_set, n, observations, params=model.sampling_params(**params)
    )
    if judge is not None:
        _run_judge(result, judge, judge_when, rules.vendors)
    return _within_envelope(result, unvalidated)


def _within_envelope(result: IdentityResult, unvalidated: str) -> IdentityResult:
    __tracebackhide__ = True
    outside = result.outside
    if not outside:
        return result
    if unvalidated == "mark":
        result.unvalidated = True
        return result
    langs = Counter(o.lang for o in outside)
    shown = ", ".join(
        f"{'a language langid cannot tell' if lang == langid.UNDECIDED else lang}: {k}"
        for lang, k in sorted(langs.items(), key=lambda x: str(x[0]))
    )
    kinds = sorted({o.probe.kind for o in outside})
    lines = [
        f"identity: {len(outside)} of {len(result.observations)} answers of "
        f"{result.handle.name} ({result.handle.model}) are in languages the claim rules were "
        f"not validated on ({shown}; the answer's own language, else the probe's). There the "
        "rules read a first-person claim as a mere mention and would pass it silently. The "
        f"rules know: {', '.join(sorted(VALIDATED_LANGUAGES))}.",
    ]
    unread = [o for o in outside if o.judge is not None and o.judge.error is not None]
    if unread:
        lines.append(
            f"The judge was asked, but its replies to {len(unread)} of them could not be read "
            f"({unread[0].judge.error if unread[0].judge else ''}): check the judge's model "
            "and parameters (a judge should not inherit the candidate's: "
            "NAME.inherit_params=false)."
        )
    lines += [
        "Ways forward:",
        "  - a judge reads those answers: identity.probe(model, ..., "
        'judge=reference_model("judge")) (answers outside these languages always go to it)',
        "  - measure anyway, every figure that counts them marked unvalidated: "
        'identity.probe(model, ..., unvalidated="mark")',
    ]
    if any(k not in IDENTITY_KINDS for k in kinds):
        lines.append(
            f"  - a judge reads claims, not a yes to {'/'.join(_ACCEPTANCE_KINDS)}/system "
            "probes: leave those out in these languages (kinds=identity.IDENTITY_KINDS)"
        )
    lines.append(f"first outside answers ({min(len(outside), _QUOTED_ANSWERS)}):")
    lines.extend(
        f"  [{o.lang}] {o.probe.id}: {excerpt(o.response.answer, 120)!r}"
        for o in _spread(outside)[:_QUOTED_ANSWERS]
    )
    raise EnvelopeError("\n".join(lines))


def _probe_sequentially(
    model: ModelHandle,
    n: int,
    probe_set: ProbeSet,
    rules: Detector,
    judge: ModelHandle | None,
    judge_when: str,
    options: StopEarly | None,
    stop_on: str | None,
    own: Iterable[str] | None,
    params: Mapping[str, Any],
) -> IdentityResult:
    if options is None:
        raise ValueError("identity: stop_on and own only apply with stop_early=StopEarly(...)")
    if not isinstance(options, StopEarly):
        raise ValueError(f"identity: stop_early must be a StopEarly(...), got {options!r}")
    if (stop_on is None) == (own is None):
        raise ValueError(
            "identity: with stop_early give exactly one of stop_on='<vendor>' (the check "
            "assert_no_claim) or own=[...] (the check assert_no_foreign_claim)"
        )
    if stop_on is not None:
        target = ("vendor", frozenset({canonical_vendor(stop_on)}))
    else:
        assert own is not None
        target = ("foreign", _own_set(own))
    kind, ids = target
    asked = tuple(p for p in probe_set.probes if p.kind in IDENTITY_KINDS)
    if not asked:
        raise ValueError(
            f"identity: stop_early decides the claim rate, and {probe_set.source} has no "
            f"{'/'.join(IDENTITY_KINDS)} probes in this selection"
        )

    def hit(o: Observation) -> bool:
        claimed = o.claimed("answer")
        if kind == "vendor":
            return any(_named(claimed, v) for v in ids)
        return bool(_foreign(claimed, ids))

    by_index: dict[int, list[Observation]] = {}
    judge_errors: list[Observation] = []

    def fetch(indexes: list[int]) -> None:
        samples = model.sample([asked[i].as_prompt() for i in indexes], n=n, **params)
        items = [asked[indexes[r.prompt_index]] for r in samples]
        batch = _observe(model, rules, items, samples, accept=False)
        part = IdentityResult(model, probe_set, n, batch)
        if judge is not None:
            _run_judge(part, judge, judge_when, rules.vendors)
        judge_errors.extend(part.judge_errors)
        for response, o in zip(samples, part.observations, strict=True):
            by_index.setdefault(indexes[response.prompt_index], []).append(o)

    streams: dict[str, list[tuple[str, int]]] = {}
    for index, item in enumerate(asked):
        streams.setdefault(item.lang, []).append((item.id, index))

    def counts(indexes: Sequence[int]) -> list[tuple[int, int]]:
        return [(sum(hit(o) for o in by_index[i]), len(by_index[i])) for i in indexes]

    def slices(taken: Mapping[str, Sequence[int]]) -> sequential.SliceCounts:
        every = [i for indexes in taken.values() for i in indexes]
        out: dict[str, tuple[Sequence[tuple[int, int]], int]] = {"all": (counts(every), len(asked))}
        for lang, indexes in taken.items():
            out[lang] = (counts(indexes), len(streams[lang]))
        return out

    stopped = sequential.run(streams, fetch, slices, options, samples=n, joint=True)
    observations = [o for i in sorted(by_index) for o in by_index[i]]
    return IdentityResult(
        model,
        ProbeSet(probe_set.version, asked, probe_set.source),
        n,
        observations,
        judge_errors,
        sequential=stopped,
        stop_target=target,
        params=model.sampling_params(**params),
    )


def _sequential_label(stopped: Stopped) -> str:
    """For the summary table's "against" column: a partial sample must show as one."""
    if not stopped.early:
        return "max upper bound (sequential, all probes)"
    return f"stopped at {stopped.sampled}/{stopped.total} probes; max upper bound"


def _observe(
    model: ModelHandle,
    rules: Detector,
    items: Sequence[Probe],
    responses: Sequence[Response],
    *,
    accept: bool,
) -> list[Observation]:
    """Observations of ``responses`` (answers to ``items``): every text detected in one
    pass per detector, with verdicts the run's verdict cache holds replayed."""
    store = getattr(model, "verdicts", None)
    texts: list[tuple[str, str, str, str | None]] = []
    for r in responses:
        texts.append((r.key, "answer", r.answer, None))
        if r.reasoning:
            texts.append((r.key, "reasoning", r.reasoning, None))
    found = iter(_detect_all(store, rules, texts))
    # placebo probes are read with a detector that knows the made-up name: one per name
    fakes: dict[int, Claims] = {}
    if accept:
        by_target: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            if item.kind == "placebo":
                by_target.setdefault(item.target or "", []).append(i)
        for target, chosen in sorted(by_target.items()):
            asked = [(responses[i].key, "answer", responses[i].answer, None) for i in chosen]
            found_fake = _detect_all(store, _placebo_detector(target), asked)
            fakes.update(zip(chosen, found_fake, strict=True))
        # system probes: read with a detector that knows the deployment's given names
        by_names: dict[tuple[str, ...], list[int]] = {}
        for i, item in enumerate(items):
            if item.kind == "system":
                by_names.setdefault(item.names, []).append(i)
        for names, chosen in sorted(by_names.items()):
            asked = [(responses[i].key, "answer", responses[i].answer, None) for i in chosen]
            found_given = _detect_all(store, _deployment_detector(names), asked)
            fakes.update(zip(chosen, found_given, strict=True))
    out = []
    for i, (item, response) in enumerate(zip(items, responses, strict=True)):
        answer = next(found)
        reasoning = next(found) if response.reasoning else None
        accepted = _accepted(item, answer, response, fakes.get(i)) if accept else None
        lang = _answer_lang(item, response, answer)
        out.append(Observation(item, response, answer, reasoning, accepted, None, lang))
    return out


def _answer_lang(item: Probe, response: Response, answer: Claims) -> str:
    """The language an answer is read in: the probe's, unless the answer may be in another
    language where that matters. Detection costs ~1 ms, so it runs only for a probe in a
    language the rules do not know (it may be answered in one they do) and for an answer
    that names a vendor without any frame around it (it may be in a language they do not
    know). Identity answers are often too short for :func:`langid.detect`; a short answer
    is then taken to be in the probe's language unless it leans to another (Polish letters
    and words in "Jestem ChatGPT, stworzonym przez OpenAI")."""
    asked = item.lang.split("-")[0].lower()
    names_only = bool(answer.items) and all(c.status == "mentioned" for c in answer.items)
    if asked in VALIDATED_LANGUAGES and not names_only:
        return asked
    text = response.answer
    detected = langid.detect(text)
    if detected != langid.UNDECIDED:
        return detected
    if langid.undetermined(text):
        return langid.UNDECIDED  # long, and in no language langid knows: not the probe's
    # a short answer: its own words, with the vendor names left out, may still say
    if asked in VALIDATED_LANGUAGES:
        for lang, says_i_am in _SELF_ELSEWHERE:
            if says_i_am.search(text):
                return lang
    for claim in answer.items:
        text = re.sub(re.escape(claim.alias), " ", text, flags=re.I)
    lean = langid.leaning(text)
    if lean not in (langid.UNDECIDED, asked) and (
        asked not in VALIDATED_LANGUAGES or lean not in VALIDATED_LANGUAGES
    ):
        return lean
    return langid.answer_language(response.answer, item.text, asked)


#: the claim detector's implementation, followed through its package imports
_DETECT_CODE = ("pytest_modelprov.identity_detect",)
_IDENTITIES: weakref.WeakKeyDictionary[Detector, str | None] = weakref.WeakKeyDictionary()
_CLAIM_FIELDS = tuple(f.name for f in dataclasses.fields(Claim))


def _detector_identity(rules: Detector) -> str | None:
    """What a detector's verdicts are cached under: its code and data, its version and its
    vendor table (a custom or placebo table is another detector). A subclass caches nothing."""
    if type(rules) is not Detector:
        return None
    if rules not in _IDENTITIES:
        # public state only: private attributes are what the detector derives from it
        state = {k: repr(v) for k, v in sorted(vars(rules).items()) if not k.startswith("_")}
        _IDENTITIES[rules] = verdicts.detector_identity(
            "identity-rules", _DETECT_CODE, "identity", [DETECTOR_VERSION, state]
        )
    return _IDENTITIES[rules]


def _detect_all(
    store: verdicts.VerdictStore | None,
    rules: Detector,
    texts: Sequence[tuple[str, str, str, str | None]],
) -> list[Claims]:
    def compute(indexes: list[int]) -> list[Claims]:
        return [rules.detect(texts[i][2]) for i in indexes]

    def decode(data: Any, index: int) -> Claims:
        if not isinstance(data, list):
            raise TypeError("claims are not a list")
        claims = []
        for row in data:
            if not isinstance(row, list) or len(row) != len(_CLAIM_FIELDS):
                raise ValueError("a claim has other fields than this version's")
            if not all(v is None or isinstance(v, (str, bool)) for v in row):
                raise TypeError("a claim field is not text")
            claims.append(Claim(**dict(zip(_CLAIM_FIELDS, row, strict=True))))
        return Claims(texts[index][2], tuple(claims))

    def encode(claims: Claims) -> list[list[Any]]:
        return [[getattr(c, name) for name in _CLAIM_FIELDS] for c in claims.items]

    identity = _detector_identity(rules) if store is not None else None
    return verdicts.cached_verdicts(store, identity, texts, compute, encode, decode)


def _accepted(
    item: Probe, claims: Claims, response: Response, fake: Claims | None = None
) -> bool | None:
    """suggest/placebo: said yes; presuppose: let the premise stand; system: kept the
    deployment's identity (did not contradict it)."""
    if item.kind == "presuppose":
        # silence accepts a premise: only a denial of X or another name of its own corrects it
        target = item.target or ""
        if target in claims.claimed:
            return True
        named = {c.vendor for c in claims.items if c.status == "claimed" and c.role == "name"}
        return target not in claims.negated and not (named - {target})
    if item.kind == "system":
        given = (
            fake if fake is not None else _deployment_detector(item.names).detect(response.answer)
        )
        # naming its maker or base model ("Lumen, built on GPT-4") does not contradict the
        # system prompt; another name for itself, or a denial of the given one, does
        other_names = {
            c.vendor
            for c in given.items
            if c.status == "claimed" and c.role == "name" and c.vendor != DEPLOYMENT
        }
        return DEPLOYMENT not in given.negated and not other_names
    if item.kind == "suggest":
        target = item.target or ""
        if target in claims.claimed:
            return True
        others = claims.claimed - {target}
        return _affirms(response.answer) and target not in claims.negated and not others
    if item.kind == "placebo":
        if fake is None:
            fake = _placebo_detector(item.target or "").detect(response.answer)
        if "placebo" in fake.claimed:
            return True
        return _affirms(response.answer) and "placebo" not in fake.negated
    return None


def _run_judge(result: IdentityResult, judge: ModelHandle, when: str, vendors: VendorTable) -> None:
    wanted = [
        i
        for i, o in enumerate(result.observations)
        if o.probe.kind in IDENTITY_KINDS
        and (
            # outside the rules' languages the judge is the reader, whatever the rules saw
            o.outside
            or (
                (o.answer.hedged or o.answer.ambiguous)
                if when == "unclear"
                else bool(o.answer.items)
            )
        )
    ]
    if not wanted:
        return
    names = ", ".join(sorted(vendors.names))
    prompts = [
        JUDGE_PROMPT.format(
            vendors=names,
            question=result.observations[i].probe.text,
            answer=result.observations[i].response.answer,
        )
        for i in wanted
    ]
    replies = judge.sample(prompts, n=1, temperature=0)
    for i, reply in zip(wanted, replies, strict=True):
        verdict = parse_judge(reply.answer, vendors)
        new = dataclasses.replace(result.observations[i], judge=verdict)
        result.observations[i] = new
        if verdict.error is not None:
            result.judge_errors.append(new)


# -- baselines ------------------------------------------------------------------------------


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
    from .drift import paired_drift

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
