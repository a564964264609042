"""Regular expressions that skip, in C, the positions where they cannot match.

Python's ``re`` tries every alternative of a pattern at every position of the text: a rule
list of thirty phrases, each opening with ``\\b``, costs thirty tries per character. When
every alternative must start with one of a known set of characters, a lookahead on that set
in front of the pattern (``(?=[…])(?:pattern)``) rejects all other positions with one class
test, and changes nothing else: wherever the pattern matches, its first character is in
the set, so the lookahead passes and the same alternatives are tried in the same order.
The set is read off the parsed pattern; whenever it cannot be (a pattern that can match
the empty string, back-references, constructs this module does not know), the pattern is
used as it is.

``exact()`` runs everything with the patterns as written, for tests that check the two
give the same answers.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c
    import sre_parse as _p

__all__ = [
    "Guarded",
    "Pattern",
    "Phrases",
    "compile",
    "exact",
    "finder",
    "first_class",
    "guarded",
    "phrases",
]


class _State(threading.local):
    # class-level defaults: every thread sees them until it sets its own, so a read is a
    # plain attribute lookup (getattr with a default costs ~0.6 us, and the phrase lists
    # ask on every search of every answer)
    exact: bool = False
    primed: dict[tuple[int, int], Any] | None = None


_state = _State()
# a group of inline global flags, as a piece may open with one (where the pieces are joined,
# no longer at the start of the pattern: an error)
_GLOBAL_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")
_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}
_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}


# a phrase as it is searched: its pattern, a literal every match holds (None: none known),
# and whether every match opens with that literal
_Piece = tuple[re.Pattern[str], str | None, bool]


class _Unknown(Exception):
    """The first character of this part cannot be described as a class."""


def _char(code: int) -> str:
    ch = chr(code)
    return "\\" + ch if ch in "\\]^-[" else ch


def _items(seq: Any) -> tuple[list[str], bool]:
    """The class items any match of ``seq`` starts with, and whether it can be empty."""
    out: list[str] = []
    for op, av in seq:
        if op in _ZERO_WIDTH:
            continue  # consumes nothing: the next part decides the first character
        if op is _c.LITERAL:
            return [*out, _char(av)], False
        if op is _c.IN:
            items = []
            for kind, value in av:
                if kind is _c.LITERAL:
                    items.append(_char(value))
                elif kind is _c.RANGE:
                    items.append(f"{_char(value[0])}-{_char(value[1])}")
                elif kind is _c.CATEGORY and value in _CATEGORIES:
                    items.append(_CATEGORIES[value])
                else:  # NEGATE and the rest: not worth describing
                    raise _Unknown
            return [*out, *items], False
        if op is _c.SUBPATTERN:
            _, add_flags, del_flags, inner = av
            if add_flags or del_flags:
                raise _Unknown  # scoped flags would change how the class reads
            first, empty = _items(inner)
        elif op is _c.BRANCH:
            first, empty = [], False
            for alternative in av[1]:
                more, can_be_empty = _items(alternative)
                first += more
                empty = empty or can_be_empty
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            low, _, inner = av
            first, empty = _items(inner)
            empty = empty or low == 0
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            first, empty = _items(av)
        else:
            raise _Unknown
        out += first
        if not empty:
            return out, False
    return out, True


def _alternatives(seq: Any) -> bool:
    """Whether the pattern starts with a choice between alternatives (only then is a class
    test in front cheaper than what it saves)."""
    for op, av in seq:
        if op in _ZERO_WIDTH:
            continue
        if op is _c.BRANCH:
            return True
        if op is _c.SUBPATTERN:
            return _alternatives(av[3])
        return False
    return False


def first_class(source: str, flags: int = 0, tree: Any = None) -> str | None:
    """A character class holding the first character of every match of the pattern, or
    None when there is none to give (the pattern can match nothing, or is not understood).
    ``tree``: ``source`` already parsed with ``flags``."""
    try:
        items, empty = _items(_p.parse(source, flags) if tree is None else tree)
    except (_Unknown, re.error, TypeError, ValueError):
        return None
    if empty or not items:
        return None
    return "[" + "".join(dict.fromkeys(items)) + "]"


class Pattern:
    """A pattern with the lookahead in front where one can be derived, compiled on first
    use (a module of rules costs nothing to import until a rule runs).

    Only the methods the package uses; each gives what the pattern as written gives.
    """

    __slots__ = ("_fast", "_tree", "_written", "flags", "pattern")

    def __init__(self, source: str, flags: int = 0, tree: Any = None) -> None:
        self.pattern = source
        self.flags = flags
        self._written: re.Pattern[str] | None = None
        self._fast: re.Pattern[str] | None = None
        # the source parsed, when the caller has it: read for the lookahead, then dropped
        self._tree = tree

    @property
    def written(self) -> re.Pattern[str]:
        if self._written is None:
            self._written = re.compile(self.pattern, self.flags)
        return self._written

    @property
    def fast(self) -> re.Pattern[str]:
        if self._fast is None:
            tree, self._tree = self._tree, None
            head = first_class(self.pattern, self.flags, tree)
            try:
                if head and not _alternatives(tree or _p.parse(self.pattern, self.flags)):
                    head = None  # one class or literal first: the engine tests it as fast
                fast = re.compile(f"(?={head})(?:{self.pattern})", self.flags) if head else None
            except re.error:  # e.g. inline global flags, which must stay in front
                fast = None
            self._fast = fast or self.written
        return self._fast

    def _use(self) -> re.Pattern[str]:
        if _state.exact:
            return self.written
        return self._fast or self.fast

    def search(self, string: str, *args: int) -> re.Match[str] | None:
        return self._use().search(string, *args)

    def match(self, string: str, *args: int) -> re.Match[str] | None:
        return self._use().match(string, *args)

    def findall(self, string: str, *args: int) -> list[Any]:
        return self._use().findall(string, *args)

    def finditer(self, string: str, *args: int) -> Iterator[re.Match[str]]:
        return self._use().finditer(string, *args)

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return self._use().sub(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return self._use().split(string, maxsplit)

    def __repr__(self) -> str:
        return f"fastre.compile({self.pattern!r}, {self.flags})"


def compile(source: str, flags: int = 0) -> Pattern:
    return Pattern(source, flags)


def _split_top(source: str) -> list[str]:
    """``source`` cut at its top-level ``|`` (outside groups, classes and escapes)."""
    parts, depth, start, i, size = [], 0, 0, 0, len(source)
    while i < size:
        ch = source[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i += 1
            if i < size and source[i] == "^":
                i += 1
            if i < size and source[i] == "]":
                i += 1  # a leading ] is a member, not the end
            while i < size and source[i] != "]":
                i += 2 if source[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    parts.append(source[start:])
    return parts


def _plain(code: int, ignorecase: bool) -> str | None:
    """The character a literal of the pattern is found as in the text (lower-cased when the
    pattern ignores case); None when case folding could match it to a character that
    ``str.lower`` does not turn into it."""
    ch = chr(code)
    if not ignorecase:
        return ch
    low = ch.lower()
    if len(low) != 1 or low in _CASE_PARTNERS_SET or low.upper().lower() != low:
        return None
    return low


def _needle(source: str, flags: int, tree: Any = None) -> tuple[str | None, bool]:
    """A string that every match of ``source`` contains (in the lower-cased text when the
    pattern ignores case), and whether every match starts with it; (None, False) when
    there is none. The opening literal is taken when it has three characters or more, or
    two and no other literal is longer (a match can then only start where it stands), else
    the longest. ``tree``: ``source`` already parsed with ``flags``."""
    try:
        seq = _p.parse(source, flags) if tree is None else tree
    except (re.error, TypeError, ValueError):
        return None, False
    ignorecase = bool(flags & re.IGNORECASE)
    best, run, head, opening = "", "", "", True
    stack = [iter(list(seq))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        op, av = item
        if op in _ZERO_WIDTH:
            continue  # consumes nothing: the literals on each side are adjacent in the text
        if op is _c.SUBPATTERN and av[0] is None and not av[1] and not av[2]:
            stack.append(iter(list(av[3])))  # a plain group: its items follow in sequence
            continue
        ch = _plain(av, ignorecase) if op is _c.LITERAL else None
        if ch is None:
            if opening:
                head, opening = run, False
            best, run = max(best, run, key=len), ""
        else:
            run += ch
    if opening:
        head = run
    best = max(best, run, key=len)
    # a two-character opening that is also the longest literal: looking for it costs less
    # than searching with a pattern that has to be tried at every position
    if len(head) >= 3 or (len(head) == 2 and head == best):
        return head, True
    return best or None, False


class Phrases(Pattern):
    """An alternation of phrases that runs, text by text, only the phrases whose literal
    part the text contains.

    A phrase that can match nowhere in a text changes nothing when left out (at every
    position it would have been tried and failed). The phrases that can match are searched
    one by one and their matches merged as the alternation finds them: the leftmost start
    wins, and of the phrases matching there the first in order, its match being the one
    the alternation would take at that position; the scan goes on from its end. A rule
    list of thirty phrases usually has none or one that can match a text, and each is then
    a single-alternative scan. Which phrases can match is told by strings one of which every
    match of the phrase contains (:meth:`_filter`: its literal, or the strings
    :func:`_required` reads off its parsed form, one per alternative of a group, when those
    are longer); a phrase with none is always searched. Under IGNORECASE only characters whose case
    partners ``str.lower`` certainly gives count as literal, and a text holding one of the
    four characters that IGNORECASE matches to an ASCII letter (U+0130, U+0131, U+017F,
    U+212A) runs the whole
    pattern. Anything this cannot describe (groups, a phrase that can match the empty
    string, verbose patterns) runs the whole pattern as well.
    """

    __slots__ = (
        "_alternatives",
        "_always",
        "_ascii",
        "_filters",
        "_last",
        "_narrow",
        "_needles",
        "_opening",
        "_pieces",
    )

    def __init__(self, alternatives: tuple[str, ...], flags: int = 0) -> None:
        super().__init__("|".join(f"(?:{p})" for p in alternatives), flags)
        self._alternatives = alternatives
        self._pieces: tuple[Pattern, ...] = ()
        self._needles: tuple[str | None, ...] | None = None
        self._opening: tuple[bool, ...] = ()
        self._ascii: tuple[int, ...] = ()
        self._narrow: tuple[int, ...] = ()
        self._filters: tuple[tuple[str, ...], ...] = ()
        self._always: frozenset[int] = frozenset()
        # the last text and what _kept found in it: a caller often asks about one text
        # several times (the whole text, then up to an end position)
        self._last: tuple[str, Any] = ("", None)

    def _prepare(self) -> tuple[str | None, ...]:
        if self._needles is None:
            # (?:a|b) as one alternative is a, then b: each may be left out on its own
            sources = [piece for alt in self._alternatives for piece in _split_top(alt)]
            found: list[tuple[str | None, bool]] = []
            # each piece parsed once, for all that is read off it (on first use of a list:
            # parsing is most of its cost); the pieces are described only when the whole
            # alternation holds no group and no inline global flag, as when it is compiled
            # (a piece's global flag is an error there, a group would shift those of others)
            trees: list[Any] = []
            try:
                trees = [_p.parse(p, self.flags) for p in sources]
                plain = _p.parse("", self.flags).state.flags
                if (
                    not self.flags & re.VERBOSE
                    and all(t.state.groups == 1 and t.state.flags == plain for t in trees)
                    and not any(_GLOBAL_FLAGS.match(p) for p in sources)
                    and all(not _items(t)[1] for t in trees)
                ):
                    found = [_needle(p, self.flags, t) for p, t in zip(sources, trees, strict=True)]
            except (_Unknown, re.error, TypeError, ValueError):
                found = []
            needles = tuple(n for n, _ in found)
            self._opening = tuple(o for _, o in found)
            self._pieces = tuple(
                Pattern(p, self.flags, t)
                for p, t in itertools.zip_longest(sources, trees[: len(sources)])
            )
            filters = tuple(
                self._filter(p, n, t) for p, n, t in zip(sources, needles, trees, strict=False)
            )
            self._filters = filters
            self._always = frozenset(i for i, f in enumerate(filters) if not f)
            # an ASCII text can hold only ASCII strings, and a text without a character
            # from U+3000 up (CJK, kana, Hangul) none of the strings that have one
            self._ascii = tuple(
                i for i, f in enumerate(filters) if not f or any(t.isascii() for t in f)
            )
            self._narrow = tuple(
                i for i, f in enumerate(filters) if not f or any(max(t) < "\u3000" for t in f)
            )
            self._needles = needles
        return self._needles

    def _filter(self, source: str, needle: str | None, tree: Any = None) -> tuple[str, ...]:
        """Strings one of which every match of the phrase contains (none: always kept).
        The phrase's literal, unless the strings :func:`_required` reads off it (one from
        each alternative of a group, say) are all longer: a one-character literal such as
        a space is in every text and rules nothing out."""
        own = (needle,) if needle else ()
        ignorecase = bool(self.flags & re.IGNORECASE)
        try:
            parsed = _p.parse(source, self.flags) if tree is None else tree
            required = _required(parsed, ignorecase)
        except (re.error, TypeError, ValueError):
            return own
        if not required or any(folded != ignorecase for _, folded in required):
            return own  # looked up in another case than the text is: keep the literal
        if min(len(t) for t, _ in required) <= len(needle or ""):
            return own
        return tuple(dict.fromkeys(t for t, _ in required))

    def _kept(self, string: str) -> tuple[str, list[_Piece]] | None:
        """The text as the literals are looked up in, and the phrases that can match it
        (each with its opening literal, if it has one); None to run the whole pattern."""
        if _state.exact:
            return None
        table = _state.primed
        if table is not None:
            entry = table.get((id(self), id(string)))
            if entry is not None and entry[0] is string:
                primed: tuple[str, list[_Piece]] | None = entry[1]
                return primed
        last = self._last  # read once: another thread may replace it
        if last[0] is string:
            found: tuple[str, list[_Piece]] | None = last[1]
            return found
        needles = self._needles if self._needles is not None else self._prepare()
        if not needles:
            return None
        if self.flags & re.IGNORECASE:
            hay = _lowered(string)
            if hay is None:
                found = None
                self._last = (string, found)
                return found
        else:
            hay = string
        pieces, opening, filters = self._pieces, self._opening, self._filters
        if hay.isascii():
            order: Sequence[int] = self._ascii
        elif _WIDE.search(hay) is None:
            order = self._narrow
        else:
            order = range(len(needles))
        kept = []
        for i in order:
            for wanted in filters[i]:  # a plain loop: a generator per phrase costs more
                if wanted in hay:
                    break
            else:
                if filters[i]:
                    continue  # none of the strings the phrase needs is in the text
            piece = pieces[i]
            kept.append((piece._fast or piece.fast, needles[i], opening[i]))
        found = hay, kept
        self._last = (string, found)
        return found

    @staticmethod
    def _next(piece: _Piece, hay: str, string: str, at: int, endpos: int) -> re.Match[str] | None:
        """``search`` of one phrase; one that opens with a literal is tried only where the
        literal stands (the text and its lower-cased form have the same positions here), one
        that holds a literal elsewhere not at all where the literal is not in the window."""
        pattern, needle, opens = piece
        if needle is None:
            return pattern.search(string, at, endpos)
        if not opens:
            # a match in [at, endpos) holds the literal there
            if hay.find(needle, at, endpos) < 0:
                return None
            return pattern.search(string, at, endpos)
        i = hay.find(needle, at, endpos)
        while i >= 0:
            m = pattern.match(string, i, endpos)
            if m is not None:
                return m
            i = hay.find(needle, i + 1, endpos)
        return None

    def _scan(
        self,
        found: tuple[str, list[_Piece]],
        string: str,
        pos: int,
        endpos: int,
    ) -> Iterator[re.Match[str]]:
        hay, kept = found
        step = self._next
        ahead = [step(p, hay, string, pos, endpos) for p in kept]
        while True:
            best: re.Match[str] | None = None
            for m in ahead:
                # strictly earlier: at the same start the phrase first in order wins
                if m is not None and (best is None or m.start() < best.start()):
                    best = m
            if best is None:
                return
            yield best
            at = best.end()  # no phrase matches the empty string: the end is past the start
            for j, m in enumerate(ahead):
                if m is not None and m.start() < at:
                    ahead[j] = step(kept[j], hay, string, at, endpos)

    @staticmethod
    def _span(args: tuple[int, ...]) -> tuple[int, int]:
        # re reads a negative position as 0; str.find would count it from the end
        return max(args[0], 0) if args else 0, max(args[1], 0) if len(args) > 1 else sys.maxsize

    def search(self, string: str, *args: int) -> re.Match[str] | None:
        kept = self._kept(string)
        if kept is None:
            return self._use().search(string, *args)
        return next(self._scan(kept, string, *self._span(args)), None)

    def findall(self, string: str, *args: int) -> list[Any]:
        kept = self._kept(string)
        if kept is None:
            return self._use().findall(string, *args)
        if not kept[1]:
            return []
        return [m.group() for m in self._scan(kept, string, *self._span(args))]

    def finditer(self, string: str, *args: int) -> Iterator[re.Match[str]]:
        kept = self._kept(string)
        if kept is None:
            return self._use().finditer(string, *args)
        return self._scan(kept, string, *self._span(args))

    def __repr__(self) -> str:
        return f"fastre.phrases({self._alternatives!r}, {self.flags})"


_LAST_LOWERED: tuple[str, str | None] = ("", "")
# a character from U+3000 up: CJK punctuation, kana, CJK ideographs, Hangul, ...
_WIDE = re.compile("[\u3000-\U0010ffff]")


def _lowered(string: str) -> str | None:
    """``string.lower()`` for looking literals up, or None when the whole pattern must run
    (a character IGNORECASE folds past ``str.lower``, or one lower-cased into two, which
    would shift positions). The last answer is kept: several phrase lists read one text."""
    global _LAST_LOWERED
    last = _LAST_LOWERED
    if last[0] is string:
        return last[1]
    hay: str | None = None
    if not _CASE_PARTNERS.search(string):
        hay = string.lower()
        if len(hay) != len(string):
            hay = None
    _LAST_LOWERED = (string, hay)
    return hay


def _case_partners() -> frozenset[str]:
    """The characters IGNORECASE matches to a letter that ``str.lower`` does not turn
    them into: the odd members of re's extra case classes (dotless i, long s, final sigma,
    the rounded Cyrillic letters, ...) and the dotted capital I (lower-cased into two)."""
    try:  # Python 3.11+
        from re._casefix import _EXTRA_CASES as extra  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - Python 3.10
        from sre_compile import _ignorecase_fixes as extra  # type: ignore[attr-defined]
    members = {chr(c) for key, values in extra.items() for c in (key, *values)}
    return frozenset({"\u0130"} | {m for m in members if m.upper().lower() != m})


_CASE_PARTNERS_SET = _case_partners()
# a text holding one of them is searched with the whole pattern
_CASE_PARTNERS = re.compile("[" + "".join(sorted(_CASE_PARTNERS_SET)) + "]")


def phrases(alternatives: tuple[str, ...] | list[str], flags: int = 0) -> Phrases:
    """``compile("|".join(f"(?:{p})" for p in alternatives), flags)`` that, for each text,
    runs only the alternatives that can match it (same results; see :class:`Phrases`)."""
    return Phrases(tuple(alternatives), flags)


@contextlib.contextmanager
def exact() -> Iterator[None]:
    """Within this thread, every fastre pattern runs as written (the reference)."""
    before = _state.exact
    _state.exact = True
    try:
        yield
    finally:
        _state.exact = before


def _required(seq: Any, ignorecase: bool) -> list[tuple[str, bool]] | None:
    """Strings one of which every match of the parsed ``seq`` contains, each with whether it
    is looked up case-insensitively (in the lower-cased text); None when none is known.
    Of the candidates (a run of literals, a group, a choice whose every alternative has
    some, a repeat taken at least once), the one whose shortest string is longest."""
    best: list[tuple[str, bool]] | None = None

    def consider(found: list[tuple[str, bool]] | None) -> None:
        nonlocal best
        if not found or any(not s.strip() for s, _ in found):
            return  # a blank is in every text: it rules nothing out
        if best is None or (min(len(s) for s, _ in found), -len(found)) > (
            min(len(s) for s, _ in best),
            -len(best),
        ):
            best = found

    run = ""
    for op, av in seq:
        if op in _ZERO_WIDTH:
            continue  # consumes nothing: the literals on each side are adjacent
        ch = _plain(av, ignorecase) if op is _c.LITERAL else None
        if ch is not None:
            run += ch
            continue
        consider([(run, ignorecase)] if run else None)
        run = ""
        if op is _c.SUBPATTERN:
            _, add, drop, inner = av
            inner_case = (ignorecase or bool(add & re.IGNORECASE)) and not drop & re.IGNORECASE
            consider(_required(inner, inner_case))
        elif op is _c.BRANCH:
            options = [_required(alternative, ignorecase) for alternative in av[1]]
            if all(options):
                consider([s for option in options for s in option or ()])
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
            consider(_required(av[2], ignorecase))
        elif op is _c.IN and all(kind is _c.LITERAL for kind, _ in av) and len(av) <= 8:
            chars = [_plain(value, ignorecase) for _, value in av]
            if all(chars):
                consider([(c, ignorecase) for c in chars if c])
    consider([(run, ignorecase)] if run else None)
    return best


class Guarded(Pattern):
    """A pattern that first checks, with substring tests, that the text holds one of the
    strings every match must contain, and finds nothing without running when it does not
    (a frame list over every sentence of an answer mostly meets sentences with none of its
    words). Wherever the pattern could match, it runs as written (with the lookahead of
    :class:`Pattern`), groups and all. The strings are read off the parsed pattern; a
    pattern they cannot be read from always runs."""

    __slots__ = ("_ascii_required", "_required", "_tries")

    def __init__(self, source: str, flags: int = 0) -> None:
        super().__init__(source, flags)
        self._required: tuple[tuple[str, bool], ...] | None = None
        self._ascii_required: tuple[tuple[str, bool], ...] = ()
        # (case-sensitive, lower-cased) lookups of every string, then of the ASCII ones
        self._tries: tuple[_Finder, _Finder, _Finder, _Finder] | None = None

    def _needles(self) -> tuple[tuple[str, bool], ...]:
        if self._required is None:
            try:
                parsed = _p.parse(self.pattern, self.flags)
                found = _required(parsed, bool(parsed.state.flags & re.IGNORECASE))
            except (re.error, TypeError, ValueError, AttributeError):
                found = None
            unique = list(dict.fromkeys(found or ()))
            # a string holding another of the same kind adds nothing: where it is, so is
            # the shorter one
            kept = tuple(
                (s, f)
                for s, f in unique
                if not any(f == g and t != s and t in s for t, g in unique)
            )
            # an ASCII text can hold only the ASCII strings
            self._ascii_required = tuple((s, f) for s, f in kept if s.isascii())
            self._required = kept
        return self._required

    def possible(self, string: str) -> bool:
        """False only when the pattern cannot match anywhere in ``string``: whether it holds
        one of the strings (those looked up case-insensitively in its lower-cased form)."""
        if _state.exact:
            return True
        needles = self._required if self._required is not None else self._needles()
        if not needles:
            return True
        tries = self._tries if self._tries is not None else self._compile_tries()
        raw, folded = tries[2:] if string.isascii() else tries[:2]
        if raw is not None and raw.search(string) is not None:
            return True
        if folded is None:
            return False
        if _CASE_PARTNERS.search(string):
            return True  # a character IGNORECASE folds past str.lower
        return folded.search(string.lower()) is not None

    def _compile_tries(self) -> tuple[_Finder, _Finder, _Finder, _Finder]:
        # one scan in C for all the strings of a kind, instead of a substring test for each
        # of them (a frame list has ~150): the same answer, a few times faster
        every = self._needles()
        tries = (
            finder([s for s, f in every if not f]),
            finder([s for s, f in every if f]),
            finder([s for s, f in self._ascii_required if not f]),
            finder([s for s, f in self._ascii_required if f]),
        )
        self._tries = tries
        return tries

    def search(self, string: str, *args: int) -> re.Match[str] | None:
        return super().search(string, *args) if self.possible(string) else None

    def match(self, string: str, *args: int) -> re.Match[str] | None:
        return super().match(string, *args) if self.possible(string) else None

    def findall(self, string: str, *args: int) -> list[Any]:
        return super().findall(string, *args) if self.possible(string) else []

    def finditer(self, string: str, *args: int) -> Iterator[re.Match[str]]:
        return super().finditer(string, *args) if self.possible(string) else iter(())

    def sub(self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0) -> str:
        return super().sub(repl, string, count) if self.possible(string) else string

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        return super().split(string, maxsplit) if self.possible(string) else [string]

    def __repr__(self) -> str:
        return f"fastre.guarded({self.pattern!r}, {self.flags})"


_Finder = re.Pattern[str] | None


def finder(strings: list[str]) -> _Finder:
    """A pattern that finds any of ``strings`` (None for none): their letters as a tree of
    alternatives, cut where one string is a prefix of another (whoever holds the longer one
    holds the shorter), so each position costs one pass down the tree."""
    tree: dict[str, Any] = {}
    for text in strings:
        node = tree
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = {}

    def source(node: dict[str, Any]) -> str:
        if "" in node:
            return ""  # a whole string ends here: what follows it adds nothing
        branches = [re.escape(ch) + source(child) for ch, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return re.compile(source(tree)) if tree else None


def guarded(source: str, flags: int = 0) -> Guarded:
    """:func:`compile` that skips texts holding none of the strings every match contains."""
    return Guarded(source, flags)
