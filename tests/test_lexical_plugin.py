"""Lexical fingerprints end to end: plugin fixtures, the local server, the real openai SDK."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
from test_lexical import STYLE_WORDS

from pytest_modelprov.reports.measurement import PROPERTY

# Three "models" with their own favourite words; the candidate borrowed "ember"'s words.
VOCAB = {
    "ember": [
        "lantern",
        "ember",
        "hush",
        "threadbare",
        "murmur",
        "gossamer",
        "velvet",
        "quiet",
        "hollow",
        "glimmer",
    ],
    "slate": [
        "ledger",
        "granite",
        "precise",
        "measured",
        "ordinary",
        "concrete",
        "brisk",
        "plain",
        "steady",
        "useful",
    ],
    "tidal": [
        "salt",
        "current",
        "drift",
        "brine",
        "undertow",
        "shoal",
        "tide",
        "foam",
        "reef",
        "swell",
    ],
}
# the unit tests' shared style words serve as the filler between styled words here too
COMMON = STYLE_WORDS[:15]


def _answers(style: str, seed: int, k: int = 3) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(k):
        words = [
            VOCAB[style][rng.integers(10)] if rng.random() < 0.4 else COMMON[rng.integers(15)]
            for _ in range(160)
        ]
        out.append(" ".join(words) + ".")
    return out


def _serve(server, model: str, style: str, seed: int, reasoning: str | None = None) -> None:
    # the inner tests' own prompts each get their own answers, so prompts differ
    for i in range(8):
        server.add_rule(
            f"number {i} ",
            *_answers(style, seed * 100 + i),
            model=model,
            reasoning=reasoning,
            reasoning_style="think",
        )
    server.add_rule(
        ".", *_answers(style, seed), model=model, reasoning=reasoning, reasoning_style="think"
    )


INNER = """
from pytest_modelprov import lexical

PROMPTS = [f"Write story number {i} about a place you remember." for i in range(8)]

def test_nearest_is_ember(model_under_test, reference_model):
    ours = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS)
    refs = {name: lexical.fingerprint(reference_model(name), n=3, prompts=PROMPTS)
            for name in ("ember", "slate", "tidal")}
    lexical.assert_nearest(ours, refs, expected="ember")
    lexical.assert_distance_above(ours, refs["slate"], 0.3, name="slate")

def test_nearest_is_slate_fails(model_under_test, reference_model):
    ours = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS)
    refs = {name: lexical.fingerprint(reference_model(name), n=3, prompts=PROMPTS)
            for name in ("ember", "slate", "tidal")}
    lexical.assert_nearest(ours, refs, expected="slate")

def test_saved_reference_round_trip(model_under_test, reference_model, tmp_path):
    ember = lexical.fingerprint(reference_model("ember"), n=3, prompts=PROMPTS)
    path = ember.save(tmp_path / "ember.json")
    ours = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS)
    loaded = lexical.Fingerprint.load(path)
    assert lexical.distance(loaded, ours) == lexical.distance(ember, ours)
    lexical.assert_distance_below(ours, loaded, 0.2, name="ember-v1")

def test_reasoning_is_fingerprinted_apart(model_under_test):
    answer = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS)
    trace = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS, part="reasoning")
    assert trace.part == "reasoning" and answer.part == "answer"
    assert trace.count("deliberate") > 0 and answer.count("deliberate") == 0
    assert answer.count("lantern") > 0 and trace.count("lantern") == 0
"""


def _configure(env, monkeypatch) -> None:
    url = env.server.url
    refs = ";".join(f"{name}.model=ref-{name};{name}.base_url={url}" for name in VOCAB)
    monkeypatch.setenv("MODELPROV_REFERENCES", refs)
    # the candidate writes like "ember", from different samples; its reasoning has its own words
    _serve(
        env.server,
        "test-model",
        "ember",
        seed=1,
        reasoning="first i deliberate carefully then deliberate again about the plan",
    )
    for i, name in enumerate(VOCAB):
        _serve(env.server, f"ref-{name}", name, seed=10 + i)


def test_fixture_api_nearest_threshold_saved_and_reasoning(pytester, env, monkeypatch):
    _configure(env, monkeypatch)
    pytester.makepyfile(INNER)
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess("-p", "no:randomly", f"--junitxml={xml}", "-rf")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    # the failure says what was measured, against what, how sure, and which words are shared
    result.stdout.fnmatch_lines(
        [
            "*is nearest to 'ember', not 'slate' (delta distance, 95% bootstrap intervals over 8 prompts)*",
        ]
    )
    shared_line = next(line for line in out.splitlines() if "top shared words with ember" in line)
    shared = {w.split(" (")[0] for w in shared_line.split(": ", 1)[1].split(", ")}
    assert shared and shared <= set(VOCAB["ember"]), shared_line
    assert "no over-used word shared with slate" in out
    # measurements reach JUnit XML with intervals, one per reference
    props = [
        json.loads(p.get("value"))
        for p in ET.parse(xml).iter("property")
        if p.get("name") == PROPERTY
    ]
    lexical_props = [p for p in props if p["quantity"] == "lexical.distance"]
    refs = {p["labels"]["reference"] for p in lexical_props}
    assert {"ember", "slate", "tidal", "ember-v1"} <= refs
    ember = next(p for p in lexical_props if p["labels"]["reference"] == "ember")
    assert ember["verdict"] == "pass" and ember["low"] <= ember["value"] <= ember["high"]
    slate = next(
        p for p in lexical_props if p["labels"]["reference"] == "slate" and p["verdict"] == "fail"
    )
    assert slate["reference_label"] == "nearest: ember"


def test_builtin_prompts_under_xdist(pytester, env, monkeypatch):
    _configure(env, monkeypatch)
    pytester.makepyfile(
        """
        from pytest_modelprov import lexical

        def test_builtin(model_under_test, reference_model):
            ours = lexical.fingerprint(model_under_test, n=1)
            assert ours.n_prompts == len(lexical.prompts()) >= 32
            other = lexical.fingerprint(reference_model("tidal"), n=1)
            lexical.assert_distance_above(ours, other, 0.3, name="tidal")
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert len(env.server.requests) == 2 * 36
