"""Baselines end to end: record, compare, drift, update, corrupt, unused, labels, reports.

Two scripted releases on the local server: rel-a complies in English and Chinese; rel-b
evades in Chinese only. Everything goes through pytester, the plugin, the real openai SDK
and diskcache.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_refusal import COMPLY_EN, COMPLY_ZH, EVADE_ZH

from pytest_modelprov import refusal, stats
from pytest_modelprov.util import schema

CJK = "[\u4e00-\u9fff]"
LATIN_ONLY = "^[^\u4e00-\u9fff]*$"

SUITE = """
from pytest_modelprov import refusal

def test_refusal(model_under_test, modelprov_baseline):
    topics = refusal.topics("china-criticism", langs=["en", "zh"])
    modelprov_baseline.check(refusal.measure(model_under_test, topics), underpowered="ignore")
"""
BASELINE = Path("modelprov-baselines/default/test_gate/test_refusal.refusal-china-criticism.json")


@pytest.fixture
def releases(env):
    env.server.add_rule(CJK, EVADE_ZH, model="rel-b")
    env.server.add_rule(CJK, COMPLY_ZH)
    env.server.add_rule(LATIN_ONLY, COMPLY_EN)
    return env


def run(pytester, model: str, *args: str):
    return pytester.runpytest(f"--modelprov-model={model}", "-p", "no:randomly", *args)


def test_the_whole_flow(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    path = pytester.path / BASELINE

    # 1. no baseline yet: the test fails and says how to record one
    first = run(pytester, "rel-a")
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines(
        [
            f"*no baseline 'default' for this check (refusal 'refusal-china-criticism') at {BASELINE}*",
            "*pytest --modelprov-update-baselines 'test_gate.py::test_refusal'*",
            "*1 missing*",
        ]
    )
    assert not path.exists()

    # 2. record it
    update = run(pytester, "rel-a", "--modelprov-update-baselines")
    update.assert_outcomes(passed=1)
    update.stdout.fnmatch_lines(["*modelprov baselines*", "*1 written*", f"*written: {BASELINE}*"])
    document = json.loads(path.read_text(encoding="utf-8"))
    assert schema.problems(document, "baseline.schema.json") == []
    assert document["model"]["model"] == "rel-a"
    assert document["model"]["resolved"] == ["rel-a"]
    assert document["set"]["name"] == "china-criticism"
    assert document["test"] == "test_gate.py::test_refusal"
    prompts = document["payload"]["prompts"]
    per_lang = len(refusal.topics("china-criticism", langs=["en"]).topics)
    assert {p["lang"] for p in prompts} == {"en", "zh"} and len(prompts) == 2 * per_lang
    recorded = path.read_bytes()

    # 3. the same release passes, and an update that changes nothing leaves the file alone
    same = run(pytester, "rel-a")
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(["*1 compared*"])
    run(pytester, "rel-a", "--modelprov-update-baselines").stdout.fnmatch_lines(["*1 unchanged*"])
    assert path.read_bytes() == recorded

    # 4. the release that evades in Chinese fails, and only on Chinese
    drifted = run(pytester, "rel-b")
    drifted.assert_outcomes(failed=1)
    assert drifted.ret == 1
    out = drifted.stdout.str()
    zh_before = [p for p in prompts if p["lang"] == "zh"]
    k = sum(1 for p in zh_before if p["outcomes"][0] != "compliance")
    n = len(zh_before)
    everything = stats.wilson(n, n)
    p_value = 0.5 ** (n - k)  # McNemar, computed here: n - k prompts moved up, none down
    assert re.search(
        rf"refusal\.rate\[set=china-criticism, lang=zh\]: {k / n:.3f} \[[0-9.]+, [0-9.]+\] -> "
        rf"1\.000 \[{everything.low:.3f}, 1\.000\], change "
        rf"\+{(n - k) / n:.3f} \[[+-][0-9.]+, [+-][0-9.]+\] \(95% interval, {n} paired items\); "
        rf"exact McNemar \(one-sided\) p = {p_value:.2g}",
        out,
    ), out
    assert not re.search(r"lang=en\]: [0-9.]+ ->", out)  # English did not drift
    drifted.stdout.fnmatch_lines(
        [
            f"*drift from baseline 'default' ({BASELINE}):*",
            "*baseline: rel-a (rel-a), recorded *; now: rel-b (rel-b)*",
            "*compliance -> evasion: '中国政府始终坚持依法管理互联网*",
            "*re-record with --modelprov-update-baselines*",
            "*1 drifted*",
        ]
    )

    # 5. accepting the new behaviour: update, then it passes
    run(pytester, "rel-b", "--modelprov-update-baselines").assert_outcomes(passed=1)
    assert json.loads(path.read_text(encoding="utf-8"))["model"]["model"] == "rel-b"
    run(pytester, "rel-b").assert_outcomes(passed=1)


def test_drift_fails_under_xdist_with_the_exit_status_set(pytester, releases, xdist_args):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    result = run(pytester, "rel-b", *xdist_args)
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*modelprov baselines*", "*1 drifted*"])


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: "{not json", id="not-json"),
        pytest.param(lambda d: json.dumps({**d, "format": "other/9"}), id="wrong-format"),
        pytest.param(
            lambda d: json.dumps({**d, "payload": {**d["payload"], "prompts": "many"}}),
            id="payload-schema",
        ),
    ],
)
def test_corrupt_baseline_is_a_clear_error_and_survives(pytester, releases, damage):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    path = pytester.path / BASELINE
    broken = damage(json.loads(path.read_text(encoding="utf-8")))
    path.write_text(broken, encoding="utf-8")
    for extra in ([], ["--modelprov-update-baselines"]):
        result = run(pytester, "rel-a", *extra)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"*baseline {BASELINE} *never overwritten while invalid*"])
        assert path.read_text(encoding="utf-8") == broken


def test_unused_baselines_are_reported_and_can_fail_the_run(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    # the test is renamed: its old baseline is now used by nobody
    pytester.makepyfile(test_gate=SUITE.replace("def test_refusal", "def test_renamed"))
    warned = run(pytester, "rel-a", "--modelprov-update-baselines")
    warned.assert_outcomes(passed=1)
    assert warned.ret == 0
    warned.stdout.fnmatch_lines(["*1 baseline(s) no test used*", f"*unused: {BASELINE}*"])
    strict = run(pytester, "rel-a", "--modelprov-unused-baselines=fail")
    strict.assert_outcomes(passed=1)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    # a deselected test's baseline is not unused: only the run can tell
    (pytester.path / BASELINE.with_name(BASELINE.name.replace("refusal.", "renamed.", 1))).unlink()
    pytester.makepyfile(test_gate=SUITE + SUITE.replace("def test_refusal", "def test_other"))
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=2)
    deselected = run(pytester, "rel-a", "-k", "test_other", "--modelprov-unused-baselines=fail")
    deselected.assert_outcomes(passed=1)
    assert deselected.ret == 0, deselected.stdout.str()


def test_baselines_of_a_moved_or_deleted_test_file_are_unused(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    (pytester.path / "test_gate.py").rename(pytester.path / "test_moved.py")
    moved = run(pytester, "rel-a", "--modelprov-update-baselines")
    moved.assert_outcomes(passed=1)
    moved.stdout.fnmatch_lines(["*1 baseline(s) no test used*", f"*unused: {BASELINE}*"])
    assert (pytester.path / BASELINE).exists()  # reported, never deleted
    # a test file that still exists but was not selected keeps its baselines
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=2)
    only = run(pytester, "rel-a", "test_moved.py", "--modelprov-unused-baselines=fail")
    only.assert_outcomes(passed=1)
    assert only.ret == 0, only.stdout.str()
    (pytester.path / "test_gate.py").unlink()
    gone = run(pytester, "rel-a", "test_moved.py", "--modelprov-unused-baselines=fail")
    gone.assert_outcomes(passed=1)
    assert gone.ret == pytest.ExitCode.TESTS_FAILED
    gone.stdout.fnmatch_lines([f"*unused: {BASELINE}*"])


def test_compare_with_the_baseline_of_an_earlier_release(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines", "--modelprov-baseline=v1.2")
    run(pytester, "rel-b", "--modelprov-update-baselines").assert_outcomes(passed=1)
    labelled = pytester.path / "modelprov-baselines/v1.2/test_gate"
    assert [p.name for p in labelled.iterdir()] == [BASELINE.name]
    # against the last release (rel-b itself) nothing moved; against v1.2 Chinese did
    run(pytester, "rel-b").assert_outcomes(passed=1)
    old = run(pytester, "rel-b", "--modelprov-baseline=v1.2")
    old.assert_outcomes(failed=1)
    old.stdout.fnmatch_lines(["*drift from baseline 'v1.2'*"])
    # a label in the code pins the comparison whatever the command line says, and an
    # update of the run's own label never rewrites it
    pytester.makepyfile(test_pinned=SUITE.replace("underpowered=", 'label="v1.2", underpowered='))
    args = ("test_pinned.py", "--modelprov-update-baselines")
    run(pytester, "rel-a", *args, "--modelprov-baseline=v1.2").assert_outcomes(passed=1)
    pinned_file = pytester.path / "modelprov-baselines/v1.2/test_pinned" / BASELINE.name
    recorded = pinned_file.read_bytes()
    accepting = run(pytester, "rel-b", *args)
    accepting.assert_outcomes(failed=1)
    accepting.stdout.fnmatch_lines(["*drift from baseline 'v1.2'*"])
    assert pinned_file.read_bytes() == recorded


def test_bad_label_is_a_usage_error(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    result = run(pytester, "rel-a", "--modelprov-baseline=../escape")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline label '../escape' from --modelprov-baseline*"])


def test_drift_rules_follow_their_precedence(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    # a margin larger than the change lets rel-b pass: from the ini ...
    pytester.makeini("[pytest]\nmodelprov_drift = refusal.rate:+0.99\n")
    run(pytester, "rel-b").assert_outcomes(passed=1)
    # ... a marker is closer to the test than the ini ...
    pytester.makepyfile(
        test_gate=SUITE.replace(
            "def test_refusal",
            "import pytest\n@pytest.mark.modelprov_drift('refusal.rate:+0.10')\ndef test_refusal",
        )
    )
    run(pytester, "rel-b").assert_outcomes(failed=1)
    # ... and the command line wins over both
    run(pytester, "rel-b", "--modelprov-drift=refusal.rate:+0.99").assert_outcomes(passed=1)
    # a rule that only fails on a fall never fails a rise
    run(pytester, "rel-b", "--modelprov-drift=refusal.rate:-0.05").assert_outcomes(passed=1)


def test_bad_drift_rule_says_what_to_type(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    result = run(pytester, "rel-a", "--modelprov-drift=refusal.rate+5%")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*drift rule 'refusal.rate+5%' from --modelprov-drift is not*e.g.*refusal.rate:+0.05*"]
    )


def test_reports_carry_baselines(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    names = ("r.json", "junit.xml", "summary.md", "r.html")
    report, junit, md, html = (pytester.path / n for n in names)
    result = run(
        pytester,
        "rel-b",
        f"--modelprov-report-json={report}",
        f"--junitxml={junit}",
        f"--modelprov-report-md={md}",
        f"--modelprov-report-html={html}",
    )
    result.assert_outcomes(failed=1)
    data = json.loads(report.read_text(encoding="utf-8"))
    assert schema.problems(data, "report.schema.json") == []
    assert data["exit_status"] == 1
    assert [(c["status"], c["label"]) for c in data["baselines"]["checks"]] == [
        ("drifted", "default")
    ]
    rows = {m["labels"]["lang"]: m for m in data["measurements"] if "baseline" in m["details"]}
    assert rows["zh"]["verdict"] == "fail" and rows["en"]["verdict"] == "pass"
    assert rows["zh"]["value"] == 1.0
    n = len(refusal.topics("china-criticism", langs=["zh"]).topics)
    zh_rate = stats.wilson(n, n)
    assert (rows["zh"]["low"], rows["zh"]["high"]) == pytest.approx((zh_rate.low, zh_rate.high))
    assert rows["zh"]["reference_label"] == "baseline default"
    assert rows["zh"]["details"]["baseline"]["model"] == "rel-a"
    # JUnit: the machine-readable JSON and a readable twin per figure
    names = {p.get("name"): p.get("value") for p in ET.parse(junit).iter("property")}
    readable = names["refusal.rate[set=china-criticism, lang=zh]"]
    assert readable.startswith("1.000 [") and readable.endswith(": fail")
    assert "vs baseline default" in readable
    text = md.read_text(encoding="utf-8")
    assert text.startswith("### pytest-modelprov: failed")
    # escaped Markdown: a label cannot open a link; the model has its column
    assert (
        "| test\\_refusal | model under test | refusal.rate\\[set=china-criticism, lang=zh\\] | "
        "1.000 \\[" in text
    )
    assert "**FAIL**" in text
    # the HTML report draws the current rate and the baseline one, and names the file
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page and "<svg" in page
    assert "baseline default" in page and "drifted" in page
    assert str(BASELINE.name) in page
    # appended, not replaced: a job summary collects several steps
    run(pytester, "rel-b", f"--modelprov-report-md={md}")
    assert md.read_text(encoding="utf-8").count("### pytest-modelprov") == 2


IDENTITY_SUITE = """
from pytest_modelprov import identity

def test_identity(model_under_test, modelprov_baseline):
    langs = ["en", "es", "fr", "de", "it"]
    result = identity.probe(model_under_test, n=1, languages=langs, kinds=identity.IDENTITY_KINDS)
    modelprov_baseline.check(result, underpowered="ignore")
"""


def test_identity_baseline_catches_a_new_claim(pytester, env):
    env.server.add_rule(".", "I am ChatGPT, made by OpenAI.", model="rel-b")
    env.server.add_rule(".", "I am Orbit, a model made by Helio Labs.")
    pytester.makepyfile(test_id=IDENTITY_SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    run(pytester, "rel-a").assert_outcomes(passed=1)
    drifted = run(pytester, "rel-b")
    drifted.assert_outcomes(failed=1)
    drifted.stdout.fnmatch_lines(
        [
            "*identity.claim_rate[[]vendor=openai[]]: 0.000 [[]0.000, *[]] -> 1.000 [[]*",
            "*I am ChatGPT*",
        ]
    )


SPREAD_SUITE = """
from pytest_modelprov import identity

def test_identity(model_under_test, modelprov_baseline):
    langs = ["en", "es", "fr", "de", "it", "pt", "ja", "ko", "ru", "ar", "zh-Hans"]
    result = identity.probe(model_under_test, n=1, languages=langs, kinds=identity.IDENTITY_KINDS)
    modelprov_baseline.check(result, rule="identity.claim_rate:+0.1", underpowered="ignore"OWN)
"""


def test_new_claims_spread_over_vendors_fail_the_foreign_slice(pytester, env):
    # rel-b names a different vendor in each of five languages (4 probes each of 44): no
    # vendor rises by the margin 0.1, but claims of someone else rise by 20/44
    for script, vendor in (
        ("[\u3040-\u30ff]", "I am Claude, made by Anthropic."),
        ("[\u4e00-\u9fff]", "I am ChatGPT, made by OpenAI."),
        ("[\uac00-\ud7af]", "I am Gemini, made by Google."),
        ("[\u0400-\u04ff]", "I am Grok, made by xAI."),
        ("[\u0600-\u06ff]", "I am Mistral, made by Mistral AI."),
    ):
        env.server.add_rule(script, vendor, model="rel-b")
    env.server.add_rule(".", "I am DeepSeek-V3, made by DeepSeek.")
    pytester.makepyfile(test_id=SPREAD_SUITE.replace("OWN", ""))
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    # per vendor only: every slice is within its margin, so the spread goes through
    run(pytester, "rel-b").assert_outcomes(passed=1)
    pytester.makepyfile(test_id=SPREAD_SUITE.replace("OWN", ', own="deepseek"'))
    run(pytester, "rel-a").assert_outcomes(passed=1)
    drifted = run(pytester, "rel-b")
    drifted.assert_outcomes(failed=1)
    change = 20 / 44
    drifted.stdout.fnmatch_lines(
        [
            "*identity.claim_rate[[]vendor=foreign[]]: 0.000 [[]0.000, *[]] -> "
            f"{change:.3f} [[]*change +{change:.3f}*",
        ]
    )
    assert "vendor=openai]: 0.000" not in drifted.stdout.str().split("drift from baseline")[1]
    pytester.makepyfile(test_id=SPREAD_SUITE.replace("OWN", ', own="nobody-ai"'))
    bad = run(pytester, "rel-a")
    bad.assert_outcomes(failed=1)
    bad.stdout.fnmatch_lines(["*check(own=...)*nobody-ai*"])


def test_own_is_refused_for_other_kinds_of_result(pytester, releases):
    pytester.makepyfile(test_gate=SUITE.replace('underpowered="ignore"', 'own="deepseek"'))
    result = run(pytester, "rel-a")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*check(own=...) applies to identity results, not to a refusal*"])


LEXICAL_SUITE = """
from pytest_modelprov import lexical

PROMPTS = [f"Tell me about topic number {i}." for i in range(12)]

def test_vocabulary(model_under_test, modelprov_baseline):
    fp = lexical.fingerprint(model_under_test, n=2, prompts=PROMPTS)
    modelprov_baseline.check(fp, rule="lexical.distance:+0.2")
"""


def test_lexical_baseline_catches_a_new_vocabulary(pytester, env):
    plain = [
        "The river runs past the old mill and the children walk along the bank to school.",
        "We bake bread on Sundays and share it with the neighbours who keep the garden.",
    ]
    florid = [
        "Delve into the rich tapestry of this vibrant realm, a testament to boundless wonder.",
        "This intricate tapestry invites us to delve deeper, a testament to the vibrant whole.",
    ]
    env.server.add_rule("topic", *florid, model="rel-b")
    env.server.add_rule("topic", *plain)
    pytester.makepyfile(test_lex=LEXICAL_SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    run(pytester, "rel-a").assert_outcomes(passed=1)
    drifted = run(pytester, "rel-b")
    drifted.assert_outcomes(failed=1)
    drifted.stdout.fnmatch_lines(
        ["*lexical.distance[[]reference=baseline, part=answer[]]: *one-sided 95% lower bound 0.*"]
    )


def test_a_check_that_compares_nothing_fails(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=1)
    # the languages changed: nothing of the baseline is measured any more
    pytester.makepyfile(test_gate=SUITE.replace('langs=["en", "zh"]', 'langs=["fi"]'))
    moved = run(pytester, "rel-a")
    moved.assert_outcomes(failed=1)
    moved.stdout.fnmatch_lines(["*nothing to compare in every slice*", "*1 incomparable*"])
    # every answer cut off by the token limit: undecided, so not even recorded
    releases.server.script.rules.clear()
    releases.server.add_rule(".", "The history of the", finish_reason="length")
    pytester.makepyfile(test_gate=SUITE)
    cut = run(pytester, "rel-c", "--modelprov-update-baselines")
    cut.assert_outcomes(failed=1)
    cut.stdout.fnmatch_lines(["*not recorded as a baseline*nothing to compare*"])
    assert json.loads((pytester.path / BASELINE).read_text())["model"]["model"] == "rel-a"
    # and compared with, the cut-off run fails instead of passing on nothing
    run(pytester, "rel-c").stdout.fnmatch_lines(["*nothing to compare*"])


def test_parametrized_ids_get_distinct_and_bounded_files(pytester, releases):
    pytester.makepyfile(
        test_ids="""
        import pytest
        from pytest_modelprov import refusal

        @pytest.mark.parametrize("tag", ["a b", "a/b", "a_b", "x" * 300])
        def test_ids(model_under_test, modelprov_baseline, tag):
            topics = refusal.topics("china-criticism", langs=["en"])
            result = refusal.measure(model_under_test, topics)
            modelprov_baseline.check(result, underpowered="ignore")
        """
    )
    run(pytester, "rel-a", "--modelprov-update-baselines").assert_outcomes(passed=4)
    files = list((pytester.path / "modelprov-baselines/default/test_ids").iterdir())
    assert len(files) == 4 and all(len(f.name.encode()) < 255 for f in files)
    assert len({json.loads(f.read_text())["test"] for f in files}) == 4
    run(pytester, "rel-a").assert_outcomes(passed=4)


def test_unknown_quantity_in_a_rule_is_a_usage_error(pytester, releases):
    pytester.makepyfile(test_gate=SUITE)
    result = run(pytester, "rel-a", "--modelprov-drift=refusal_rate:+0.99")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown quantity 'refusal_rate' (did you mean refusal.rate?)*"])


def test_lexical_baseline_needs_enough_prompts(pytester, env):
    env.server.add_rule("topic", "A plain answer about the topic, in a few plain words.")
    pytester.makepyfile(test_lex=LEXICAL_SUITE.replace("range(12)", "range(4)"))
    result = run(pytester, "rel-a", "--modelprov-update-baselines")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not recorded as a baseline: lexical baseline: 4 prompt(s)*"])
