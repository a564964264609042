"""Lexical fingerprints: whose words does the model use?

The public API of the lexical detector; ``from pytest_modelprov import lexical`` and use
``lexical.fingerprint(model_under_test)``, ``lexical.assert_nearest(...)`` and the rest of
``__all__``. Behind it: ``checks`` (sampling, comparisons and assertions), ``fingerprint``
(the counts), ``distance`` (distances and the bootstrap), ``text`` (tokenisation),
``anchor`` (the human-English scale) and ``baseline`` (fingerprints as baselines).
"""

from __future__ import annotations

from .checks import (
    FEW_SHARED,
    Comparison,
    Fingerprint,
    Interval,
    LexicalWarning,
    Limits,
    anchor_set,
    assert_distance_above,
    assert_distance_below,
    assert_nearest,
    basic_interval,
    bootstrap,
    compare,
    content_word,
    delta,
    delta_effect,
    distance,
    distance_matrix,
    fingerprint,
    flags,
    jaccard,
    jaccard_scale,
    load_prompts,
    noise_floor,
    pooled,
    profile,
    prompts,
    record_distance,
    scores,
    shared_prompts,
    shared_words,
    style_matrix,
    tokenise,
)
from .checks import PARTS as PARTS
from .checks import SCALE_NOTE as SCALE_NOTE
from .checks import STYLE_MIN_REFS as STYLE_MIN_REFS

# importable, as they were from the single module before this package, outside ``__all__``
from .record import DELTA_ACROSS_PROMPTS as DELTA_ACROSS_PROMPTS
from .record import DELTA_UNIT as DELTA_UNIT
from .record import DETECTOR as DETECTOR

__all__ = [
    "FEW_SHARED",
    "Comparison",
    "Fingerprint",
    "Interval",
    "LexicalWarning",
    "Limits",
    "anchor_set",
    "assert_distance_above",
    "assert_distance_below",
    "assert_nearest",
    "basic_interval",
    "bootstrap",
    "compare",
    "content_word",
    "delta",
    "delta_effect",
    "distance",
    "distance_matrix",
    "fingerprint",
    "flags",
    "jaccard",
    "jaccard_scale",
    "load_prompts",
    "noise_floor",
    "pooled",
    "profile",
    "prompts",
    "record_distance",
    "scores",
    "shared_prompts",
    "shared_words",
    "style_matrix",
    "tokenise",
]
