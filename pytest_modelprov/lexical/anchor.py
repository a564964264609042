"""The scale of the anchor ``jaccard`` distance: human English (wordfreq) or relative.

The published slop-profile method ranks a model's words by how much more often it uses them
than ordinary English does, with the ``wordfreq`` package as the baseline. wordfreq's data is
CC-BY-SA-4.0, so the package ships nothing of it: installed as the optional extra
(``pip install 'pytest-modelprov[wordfreq]'``) it is used, and ``jaccard`` is on the
published scale; without it words are ranked by their frequency among content words and
every ``jaccard`` figure says that it is on a relative scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

#: words unknown to the baseline: a tiny frequency, so invented names rank first (as published)
FLOOR = 1e-9
HUMAN = "wordfreq"
RELATIVE = "relative"
#: what a report says about each scale
SCALES = {
    HUMAN: "published slop-profile scale (over-use against wordfreq's human English)",
    RELATIVE: (
        "relative scale (words ranked by frequency, no human baseline): not comparable with "
        "published slop-profile distances; pip install 'pytest-modelprov[wordfreq]' for those"
    ),
}


@lru_cache(maxsize=1)
def _wordfreq() -> Any:
    try:
        import wordfreq
    except ImportError:
        return None
    return wordfreq


def scale() -> str:
    """``"wordfreq"`` when the extra is installed (the published scale), else ``"relative"``."""
    return HUMAN if _wordfreq() is not None else RELATIVE


@lru_cache(maxsize=1)
def _table() -> dict[str, float]:
    # one dict read (~0.7 s) instead of wordfreq's tokenising lookup per word, which made
    # the anchor set on this scale slower than the pure-Python anchor's budget
    wf = _wordfreq()
    if wf is None:
        raise RuntimeError("wordfreq is not installed: pip install 'pytest-modelprov[wordfreq]'")
    table: dict[str, float] = wf.get_frequency_dict("en")
    return table


@lru_cache(maxsize=100_000)
def human_frequency(word: str) -> float:
    """wordfreq's English frequency of one word (per word) to 3 significant digits, as
    ``wordfreq.word_frequency`` gives it, floored at :data:`FLOOR`."""
    freq = _table().get(word)
    if freq is None:  # not a stored token as it stands: let wordfreq tokenise it
        freq = float(_wordfreq().word_frequency(word, "en"))
    return max(float(f"{freq:.3g}"), FLOOR)


def human_baseline(features: Sequence[str]) -> FloatArray:
    """Expected human frequency of each feature: a word's wordfreq frequency; a phrase's the
    product of its words' (wordfreq has no phrase counts, so phrases are scored against
    words that occur independently: a phrase people use as a unit is over-scored a little,
    which the anchor's re-sort of its top 200 phrases by count mostly absorbs)."""
    import numpy as np

    out = np.empty(len(features))
    for i, f in enumerate(features):
        p = 1.0
        for w in f.split(" "):
            p *= human_frequency(w)
        out[i] = p
    return out
