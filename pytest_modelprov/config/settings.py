"""The settings of a run and of a model: their types, values and defaults.

:class:`ModelSpec` says which model to call and how (endpoint, key variable, parameters,
price, rate limits); :class:`Settings` is everything a run was configured with, resolved
from its sources (:mod:`.resolve`). The enums are the values a setting can take.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..drift import Rule

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
    #: keep detector verdicts in the cache directory (calls/verdicts.py); off: classify every run
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
