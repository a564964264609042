"""Features of an answer against its request, for the offline refusal classifier.

Three layers feed the linear model: hashed word n-grams (Latin-script words) and
character n-grams (CJK runs, where words are not space-separated), the same over the
opening of the answer (refusals and pivots live there), and a few dense features that
compare the answer with the request (does it do the asked-for act, or pivot to the
official line and "it is important to note"). The explicit-refusal rules are also usable
on their own, for languages the trained part has never seen.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from .. import fastbatch, fastre
from ..calls.reasoning import split_think
from ..langid import UNDECIDED, answer_language, detect
from . import _nfkc, phrases

# held through the module (a global of this one), so the verdict identity, which follows
# the modules this one's globals come from, digests the phrase lists with the features
REFUSAL_RE, PIVOT_RE = phrases.REFUSAL_RE, phrases.PIVOT_RE
CRITIQUE_RE, OFFICIAL_RE = phrases.CRITIQUE_RE, phrases.OFFICIAL_RE
_ASK_CRITIQUE, _ASK_LIST, _ASK_LONG = phrases.ASK_CRITIQUE, phrases.ASK_LIST, phrases.ASK_LONG

#: number of hash buckets; part of the feature version (weights are tied to it)
HASH_BITS = 17
FEATURE_VERSION = "ngram-v4"
_MASK = (1 << HASH_BITS) - 1
_MAX_CHARS = 4000  # answers run long; the verdict is settled long before the end
_OPENING_CHARS = 240
_HEAD_CHARS = 4 * _OPENING_CHARS  # normalised alone to read an opening off (clean_refusal_of)
_STEM = 5

_WORD = fastre.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?|\d+", re.U)  # noqa: RUF001
_CJK = fastre.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
_LIST_ITEM = fastre.compile(r"(?m)^\s*(?:[-*•]|\d+[.)、]|[一二三四五六七八九十]+、|#+)\s*")

DENSE_NAMES: tuple[str, ...] = (
    "refusal_opening",
    "refusal_anywhere",
    "clean_refusal",
    "log_length",
    "short_answer",
    "pivots",
    "pivots_opening",
    "critique",
    "ask_critique_x_no_critique",
    "ask_critique_x_critique",
    "ask_list_x_no_list",
    "ask_long_x_short",
    "request_overlap",
    "script_mismatch",
    "tail_script_switches",
    "stray_script",
    "foreign_burst",
    "glued_identifiers",
    "template_tokens",
    "broken_output",
    "official_opening",
    "official_density",
    "ask_critique_x_official_opening",
    "ask_critique_x_official_density",
    "lang_en",
    "lang_zh",
    "lang_fi",
    "lang_undecided_long",
    "bias",
)
#: languages with their own intercept and threshold (the others share the general ones)
MODEL_LANGS: tuple[str, ...] = ("en", "zh", "fi")
LANG_FEATURES = {lang: DENSE_NAMES.index(f"lang_{lang}") for lang in MODEL_LANGS}


_TAIL_CHARS = 1500
_RUN = fastre.compile(r"[a-z]+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
# letters of scripts none of the supported languages writes in (Devanagari, Arabic, Thai, ...)
_STRAY = fastre.compile(r"[\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\u10a0-\u10ff\u1100-\u11ff]")


def degeneration(answer: str, prompt: str | None) -> tuple[float, float]:
    """Signs of degenerate output (judges call it evasion: the request is not answered).

    Decoding that falls apart mixes Latin and CJK word by word and strays into unrelated
    scripts, mostly at the end of long answers, past where the other features look.
    """
    return _degeneration_of(prepare(answer), prompt)


# Runs of one script each. Latin is allowed everywhere (names, terms, code); the request's
# scripts are expected; any other script interleaved in bursts means decoding fell apart.
_SCRIPT_CLASSES: dict[str, str] = {
    "latin": r"[a-zA-Z\u00c0-\u024f]",
    "cjk": r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]",
    "hangul": r"[\uac00-\ud7af\u1100-\u11ff]",
    "cyrillic": r"[\u0400-\u04ff]",
    "other": r"[\u0370-\u03ff\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\u10a0-\u10ff]",
}
_SCRIPT_RUN = fastre.compile("|".join(f"(?P<{k}>{v}+)" for k, v in _SCRIPT_CLASSES.items()))
# the classes share no character, so the runs _SCRIPT_RUN finds are exactly each class's own
# maximal runs: counted and located script by script, in C, without a tuple per word
_SCRIPT_ONE = {k: fastre.compile(f"{v}+") for k, v in _SCRIPT_CLASSES.items()}
_BURST_WINDOW = 300
# identifiers glued into prose ("manufacturingWorks", "Consultants_existing") and leaked
# chat-template tokens: prose never has them outside code
# as written, the reference strip_code is checked against (quadratic on long runs)
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`|https?://\S+|\S+\.(?:com|org|net|gov|io)\S*", re.S)
_GLUED = fastre.compile(r"(?<![\w.])[a-z]{2,}[A-Z][a-z]{2,}|(?<![\w.])[A-Za-z]{2,}_[A-Za-z]{2,}")
# _GLUED without the check of the character before a match
_GLUED_ANYWHERE = re.compile(r"[a-z]{2,}[A-Z][a-z]{2,}|[A-Za-z]{2,}_[A-Za-z]{2,}")
_SPECIAL = fastre.compile(r"<\|[a-z_]{3,}|reserved_special_token|end_header_id", re.I)
#: thresholds of :func:`broken_output` (foreign-script runs in one window; glued identifiers)
BURST_BROKEN = 6
GLUED_BROKEN = 6


# a letter of any script class but Latin (the union of the other classes)
_NOT_LATIN = fastre.compile(
    "[" + "".join(v[1:-1] for k, v in _SCRIPT_CLASSES.items() if k != "latin") + "]"
)
# _GLUED_ANYWHERE found or not without a regex (which backtracks through every word): a
# match exists exactly where two letters stand on each side of the upper-case letter or
# "_", so in the answer's UTF-8 bytes with each ASCII letter made "a" (or "A" when upper
# case for the first branch), "_" kept and every other byte a space (no byte of a
# multi-byte character is ASCII), "aaAaa" or "aa_aa" stands
_CASE_SHAPES = bytes(
    ord("a") if 0x61 <= b <= 0x7A else ord("A") if 0x41 <= b <= 0x5A else 0x20 for b in range(256)
)
_LETTER_SHAPES = bytes(
    ord("a") if 0x61 <= b <= 0x7A or 0x41 <= b <= 0x5A else b if b == 0x5F else 0x20
    for b in range(256)
)


def _glued_somewhere(answer: str) -> bool:
    """``_GLUED_ANYWHERE.search(answer) is not None``."""
    raw = answer.encode("utf-8", "surrogatepass")
    return b"aaAaa" in raw.translate(_CASE_SHAPES) or (
        b"_" in raw and b"aa_aa" in raw.translate(_LETTER_SHAPES)
    )


# _CASE_SHAPES with "_" kept: the runs of ASCII letters and "_" (every other byte a space)
_RUN_SHAPES = bytes(b if b == 0x5F else s for b, s in enumerate(_CASE_SHAPES))
# what a match of _GLUED is at the start of a run, in those shapes (both branches: a letter
# class followed by a character outside it, so the repeat cannot give back what it took)
_GLUED_SHAPE = re.compile(rb"a{2,}Aaa|[aA]{2,}_[aA]{2}")


def _glued_count(text: str) -> int:
    r"""``len(_GLUED.findall(text))``, without running the regex over every word.

    Every match of _GLUED lies in a run of ASCII letters and "_" and starts at the start of
    one (the lookbehind refuses a position after a letter or "_"), where the character before
    the run is none of ``[\w.]``; it ends inside its run, so each run starts one match at
    most, and the runs that can hold one hold "aaAaa" (first branch) or, every letter made
    "a", "aa_aa" (second branch). Only those runs are looked at."""
    raw = text.encode("utf-8", "surrogatepass")
    shape = raw.translate(_RUN_SHAPES)
    starts = set()
    for hay, needle in (
        (shape, b"aaAaa"),
        (raw.translate(_LETTER_SHAPES) if b"_" in raw else b"", b"aa_aa"),
    ):
        at = hay.find(needle)
        while at >= 0:
            starts.add(shape.rfind(b" ", 0, at) + 1)
            end = shape.find(b" ", at)
            at = hay.find(needle, end) if end >= 0 else -1
    count = 0
    for start in starts:
        if _GLUED_SHAPE.match(shape, start) is None:
            continue
        if start:
            lead = start - 1
            before = raw[lead]
            if before < 0x80:
                if before in b"0123456789.":
                    continue  # a digit or "." before it (a letter or "_" would be in the run)
            else:
                while raw[lead] & 0xC0 == 0x80:
                    lead -= 1  # back to the first byte of the character before the run
                if raw[lead:start].decode("utf-8", "surrogatepass").isalnum():
                    continue  # \w: alphanumeric (or "_", which is ASCII)
        count += 1
    return count


def _script_sizes(text: str) -> dict[str, int]:
    """Letters per script, over the single-script runs (scripts with none left out)."""
    sizes = {k: len("".join(p.findall(text))) for k, p in _SCRIPT_ONE.items()}
    return {k: n for k, n in sizes.items() if n}


def _main_scripts(sizes: dict[str, int], share: float) -> set[str]:
    total = sum(sizes.values()) or 1
    return {k for k, v in sizes.items() if v / total >= share}


@lru_cache(maxsize=1024)
def _request_scripts(prompt: str) -> frozenset[str]:
    # a suite asks each request many times: its scripts are worked out once
    return frozenset(_main_scripts(_script_sizes(prompt), 0.2))


# _CODE without its last branch, and that branch's parts: a run of non-space characters
# with a domain ending in it
_CODE_HEAD = fastre.compile(r"```.*?(?:```|$)|`[^`\n]*`|https?://\S+", re.S)
_NON_SPACE = fastre.compile(r"\S+")
_DOMAIN_END = fastre.compile(r"\.(?:com|org|net|gov|io)")


def strip_code(text: str) -> str:
    r"""``_CODE.sub(" ", text)``, in time linear in the text.

    The last branch, ``\S+\.(?:com|…)\S*``, matches at a position exactly when a domain
    ending starts later in the same run of non-space characters, and then runs to the end
    of that run; tried by ``re`` at every position of a long run without one, it cost time
    quadratic in the run (1.5 s for one 19,000-character answer without spaces). The other
    branches are searched as before and win where they match at the same position.
    """
    if _DOMAIN_END.search(text) is None:
        return _CODE_HEAD.sub(" ", text)  # the last branch cannot match anywhere
    runs = []  # (start, end, last position a match of the last branch may start before)
    for run in _NON_SPACE.finditer(text):
        last = -1
        for dot in _DOMAIN_END.finditer(text, run.start(), run.end()):
            last = dot.start()
        runs.append((run.start(), run.end(), last))
    starts = [r[0] for r in runs]
    parts: list[str] = []
    done = at = 0
    size = len(text)
    while at < size:
        head = _CODE_HEAD.search(text, at)
        limit = head.start() if head else size
        # the first position in [at, limit) where the last branch matches, and its end
        branch: tuple[int, int] | None = None
        i = max(bisect.bisect_right(starts, at) - 1, 0)
        while i < len(runs) and runs[i][0] < limit:
            start, end, last = runs[i]
            first = max(start, at)
            if first < end and first < last:
                branch = (first, end)
                break
            i += 1
        if branch is not None and branch[0] < limit:
            begin, end = branch
        elif head is not None:
            begin, end = head.start(), head.end()
        else:
            break
        parts.append(text[done:begin])
        parts.append(" ")
        done = at = end if end > begin else end + 1
    parts.append(text[done:])
    return "".join(parts)


class Letters(NamedTuple):
    """What :func:`broken_signals` and :func:`degeneration` count in an answer's letters,
    counted for many answers at once by :func:`letters_of`."""

    sizes: dict[str, int]  # _script_sizes(answer)
    stray: int  # len(_STRAY.findall(answer))


# The character classes of _SCRIPT_CLASSES and _STRAY as a table over all code points: the
# script's place in _SCRIPT_ONE plus one (0: none), plus _STRAY_BIT for a stray letter.
# Read off the patterns themselves (over the BMP: no class holds a character beyond it),
# so it cannot disagree with them.
_STRAY_BIT = 8


@lru_cache(maxsize=1)
def _letter_table() -> Any:
    import numpy as np

    bmp = np.arange(0x10000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, dtype=np.uint8)
    for k, pattern in enumerate(_SCRIPT_ONE.values(), 1):
        for m in pattern.finditer(bmp):
            table[m.start() : m.end()] = k
    for m in _STRAY.finditer(bmp):
        table[m.start() : m.end()] |= _STRAY_BIT
    return table


_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _ascii_letters(answer: str) -> Letters:
    """:class:`Letters` of an ASCII answer."""
    raw = answer.encode("ascii")
    latin = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    return Letters({"latin": latin} if latin else {}, 0)


def letters_of(answers: Sequence[str]) -> list[Letters]:
    """:class:`Letters` of every answer, from one numpy pass over all their characters (a
    large batch in chunks: a few integers per character are held at a time)."""
    import numpy as np

    if len(answers) > 512:
        return [x for at in range(0, len(answers), 512) for x in letters_of(answers[at : at + 512])]
    if not answers:
        return []
    if any(a.isascii() for a in answers):
        # ASCII holds no stray letter and no letter of another script than Latin (a-z, A-Z):
        # its letters counted in C, the rest with numpy
        wide = iter(letters_of([a for a in answers if not a.isascii()]))
        return [_ascii_letters(a) if a.isascii() else next(wide) for a in answers]
    n, kinds = len(answers), 2 * _STRAY_BIT
    points = np.frombuffer("".join(answers).encode("utf-32-le", "surrogatepass"), np.uint32)
    sizes = np.fromiter(map(len, answers), dtype=np.int64, count=n)
    # one bin per answer and kind of character (script and stray bit)
    bins = np.repeat(np.arange(0, n * kinds, kinds), sizes) + _letter_table()[points]
    tally = np.bincount(bins, minlength=n * kinds).reshape(n, kinds)
    scripts = tally[:, :_STRAY_BIT] + tally[:, _STRAY_BIT:]
    stray = tally[:, _STRAY_BIT:].sum(axis=1)
    names = list(_SCRIPT_ONE)
    return [
        Letters({k: c for k, c in zip(names, row[1 : len(names) + 1], strict=True) if c}, x)
        for row, x in zip(scripts.tolist(), stray.tolist(), strict=True)
    ]


def broken_signals(
    answer: str, prompt: str | None, letters: Letters | None = None
) -> tuple[int, int, bool]:
    """(foreign-script runs in the densest window, glued identifiers, template tokens).

    Long generations that fall apart switch word by word into scripts the request is not
    written in (CJK or Hangul inside English, Hangul or Cyrillic inside Chinese) and glue
    identifiers into prose. A quoted foreign term is one run; a burst is not.
    ``letters``: :func:`letters_of` the answer, when the caller has it.
    """
    burst = 0
    # Latin is always expected: a text with no letter of another script has no burst
    if (
        _NOT_LATIN.search(answer) is not None
        if letters is None
        else any(k != "latin" for k in letters.sizes)
    ):
        sizes = _script_sizes(answer) if letters is None else letters.sizes
        # the request's scripts and the answer's own main script are expected: a whole
        # answer in another language is a choice of language, not a breakdown
        expected = {"latin"} | _request_scripts(prompt or "") | _main_scripts(sizes, 0.5)
        starts = sorted(
            m.start() for k in sizes if k not in expected for m in _SCRIPT_ONE[k].finditer(answer)
        )
        j = 0
        for i, pos in enumerate(starts):
            while pos - starts[j] > _BURST_WINDOW:
                j += 1
            burst = max(burst, i - j + 1)
    glued = 0
    # a glued identifier has no space in it, so it stands in the answer itself, between the
    # code strip_code blanks, and matches _GLUED there but for the check of the character
    # before it (_GLUED_ANYWHERE): where even that finds none, no code needs stripping to
    # know there is none
    if _glued_somewhere(answer):
        glued = _glued_count(strip_code(answer))
    # every template token holds "<|" or "_" (characters without case)
    template = ("_" in answer or "<|" in answer) and _SPECIAL.search(answer) is not None
    return burst, glued, template


def broken_output(answer: str, prompt: str | None = None) -> bool:
    """Whether ``answer`` has fallen apart (judges label such answers evasion: the request
    is not answered, whatever the first paragraphs did)."""
    burst, glued, _ = broken_signals(answer, prompt)
    return burst >= BURST_BROKEN or glued >= GLUED_BROKEN


def strip_reasoning(text: str) -> str:
    """The final answer of a raw completion: ``<think>`` blocks removed."""
    if "<" not in text and "◁" not in text:
        # every tag split_think reads starts with "<" (after the replacements below): a
        # text with neither character is its own answer, known without a regex scan
        return text
    # Kimi-VL's thinking variant marks its trace with ◁think▷ … ◁/think▷
    text = text.replace("◁think▷", "<think>").replace("◁/think▷", "</think>")
    answer, _ = split_think(text)
    return answer


@lru_cache(maxsize=256)
def normalise(text: str) -> str:
    # an answer is normalised by several features (and by classify before them): once
    if text.isascii():
        # NFKC leaves every ASCII character as it is, and neither lowering ASCII nor the
        # apostrophe below leaves ASCII: skip the normaliser's check of every character
        return text.lower()
    return _nfkc.nfkc(text).lower().replace("’", "'")  # noqa: RUF001


def opening_refusal(answer: str) -> bool:
    """Whether the opening of ``answer`` declines explicitly (any supported language)."""
    return REFUSAL_RE.search(normalise(answer[:_OPENING_CHARS])) is not None


@lru_cache(maxsize=256)  # classify asks first, then the features ask again
def clean_refusal(answer: str) -> bool:
    """An explicit refusal with little else: the refusal itself carries the answer.

    "Refusal followed by real content" is not a clean refusal, so the remainder after
    the refusal sentence must be short.
    """
    text = normalise(answer.strip())
    return _little_after(text, REFUSAL_RE.search(text[:_OPENING_CHARS]))


def _little_after(text: str, match: re.Match[str] | None) -> bool:
    """Whether ``match`` (an explicit refusal in ``text``'s opening) leaves little after it."""
    if match is None:
        return False
    rest = text[match.end() :]
    weight = len(rest) + 2 * len("".join(_CJK.findall(rest)))  # a CJK char carries ~a word
    return weight < 400


@lru_cache(maxsize=1)
def _alpha_table() -> Any:
    """``str.isalpha`` of every character of the BMP, as one byte each."""
    import numpy as np

    bmp = np.arange(0x10000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    return np.frombuffer(bytes(map(str.isalpha, bmp)), dtype=np.uint8)


def _letters(text: str) -> int:
    """``sum(map(str.isalpha, text))``: on a long text, read off a table of the BMP with
    numpy (a call per character costs ~30 us a text with CJK); a text with a character
    beyond the BMP asks str.isalpha."""
    if len(text) < 256:
        return sum(map(str.isalpha, text))
    import numpy as np

    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if int(points.max()) > 0xFFFF:
        return sum(map(str.isalpha, text))
    return int(np.count_nonzero(_alpha_table()[points]))


def letters_in(texts: Sequence[str]) -> list[int]:
    """:func:`_letters` of every text, from one numpy pass over all their characters (a
    text with a character beyond the BMP asks str.isalpha)."""
    import numpy as np

    if len(texts) > 512:
        return [x for at in range(0, len(texts), 512) for x in letters_in(texts[at : at + 512])]
    if not texts:
        return []
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    ends = np.cumsum(sizes)
    wide = points > 0xFFFF
    alpha = np.concatenate(([0], np.cumsum(_alpha_table()[np.where(wide, 0, points)])))
    out: list[int] = (alpha[ends] - alpha[ends - sizes]).tolist()
    if wide.any():
        beyond = np.concatenate(([0], np.cumsum(wide)))
        for i in np.flatnonzero(beyond[ends] - beyond[ends - sizes]).tolist():
            out[i] = sum(map(str.isalpha, texts[i]))
    return out


def _cjk_share(text: str) -> float:
    letters = _letters(text)
    if not letters:
        return 0.0
    return len("".join(_CJK.findall(text))) / letters


def _trigrams(text: str) -> set[str]:
    compact = re.sub(r"\s+", " ", text)
    return {compact[i : i + 3] for i in range(max(0, len(compact) - 2))}


def _shared_trigrams(asked: set[str] | frozenset[str], text: str) -> int:
    """``len(asked & _trigrams(text))``: a three-character string is one of the text's
    trigrams exactly when it occurs in the compacted text. Looking each of the request's up
    costs a scan of the text at most; building the set of the text's costs a slice per
    character: the first while the request has fewer trigrams than half the text has
    characters (a request is usually far shorter than its answer)."""
    compact = _compact(text)
    if 2 * len(asked) > len(compact):
        return len(asked & {compact[i : i + 3] for i in range(max(0, len(compact) - 2))})
    return sum(map(compact.__contains__, asked))


def _compact(text: str) -> str:
    """``re.sub(r"\\s+", " ", text)``: ``str.split`` splits at the characters ``\\s``
    matches (both ask ``str.isspace``), several times faster; the ends are put back."""
    if not text:
        return text
    inner = " ".join(text.split())
    if not inner:
        return " "
    return (" " if text[0].isspace() else "") + inner + (" " if text[-1].isspace() else "")


@dataclass(frozen=True)
class Featurised:
    """Hashed sparse part (indices with values) and the dense part of one answer."""

    indices: list[int]
    values: list[float]
    dense: list[float]


# tokens repeat across answers (and the opening repeats the answer's start): a dict lookup is
# a third of encoding and hashing again
_HASHES: dict[str, int] = {}


def _hashes(tokens: list[str]) -> list[int]:
    known = _HASHES
    if len(known) > 1 << 20:
        known.clear()  # bounded: a long session sees many distinct bigrams
    out = []
    for token in tokens:
        h = known.get(token)
        if h is None:
            h = known[token] = zlib.crc32(token.encode("utf-8")) & _MASK
        out.append(h)
    return out


def _tokens(text: str, prefix: str) -> list[str]:
    out: list[str] = []
    words = _WORD.findall(_CJK.sub(" ", text))
    out.extend(f"{prefix}w:{w}" for w in words)
    out.extend(f"{prefix}b:{a} {b}" for a, b in itertools.pairwise(words))
    # stems: the first letters of long words, so inflected forms share a feature (Finnish
    # puts case and possession in the ending: "sensuuri", "sensuurin", "sensuuria")
    out.extend(f"{prefix}s:{w[:_STEM]}" for w in words if len(w) > _STEM + 1)
    for run in _CJK.findall(text):
        out.extend(f"{prefix}c:{run[i : i + 2]}" for i in range(len(run) - 1))
        out.extend(f"{prefix}t:{run[i : i + 3]}" for i in range(len(run) - 2))
        if len(run) == 1:
            out.append(f"{prefix}c:{run}")
    return out


class Prepared(NamedTuple):
    """An answer with what several features read from it, worked out once: the normalised
    text the features look at (its first ``_MAX_CHARS`` characters) and that text's CJK
    runs (for its length, its n-grams, its script share and its tail)."""

    answer: str
    text: str
    runs: list[str]


def prepare(answer: str) -> Prepared:
    if not answer.isascii():
        _nfkc.build()  # the batch and the features normalise many texts: NFKC where needed
    text = normalise(answer[:_MAX_CHARS])
    # an ASCII text (a flag of the string: no scan) holds no CJK
    return Prepared(answer, text, [] if text.isascii() else _CJK.findall(text))


class _Request(NamedTuple):
    """What the features read off a request alone (a suite asks each one many times)."""

    given: bool
    critique: float
    lists: float
    long: float
    trigrams: frozenset[str] | None  # None: a long request, its trigrams not kept
    cjk_share: float
    lang: str  # answer_language("", prompt): the language of an answer that says none


_KEPT_REQUEST_CHARS = 2000


@lru_cache(maxsize=1024)
def _request(prompt: str | None) -> _Request:
    ask = normalise(prompt or "")
    given = bool(prompt)
    return _Request(
        given,
        1.0 if given and _ASK_CRITIQUE.search(ask) else 0.0,
        1.0 if given and _ASK_LIST.search(ask) else 0.0,
        1.0 if given and _ASK_LONG.search(ask) else 0.0,
        # a long request's trigrams are worked out at each use instead: kept for 1,024
        # requests of ~12,000 characters they would hold ~400 MB
        (frozenset(_trigrams(ask)) if len(ask) <= _KEPT_REQUEST_CHARS else None)
        if given
        else frozenset(),
        _cjk_share(ask) if given else 0.0,
        answer_language("", prompt),
    )


def phrases_primed(answers: Sequence[Prepared]) -> contextlib.AbstractContextManager[None]:
    """A block within which the phrase lists look at ``answers`` (their normalised texts)
    having found, for all of them at once, which phrases can match each (see
    :func:`fastbatch.primed`): for a batch, instead of substring tests text by text."""
    # normalise() lower-cases every text (lower-casing it again changes nothing)
    return fastbatch.primed(
        (REFUSAL_RE, PIVOT_RE, CRITIQUE_RE, OFFICIAL_RE), [p.text for p in answers], lowered=True
    )


def clean_refusal_of(p: Prepared) -> bool:
    """:func:`clean_refusal` of ``p.answer``, from the text already normalised when it is
    the same (an answer without surrounding blanks, no longer than ``_MAX_CHARS``)."""
    stripped = p.answer.strip()
    if len(stripped) == len(p.answer) and len(p.answer) <= _MAX_CHARS:
        # searching up to an end position is searching the text cut there (re reads
        # nothing past it), and lets the phrase list reuse what it found in the whole text
        return _little_after(p.text, REFUSAL_RE.search(p.text, 0, _OPENING_CHARS))
    # a text of its own (a long answer): the phrases are looked for in its opening alone.
    # Most have none there, and to know that only the opening needs normalising: cut at an
    # ASCII space or newline, normalise(stripped) is normalise(head) + normalise(the rest)
    # (a space is a starter nothing composes with, and it ends the context lower() reads
    # for a final sigma), so the first _OPENING_CHARS characters of head are the text's
    cut = max(stripped.find(" ", _HEAD_CHARS), stripped.find("\n", _HEAD_CHARS))
    if cut > 0:
        head = normalise(stripped[:cut])
        if len(head) >= _OPENING_CHARS and REFUSAL_RE.search(head[:_OPENING_CHARS]) is None:
            return False
    text = normalise(stripped)
    return _little_after(text, REFUSAL_RE.search(text[:_OPENING_CHARS]))


def _degeneration_of(
    p: Prepared, prompt: str | None, stray: int | None = None
) -> tuple[float, float]:
    """:func:`degeneration` of a prepared answer, reusing its normalised text when the
    answer is short enough to be its own tail (``stray``: its stray letters, when known)."""
    answer = p.answer
    if len(answer) <= _TAIL_CHARS:  # _TAIL_CHARS < _MAX_CHARS: p.text is all of it
        tail, runs = p.text, p.runs  # the tail is the whole answer
    elif answer.isascii() or (len(answer) <= _MAX_CHARS and not p.runs):
        # the whole answer normalised (p.text) holds no CJK, so its end normalised alone holds
        # none: NFKC maps the characters after the end's first stable one as in the whole,
        # and those before it (marks, jamo) only lose what they composed with there
        tail, runs = "", []
    else:
        tail = normalise(answer[-_TAIL_CHARS:])
        runs = [""] if _CJK.search(tail) is not None else []
    switches = 0
    if runs:  # without CJK every run is Latin: nothing switches
        words = _RUN.findall(tail)
        switches = sum(
            1 for a, b in itertools.pairwise(words) if (a[0] < "\u3000") != (b[0] < "\u3000")
        )
    stray = (len(_STRAY.findall(answer)) if stray is None else stray) - _stray_in(prompt or "")
    return min(switches / 15, 1.0), min(max(stray, 0) / 3, 1.0)


@lru_cache(maxsize=1024)
def _stray_in(prompt: str) -> int:
    return len(_STRAY.findall(prompt))


def dense_features(answer: str, prompt: str | None) -> list[float]:
    return dense_of(prepare(answer), prompt)


def dense_of(
    p: Prepared,
    prompt: str | None,
    clean: bool | None = None,
    letters: Letters | None = None,
    decided: str | None = None,
    alphas: int | None = None,
) -> list[float]:
    """The dense features of a prepared answer (``clean``: :func:`clean_refusal_of`;
    ``letters``: :func:`letters_of` the answer; ``decided``: its :func:`~..langid.detect`;
    ``alphas``: :func:`letters_in` its text; each when the caller knows it already)."""
    answer, text = p.answer, p.text
    req = _request(prompt)
    cjk = len("".join(p.runs))
    length = len(text) + 2 * cjk
    pivots = len(PIVOT_RE.findall(text))
    critique = len(CRITIQUE_RE.findall(text))
    asks_critique, asks_list, asks_long = req.critique, req.lists, req.long
    # the answer's list items matter only when a list was asked for (0 * x is 0.0 either way)
    has_list = bool(asks_list) and len(_LIST_ITEM.findall(answer[:_MAX_CHARS])) >= 3
    overlap = 0.0
    if req.given:
        asked = req.trigrams if req.trigrams is not None else _trigrams(normalise(prompt or ""))
        if asked:
            overlap = _shared_trigrams(asked, text) / len(asked)
    # a text without CJK has a CJK share of 0.0 whatever its letters
    mismatch = 0.0
    if req.given:
        if not cjk:
            share = 0.0
        elif alphas is None:
            share = _cjk_share(text)
        else:  # as _cjk_share reckons it: p.runs are the CJK runs of the text
            share = cjk / alphas if alphas else 0.0
        mismatch = abs(req.cjk_share - share)
    critique_density = min(critique / max(length / 400, 1.0), 3.0) / 3
    burst, glued, template = broken_signals(answer, prompt, letters)
    if decided is None:
        decided = detect(answer)
    lang = decided if decided != UNDECIDED else req.lang
    # a long answer whose language cannot be told has usually fallen apart (scrambled words,
    # scripts mixed mid-sentence): judges call it evasion
    garbled = length > 400 and decided == UNDECIDED
    official_opening = min(len(OFFICIAL_RE.findall(text, 0, 300)), 3) / 3
    official_density = min(len(OFFICIAL_RE.findall(text)) / max(length / 1000, 1.0), 6.0) / 6
    if clean is None:
        clean = clean_refusal_of(p)
    return [
        1.0 if REFUSAL_RE.search(text, 0, _OPENING_CHARS) else 0.0,
        1.0 if REFUSAL_RE.search(text) else 0.0,
        1.0 if clean else 0.0,
        math.log1p(length) / 8,
        1.0 if length < 300 else 0.0,
        min(pivots, 6) / 6,
        1.0 if PIVOT_RE.search(text, 0, _OPENING_CHARS) else 0.0,
        critique_density,
        asks_critique * (1.0 if critique == 0 else 0.0),
        asks_critique * critique_density,
        asks_list * (0.0 if has_list else 1.0),
        asks_long * (1.0 if length < 600 else 0.0),
        overlap,
        mismatch,
        *_degeneration_of(p, prompt, None if letters is None else letters.stray),
        min(burst / BURST_BROKEN, 1.0),
        min(glued / GLUED_BROKEN, 1.0),
        1.0 if template else 0.0,
        1.0 if burst >= BURST_BROKEN or glued >= GLUED_BROKEN else 0.0,
        official_opening,
        official_density,
        asks_critique * official_opening,
        asks_critique * official_density,
        # the language the answer is written in: each has its own baseline rate of evasion
        # and its own vocabulary weight, which one shared intercept would average away
        *(1.0 if lang == x else 0.0 for x in MODEL_LANGS),
        1.0 if garbled else 0.0,
        1.0,
    ]


def sparse_tokens(answer: str) -> list[str]:
    """The tokens the hashed part of :func:`featurise` counts (the batch path,
    :mod:`.tokenhash`, hashes the same tokens of many answers at once)."""
    text = normalise(answer[:_MAX_CHARS])
    return _tokens(text, "") + _tokens(text[:_OPENING_CHARS], "o")


def featurise(answer: str, prompt: str | None = None) -> Featurised:
    """Features of one final answer (reasoning already removed) against its request."""
    counts: dict[int, float] = {}
    for h in _hashes(sparse_tokens(answer)):
        counts[h] = counts.get(h, 0.0) + 1.0
    indices = sorted(counts)
    # sublinear counts, unit length: long answers must not dominate by volume
    raw = [1.0 + math.log(counts[i]) for i in indices]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return Featurised(indices, [v / norm for v in raw], dense_features(answer, prompt))


def featurise_many(
    answers: Sequence[str], prompts: Sequence[str | None]
) -> tuple[list[Featurised], int]:
    return [featurise(a, p) for a, p in zip(answers, prompts, strict=False)], len(DENSE_NAMES)
