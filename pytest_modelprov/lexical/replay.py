"""Lexical comparisons replayed from the run's result cache, so a warm run counts nothing.

A comparison of fingerprints sampled in this run (``lexical.fingerprint``) is a pure
function of their answers and of the call's settings. Its whole outcome (the figures, the
measurements it records, the warnings it gives and its failure message) is stored with
:func:`pytest_modelprov.calls.verdicts.cached_result` under the lexical detector's
identity (the code of this package and its ``data/lexical`` files, the detector version,
numpy's version, the version of Python's Unicode database), the settings of the call and
of each fingerprint (names, part, limits, the prompt of every text, how many texts,
generation parameters) and the ordered cache keys of every answer on every side; the
stored value must carry the digest of those answers' texts. A replayed outcome is
recorded and raised exactly as a computed one is: both go through :func:`emit`, and the
figures through the same ``parse``. Fingerprints not made of cached answers
(``from_texts``, a file, a subset) are always computed.
"""

from __future__ import annotations

import os
import sys
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from functools import lru_cache
from importlib import machinery
from pathlib import Path
from typing import Any, NamedTuple, Protocol, get_args

from ..calls import verdicts
from ..reports.measurement import Measurement, Verdict
from ..util.safejson import loads as json_loads
from .common import METHODS, UNITS, Interval, LexicalWarning
from .record import DETECTOR, Recorded, _recorder, distance_measurement


class Replayable(Recorded, Protocol):
    """A fingerprint as the result cache reads it (see ``Fingerprint.replay_side``)."""

    def replay_side(self) -> tuple[dict[str, Any], list[tuple[str, str]]] | None: ...


class Compared(Protocol):
    """A comparison's figures (``lexical.Comparison``), as stored."""

    @property
    def method(self) -> str: ...

    @property
    def unit(self) -> str: ...

    @property
    def floor(self) -> float | None: ...

    @property
    def distances(self) -> Mapping[str, Interval]: ...

    @property
    def margins(self) -> Mapping[str, Interval]: ...


#: the package modules outside this folder that the lexical code imports (and what they
#: import in turn): with every module of this folder, the code a lexical result is made of.
#: Listed, not found by reading the import statements on every run (``calls.sources``: that
#: cost more than the replay it keys, ~17 ms); ``tests/test_lexical_identity.py`` reads them
#: and fails when this list is not what the lexical modules import. Not listed, as the
#: identity always left them out: what ``checks`` imports to sample (the model handle and
#: the calls behind it) and ``lexical.baseline``'s baseline store (its drift has its own).
OUTSIDE = (
    "pytest_modelprov.calls.verdicts",
    "pytest_modelprov.errors",
    "pytest_modelprov.reports.measurement",
    "pytest_modelprov.reports.recording",
    "pytest_modelprov.util.files",
    "pytest_modelprov.util.safejson",
    "pytest_modelprov.util.schema",
    "pytest_modelprov.util.strictschema",
)
#: where the lexical modules are (where Python imports them from, links not followed)
FOLDER = Path(os.path.abspath(__file__)).parent
#: the files Python imports a module of the folder from: a source, a compiled extension
#: (found before the source beside it) or a bytecode file without a source
_IMPORTABLE = (
    *machinery.SOURCE_SUFFIXES,
    *machinery.EXTENSION_SUFFIXES,
    *machinery.BYTECODE_SUFFIXES,
)
_FIELDS = {f.name for f in fields(Measurement)}
_VERDICTS = frozenset(get_args(Verdict))


class Outcome(NamedTuple):
    """Everything a lexical call leaves behind: ``value`` (its figures, as JSON), the
    measurements it records, the :class:`LexicalWarning` messages it gives and the
    message of its AssertionError (None: it passed)."""

    # a named tuple, not a frozen dataclass: making that class cost ~0.8 ms in every run
    # that loads this module (a warm replayed run pays little else)
    value: Any
    measurements: tuple[Measurement, ...] = ()
    warnings: tuple[str, ...] = ()
    failure: str | None = None


def code_files() -> list[Path] | None:
    """Every module of the lexical package (the code that counts and compares, however few
    of its modules this run imported) and the :data:`OUTSIDE` modules; None when one is
    missing (a zipped install: then nothing is cached). A module of the folder compiled
    (an extension, or bytecode without its source) is digested as the file that runs."""
    own: list[Path] = []
    for folder, subfolders, names in os.walk(FOLDER):
        if "__pycache__" in subfolders:  # bytecode Python checks against its source
            subfolders.remove("__pycache__")
        own += (Path(folder, name) for name in names if name.endswith(_IMPORTABLE))
    own.sort()
    outside: list[Path] = []
    for name in OUTSIDE:
        # a fingerprint's modules import every one of them at their top: found loaded
        path = getattr(sys.modules.get(name), "__file__", None)
        if path is None:
            from ..calls import sources

            found = sources.module_file(name)
            if found is None:
                return None
            path = str(found)
        outside.append(Path(path))
    return own + outside if own else None


@lru_cache(maxsize=1)
def code_digest() -> str | None:
    """sha256 over :func:`code_files`, known without importing them: a warm run that
    replays every comparison never loads the counting and distance code."""
    # once per process: the code of an installed package does not change under it
    paths = code_files()
    return None if paths is None else verdicts.files_digest(paths)


def identity() -> str | None:
    """The lexical detector's identity (None: its code cannot be read; nothing is cached).

    numpy's version is part of it: a quantile or a sum computed by another numpy may differ
    in the last bit, and a replayed figure must be the one this run would compute. So is
    the version of Python's Unicode database: the tokeniser's letters, case folding and
    NFKC are its (a cache folder shared with another Python counted on other tables)."""
    code = code_digest()
    if code is None:
        return None
    return verdicts.detector_identity(
        "lexical",
        (),
        "lexical",
        {
            "detector": DETECTOR,
            "code": code,
            "numpy": verdicts.installed_version("numpy"),
            "unicode": unicodedata.unidata_version,
        },
    )


def replayed(
    call: str,
    settings: Mapping[str, Any],
    fps: Sequence[Replayable],
    compute: Callable[[], Outcome],
    parse: Callable[[Any], object],
) -> Outcome:
    """The outcome of ``call`` on ``fps`` (ours first): replayed from the run's result
    cache when it holds it, else ``compute()``-d (and stored when every fingerprint is
    made of cached answers). ``settings``: everything of the call that can move the
    outcome; ``parse`` checks a stored value is one this call can return (ValueError,
    TypeError or KeyError when not: the row is then computed again)."""
    handle = fps[0].handle
    store = handle.verdicts if handle is not None else None
    if store is None:
        return compute()
    sides: list[dict[str, Any]] = []
    answers: list[tuple[str, str]] = []
    for fp in fps:
        side = fp.replay_side()
        if side is None:
            return compute()
        sides.append(side[0])
        answers += side[1]
    key = {"call": call, **settings, "sides": sides}
    if settings.get("method") == "jaccard":
        from . import anchor as lexical_anchor

        # the anchor method's scale depends on whether (and which) wordfreq is installed
        key["scale"] = [lexical_anchor.scale(), verdicts.installed_version("wordfreq")]

    def decode(data: Any) -> Outcome:
        outcome = _decode(data)
        parse(outcome.value)
        return outcome

    return verdicts.cached_result(store, identity(), key, answers, compute, _encode, decode)


def emit(outcome: Outcome, ours: Recorded, stacklevel: int) -> None:
    """Give the outcome's warnings (``stacklevel`` as for a ``warnings.warn`` in the
    caller) and record its measurements where ``ours`` records; the caller raises."""
    for message in outcome.warnings:
        warnings.warn(LexicalWarning(message), stacklevel=stacklevel)
    record = _recorder(ours) if outcome.measurements else None
    if record is not None:
        for m in outcome.measurements:
            record(m)


def _encode(outcome: Outcome) -> dict[str, Any]:
    return {
        "value": outcome.value,
        # the measurement's own JSON form (what the reports read), back as a value
        "measurements": [json_loads(m.to_json()) for m in outcome.measurements],
        "warnings": list(outcome.warnings),
        "failure": outcome.failure,
    }


def _decode(data: Any) -> Outcome:
    if not isinstance(data, dict) or set(data) != {"value", "measurements", "warnings", "failure"}:
        raise ValueError("not a lexical outcome")
    texts, failure = data["warnings"], data["failure"]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise TypeError("warnings are not texts")
    if failure is not None and not isinstance(failure, str):
        raise TypeError("the failure is not a text")
    if not isinstance(data["measurements"], list):
        raise TypeError("measurements are not a list")
    measurements = tuple(_measurement(m) for m in data["measurements"])
    return Outcome(data["value"], measurements, tuple(texts), failure)


def _number(value: Any, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _measurement(data: Any) -> Measurement:
    """A stored measurement, its fields checked against what a lexical call records."""
    if not isinstance(data, dict) or not {"quantity", "value"} <= set(data) <= _FIELDS:
        raise ValueError("not a measurement")
    text = ("quantity", "model")
    optional_text = ("reference_label", "detector")
    if not all(isinstance(data.get(k, ""), str) for k in text):
        raise TypeError("a measurement's name is not text")
    if not all(data.get(k) is None or isinstance(data[k], str) for k in optional_text):
        raise TypeError("a measurement's label is not text")
    if not _number(data["value"]) or not all(
        _number(data.get(k), optional=True) for k in ("low", "high", "confidence", "reference")
    ):
        raise TypeError("a measurement's figure is not a number")
    n = data.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool)):
        raise TypeError("a measurement's n is not an integer")
    labels, details = data.get("labels", {}), data.get("details", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise TypeError("a measurement's labels are not texts")
    if not isinstance(details, dict):
        raise TypeError("a measurement's details are not a mapping")
    if data.get("verdict", "info") not in _VERDICTS:
        raise ValueError("not a verdict")
    return Measurement(**data)


def interval(value: Any) -> Interval:
    """An interval from its JSON form ``[value, low, high, confidence, resamples]``."""
    if (
        not isinstance(value, list)
        or len(value) != 5
        or not all(_number(x) for x in value[:4])
        or not isinstance(value[4], int)
        or isinstance(value[4], bool)
    ):
        raise ValueError("not an interval")
    return Interval(*value)


def interval_json(d: Interval) -> list[Any]:
    return [d.value, d.low, d.high, d.confidence, d.resamples]


def number(value: Any) -> float:
    if not _number(value):
        raise ValueError("not a number")
    return float(value)


def distance(a: Replayable, b: Replayable, method: str, unit: str, stacklevel: int) -> float:
    """``a``'s plain distance to ``b`` (no interval), its flags warned about and recorded
    as an ``info`` measurement: ``Fingerprint.distance`` and ``lexical.distance``.
    ``stacklevel``: of the warnings, counted from the caller."""

    def compute() -> Outcome:
        from . import distances as lexical_distance

        value = lexical_distance.distance(a, b, method, unit)
        messages = lexical_distance.flag_warnings(a, b, method, unit)
        made = () if _recorder(a) is None else (distance_measurement(a, b, method, value, unit),)
        return Outcome(value, made, tuple(messages))

    outcome = replayed("distance", {"method": method, "unit": unit}, [a, b], compute, number)
    emit(outcome, a, stacklevel + 1)
    return number(outcome.value)


# -- the JSON forms of the comparisons' results --------------------------------------------


def word_counts(value: Any) -> list[tuple[str, int, int]]:
    """``shared_words``'s result from its JSON form."""
    if not isinstance(value, list):
        raise TypeError("not a list of shared words")
    out = []
    for row in value:
        if (
            not isinstance(row, list)
            or len(row) != 3
            or not isinstance(row[0], str)
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in row[1:])
        ):
            raise ValueError("not a shared word with its counts")
        out.append((row[0], row[1], row[2]))
    return out


def settings(
    refs: Mapping[str, object],
    method: str,
    unit: str,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, Any]:
    """What a comparison's result depends on besides the fingerprints themselves."""
    return {
        "refs": list(refs),
        "method": method,
        "unit": unit,
        "confidence": confidence,
        "resamples": resamples,
        "seed": seed,
    }


def comparison_json(result: Compared) -> dict[str, Any]:
    """A comparison's figures as JSON (names with their intervals, in order)."""
    return {
        "method": result.method,
        "unit": result.unit,
        "floor": result.floor,
        "distances": [[n, interval_json(d)] for n, d in result.distances.items()],
        "margins": [[n, interval_json(m)] for n, m in result.margins.items()],
    }


Intervals = dict[str, Interval]
_COMPARISON = {"method", "unit", "floor", "distances", "margins"}


def comparison_parts(value: Any) -> tuple[str, str, float | None, Intervals, Intervals]:
    """A comparison's figures from their JSON form: method, unit, noise floor, distances
    and margins (ValueError or TypeError when it is not one)."""
    if not isinstance(value, dict) or set(value) != _COMPARISON:
        raise ValueError("not a lexical comparison")
    method, unit, floor = value["method"], value["unit"], value["floor"]
    if method not in METHODS or unit not in UNITS:
        raise ValueError("not a lexical method or unit")
    if floor is not None:
        floor = number(floor)
    parts = []
    for key in ("distances", "margins"):
        rows = value[key]
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and len(r) == 2 and isinstance(r[0], str) for r in rows
        ):
            raise TypeError(f"{key} are not named intervals")
        parts.append({r[0]: interval(r[1]) for r in rows})
    if not parts[0]:
        raise ValueError("a comparison without distances")
    return method, unit, floor, parts[0], parts[1]
