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
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

try:  # Python 3.11+
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _c
    import sre_parse as _p

__all__ = ["Pattern", "compile", "exact", "first_class"]

_state = threading.local()
_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}
_ZERO_WIDTH = {_c.AT, _c.ASSERT, _c.ASSERT_NOT}


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


def first_class(source: str, flags: int = 0) -> str | None:
    """A character class holding the first character of every match of the pattern, or
    None when there is none to give (the pattern can match nothing, or is not understood)."""
    try:
        items, empty = _items(_p.parse(source, flags))
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

    __slots__ = ("_fast", "_written", "flags", "pattern")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.pattern = source
        self.flags = flags
        self._written: re.Pattern[str] | None = None
        self._fast: re.Pattern[str] | None = None

    @property
    def written(self) -> re.Pattern[str]:
        if self._written is None:
            self._written = re.compile(self.pattern, self.flags)
        return self._written

    @property
    def fast(self) -> re.Pattern[str]:
        if self._fast is None:
            head = first_class(self.pattern, self.flags)
            try:
                if head and not _alternatives(_p.parse(self.pattern, self.flags)):
                    head = None  # one class or literal first: the engine tests it as fast
                fast = re.compile(f"(?={head})(?:{self.pattern})", self.flags) if head else None
            except re.error:  # e.g. inline global flags, which must stay in front
                fast = None
            self._fast = fast or self.written
        return self._fast

    def _use(self) -> re.Pattern[str]:
        if getattr(_state, "exact", False):
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


@contextlib.contextmanager
def exact() -> Iterator[None]:
    """Within this thread, every fastre pattern runs as written (the reference)."""
    before = getattr(_state, "exact", False)
    _state.exact = True
    try:
        yield
    finally:
        _state.exact = before
