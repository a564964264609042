"""Were two results sampled alike? The generation parameters every result records.

A refusal rate measured at temperature 0.6 against one measured at the server's default
compares two sampling settings, not two releases. Every result (``refusal.Result``,
``identity.IdentityResult``, ``lexical.Fingerprint``, a stored baseline) records the
parameters its answers were sampled with, and every path that compares two of them (the
refusal gate, a baseline check, a lexical distance) calls :func:`require_same_params`
first: a difference fails as "not comparable" with both parameter sets shown, unless the
test says the difference is intended (the ``modelprov_allow_param_difference`` marker, or
the :func:`allow_param_difference` context manager).

Parameters that do not change what a model says are left out of the comparison: ``seed``
(two releases sampled with different seeds are samples of the same distributions),
``user``, ``metadata``, ``store`` and ``service_tier``. A result that records no
parameters (one built from texts, or a baseline written before they were recorded) is
compared as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .config import ModelSpec, validate_params

#: recorded, but not compared: they do not change the distribution of answers
IGNORED = frozenset({"seed", "user", "metadata", "store", "service_tier"})
MARKER = "modelprov_allow_param_difference"
_NOT_SET = "(not set: the server's default)"

# set for the duration of a test by the marker (the plugin), or by the context manager
_allowed: ContextVar[str | None] = ContextVar("modelprov_allow_param_difference", default=None)


class NotComparableError(AssertionError):
    """Two results were sampled with different generation parameters.

    An AssertionError, so that a gate comparing them fails like any other failed check.
    """


def effective_params(spec: ModelSpec, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a ``sample(..., **overrides)`` call on ``spec`` sends (seed: replicate 0's).

    The same merge as the client's: the configured parameters, then the call's.
    """
    if not overrides:
        return dict(spec.params)
    return {**spec.params, **validate_params(overrides, "sample() arguments")}


def canonical(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A plain JSON-able copy, with 1 and 1.0 equal (as they are in cache keys)."""
    if params is None:
        return None

    def norm(value: Any) -> Any:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, Mapping):
            return {str(k): norm(v) for k, v in sorted(value.items())}
        if isinstance(value, (list, tuple)):
            return [norm(v) for v in value]
        return str(value)

    return {str(k): norm(v) for k, v in sorted(params.items())}


def differences(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> dict[str, tuple[Any, Any]]:
    """The compared parameters whose values differ: ``{key: (value in a, value in b)}``.

    Empty when either side is unknown (None).
    """
    ca, cb = canonical(a), canonical(b)
    if ca is None or cb is None or a is None or b is None:
        return {}
    out = {}
    for key in sorted((set(ca) | set(cb)) - IGNORED):
        if json.dumps(ca.get(key), sort_keys=True) != json.dumps(cb.get(key), sort_keys=True):
            out[key] = (a.get(key, _NOT_SET), b.get(key, _NOT_SET))
    return out


def describe(params: Mapping[str, Any] | None) -> str:
    if params is None:
        return "(not recorded)"
    if not params:
        return "{} (the server's defaults)"
    return json.dumps(dict(params), ensure_ascii=False, sort_keys=True)


def allowed() -> str | None:
    """Why a parameter difference is intended in the current test, or None."""
    return _allowed.get()


@contextmanager
def allow_param_difference(reason: str = "intended") -> Iterator[None]:
    """Compare results sampled with different parameters inside this block.

    ::

        with comparable.allow_param_difference("greedy candidate vs sampled release"):
            refusal.assert_stable(before, after)
    """
    token = _allowed.set(reason or "intended")
    try:
        yield
    finally:
        _allowed.reset(token)


def require_same_params(
    a: Mapping[str, Any] | None,
    b: Mapping[str, Any] | None,
    *,
    a_name: str,
    b_name: str,
    what: str = "the two results",
    hint: str = "",
) -> None:
    """Raise NotComparableError when ``a`` and ``b`` differ in a compared parameter.

    ``a_name``/``b_name`` say which result each set belongs to (e.g. "last-release
    (my-model-06)"); ``what`` what was about to be compared.
    """
    __tracebackhide__ = True
    diff = differences(a, b)
    if not diff or allowed() is not None:
        return
    changed = "; ".join(
        f"{key}: {_value(va)} vs {_value(vb)}" for key, (va, vb) in sorted(diff.items())
    )
    raise NotComparableError(
        f"{what} are not comparable: they were sampled with different generation "
        f"parameters ({changed}).\n"
        f"  {a_name}: {describe(a)}\n"
        f"  {b_name}: {describe(b)}\n"
        "  Sample both alike: a reference inherits the model under test's parameters unless "
        "it sets NAME.params.KEY or NAME.inherit_params=false (meant for a judge), and "
        "sample(..., **params) overrides apply to one call "
        "only. If the difference is intended, mark the test "
        f"@pytest.mark.{MARKER}(reason=...)." + (f"\n  {hint}" if hint else "")
    )


def _value(value: Any) -> str:
    return value if value == _NOT_SET else json.dumps(value, ensure_ascii=False)
