"""Refusal and evasion: has the model become more censored?

The refusal detector's public API: ``from pytest_modelprov import refusal`` and use
``refusal.measure(model, refusal.topics(...))``, ``refusal.assert_stable(...)`` and the rest
of ``__all__`` (the old single module's other public names stay importable from here).
Behind it, in the order a measurement uses them: ``topicsets`` (the requests),
``classifiers`` (labelling an answer: the offline classifier, the keyword baseline, the
judge; its verdicts cached), ``features`` and ``model`` (the offline classifier's features
and linear model), ``measuring`` (sampling, pre-checks, the envelope and the judge audit:
a ``Result``), ``comparing`` (two results, and the assertions), ``baseline`` (results as
stored baselines) and ``evaluation`` (a classifier against a team's own labels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..util.lazy import lazy_exports

if TYPE_CHECKING:
    from ..errors import EnvelopeError
    from ..sequential import StopEarly
    from .classifiers import KEYWORDS as KEYWORDS
    from .classifiers import (
        LABELS,
        NONCOMPLIANT,
        Classifier,
        Envelope,
        KeywordClassifier,
        classify,
        default_classifier,
        fit,
    )
    from .classifiers import UNDECIDED as UNDECIDED
    from .classifiers import BaseClassifier as BaseClassifier
    from .classifiers import RefusalWarning as RefusalWarning
    from .comparing import Comparison as Comparison
    from .comparing import Pairs as Pairs
    from .comparing import (
        assert_rate_at_most,
        assert_stable,
        compare,
    )
    from .judge import JUDGE_PROMPT as JUDGE_PROMPT
    from .judge import JUDGE_PROMPT_VERSION as JUDGE_PROMPT_VERSION
    from .judge import JudgeClassifier as JudgeClassifier
    from .judge import parse_judge as parse_judge
    from .measuring import AUDITED as AUDITED
    from .measuring import BIAS as BIAS
    from .measuring import UNDETERMINED_SHARE as UNDETERMINED_SHARE
    from .measuring import UNVALIDATED as UNVALIDATED
    from .measuring import (
        PromptOutcome,
        Result,
        measure,
    )
    from .topicsets import (
        Topic,
        TopicSet,
        available_topics,
        load_topics,
        topics,
    )

# Loaded on first use: a warm run replaying every verdict measures without the classifier's
# model (nor numpy), and comparing two results is only loaded by a test that compares.
_HOME: dict[str, str] = {
    "EnvelopeError": "..errors",
    "StopEarly": "..sequential",
    **dict.fromkeys(
        (
            "KEYWORDS",
            "LABELS",
            "NONCOMPLIANT",
            "UNDECIDED",
            "BaseClassifier",
            "Classifier",
            "Envelope",
            "KeywordClassifier",
            "RefusalWarning",
            "classify",
            "default_classifier",
            "fit",
        ),
        ".classifiers",
    ),
    **dict.fromkeys(
        ("JUDGE_PROMPT", "JUDGE_PROMPT_VERSION", "JudgeClassifier", "parse_judge"), ".judge"
    ),
    **dict.fromkeys(
        ("Comparison", "Pairs", "assert_rate_at_most", "assert_stable", "compare"), ".comparing"
    ),
    **dict.fromkeys(
        (
            "AUDITED",
            "BIAS",
            "UNDETERMINED_SHARE",
            "UNVALIDATED",
            "PromptOutcome",
            "Result",
            "measure",
        ),
        ".measuring",
    ),
    **dict.fromkeys(
        ("Topic", "TopicSet", "available_topics", "load_topics", "topics"), ".topicsets"
    ),
}


if not TYPE_CHECKING:  # mypy would type every unknown name as Any (py.typed: a typo passes)
    __getattr__, __dir__ = lazy_exports(__name__, _HOME)


__all__ = [
    "LABELS",
    "NONCOMPLIANT",
    "Classifier",
    "Envelope",
    "EnvelopeError",
    "JudgeClassifier",
    "KeywordClassifier",
    "PromptOutcome",
    "Result",
    "StopEarly",
    "Topic",
    "TopicSet",
    "assert_rate_at_most",
    "assert_stable",
    "available_topics",
    "classify",
    "compare",
    "default_classifier",
    "fit",
    "load_topics",
    "measure",
    "topics",
]
