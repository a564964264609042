"""Lexical fingerprints: whose words does the model use?

The lexical detector's public API: ``from pytest_modelprov import lexical`` and use
``lexical.fingerprint(model_under_test)``, ``lexical.assert_nearest(...)`` and the rest of
``__all__`` (the old single module's other public names stay importable from here). Behind
it: ``checks`` (sampling, comparisons and assertions), ``fingerprints`` (the counts per
prompt), ``distances`` (the distances and the bootstrap, over what they read of a
fingerprint), ``record`` (a distance recorded as a measurement), ``text`` (tokenisation),
``anchor`` (the human-English scale), ``baseline`` (fingerprints as baselines), ``replay``
(comparisons replayed from the run's result cache) and ``common`` (the names and types they
share). The submodules load on first use: a replayed comparison never loads the counting
and distance code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..util.lazy import lazy_exports

if TYPE_CHECKING:
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

# Loaded on first use: a comparison replayed from the run's result cache needs ``checks``,
# ``fingerprints`` and ``replay`` only, not the counting and distance code behind them
# (``text``, ``counting``, ``distances``, ``deltaterms``, ``anchor``).
_HOME: dict[str, str] = {
    **dict.fromkeys(
        (
            "PARTS",
            "SCALE_NOTE",
            "STYLE_MIN_REFS",
            "Comparison",
            "assert_distance_above",
            "assert_distance_below",
            "assert_nearest",
            "compare",
            "distance",
            "fingerprint",
            "load_prompts",
            "noise_floor",
            "prompts",
            "shared_words",
        ),
        ".checks",
    ),
    **dict.fromkeys(("FEW_SHARED", "UNITS", "Interval", "LexicalWarning"), ".common"),
    **dict.fromkeys(
        (
            "anchor_set",
            "basic_interval",
            "bootstrap",
            "delta",
            "delta_effect",
            "distance_matrix",
            "flags",
            "frequency_factor",
            "jaccard",
            "jaccard_scale",
            "profile",
            "scores",
            "shared_prompts",
            "style_matrix",
        ),
        ".distances",
    ),
    **dict.fromkeys(("Fingerprint", "Limits", "content_word", "pooled"), ".fingerprints"),
    **dict.fromkeys(
        (
            "DELTA_ACROSS_PROMPTS",
            "DELTA_UNIT",
            "DETECTOR",
            "FREQUENCY_ACROSS_PROMPTS",
            "FREQUENCY_NOTE",
            "FREQUENCY_UNIT",
            "record_distance",
        ),
        ".record",
    ),
    "tokenise": ".text",
}


if not TYPE_CHECKING:  # mypy would type every unknown name as Any (py.typed: a typo passes)
    __getattr__, __dir__ = lazy_exports(__name__, _HOME)


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
