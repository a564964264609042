"""Resolving a run's settings from their sources: :func:`resolve` reads every option in order
of precedence (:mod:`.options`), checks each value (:mod:`.checks`), resolves the model
under test and the references (:mod:`.models`) and returns :class:`~.settings.Settings`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..drift import Rule, parse_rules
from ..errors import ConfigError
from .checks import (
    _flag,
    _number,
    _split_assignment,
)
from .models import (
    _check_output_file,
    _model_given,
    _model_under_test,
    _param_lines,
    _reference_fields,
    resolve_references,
)
from .options import (
    ENV_NAMES,
    OPTIONS_BY_NAME,
    Sources,
    _get,
)
from .settings import (
    _LABEL,
    _REF_NAME,
    DEFAULT_BASELINE_DIR,
    DEFAULT_BASELINE_LABEL,
    DEFAULT_CACHE_DIR,
    Budget,
    Inconclusive,
    ModelSpec,
    Progress,
    RecordMode,
    Settings,
    Switch,
    Unconfigured,
    UnusedBaselines,
)

# ---------------------------------------------------------------------------------------
# the settings table: one row per scalar setting, shared by plugin (options, ini) and docs


def resolve(sources: Sources, rootdir: Path) -> Settings:
    """Resolve and validate every setting; raises ConfigError naming the culprit."""
    record_mode, record_source = _record_mode(sources)
    under_test = _model_under_test(sources)
    cache_dir_raw = _get(sources, "cache_dir")
    cache_dir = Path(cache_dir_raw[0]).expanduser() if cache_dir_raw else Path(DEFAULT_CACHE_DIR)
    if not cache_dir.is_absolute():
        cache_dir = rootdir / cache_dir
    transcript = _check_output_file(_path(sources, "transcript", rootdir), "transcript", sources)
    unused = _get(sources, "unused_baselines")
    progress = _get(sources, "progress")
    inconclusive = _get(sources, "inconclusive")
    reference_fields, reference_given = _reference_fields(sources)
    references = resolve_references(reference_fields, under_test, sources.environ)
    verdict_cache = _get(sources, "verdict_cache")
    unconfigured_raw = _get(sources, "unconfigured")
    unconfigured = _enum(Unconfigured, *unconfigured_raw) if unconfigured_raw else Unconfigured.FAIL
    return Settings(
        record_mode=record_mode,
        record_mode_source=record_source,
        cache_dir=cache_dir,
        concurrency=_number(sources, "concurrency", 8, int),
        max_retries=_number(sources, "max_retries", 4, int),
        timeout=_number(sources, "timeout", 120.0, float),
        retry_backoff=_number(sources, "retry_backoff", 1.0, float),
        max_retry_wait=_number(sources, "max_retry_wait", 60.0, float),
        unconfigured=unconfigured,
        unconfigured_from_cli=sources.cli(OPTIONS_BY_NAME["unconfigured"]) not in (None, ""),
        model=under_test,
        references=references,
        transcript=transcript,
        report_json=_check_output_file(
            _path(sources, "report_json", rootdir), "report_json", sources
        ),
        report_md=_check_output_file(_path(sources, "report_md", rootdir), "report_md", sources),
        report_html=_check_output_file(
            _path(sources, "report_html", rootdir), "report_html", sources
        ),
        baseline_dir=_path(sources, "baseline_dir", rootdir) or rootdir / DEFAULT_BASELINE_DIR,
        baseline_label=_baseline_label(sources),
        drift_cli=_drift_rules(sources, "cli"),
        drift_config={**_drift_rules(sources, "ini"), **_drift_rules(sources, "env")},
        unused_baselines=_enum(UnusedBaselines, *unused) if unused else UnusedBaselines.WARN,
        budget=_check_budget(_budget(sources), under_test, references),
        progress=_enum(Progress, *progress) if progress else Progress.AUTO,
        verdict_cache=_enum(Switch, *verdict_cache) is Switch.ON if verdict_cache else True,
        inconclusive=_enum(Inconclusive, *inconclusive) if inconclusive else Inconclusive.FAIL,
        batch_poll=_number(sources, "batch_poll", 30.0, float),
        batch_wait=_number(sources, "batch_wait", 24 * 3600.0, float),
        identity_vendors=_path(sources, "identity_vendors", rootdir),
        allow_empty=_flag(sources, "allow_empty"),
        model_given=_model_given(sources),
        reference_fields=reference_fields,
        reference_given=reference_given,
    )


def _limit(raw: str, source: str, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"modelprov: {what} {raw!r} from {source} is not valid; it must be a number > 0"
        )
    return value


def _check_budget(
    budget: Budget, under_test: ModelSpec | None, references: Mapping[str, ModelSpec]
) -> Budget:
    specs = {"model": under_test, **references}
    if budget.cost is not None and not any(s is not None and s.price for s in specs.values()):
        raise ConfigError(
            f"modelprov: the cost budget from {budget.source} limits nothing: no configured "
            "model has a price. Set --modelprov-price (or NAME.price for references) as "
            "IN/OUT USD per million tokens, or limit calls instead (calls=N)."
        )
    for name, (_, cost) in budget.per_model.items():
        if name not in specs:
            raise ConfigError(
                f"modelprov: the budget from {budget.source} names {name!r}, which is not a "
                f"configured model; names: {', '.join(sorted(specs))} ('model' is the model "
                "under test)"
            )
        spec = specs[name]
        if cost is not None and spec is not None and spec.price is None:
            where = "--modelprov-price" if name == "model" else name + ".price"
            raise ConfigError(
                f"modelprov: a cost budget for {name!r} (from {budget.source}) needs its price "
                f"to estimate spending: set {where}=IN/OUT (USD per million tokens)"
            )
    return budget


def _budget(sources: Sources) -> Budget:
    option = OPTIONS_BY_NAME["budget"]
    calls: int | None = None
    cost: float | None = None
    per_model: dict[str, list[Any]] = {}
    sources_seen = []
    for raw, source in (
        (sources.ini(option), "ini modelprov_budget"),
        (sources.env(option), "MODELPROV_BUDGET"),
        (sources.cli(option), "--modelprov-budget"),
    ):
        lines = [p for line in _param_lines(raw) for p in line.split()]
        if lines:
            sources_seen.append(source)
        for line in lines:
            target, value = _split_assignment(
                line, source, "a budget item: calls=N, cost=USD, NAME.calls=N or NAME.cost=USD"
            )
            name, dot, what = target.rpartition(".")
            if what not in ("calls", "cost") or (dot and not _REF_NAME.match(name)):
                raise ConfigError(
                    f"modelprov: budget item {line!r} from {source} is not valid; write "
                    "calls=N, cost=USD, NAME.calls=N or NAME.cost=USD (NAME 'model' is the "
                    "model under test), e.g. --modelprov-budget calls=2000"
                )
            number: float | int
            if what == "calls":
                number = _limit(value, source, "budget calls")
                if not float(number).is_integer():
                    raise ConfigError(
                        f"modelprov: budget {line!r} from {source}: calls must be a whole number"
                    )
                number = int(number)
            else:
                number = _limit(value, source, "budget cost")
            if not dot:
                if what == "calls":
                    calls = int(number)
                else:
                    cost = float(number)
            else:
                entry = per_model.setdefault(name, [None, None])
                entry[0 if what == "calls" else 1] = number
    return Budget(
        calls=calls,
        cost=cost,
        per_model={k: (v[0], v[1]) for k, v in per_model.items()},
        source=", ".join(sources_seen),
    )


def check_label(label: str, source: str) -> str:
    """A baseline label names a directory: letters, digits and . _ + - only."""
    if not _LABEL.match(label):
        raise ConfigError(
            f"modelprov: baseline label {label!r} from {source} is not a valid name; use "
            "letters, digits, '.', '_', '+' or '-' (e.g. v1.2 or release-2026-11)"
        )
    return label


def _baseline_label(sources: Sources) -> str:
    found = _get(sources, "baseline")
    if not found:
        return DEFAULT_BASELINE_LABEL
    return check_label(found[0].strip(), found[1])


def _drift_rules(sources: Sources, where: str) -> dict[str, Rule]:
    option = OPTIONS_BY_NAME["drift"]
    if where == "cli":
        raw, source = sources.cli(option), option.flag
    elif where == "env":
        raw, source = sources.env(option), ENV_NAMES.get(option.name, option.env)
    else:
        raw, source = sources.ini(option), "ini modelprov_drift"
    if not raw:
        return {}
    lines = raw if isinstance(raw, list) else str(raw).splitlines()
    return parse_rules(lines, source)


def _path(sources: Sources, name: str, rootdir: Path) -> Path | None:
    """A file setting; relative paths are taken from the rootdir, as pytest's ini paths are."""
    raw = _get(sources, name)
    if not raw:
        return None
    path = Path(raw[0]).expanduser()
    return path if path.is_absolute() else rootdir / path


def _enum(enum: type[Any], raw: str, source: str) -> Any:
    try:
        return enum(raw.strip().lower())
    except ValueError:
        valid = ", ".join(m.value for m in enum)
        raise ConfigError(
            f"modelprov: {raw!r} from {source} is not valid; valid values: {valid}"
        ) from None


def _record_mode(sources: Sources) -> tuple[RecordMode, str]:
    found = _get(sources, "record_mode")
    if found:
        return _enum(RecordMode, *found), found[1]
    ci = sources.environ.get("CI", "")
    if ci.strip().lower() not in ("", "0", "false", "no", "off"):
        return RecordMode.REPLAY, f"default (replay because CI={ci})"
    return RecordMode.ONCE, "default"


# ---------------------------------------------------------------------------------------
# validation of numeric settings: one table of sane bounds, one check
