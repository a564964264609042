"""Which language a text is written in: scripts first, then frequent words.

The refusal classifier is validated per language, so every answer it labels needs a
language, decided from the text itself (a topic set's own ``lang`` label may be missing or
wrong). This is deliberately small and dependency-free: a script decides most languages
outright (Hangul, kana, Cyrillic, Arabic, ...); Latin-script languages are told apart by
their commonest function words, which even a few sentences contain in quantity. When the
evidence is thin (a short answer, a list of names, code), the answer is :data:`UNDECIDED`
and the caller falls back on the request's language: a wrong guess would send a valid
answer outside the classifier's envelope, so "not sure" is the safe result.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

#: the result when the text does not say clearly which language it is in
UNDECIDED = "und"

# Function words: frequent, short and telling. A word listed for two languages counts for
# both; the margin rule below decides between close relatives (fi/et, sv/da/no, es/pt).
_WORDS: dict[str, str] = {
    "en": "the and of to is in that it for with as are was this be not or by on have but  "
    "which from they their can an what would has there been about more also these will",
    "fi": "ja on ei se että oli ovat tai kuin joka mutta myös kun sen ole tämä voi sekä  "
    "jotka mitä hän niin vain ollut tässä siitä kanssa nämä ovat koska jos kaikki",
    "et": "ja on ei see et oli või kui mis aga ka oma tema nad ning seda selle kõik veel  "
    "pole olid nende sest siis ole",
    "de": "der die und das ist nicht zu den ein eine mit sich auf für von dem des auch als  "
    "es wird werden sind wie oder bei aus nach einer kann noch diese über",
    "nl": "de het een en van is dat niet te op voor met zijn er als ook aan door maar om  "
    "bij wordt worden deze naar dan kan of nog",
    "fr": "le la les de des et est un une du que qui dans pour pas sur au avec ce il elle  "
    "sont ne se plus par ou mais cette être leur nous aux",
    "es": "el la los las de del que en un una es por con para no se al lo como más pero  "
    "sus su este esta son ha ya sobre también muy",
    "pt": "os as de do da dos das que em um uma para com não se por mais como mas  "
    "ao seu sua são ou foi também pelo pela está",
    "it": "il lo la gli le di del della che in un una per con non si da al alla sono  "
    "come più ma anche questo questa ha nel dei",
    "sv": "och att det som är en ett på av för med den till inte har de om var kan men  "
    "också eller sig från detta vid nu",
    "da": "og at det som er en et på af for med den til ikke har de om var kan men også  "
    "eller sig fra dette ved nu",
    "nb": "og at det som er en et på av for med den til ikke har de om var kan men også  "
    "eller seg fra dette ved nå",
    "pl": "nie na się że do to jest jak po co od za przez ale tak są być jego  "
    "jej ich oraz który która",
    "cs": "se na je že to do jako ale by jsou nebo jeho jejich který která také  "
    "pro při ve podle bylo",
    "tr": "ve bir bu da de için ile ne çok daha olarak gibi ama en olan kadar sonra her  "
    "değil var ki mi",
    "hu": "az és hogy nem is egy van meg de ez azt mint csak már volt még vagy kell  "
    "lehet pedig ezt",
    "ro": "și în de la cu pe care nu este un din că se mai sau ce pentru sunt au fost",
    "id": "dan yang di ini itu dengan untuk dari dalam tidak akan pada juga ke adalah  "
    "bisa ada atau mereka kami",
    "vi": "và của là có không được cho các những với một người trong này đã khi cũng như để từ",
}


_RELATIVES = {"sv": "nordic", "da": "nordic", "nb": "nordic"}


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, frozenset[str]]:
    return {lang: frozenset(words.split()) for lang, words in _WORDS.items()}


# Script of each code point, by range: (first code point of a range, script index).
# Han alone is Chinese; with kana it is Japanese.
_SCRIPT_NAMES = (
    "none",
    "latin",
    "han",
    "kana",
    "hangul",
    "cyrillic",
    "greek",
    "hebrew",
    "arabic",
    "devanagari",
    "thai",
)
_RANGES: tuple[tuple[int, int, int], ...] = (
    (0x41, 0x5A, 1),
    (0x61, 0x7A, 1),
    (0xC0, 0x24F, 1),
    (0x370, 0x3FF, 6),
    (0x400, 0x4FF, 5),
    (0x590, 0x5FF, 7),
    (0x600, 0x6FF, 8),
    (0x750, 0x77F, 8),
    (0x900, 0x97F, 9),
    (0xE00, 0xE7F, 10),
    (0x1100, 0x11FF, 4),
    (0x1E00, 0x1EFF, 1),
    (0x3040, 0x30FF, 3),
    (0x3130, 0x318F, 4),
    (0x3400, 0x4DBF, 2),
    (0x4E00, 0x9FFF, 2),
    (0xAC00, 0xD7AF, 4),
    (0xF900, 0xFAFF, 2),
)
#: below this many letters no language is decided (CJK: see detect)
MIN_LETTERS = 30
#: a Latin-script language needs this many function-word hits ...
MIN_HITS = 3
#: ... and this share of the words, and this lead over the runner-up
MIN_SHARE = 0.15
MIN_LEAD = 1.5
_SCAN = 2000  # characters read: enough words for a verdict, bounded cost on long answers
_WORD = re.compile(r"[^\W\d_]+", re.U)
_WIDE_WORD = re.compile(r"[^\x00-\x7f\W]")  # a word character that is not ASCII
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
# Persian letters, and the Persian forms of yeh and kaf (Arabic writes ي and ك)
_PERSIAN = re.compile(r"[پچژگیک]")
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`|https?://\S+", re.S)

# Word shapes that mark a language where its function words are few (Finnish and
# Estonian inflect where others use prepositions): each matching word counts as one hit.
_SHAPE_PARTS: dict[str, tuple[str, str]] = {
    # language: (endings, letters or letter groups anywhere in the word)
    "fi": (
        "ssa|ssä|sta|stä|lla|llä|lta|ltä|ksi|isen|iset|ista|istä|aan|ään|iin|tta|ttä|nsa|"
        "nsä|mme|vat|vät|kaan|kään|uus|yys",
        "ää|öö|yy|uu|ii|aa",
    ),
    "de": ("ung|ungen|keit|heit|lich|isch|schaft", "sch|ß|ü"),
    "en": ("ing|tion|ly|ness", "th|wh"),
    "fr": ("eux|aux|ique|ée|ées|és", "ç|è|ê"),
    "es": ("ción|mente|dad|ado|ada|idos|idas", "ñ"),
    "pt": ("ção|ções|dade|ão|ões", "ã|õ"),
    "it": ("zione|zioni|ità|ello|ella", "gli"),
    "nl": ("heid|lijk", "ij|oe"),
    "sv": ("het|ning|ligt", "å"),
    "pl": ("ość|ać|ych|ego|ami", "ł|ą|ę|ś|ż|ź|ń"),
    "tr": ("lar|ler|lik", "ğ|ş|\u0131"),  # \u0131: dotless i
    "et": ("mine|tud|sele|nud", "õ"),
}
_SHAPES: dict[str, re.Pattern[str]] = {
    lang: re.compile(rf"(?:{ends})$|{inner}") for lang, (ends, inner) in _SHAPE_PARTS.items()
}


@lru_cache(maxsize=1 << 16)
def _shapes_of(word: str) -> tuple[str, ...]:
    """The languages whose word shapes ``word`` has (words repeat: cached)."""
    if len(word) < 4:
        return ()
    return tuple(lang for lang, shape in _SHAPES.items() if shape.search(word))


@lru_cache(maxsize=1 << 16)
def _word_languages(word: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The languages whose function words hold ``word``, and those whose shapes it has."""
    return tuple(lang for lang, lex in _lexicon().items() if word in lex), _shapes_of(word)


#: the distinct (lexicons, shapes) pairs of :func:`_word_languages` met so far, numbered
_PAIRS: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
_PAIR_NUMBERS: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
_PAIRS_LOCK = threading.Lock()


class _Kinds(dict[str, int]):
    """Word -> number of its pair in :data:`_PAIRS`, filled on first sight (bounded: a long
    session meets many distinct words). A dict lookup in C per word, where the memoised
    function cost a call and the hashing of the tuple it returns."""

    def __missing__(self, word: str) -> int:
        pair = _word_languages(word)
        with _PAIRS_LOCK:
            number = _PAIR_NUMBERS.get(pair)
            if number is None:
                number = _PAIR_NUMBERS[pair] = len(_PAIRS)
                _PAIRS.append(pair)
            if len(self) >= 1 << 16:
                self.clear()
            self[word] = number
        return number


_KINDS = _Kinds()


@lru_cache(maxsize=1)
def _bounds() -> tuple[Any, Any]:
    import numpy as np

    starts = np.array([r[0] for r in _RANGES], dtype=np.uint32)
    ends = np.array([r[1] for r in _RANGES], dtype=np.uint32)
    order = np.argsort(starts)
    return starts[order], np.stack([ends[order], np.array([r[2] for r in _RANGES])[order]])


_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# each byte that is an ASCII letter kept, any other made a space
_LETTER_BYTES = bytes(b if b in _ASCII_LETTERS else 0x20 for b in range(256))


def _without_code(text: str) -> str:
    # _CODE needs a backtick or "http" to match anything: most texts have neither, and
    # scanning them with its three branches at every position is the dearest part of a count
    if "`" not in text and "http" not in text:
        return text
    return _CODE.sub(" ", text)


def script_counts(text: str) -> Counter[str]:
    """Letters per script in ``text`` (code blocks and URLs left out)."""
    body = _without_code(text[:_SCAN])
    if body.isascii():
        # the only letters ASCII has are the Latin ones (the first two ranges): counted by
        # deleting them, without numpy's fixed cost per text
        raw = body.encode("ascii")
        latin = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
        return Counter({"latin": latin} if latin else {})
    import numpy as np

    points = np.frombuffer(body.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts, ends_scripts = _bounds()
    at = np.searchsorted(starts, points, side="right") - 1
    inside = (at >= 0) & (points <= ends_scripts[0][np.maximum(at, 0)])
    scripts = np.where(inside, ends_scripts[1][np.maximum(at, 0)], 0)
    tally = np.bincount(scripts, minlength=len(_SCRIPT_NAMES))
    return Counter({_SCRIPT_NAMES[i]: int(n) for i, n in enumerate(tally) if i and n})


@lru_cache(maxsize=1024)  # one answer is asked about by several features and checks
def detect(text: str) -> str:
    """The ISO 639-1 code of the language ``text`` is mostly written in, or ``"und"``.

    Decided: zh, ja, ko, ru, uk, el, he, ar, fa, hi, th by script, and en, fi, et, de, nl,
    fr, es, pt, it, sv, da, nb, pl, cs, tr, hu, ro, id, vi by function words.
    """
    return _decided(text, script_counts(text))


def _decided(text: str, counts: Counter[str]) -> str:
    """:func:`detect` of ``text`` whose :func:`script_counts` are ``counts``."""
    return _by_script(text, counts) or _latin(text)


def _by_script(text: str, counts: Counter[str]) -> str | None:
    """:func:`_decided`, or None where the Latin-script words must decide (:func:`_latin`)."""
    total = sum(counts.values())
    if total < MIN_LETTERS:
        # CJK carries a word in one or two characters: a short Chinese answer is still one
        cjk = counts["han"] + counts["kana"] + counts["hangul"]
        if cjk < 8:
            return UNDECIDED
    script, top = counts.most_common(1)[0]
    cjk_total = counts["han"] + counts["kana"]
    if script in ("han", "kana") or (cjk_total and cjk_total >= 0.5 * total):
        # Japanese writes most sentences with some kana; Chinese never does
        return "ja" if counts["kana"] >= 0.05 * cjk_total else "zh"
    if top < 0.6 * total:
        return UNDECIDED  # no script dominates: a mixture is not one language
    if script == "hangul":
        return "ko"
    if script == "cyrillic":
        return "uk" if len(_UKRAINIAN.findall(text[:_SCAN])) >= 3 else "ru"
    if script == "arabic":
        return "fa" if len(_PERSIAN.findall(text[:_SCAN])) >= 3 else "ar"
    simple = {"greek": "el", "hebrew": "he", "devanagari": "hi", "thai": "th"}
    if script in simple:
        return simple[script]
    return None


def _words(text: str) -> list[str]:
    """The words :func:`_latin` counts: lower-cased letter runs of the scanned part."""
    body = _without_code(text[:_SCAN]).lower()
    # where every word character is ASCII, the words are the runs of ASCII letters: split
    # out in C, every other byte made a space (those of other characters in UTF-8 are all
    # above 0x7f), several times faster than a regex finding them
    if _WIDE_WORD.search(body) is None:
        raw = body.encode("utf-8", "surrogatepass").translate(_LETTER_BYTES)
        return raw.decode("ascii").split()
    return _WORD.findall(body)


def _latin(text: str) -> str:
    words = _words(text)
    if not words:
        return UNDECIDED
    # words share few distinct (lexicons, shapes) pairs (most are in none): each word's pair
    # (its number, memoised: words repeat) counted in C, then spread over the languages of
    # each pair in Python, a few dozen steps: the same integer sums as every lexicon
    # against every word
    listed = dict.fromkeys(_WORDS, 0)
    shaped = dict.fromkeys(_WORDS, 0)
    pairs = _PAIRS
    for kind, count in Counter(map(_KINDS.__getitem__, words)).items():
        in_lexicons, in_shapes = pairs[kind]
        for lang in in_lexicons:
            listed[lang] += count
        for lang in in_shapes:
            shaped[lang] += count
    # in lexicon order: ties rank as they always did
    hits = {lang: listed[lang] + shaped[lang] // 2 for lang in listed}
    ranked = sorted(hits.items(), key=lambda kv: kv[1], reverse=True)
    best, first = ranked[0]
    # close relatives share most function words; the lead that matters is over the others
    second = next(
        n
        for lang, n in ranked[1:]
        if _RELATIVES.get(lang) != _RELATIVES.get(best) or lang not in _RELATIVES
    )
    if first < MIN_HITS or first < MIN_SHARE * len(words) or first < MIN_LEAD * second:
        return UNDECIDED
    return best


def leaning(text: str) -> str:
    """The language a text too short for :func:`detect` leans to, or ``"und"``: its
    dominant non-Latin script, else the Latin-script language with the most function-word
    and word-shape hits, when one leads outright. Weak evidence, for a caller that only needs
    to know whether a short text may be in another language than the one it assumes."""
    counts = script_counts(text)
    if not counts:
        return UNDECIDED
    script, _ = counts.most_common(1)[0]
    if script in ("han", "kana"):
        return "ja" if counts["kana"] else "zh"
    if script != "latin":
        if script == "cyrillic":
            return "uk" if _UKRAINIAN.search(text[:_SCAN]) else "ru"
        if script == "arabic":
            return "fa" if _PERSIAN.search(text[:_SCAN]) else "ar"
        named = {"hangul": "ko", "greek": "el", "hebrew": "he", "devanagari": "hi", "thai": "th"}
        return named.get(script, UNDECIDED)
    words = _WORD.findall(_without_code(text[:_SCAN]).lower())
    hits: Counter[str] = Counter()
    lexicon = _lexicon()
    for w in words:
        hits.update(lang for lang, lex in lexicon.items() if w in lex)
        hits.update(_shapes_of(w))
    ranked = hits.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return UNDECIDED
    return ranked[0][0]


def detect_many(texts: Sequence[str]) -> list[str]:
    """:func:`detect` of every text (not memoised), the letters of all the texts that are
    not ASCII counted in one numpy pass: per text, numpy's fixed costs were most of it."""
    import numpy as np

    if len(texts) > 512:  # a few integers per character are held at a time
        return [x for at in range(0, len(texts), 512) for x in detect_many(texts[at : at + 512])]
    bodies = [_without_code(t[:_SCAN]) for t in texts]
    counts: list[Counter[str] | None] = [script_counts(b) if b.isascii() else None for b in bodies]
    wide = [b for b, c in zip(bodies, counts, strict=True) if c is None]
    if wide:
        kinds = len(_SCRIPT_NAMES)
        points = np.frombuffer("".join(wide).encode("utf-32-le", "surrogatepass"), np.uint32)
        # as script_counts does it, each character's script found once for all texts
        starts, ends_scripts = _bounds()
        at = np.searchsorted(starts, points, side="right") - 1
        inside = (at >= 0) & (points <= ends_scripts[0][np.maximum(at, 0)])
        scripts = np.where(inside, ends_scripts[1][np.maximum(at, 0)], 0)
        sizes = np.fromiter(map(len, wide), dtype=np.int64, count=len(wide))
        bins = np.repeat(np.arange(0, len(wide) * kinds, kinds), sizes) + scripts
        tallies = iter(np.bincount(bins, minlength=len(wide) * kinds).reshape(-1, kinds).tolist())
        counts = [
            c
            if c is not None
            else Counter({_SCRIPT_NAMES[i]: n for i, n in enumerate(next(tallies)) if i and n})
            for c in counts
        ]
    found = [_by_script(t, c) for t, c in zip(texts, counts, strict=True) if c is not None]
    latin = [i for i, lang in enumerate(found) if lang is None]
    for i, lang in zip(latin, _latin_many([texts[i] for i in latin]), strict=True):
        found[i] = lang
    return [lang or UNDECIDED for lang in found]


def _latin_many(texts: Sequence[str]) -> list[str]:
    """:func:`_latin` of every text: each word's pair numbered in C for all texts at once,
    counted per text and pair with numpy, spread over the languages by two integer matrix
    products, and ranked per text as _latin ranks (the first of the most hits in lexicon
    order; the runner-up among the languages that are not its close relatives)."""
    import numpy as np

    if not texts:
        return []
    words = [_words(t) for t in texts]
    sizes = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    kinds = np.fromiter(
        map(_KINDS.__getitem__, itertools.chain.from_iterable(words)),
        dtype=np.int64,
        count=int(sizes.sum()),
    )
    pairs = _PAIRS[:]  # every kind met above is numbered in it
    langs = list(_WORDS)
    column = {lang: j for j, lang in enumerate(langs)}
    listed = np.zeros((len(pairs), len(langs)), dtype=np.int64)
    shaped = np.zeros((len(pairs), len(langs)), dtype=np.int64)
    for k, (in_lexicons, in_shapes) in enumerate(pairs):
        listed[k, [column[lang] for lang in in_lexicons]] = 1
        shaped[k, [column[lang] for lang in in_shapes]] = 1
    rows = np.repeat(np.arange(len(texts)), sizes)
    counts = np.bincount(rows * len(pairs) + kinds, minlength=len(texts) * len(pairs))
    counts = counts.reshape(len(texts), len(pairs))
    hits = counts @ listed + (counts @ shaped) // 2
    best = np.argmax(hits, axis=1)  # the first of the most hits, in lexicon order
    first = hits[np.arange(len(texts)), best]
    group = [_RELATIVES.get(lang) for lang in langs]
    # the runner-up of each best: any other language but a relative of a best in a group
    rivals = np.array(
        [
            [j != b and (group[j] is None or group[j] != group[b]) for j in range(len(langs))]
            for b in range(len(langs))
        ]
    )
    second = np.where(rivals[best], hits, -1).max(axis=1)
    unsure = (
        (first < MIN_HITS)
        | (first < MIN_SHARE * sizes)
        | (first < MIN_LEAD * second)
        | (sizes == 0)
    )
    return [
        UNDECIDED if u else langs[b] for u, b in zip(unsure.tolist(), best.tolist(), strict=True)
    ]


def answer_language(answer: str, prompt: str | None = None, fallback: str = UNDECIDED) -> str:
    """The language an answer is read in: its own when decided, else its request's, else
    ``fallback`` (a topic set's label). A short answer ("No.") says little about its
    language; it is taken to be in the language it was asked in."""
    lang = detect(answer)
    if lang == UNDECIDED and prompt:
        lang = detect(prompt)
    return fallback if lang == UNDECIDED else lang


#: an answer with this many letters whose language is still undecided is not "too short to
#: tell": it is in a language this module does not know, or mixed, or broken
LONG_LETTERS = 200


def undetermined(text: str) -> bool:
    """A long answer whose language cannot be told (never taken to be its request's)."""
    return detect(text) == UNDECIDED and sum(script_counts(text).values()) >= LONG_LETTERS
