"""Settings: CLI > environment > ini > default, validated with messages that say what to type."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_modelprov.config import (
    ENV_NAMES,
    INI_NAMES,
    Option,
    RecordMode,
    Sources,
    Unconfigured,
    redact_url,
    resolve,
)
from pytest_modelprov.errors import ConfigError


def sources(cli=None, ini=None, env=None):
    cli, ini = cli or {}, ini or {}

    def from_cli(option: Option):
        return cli.get(option.name)

    def from_ini(option: Option):
        return ini.get(INI_NAMES.get(option.name, option.ini))

    return Sources(cli=from_cli, ini=from_ini, environ=env or {})


def settings(**kw):
    return resolve(sources(**kw), Path("/project"))


def test_defaults():
    s = settings()
    assert s.record_mode is RecordMode.ONCE
    assert s.cache_dir == Path("/project/.modelprov/cache")
    assert s.model is None and dict(s.references) == {}
    assert (s.concurrency, s.max_retries, s.unconfigured) == (8, 4, Unconfigured.FAIL)


@pytest.mark.parametrize(
    ("ci", "mode"), [("true", "replay"), ("1", "replay"), ("false", "once"), ("", "once")]
)
def test_ci_variable_makes_replay_the_default(ci, mode):
    s = settings(env={"CI": ci})
    assert s.record_mode.value == mode
    assert ("CI=" in s.record_mode_source) == (mode == "replay")


def test_precedence_cli_over_env_over_ini():
    ini = {"modelprov_record_mode": "off", "modelprov_concurrency": "3"}
    env = {"MODELPROV_RECORD_MODE": "refresh", "MODELPROV_CONCURRENCY": "5", "CI": "true"}
    assert settings(ini=ini).record_mode is RecordMode.OFF
    assert settings(ini=ini, env=env).record_mode is RecordMode.REFRESH
    s = settings(ini=ini, env=env, cli={"record_mode": "once"})
    assert s.record_mode is RecordMode.ONCE and s.record_mode_source == "--modelprov-record-mode"
    assert s.concurrency == 5


def test_model_under_test_falls_back_to_openai_variables():
    s = settings(
        ini={"modelprov_model": "m1"},
        env={"OPENAI_BASE_URL": "https://proxy.example/v1"},
    )
    assert s.model is not None
    assert (s.model.model, s.model.base_url, s.model.api_key_env) == (
        "m1", "https://proxy.example/v1", "OPENAI_API_KEY",
    )  # fmt: skip
    s = settings(
        ini={"modelprov_model": "m1", "modelprov_base_url": "https://ini.example/v1"},
        env={"OPENAI_BASE_URL": "https://proxy.example/v1"},
    )
    assert s.model is not None and s.model.base_url == "https://ini.example/v1"


def test_params_merge_key_by_key():
    s = settings(
        ini={"modelprov_model": "m", "modelprov_params": ["temperature = 0.7", "max_tokens=100"]},
        env={"MODELPROV_PARAMS": 'temperature=0.1; stop=["\\n"]'},
        cli={"param": ["max_tokens=5"]},
    )
    assert s.model is not None
    assert dict(s.model.params) == {"temperature": 0.1, "max_tokens": 5, "stop": ["\n"]}


def test_references_merge_fields_across_sources():
    s = settings(
        ini={
            "modelprov_references": [
                "gemini.model = gemini-2.5-pro",
                "gemini.base_url = https://generativelanguage.example/v1beta/openai/",
                "gemini.api_key_env = GEMINI_API_KEY",
                "gemini.params.temperature = 0.5",
                "old.model = ours-1.2",
            ]
        },
        env={"MODELPROV_REFERENCES": "old.base_url=http://10.0.0.5:8000/v1"},
        cli={"reference": ["gemini.params.temperature=0", "gemini.price=1.25/10"]},
    )
    gemini, old = s.references["gemini"], s.references["old"]
    assert gemini.api_key_env == "GEMINI_API_KEY" and dict(gemini.params) == {"temperature": 0}
    assert gemini.price is not None and gemini.price.cost(1_000_000, 1_000_000) == 11.25
    assert old.base_url == "http://10.0.0.5:8000/v1" and old.model == "ours-1.2"


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        (
            {"cli": {"record_mode": "replya"}},
            "'replya' from --modelprov-record-mode is not valid; valid values: once, replay, refresh, off",
        ),
        (
            {"env": {"MODELPROV_CONCURRENCY": "0"}},
            "'0' from MODELPROV_CONCURRENCY is not valid; it must be a whole number from 1 to 1024",
        ),
        ({"ini": {"modelprov_timeout": "soon"}}, "'soon' from ini modelprov_timeout"),
        ({"ini": {"modelprov_unconfigured": "ignore"}}, "valid values: fail, skip"),
        (
            {"ini": {"modelprov_model": "m", "modelprov_params": ["temprature=1"]}},
            "unknown generation parameter 'temprature' from modelprov params (model under test) (did you mean 'temperature'?)",
        ),
        ({"ini": {"modelprov_model": "m", "modelprov_params": ["n=3"]}}, "sample(prompts, n=...)"),
        (
            {"ini": {"modelprov_model": "m", "modelprov_params": ["temperature"]}},
            "is not KEY=VALUE",
        ),
        (
            {"ini": {"modelprov_model": "m", "modelprov_base_url": "api.deepseek.com"}},
            "must start with http:// or https://",
        ),
        (
            {"ini": {"modelprov_model": "m", "modelprov_price": "cheap"}},
            "write INPUT/OUTPUT in USD per million tokens",
        ),
        (
            {"ini": {"modelprov_references": ["gemini.base_url=https://x/v1"]}},
            "reference model 'gemini' has no model id",
        ),
        ({"ini": {"modelprov_references": ["gemini.modle=x"]}}, "unknown reference field 'modle'"),
        ({"ini": {"modelprov_references": ["gemini=x"]}}, "is not NAME.FIELD=VALUE"),
    ],
)
def test_invalid_values_name_the_setting(kw, needle):
    with pytest.raises(ConfigError) as info:
        settings(**kw)
    assert needle in str(info.value)


def test_env_names_of_repeatable_options():
    assert ENV_NAMES == {"param": "MODELPROV_PARAMS", "reference": "MODELPROV_REFERENCES"}


def test_redact_url():
    assert redact_url("https://u:pw@h.example:8443/v1?api-key=abc&v=2") == (
        "https://h.example:8443/v1?api-key=REDACTED&v=2"
    )


# -- end to end through pytest's own option and ini machinery ------------------------------

SHOW = """
def test_show(modelprov_session):
    s = modelprov_session.settings
    print("MODE", s.record_mode.value, "|", s.record_mode_source)
    print("MODEL", s.model.model, s.model.base_url, dict(s.model.params))
"""


def test_pyproject_ini_env_and_cli_end_to_end(pytester, monkeypatch):
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        modelprov_model = "from-ini"
        modelprov_base_url = "https://ini.example/v1"
        modelprov_record_mode = "off"
        modelprov_params = ["temperature = 0.3", "max_tokens = 50"]
        """
    )
    pytester.makepyfile(SHOW)
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(
        ["*MODE off | ini modelprov_record_mode", "MODEL from-ini https://ini.example/v1 *0.3*50*"]
    )
    monkeypatch.setenv("MODELPROV_RECORD_MODE", "refresh")
    monkeypatch.setenv("MODELPROV_MODEL", "from-env")
    result = pytester.runpytest("-s", "--modelprov-param", "temperature=0")
    result.stdout.fnmatch_lines(
        [
            "*MODE refresh | MODELPROV_RECORD_MODE",
            "MODEL from-env https://ini.example/v1 *'temperature': 0*",
        ]
    )
    result = pytester.runpytest("-s", "--modelprov-record-mode=replay")
    result.stdout.fnmatch_lines(["*MODE replay | --modelprov-record-mode"])


def test_invalid_value_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nmodelprov_record_mode = sometimes\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*'sometimes' from ini modelprov_record_mode is not valid; valid values: once, replay, refresh, off*"
        ]
    )


def test_openai_key_is_not_sent_to_other_vendors_by_default():
    s = settings(
        ini={
            "modelprov_model": "deepseek-chat",
            "modelprov_base_url": "https://api.deepseek.com",
            "modelprov_references": [
                "gemini.model=g",
                "gemini.base_url=https://gen.example/v1",
                "gpt.model=gpt-4o",
                "gpt.base_url=https://api.openai.com/v1",
            ],
        }
    )
    assert s.model is not None and s.model.api_key_env == ""
    assert s.references["gemini"].api_key_env == ""
    assert s.references["gpt"].api_key_env == "OPENAI_API_KEY"
    s = settings(ini={"modelprov_model": "m"}, env={"OPENAI_BASE_URL": "https://proxy.example/v1"})
    assert s.model is not None and s.model.api_key_env == "OPENAI_API_KEY"


def test_a_reference_without_base_url_uses_the_model_under_tests_endpoint_and_key():
    s = settings(
        ini={
            "modelprov_model": "ours-v2",
            "modelprov_base_url": "https://models.example.org/v1",
            "modelprov_api_key_env": "OUR_KEY",
            "modelprov_endpoint_id": "our-cluster",
            "modelprov_references": [
                "previous.model=ours-v1",
                "other.model=x",
                "other.api_key_env=OTHER_KEY",
            ],
        }
    )
    previous = s.references["previous"]
    assert (previous.base_url, previous.api_key_env, previous.endpoint_id) == (
        "https://models.example.org/v1",
        "OUR_KEY",
        "our-cluster",
    )
    assert s.references["other"].api_key_env == "OTHER_KEY"
    # with no model under test there is nothing to share: the SDK's own defaults apply
    alone = settings(ini={"modelprov_references": ["gpt.model=gpt-4o"]})
    assert alone.references["gpt"].base_url == "https://api.openai.com/v1"
    assert alone.references["gpt"].api_key_env == "OPENAI_API_KEY"
    proxied = settings(
        ini={"modelprov_references": ["gpt.model=gpt-4o"]},
        env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
    )
    assert proxied.references["gpt"].base_url == "http://127.0.0.1:9/v1"
