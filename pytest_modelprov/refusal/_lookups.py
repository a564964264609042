"""What the detectors say of a batch of refusal answers, and of a topic set's requests:
the classifier's labels, each answer's language, the explicit-refusal rule's verdicts and
each request's language, looked up in the run's verdict cache (:mod:`..calls.verdicts`).

A warm run replays each batch as one stored measurement result (and a set's request
languages as another) instead of a verdict per answer; whatever is missing is looked up
verdict by verdict, and computed, exactly as :func:`.measuring.measure` did before. Split
from :mod:`.measuring`, which decides what the verdicts make of the answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import langid
from ..calls import verdicts
from .classifiers import (
    BaseClassifier,
    _classified,
    _identity,
    _label,
    _langid_identity,
    _language,
    _languages,
)

if TYPE_CHECKING:
    from ..calls.response import Response

__all__: list[str] = []


#: the form of :func:`_answer_verdicts`'s stored result (bump it when what it holds changes)
_VERDICTS_FORMAT = "refusal-answer-verdicts/1"


def _answer_verdicts(
    store: verdicts.VerdictStore | None,
    clf: BaseClassifier,
    samples: Sequence[Response],
    outcomes: list[str | None],
) -> tuple[list[tuple[str, bool]], list[int], list[bool]]:
    """What the detectors say of a batch of answers: ``outcomes`` (the pre-checks', None
    where the classifier decides) completed with the classifier's labels, each answer's
    language (``langid.detect`` and ``undetermined``), and the indexes of the refusals with
    whether the multilingual rules see an explicit refusal in each.

    Stored as one measurement result under the classifier's, langid's and the rules'
    identities, the pre-check outcomes and the ordered answers and requests: a warm run
    reads one row instead of three verdicts an answer. Without it (no store, a classifier
    that caches nothing, a missing or damaged row) each is looked up, or computed, as before.
    """
    prechecked = list(outcomes)

    def compute() -> tuple[list[str | None], list[tuple[str, bool]], list[bool]]:
        done = list(prechecked)
        pending = [i for i, o in enumerate(done) if o is None]
        labels = _classified(store, clf, [samples[i] for i in pending])
        for i, label in zip(pending, labels, strict=False):
            done[i] = label
        refused = [i for i, o in enumerate(done) if o == "refusal"]
        return (
            done,
            _languages(store, samples),
            _explicit_refusals(store, [samples[i] for i in refused]),
        )

    identity = _verdicts_identity(clf) if store is not None and samples else None

    def decode(data: Any) -> tuple[list[str | None], list[tuple[str, bool]], list[bool]]:
        if not isinstance(data, list) or len(data) != 3:
            raise ValueError("not a refusal verdicts result")
        labels, langs, ruled = data
        if not isinstance(labels, list) or not isinstance(langs, list):
            raise TypeError("labels and languages are lists")
        if len(labels) != len(samples) or len(langs) != len(samples):
            raise ValueError("not one label and one language per answer")
        done: list[str | None] = []
        for i, (before, label) in enumerate(zip(prechecked, labels, strict=True)):
            if before is not None and label != before:
                raise ValueError("a pre-checked outcome changed")
            done.append(before if before is not None else _label(label, i))
        found = [_language(lang, i) for i, lang in enumerate(langs)]
        refusals = sum(o == "refusal" for o in done)
        if not isinstance(ruled, list) or len(ruled) != refusals:
            raise ValueError("not one rule verdict per refusal")
        return done, found, [_flag(flag, i) for i, flag in enumerate(ruled)]

    if store is None or identity is None:
        done, languages, ruled = compute()
    else:
        done, languages, ruled = verdicts.cached_result(
            store,
            identity,
            [_VERDICTS_FORMAT, prechecked],
            [(r.key, _answer_and_request(r.answer, r.prompt)) for r in samples],
            compute,
            _encode_verdicts,
            decode,
            # a label for each answer the pre-checks left, a language each, a rule verdict
            # for each refusal
            stands_for=lambda result: (
                sum(o is None for o in prechecked) + len(samples) + len(result[2])
            ),
        )
    outcomes[:] = done
    return languages, [i for i, o in enumerate(done) if o == "refusal"], ruled


def _answer_and_request(answer: str, request: str | None) -> str:
    """The answer and its request as one text for the stored result's digest, each told
    apart by the answer's length (a tenth of what JSON costs over a batch)."""
    return f"{len(answer)}:{answer}" + ("-" if request is None else f"+{request}")


def _encode_verdicts(
    value: tuple[list[str | None], list[tuple[str, bool]], list[bool]],
) -> list[Any]:
    done, languages, ruled = value
    return [done, [list(lang) for lang in languages], ruled]


def _verdicts_identity(clf: BaseClassifier) -> str | None:
    """The identity of :func:`_answer_verdicts`'s result: the classifier's, langid's and
    the explicit-refusal rules' together (None when any of them caches nothing)."""
    parts = [
        clf.verdict_identity(),
        _langid_identity(),
        _identity("refusal-rules", "clean_refusal"),
    ]
    if any(part is None for part in parts):
        return None
    text = "\x00".join([_VERDICTS_FORMAT, *(str(part) for part in parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _explicit_refusals(
    store: verdicts.VerdictStore | None, responses: Sequence[Response]
) -> list[bool]:
    """For each answer, ``features.clean_refusal(answer)``: whether the multilingual rules
    see an explicit refusal with little else (valid in any language). Replayed from
    ``store`` under the rules' code identity, so a warm run neither loads nor primes them."""

    def compute(indexes: list[int]) -> list[bool]:
        from .features import clean_refusal  # here: a warm run replays, never loads it

        return [clean_refusal(responses[i].answer) for i in indexes]

    return verdicts.cached_verdicts(
        store,
        _identity("refusal-rules", "clean_refusal") if store is not None else None,
        [(r.key, "explicit-refusal", r.answer, None) for r in responses],
        compute,
        bool,
        _flag,
    )


def _request_languages(store: verdicts.VerdictStore | None, requests: Sequence[str]) -> list[str]:
    """``langid.detect(request)`` of each request: replayed from ``store`` under langid's
    identity (a suite asks the same topic set on every run), keyed by the request's digest."""
    identity = _langid_identity() if store is not None else None
    items = [
        (hashlib.sha256(r.encode("utf-8", "surrogatepass")).hexdigest(), "request", r, None)
        for r in requests
    ]

    def compute(indexes: list[int]) -> list[str]:
        return [langid.detect(requests[i]) for i in indexes]

    def each() -> list[str]:
        return verdicts.cached_verdicts(store, identity, items, compute, str, _request_language_of)

    if store is None or identity is None or not requests:
        return each()
    # the whole set's languages as one stored result: a suite asks the same set every run

    def decode(data: Any) -> list[str]:
        if not isinstance(data, list) or len(data) != len(requests):
            raise ValueError("not one language per request")
        return [_request_language_of(lang, i) for i, lang in enumerate(data)]

    return verdicts.cached_result(
        store,
        identity,
        ["request-languages"],
        [(key, text) for key, _, text, _ in items],
        each,
        list,
        decode,
        stands_for=len,
    )


def _request_language_of(data: Any, index: int) -> str:
    if not isinstance(data, str) or not 0 < len(data) <= 8:
        raise ValueError(f"not a language verdict (request {index})")
    return data


def _flag(data: Any, index: int) -> bool:
    if not isinstance(data, bool):
        raise ValueError(f"not a rule verdict (answer {index})")
    return data
