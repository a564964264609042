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
from pytest_modelprov.calls import verdicts
from pytest_modelprov.calls.response import Response, Usage
from pytest_modelprov.calls.verdicts import VerdictStore
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
            # the per-answer verdicts gone: a warm run has only the stored results to read
            with sqlite3.connect(store) as db:
                db.execute("DELETE FROM verdicts")
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
    assert _rows(store, "verdicts") == 0  # nothing had to be computed, so nothing stored
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
    names = {
        p.name
        for p in verdicts.code_files(*sampling._OBSERVE_CODE, shallow=sampling._OBSERVE_SHALLOW)
    }
    assert {"sampling.py", "langid.py", "detect.py", "frames.py", "vendors.py"} <= names
