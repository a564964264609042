"""Lexical fingerprints: whose words does the model use?

The lexical detector's public API: ``from pytest_modelprov import lexical`` and use
``lexical.fingerprint(model_under_test)``, ``lexical.assert_nearest(...)`` and the rest of
``__all__`` (the old single module's other public names stay importable from here). Behind
it: ``checks`` (sampling, comparisons and assertions), ``fingerprints`` (the counts per
prompt), ``distances`` (the distances and the bootstrap, over what they read of a
fingerprint), ``record`` (a distance recorded as a measurement), ``text`` (tokenisation),
``anchor`` (the human-English scale) and ``baseline`` (fingerprints as baselines).
"""

from __future__ import annotations

from .checks import PARTS as PARTS
from .checks import SCALE_NOTE as SCALE_NOTE
from .checks import STYLE_MIN_REFS as STYLE_MIN_REFS
from .checks import (
    Comparison,
    assert_distance_above,
    assert_distance_below,
    assert_nearest,
    compare,
    distance,
    fingerprint,
    load_prompts,
    noise_floor,
    prompts,
    shared_words,
)
from .distances import (
    FEW_SHARED,
    UNITS,
    Interval,
    LexicalWarning,
    anchor_set,
    basic_interval,
    bootstrap,
    delta,
    delta_effect,
    distance_matrix,
    flags,
    frequency_factor,
    jaccard,
    jaccard_scale,
    profile,
    scores,
    shared_prompts,
    style_matrix,
)
from .fingerprints import (
    Fingerprint,
    Limits,
    content_word,
    pooled,
)
from .record import DELTA_ACROSS_PROMPTS as DELTA_ACROSS_PROMPTS
from .record import DELTA_UNIT as DELTA_UNIT
from .record import DETECTOR as DETECTOR
from .record import FREQUENCY_ACROSS_PROMPTS as FREQUENCY_ACROSS_PROMPTS
from .record import FREQUENCY_NOTE as FREQUENCY_NOTE
from .record import FREQUENCY_UNIT as FREQUENCY_UNIT
from .record import (
    record_distance,
)
from .text import (
    tokenise,
)

__all__ = [
    "FEW_SHARED",
    "UNITS",
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
    "frequency_factor",
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
