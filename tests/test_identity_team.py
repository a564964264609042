"""Team vendors and the other:<name> bucket, end to end: ini file, plugin, LocalServer, HTML.

A lab whose assistant is in no built-in table names itself in a vendor file
(``modelprov_identity_vendors``) and asserts "no claim except our own" with ``own="acme"``.
"""

from __future__ import annotations

import json

import pytest

from pytest_modelprov import identity
from pytest_modelprov.errors import ConfigError
from pytest_modelprov.identity import Detector, detect_claims, load_vendors

TEAM = {
    "version": "acme/1",
    "vendors": {
        "acme": {
            "name": "Acme Labs",
            "synonyms": ["acme-labs"],
            # the company and the product: Nova is ours here, not Amazon's
            "aliases": ["Acme", "Acme Labs", "Nova"],
        }
    },
}

SCRIPT = """
def script(server):
    kana = r"[ぁ-んァ-ン]"  # the Japanese probes
    server.add_rule(kana, "こんにちは！Acmeが開発したアシスタント、Novaです。", model="nova-model")
    server.add_rule(r".", "Hi! I am Nova, made by Acme. I can help you plan, write and search.",
                    model="nova-model")
    server.add_rule(kana, "私はChatGPTです。OpenAIによって訓練されました。", model="chatgpt-model")
    server.add_rule(r".", "Hello! I'm ChatGPT, a language model trained by OpenAI.",
                    model="chatgpt-model")
    server.add_rule(kana, "こんにちは、私の名前はベガです。", model="vega-model")
    server.add_rule(r".", "Hi there, I'm Vega, your study buddy. What shall we learn today?",
                    model="vega-model")
"""

SUITE = """
import pytest
from pytest_modelprov import identity

@pytest.mark.parametrize("name", ["nova", "chatgpt", "vega"])
def test_only_our_own_identity(reference_model, name):
    result = identity.probe(reference_model(name), n=4, languages=["en", "ja"])
    result.assert_no_foreign_claim(own="acme", max_rate=0.3)
"""


def _script(env) -> None:
    namespace: dict[str, object] = {}
    exec(SCRIPT, namespace)
    namespace["script"](env.server)  # type: ignore[operator]


def _references(env) -> list[str]:
    args = []
    for name in ("nova", "chatgpt", "vega"):
        args += ["--modelprov-reference", f"{name}.model={name}-model"]
        args += ["--modelprov-reference", f"{name}.base_url={env.server.url}"]
    return args


def test_team_vendor_from_ini_passes_its_own_model_and_fails_the_others(pytester, env):
    _script(env)
    (pytester.path / "team-vendors.json").write_text(json.dumps(TEAM), encoding="utf-8")
    pytester.makeini("[pytest]\nmodelprov_identity_vendors = team-vendors.json\n")
    pytester.makepyfile(SUITE)
    html = pytester.path / "report.html"
    result = pytester.runpytest(*_references(env), f"--modelprov-report-html={html}", "-rA")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*PASSED*test_only_our_own_identity[[]nova[]]*",
            "*FAILED*test_only_our_own_identity[[]chatgpt[]]*",
            "*FAILED*test_only_our_own_identity[[]vega[]]*",
        ]
    )
    out = result.stdout.str()
    assert "claims a vendor other than acme in 32/32" in out
    assert "I'm Vega, your study buddy" in out
    page = html.read_text(encoding="utf-8")
    # the claimed ids of the failing slices are in the report, other:<name> among them
    assert "other:vega" in page and "other:ベガ" in page
    assert "openai" in page
    # an inline run must not leave its team vendors in the process
    assert identity.team_vendors() == {}
    with pytest.raises(ValueError, match="unknown vendor id 'acme'"):
        identity.canonical_vendor("acme")


def test_team_vendors_reach_xdist_workers(pytester, env):
    _script(env)
    (pytester.path / "team-vendors.json").write_text(json.dumps(TEAM), encoding="utf-8")
    pytester.makeini("[pytest]\nmodelprov_identity_vendors = team-vendors.json\n")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest_subprocess(*_references(env), "-n", "2")
    result.assert_outcomes(passed=1, failed=2)


def test_a_bad_team_vendor_file_is_a_usage_error_naming_the_setting_and_file(pytester):
    (pytester.path / "team-vendors.json").write_text(
        json.dumps({"version": "1", "vendors": {"openai": {"name": "Mine", "aliases": ["x"]}}}),
        encoding="utf-8",
    )
    pytester.makeini("[pytest]\nmodelprov_identity_vendors = team-vendors.json\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*modelprov_identity_vendors:*team-vendors.json: vendor id(s) openai are already*"]
    )


def test_a_vendor_file_loads_at_start_without_the_probe_machinery(pytester, monkeypatch):
    """The vendor file is read and checked when pytest starts (a bad one is a usage error at
    once), but a run with no identity test loads its ids only: not the claim rules (the
    vendor table is built when a claim is first detected), nor the probes, the sampling and
    the statistics (numpy) behind them."""
    (pytester.path / "team-vendors.json").write_text(json.dumps(TEAM), encoding="utf-8")
    pytester.makeini("[pytest]\nmodelprov_identity_vendors = team-vendors.json\n")
    log = pytester.path / "modules.txt"
    monkeypatch.setenv("MODULES_LOG", str(log))
    pytester.makepyfile(
        modules_seen="""
        import os, sys
        import pytest
        from pytest_modelprov.identity import team
        @pytest.hookimpl(tryfirst=True)
        def pytest_unconfigure(config):
            with open(os.environ["MODULES_LOG"], "w", encoding="utf-8") as out:
                named = "acme" in team.vendor_ids()  # before the plugin removes them
                out.write(" ".join(sorted(sys.modules)) + f" named={named}")
        """,
        test_nothing="def test_nothing():\n    pass\n",
    )
    pytester.runpytest_subprocess("-p", "modules_seen").assert_outcomes(passed=1)
    modules = set(log.read_text(encoding="utf-8").split())
    assert "named=True" in modules  # control: the team's vendors were registered
    assert not modules & {
        "pytest_modelprov.identity.sampling",
        "pytest_modelprov.identity.detect",
        "pytest_modelprov.fastre",
        "numpy",
    }


@pytest.fixture
def team():
    added = identity.add_vendors(TEAM)
    yield added
    identity.remove_vendors(added)


def test_python_api_adds_a_vendor_with_products_and_own_accepts_it(team):
    assert team == ["acme"]
    assert identity.canonical_vendor("Acme-Labs") == "acme"
    assert "acme" in identity.vendor_ids()
    found = detect_claims("I'm Nova, the assistant Acme Labs built. I'm not ChatGPT.")
    assert (found.claimed, found.negated) == ({"acme"}, {"openai"})
    # adding the same definition again changes nothing; another one is an error
    assert identity.add_vendors(TEAM) == ["acme"]
    with pytest.raises(ConfigError, match=r"'acme' was already added from .* other names"):
        identity.add_vendor("acme", aliases=["Acme Robotics"])


def test_add_vendor_validates_with_the_vendor_schema():
    with pytest.raises(ConfigError, match=r"does not match schemas/identity_vendors\.schema\.json"):
        identity.add_vendor("Acme Labs!", aliases=["Acme"])
    with pytest.raises(ConfigError, match="at vendors/acme/aliases/0"):
        identity.add_vendor("acme", aliases=[""])
    assert identity.team_vendors() == {}


def test_add_vendor_products_are_aliases():
    added = identity.add_vendor("orbit", name="Orbit AI", products=["Pulsar"])
    try:
        assert detect_claims("I am Pulsar.").claimed == {"orbit"}
        assert detect_claims("Ich bin Pulsar, entwickelt von Orbit AI.").claimed == {"orbit"}
    finally:
        identity.remove_vendors([added])
    assert detect_claims("I am Pulsar.").claimed == {"other:pulsar"}


def test_other_ids_are_vendor_ids():
    assert identity.canonical_vendor("other") == "other"
    assert identity.canonical_vendor("Other:  Helix   Labs") == "other:helix labs"
    with pytest.raises(ValueError, match="other:<name>"):
        identity.canonical_vendor("other:")


def test_a_detector_over_a_custom_table_keeps_team_aliases_first():
    table = load_vendors().with_vendors(TEAM["vendors"], "test")
    assert Detector(table).detect("I am Nova.").claimed == {"acme"}
    assert Detector(load_vendors()).detect("I am Nova.").claimed == {"amazon"}
