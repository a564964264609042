"""What every lexical module shares, and all a replayed comparison needs of them.

The names of the methods, units and flags, the :class:`Interval` a comparison reports, the
:class:`LexicalWarning` it gives and the :class:`Counts` structural type of a fingerprint.
They live apart from the counting and distance code (``distances``, ``deltaterms``,
``text``, ``counting``) so that a comparison replayed from the run's result cache
(:mod:`.replay`) runs without loading any of it; ``distances`` and ``deltaterms`` re-export
them under their old names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

#: units of the ``delta`` distance: the words' spread over prompts (the default of a plain
#: distance) or their own frequency (one threshold for every genre; see ``distances.delta``)
SPREAD, FREQUENCY = "spread", "frequency"
UNITS = (SPREAD, FREQUENCY)
METHODS = ("delta", "profile", "jaccard", "style")
PAIRWISE = ("delta", "profile", "jaccard")
FEW_SHARED = "few-shared-prompts"


class LexicalWarning(UserWarning):
    """A lexical comparison whose figure means less than it seems (e.g. mostly topic)."""


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    confidence: float
    resamples: int


class Counts(Protocol):
    """What the distance functions read of a :class:`~pytest_modelprov.lexical.fingerprints.
    Fingerprint`: a structural type, so that the fingerprint's own ``distance`` and ``top``
    methods can call the distance modules without the modules importing each other."""

    features: list[str]
    counts: IntArray
    prompt_ids: list[str]
    tokens: IntArray

    @property
    def kinds(self) -> npt.NDArray[np.int8]: ...

    @property
    def _index(self) -> dict[str, int]: ...

    @property
    def n_prompts(self) -> int: ...

    @property
    def n_texts(self) -> int: ...

    @property
    def n_tokens(self) -> int: ...

    @property
    def label(self) -> str: ...

    def content_mask(self) -> npt.NDArray[np.bool_]: ...

    def human_baseline(self) -> FloatArray: ...

    def subset(self, rows: Sequence[int] | IntArray) -> Counts: ...
