"""Review of the identity warm path (bd1c54e): team vendor files the start-up check accepts
but the detector cannot use, observations replayed under an identity that misses what a
recomputation reads, forged stored claims, and team vendors shared by inline runs."""

from __future__ import annotations

import json
import sqlite3
import typing
from collections.abc import Callable
from typing import Any

import pytest
from test_identity_warm import _case

from pytest_modelprov import identity
from pytest_modelprov.calls import verdicts
from pytest_modelprov.calls.verdicts import VerdictStore
from pytest_modelprov.errors import ConfigError
from pytest_modelprov.identity import detect, sampling


@pytest.fixture(autouse=True)
def _fresh_digests() -> Any:
    verdicts.clear_identity_cache()
    yield
    verdicts.clear_identity_cache()


# -- (1) a team vendor file accepted when pytest starts must build a working detector ---------

#: what the built-in table finds here, whatever team vendor is added (none of its names)
NAMES = "I am ChatGPT. I am Grok. I am Qwen. I am Yi-34b. I am o3."

#: team vendors the schema and the start-up check accept, the detector cannot use
UNUSABLE = {
    # a capturing group shifts the groups the detector tells its aliases apart by: every
    # shorter alias is read as another vendor's ("I am Qwen" -> openai)
    "capturing-group": {
        "acme": {"name": "Acme", "aliases": [], "patterns": [{"regex": r"acme-(\d+)"}]}
    },
    "named-groups": {
        "acme": {
            "name": "Acme",
            "aliases": [],
            "patterns": [{"regex": "(?P<v>nova)x"}, {"regex": "(?P<v>nox)y"}],
        }
    },
    # compiles alone, not as one alternative of the detector's pattern (re.error)
    "global-flag": {"acme": {"name": "Acme", "aliases": [], "patterns": [{"regex": "(?i)acme-x"}]}},
    # matches the empty text: found everywhere, it hides every name in no table ("I'm Vega"
    # is no longer other:vega) and turns every key-value line into a list of vendors
    "empty-match": {"acme": {"name": "Acme", "aliases": [], "patterns": [{"regex": "(?:acme)?"}]}},
    "zero-width": {"acme": {"name": "Acme", "aliases": [], "patterns": [{"regex": r"\b"}]}},
    # a name is an alias too: one of blanks only has no first word (IndexError)
    "blank-name": {"acme": {"name": " ", "aliases": ["Acme"]}},
    "no-break-space-name": {"acme": {"name": "\u00a0", "aliases": ["Acme"]}},
}


@pytest.mark.parametrize("vendors", list(UNUSABLE.values()), ids=list(UNUSABLE))
def test_a_team_vendor_the_detector_cannot_use_is_refused_when_added(vendors):
    """Refused with a ConfigError when added (so a vendor file fails when pytest starts), as
    building the table refuses it, in the same words; never accepted and then an error, or
    other vendors' claims, at the first detection."""
    before = [(c.vendor, c.alias) for c in detect.default_detector().detect(NAMES).items]
    try:
        identity.add_vendors({"version": "t", "vendors": vendors})
    except ConfigError as exc:
        added: str | None = str(exc)
    else:
        added = None
        try:
            after = [(c.vendor, c.alias) for c in detect.default_detector().detect(NAMES).items]
        finally:
            identity.remove_vendors(list(vendors))
        assert after == before  # unreachable once refused: accepted, it must still work
    assert added is not None
    assert identity.team_vendors() == {}
    with pytest.raises(ConfigError) as built:
        detect._team_table(vendors, "team vendors (identity.add_vendors)")
    assert str(built.value) == added
    assert "vendors.acme" in added


def test_a_team_vendor_file_with_a_capturing_group_is_a_usage_error_at_start(pytester):
    (pytester.path / "team-vendors.json").write_text(
        json.dumps({"version": "1", "vendors": UNUSABLE["capturing-group"]}), encoding="utf-8"
    )
    pytester.makeini("[pytest]\nmodelprov_identity_vendors = team-vendors.json\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*modelprov_identity_vendors:*vendors.acme.patterns*acme-*"])
    assert identity.team_vendors() == {}


def test_the_usable_patterns_of_the_built_in_table_pass_the_check():
    # (control: the check refuses nothing the built-in table holds)
    table = detect._builtin_vendors()
    assert [a for a in table.aliases if a.regex]


# -- (2) what a recomputation reads is in the observations' identity --------------------------

#: an English system probe's answer the deployment detector reads with the team vendors:
#: "zorblax" is an unknown lowercase word without them, another name of the model with them
SYSTEM_ANSWER = "I am zorblax."


def _system_case() -> tuple[list[Any], list[Any]]:
    probes, _ = _case()
    answers = [("I am Claude, made by Anthropic.", None)] * len(probes)
    answers[[p.kind for p in probes].index("system")] = (SYSTEM_ANSWER, None)
    return _case(answers)


def _system_accepted(observations: list[Any]) -> bool | None:
    return next(o.accepted for o in observations if o.probe.kind == "system")


def test_an_explicit_detectors_observations_are_stored_under_the_team_vendors_too(tmp_path):
    """An explicit ``detector=`` reads placebo and system probes with detectors derived from
    the default one, which holds the team vendors: adding one moves an acceptance, so what
    was stored without it must not be replayed with it."""
    probes, responses = _system_case()
    rules = detect.Detector()  # the built-in table, passed explicitly
    store = VerdictStore(tmp_path)
    stored = sampling._observations(store, rules, probes, responses, accept=True)
    assert _system_accepted(stored) is True
    identity.add_vendor("acme", name="Acme", aliases=["zorblax"])
    try:
        fresh = sampling._observations(None, rules, probes, responses, accept=True)
        assert _system_accepted(fresh) is False  # control: the team vendor moves it
        assert sampling._observations(store, rules, probes, responses, accept=True) == fresh
    finally:
        identity.remove_vendors(["acme"])
    assert sampling._observations(store, rules, probes, responses, accept=True) == stored


def test_the_validated_languages_are_in_the_observations_identity(tmp_path, monkeypatch):
    """The language an answer is read in depends on which languages the rules know
    (``result.VALIDATED_LANGUAGES``, outside the modules digested): editing that set must
    not replay languages worked out with the old one."""
    probes, responses = _case([("Jestem ChatGPT.", None)] * 6)
    store = VerdictStore(tmp_path)
    stored = sampling._observations(store, None, probes, responses, accept=True)
    assert stored[0].lang == "pl"
    # the edit: English dropped (the rules no longer trusted to read it)
    monkeypatch.setattr(sampling, "VALIDATED_LANGUAGES", sampling.VALIDATED_LANGUAGES - {"en"})
    fresh = sampling._observations(None, None, probes, responses, accept=True)
    assert fresh[0].lang == "en"  # control: it moves the language
    assert sampling._observations(store, None, probes, responses, accept=True) == fresh


# -- (3) forged stored claims are refused and computed again ----------------------------------


def _forge(store: VerdictStore, change: Callable[[Any], None]) -> None:
    with sqlite3.connect(store.path) as db:
        ((_, value),) = db.execute("SELECT key, value FROM results").fetchall()
        head, body = value.split(b"\n", 1)
        data = json.loads(body)
        change(data)
        db.execute("UPDATE results SET value = ?", (head + b"\n" + json.dumps(data).encode(),))


def _set_claim(field: str, value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        data[0][0][0][sampling._CLAIM_FIELDS.index(field)] = value

    return change


def _set_accepted(value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        data[0][2] = value  # the first probe is a "who" probe: it accepts nothing

    return change


FORGED = {
    "vendor-null": _set_claim("vendor", None),
    "vendor-bool": _set_claim("vendor", True),
    "alias-null": _set_claim("alias", None),
    "status-unknown": _set_claim("status", "bogus"),
    "status-null": _set_claim("status", None),
    "role-unknown": _set_claim("role", "ceo"),
    "role-bool": _set_claim("role", False),
    "weak-text": _set_claim("weak", "no"),
    "weak-null": _set_claim("weak", None),
    "sentence-null": _set_claim("sentence", None),
    "clause-bool": _set_claim("clause", True),
    "accepted-on-a-who-probe": _set_accepted(True),
}


@pytest.mark.parametrize("change", list(FORGED.values()), ids=list(FORGED))
def test_a_stored_observation_with_an_ill_typed_field_is_computed_again(tmp_path, change):
    probes, responses = _case()
    assert probes[0].kind == "who"
    fresh = sampling._observations(None, None, probes, responses, accept=True)
    store = VerdictStore(tmp_path)
    assert sampling._observations(store, None, probes, responses, accept=True) == fresh
    _forge(store, change)
    replayed = VerdictStore(tmp_path)
    assert sampling._observations(replayed, None, probes, responses, accept=True) == fresh
    assert (replayed.results_computed, replayed.results_replayed) == (1, 0)


def test_a_stored_claim_verdict_with_an_ill_typed_field_is_computed_again(tmp_path):
    """The per-text verdicts decode claims the same way."""
    rules = detect.default_detector()
    texts = [("key-0", "answer", "I am Claude, made by Anthropic.", None)]
    store = VerdictStore(tmp_path)
    fresh = sampling._detect_all(store, rules, texts)
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT key, value FROM verdicts").fetchall()
        assert rows
        for key, value in rows:
            text = value.decode() if isinstance(value, bytes) else value
            forged = text.replace('"claimed"', '"bogus"')
            assert forged != text
            db.execute(
                "UPDATE verdicts SET value = ? WHERE key = ?",
                (forged.encode() if isinstance(value, bytes) else forged, key),
            )
    again = VerdictStore(tmp_path)
    assert sampling._detect_all(again, rules, texts) == fresh
    assert again.computed == 1


# -- (4) inline runs share the process's team vendors ------------------------------------------


def test_an_inline_run_with_a_vendor_file_leaves_the_team_vendors_it_found(pytester):
    """A vendor the session added before an inline run (a conftest, identity.add_vendor) is
    still there after an inline run whose vendor file defines it the same way: the run
    removes only what it added."""
    entry = {"name": "Acme Labs", "aliases": ["Acme"]}
    identity.add_vendors({"version": "t", "vendors": {"acme": entry}})
    try:
        (pytester.path / "team-vendors.json").write_text(
            json.dumps({"version": "1", "vendors": {"acme": entry}}), encoding="utf-8"
        )
        pytester.makeini("[pytest]\nmodelprov_identity_vendors = team-vendors.json\n")
        pytester.makepyfile("def test_x():\n    pass\n")
        pytester.runpytest().assert_outcomes(passed=1)
        assert "acme" in identity.team_vendors()
        assert identity.canonical_vendor("acme") == "acme"
    finally:
        identity.remove_vendors(["acme"])


# -- (5) typing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["probe", "IdentityResult", "Observation", "parse_judge", "detect_claims"]
)
def test_the_public_api_type_hints_resolve(name):
    """``typing.get_type_hints`` resolved every public function and class of identity before
    the claim rules were loaded lazily (tools such as pydantic, typeguard and
    sphinx-autodoc-typehints call it)."""
    assert typing.get_type_hints(getattr(identity, name))


def test_placebo_and_system_detectors_live_only_as_long_as_their_default_detector():
    """They are kept per default detector, which team vendors replace: keyed by its address
    (``id``), those of every replaced one were kept for good (a long session of inline runs
    with a vendor file piles them up), and a new default detector at a freed address would
    be handed one built over another table."""
    import gc

    names = ("Kestrel", "Corvid")
    for number in range(5):
        identity.add_vendor(f"acme{number}", name=f"Acme {number}", aliases=[f"Zorb{number}"])
        try:
            placebo = sampling._placebo_detector("Orvanta-7")
            system = sampling._deployment_detector(names)
            assert f"acme{number}" in placebo.vendors.names
            assert f"acme{number}" in system.vendors.names
        finally:
            identity.remove_vendors([f"acme{number}"])
        del placebo, system
    detect.default_detector()  # the current one, without team vendors
    gc.collect()
    kept = [*sampling._PLACEBO.values(), *sampling._DEPLOYMENT.values()]
    tables = [d for held in kept for d in (held.values() if isinstance(held, dict) else [held])]
    assert not any(vid.startswith("acme") for d in tables for vid in d.vendors.names)
