"""The package's JSON Schemas (``schemas/*.json``): one loader, one way to report a mismatch."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .files import user_path
from .safejson import loads as json_loads

if TYPE_CHECKING:
    from .strictschema import Validator


@cache
def validator(name: str) -> Validator:
    """A validator for ``schemas/<name>``, built once per process.

    :mod:`.strictschema`, not jsonschema: it implements exactly the keywords our schemas
    use (with jsonschema's messages) and refuses a schema that uses any other, and it costs
    no import of attrs, referencing and the format checkers on a warm run.
    """
    from .strictschema import Validator  # here: every pytest start imports this module

    text = files("pytest_modelprov").joinpath("schemas").joinpath(name).read_text(encoding="utf-8")
    return Validator(json.loads(text), f"schemas/{name}")


def problems(data: Any, name: str) -> list[tuple[str, str]]:
    """Every mismatch as ``(json path, message)``, in document order; empty when valid."""
    return problems_of(validator(name), data)


def problems_of(checker: Validator, data: Any) -> list[tuple[str, str]]:
    """:func:`problems` against a validator built from a schema of one's own."""
    if checker.is_valid(data):  # by predicates: what nearly every read is, without messages
        return []
    errors = sorted(checker.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [("/".join(str(p) for p in e.absolute_path) or "(top level)", e.message) for e in errors]


def check(data: Any, name: str, subject: str) -> None:
    """Raise ConfigError ``<subject> does not match schemas/<name> at <path>: <message>``."""
    found = problems(data, name)
    if found:
        at, message = found[0]
        more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
        raise ConfigError(f"{subject} does not match schemas/{name} at {at}: {message}{more}")


def read_json(path: str | Path, what: str) -> Any:
    """Parse a user's JSON file; every failure is a ConfigError naming ``what`` and the file.

    A relative path is found beside the file of the code that named it (:func:`user_path`).
    """
    path = user_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text") from None
    try:
        # bounded: topic sets and vendor tables come from other people's repositories too
        return json_loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from None
    except ValueError as exc:  # too deep or too large
        raise ConfigError(f"{what} {path} is not usable JSON: {exc}") from None
