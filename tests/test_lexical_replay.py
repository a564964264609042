"""Lexical comparisons replayed from the result cache: a warm run counts nothing and imports
no numpy, and what it reports is what a computing run reports, field for field."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_lexical_plugin import _configure

from pytest_modelprov import lexical
from pytest_modelprov.calls import verdicts
from pytest_modelprov.lexical import replay
from pytest_modelprov.reports.measurement import PROPERTY

INNER = """
import json
import os
import warnings
from pathlib import Path

from pytest_modelprov import lexical

PROMPTS = [f"Write story number {i} about a place you remember." for i in range(8)]
# prompts no rule of the server singles out: every one gets the catch-all answers
HARBOURS = [f"Describe harbour {i} at night." for i in range(8)]
SEED = int(os.environ.get("LEX_SEED", "0"))
OUT = Path(os.environ["LEX_OUT"])


def _interval(d):
    return [d.value, d.low, d.high, d.confidence, d.resamples]


def _comparison(c):
    return {
        "method": c.method, "unit": c.unit, "floor": c.floor, "nearest": c.nearest,
        "table": c.table(), "refs": list(c.refs), "ours": c.ours.label,
        "distances": {n: _interval(d) for n, d in c.distances.items()},
        "margins": {n: _interval(d) for n, d in c.margins.items()},
    }


def _run(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, failure = call(), None
        except AssertionError as exc:
            value, failure = None, str(exc)
    # a ResourceWarning is the collector finalising a socket an earlier in-process run left
    # open, whenever a computation happens to trigger it: not something the call said
    said = [
        [str(w.message), w.category.__name__, Path(w.filename).name, w.lineno]
        for w in caught
        if not issubclass(w.category, ResourceWarning)
    ]
    return {"value": value, "failure": failure, "warnings": said}


def _fingerprints(model_under_test, reference_model):
    ours = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS)
    refs = {
        name: lexical.fingerprint(reference_model(name), n=3, prompts=PROMPTS)
        for name in ("ember", "slate", "tidal")
    }
    return ours, refs


def _dump(name, fps, **calls):
    # whether each fingerprint was counted: a replayed run never counts one
    calls["counted"] = ["counts" in vars(fp) for fp in fps]
    (OUT / f"{name}.json").write_text(json.dumps(calls, sort_keys=True))


def test_thresholds(model_under_test, reference_model):
    ours, refs = _fingerprints(model_under_test, reference_model)
    _dump(
        "thresholds",
        [ours, *refs.values()],
        below=_run(lambda: _interval(lexical.assert_distance_below(
            ours, refs["ember"], 0.3, name="ember", seed=SEED))),
        above=_run(lambda: _interval(lexical.assert_distance_above(
            ours, refs["ember"], 0.3, name="ember-far"))),
        frequency=_run(lambda: _interval(lexical.assert_distance_below(
            ours, refs["slate"], 0.17, unit="frequency"))),
        profile=_run(lambda: _interval(lexical.assert_distance_above(
            ours, refs["tidal"], 0.1, method="profile"))),
    )


def test_nearest(model_under_test, reference_model):
    ours, refs = _fingerprints(model_under_test, reference_model)
    _dump(
        "nearest",
        [ours, *refs.values()],
        right=_run(lambda: _comparison(lexical.assert_nearest(ours, refs, "ember"))),
        wrong=_run(lambda: _comparison(lexical.assert_nearest(ours, refs, "slate"))),
        compared=_run(lambda: _comparison(lexical.compare(ours, refs))),
        jaccard=_run(lambda: _comparison(lexical.compare(ours, refs, method="jaccard"))),
    )


def test_plain_figures(model_under_test, reference_model):
    ours, refs = _fingerprints(model_under_test, reference_model)
    harbours = lexical.fingerprint(reference_model("tidal"), n=3, prompts=HARBOURS)
    _dump(
        "plain",
        [ours, refs["ember"], harbours],
        distance=_run(lambda: lexical.distance(ours, refs["ember"])),
        method=_run(lambda: ours.distance(refs["ember"], "profile")),
        # across prompt sets: both warn (unvalidated unit, few shared prompts)
        frequency=_run(lambda: ours.distance(harbours, unit="frequency")),
        profile=_run(lambda: lexical.distance(ours, harbours, "profile")),
        floor=_run(lambda: lexical.noise_floor(ours)),
        words=_run(lambda: lexical.shared_words(ours, refs["ember"])),
    )


def test_baseline(model_under_test, reference_model, modelprov_baseline):
    ours = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS + HARBOURS)
    ember = lexical.fingerprint(reference_model("ember"), n=3, prompts=PROMPTS + HARBOURS)
    lexical.assert_distance_below(ours, ember, 0.5, name="ember")
    store = model_under_test.verdicts
    # (not "if store": an empty store has no length)
    counts = (store.results_replayed, store.results_computed) if store is not None else (0, 0)
    drifts = modelprov_baseline.check(ours)
    if store is not None:  # how many results the check replayed and computed
        counts = (store.results_replayed - counts[0], store.results_computed - counts[1])
    # every field of the drift, exactly (repr: floats to the last bit)
    (OUT / "drift.json").write_text(json.dumps({"drifts": [repr(d) for d in drifts],
        "results": list(counts) if store is not None else None}))
"""

CONFTEST = """
import json
import os
import sys
from pathlib import Path


def pytest_unconfigure(config):
    out = os.environ.get("LEX_OUT")
    if out and Path(out).is_dir():
        numpy = sorted(m for m in sys.modules if m.split(".")[0] == "numpy")
        Path(out, "numpy.json").write_text(json.dumps(numpy))
        lexical = sorted(m for m in sys.modules if m.startswith("pytest_modelprov.lexical."))
        Path(out, "lexical.json").write_text(json.dumps(lexical))
"""

#: the code that counts and compares: a run that replays every comparison loads none of it
#: (``anchor`` it does: a jaccard comparison's key names the scale wordfreq gives it)
COUNTING = {
    f"pytest_modelprov.lexical.{name}" for name in ("text", "counting", "distances", "deltaterms")
}

CALLS = ("thresholds", "nearest", "plain")


def _setup(pytester: pytest.Pytester, env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(env, monkeypatch)
    pytester.makepyfile(test_lex=INNER)
    pytester.makeconftest(CONFTEST)


def _run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    label: str,
    *args: str,
    inprocess: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """One inner run; what each call returned, raised and warned, the measurements in its
    JUnit XML, whether any fingerprint was counted and which numpy modules it imported."""
    out = pytester.path / "out" / label
    out.mkdir(parents=True)
    monkeypatch.setenv("LEX_OUT", str(out))
    monkeypatch.setenv("LEX_SEED", str(seed))
    xml = out / "junit.xml"
    flags = ("-p", "no:randomly", "-p", "no:cacheprovider", f"--junitxml={xml}", *args)
    if inprocess:
        result = pytester.runpytest_inprocess(*flags)
    else:
        result = pytester.runpytest_subprocess(*flags)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, result.stdout.str()
    calls = {
        name: json.loads((out / f"{name}.json").read_text())
        for name in CALLS
        if (out / f"{name}.json").exists()
    }
    measurements = {
        case.get("name"): [
            json.loads(p.get("value", ""))
            for p in case.iter("property")
            if p.get("name") == PROPERTY
        ]
        for case in ET.parse(xml).iter("testcase")
    }
    return {
        "calls": {n: {k: v for k, v in c.items() if k != "counted"} for n, c in calls.items()},
        "counted": {n: c["counted"] for n, c in calls.items()},
        "measurements": measurements,
        "numpy": json.loads((out / "numpy.json").read_text()),
        "lexical": json.loads((out / "lexical.json").read_text()),
        "stdout": result.stdout.str(),
    }


def _results(env: Any) -> dict[str, bytes]:
    with sqlite3.connect(env.cache / verdicts.FILE_NAME) as db:
        return dict(db.execute("SELECT key, value FROM results"))


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    """``a`` returned, raised, warned and recorded what ``b`` did, in every test ``a`` ran."""
    assert a["calls"] == b["calls"]
    mine, theirs = _lexical(a), _lexical(b)
    assert mine and set(mine) <= set(theirs)
    assert mine == {test: theirs[test] for test in mine}


def _lexical(run: dict[str, Any]) -> dict[str, list[Any]]:
    """The measurements of the lexical checks (a run writing baselines compares none)."""
    return {
        test: [m for m in found if m["labels"].get("reference") != "baseline"]
        for test, found in run["measurements"].items()
    }


def _baselines(pytester: pytest.Pytester) -> dict[str, Any]:
    """The baseline files written, but for when they were written."""
    root = pytester.path / "modelprov-baselines"
    found = {}
    for path in sorted(root.rglob("*.json")):
        data = json.loads(path.read_text())
        assert data.pop("created")
        found[str(path.relative_to(root))] = data
    return found


def test_a_warm_run_replays_every_lexical_result_equal_and_imports_no_numpy(
    pytester: pytest.Pytester, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(pytester, env, monkeypatch)
    cold = _run(pytester, monkeypatch, "cold", "--modelprov-update-baselines")
    first_baselines = _baselines(pytester)
    assert first_baselines
    assert all(all(c) for c in cold["counted"].values())
    # the inner calls measured something real: a pass, failures, warnings, measurements
    thresholds = cold["calls"]["thresholds"]
    assert thresholds["below"]["failure"] is None
    assert "not above 0.300" in thresholds["above"]["failure"]
    plain = cold["calls"]["plain"]
    assert len(plain["frequency"]["warnings"]) == 1 and len(plain["profile"]["warnings"]) == 1
    assert "share 0 of 8 and 8 prompts" in plain["frequency"]["warnings"][0][0]
    assert plain["frequency"]["warnings"][0][2] == "test_lex.py"  # the caller's line
    assert "is nearest to 'ember', not 'slate'" in cold["calls"]["nearest"]["wrong"]["failure"]
    evidence = [m for m in cold["measurements"]["test_nearest"] if m["details"].get("evidence")]
    assert evidence and evidence[0]["verdict"] == "fail"
    rows = _results(env)
    assert rows

    requests = len(env.server.requests)
    # (a baseline check, its drift replayed, still counts its fingerprint to write or compare
    # the payload and reads the stored one with numpy: left out of the run that counts imports)
    warm = _run(
        pytester, monkeypatch, "warm", "--modelprov-record-mode=replay", "-k", "not baseline"
    )
    assert len(env.server.requests) == requests
    _same(warm, cold)
    assert not any(any(c) for c in warm["counted"].values()), warm["counted"]
    assert warm["numpy"] == [], "a replayed lexical run imported numpy"
    assert not COUNTING & set(warm["lexical"]), warm["lexical"]
    assert set(cold["lexical"]) >= COUNTING
    assert _results(env) == rows

    # a baseline written after a replayed check is the one written after a computed one
    shutil.rmtree(pytester.path / "modelprov-baselines")
    rewritten = _run(
        pytester,
        monkeypatch,
        "rewritten",
        "--modelprov-record-mode=replay",
        "--modelprov-update-baselines",
    )
    _same(rewritten, cold)
    assert _baselines(pytester) == first_baselines
    shutil.rmtree(pytester.path / "modelprov-baselines")

    off = _run(
        pytester,
        monkeypatch,
        "off",
        "--modelprov-record-mode=replay",
        "--modelprov-verdict-cache=off",
        "--modelprov-update-baselines",
    )
    _same(off, cold)
    assert all(all(c) for c in off["counted"].values())
    assert _results(env) == rows
    # the baseline a computing run writes is the one the replaying run's checks compared with
    assert _baselines(pytester) == first_baselines

    # a changed setting (the seed of one check) is computed again, the rest replayed
    seeded = _run(pytester, monkeypatch, "seeded", "--modelprov-record-mode=replay", seed=1)
    assert seeded["counted"]["thresholds"][:2] == [True, True]
    assert seeded["counted"]["nearest"] == [False] * 4
    assert len(_results(env)) == len(rows) + 1
    assert seeded["calls"]["nearest"] == cold["calls"]["nearest"]


def _stored_run(
    pytester: pytest.Pytester, env: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    _setup(pytester, env, monkeypatch)
    cold = _run(pytester, monkeypatch, "cold", "-k", "not baseline", inprocess=True)
    again = _run(
        pytester,
        monkeypatch,
        "again",
        "-k",
        "not baseline",
        "--modelprov-record-mode=replay",
        inprocess=True,
    )
    assert not any(any(c) for c in again["counted"].values())
    _same(again, cold)
    return cold


def test_an_edited_lexical_rule_computes_every_result_again(
    pytester: pytest.Pytester, env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A module a replaying run never imports (the distances) is part of the identity all
    the same: edited, every result is computed again."""
    cold = _stored_run(pytester, env, monkeypatch)
    rows = _results(env)
    # the identity digests a copy of the real package folder, whose distances are edited
    copy = tmp_path / "lexical"
    shutil.copytree(replay.FOLDER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(replay, "FOLDER", copy)
    replay.code_digest.cache_clear()
    try:
        files = replay.code_files()
        assert files is not None
        names = {p.name for p in files}
        assert {"checks.py", "distances.py", "deltaterms.py", "text.py", "replay.py"} <= names
        before = replay.identity()
        edited = copy / "distances.py"
        edited.write_text(edited.read_text() + "\n# an edited rule\n")
        replay.code_digest.cache_clear()
        assert replay.identity() != before
        after = _run(
            pytester,
            monkeypatch,
            "edited",
            "-k",
            "not baseline",
            "--modelprov-record-mode=replay",
            inprocess=True,
        )
    finally:
        replay.code_digest.cache_clear()
    assert all(all(c) for c in after["counted"].values())
    _same(after, cold)
    assert len(_results(env)) == 2 * len(rows)


@pytest.mark.parametrize("damage", ["garbage", "foreign", "truncated"])
def test_a_damaged_or_foreign_result_is_computed_again(
    pytester: pytest.Pytester, env: Any, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    cold = _stored_run(pytester, env, monkeypatch)
    rows = _results(env)
    keys = sorted(rows)
    with sqlite3.connect(env.cache / verdicts.FILE_NAME) as db:
        for i, key in enumerate(keys):
            if damage == "garbage":
                value = b"modelprov-result/1\t" + key.encode() + b"\t" + b"0" * 64 + b"\n{}"
            elif damage == "foreign":  # every row holds its neighbour's value
                value = rows[keys[(i + 1) % len(keys)]]
            else:
                value = rows[key][: len(rows[key]) // 2]
            db.execute("UPDATE results SET value = ? WHERE key = ?", (value, key))
    again = _run(
        pytester,
        monkeypatch,
        "damaged",
        "-k",
        "not baseline",
        "--modelprov-record-mode=replay",
        inprocess=True,
    )
    assert all(all(c) for c in again["counted"].values())
    _same(again, cold)
    assert _results(env) == rows  # stored over the damaged rows, as computed the first time
    assert "VerdictCacheWarning" not in again["stdout"]


def test_importing_the_lexical_package_imports_no_numpy() -> None:
    code = (
        "import sys\n"
        "from pytest_modelprov import lexical\n"
        "from pytest_modelprov.lexical import baseline, checks, replay\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


# -- a deferred fingerprint ------------------------------------------------------------------

TEXTS = [
    "The lighthouse keeper counted gulls every morning before the ferry came in.",
    "Gulls circled the ferry; the keeper wrote their number in a blue notebook.",
    "By noon the harbour was quiet and the notebook lay open on the windowsill.",
    "The ferry came in late, so the keeper counted the gulls twice that morning.",
]
PROMPT_IDS = ["p1", "p2", "p1", "p2"]


def test_a_deferred_fingerprint_counts_on_first_use_and_equals_an_eager_one() -> None:
    eager = lexical.Fingerprint.from_texts(TEXTS, PROMPT_IDS, name="keeper", model="m")
    lazy = lexical.Fingerprint.deferred(
        TEXTS, PROMPT_IDS, name="keeper", model="m", answers=["k1", "k2", "k3", "k4"]
    )
    assert not {"features", "counts", "tokens", "texts"} & set(vars(lazy))
    assert lazy.prompt_ids == eager.prompt_ids and lazy.examples == eager.examples
    assert lazy.n_prompts == 2 and lazy.label == "keeper"
    assert lazy.replay_side() is not None  # before counting: keyed on its answers alone
    assert lazy.to_dict() == eager.to_dict()  # what a baseline stores
    assert lazy.features == eager.features
    assert (lazy.counts == eager.counts).all() and (lazy.tokens == eager.tokens).all()
    assert (lazy.texts == eager.texts).all()
    assert (lazy.kinds == eager.kinds).all()
    assert (lazy.content_mask() == eager.content_mask()).all()
    assert repr(lazy) == repr(eager)
    assert lazy.replay_side() is not None  # counting changed nothing it is keyed on


def test_a_deferred_fingerprint_changed_by_hand_is_never_replayed() -> None:
    fp = lexical.Fingerprint.deferred(TEXTS, PROMPT_IDS, answers=["k1", "k2", "k3", "k4"])
    side = fp.replay_side()
    assert side is not None and [k for k, _ in side[1]] == ["k1", "k2", "k3", "k4"]
    other = lexical.Fingerprint.from_texts(TEXTS[:2], ["p1", "p2"])
    fp.counts = other.counts  # before the first count: kept, and no longer its answers'
    assert fp.replay_side() is None
    assert fp.counts is other.counts
    built = lexical.Fingerprint.deferred(TEXTS, PROMPT_IDS, answers=["k1", "k2", "k3", "k4"])
    built.prompt_ids = ["p9", "p8"]  # after: the same
    assert built.replay_side() is None
    assert lexical.Fingerprint.deferred(TEXTS, PROMPT_IDS).replay_side() is None
    whole = lexical.Fingerprint.deferred(TEXTS, PROMPT_IDS, answers=["k1", "k2", "k3", "k4"])
    assert whole.subset([0]).replay_side() is None


def test_a_deferred_fingerprint_of_no_words_fails_as_an_eager_one_does() -> None:
    with pytest.raises(ValueError) as eager:
        lexical.Fingerprint.from_texts(["...", "!!"], ["a", "b"])
    lazy = lexical.Fingerprint.deferred(["...", "!!"], ["a", "b"])
    with pytest.raises(ValueError) as late:
        _ = lazy.counts
    assert str(late.value) == str(eager.value)
    with pytest.raises(ValueError, match="one prompt id per text"):
        lexical.Fingerprint.deferred(["a text"], ["a", "b"])
    with pytest.raises(ValueError, match="one answer cache key per text"):
        lexical.Fingerprint.deferred(["a text"], ["a"], answers=[])


def _drift(run: dict[str, Any], pytester: pytest.Pytester) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((pytester.path / "out" / run / "drift.json").read_text())
    return found


def test_a_baseline_drift_replays_equal_and_an_edited_baseline_is_computed_again(
    pytester: pytest.Pytester, env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drift of a fingerprint from its stored baseline is computed once and replayed
    after, equal field for field to a run without the result cache; an edited baseline is
    another key, computed again."""
    _setup(pytester, env, monkeypatch)
    _run(pytester, monkeypatch, "record", "-k", "baseline", "--modelprov-update-baselines")
    for stored in env.cache.glob(verdicts.FILE_NAME + "*"):  # with its WAL files
        stored.unlink()
    replaying = ("-k", "baseline", "--modelprov-record-mode=replay")
    runs = {
        label: _run(pytester, monkeypatch, label, *replaying, *args)
        for label, args in [
            ("cold", ()),
            ("warm", ()),
            ("off", ("--modelprov-verdict-cache=off",)),
        ]
    }
    drifts = {label: _drift(label, pytester) for label in runs}
    assert drifts["cold"]["results"] == [0, 1]
    assert drifts["warm"]["results"] == [1, 0]
    assert drifts["off"]["results"] is None
    assert len(drifts["cold"]["drifts"]) == 1 and "lexical.distance" in drifts["cold"]["drifts"][0]
    for label in ("warm", "off"):
        assert drifts[label]["drifts"] == drifts["cold"]["drifts"], label
        assert runs[label]["measurements"] == runs["cold"]["measurements"], label

    # the baseline edited by hand (one count of one prompt): computed again, as a run
    # without the result cache computes it
    (path,) = (pytester.path / "modelprov-baselines").rglob("*.json")
    document = json.loads(path.read_text())
    row = document["payload"]["prompts"][0]
    row["counts"][0] += 3
    path.write_text(json.dumps(document))
    edited = _run(pytester, monkeypatch, "edited", *replaying)
    edited_off = _run(
        pytester, monkeypatch, "edited-off", *replaying, "--modelprov-verdict-cache=off"
    )
    assert _drift("edited", pytester)["results"] == [0, 1]
    assert _drift("edited", pytester)["drifts"] == _drift("edited-off", pytester)["drifts"]
    assert _drift("edited", pytester)["drifts"] != drifts["cold"]["drifts"]
    assert edited["measurements"] == edited_off["measurements"]
    again = _run(pytester, monkeypatch, "edited-again", *replaying)
    assert _drift("edited-again", pytester)["results"] == [1, 0]
    assert again["measurements"] == edited["measurements"]
