"""A validator for exactly the part of JSON Schema 2020-12 that the package's own schemas use.

The package checks its schemas (``schemas/*.json``) on every read of something untrusted:
baselines, the team vendor file, cache exports, batch state, server scripts. jsonschema did
that, but importing it (attrs, referencing, rpds, jsonschema_specifications and the format
checkers) cost ~40-80 ms of every warm run that read one committed baseline. This module
is the same checks in a few hundred lines of the standard library.

It is strict in one direction: a schema that uses any keyword it does not implement (or an
implemented keyword with a value of the wrong form, a ``$ref`` outside the document, ``then``
without ``if``) is refused with :class:`SchemaError` when it is loaded, so an unimplemented
rule can never pass data silently. Annotations (``title``, ``description``, ``$comment``,
``default``, ``examples``, ``x-...``) are allowed, and so is ``format``, which 2020-12 makes an
annotation unless a validator asserts it (jsonschema's ``Draft202012Validator`` without a
format checker does not either).

The errors are jsonschema 4's (checked against it in ``tests/test_strictschema.py``): the
same instance paths, the same messages, in the same order, so ``schema.problems`` reports
what it reported with jsonschema. On purpose it differs in three places, all on input
jsonschema got wrong or could not report: a pattern's ``$`` is ECMA-262's end of the string
(Python's also matched before a final newline), a message over :data:`MAX_MESSAGE`
characters keeps its start and end, and a value nested beyond Python's recursion limit is
one problem rather than a RecursionError.
"""

from __future__ import annotations

import numbers
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from .safejson import MAX_DEPTH

__all__ = ["Problem", "SchemaError", "Validator", "shorten"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: the longest message kept whole: jsonschema's quote the value with repr(), which for a
#: hand-edited baseline whose "prompts" became an object is tens of KB in one error
MAX_MESSAGE = 1000
#: the one problem reported for a value nested deeper than Python's recursion limit
TOO_DEEP = (
    "the value is nested too deeply to be checked (no file this package reads nests more "
    f"than {MAX_DEPTH} levels)"
)

#: keywords that assert nothing here; ``then``/``else`` are read by ``if``
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples"}
)
_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})

PathPart = str | int
Errors = Iterator["Problem"]


class SchemaError(ValueError):
    """A schema this validator cannot enforce completely (raised when it is loaded)."""


@dataclass(frozen=True)
class Problem:
    """One mismatch: where in the instance (keys and indices from its root) and why."""

    absolute_path: tuple[PathPart, ...]
    message: str


def shorten(message: str) -> str:
    """``message`` cut to its start and its end (what was wrong) when it is too long."""
    if len(message) <= MAX_MESSAGE:
        return message
    keep = MAX_MESSAGE // 2
    left_out = len(message) - 2 * keep
    return f"{message[:keep]} ... ({left_out:,} characters left out) ... {message[-keep:]}"


def _is_type(instance: Any, name: str) -> bool:
    # jsonschema's 2020-12 type checker: bool is no number, 1.0 is an integer
    if name == "string":
        return isinstance(instance, str)
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "null":
        return instance is None
    if name == "boolean":
        return isinstance(instance, bool)
    if isinstance(instance, bool):
        return False
    if name == "integer":
        if isinstance(instance, float):
            return instance.is_integer()
        return isinstance(instance, int)
    return isinstance(instance, numbers.Number)  # "number"


def _type_of(name: str) -> Callable[[Any], bool]:
    return lambda instance: _is_type(instance, name)


#: ``_is_type(instance, name)`` of each name, without comparing the name on every call
_TYPE_OF: dict[str, Callable[[Any], bool]] = {name: _type_of(name) for name in _TYPES}
_TYPE_OF.update(
    string=lambda instance: isinstance(instance, str),
    object=lambda instance: isinstance(instance, dict),
    array=lambda instance: isinstance(instance, list),
    null=lambda instance: instance is None,
    boolean=lambda instance: isinstance(instance, bool),
)


def _unbool(value: Any) -> Any:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return value


_TRUE, _FALSE = object(), object()


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality for ``const``/``enum``: True is not 1, 1.0 is 1, recursively."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(k in two and _equal(v, two[k]) for k, v in one.items())
    return bool(_unbool(one) == _unbool(two))


def _under(part: PathPart, node: _Node, instance: Any) -> Errors:
    """``node``'s errors for ``instance`` found at ``part`` of its parent."""
    if node.schema is False:
        # jsonschema's descend() does not prefix a false schema's error with the path that
        # led to it (only the ancestors above add theirs): the same paths, to the letter
        yield from node.errors(instance)
        return
    for e in node.errors(instance):
        yield Problem((part, *e.absolute_path), e.message)


Check = Callable[[Any], Errors]
#: whether an instance at a depth (containers entered from the root) passes one keyword,
#: without building a message: raises _Unsure past MAX_DEPTH
Valid = Callable[[Any, int], bool]


class _Unsure(Exception):
    """The quick predicates went deeper than MAX_DEPTH: the errors decide instead."""


class _Keyword(NamedTuple):
    check: Check
    valid: Valid


class _Node:
    """One compiled (sub)schema: its keyword checks in the schema's own key order, which is
    the order jsonschema reports them in, and the same checks as predicates.

    A predicate holds exactly when its check yields nothing; it builds no Problem, message
    or generator, so a valid document (what nearly every read is) costs a fraction of
    listing its problems, and only an invalid one is walked again for the messages.
    """

    __slots__ = ("checks", "schema", "valids")

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.checks: list[Check] = []
        self.valids: list[Valid] = []

    def errors(self, instance: Any) -> Errors:
        if self.schema is True:
            return
        if self.schema is False:
            yield Problem((), f"False schema does not allow {instance!r}")
            return
        for check in self.checks:
            yield from check(instance)

    def is_valid(self, instance: Any) -> bool:
        return next(self.errors(instance), None) is None

    def valid(self, instance: Any, depth: int) -> bool:
        """:meth:`is_valid` by the predicates (``depth``: of ``instance`` in the document)."""
        if self.schema is True:
            return True
        if self.schema is False:
            return False
        # a loop, not all(): one generator per node visited is most of a valid read's cost
        for valid in self.valids:  # noqa: SIM110
            if not valid(instance, depth):
                return False
        return True


def _descend(depth: int) -> int:
    # the errors of a value nested deeper than any file this package reads are left to
    # iter_errors, whose recursion the predicates need not imitate
    if depth >= MAX_DEPTH:
        raise _Unsure
    return depth + 1


class Validator:
    """Validates instances against one schema; ``iter_errors`` is jsonschema's, in order.

    ``name`` names the schema in a :class:`SchemaError` (e.g. ``schemas/baseline.schema.json``).
    """

    def __init__(self, schema: Mapping[str, Any] | bool, name: str = "schema") -> None:
        self.schema = schema
        self.name = name
        self._nodes: dict[int, _Node] = {}
        self._refs: list[tuple[list[_Node], str, str]] = []
        if isinstance(schema, Mapping) and schema.get("$schema", DRAFT) != DRAFT:
            self._refuse("#/$schema", f"only {DRAFT} is implemented")
        self._root = self._compile(schema, "#")
        for target, ref, where in self._refs:
            target.append(self._nodes[id(self._resolve(ref, where))])

    def iter_errors(self, instance: Any) -> Iterator[Problem]:
        """Every mismatch, in the order jsonschema's ``Draft202012Validator`` yields them."""
        try:
            for problem in self._root.errors(instance):
                if len(problem.message) > MAX_MESSAGE:
                    problem = Problem(problem.absolute_path, shorten(problem.message))
                yield problem
        except RecursionError:
            # repr() in a message (and const/enum equality) recurse once per level: a value
            # Python cannot walk is one clear problem, where jsonschema raised RecursionError
            yield Problem((), TOO_DEEP)

    def is_valid(self, instance: Any) -> bool:
        """Whether ``iter_errors`` yields nothing, by the predicates (no message built)."""
        try:
            return self._root.valid(instance, 0)
        except (_Unsure, RecursionError):
            return next(self.iter_errors(instance), None) is None

    # -- compiling -------------------------------------------------------------------------

    def _refuse(self, where: str, why: str) -> NoReturn:
        raise SchemaError(f"{self.name} at {where}: {why}; this validator does not enforce it")

    def _resolve(self, ref: str, where: str) -> Any:
        if not ref.startswith("#/"):
            self._refuse(where, f"$ref {ref!r} is not a pointer into this document")
        node: Any = self.schema
        for raw in ref[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                self._refuse(where, f"$ref {ref!r} points at nothing")
            node = node[part]
        if id(node) not in self._nodes:
            self._refuse(where, f"$ref {ref!r} points at something that is not a schema")
        return node

    def _compile(self, schema: Any, where: str) -> _Node:
        if id(schema) in self._nodes:
            return self._nodes[id(schema)]
        node = _Node(schema)
        if isinstance(schema, bool):
            self._nodes[id(schema)] = node  # True/False are singletons: shared nodes are fine
            return node
        if not isinstance(schema, Mapping):
            self._refuse(where, f"a schema must be an object or a boolean, not {schema!r}")
        self._nodes[id(schema)] = node
        if ("then" in schema or "else" in schema) and "if" not in schema:
            self._refuse(where, "'then'/'else' without 'if' would be ignored")
        for keyword, value in schema.items():
            at = f"{where}/{keyword}"
            if keyword in ("$id", "$schema") and where != "#":
                # a nested $id would start a resource of its own, moving what "#/..." means
                self._refuse(at, f"{keyword} below the root")
            if keyword == "$defs":
                if not isinstance(value, Mapping):
                    self._refuse(at, "must be an object of schemas")
                for key, sub in value.items():
                    self._compile(sub, f"{at}/{key}")  # checked even when nothing uses it
                continue
            if keyword in _ANNOTATIONS or keyword in ("then", "else"):
                continue
            if keyword.startswith("x-"):
                continue  # an extension annotation of our own (e.g. x-checked-by)
            if keyword == "format":
                if not isinstance(value, str):
                    self._refuse(at, "format must be a string")
                continue  # an annotation in 2020-12 without a format assertion vocabulary
            build = _BUILDERS.get(keyword)
            if build is None:
                self._refuse(at, f"keyword {keyword!r} is not implemented")
            check, valid = build(self, value, schema, at)
            node.checks.append(check)
            node.valids.append(valid)
        return node


# -- the keywords ---------------------------------------------------------------------------
# Each builder checks its keyword's value when the schema is loaded and returns the check.
# The messages are jsonschema 4's (jsonschema/_keywords.py), word for word.

Builder = Callable[[Validator, Any, Mapping[str, Any], str], _Keyword]


def _need(ok: bool, v: Validator, at: str, what: str) -> None:
    if not ok:
        v._refuse(at, f"must be {what}")


def _count(v: Validator, value: Any, at: str) -> int:
    _need(isinstance(value, int) and not isinstance(value, bool) and value >= 0, v, at, "a count")
    return int(value)


def _number(v: Validator, value: Any, at: str) -> float:
    _need(_is_type(value, "number"), v, at, "a number")
    return value  # type: ignore[no-any-return]


def _type(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    types = [value] if isinstance(value, str) else value
    _need(
        isinstance(types, list) and bool(types) and all(t in _TYPES for t in types),
        v,
        at,
        f"a type name or a list of them ({', '.join(sorted(_TYPES))})",
    )
    reprs = ", ".join(repr(t) for t in types)

    def check(instance: Any) -> Errors:
        if not any(_is_type(instance, t) for t in types):
            yield Problem((), f"{instance!r} is not of type {reprs}")

    if len(types) == 1:
        only = _TYPE_OF[types[0]]
        return _Keyword(check, lambda instance, depth: only(instance))
    return _Keyword(check, lambda instance, depth: any(_is_type(instance, t) for t in types))


def _properties(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    _need(isinstance(value, Mapping), v, at, "an object of schemas")
    subs = [(key, v._compile(sub, f"{at}/{key}")) for key, sub in value.items()]

    def check(instance: Any) -> Errors:
        if isinstance(instance, dict):
            for key, sub in subs:
                if key in instance:
                    yield from _under(key, sub, instance[key])

    def valid(instance: Any, depth: int) -> bool:
        if not isinstance(instance, dict):
            return True
        inner = _descend(depth)
        for key, sub in subs:
            if key in instance and not sub.valid(instance[key], inner):
                return False
        return True

    return _Keyword(check, valid)


def _additional_properties(
    v: Validator, value: Any, schema: Mapping[str, Any], at: str
) -> _Keyword:
    known = schema.get("properties", {})
    if value is False:

        def refuse_extras(instance: Any) -> Errors:
            if isinstance(instance, dict):
                extras = [key for key in instance if key not in known]
                if extras:
                    extras = sorted(set(extras), key=str)
                    verb = "was" if len(extras) == 1 else "were"
                    listed = ", ".join(repr(e) for e in extras)
                    yield Problem(
                        (), f"Additional properties are not allowed ({listed} {verb} unexpected)"
                    )

        def no_extras(instance: Any, depth: int) -> bool:
            return not isinstance(instance, dict) or known.keys() >= instance.keys()

        return _Keyword(refuse_extras, no_extras)
    _need(isinstance(value, Mapping) or value is True, v, at, "false or a schema")
    sub = v._compile(value, at)

    def check(instance: Any) -> Errors:
        if isinstance(instance, dict):
            for key in instance:
                if key not in known:
                    yield from _under(key, sub, instance[key])

    def valid(instance: Any, depth: int) -> bool:
        if not isinstance(instance, dict):
            return True
        inner = _descend(depth)
        return all(sub.valid(item, inner) for key, item in instance.items() if key not in known)

    return _Keyword(check, valid)


def _required(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    _need(
        isinstance(value, list) and all(isinstance(k, str) for k in value), v, at, "a list of names"
    )

    def check(instance: Any) -> Errors:
        if isinstance(instance, dict):
            for key in value:
                if key not in instance:
                    yield Problem((), f"{key!r} is a required property")

    needed = frozenset(value)

    def valid(instance: Any, depth: int) -> bool:
        return not isinstance(instance, dict) or instance.keys() >= needed

    return _Keyword(check, valid)


def _items(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    if value is False:

        def none_allowed(instance: Any) -> Errors:
            if isinstance(instance, list) and instance:
                rest = instance if len(instance) != 1 else instance[0]
                yield Problem(
                    (), f"Expected at most 0 items but found {len(instance)} extra: {rest!r}"
                )

        return _Keyword(
            none_allowed, lambda instance, depth: not (isinstance(instance, list) and instance)
        )
    sub = v._compile(value, at)

    def check(instance: Any) -> Errors:
        if isinstance(instance, list):
            for index, item in enumerate(instance):
                yield from _under(index, sub, item)

    def valid(instance: Any, depth: int) -> bool:
        if not isinstance(instance, list):
            return True
        inner = _descend(depth)
        for item in instance:  # noqa: SIM110 (a loop: see _Node.valid)
            if not sub.valid(item, inner):
                return False
        return True

    return _Keyword(check, valid)


def _enum(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    _need(isinstance(value, list), v, at, "a list")

    def check(instance: Any) -> Errors:
        if all(not _equal(each, instance) for each in value):
            yield Problem((), f"{instance!r} is not one of {value!r}")

    return _Keyword(check, lambda instance, depth: any(_equal(each, instance) for each in value))


def _const(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    def check(instance: Any) -> Errors:
        if not _equal(instance, value):
            yield Problem((), f"{value!r} was expected")

    return _Keyword(check, lambda instance, depth: _equal(instance, value))


#: escapes whose Python meaning (Unicode digits, letters, word boundaries) is not ECMA-262's
_UNICODE_ESCAPES = frozenset("dDwWbB")
#: the letters of Python's inline flags, "(?m)" or "(?i:...)": ECMA-262 has none
_INLINE_FLAGS = frozenset("aiLmsux-")


def _ecma(v: Validator, pattern: str, at: str) -> str:
    r"""``pattern`` as Python reads it with ECMA-262's meaning, which JSON Schema specifies.

    Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` took ``"en\n"``
    (jsonschema's too, which runs Python's re): here it is ``\Z``, the end of the string.
    What cannot be mapped that simply is refused, so no pattern means more than it says.
    """
    out: list[str] = []
    i, size, in_class = 0, len(pattern), False
    while i < size:
        c = pattern[i]
        if c == "\\":
            escape = pattern[i + 1 : i + 2]
            if escape in _UNICODE_ESCAPES:
                v._refuse(at, f"\\{escape} in {pattern!r} (Python's is Unicode, ECMA-262's ASCII)")
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            # as Python parses it: a "]" right after "[" or "[^" is a member, not the end
            start = i + 1 + (pattern[i + 1 : i + 2] == "^")
            start += pattern[start : start + 1] == "]"
            out.append(pattern[i:start])
            i, in_class = start, True
            continue
        elif c == "$":
            c = r"\Z"
        elif c == ".":
            v._refuse(at, f"'.' in {pattern!r} (Python's matches \\r and \\u2028, ECMA-262's not)")
        elif c == "(" and pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3] in _INLINE_FLAGS:
            v._refuse(at, f"an inline flag in {pattern!r} (ECMA-262 has none)")
        out.append(c)
        i += 1
    return "".join(out)


def _pattern(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    _need(isinstance(value, str), v, at, "a regular expression")
    try:
        compiled = re.compile(_ecma(v, value, at))
    except re.error as exc:
        v._refuse(at, f"{value!r} is not a regular expression ({exc})")

    def check(instance: Any) -> Errors:
        # re.search, as jsonschema: a pattern is not anchored unless it says so; the message
        # quotes the pattern as the schema wrote it
        if isinstance(instance, str) and compiled.search(instance) is None:
            yield Problem((), f"{instance!r} does not match {value!r}")

    def valid(instance: Any, depth: int) -> bool:
        return not isinstance(instance, str) or compiled.search(instance) is not None

    return _Keyword(check, valid)


def _length(kind: str, too_few: bool, at_edge: str, beyond: str) -> Builder:
    """min/maxLength, min/maxItems, min/maxProperties: ``at_edge`` is jsonschema's message for
    a minimum of 1 or a maximum of 0, ``beyond`` the one for any other bound."""

    def build(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
        bound = _count(v, value, at)
        word = at_edge if bound == (1 if too_few else 0) else beyond

        def check(instance: Any) -> Errors:
            if _is_type(instance, kind) and (
                len(instance) < bound if too_few else len(instance) > bound
            ):
                yield Problem((), f"{instance!r} {word}")

        def valid(instance: Any, depth: int) -> bool:
            return not (
                _is_type(instance, kind)
                and (len(instance) < bound if too_few else len(instance) > bound)
            )

        return _Keyword(check, valid)

    return build


#: the comparison that fails an instance, and jsonschema's words for it
_BOUNDS: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "minimum": (operator.lt, "is less than the minimum of"),
    "maximum": (operator.gt, "is greater than the maximum of"),
    "exclusiveMinimum": (operator.le, "is less than or equal to the minimum of"),
    "exclusiveMaximum": (operator.ge, "is greater than or equal to the maximum of"),
}


def _bound(keyword: str) -> Builder:
    fails, text = _BOUNDS[keyword]

    def build(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
        limit = _number(v, value, at)

        def check(instance: Any) -> Errors:
            if _is_type(instance, "number") and fails(instance, limit):
                yield Problem((), f"{instance!r} {text} {limit!r}")

        def valid(instance: Any, depth: int) -> bool:
            return not (_is_type(instance, "number") and fails(instance, limit))

        return _Keyword(check, valid)

    return build


def _ref(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    _need(isinstance(value, str), v, at, "a string")
    target: list[_Node] = []  # filled once the whole document is compiled (Validator.__init__)
    v._refs.append((target, value, at))

    def check(instance: Any) -> Errors:
        return target[0].errors(instance)

    return _Keyword(check, lambda instance, depth: target[0].valid(instance, depth))


def _if(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    condition = v._compile(value, at)
    base = at.rsplit("/", 1)[0]
    then = v._compile(schema["then"], f"{base}/then") if "then" in schema else None
    otherwise = v._compile(schema["else"], f"{base}/else") if "else" in schema else None

    def check(instance: Any) -> Errors:
        if condition.is_valid(instance):
            if then is not None:
                yield from then.errors(instance)
        elif otherwise is not None:
            yield from otherwise.errors(instance)

    def valid(instance: Any, depth: int) -> bool:
        if condition.valid(instance, depth):
            return then is None or then.valid(instance, depth)
        return otherwise is None or otherwise.valid(instance, depth)

    return _Keyword(check, valid)


def _subschemas(v: Validator, value: Any, at: str) -> list[_Node]:
    _need(isinstance(value, list) and bool(value), v, at, "a non-empty list of schemas")
    return [v._compile(sub, f"{at}/{i}") for i, sub in enumerate(value)]


def _all_of(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    subs = _subschemas(v, value, at)

    def check(instance: Any) -> Errors:
        for sub in subs:
            yield from sub.errors(instance)

    return _Keyword(check, lambda instance, depth: all(sub.valid(instance, depth) for sub in subs))


def _any_of(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    subs = _subschemas(v, value, at)

    def check(instance: Any) -> Errors:
        if not any(sub.is_valid(instance) for sub in subs):
            yield Problem((), f"{instance!r} is not valid under any of the given schemas")

    return _Keyword(check, lambda instance, depth: any(sub.valid(instance, depth) for sub in subs))


def _one_of(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    subs = _subschemas(v, value, at)

    def check(instance: Any) -> Errors:
        valid = [sub for sub in subs if sub.is_valid(instance)]
        if not valid:
            yield Problem((), f"{instance!r} is not valid under any of the given schemas")
        elif len(valid) > 1:
            # jsonschema lists the later valid ones first, then the first valid one
            shown = ", ".join(repr(sub.schema) for sub in [*valid[1:], valid[0]])
            yield Problem((), f"{instance!r} is valid under each of {shown}")

    def exactly_one(instance: Any, depth: int) -> bool:
        return sum(1 for sub in subs if sub.valid(instance, depth)) == 1

    return _Keyword(check, exactly_one)


def _not(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    sub = v._compile(value, at)

    def check(instance: Any) -> Errors:
        if sub.is_valid(instance):
            yield Problem((), f"{instance!r} should not be valid under {value!r}")

    return _Keyword(check, lambda instance, depth: not sub.valid(instance, depth))


def _contains(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    sub = v._compile(value, at)

    def check(instance: Any) -> Errors:
        if isinstance(instance, list) and not any(sub.is_valid(each) for each in instance):
            yield Problem((), f"{instance!r} does not contain items matching the given schema")

    def valid(instance: Any, depth: int) -> bool:
        if not isinstance(instance, list):
            return True
        inner = _descend(depth)
        return any(sub.valid(each, inner) for each in instance)

    return _Keyword(check, valid)


def _property_names(v: Validator, value: Any, schema: Mapping[str, Any], at: str) -> _Keyword:
    sub = v._compile(value, at)

    def check(instance: Any) -> Errors:
        if isinstance(instance, dict):
            for key in instance:
                yield from sub.errors(key)  # at the object's own path, as jsonschema

    def valid(instance: Any, depth: int) -> bool:
        return not isinstance(instance, dict) or all(sub.valid(key, depth) for key in instance)

    return _Keyword(check, valid)


_BUILDERS: dict[str, Builder] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "required": _required,
    "items": _items,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "minLength": _length("string", True, "should be non-empty", "is too short"),
    "maxLength": _length("string", False, "is expected to be empty", "is too long"),
    "minItems": _length("array", True, "should be non-empty", "is too short"),
    "maxItems": _length("array", False, "is expected to be empty", "is too long"),
    "minProperties": _length(
        "object", True, "should be non-empty", "does not have enough properties"
    ),
    "maxProperties": _length("object", False, "is expected to be empty", "has too many properties"),
    "minimum": _bound("minimum"),
    "maximum": _bound("maximum"),
    "exclusiveMinimum": _bound("exclusiveMinimum"),
    "exclusiveMaximum": _bound("exclusiveMaximum"),
    "$ref": _ref,
    "if": _if,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "not": _not,
    "contains": _contains,
    "propertyNames": _property_names,
}
