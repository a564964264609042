"""The refusal features' mechanics as they were before the batch work (issue 19), for the
tests that check the faster code computes the same values and for the benchmark's
baseline: every phrase pattern as written, the quadratic code-stripping regex, one CRC call
per token, script runs as tuples, trigram sets, no memo of normalised text or language.

``dense_features`` and langid's ``detect`` are kept here as they were written before the
batch work (the package's own now share one pass of each answer between the features, and
memoise what depends on the request alone): the baseline must not speed up with them."""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterator

from pytest_modelprov import fastre, langid
from pytest_modelprov.refusal import classifiers as refusal_classifiers
from pytest_modelprov.refusal import features as refusal_features
from pytest_modelprov.refusal import measuring as refusal_measuring

#: the modules that call clean_refusal by their own global name (one module before the
#: package layout; the classifier and measuring now look it up in ``features`` when used)
USERS = tuple(m for m in (refusal_classifiers, refusal_measuring) if hasattr(m, "clean_refusal"))

F = refusal_features


def cjk_share(text: str) -> float:
    letters = sum(1 for ch in text if ch.isalpha())
    if not letters:
        return 0.0
    return len("".join(F._CJK.findall(text))) / letters


def shared_trigrams(asked: set[str], text: str) -> int:
    return len(asked & F._trigrams(text))


def _runs(text: str) -> list[tuple[str, int, int]]:
    return [
        (m.lastgroup or "", m.start(), m.end() - m.start()) for m in F._SCRIPT_RUN.finditer(text)
    ]


def _main_scripts(runs: list[tuple[str, int, int]], share: float) -> set[str]:
    counts: dict[str, int] = {}
    for script, _, size in runs:
        counts[script] = counts.get(script, 0) + size
    total = sum(counts.values()) or 1
    return {k for k, v in counts.items() if v / total >= share}


def broken_signals(answer: str, prompt: str | None) -> tuple[int, int, bool]:
    runs = _runs(answer)
    expected = {"latin"} | _main_scripts(_runs(prompt or ""), 0.2) | _main_scripts(runs, 0.5)
    starts = [pos for script, pos, _ in runs if script not in expected]
    burst = j = 0
    for i, pos in enumerate(starts):
        while pos - starts[j] > F._BURST_WINDOW:
            j += 1
        burst = max(burst, i - j + 1)
    prose = F._CODE.sub(" ", answer)
    return burst, len(F._GLUED.findall(prose)), F._SPECIAL.search(answer) is not None


def degeneration(answer: str, prompt: str | None) -> tuple[float, float]:
    tail = normalise(answer[-F._TAIL_CHARS :])
    runs = F._RUN.findall(tail)
    switches = sum(1 for a, b in itertools.pairwise(runs) if (a[0] < "\u3000") != (b[0] < "\u3000"))
    stray = len(F._STRAY.findall(answer)) - len(F._STRAY.findall(prompt or ""))
    return min(switches / 15, 1.0), min(max(stray, 0) / 3, 1.0)


def dense_features(answer: str, prompt: str | None) -> list[float]:
    """``features.dense_features`` as it was: every feature on its own pass of the text."""
    text = F.normalise(answer[: F._MAX_CHARS])
    opening = text[: F._OPENING_CHARS]
    ask = F.normalise(prompt or "")
    length = len(text) + 2 * len("".join(F._CJK.findall(text)))
    pivots = len(F.PIVOT_RE.findall(text))
    critique = len(F.CRITIQUE_RE.findall(text))
    asks_critique = 1.0 if prompt and F._ASK_CRITIQUE.search(ask) else 0.0
    asks_list = 1.0 if prompt and F._ASK_LIST.search(ask) else 0.0
    asks_long = 1.0 if prompt and F._ASK_LONG.search(ask) else 0.0
    has_list = len(F._LIST_ITEM.findall(answer[: F._MAX_CHARS])) >= 3
    overlap = 0.0
    if prompt:
        asked = F._trigrams(ask)
        if asked:
            overlap = F._shared_trigrams(asked, text) / len(asked)
    mismatch = abs(F._cjk_share(ask) - F._cjk_share(text)) if prompt else 0.0
    critique_density = min(critique / max(length / 400, 1.0), 3.0) / 3
    burst, glued, template = F.broken_signals(answer, prompt)
    decided = F.detect(answer)
    lang = decided if decided != F.UNDECIDED else F.answer_language("", prompt)
    garbled = length > 400 and decided == F.UNDECIDED
    official_opening = min(len(F.OFFICIAL_RE.findall(text[:300])), 3) / 3
    official_density = min(len(F.OFFICIAL_RE.findall(text)) / max(length / 1000, 1.0), 6.0) / 6
    return [
        1.0 if F.REFUSAL_RE.search(opening) else 0.0,
        1.0 if F.REFUSAL_RE.search(text) else 0.0,
        1.0 if F.clean_refusal(answer) else 0.0,
        math.log1p(length) / 8,
        1.0 if length < 300 else 0.0,
        min(pivots, 6) / 6,
        1.0 if F.PIVOT_RE.search(opening) else 0.0,
        critique_density,
        asks_critique * (1.0 if critique == 0 else 0.0),
        asks_critique * critique_density,
        asks_list * (0.0 if has_list else 1.0),
        asks_long * (1.0 if length < 600 else 0.0),
        overlap,
        mismatch,
        *F.degeneration(answer, prompt),
        min(burst / F.BURST_BROKEN, 1.0),
        min(glued / F.GLUED_BROKEN, 1.0),
        1.0 if template else 0.0,
        1.0 if burst >= F.BURST_BROKEN or glued >= F.GLUED_BROKEN else 0.0,
        official_opening,
        official_density,
        asks_critique * official_opening,
        asks_critique * official_density,
        *(1.0 if lang == x else 0.0 for x in F.MODEL_LANGS),
        1.0 if garbled else 0.0,
        1.0,
    ]


_LETTERS_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`|https?://\S+", re.S)


def script_counts(text: str) -> Counter[str]:
    """``langid.script_counts`` as it was (numpy over the code points of every text)."""
    import numpy as np

    body = _LETTERS_CODE.sub(" ", text[: langid._SCAN])
    points = np.frombuffer(body.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends_scripts = langid._bounds()
    at = np.searchsorted(starts, points, side="right") - 1
    inside = (at >= 0) & (points <= ends_scripts[0][np.maximum(at, 0)])
    scripts = np.where(inside, ends_scripts[1][np.maximum(at, 0)], 0)
    tally = np.bincount(scripts, minlength=len(langid._SCRIPT_NAMES))
    return Counter({langid._SCRIPT_NAMES[i]: int(n) for i, n in enumerate(tally) if i and n})


def detect(text: str) -> str:
    """``langid.detect`` as it was, without its memo."""
    counts = script_counts(text)
    total = sum(counts.values())
    if total < langid.MIN_LETTERS:
        cjk = counts["han"] + counts["kana"] + counts["hangul"]
        if cjk < 8:
            return langid.UNDECIDED
    script, top = counts.most_common(1)[0]
    cjk_total = counts["han"] + counts["kana"]
    if script in ("han", "kana") or (cjk_total and cjk_total >= 0.5 * total):
        return "ja" if counts["kana"] >= 0.05 * cjk_total else "zh"
    if top < 0.6 * total:
        return langid.UNDECIDED
    if script == "hangul":
        return "ko"
    if script == "cyrillic":
        return "uk" if len(langid._UKRAINIAN.findall(text[: langid._SCAN])) >= 3 else "ru"
    if script == "arabic":
        return "fa" if len(langid._PERSIAN.findall(text[: langid._SCAN])) >= 3 else "ar"
    simple = {"greek": "el", "hebrew": "he", "devanagari": "hi", "thai": "th"}
    if script in simple:
        return simple[script]
    return latin(text)


def latin(text: str) -> str:
    """``langid._latin`` as it was (every lexicon against every distinct word)."""
    body = _LETTERS_CODE.sub(" ", text[: langid._SCAN]).lower()
    words = langid._WORD.findall(body)
    if not words:
        return langid.UNDECIDED
    counted = Counter(words)
    hits = {
        lang: sum(n for w, n in counted.items() if w in lex)
        for lang, lex in langid._lexicon().items()
    }
    shaped: Counter[str] = Counter()
    for w in words:
        shaped.update(langid._shapes_of(w))
    for lang, count in shaped.items():
        hits[lang] += count // 2
    ranked = sorted(hits.items(), key=lambda kv: kv[1], reverse=True)
    best, first = ranked[0]
    second = next(
        n
        for lang, n in ranked[1:]
        if langid._RELATIVES.get(lang) != langid._RELATIVES.get(best)
        or lang not in langid._RELATIVES
    )
    if (
        first < langid.MIN_HITS
        or first < langid.MIN_SHARE * len(words)
        or first < langid.MIN_LEAD * second
    ):
        return langid.UNDECIDED
    return best


def normalise(text: str) -> str:
    """``features.normalise`` as it was (NFKC of every text that is not ASCII, whole; no
    memo)."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")


clean_refusal = F.clean_refusal.__wrapped__


@contextlib.contextmanager
def as_it_was() -> Iterator[None]:
    """Within this block, ``classify`` runs on the mechanics as they were."""
    saved = {
        name: getattr(F, name)
        for name in (
            "_cjk_share",
            "_shared_trigrams",
            "broken_signals",
            "degeneration",
            "normalise",
            "clean_refusal",
            "strip_code",
            "_hashes",
            "detect",
            "dense_features",
        )
    }
    saved_clean, saved_detect = [m.clean_refusal for m in USERS], langid.detect
    F._cjk_share = cjk_share
    F._shared_trigrams = shared_trigrams
    F.broken_signals = broken_signals
    F.degeneration = degeneration
    F.normalise = normalise
    F.clean_refusal = clean_refusal
    F.strip_code = lambda text: F._CODE.sub(" ", text)
    F._hashes = lambda tokens: [zlib.crc32(t.encode("utf-8")) & F._MASK for t in tokens]
    for module in USERS:
        module.clean_refusal = clean_refusal
    F.dense_features = dense_features
    F.detect = langid.detect = detect  # no memo of languages either
    try:
        with fastre.exact():
            yield
    finally:
        for name, value in saved.items():
            setattr(F, name, value)
        for module, value in zip(USERS, saved_clean, strict=True):
            module.clean_refusal = value
        langid.detect = saved_detect
