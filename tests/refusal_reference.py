"""The refusal features' mechanics as they were before the batch work (issue 19), for the
tests that check the faster code computes the same values and for the benchmark's
baseline: every phrase pattern as written, the quadratic code-stripping regex, one CRC call
per token, script runs as tuples, trigram sets, no memo of normalised text or language."""

from __future__ import annotations

import contextlib
import itertools
import zlib
from collections.abc import Iterator

from pytest_modelprov import fastre, langid, refusal, refusal_features

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


normalise = F.normalise.__wrapped__
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
        )
    }
    saved_clean, saved_detect = refusal.clean_refusal, langid.detect
    F._cjk_share = cjk_share
    F._shared_trigrams = shared_trigrams
    F.broken_signals = broken_signals
    F.degeneration = degeneration
    F.normalise = normalise
    F.clean_refusal = clean_refusal
    F.strip_code = lambda text: F._CODE.sub(" ", text)
    F._hashes = lambda tokens: [zlib.crc32(t.encode("utf-8")) & F._MASK for t in tokens]
    refusal.clean_refusal = clean_refusal
    F.detect = langid.detect = saved_detect.__wrapped__  # no memo of languages either
    try:
        with fastre.exact():
            yield
    finally:
        for name, value in saved.items():
            setattr(F, name, value)
        refusal.clean_refusal, langid.detect = saved_clean, saved_detect
