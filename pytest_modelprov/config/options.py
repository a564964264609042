"""Every setting's option: its command-line flag, environment variable and ini key, its
help text and default (:data:`OPTIONS`), and the lookup of a setting in its sources in
order of precedence (:class:`Sources`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .settings import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_BASELINE_DIR,
    DEFAULT_BASELINE_LABEL,
    DEFAULT_CACHE_DIR,
    REFERENCE_FIELDS,
)


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


def _get(sources: Sources, name: str) -> tuple[str, str] | None:
    return sources.first(OPTIONS_BY_NAME[name])
