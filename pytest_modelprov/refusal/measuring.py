"""Refusal and evasion: has the model become more censored?

Each answer is ``compliance`` (does what was asked), ``refusal`` (declines explicitly) or
``evasion`` (neither: deflects, answers a watered-down question, substitutes the official
line); non-compliance is refusal + evasion. Before classifying, pre-checks at the response
level give ``moderated`` (a content filter stopped it), ``error`` (truncated by the token
limit) or refusal (an empty answer); these are counted and shown, never hidden.

>>> from pytest_modelprov import refusal
>>> refusal.classify("I'm sorry, but I can't help with that.")
'refusal'

In a suite::

    def test_china_not_more_censored(model_under_test, reference_model):
        topics = refusal.topics("china-criticism", langs=["en", "zh", "fi"])
        before = refusal.measure(reference_model("last-release"), topics)
        after = refusal.measure(model_under_test, topics)
        refusal.assert_stable(before, after, margin=0.10, alpha=0.05)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import langid, sequential, stats
from ..audit import Audited, audited_rate
from ..calls.client import counting_empty_answers, excerpt
from ..errors import ConfigError, EnvelopeError
from ..reports.measurement import Measurement
from ..sequential import StopEarly, Stopped
from ..util.safejson import loads as json_loads
from ._lookups import _answer_verdicts, _request_languages
from .classifiers import (
    LABELS,
    NONCOMPLIANT,
    UNDECIDED,
    BaseClassifier,
    Classifier,
    _code_digest,
    default_classifier,
)
from .topicsets import (
    Topic,
    TopicSet,
)

if TYPE_CHECKING:
    from ..calls.response import Response
    from ..handle import ModelHandle

__all__ = [
    "EnvelopeError",
    "PromptOutcome",
    "Result",
    "measure",
]

_EXCERPT = 160


#: the flag on every figure measured outside the classifier's validated languages
UNVALIDATED = "unvalidated"
#: above this share of a language's answers, answers in no language the detector can tell
#: count as outside the envelope (below it they are the broken output it was trained on)
UNDETERMINED_SHARE = 0.10
#: the flag on every figure corrected by an audit judge
AUDITED = "audited"
#: the flag on an unaudited rate whose verdict the classifier's known bias could flip: it
#: lies nearer the threshold than the worst held-out model's rate error in its language
BIAS = "classifier-bias"


# -- classifiers ----------------------------------------------------------------------------


# -- topic sets -----------------------------------------------------------------------------


# -- measuring ------------------------------------------------------------------------------


@dataclass
class PromptOutcome:
    """All samples of one prompt: their outcomes and answer excerpts."""

    topic: str
    lang: str
    prompt: str
    outcomes: list[str]
    excerpts: list[str]
    #: the language each answer is written in (``langid``), aligned with ``outcomes``
    langs: list[str] = field(default_factory=list)
    #: the audit judge's labels of the same answers, when this prompt was audited
    audit: list[str] | None = None
    #: each answer's cache key, aligned with ``outcomes`` (``modelprov cache show KEY``
    #: prints the whole answer); empty in results recorded before keys were kept
    keys: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.topic, self.lang, self.prompt)

    def audit_counts(self) -> tuple[int, int, int] | None:
        """(judge non-compliant, classifier non-compliant, answers decided by both)."""
        if self.audit is None:
            return None
        both = [
            (j, c)
            for j, c in zip(self.audit, self.outcomes, strict=False)
            if j not in UNDECIDED and c not in UNDECIDED
        ]
        return (
            sum(j in NONCOMPLIANT for j, _ in both),
            sum(c in NONCOMPLIANT for _, c in both),
            len(both),
        )

    @property
    def judged_share(self) -> float | None:
        """The audit judge's non-compliant share, when audited."""
        counts = self.audit_counts()
        if counts is None or not counts[2]:
            return None
        return counts[0] / counts[2]

    @property
    def decided(self) -> list[str]:
        return [o for o in self.outcomes if o not in UNDECIDED]

    @property
    def noncompliant(self) -> int:
        return sum(1 for o in self.outcomes if o in NONCOMPLIANT and o not in UNDECIDED)

    @property
    def share(self) -> float | None:
        # one pass over the outcomes: a comparison or a baseline check asks every prompt's
        # share several times, and the lists it was made of cost more than the counting
        decided = noncompliant = 0
        for o in self.outcomes:
            if o not in UNDECIDED:
                decided += 1
                noncompliant += o in NONCOMPLIANT
        return noncompliant / decided if decided else None


def _precheck(response: Response, truncated: str) -> str | None:
    if response.finish_reason == "content_filter":
        return "moderated"
    if not response.answer.strip() and not response.tool_calls:
        return "refusal"
    if response.finish_reason == "length" and truncated == "error":
        return "error"
    return None


@dataclass
class Result:
    """Outcomes of one model on one topic set: per prompt, serialisable as a baseline."""

    model: str
    model_name: str
    topic_set: str
    topic_version: str
    classifier: dict[str, Any]
    n: int
    prompts: list[PromptOutcome]
    handle: ModelHandle | None = field(default=None, repr=False, compare=False)
    #: the snapshots the provider answered with (a baseline records them)
    resolved: list[str] = field(default_factory=list)
    #: per language, how sequential sampling ended (``measure(..., stop_early=...)``)
    sequential: dict[str, Stopped] | None = None
    #: per language, the answers' languages against the classifier's envelope
    envelope: dict[str, Any] = field(default_factory=dict)
    #: languages measured outside the envelope by request (``unvalidated="mark"``)
    unvalidated: list[str] = field(default_factory=list)
    #: the audit judge and its subset size, when audited
    audit: dict[str, Any] | None = None
    #: the generation parameters the answers were sampled with (None: not recorded)
    params: dict[str, Any] | None = None

    @property
    def stopped_early(self) -> bool:
        """True when some language was not sampled in full (``measure(stop_early=...)``)."""
        return any(s.early for s in (self.sequential or {}).values())

    @property
    def detector(self) -> str:
        name = self.classifier.get("detector")
        return str(name) if name else f"{self.classifier['name']}/{self.classifier['version']}"

    @property
    def langs(self) -> list[str]:
        return sorted({p.lang for p in self.prompts})

    def select(self, lang: str | None) -> list[PromptOutcome]:
        return [p for p in self.prompts if lang is None or p.lang == lang]

    def audited(self, lang: str | None = None, confidence: float = 0.95) -> Audited | None:
        """The judge-audited rate of ``lang`` (see :mod:`pytest_modelprov.audit`), or None
        when it was not audited."""
        prompts = self.select(lang)
        audited = [c for p in prompts if (c := p.audit_counts()) is not None]
        if self.audit is None or not audited:
            return None
        counts = [(p.noncompliant, len(p.decided)) for p in prompts]
        return audited_rate(counts, audited, confidence)

    def flags(self, lang: str | None = None) -> list[str]:
        """``unvalidated`` and/or ``audited``: how far the figures of ``lang`` can be trusted."""
        out = []
        if any(x in self.unvalidated for x in ([lang] if lang else self.langs)):
            out.append(UNVALIDATED)
        if self.audit is not None and any(p.audit is not None for p in self.select(lang)):
            out.append(AUDITED)
        return out

    def rate(self, lang: str | None = None, confidence: float = 0.95) -> stats.Rate:
        """Non-compliance rate (refusal + evasion + moderated) with a Wilson interval.

        Several samples per prompt are clustered by prompt, never counted as independent.
        When the result was audited, the rate is the audited estimate (``estimate``) with
        its interval; ``k``/``n`` stay the classifier's counts.
        """
        counts = [(p.noncompliant, len(p.decided)) for p in self.select(lang)]
        checked = self.audited(lang, confidence)
        if checked is not None:
            return stats.Rate(
                sum(k for k, _ in counts),
                sum(n for _, n in counts),
                checked.low,
                checked.high,
                confidence,
                estimate=checked.value,
            )
        if self.n <= 1:
            return stats.wilson(sum(k for k, _ in counts), sum(n for _, n in counts), confidence)
        return stats.clustered_rate(counts, confidence)

    def counts(self, lang: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.select(lang):
            for o in p.outcomes:
                out[o] = out.get(o, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        data = self._payload()
        if self.sequential is not None:
            data["sequential"] = {lang: s.to_dict() for lang, s in self.sequential.items()}
        if self.params is not None:
            data["params"] = self.params
        return data

    def _payload(self) -> dict[str, Any]:
        return {
            "format": "modelprov-refusal-result/1",
            "model": self.model,
            "model_name": self.model_name,
            "topic_set": self.topic_set,
            "topic_version": self.topic_version,
            "classifier": self.classifier,
            "n": self.n,
            "prompts": [
                {
                    "topic": p.topic,
                    "lang": p.lang,
                    "prompt": p.prompt,
                    "outcomes": p.outcomes,
                    "excerpts": p.excerpts,
                    **({"langs": p.langs} if p.langs else {}),
                    **({"audit": p.audit} if p.audit is not None else {}),
                    **({"keys": p.keys} if p.keys else {}),
                }
                for p in self.prompts
            ],
            "envelope": self.envelope,
            "unvalidated": self.unvalidated,
            **({"audit": self.audit} if self.audit is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str = "refusal result") -> Result:
        try:
            data = json_loads(text)
        except ValueError as exc:
            raise ConfigError(f"{where}: not JSON ({exc})") from None
        return cls.from_dict(data, where)

    @classmethod
    def from_dict(cls, data: Any, where: str = "refusal result") -> Result:
        try:
            if data.get("format") != "modelprov-refusal-result/1":
                raise ValueError(f"format is {data.get('format')!r}")
            prompts = [
                PromptOutcome(
                    p["topic"],
                    p["lang"],
                    p["prompt"],
                    p["outcomes"],
                    p["excerpts"],
                    [str(x) for x in p.get("langs", [])],
                    None if p.get("audit") is None else [str(x) for x in p["audit"]],
                    [str(x) for x in p.get("keys", [])],
                )
                for p in data["prompts"]
            ]
            audit = data.get("audit")
            if audit is not None and not isinstance(audit, dict):
                raise ValueError("'audit' is not an object")
            stopped = data.get("sequential")
            return cls(
                data["model"],
                data["model_name"],
                data["topic_set"],
                data["topic_version"],
                dict(data["classifier"]),
                int(data["n"]),
                prompts,
                sequential=None
                if stopped is None
                else {str(lang): Stopped.from_dict(s) for lang, s in stopped.items()},
                # results written before 0.2 carry no envelope: nothing to flag
                envelope=dict(data.get("envelope") or {}),
                unvalidated=[str(x) for x in data.get("unvalidated") or []],
                audit=audit,
                params=dict(data["params"]) if data.get("params") is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"{where}: not a refusal result written by Result.to_json ({exc})"
            ) from None


def measure(
    handle: ModelHandle,
    topic_set: TopicSet,
    n: int = 1,
    *,
    classifier: BaseClassifier | None = None,
    truncated: str = "error",
    record: bool = True,
    stop_early: StopEarly | None = None,
    audit: BaseClassifier | None = None,
    audit_n: int | str = 40,
    audit_seed: int = 0,
    unvalidated: str = "fail",
    **params: Any,
) -> Result:
    """Sample every prompt of ``topic_set`` ``n`` times and classify the answers.

    Records one ``refusal.rate`` measurement per language. ``truncated="classify"``
    classifies answers cut off by the token limit instead of reporting them as errors.

    **Languages.** Every answer's language is decided from its text (the request's when
    the answer is too short to tell; ``pytest_modelprov.langid``). The classifier states
    where it was validated (:attr:`BaseClassifier.envelope`); answers outside it fail the
    test with :class:`EnvelopeError` unless an ``audit`` judge corrects them, or
    ``unvalidated="mark"`` measures anyway with every figure flagged ``unvalidated``. An
    answer in another language than its request (a known way of deflecting) is classified
    in the language it is written in and counted as ``switched`` in the result.

    **Audit.** ``audit=refusal.JudgeClassifier(reference_model("judge"))`` has the judge
    label ``audit_n`` prompts per language (all their samples; a seeded random choice that
    is the same for every model measured on the set, so releases stay paired), and the
    rate becomes the classifier's rate corrected by the judge-minus-classifier mean on that
    subset, with an interval valid however biased the classifier is
    (:mod:`pytest_modelprov.audit`). ``audit_n="all"`` judges every answer.

    ``stop_early=StopEarly(threshold=0.2)`` samples each language in a seeded random order,
    ``batch`` prompts at a time, and stops a language as soon as the check
    ``assert_rate_at_most(result, 0.2)`` is decided at the adjusted confidence (weighted
    Bonferroni, most of the error on the last look; see :mod:`pytest_modelprov.sequential`);
    the result then holds only the prompts sampled.
    """
    __tracebackhide__ = True
    if truncated not in ("error", "classify"):
        raise ValueError(f"truncated must be 'error' or 'classify', got {truncated!r}")
    if unvalidated not in ("fail", "mark"):
        raise ValueError(f"unvalidated must be 'fail' or 'mark', got {unvalidated!r}")
    if stop_early is not None and not isinstance(stop_early, StopEarly):
        raise ValueError(
            f"stop_early must be a refusal.StopEarly(threshold=...), got {stop_early!r}"
        )
    if audit is not None:
        if stop_early is not None:
            raise ValueError("audit= and stop_early= do not combine: audit a full sample")
        if not (audit_n == "all" or (isinstance(audit_n, int) and audit_n >= 1)):
            raise ValueError(
                f"audit_n must be a positive number of prompts or 'all', got {audit_n!r}"
            )
    clf = classifier or default_classifier()
    chosen: dict[int, tuple[list[str], list[str]]] = {}
    answers: dict[int, list[tuple[str, str | None, str | None]]] = {}
    langs_of: dict[int, list[str]] = {}
    keys_of: dict[int, list[str]] = {}
    ruled_of: dict[int, list[bool]] = {}
    unknown_of: dict[int, list[bool]] = {}
    resolved: set[str] = set()
    store = getattr(handle, "verdicts", None)
    # every verdict identity below digests the classifier's code: its files are found once
    # and remembered in the store (a warm run only checks that they are still the same)
    _code_digest(store)
    if isinstance(clf, Classifier):
        clf._prime(store)
    detected = _request_languages(store, [t.prompt for t in topic_set.topics])
    # the language a request is written in; its label when the text is too short to tell
    # (most requests are one sentence)
    asked_in = {
        i: t.lang if found == langid.UNDECIDED else found
        for i, (t, found) in enumerate(zip(topic_set.topics, detected, strict=True))
    }

    def fetch(indexes: list[int]) -> None:
        # an empty answer is a finding here (counted as a refusal, shown in the counts), not
        # a broken response to retry
        with counting_empty_answers():
            samples = handle.sample([topic_set.topics[i].prompt for i in indexes], n=n, **params)
        outcomes: list[str | None] = [_precheck(r, truncated) for r in samples]
        prechecked = list(outcomes)  # the verdicts below fill in ``outcomes``
        languages, refused, ruled = _answer_verdicts(store, clf, samples, outcomes)
        explicit = dict(zip(refused, ruled, strict=True))
        of_prompt: dict[int, list[int]] = {}  # each prompt's samples, in order
        for i, r in enumerate(samples):
            of_prompt.setdefault(r.prompt_index, []).append(i)
        for position, index in enumerate(indexes):
            mine = of_prompt.get(position, [])
            rows = [(samples[i], outcomes[i], prechecked[i]) for i in mine]
            chosen[index] = (
                [str(o) for _, o, _ in rows],
                [excerpt(r.answer, _EXCERPT) for r, _, _ in rows],
            )
            asked = asked_in[index]
            found = [languages[i] for i in mine]
            # langid.answer_language(answer, None, asked): the answer's own, else the request's
            langs_of[index] = [asked if lang == langid.UNDECIDED else lang for lang, _ in found]
            keys_of[index] = [r.key for r, _, _ in rows]
            # an explicit refusal is caught by multilingual rules, valid in any language
            ruled_of[index] = [explicit.get(i, False) for i in mine]
            unknown_of[index] = [undetermined for _, undetermined in found]
            if audit is not None:
                # what the judge needs, for answers the pre-checks did not already decide
                answers[index] = [
                    (r.answer, r.prompt, None if before is None else str(o))
                    for r, o, before in rows
                ]
        resolved.update(r.model for r in samples if r.model)

    stopped: dict[str, Stopped] | None = None
    if stop_early is None:
        fetch(list(range(len(topic_set.topics))))
    else:
        stopped = _sample_sequentially(topic_set, fetch, chosen, stop_early, n)
    prompts = [
        PromptOutcome(
            topic.id,
            topic.lang,
            topic.prompt,
            *chosen[index],
            langs_of[index],
            keys=keys_of[index],
        )
        for index, topic in enumerate(topic_set.topics)
        if index in chosen
    ]
    envelope = _check_envelope(topic_set, prompts, asked_in, clf, ruled_of, unknown_of)
    outside = {lang: e for lang, e in envelope.items() if e["outside"]}
    audit_info: dict[str, Any] | None = None
    if audit is not None:
        audit_info = _audit(topic_set, prompts, answers, audit, audit_n, audit_seed)
        # an audit whose judge labelled nothing corrects nothing: outside the envelope the
        # classifier's figure would pass as audited
        unjudged = {
            lang: e
            for lang, e in outside.items()
            if not any(
                (c := p.audit_counts()) is not None and c[2] for p in prompts if p.lang == lang
            )
        }
        if unjudged and unvalidated == "fail":
            raise EnvelopeError(
                _envelope_message(handle, topic_set, clf, unjudged)
                + f"\nThe audit judge {audit.detector} labelled none of these answers "
                f"({audit_info['unparsed']} replies unparsed): check its replies in the cache."
            )
        outside = unjudged
    if outside and unvalidated == "fail" and audit is None:
        raise EnvelopeError(_envelope_message(handle, topic_set, clf, outside))
    identity = dict(clf.id, detector=clf.detector)
    result = Result(
        handle.model,
        handle.name,
        topic_set.name,
        topic_set.version,
        identity,
        n,
        prompts,
        handle,
        resolved=sorted(resolved),
        sequential=stopped,
        envelope=envelope,
        unvalidated=sorted(outside),
        audit=audit_info,
        params=handle.sampling_params(**params),
    )
    if record:
        for lang in result.langs:
            rate = result.rate(lang)
            details: dict[str, Any] = {
                "counts": result.counts(lang),
                "classifier": identity,
                "samples": n,
                "envelope": envelope.get(lang, {}),
            }
            flags = result.flags(lang)
            if flags:
                details["flags"] = flags
            checked = result.audited(lang)
            if checked is not None and audit_info is not None:
                details["audit"] = {**audit_info, **checked.to_dict()}
            label = None
            if stopped is not None:
                rate = stopped[lang].rate
                details["sequential"] = stopped[lang].to_dict()
                label = _sequential_label(stopped[lang])
            handle.record(
                Measurement(
                    quantity="refusal.rate",
                    value=rate.value,
                    labels={"set": topic_set.name, "lang": lang},
                    low=rate.low,
                    high=rate.high,
                    confidence=rate.confidence,
                    n=rate.n,
                    reference=None if stop_early is None else stop_early.threshold,
                    reference_label=label,
                    detector=clf.detector,
                    details=details,
                )
            )
    return result


def _check_envelope(
    topic_set: TopicSet,
    prompts: Sequence[PromptOutcome],
    asked_in: Mapping[int, str],
    clf: BaseClassifier,
    ruled_of: Mapping[int, Sequence[bool]],
    unknown_of: Mapping[int, Sequence[bool]],
) -> dict[str, dict[str, Any]]:
    """Per language of the set: the answers' languages, how many left the request's
    language, and how many the classifier was not validated on.

    A long answer whose language cannot be told (``langid.undetermined``: a language the
    detector does not know, or broken text) is ``undetermined``. A few per set are broken
    output the classifier was trained on; when they are more than
    ``UNDETERMINED_SHARE`` of a language's answers they count as outside the envelope, so a
    model answering in, say, Croatian is never read as English.
    """
    env = clf.envelope
    index_of = {(t.id, t.lang, t.prompt): i for i, t in enumerate(topic_set.topics)}
    out: dict[str, dict[str, Any]] = {}
    requests: dict[str, set[str]] = {}  # the request languages of each group's prompts
    for p in prompts:
        index = index_of[p.key]
        asked = asked_in[index]
        entry = out.setdefault(
            p.lang,
            {"request": asked, "answers": 0, "switched": 0, "outside": 0, "answer_langs": {}},
        )
        requests.setdefault(p.lang, set()).add(asked)
        ruled = ruled_of.get(index, [])
        unknown = unknown_of.get(index, [])
        entry.setdefault("undetermined", 0)
        langs = entry["answer_langs"]
        for i, (outcome, lang) in enumerate(zip(p.outcomes, p.langs, strict=False)):
            entry["answers"] += 1
            langs[lang] = langs.get(lang, 0) + 1
            if lang != asked:
                entry["switched"] += 1
            # pre-check outcomes (empty, filtered, truncated) need no classifier
            by_rule = i < len(ruled) and ruled[i]
            if i < len(unknown) and unknown[i] and outcome in LABELS and not by_rule:
                entry["undetermined"] += 1
            if outcome in LABELS and env is not None and not env.covers(lang) and not by_rule:
                entry["outside"] += 1
    for group, entry in out.items():
        entry["validated"] = None if env is None else env.validated
        # how far one model's rate was off held out, in the worst of the languages the
        # requests and answers of this group were in: an unaudited rate nearer a threshold
        # than this could be on the wrong side of it
        errors = {
            lang: float(figures["max_rate_error"])
            for lang in {*entry["answer_langs"], *requests[group]}
            if env is not None
            and (figures := env.langs.get(lang, {})).get("validated")
            and isinstance(figures.get("max_rate_error"), (int, float))
        }
        if errors:
            entry["max_rate_error_in"] = max(sorted(errors), key=lambda lang: errors[lang])
            entry["max_rate_error"] = errors[entry["max_rate_error_in"]]
        if env is not None and entry["undetermined"] > UNDETERMINED_SHARE * entry["answers"]:
            entry["outside"] += entry["undetermined"]
            entry["answer_langs"]["undetermined"] = entry["undetermined"]
    return out


def _envelope_message(
    handle: ModelHandle,
    topic_set: TopicSet,
    clf: BaseClassifier,
    outside: Mapping[str, Mapping[str, Any]],
) -> str:
    env = clf.envelope
    assert env is not None
    lines = [
        f"refusal.measure on {topic_set.name!r} for {handle.name} ({handle.model}): the "
        f"classifier {clf.detector} is validated for {env.describe()}, and these answers "
        "are outside it, so their rate would be a number nobody can stand behind:"
    ]
    for lang, e in sorted(outside.items()):
        written = ", ".join(f"{k} {v}" for k, v in sorted(e["answer_langs"].items()))
        lines.append(
            f"  [{lang}] {e['outside']} of {e['answers']} answers outside (request in "
            f"{e['request']}; answers in {written})"
        )
    lines += [
        "Two ways forward:",
        "  - audit with a judge: refusal.measure(model, topics, audit=refusal.JudgeClassifier("
        'reference_model("judge")), audit_n=40) corrects the classifier\'s rate with the '
        "judge's labels of 40 prompts per language (audit_n='all' judges every answer);",
        "  - train the classifier on labelled answers in that language: refusal.fit("
        '"labels.jsonl", "weights.json"), then classifier=refusal.Classifier.load("weights.json").',
        "To measure anyway with every figure marked unvalidated: unvalidated='mark'.",
    ]
    return "\n".join(lines)


def _audit_order(topic: Topic, seed: int) -> str:
    # the same prompts for every model measured on the set, so two releases stay paired
    return hashlib.sha256(f"{seed}\x00{topic.id}\x00{topic.lang}".encode()).hexdigest()


def _audit(
    topic_set: TopicSet,
    prompts: Sequence[PromptOutcome],
    answers: Mapping[int, Sequence[tuple[str, str | None, str | None]]],
    judge: BaseClassifier,
    audit_n: int | str,
    seed: int,
) -> dict[str, Any]:
    """Judge a seeded random subset of prompts per language; labels go on the prompts."""
    index_of = {(t.id, t.lang, t.prompt): i for i, t in enumerate(topic_set.topics)}
    picked: list[PromptOutcome] = []
    for lang in sorted({p.lang for p in prompts}):
        mine = sorted(
            (p for p in prompts if p.lang == lang),
            key=lambda p: _audit_order(topic_set.topics[index_of[p.key]], seed),
        )
        picked.extend(mine if audit_n == "all" else mine[: int(audit_n)])
    texts: list[str] = []
    asks: list[str | None] = []
    for p in picked:
        for answer, prompt, decided in answers[index_of[p.key]]:
            if decided is None:
                texts.append(answer)
                asks.append(prompt)
    labels = iter(judge.classify_many(texts, asks) if texts else [])
    for p in picked:
        p.audit = [
            next(labels) if decided is None else decided
            for _, _, decided in answers[index_of[p.key]]
        ]
    unparsed = sum(label == "unparsed" for p in picked for label in p.audit or [])
    return {
        "judge": judge.detector,
        "audit_n": audit_n,
        "seed": seed,
        "prompts": len(picked),
        "unparsed": unparsed,
    }


def _sample_sequentially(
    topic_set: TopicSet,
    fetch: Callable[[list[int]], None],
    chosen: Mapping[int, tuple[list[str], list[str]]],
    options: StopEarly,
    n: int,
) -> dict[str, Stopped]:
    streams: dict[str, list[tuple[str, int]]] = {}
    for index, topic in enumerate(topic_set.topics):
        streams.setdefault(topic.lang, []).append((f"{topic.id}\x00{topic.lang}", index))

    def slices(taken: Mapping[str, Sequence[int]]) -> sequential.SliceCounts:
        out = {}
        for lang, indexes in taken.items():
            counts = []
            for index in indexes:
                outcomes = [o for o in chosen[index][0] if o not in UNDECIDED]
                counts.append((sum(o in NONCOMPLIANT for o in outcomes), len(outcomes)))
            out[lang] = (counts, len(streams[lang]))
        return out

    return sequential.run(streams, fetch, slices, options, samples=n)


def _sequential_label(stopped: Stopped) -> str | None:
    """For the summary table's "against" column: a partial sample must show as one."""
    if not stopped.early:
        return "at most (sequential, all prompts)"
    return f"stopped at {stopped.sampled}/{stopped.total} prompts; at most"


# -- comparing ------------------------------------------------------------------------------


# -- baselines ------------------------------------------------------------------------------
