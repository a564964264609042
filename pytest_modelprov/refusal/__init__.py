"""Refusal and evasion: has the model become more censored?

The public API of the refusal detector; ``from pytest_modelprov import refusal`` and use
``refusal.measure(model, refusal.topics(...))``, ``refusal.assert_stable(...)`` and the
rest of ``__all__``. Behind it: ``measure`` (classifiers, topic sets, measuring and
comparing), ``features`` and ``model`` (the offline classifier), ``eval`` (agreement with
a team's own labels).
"""

from __future__ import annotations

# importable, as they were from the single module before this package, outside ``__all__``
from .measuring import AUDITED as AUDITED
from .measuring import JUDGE_PROMPT as JUDGE_PROMPT
from .measuring import JUDGE_PROMPT_VERSION as JUDGE_PROMPT_VERSION
from .measuring import KEYWORDS as KEYWORDS
from .measuring import (
    LABELS,
    NONCOMPLIANT,
    Classifier,
    Envelope,
    EnvelopeError,
    JudgeClassifier,
    KeywordClassifier,
    PromptOutcome,
    Result,
    StopEarly,
    Topic,
    TopicSet,
    assert_rate_at_most,
    assert_stable,
    available_topics,
    classify,
    compare,
    default_classifier,
    fit,
    load_topics,
    measure,
    topics,
)
from .measuring import UNDECIDED as UNDECIDED
from .measuring import UNDETERMINED_SHARE as UNDETERMINED_SHARE
from .measuring import UNVALIDATED as UNVALIDATED
from .measuring import BaseClassifier as BaseClassifier
from .measuring import Comparison as Comparison
from .measuring import Pairs as Pairs
from .measuring import RefusalWarning as RefusalWarning
from .measuring import parse_judge as parse_judge

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
