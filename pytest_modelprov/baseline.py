"""Stored baselines: what a model measured once, compared with what it measures now.

A baseline is one JSON file per check, under ``<baseline dir>/<label>/<test file>/``, so it
is committed and reviewed with the tests. It holds the per-item outcomes (so a later run
is compared item by item, paired), the model and the snapshots it resolved to, the probe
or topic set and its version, the detector and its version, the sample count and the date,
and is validated against ``schemas/baseline.schema.json`` on every load.

The flow is syrupy's: a run compares and fails on drift; ``--modelprov-update-baselines``
writes new baselines for the checks that ran (an unchanged one is left byte for byte); a
missing baseline fails with the command that records it; a baseline that fails validation
is an error naming the file and is never overwritten.

Detectors take part by registering an :class:`Adapter` for their result type.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._version import __version__
from .comparable import require_same_params
from .config import DEFAULT_BASELINE_LABEL, check_label
from .drift import Drift, Rule, decide, parse_rules, resolve_rule
from .errors import ConfigError
from .reports.measurement import Measurement
from .util import schema
from .util.files import display_path as _shown
from .util.files import write_text_atomic
from .util.safejson import loads as json_loads

__all__ = [
    "FORMAT",
    "Adapter",
    "Baseline",
    "BaselineError",
    "BaselineEvent",
    "BaselineWarning",
    "Store",
    "register",
]

FORMAT = "pytest-modelprov-baseline/1"
SCHEMA = "baseline.schema.json"
#: the user_property that tells the controller which baseline file a test used, and how
PROPERTY = "modelprov.baseline"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-\[\]=]")
#: bytes of one path part: ext4 and APFS allow 255, and the name adds ".<check>.json"
_MAX_PART = 120


class BaselineError(ConfigError):
    """A baseline file is missing, unreadable or invalid; the message names the file."""


class BaselineWarning(UserWarning):
    """A baseline comparison passed but could not have detected the margin it was given."""


# -- detectors plug in here ------------------------------------------------------------------

RuleLookup = Callable[[str], Rule]


@dataclass(frozen=True)
class Adapter:
    """How one detector's result becomes a baseline and how two baselines are compared.

    ``payload(result)`` is the JSON-able per-item data; ``describe(result)`` the envelope
    fields (``model``, ``model_name``, ``resolved``, ``set``, ``detector``, ``samples``);
    ``drift(before, after, rules, confidence, **options)`` compares two payloads slice by
    slice (rules gives the Rule for a quantity; ``options`` are the check's keyword options
    the adapter names in ``options``); ``validate(payload, where)`` raises BaselineError
    naming ``where`` beyond what the JSON Schema checks.
    """

    kind: str
    type: type
    default_name: Callable[[Any], str]
    payload: Callable[[Any], dict[str, Any]]
    describe: Callable[[Any], dict[str, Any]]
    drift: Callable[..., list[Drift]]
    summary: Callable[[Mapping[str, Any]], list[dict[str, Any]]]
    validate: Callable[[Mapping[str, Any], str], object] = lambda payload, where: None
    #: keyword options of ``check`` this kind understands (passed on to ``drift``)
    options: frozenset[str] = frozenset()


# a list, not a dict by kind: a module imported twice (pytester's in-process runs restore
# sys.modules) brings a second class, and results of the first must stay checkable
_ADAPTERS: list[Adapter] = []


def register(adapter: Adapter) -> None:
    """Make ``adapter.type`` results checkable against baselines (detector modules call this)."""
    if not any(a.type is adapter.type for a in _ADAPTERS):
        _ADAPTERS.append(adapter)


def _by_kind(kind: str) -> Adapter | None:
    return next((a for a in reversed(_ADAPTERS) if a.kind == kind), None)


#: modules whose adapters ship with the package (imported on first use, not at import time,
#: because they import this module)
_BUILTIN = {
    "refusal": "refusal.baseline",
    "identity": "identity.baseline",
    "lexical": "lexical.baseline",
}


def _load_builtin() -> None:
    import importlib

    # every time: a dict lookup when imported, and a re-import registers the new classes
    for module in _BUILTIN.values():
        importlib.import_module(f"{__package__}.{module}")


def adapter_for(result: Any) -> Adapter:
    _load_builtin()
    for adapter in _ADAPTERS:
        if isinstance(result, adapter.type):
            return adapter
    known = ", ".join(sorted({f"{a.type.__module__}.{a.type.__qualname__}" for a in _ADAPTERS}))
    raise TypeError(
        f"modelprov baseline: cannot check a {type(result).__name__}; baselines take the "
        f"results of refusal.measure, identity.probe or lexical.fingerprint ({known})"
    )


# -- files ----------------------------------------------------------------------------------


def _safe(part: str) -> str:
    """A file-name part that maps distinct ids to distinct names (percent-escaped UTF-8,
    ``%`` itself included) and stays within file-system limits (a hash when cut)."""
    escaped = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), part)
    if len(escaped) <= _MAX_PART:
        return escaped
    digest = hashlib.sha256(part.encode("utf-8")).hexdigest()[:12]
    return f"{escaped[: _MAX_PART - 13]}-{digest}"


@dataclass
class Store:
    """The baseline directory: one sub-directory per label."""

    directory: Path

    def path(self, label: str, nodeid: str, name: str) -> Path:
        module, _, test = nodeid.partition("::")
        stem = module[:-3] if module.endswith(".py") else module
        folder = self.directory / label / Path(*[_safe(p) for p in stem.split("/") if p])
        return folder / f"{_safe(test.replace('::', '.'))}.{_safe(name)}.json"

    def load(self, path: Path) -> dict[str, Any]:
        """Read and validate one baseline; BaselineError names the file and what to do."""
        shown = _shown(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise BaselineError(f"baseline {shown} cannot be read: {exc.strerror}") from None
        fix = (
            "fix it by hand or delete it and re-record with --modelprov-update-baselines "
            "(it is never overwritten while invalid)"
        )
        try:
            data = json_loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BaselineError(f"baseline {shown} is not valid JSON ({exc}); {fix}") from None
        try:
            schema.check(data, SCHEMA, f"baseline {shown}")
        except ConfigError as exc:
            raise BaselineError(f"{exc}; {fix}") from None
        _load_builtin()
        adapter = _by_kind(data["kind"])
        if adapter is not None:
            try:
                adapter.validate(data["payload"], f"baseline {shown}")
            except ConfigError as exc:
                raise BaselineError(f"{exc}; {fix}") from None
        return dict(data)

    def write(self, path: Path, document: Mapping[str, Any]) -> None:
        """Atomic: a reader (or a killed run) never sees half a file."""
        schema.check(document, SCHEMA, f"baseline {path}")
        write_text_atomic(path, json.dumps(document, ensure_ascii=False, indent=1) + "\n")

    def files(self, label: str) -> list[Path]:
        root = self.directory / label
        if not root.is_dir():
            return []
        return sorted(p for p in root.rglob("*.json") if not p.name.startswith("."))


# -- what the fixture does --------------------------------------------------------------------


@dataclass(frozen=True)
class BaselineEvent:
    """What a check did with a baseline file; carried to the controller in the test report."""

    path: str
    status: str  # compared, drifted, written, unchanged, missing, invalid
    label: str
    test: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> BaselineEvent:
        data = json_loads(text)
        return cls(str(data["path"]), str(data["status"]), str(data["label"]), str(data["test"]))


@dataclass
class Options:
    """The run's baseline settings, resolved by the plugin from CLI, env and ini."""

    store: Store
    label: str
    update: bool = False
    cli_rules: Mapping[str, Rule] = field(default_factory=dict)
    config_rules: Mapping[str, Rule] = field(default_factory=dict)


def _document(
    adapter: Adapter, result: Any, *, label: str, nodeid: str, name: str
) -> dict[str, Any]:
    described = adapter.describe(result)
    payload = adapter.payload(result)
    document: dict[str, Any] = {
        "format": FORMAT,
        "kind": adapter.kind,
        "label": label,
        "test": nodeid,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "plugin_version": str(__version__),
        "model": {
            "name": described["model_name"],
            "model": described["model"],
            "resolved": sorted(described.get("resolved") or []),
        },
        "set": described.get("set"),
        "detector": described["detector"],
        "samples": int(described.get("samples") or 1),
        "summary": adapter.summary(payload),
        "payload": payload,
    }
    params = getattr(result, "params", None)
    if params is not None:
        document["params"] = dict(params)
    return document


_VOLATILE = ("created", "plugin_version")


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal but for when and by which plugin version it was written."""

    def strip(d: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in d.items() if k not in _VOLATILE}, sort_keys=True)

    return strip(a) == strip(b)


class Baseline:
    """The ``modelprov_baseline`` fixture: compare a result with its stored baseline.

    ::

        def test_refusal_stable(model_under_test, modelprov_baseline):
            result = refusal.measure(model_under_test, refusal.topics("china-criticism"))
            modelprov_baseline.check(result)
    """

    def __init__(
        self,
        options: Options,
        nodeid: str,
        *,
        record: Callable[[Measurement], None],
        event: Callable[[BaselineEvent], None],
        marker_rules: Mapping[str, Rule] | None = None,
    ) -> None:
        self.options = options
        self.nodeid = nodeid
        self._record = record
        self._event = event
        self._marker_rules = dict(marker_rules or {})
        self._names: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.options.label

    def path(self, result: Any, *, name: str | None = None, label: str | None = None) -> Path:
        """Where the baseline of this check lives."""
        adapter = adapter_for(result)
        return self.options.store.path(
            label or self.options.label, self.nodeid, name or adapter.default_name(result)
        )

    def load(self, result_type: str, *, name: str, label: str | None = None) -> dict[str, Any]:
        """The stored baseline document of this test's check ``name`` (e.g. to inspect it)."""
        path = self.options.store.path(label or self.options.label, self.nodeid, name)
        try:
            return self.options.store.load(path)
        except FileNotFoundError:
            raise BaselineError(f"no {result_type} baseline at {path}") from None

    def rules(self, check_rules: str | Sequence[str] | None = None) -> RuleLookup:
        """CLI > this check's ``rule=`` > the closest ``modelprov_drift`` marker > ini/env >
        the built-in default, per quantity."""
        lines = [check_rules] if isinstance(check_rules, str) else list(check_rules or [])
        own = parse_rules(lines, f"{self.nodeid}: check(rule=...)")
        layers = (self.options.cli_rules, own, self._marker_rules, self.options.config_rules)
        return lambda quantity: resolve_rule(quantity, *layers)

    def check(
        self,
        result: Any,
        *,
        name: str | None = None,
        label: str | None = None,
        rule: str | Sequence[str] | None = None,
        confidence: float = 0.95,
        underpowered: str = "warn",
        own: str | Sequence[str] | None = None,
    ) -> list[Drift]:
        """Compare ``result`` with its stored baseline and fail on drift (or, with
        ``--modelprov-update-baselines``, store it as the new baseline).

        ``name`` tells two checks of the same kind in one test apart; ``label`` picks the
        baseline of another release (``"v1.2"``) instead of the run's; ``rule`` overrides
        drift rules for this check (``"refusal.rate:+0.05"``). ``underpowered`` ("warn",
        "fail", "ignore"): what to do when the sample cannot detect the rule's margin.
        ``own`` (identity results): the model's own vendor id(s); adds a ``foreign`` slice,
        claims of any other vendor, so new claims spread over many vendors are caught.
        """
        __tracebackhide__ = True
        if underpowered not in ("warn", "fail", "ignore"):
            raise ValueError(f"underpowered must be warn, fail or ignore, got {underpowered!r}")
        adapter = adapter_for(result)
        options: dict[str, Any] = {}
        if own is not None:
            if "own" not in adapter.options:
                raise ValueError(
                    f"check(own=...) applies to identity results, not to a {adapter.kind} result"
                )
            options["own"] = own
        name = name or adapter.default_name(result)
        label = check_label(label, f"{self.nodeid}: check(label=...)") if label else self.label
        with self._lock:
            if (label, name) in self._names:
                raise ValueError(
                    f"{self.nodeid}: two baseline checks named {name!r} in one test; give "
                    "each its own name=..."
                )
            self._names.add((label, name))
        lookup = self.rules(rule)
        store = self.options.store
        path = store.path(label, self.nodeid, name)
        shown = _shown(path)
        current = _document(adapter, result, label=label, nodeid=self.nodeid, name=name)
        # an update run rewrites the run's label only: a check pinned to "v1.2" keeps
        # comparing with v1.2, or accepting today's model would silently become v1.2
        if self.options.update and label == self.options.label:
            return self._update(path, shown, current, label, adapter, lookup, confidence, options)
        try:
            before = store.load(path)
        except FileNotFoundError:
            self._emit(path, "missing", label)
            raise AssertionError(
                f"no baseline {label!r} for this check ({adapter.kind} {name!r}) at {shown}"
                f"\n  record it with: pytest --modelprov-update-baselines"
                + (f" --modelprov-baseline {label}" if label != DEFAULT_BASELINE_LABEL else "")
                + f" '{self.nodeid}'\n  then review and commit the file"
            ) from None
        except BaselineError as exc:
            self._emit(path, "invalid", label)
            raise AssertionError(str(exc)) from None
        try:
            _comparable(before, current, shown)
            drifts = adapter.drift(
                before["payload"], current["payload"], lookup, confidence, **options
            )
            _paired(drifts, before, current, shown)
        except AssertionError:
            self._emit(path, "incomparable", label)
            raise
        drifts = decide(drifts)
        failed = [d for d in drifts if d.failed]
        self._emit(path, "drifted" if failed else "compared", label)
        weak = [d for d in drifts if not d.failed and d.underpowered]
        for d in drifts:
            # a pass its items could not have turned into a fail is inconclusive (the plugin
            # fails or warns per --modelprov-inconclusive), unless the check ignores power
            open_ = d in weak and underpowered != "ignore"
            self._record(_measurement(d, before, current, label, adapter.kind, open_))
        notes = [
            f"{d.name}: {d.pairs} paired items can only detect a change of "
            f"{d.detectable:.2f} at 80% power (alpha {d.rule.alpha:g}), more than the margin "
            f"{d.rule.margin:g}: sample more prompts or more answers per prompt"
            for d in weak
            if d.detectable is not None
        ]
        if failed:
            raise AssertionError(_failure(failed, before, current, shown, label, notes))
        if notes and underpowered == "fail":
            raise AssertionError(
                "stability against the baseline not shown:\n  " + "\n  ".join(notes)
            )
        if notes and underpowered == "warn":
            warnings.warn(BaselineWarning("; ".join(notes)), stacklevel=2)
        return drifts

    def _update(
        self,
        path: Path,
        shown: str,
        current: dict[str, Any],
        label: str,
        adapter: Adapter,
        lookup: RuleLookup,
        confidence: float,
        options: Mapping[str, Any],
    ) -> list[Drift]:
        __tracebackhide__ = True
        store = self.options.store
        # a baseline later runs could not be compared with (every answer undecided, too few
        # prompts) would make every later check pass: refuse it now
        try:
            _paired(
                adapter.drift(
                    current["payload"], current["payload"], lookup, confidence, **options
                ),
                current,
                current,
                shown,
            )
        except AssertionError as exc:
            self._emit(path, "incomparable", label)
            raise AssertionError(f"not recorded as a baseline: {exc}") from None
        try:
            before = store.load(path)
        except FileNotFoundError:
            before = None
        except BaselineError as exc:
            self._emit(path, "invalid", label)
            raise AssertionError(f"{exc}. Not overwritten.") from None
        if before is not None and _same(before, current):
            self._emit(path, "unchanged", label)
            return []
        store.write(path, current)
        self._emit(path, "written", label)
        return []

    def _emit(self, path: Path, status: str, label: str) -> None:
        self._event(BaselineEvent(str(path.resolve()), status, label, self.nodeid))


def _paired(
    drifts: Sequence[Drift], before: Mapping[str, Any], current: Mapping[str, Any], shown: str
) -> None:
    """A comparison that compared nothing must not pass."""
    __tracebackhide__ = True

    def slices(doc: Mapping[str, Any]) -> str:
        rows = doc.get("summary") or []
        return (
            ", ".join(f"{','.join(r['labels'].values())} ({r['n']} decided)" for r in rows)
            or "none"
        )

    empty = [d for d in drifts if d.pairs == 0]
    if not drifts or empty:
        where = ", ".join(d.name for d in empty) or "every slice"
        raise AssertionError(
            f"baseline {shown}: nothing to compare in {where}: no item was answered (and "
            f"decided) in both runs. Baseline: {slices(before)}; this run: {slices(current)}. "
            "Check that the prompts, languages and set version match, and that answers are "
            "not all cut off or unclassifiable; then re-record with --modelprov-update-baselines"
        )
    b_rows = {tuple(r["labels"].items()) for r in before.get("summary") or []}
    c_rows = {tuple(r["labels"].items()) for r in current.get("summary") or []}
    if before["kind"] == "refusal" and b_rows != c_rows:
        raise AssertionError(
            f"baseline {shown} covers {slices(before)}, this run {slices(current)}: a slice "
            "only one of them has is not compared; measure the same languages, or give the "
            "check another name=..."
        )


def _comparable(before: Mapping[str, Any], current: Mapping[str, Any], shown: str) -> None:
    __tracebackhide__ = True
    redo = "re-record the baseline with --modelprov-update-baselines"
    if before["test"] != current["test"]:
        raise AssertionError(
            f"baseline {shown} belongs to test {before['test']!r}, not {current['test']!r} "
            "(two test ids map to one file?); give the check a name=..."
        )
    if before["kind"] != current["kind"]:
        raise AssertionError(
            f"baseline {shown} holds a {before['kind']} result, this check measured "
            f"{current['kind']}; {redo}, or give the check another name=..."
        )
    if before["detector"] != current["detector"]:
        raise AssertionError(
            f"baseline {shown} was measured with detector {before['detector']}, this run "
            f"uses {current['detector']}: the figures are not comparable; {redo}"
        )
    b_set, c_set = before.get("set") or {}, current.get("set") or {}
    if b_set.get("version") != c_set.get("version") and b_set.get("name") == c_set.get("name"):
        raise AssertionError(
            f"baseline {shown} was measured on version {b_set.get('version')!r} of set "
            f"{b_set.get('name')!r}, this check on version {c_set.get('version')!r}: prompts "
            f"may differ, so they cannot be paired; {redo}"
        )
    if b_set.get("name") != c_set.get("name"):
        raise AssertionError(
            f"baseline {shown} was measured on set {b_set.get('name')!r}, this check on "
            f"{c_set.get('name')!r}; {redo}, or give the check another name=..."
        )
    require_same_params(
        before.get("params"),
        current.get("params"),
        a_name=f"baseline {shown} ({before['model']['model']})",
        b_name=f"this run ({current['model']['model']})",
        what=f"this check and its baseline {shown}",
        hint=f"If this run's parameters are the new normal, {redo}.",
    )


def _measurement(
    d: Drift,
    before: Mapping[str, Any],
    current: Mapping[str, Any],
    label: str,
    kind: str,
    inconclusive: bool = False,
) -> Measurement:
    extra: dict[str, Any] = {}
    if inconclusive:
        extra["flags"] = ["underpowered"]
        with contextlib.suppress(ValueError):  # a margin no sample can show: no figure
            # here, not at the top: samplesize needs numpy, and every pytest run imports
            # this module with the plugin
            from . import samplesize

            extra["needed_n"] = samplesize.prompts_for_margin(d.rule.margin, alpha=d.rule.alpha)
    return Measurement(
        quantity=d.quantity,
        model=str(current["model"]["name"]),
        value=d.after,
        labels=dict(d.labels),
        low=d.after_interval[0] if d.after_interval else None,
        high=d.after_interval[1] if d.after_interval else None,
        confidence=d.confidence,
        n=d.pairs,
        reference=d.before,
        reference_label=f"baseline {label}",
        verdict="fail" if d.failed else "inconclusive" if inconclusive else "pass",
        detector=str(before["detector"]),
        details={
            **extra,
            "baseline": {
                "value": d.before,
                "low": d.before_interval[0] if d.before_interval else None,
                "high": d.before_interval[1] if d.before_interval else None,
                "label": label,
                "model": before["model"]["model"],
                "created": before["created"],
            },
            "change": d.change,
            "change_low": d.low,
            "change_high": d.high,
            "p": d.p,
            "p_adjusted": d.p_adjusted,
            "test": d.test,
            "rule": str(d.rule),
            "rule_source": d.rule.source,
            "smallest_detectable": d.detectable,
            "kind": kind,
            **dict(d.details),
            # a detector's own flags (unvalidated, audited) join the verdict's, never replace them
            **(
                {"flags": flags}
                if (flags := [*extra.get("flags", []), *d.details.get("flags", [])])
                else {}
            ),
        },
    )


def _failure(
    failed: Sequence[Drift],
    before: Mapping[str, Any],
    current: Mapping[str, Any],
    shown: str,
    label: str,
    notes: Sequence[str],
) -> str:
    b_model, c_model = before["model"], current["model"]
    lines = [
        f"drift from baseline {label!r} ({shown}):",
        f"  baseline: {b_model['model']} ({', '.join(b_model['resolved']) or 'snapshot unknown'})"
        f", recorded {before['created']}; now: {c_model['model']} "
        f"({', '.join(c_model['resolved']) or 'snapshot unknown'}); detector {current['detector']}",
    ]
    for d in failed:
        lines.append("  " + d.describe())
        for item, was, now in d.examples:
            lines.append(f"    {item}: {was} -> {now}")
    lines.extend(f"  note: {n}" for n in notes)
    lines.append(
        "  if the change is intended, re-record with --modelprov-update-baselines and commit it"
    )
    return "\n".join(lines)


def find_unused(
    store: Store,
    labels: Sequence[str],
    events: Sequence[BaselineEvent],
    collected: set[str],
    passed: set[str],
    root: Path | None = None,
) -> list[Path]:
    """Baseline files no check used.

    Counted only where the run says something: the file's test module was collected, and
    its test either no longer exists or passed without using the file; or the test module
    no longer exists under ``root`` (the rootdir test ids are relative to), so no run can
    use it again (the test file was moved or deleted). A skipped, failed or deselected test
    leaves its baselines alone (syrupy #842).
    """
    used = {Path(e.path) for e in events}
    modules = {nodeid.partition("::")[0] for nodeid in collected}
    unused = []
    for label in dict.fromkeys(labels):
        for path in store.files(label):
            if path.resolve() in used:
                continue
            try:
                test = str(json_loads(path.read_text(encoding="utf-8")).get("test", ""))
            except (OSError, ValueError, AttributeError):
                continue  # unreadable files are reported by the check that loads them
            module = test.partition("::")[0]
            if module not in modules and (root is None or not module or (root / module).exists()):
                continue
            if test in collected and test not in passed:
                continue
            unused.append(path)
    return unused
