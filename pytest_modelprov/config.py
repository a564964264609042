"""Settings: where they come from, what values are valid, and how they combine.

Precedence, highest first, for every setting:

1. the command-line option (``--modelprov-…``),
2. the environment variable (``MODELPROV_…``),
3. the pytest ini key (``modelprov_…`` in ``pyproject.toml``, ``pytest.ini``, ``setup.cfg``),
4. the default (for the model under test, the openai SDK's ``OPENAI_BASE_URL`` and
   ``OPENAI_API_KEY`` come just before the built-in default).

Generation parameters and reference models are merged key by key in the same order, so a
CLI ``--modelprov-param temperature=0`` changes the temperature and keeps the ini's
``max_tokens``.

This module knows nothing about pytest objects: the plugin hands it a lookup function,
which keeps it usable from the ``modelprov`` command line too.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .drift import Rule, parse_rules
from .errors import ConfigError
from .safejson import loads as json_loads

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_CACHE_DIR = ".modelprov/cache"
DEFAULT_BASELINE_DIR = "modelprov-baselines"
DEFAULT_BASELINE_LABEL = "default"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


class RecordMode(str, Enum):
    """What the cache does with a call (pytest-recording's modes, named for model calls)."""

    ONCE = "once"  # replay what is recorded, record what is missing
    REPLAY = "replay"  # never touch the network; a miss fails the test
    REFRESH = "refresh"  # call again and overwrite what the run touches
    OFF = "off"  # no reading, no writing

    def __str__(self) -> str:
        return self.value


class UnusedBaselines(str, Enum):
    """What a baseline file that no check of the run used does to the run."""

    WARN = "warn"
    FAIL = "fail"
    IGNORE = "ignore"


class Switch(str, Enum):
    """A setting that is on or off."""

    ON = "on"
    OFF = "off"

    def __str__(self) -> str:
        return self.value


class Inconclusive(str, Enum):
    """What a check that its sample cannot decide (too few answers, an underpowered gate)
    does to its test. Never a pass: ``warn`` lets the test pass but every report shows the
    check as inconclusive, with the answers that would decide it."""

    FAIL = "fail"
    WARN = "warn"

    def __str__(self) -> str:
        return self.value


class Progress(str, Enum):
    """Whether a live progress line is drawn while a test waits for model calls."""

    AUTO = "auto"  # on a terminal, unless -q
    ON = "on"
    OFF = "off"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Budget:
    """Most requests and estimated USD a run may spend, in all and per model name.

    ``model`` in ``per_model`` is the model under test; other names are references.
    """

    calls: int | None = None
    cost: float | None = None
    per_model: Mapping[str, tuple[int | None, float | None]] = field(default_factory=dict)
    source: str = ""

    def __bool__(self) -> bool:
        return self.calls is not None or self.cost is not None or bool(self.per_model)

    def for_model(self, name: str) -> tuple[int | None, float | None]:
        return self.per_model.get(name, (None, None))

    def describe(self) -> str:
        parts = []
        if self.calls is not None:
            parts.append(f"calls={self.calls}")
        if self.cost is not None:
            parts.append(f"cost={self.cost:g}")
        for name, (calls, cost) in sorted(self.per_model.items()):
            if calls is not None:
                parts.append(f"{name}.calls={calls}")
            if cost is not None:
                parts.append(f"{name}.cost={cost:g}")
        return " ".join(parts)


class Unconfigured(str, Enum):
    """What a test that needs an unconfigured model does."""

    FAIL = "fail"
    SKIP = "skip"

    def __str__(self) -> str:
        return self.value


# Parameters of the chat-completions request that a user may set. A closed list so that a
# typo ("temprature") is an error instead of a silently different cache key; anything a
# vendor adds goes through ``extra_body``, as in the openai SDK.
GENERATION_PARAMS: frozenset[str] = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning_effort",
        "verbosity",
        "modalities",
        "prediction",
        "service_tier",
        "store",
        "metadata",
        "user",
        "web_search_options",
        "extra_body",
    }
)

# Parameters the plugin sets itself; a user value would break the one-sample-per-entry rule.
_RESERVED_PARAMS = {
    "n": "sample several answers with sample(prompts, n=...) instead: each sample is its own "
    "cache entry",
    "stream": "streaming is not supported; answers are cached whole",
    "messages": "pass messages as the prompts argument",
    "model": "set the model id with --modelprov-model or the reference's .model field",
}

REFERENCE_FIELDS = (
    "model",
    "base_url",
    "api_key_env",
    "price",
    "endpoint_id",
    "rpm",
    "tpm",
    "inherit_params",
)
_REF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SENSITIVE_QUERY = re.compile(r"(key|token|secret|sig|signature|password|auth)", re.I)


@dataclass(frozen=True)
class Price:
    """USD per million tokens, input and output (reasoning tokens are output)."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        ) / 1e6


@dataclass(frozen=True)
class ModelSpec:
    """One model endpoint: the model under test or a named reference.

    The API key itself is never held here, only the name of the variable that holds
    it, so a spec can be logged, compared and sent to xdist workers safely.
    """

    name: str
    model: str
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = DEFAULT_API_KEY_ENV
    params: Mapping[str, Any] = field(default_factory=dict)
    price: Price | None = None
    endpoint_id: str | None = None
    #: the provider's requests and tokens per minute for this model; calls are paced below
    rpm: float | None = None
    tpm: float | None = None

    @property
    def cache_endpoint(self) -> str:
        """What the cache key uses for the endpoint.

        The base URL without credentials by default. ``endpoint_id`` replaces it for a
        model that is served from changing addresses (a vLLM on a random CI port), so that
        its recorded answers still match.
        """
        return self.endpoint_id or redact_url(self.base_url.rstrip("/"))

    @property
    def display_url(self) -> str:
        return redact_url(self.base_url)

    def __repr__(self) -> str:
        # reprs reach --debug logs, --tb=long locals and JUnit XML: the URL without its
        # password (the key itself is never held here)
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["base_url"] = redact_url(self.base_url)
        return "ModelSpec(" + ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        if not self.api_key_env:
            return None
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) or None


@dataclass(frozen=True)
class Given:
    """One model setting the configuration gave: which field, its value, where from."""

    field: str  # "model", "base_url", ..., "params.KEY"; for references "NAME.FIELD"
    value: Any
    source: str  # "--modelprov-param", "MODELPROV_PARAMS", "ini modelprov_params", ...
    text: str  # as written, for messages

    def describe(self) -> str:
        return f"{self.text} (from {self.source})"


@dataclass(frozen=True)
class Settings:
    """Everything the plugin resolved from options, environment and ini."""

    record_mode: RecordMode
    record_mode_source: str
    cache_dir: Path
    concurrency: int
    max_retries: int
    timeout: float
    retry_backoff: float
    max_retry_wait: float
    unconfigured: Unconfigured
    unconfigured_from_cli: bool
    model: ModelSpec | None
    references: Mapping[str, ModelSpec]
    transcript: Path | None = None
    report_json: Path | None = None
    report_md: Path | None = None
    report_html: Path | None = None
    baseline_dir: Path = Path(DEFAULT_BASELINE_DIR)
    baseline_label: str = DEFAULT_BASELINE_LABEL
    update_baselines: bool = False
    #: drift rules per quantity from the command line, and from the environment over the ini
    drift_cli: Mapping[str, Rule] = field(default_factory=dict)
    drift_config: Mapping[str, Rule] = field(default_factory=dict)
    unused_baselines: UnusedBaselines = UnusedBaselines.WARN
    budget: Budget = field(default_factory=Budget)
    progress: Progress = Progress.AUTO
    #: keep detector verdicts in the cache directory (verdicts.py); off: classify every run
    verdict_cache: bool = True
    inconclusive: Inconclusive = Inconclusive.FAIL
    #: command line only: a dry run that prints the calls the tests would make
    plan: bool = False
    #: command line only: fill the cache through the provider's Batch API first
    batch: bool = False
    batch_poll: float = 30.0
    batch_wait: float = 24 * 3600.0
    #: a vendor table of the team's own vendors, added to the identity detector's
    identity_vendors: Path | None = None
    #: the model-under-test settings given in CLI/env/ini, to tell which a fixture shadows
    model_given: tuple[Given, ...] = ()
    #: reference fields as given, resolved against the model under test in use (a fixture's
    #: or the configured one) by :func:`resolve_references`
    reference_fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reference_given: tuple[Given, ...] = ()
    #: count empty (and non-text) answers as answers instead of retrying and failing them
    allow_empty: bool = False


# ---------------------------------------------------------------------------------------
# the settings table: one row per scalar setting, shared by plugin (options, ini) and docs


@dataclass(frozen=True)
class Option:
    name: str  # the suffix: "record_mode" -> --modelprov-record-mode, MODELPROV_RECORD_MODE
    help: str
    metavar: str = "VALUE"
    multiple: bool = False  # repeatable on the CLI, a line list in ini

    @property
    def flag(self) -> str:
        return "--modelprov-" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return "modelprov_" + self.name

    @property
    def env(self) -> str:
        return "MODELPROV_" + self.name.upper()

    @property
    def ini(self) -> str:
        return "modelprov_" + self.name


OPTIONS: tuple[Option, ...] = (
    Option("model", "model id of the model under test, e.g. deepseek-chat", "ID"),
    Option(
        "base_url",
        f"base URL of its OpenAI-compatible endpoint (fallback OPENAI_BASE_URL, "
        f"then {DEFAULT_BASE_URL})",
        "URL",
    ),
    Option(
        "api_key_env",
        f"name of the environment variable that holds its API key (default "
        f"{DEFAULT_API_KEY_ENV}); the key itself is never written anywhere",
        "NAME",
    ),
    Option(
        "param",
        "default generation parameter KEY=VALUE for the model under test, VALUE in JSON "
        "(repeatable; ini key modelprov_params, one per line)",
        "KEY=VALUE",
        multiple=True,
    ),
    Option("price", "price as INPUT/OUTPUT USD per million tokens, e.g. 0.27/1.10", "IN/OUT"),
    Option(
        "rpm",
        "the provider's requests-per-minute limit for the model under test: calls are paced "
        "below it (references: NAME.rpm=N)",
        "N",
    ),
    Option(
        "tpm",
        "the provider's tokens-per-minute limit for the model under test (references: NAME.tpm=N)",
        "N",
    ),
    Option(
        "endpoint_id",
        "stable name for the endpoint in cache keys, for a server on a changing address",
        "ID",
    ),
    Option(
        "reference",
        "reference model field NAME.FIELD=VALUE, FIELD one of "
        + ", ".join(REFERENCE_FIELDS)
        + ", params.KEY (repeatable; ini key modelprov_references, one per line)",
        "NAME.FIELD=VALUE",
        multiple=True,
    ),
    Option(
        "record_mode",
        "once | replay | refresh | off (default: replay when CI is set, else once)",
        "MODE",
    ),
    Option("cache_dir", f"response cache directory (default {DEFAULT_CACHE_DIR})", "DIR"),
    Option("concurrency", "model calls in flight at once (default 8)", "N"),
    Option("max_retries", "retries per call on 429, 5xx, timeouts (default 4)", "N"),
    Option("timeout", "seconds per HTTP attempt (default 120)", "SECONDS"),
    Option("retry_backoff", "first back-off in seconds, doubled per retry (default 1)", "SECONDS"),
    Option(
        "max_retry_wait",
        "longest Retry-After the plugin will sleep; a longer one fails the call (default 60)",
        "SECONDS",
    ),
    Option(
        "unconfigured",
        "fail | skip: what a test that needs an unconfigured model does (default fail)",
        "ACTION",
    ),
    Option("transcript", "write every answer a test received to this JSON Lines file", "FILE"),
    Option("report_json", "write every measurement of the run to this JSON file", "FILE"),
    Option(
        "report_md",
        "append a Markdown table of the measurements to this file, e.g. $GITHUB_STEP_SUMMARY",
        "FILE",
    ),
    Option("report_html", "write a self-contained HTML report of the run to this file", "FILE"),
    Option(
        "baseline_dir",
        f"directory of the stored baselines, committed with the tests (default "
        f"{DEFAULT_BASELINE_DIR})",
        "DIR",
    ),
    Option(
        "baseline",
        f"label of the baselines to compare with (or update), e.g. v1.2 (default "
        f"{DEFAULT_BASELINE_LABEL})",
        "LABEL",
    ),
    Option(
        "drift",
        "drift rule QUANTITY:[+|-]MARGIN[@ALPHA], e.g. refusal.rate:+0.05 (repeatable; ini "
        "key modelprov_drift, one per line)",
        "RULE",
        multiple=True,
    ),
    Option(
        "budget",
        "spending limit per run: calls=N, cost=USD, NAME.calls=N, NAME.cost=USD (NAME "
        "'model' is the model under test); reaching it stops new calls and fails the tests "
        "that need them (repeatable; ini key modelprov_budget, one per line)",
        "LIMIT",
        multiple=True,
    ),
    Option(
        "progress",
        "auto | on | off: a live line of calls done, rate and ETA while calls are made "
        "(default auto: on a terminal, not with -q)",
        "WHEN",
    ),
    Option(
        "batch_poll",
        "with --modelprov-batch: seconds between status checks of a submitted batch (default 30)",
        "SECONDS",
    ),
    Option(
        "batch_wait",
        "with --modelprov-batch: longest wait for batches before the tests run; unfinished "
        "batches are resumed by the next run (default 86400)",
        "SECONDS",
    ),
    Option(
        "verdict_cache",
        "on | off: keep the refusal and identity detectors' verdicts beside the cached "
        "answers, so a warm run classifies nothing (default on; a verdict is replayed only "
        "for the same answer and the same detector code, data and settings)",
        "WHEN",
    ),
    Option(
        "identity_vendors",
        "JSON file of the team's own identity vendors (ids, names, aliases, product names) in "
        "the form of schemas/identity_vendors.schema.json; their ids work in own=... and claims "
        "of them are counted",
        "FILE",
    ),
    Option(
        "inconclusive",
        "fail | warn: what a check its sample cannot decide (too few answers for the bound, "
        "an underpowered gate) does to its test (default fail: a gate never passes on nothing)",
        "ACTION",
    ),
    Option(
        "allow_empty",
        "true | false: count empty or non-text answers as answers (default false: they are "
        "retried like other unusable responses, then the call fails; never cached)",
        "BOOL",
    ),
    Option(
        "unused_baselines",
        "warn | fail | ignore: baselines of collected tests that no check used (default warn)",
        "ACTION",
    ),
)

OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}

# ini keys whose name differs from the CLI's singular repeatable form
INI_NAMES = {"param": "modelprov_params", "reference": "modelprov_references"}
ENV_NAMES = {"param": "MODELPROV_PARAMS", "reference": "MODELPROV_REFERENCES"}


# A lookup returns the raw value of a setting from one source, or None when unset there.
Lookup = Callable[[Option], Any]


@dataclass(frozen=True)
class Sources:
    """The three places a setting can come from, plus the process environment."""

    cli: Lookup
    ini: Lookup
    environ: Mapping[str, str]

    def env(self, option: Option) -> str | None:
        value = self.environ.get(ENV_NAMES.get(option.name, option.env))
        return value if value not in (None, "") else None

    def first(self, option: Option) -> tuple[str, str] | None:
        """The winning raw value and a description of where it came from."""
        cli = self.cli(option)
        if cli not in (None, "", []):
            return _scalar(cli), option.flag
        env = self.env(option)
        if env is not None:
            return env, ENV_NAMES.get(option.name, option.env)
        ini = self.ini(option)
        if ini not in (None, "", []):
            return _scalar(ini), "ini " + INI_NAMES.get(option.name, option.ini)
        return None


def _scalar(value: str | list[str] | None) -> str:
    if isinstance(value, list):
        return " ".join(value)
    return value or ""


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


def _get(sources: Sources, name: str) -> tuple[str, str] | None:
    return sources.first(OPTIONS_BY_NAME[name])


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


#: (lowest, highest) accepted for each numeric setting. The upper bounds are far above any
#: real use and keep the arithmetic built on them (lock waits of (timeout + max_retry_wait)
#: x (max_retries + 1), sleeps, monotonic deadlines) inside what the OS accepts: 1e10 s
#: overflowed every uncached call, 10**12 retries never ended.
BOUNDS: Mapping[str, tuple[float, float]] = {
    "concurrency": (1, 1024),
    "max_retries": (0, 100),
    "timeout": (0.001, 86_400.0),
    "retry_backoff": (0.0, 3_600.0),
    "max_retry_wait": (0.0, 86_400.0),
    "batch_poll": (0.01, 86_400.0),
    "batch_wait": (0.0, 30 * 86_400.0),
    "rpm": (1e-6, 1e9),
    "tpm": (1e-6, 1e12),
}


def check_number(name: str, raw: str, source: str, kind: type[Any] = float) -> Any:
    """``raw`` as ``kind`` within BOUNDS[name]; ConfigError naming the setting and source."""
    low, high = BOUNDS[name]
    try:
        value = kind(raw.strip())
    except (ValueError, OverflowError):
        value = None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(
            f"modelprov: {name} {raw!r} from {source} is not valid; it must be {what} from "
            f"{low:g} to {high:g}"
        )
    return value


def _flag(sources: Sources, name: str) -> bool:
    found = _get(sources, name)
    if not found:
        return False
    raw, source = found
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"modelprov: {name} {raw!r} from {source} is not valid; use true or false")


def _number(sources: Sources, name: str, default: Any, kind: type[Any]) -> Any:
    found = _get(sources, name)
    if not found:
        return default
    return check_number(name, found[0], found[1], kind)


def parse_price(raw: str, source: str) -> Price:
    parts = raw.replace(",", "/").split("/")
    try:
        if len(parts) != 2:
            raise ValueError
        values = [float(p) for p in parts]
        if any(v < 0 or not math.isfinite(v) for v in values):
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"modelprov: price {raw!r} from {source} is not valid; write INPUT/OUTPUT in USD "
            "per million tokens, e.g. 0.27/1.10"
        ) from None
    return Price(values[0], values[1])


def parse_json_value(raw: str) -> Any:
    """A parameter value: JSON when it parses, else the plain string."""
    text = raw.strip()
    try:
        return json_loads(text)
    except ValueError:
        return text


def validate_params(params: Mapping[str, Any], source: str) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if key in _RESERVED_PARAMS:
            raise ConfigError(
                f"modelprov: parameter {key!r} from {source} is not allowed: "
                f"{_RESERVED_PARAMS[key]}"
            )
        if key not in GENERATION_PARAMS:
            close = _close_matches(key, GENERATION_PARAMS)
            raise ConfigError(
                f"modelprov: unknown generation parameter {key!r} from {source}"
                + (f" (did you mean {close}?)" if close else "")
                + "; valid parameters: "
                + ", ".join(sorted(GENERATION_PARAMS))
                + ". Vendor-specific parameters go inside extra_body, e.g. "
                + 'extra_body={"enable_thinking": false}'
            )
        if key == "extra_body":
            if not isinstance(value, dict):
                raise ConfigError(f"modelprov: extra_body from {source} must be a JSON object")
            for inner in value:
                if inner in _RESERVED_PARAMS:
                    raise ConfigError(
                        f"modelprov: extra_body from {source} may not set {inner!r}: "
                        f"{_RESERVED_PARAMS[inner]}"
                    )
        if value is not None:
            clean[key] = value
    return clean


def _close_matches(word: str, candidates: Iterable[str]) -> str:
    import difflib

    return " or ".join(repr(m) for m in difflib.get_close_matches(word, sorted(candidates), n=2))


def _split_assignment(line: str, source: str, what: str) -> tuple[str, str]:
    if "=" not in line:
        raise ConfigError(f"modelprov: {line!r} from {source} is not {what}")
    key, _, value = line.partition("=")
    return key.strip(), value.strip()


def _param_lines(raw: str | list[str] | None) -> list[str]:
    """Lines of KEY=VALUE; the environment variable separates them with newlines or ';'."""
    if raw is None:
        return []
    lines = raw if isinstance(raw, list) else re.split(r"[\n;]", raw)
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _params_from(sources: Sources) -> dict[str, Any]:
    return {key: given.value for key, given in _params_given(sources).items()}


def _params_given(sources: Sources) -> dict[str, Given]:
    option = OPTIONS_BY_NAME["param"]
    merged: dict[str, Given] = {}
    for raw, source in (
        (sources.ini(option), "ini modelprov_params"),
        (sources.env(option), "MODELPROV_PARAMS"),
        (sources.cli(option), "--modelprov-param"),
    ):
        for line in _param_lines(raw):
            key, value = _split_assignment(line, source, "KEY=VALUE")
            merged[key] = Given("params." + key, parse_json_value(value), source, line)
    return merged


def _model_given(sources: Sources) -> tuple[Given, ...]:
    """Every model-under-test setting given, parsed, whether or not a model id is."""
    out = []
    parse: dict[str, Callable[[str, str], Any]] = {
        "model": lambda raw, _: raw.strip(),
        "base_url": lambda raw, _: raw.strip(),
        "api_key_env": lambda raw, _: raw.strip(),
        "endpoint_id": lambda raw, _: raw.strip(),
        "price": parse_price,
        "rpm": lambda raw, source: check_number("rpm", raw, source),
        "tpm": lambda raw, source: check_number("tpm", raw, source),
    }
    for name, convert in parse.items():
        found = _get(sources, name)
        if found:
            raw, source = found
            out.append(Given(name, convert(raw, source), source, f"{name}={raw.strip()}"))
    params = _params_given(sources)
    validate_params({k: g.value for k, g in params.items()}, "modelprov params (model under test)")
    out.extend(params.values())
    return tuple(out)


def _differs(expected: Any, actual: Any, field: str) -> bool:
    if field == "base_url" and isinstance(expected, str) and isinstance(actual, str):
        return expected.rstrip("/") != actual.rstrip("/")
    return bool(expected != actual)


def _field_of(spec: ModelSpec, field: str) -> Any:
    if field.startswith("params."):
        return spec.params.get(field[len("params.") :])
    if field == "price" and isinstance(spec.price, Price):
        return spec.price
    return getattr(spec, field)


def shadowed(
    spec: ModelSpec | None,
    references: Mapping[str, ModelSpec],
    settings: Settings,
    environ: Mapping[str, str],
) -> list[str]:
    """The CLI/env/ini settings a fixture-supplied model spec (or reference dict) leaves unused.

    A setting counts as used when the spec in use has the value it gives, so a fixture
    that starts from the configured spec (or sets the same values) shadows nothing.
    """
    out = []
    for given in settings.model_given:
        if spec is None:
            why = (
                "no model under test is configured (--modelprov-model, MODELPROV_MODEL or "
                "modelprov_model)"
                if settings.model is None
                else "the modelprov_model_spec fixture supplies no model under test"
            )
            out.append(f"{given.describe()} is not used: {why}")
            continue
        actual = _field_of(spec, given.field)
        if _differs(given.value, actual, given.field):
            shown = "not set" if actual is None else repr(_plain(actual))
            out.append(
                f"{given.describe()} is not used: the modelprov_model_spec fixture supplies the "
                f"model under test with {given.field} {shown}"
            )
    configured = resolve_references(settings.reference_fields, spec, environ)
    for given in settings.reference_given:
        name, _, field_name = given.field.partition(".")
        ref = references.get(name)
        if ref is None:
            out.append(
                f"{given.describe()} is not used: the modelprov_references fixture has no "
                f"reference {name!r}"
            )
            continue
        if field_name == "inherit_params":
            # not a field of the spec: it is used when the parameters are what it makes them
            if dict(configured[name].params) != dict(ref.params):
                out.append(
                    f"{given.describe()} is not used: the modelprov_references fixture gives "
                    f"{name!r} params {json.dumps(dict(ref.params), sort_keys=True)}"
                )
            continue
        actual = _field_of(ref, field_name)
        if _differs(_field_of(configured[name], field_name), actual, field_name):
            shown = "not set" if actual is None else repr(_plain(actual))
            out.append(
                f"{given.describe()} is not used: the modelprov_references fixture gives "
                f"{name!r} {field_name} {shown}"
            )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Price):
        return f"{value.input_per_mtok:g}/{value.output_per_mtok:g}"
    return value


def _model_under_test(sources: Sources) -> ModelSpec | None:
    found = _get(sources, "model")
    if not found:
        return None
    model = found[0].strip()
    base = _get(sources, "base_url")
    base_url = (
        base[0].strip() if base else sources.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    )
    _check_url(base_url, base[1] if base else "OPENAI_BASE_URL")
    key_env = _get(sources, "api_key_env")
    # OPENAI_API_KEY goes only where the openai SDK would send it: never to another vendor
    # just because nobody named that vendor's key variable
    openai_endpoint = not base or base_url.rstrip("/") == DEFAULT_BASE_URL
    default_key_env = DEFAULT_API_KEY_ENV if openai_endpoint else ""
    api_key_env = key_env[0].strip() if key_env else default_key_env
    price = _get(sources, "price")
    endpoint = _get(sources, "endpoint_id")
    params = validate_params(_params_from(sources), "modelprov params (model under test)")
    rpm, tpm = _get(sources, "rpm"), _get(sources, "tpm")
    return ModelSpec(
        name="model under test",
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        params=params,
        price=parse_price(*price) if price else None,
        endpoint_id=endpoint[0].strip() if endpoint else None,
        rpm=check_number("rpm", *rpm) if rpm else None,
        tpm=check_number("tpm", *tpm) if tpm else None,
    )


def _check_url(url: str, source: str) -> None:
    """A base URL the HTTP client can use: checked at startup, not at the first call."""
    problem = ""
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problem = "it must start with http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
        else:
            parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        problem = f"it cannot be parsed ({exc})"
    if problem:
        raise ConfigError(
            f"modelprov: base URL {redact_url(url)!r} from {source} is not valid: {problem}; "
            "write it like https://api.deepseek.com/v1 or http://127.0.0.1:8000/v1"
        )


def _check_output_file(path: Path | None, name: str, sources: Sources) -> Path | None:
    """An output file setting must not name a directory (found at startup, not at the end)."""
    if path is not None and path.is_dir():
        found = _get(sources, name)
        source = found[1] if found else name
        raise ConfigError(
            f"modelprov: {name} {str(path)!r} from {source} is a directory; it must name a "
            "file to write, e.g. modelprov-transcript.jsonl"
        )
    return path


def _reference_fields(
    sources: Sources,
) -> tuple[dict[str, dict[str, Any]], tuple[Given, ...]]:
    """Reference fields as given, merged across sources; checked, not yet resolved."""
    option = OPTIONS_BY_NAME["reference"]
    fields: dict[str, dict[str, Any]] = {}
    given: dict[str, Given] = {}
    for raw, source in (
        (sources.ini(option), "ini modelprov_references"),
        (sources.env(option), "MODELPROV_REFERENCES"),
        (sources.cli(option), "--modelprov-reference"),
    ):
        for line in _param_lines(raw):
            target, value = _split_assignment(line, source, "NAME.FIELD=VALUE")
            name, dot, fieldname = target.partition(".")
            if not dot or not _REF_NAME.match(name):
                raise ConfigError(
                    f"modelprov: {line!r} from {source} is not NAME.FIELD=VALUE, e.g. "
                    "gemini.model=gemini-2.5-pro"
                )
            entry = fields.setdefault(name, {"params": {}, "_source": source})
            if fieldname.startswith("params."):
                parsed: Any = parse_json_value(value)
                entry["params"][fieldname[len("params.") :]] = parsed
            elif fieldname in REFERENCE_FIELDS:
                entry[fieldname] = value
                parsed = value
            else:
                raise ConfigError(
                    f"modelprov: unknown reference field {fieldname!r} in {line!r} from "
                    f"{source}; valid fields: {', '.join(REFERENCE_FIELDS)}, params.KEY"
                )
            given[target] = Given(target, parsed, source, line)
    for name, entry in fields.items():
        if not entry.get("model"):
            raise ConfigError(
                f"modelprov: reference model {name!r} has no model id; add "
                f"'{name}.model=<model id>' to modelprov_references"
            )
    # parsed once here, so a bad value is a usage error even if no test uses the reference
    resolve_references(fields, None, {})
    return fields, tuple(given.values())


def resolve_references(
    fields: Mapping[str, Mapping[str, Any]],
    under_test: ModelSpec | None,
    environ: Mapping[str, str],
) -> dict[str, ModelSpec]:
    """Reference specs from their given fields, against the model under test in use.

    A reference without ``base_url`` gets the model under test's endpoint, key variable and
    endpoint id; every reference gets its generation parameters under its own.
    """
    specs: dict[str, ModelSpec] = {}
    for name, entry in fields.items():
        source = entry["_source"]
        if entry.get("base_url"):
            base_url = entry["base_url"]
            _check_url(base_url, f"{name}.base_url in {source}")
            default_key_env = (
                DEFAULT_API_KEY_ENV if base_url.rstrip("/") == DEFAULT_BASE_URL else ""
            )
            default_endpoint_id = None
        elif under_test is not None:
            # most references are other releases on the model under test's own endpoint;
            # its key goes to the same place, so sharing it sends it nowhere new
            base_url = under_test.base_url
            default_key_env = under_test.api_key_env
            default_endpoint_id = under_test.endpoint_id
        else:
            base_url = environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
            _check_url(base_url, "OPENAI_BASE_URL")
            default_key_env = DEFAULT_API_KEY_ENV
            default_endpoint_id = None
        # sampled alike by default: the model under test's parameters, key by key under
        # the reference's own (NAME.params.KEY=null removes an inherited one); a judge is
        # not a sampled model, and a vendor's extra_body can break another vendor's API
        inherits = _inherit_params(
            entry.get("inherit_params"), f"{name}.inherit_params in {source}"
        )
        inherited = dict(under_test.params) if under_test is not None and inherits else {}
        specs[name] = ModelSpec(
            name=name,
            model=entry["model"],
            base_url=base_url,
            api_key_env=entry.get("api_key_env") or default_key_env,
            params=validate_params({**inherited, **entry["params"]}, f"reference {name!r}"),
            price=parse_price(entry["price"], f"{name}.price") if entry.get("price") else None,
            endpoint_id=entry.get("endpoint_id") or default_endpoint_id,
            rpm=check_number("rpm", entry["rpm"], f"{name}.rpm in {source}")
            if entry.get("rpm")
            else None,
            tpm=check_number("tpm", entry["tpm"], f"{name}.tpm in {source}")
            if entry.get("tpm")
            else None,
        )
    return specs


def _inherit_params(raw: str | None, where: str) -> bool:
    if raw is None:
        return True
    value = raw.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise ConfigError(
        f"modelprov: {where} is {raw!r}; use true (the default: sampled like the model under "
        "test) or false (only the reference's own params.KEY, e.g. for a judge)"
    )


def redact_url(url: str) -> str:
    """The URL without user:password and without secret-looking query parameters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [
            (k, "REDACTED" if _SENSITIVE_QUERY.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
