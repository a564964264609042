"""The typographic normalisation every text and every alias gets before vendor names are
looked up: apostrophe, quotation-mark and dash variants mapped to one form, NFKC, and
(for matching) casefold. Apart from :mod:`.vendors` so that :mod:`.team` can normalise an
``other:<name>`` id without the vendor tables (and without importing them in a cycle).
"""

from __future__ import annotations

import re
import unicodedata

from .. import fastre

__all__ = ["typographic"]


# Models write typographic apostrophes, quotes and dashes as often as ASCII ones; every
# frame (.frames) is written with the ASCII form, so they are mapped first (after NFKC, which
# already folds the full-width forms). A backtick or acute accent is an apostrophe only
# between letters ("I`m"); elsewhere a backtick is markdown code.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2019": "'",  # right single quotation mark
        "\u2018": "'",  # left single quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u02bc": "'",  # modifier letter apostrophe
        "\u02b9": "'",  # modifier letter prime
        "\u2032": "'",  # prime
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "\u2014",  # figure dash
        "\u2013": "\u2014",  # en dash
        "\u2015": "\u2014",  # horizontal bar
        "\u2212": "\u2014",  # minus sign
        "\u2e3a": "\u2014",  # two-em dash
        "\u00a0": " ",
        "\u202f": " ",
    }
)


_LETTER_TICK = fastre.guarded(r"(?<=\w)[`\u00b4](?=\w)")
_TYPOGRAPHIC = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TYPOGRAPHY)) + "]")


def typographic(text: str) -> str:
    """NFKC with apostrophe, quotation-mark and dash variants mapped to one form each."""
    # the tick first: NFKC turns an acute accent into a space and a combining mark
    text = _LETTER_TICK.sub("'", text)
    if text.isascii():
        return text  # NFKC leaves ASCII as it is, and the table maps no ASCII character
    text = unicodedata.normalize("NFKC", text)
    # translate looks every character up in the table: a text with none of them is kept
    return text.translate(_TYPOGRAPHY) if _TYPOGRAPHIC.search(text) else text


def _normalise(text: str) -> str:
    return typographic(text).casefold()
