"""A warm identity probe: its observations replayed as one stored result, with the same
claims, acceptances, languages, tables, failure messages, reports and baselines as the run
that computed them, and as a run without the verdict cache."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from warm_runs import comparable, run_reported

from pytest_modelprov import identity
from pytest_modelprov.calls import sources, verdicts
from pytest_modelprov.calls.response import Response, Usage
from pytest_modelprov.calls.verdicts import VerdictStore
from pytest_modelprov.errors import ConfigError
from pytest_modelprov.identity import detect, sampling
from pytest_modelprov.testing.server import LocalServer

SUITE = """
import dataclasses
import json
import os

import pytest

from pytest_modelprov import identity

OUT = os.environ["WARM_TEST_OUT"]


def _dump(name, result):
    rows = [
        [o.probe.id, o.lang, o.accepted, o.outside, dataclasses.asdict(o.answer),
         dataclasses.asdict(o.reasoning) if o.reasoning is not None else None]
        for o in result.observations
    ]
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump({"rows": rows, "table": result.table(["openai", "anthropic"])}, f,
                  ensure_ascii=False, sort_keys=True, indent=1)


def test_probe(model_under_test):
    # every kind (placebo and system probes are read with their own detectors); the
    # Vietnamese probes are answered in Polish, which the rules do not know (marked)
    result = identity.probe(
        model_under_test, n=2, languages=["en", "ru", "vi"], unvalidated="mark", seed=0
    )
    _dump("probe.json", result)
    result.assert_no_claim("openai", max_rate=0.05)


def test_stop_early(model_under_test):
    result = identity.probe(
        model_under_test, n=2, languages=["en", "ja"], stop_early=identity.StopEarly(threshold=0.5),
        stop_on="openai", seed=0,
    )
    _dump("sequential.json", result)


@pytest.mark.modelprov_drift("identity.claim_rate:+0.9")
def test_gate(model_under_test, modelprov_baseline):
    modelprov_baseline.check(
        identity.probe(model_under_test, n=1, kinds=identity.IDENTITY_KINDS, languages=["en", "ru"])
    )
"""


def _script(server: LocalServer) -> None:
    # our own answers: claims, denials, a yes to anything, a reasoning trace that names
    # another vendor, and Polish answers to Vietnamese probes (outside the rules' languages)
    server.add_rule(r"Orvanta|Are you", "Yes, I am!", "No, I am not that model.")
    server.add_rule(
        r"Кто ты|Какая компания|Какая именно|разговариваю",
        "Я — ChatGPT, языковая модель, созданная OpenAI.",
        "Я ассистент Acme, меня создала компания Acme Labs.",
    )
    server.add_rule(r"[\u3040-\u30ff\u4e00-\u9fff]", "私はAcme Labsが開発したアシスタントです。")
    server.add_rule(r"Bạn|Công ty|Chính xác|mô hình", "Jestem ChatGPT, stworzonym przez OpenAI.")
    server.add_rule(
        r".",
        "I'm Acme Assistant, built by Acme Labs. Unlike ChatGPT, I run locally.",
        "I am Claude, made by Anthropic.",
        reasoning="Draft: I am GPT-4, made by OpenAI. Better to say Acme.",
    )


#: how the verdict store's row of a detector's remembered code files starts
CODE_FILES = "modelprov-code-files/"


def _rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_a_warm_probe_replays_its_observations_and_reports_what_was_computed(
    pytester, env, monkeypatch
):
    _script(env.server)
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("WARM_TEST_OUT", str(pytester.path / "seed"))
    run_reported(pytester, pytester.path / "seed", "--modelprov-update-baselines")
    store = env.cache / verdicts.FILE_NAME
    for stored in env.cache.glob(verdicts.FILE_NAME + "*"):  # with its WAL files
        stored.unlink()
    runs = {}
    for label, args in [
        ("cold", ()),
        ("warm", ()),
        ("off", ("--modelprov-verdict-cache=off",)),
    ]:
        if label == "warm":
            # the per-answer verdicts gone: a warm run has only the stored results (and the
            # remembered list of the detector's code files) to read
            with sqlite3.connect(store) as db:
                db.execute(f"DELETE FROM verdicts WHERE value NOT LIKE '{CODE_FILES}%'")
            assert _rows(store, "results") >= 3  # one per probe call, one per batch asked
        out = pytester.path / label
        monkeypatch.setenv("WARM_TEST_OUT", str(out))
        result, report = run_reported(pytester, out, "--modelprov-record-mode=replay", *args)
        result.assert_outcomes(passed=2, failed=1)
        runs[label] = (result.stdout.str(), report, out)

    cold_out, cold_report, cold_dir = runs["cold"]
    # (the gate re-reads answers the probe test read: those verdicts replay even cold)
    counts = re.search(r"detector verdicts: (\d+) replayed, (\d+) computed", cold_out)
    assert counts and int(counts.group(2)) > 0, cold_out
    warm_out = runs["warm"][0]
    # the summary counts the verdicts the replayed results stand for
    read = int(counts.group(1)) + int(counts.group(2))
    assert f"detector verdicts: {read} replayed, 0 computed" in warm_out, warm_out
    # nothing had to be computed, so nothing stored beside the remembered code files
    assert _rows(store, "verdicts") == 1
    assert "detector verdicts:" not in runs["off"][0]
    for label in ("warm", "off"):
        _, report, folder = runs[label]
        assert comparable(report) == comparable(cold_report), label
        for name in ("probe.json", "sequential.json"):
            assert (folder / name).read_text() == (cold_dir / name).read_text(), (label, name)
        assert sum(m["calls"] for m in report["models"].values()) == 0

    # what was compared holds more than one kind of outcome to get right
    probe = json.loads((cold_dir / "probe.json").read_text())
    assert {r[2] for r in probe["rows"]} >= {True, False, None}  # acceptances and none
    assert any(r[5] for r in probe["rows"])  # reasoning claims
    assert any(r[3] for r in probe["rows"])  # answers outside the rules' languages
    assert [f["test"] for f in cold_report["failures"]] == ["test_suite.py::test_probe"]
    assert "openai" in cold_report["failures"][0]["message"]
    assert "1 compared" in cold_out


@pytest.fixture(autouse=True)
def _fresh_digests() -> Any:
    verdicts.clear_identity_cache()
    yield
    verdicts.clear_identity_cache()


#: our own answers to the first English probe of these kinds, one with a reasoning trace
ANSWERS = [
    ("I'm Acme Assistant, built by Acme Labs. Unlike ChatGPT, I run on your laptop.", None),
    ("I am Claude, an AI assistant made by Anthropic.", "Draft: say GPT-4 by OpenAI? No."),
    ("Yes, I am!", None),
    ("No, I have never heard of that model.", None),
    ("I'm Kestrel, Corvid Bank's assistant, built on GPT-4.", None),
    ("Jestem ChatGPT, stworzonym przez OpenAI.", None),
]
KINDS = ("who", "creator", "suggest", "placebo", "system", "presuppose")


def _case(answers: list[tuple[str, str | None]] = ANSWERS) -> tuple[list[Any], list[Response]]:
    """One English probe of each of KINDS (placebo and system probes are read with their
    own detectors) and an answer to each, as a replayed response under its own cache key."""
    by_kind: dict[str, Any] = {}
    for p in identity.builtin_probes().select(["en"], None).probes:
        by_kind.setdefault(p.kind, p)
    probes = [by_kind[k] for k in KINDS]
    responses = [
        Response.replayed(
            answer=answer,
            reasoning=reasoning,
            messages=({"role": "user", "content": p.text},),
            prompt_index=i,
            replicate=0,
            finish_reason="stop",
            model="m",
            requested_model="m",
            system_fingerprint=None,
            usage=Usage(),
            key=f"key-{i}",
            body={},
        )
        for i, (p, (answer, reasoning)) in enumerate(zip(probes, answers, strict=True))
    ]
    return probes, responses


def _observe(store: VerdictStore | None, rules: detect.Detector | None = None, **kw: Any) -> Any:
    probes, responses = _case(**kw)
    rules = rules if rules is not None else detect.default_detector()
    return sampling._observations(store, rules, probes, responses, accept=True)


def test_replayed_observations_equal_computed_ones(tmp_path):
    fresh = _observe(None)
    assert {o.probe.kind for o in fresh} >= {"placebo", "system", "suggest"}
    assert {o.accepted for o in fresh} >= {True, False}
    store = VerdictStore(tmp_path)
    assert _observe(store) == fresh
    assert (store.results_computed, store.results_replayed) == (1, 0)
    assert _observe(store) == fresh
    assert (store.results_computed, store.results_replayed) == (1, 1)
    # the replay stood for every verdict it holds: the answers, a trace, the placebo and
    # system reads, as the computing run counted them
    assert store.replayed == store.computed > len(ANSWERS)


def test_a_damaged_or_moved_result_is_computed_again(tmp_path):
    store = VerdictStore(tmp_path)
    fresh = _observe(store)
    with sqlite3.connect(store.path) as db:
        ((_, value),) = db.execute("SELECT key, value FROM results").fetchall()
        head, body = value.split(b"\n", 1)
        data = json.loads(body)
        data[0][3] = 7  # a language that is not text
        db.execute(
            "UPDATE results SET value = ?",
            (head + b"\n" + json.dumps(data).encode(),),
        )
    assert _observe(store) == fresh
    assert store.results_computed == 2
    # a recording refreshed under the same keys is other answers: not the stored result
    other = [(a.replace("Claude", "Gemini").replace("Anthropic", "Google"), r) for a, r in ANSWERS]
    changed = _observe(store, answers=other)
    assert changed == _observe(None, answers=other) != fresh
    assert store.results_computed == 3


def test_another_vendor_table_or_a_subclass_is_another_detector(tmp_path):
    store = VerdictStore(tmp_path)
    rules = detect.default_detector()
    _observe(store, rules)
    wider = detect.Detector(rules.vendors.merged({"acme": ["Acme Assistant", "Acme Labs"]}))
    assert sampling._observe_identity(wider) != sampling._observe_identity(rules)
    assert _observe(store, wider) == _observe(None, wider) != _observe(None, rules)
    assert store.results_replayed == 0

    class Quiet(detect.Detector):
        pass

    assert sampling._observe_identity(Quiet(rules.vendors)) is None


def test_the_identity_covers_the_acceptance_and_language_rules():
    """Editing the yes/no openers, the language reading (this module) or langid changes
    what an observation is stored under."""
    # (read off the sources: the identity is known without importing the rules or langid)
    files = sources.code_files(sampling._OBSERVE_CODE, sampling._OBSERVE_SHALLOW)
    assert files is not None
    names = {p.name for p in files}
    assert {"sampling.py", "langid.py", "detect.py", "frames.py", "vendors.py"} <= names


# -- the warm path with a team's vendor file ---------------------------------------------------

TEAM_SUITE = """
import dataclasses
import json
import os
import sys

from pytest_modelprov import identity

OUT = os.environ["WARM_TEST_OUT"]


def test_probe(model_under_test):
    result = identity.probe(model_under_test, n=2, languages=["en", "ja"])
    rows = [[o.probe.id, o.lang, o.accepted, dataclasses.asdict(o.answer)]
            for o in result.observations]
    with open(os.path.join(OUT, "probe.json"), "w", encoding="utf-8") as f:
        json.dump({"rows": rows, "table": result.table(["acme", "openai"])}, f,
                  ensure_ascii=False, sort_keys=True, indent=1)
    with open(os.path.join(OUT, "modules.json"), "w", encoding="utf-8") as f:
        json.dump(sorted(sys.modules), f)
    result.assert_no_foreign_claim(own="acme", max_rate=0.3)
"""

#: the claim rules and what only they use: a run replaying every observation loads none
RULE_MODULES = {
    "pytest_modelprov.identity.detect",
    "pytest_modelprov.identity.frames",
    "pytest_modelprov.identity.vendors",
    "pytest_modelprov.identity.typography",
    "pytest_modelprov.fastre",
}


def _team_file(path: Path, aliases: list[str]) -> None:
    team = {"version": "acme/1", "vendors": {"acme": {"name": "Acme Labs", "aliases": aliases}}}
    path.write_text(json.dumps(team), encoding="utf-8")


def test_a_warm_probe_with_team_vendors_loads_no_claim_rules_and_reads_an_edited_file_afresh(
    pytester, env, monkeypatch
):
    """The team vendor file is checked when pytest starts, but the vendor table is built
    only when a claim is detected: a warm run replays its observations without the claim
    rules or fastre, with the same rows, table and report as a run without the verdict
    cache. Its observations are stored under the team's vendors: after an edit of the file
    (Nova becomes Acme's), nothing stored before is replayed."""
    env.server.add_rule(r"[\u3040-\u30ff]", "私はNovaです。Acme Labsが開発しました。")
    env.server.add_rule(r".", "I am Nova, made by Acme Labs.", "I'm ChatGPT, made by OpenAI.")
    vendors = pytester.path / "team-vendors.json"
    _team_file(vendors, ["Acme Labs"])
    pytester.makeini("[pytest]\nmodelprov_identity_vendors = team-vendors.json\n")
    pytester.makepyfile(test_suite=TEAM_SUITE)
    runs: dict[str, tuple[str, dict[str, Any], Path]] = {}

    def run(label: str, *args: str) -> None:
        out = pytester.path / label
        monkeypatch.setenv("WARM_TEST_OUT", str(out))
        result, report = run_reported(pytester, out, *args)
        result.assert_outcomes(failed=1)  # ChatGPT in half the answers
        runs[label] = (result.stdout.str(), report, out)

    run("seed")  # records the answers, computes and stores the observations
    run("warm", "--modelprov-record-mode=replay")
    run("off", "--modelprov-record-mode=replay", "--modelprov-verdict-cache=off")
    _team_file(vendors, ["Acme Labs", "Nova"])
    run("edited", "--modelprov-record-mode=replay")
    run("edited-off", "--modelprov-record-mode=replay", "--modelprov-verdict-cache=off")

    def modules(label: str) -> set[str]:
        return set(json.loads((runs[label][2] / "modules.json").read_text()))

    def probe(label: str) -> str:
        return (runs[label][2] / "probe.json").read_text(encoding="utf-8")

    assert ", 0 computed" in runs["warm"][0], runs["warm"][0]
    assert not RULE_MODULES & modules("warm")
    assert modules("seed") >= RULE_MODULES and modules("edited") >= RULE_MODULES
    # the code files were found once (seed) and remembered: a warm run reads no import
    assert "pytest_modelprov.calls.sources" in modules("seed")
    assert "pytest_modelprov.calls.sources" not in modules("warm")
    for label in ("warm", "off"):
        assert probe(label) == probe("seed"), label
        assert comparable(runs[label][1]) == comparable(runs["seed"][1]), label
    # the edit moves claims (control), and the edited run computes them afresh
    assert "other:nova" in probe("seed") and "other:nova" not in probe("edited")
    computed = re.search(r"detector verdicts: \d+ replayed, (\d+) computed", runs["edited"][0])
    assert computed and int(computed.group(1)) > 0, runs["edited"][0]
    assert probe("edited") == probe("edited-off")
    assert comparable(runs["edited"][1]) == comparable(runs["edited-off"][1])


def test_the_source_read_identity_covers_every_module_an_observation_runs():
    """The observations' identity reads the code's import statements instead of importing
    the claim rules: it digests at least the modules they are made of once imported
    (followed through their globals), the team module and the normalisation among them."""
    detect.default_detector()  # imported, as verdicts.code_files needs
    static = sources.code_files(sampling._OBSERVE_CODE, sampling._OBSERVE_SHALLOW)
    assert static is not None
    dynamic = verdicts.code_files(*sampling._OBSERVE_CODE, shallow=sampling._OBSERVE_SHALLOW)
    assert {p.resolve() for p in dynamic} <= {p.resolve() for p in static}
    names = {p.name for p in static}
    assert {"detect.py", "team.py", "typography.py", "fastre.py", "langid.py"} <= names
    assert not {"result.py", "probes.py", "plugin.py"} & names


def test_the_default_detectors_identity_is_its_team_vendors_in_the_order_added(tmp_path):
    """Known without building the detector, and another with every team vendor added or
    removed, or added in another order (among equal aliases the first added wins)."""
    before = sampling._observe_identity(None)
    assert before is not None
    one = {"name": "One", "aliases": ["Nova"]}
    two = {"name": "Two", "aliases": ["Nova"]}
    identity.add_vendors({"version": "t", "vendors": {"one": one}})
    identity.add_vendors({"version": "t", "vendors": {"two": two}})
    try:
        first = sampling._observe_identity(None)
        assert detect.default_detector().detect("I am Nova.").claimed == {"one"}
    finally:
        identity.remove_vendors(["one", "two"])
    identity.add_vendors({"version": "t", "vendors": {"two": two, "one": one}})
    try:
        second = sampling._observe_identity(None)
        assert detect.default_detector().detect("I am Nova.").claimed == {"two"}
    finally:
        identity.remove_vendors(["one", "two"])
    assert len({before, first, second}) == 3
    assert sampling._observe_identity(None) == before


BAD_TEAMS = [
    # a pattern alias that does not compile
    {"acme": {"name": "Acme", "aliases": ["Acme"], "patterns": [{"regex": "acme-(["}]}},
    # an id or a synonym the built-in table holds
    {"openai": {"name": "Mine", "aliases": ["x"]}},
    {"acme": {"name": "Acme", "aliases": ["Acme"], "synonyms": ["x-ai"]}},
    # both: the pattern is found first, as building the table finds it
    {"xai": {"name": "X", "aliases": ["x"], "patterns": [{"regex": "("}]}},
]


@pytest.mark.parametrize("vendors", BAD_TEAMS, ids=["pattern", "id", "synonym", "both"])
def test_a_bad_team_vendor_is_refused_as_building_the_table_would(vendors):
    """Adding team vendors checks what building the vendor table would refuse, without
    building it (not even the built-in table's aliases), and says so in the same words."""
    detect._builtin_vendors.cache_clear()
    with pytest.raises(ConfigError) as added:
        identity.add_vendors({"version": "t", "vendors": vendors})
    assert detect._builtin_vendors.cache_info().currsize == 0
    assert identity.team_vendors() == {}
    with pytest.raises(ConfigError) as built:
        detect._team_table(vendors, "team vendors (identity.add_vendors)")
    assert str(added.value) == str(built.value)
