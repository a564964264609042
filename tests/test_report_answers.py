"""What the model said, in every report; and verdicts that tell "too few answers" from "failed".

End to end: the package's LocalServer over real HTTP, the plugin in pytester, the reports
read back from disk.
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_modelprov import samplesize
from pytest_modelprov.reports import jsonreport

README = Path(__file__).resolve().parent.parent / "README.md"

# a model that says it is ChatGPT in Russian and in Japanese, and is itself elsewhere
CLAIMS_RU = "Я — ChatGPT, языковая модель компании OpenAI."
CLAIMS_JA = "私はChatGPTです。OpenAIが開発しました。"
CLEAN = "I'm Quill, an assistant built by Lumen Works."


def _claiming_model(server) -> None:
    server.add_rule(r"[А-Яа-яЁё]", CLAIMS_RU, model="two-faced")
    server.add_rule(r"[\u3040-\u30ff]", CLAIMS_JA, model="two-faced")
    server.add_rule(r".", CLEAN, model="two-faced")


def _clean_model(server) -> None:
    server.add_rule(r".", CLEAN, model="clean-model")


def _readme_block(heading: str) -> str:
    """The first python block after ``heading`` in the README, as a test module."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, heading
    return found.group(1)


def _outputs(pytester, *args):
    out = pytester.path / "out"
    paths = {k: out / f"r.{k}" for k in ("json", "md", "html", "xml")}
    result = pytester.runpytest(
        f"--modelprov-report-json={paths['json']}",
        f"--modelprov-report-md={paths['md']}",
        f"--modelprov-report-html={paths['html']}",
        f"--junitxml={paths['xml']}",
        "-p",
        "no:randomly",
        *args,
    )
    return result, paths


CLAIM_SUITE = """
from pytest_modelprov import identity


def test_not_chatgpt(model_under_test):
    result = identity.probe(model_under_test, n=5, languages=["en", "ru", "ja", "de"])
    result.assert_no_claim("openai", max_rate=0.05, language_max_rate=0.2)


def test_plain_assert(model_under_test):
    answer = model_under_test.ask("Say hello")
    assert "hello" in answer.answer.lower(), f"no greeting in {answer.answer!r}"
"""


def test_claiming_answers_appear_under_the_failed_check(pytester, env, monkeypatch):
    _claiming_model(env.server)
    monkeypatch.setenv("MODELPROV_MODEL", "two-faced")
    pytester.makepyfile(test_claims=CLAIM_SUITE)
    result, paths = _outputs(pytester)
    result.assert_outcomes(failed=2)

    data = jsonreport.load(paths["json"])  # validated against the schema
    rows = {
        m["labels"]["lang"]: m
        for m in data["measurements"]
        if m["quantity"] == "identity.claim_rate" and m["test"].endswith("test_not_chatgpt")
    }
    assert {k: v["verdict"] for k, v in rows.items()} == {
        "all": "fail",
        "en": "pass",
        "ru": "fail",
        "ja": "fail",
        "de": "pass",
    }
    for lang, said in (("ru", CLAIMS_RU), ("ja", CLAIMS_JA)):
        evidence = rows[lang]["details"]["evidence"]
        assert 1 <= len(evidence) <= 5
        assert {e["lang"] for e in evidence} == {lang}
        assert all(e["answer"] == said and "ChatGPT" in e["decided_by"] for e in evidence)
        assert all(re.fullmatch(r"[0-9a-f]{16,}", e["key"]) for e in evidence), evidence
        assert {e["replicate"] for e in evidence} <= set(range(5))
        assert all(e["label"] == "claims openai" for e in evidence)
    # the overall slice quotes both languages; passing slices quote nothing
    assert {e["lang"] for e in rows["all"]["details"]["evidence"]} == {"ru", "ja"}
    assert "evidence" not in rows["en"]["details"]
    # the plain assert is listed with its message, as a failure without a measurement
    (plain,) = [f for f in data["failures"] if f["test"].endswith("test_plain_assert")]
    assert not plain["measured"] and "no greeting in" in plain["message"]
    (measured,) = [f for f in data["failures"] if f["test"].endswith("test_not_chatgpt")]
    assert measured["measured"] and CLAIMS_RU in measured["message"]

    page = paths["html"].read_text(encoding="utf-8")
    failed = page[page.index('<section id="failures"') :]
    failed = failed[: failed.index("</section>")]
    for lang, said in (("ru", CLAIMS_RU), ("ja", CLAIMS_JA)):
        item = failed[failed.index(f"lang={lang}") :]
        item = item[: item.index("</ol>")]
        assert html.escape(said) in item and '<span class="lang">' + lang in item
    tests = page[page.index('<section id="failed-tests"') :]
    assert "no greeting in" in tests[: tests.index("</section>")]
    assert "no measurement" in tests[: tests.index("</section>")]
    browser = page[page.index('<section id="answers"') :]
    browser = browser[: browser.index("</section>")]
    assert browser.count('data-lang="ru"') >= 2 and browser.count('data-lang="ja"') >= 2
    assert 'data-lang="en"' not in browser and "<select data-filter=" in browser
    assert "Content-Security-Policy" in page and page.count("<script>") == 1

    md = paths["md"].read_text(encoding="utf-8")
    assert "test\\_plain\\_assert" in md and "failed without a measurement" in md


def test_readme_examples_pass_for_a_clean_model_at_their_sample_sizes(pytester, env, monkeypatch):
    _clean_model(env.server)
    monkeypatch.setenv("MODELPROV_MODEL", "clean-model")
    monkeypatch.setenv(
        "MODELPROV_REFERENCES",
        f"last-release.model=clean-model;last-release.base_url={env.server.url}",
    )
    identity_block = _readme_block("## Identity:")
    refusal_block = _readme_block("## Refusal and evasion:")
    assert "identity.probe(model_under_test, n=5)" in identity_block
    pytester.makepyfile(test_readme_identity=identity_block, test_readme_refusal=refusal_block)
    result, paths = _outputs(pytester, "-W", "error::UserWarning")
    result.assert_outcomes(passed=2)
    data = jsonreport.load(paths["json"])
    verdicts = {m["verdict"] for m in data["measurements"] if m["reference"] is not None}
    assert verdicts == {"pass"}
    assert not data["warnings"] and not data["failures"]


N1_SUITE = """
from pytest_modelprov import identity


def test_not_chatgpt(model_under_test):
    result = identity.probe(model_under_test, n=1)
    result.assert_no_claim("openai", max_rate=0.05, language_max_rate=0.2)
"""


@pytest.mark.parametrize("policy", ["default", "fail", "warn"])
def test_a_clean_model_at_n1_is_inconclusive_in_all_five_outputs(
    pytester, env, monkeypatch, policy
):
    _clean_model(env.server)
    monkeypatch.setenv("MODELPROV_MODEL", "clean-model")
    monkeypatch.setenv("COLUMNS", "100")
    pytester.makepyfile(test_n1=N1_SUITE)
    args = [] if policy == "default" else [f"--modelprov-inconclusive={policy}"]
    result, paths = _outputs(pytester, *args)
    warn = policy == "warn"
    result.assert_outcomes(passed=1) if warn else result.assert_outcomes(failed=1)
    per_lang = samplesize.answers_for_bound(0.2)  # 4 answers per language, 16 needed
    overall = samplesize.answers_for_bound(0.05)  # 52 answers, 73 needed

    # terminal: the table and, unless it warns, the failure
    out = result.stdout.str()
    assert out.count(f"INCONCLUSIVE (needs n>={per_lang})") == 13
    assert out.count(f"INCONCLUSIVE (needs n>={overall})") == 1
    assert "modelprov: inconclusive: 14 check(s)" in out  # the failure, or the warning
    assert ("(passed with --modelprov-inconclusive=warn)" in out) is warn
    assert ("FAILED test_n1.py::test_not_chatgpt - modelprov: inconclusive" in out) is not warn
    # JUnit: each figure's readable property, and the failure message
    root = ET.parse(paths["xml"]).getroot()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    ru = props["identity.claim_rate[vendor=openai, lang=ru, source=answer]"]
    assert ru.startswith("0.000 [0.000, ") and ru.endswith(f": inconclusive (needs n>={per_lang})")
    assert props["modelprov.inconclusive"].startswith("modelprov: inconclusive: 14 check(s)")
    failures = list(root.iter("failure"))
    assert len(failures) == (0 if warn else 1)
    if failures:
        assert failures[0].get("message", "").startswith("modelprov: inconclusive")
    # JSON
    data = jsonreport.load(paths["json"])
    rows = [m for m in data["measurements"] if m["quantity"] == "identity.claim_rate"]
    assert len(rows) == 14 and {m["verdict"] for m in rows} == {"inconclusive"}
    assert sorted({m["details"]["needed_n"] for m in rows}) == [per_lang, overall]
    assert data["inconclusive"] == ("warn" if warn else "fail")
    assert data["exit_status"] == (0 if warn else 1)
    warned = [w for w in data["warnings"] if "--modelprov-inconclusive=warn" in w]
    assert len(warned) == (1 if warn else 0)
    # HTML: badges, the needed answers, the section
    page = paths["html"].read_text(encoding="utf-8")
    assert page.count('class="badge inconclusive"') >= 14
    assert f"needs n ≥ {per_lang}" in page and '<section id="inconclusive"' in page
    # Markdown
    md = paths["md"].read_text(encoding="utf-8")
    assert md.count(f"**INCONCLUSIVE \\(needs n\\>={per_lang}\\)**") == 13
    assert "14 inconclusive" in md


def test_the_inconclusive_setting_comes_from_env_and_ini_and_is_validated(pytester, env):
    _clean_model(env.server)
    pytester.makepyfile(test_n1=N1_SUITE.replace("n=1)", "n=1, languages=['en'])"))
    env_run = pytester.runpytest("--modelprov-model=clean-model", "-p", "no:randomly")
    env_run.assert_outcomes(failed=1)
    pytester.makeini("[pytest]\nmodelprov_inconclusive = warn\n")
    pytester.runpytest("--modelprov-model=clean-model").assert_outcomes(passed=1)
    bad = pytester.runpytest("--modelprov-model=clean-model", "--modelprov-inconclusive=maybe")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*'maybe' from --modelprov-inconclusive is not valid*fail, warn*"])


def test_the_plan_names_what_each_check_needs(pytester, env):
    _clean_model(env.server)
    pytester.makepyfile(test_n1=N1_SUITE)
    result = pytester.runpytest("--modelprov-model=clean-model", "--modelprov-plan")
    result.stdout.fnmatch_lines(
        [
            "sample sizes (what each check needs to decide, see samplesize):",
            "*identity.claim_rate[[]vendor=openai, lang=all, source=answer] against 0.05: 52 "
            "answers, 73 needed: TOO FEW (inconclusive below 73)",
            "*lang=ru, source=answer] against 0.2: 4 answers, 16 needed: TOO FEW*",
        ]
    )
    assert env.server.request_count == 0


def test_sample_size_helpers_match_the_intervals_they_plan_for():
    from pytest_modelprov import stats

    for limit in (0.01, 0.05, 0.2, 0.5):
        for confidence in (0.9, 0.95, 0.99):
            n = samplesize.answers_for_bound(limit, confidence=confidence)
            assert stats.wilson(0, n, confidence).high <= limit
            assert n == 1 or stats.wilson(0, n - 1, confidence).high > limit
    n = samplesize.answers_for_bound(0.05, found=2)
    assert stats.wilson(2, n).high <= 0.05 < stats.wilson(2, n - 1).high
    m = samplesize.prompts_for_margin(0.2)
    assert stats.mcnemar_power(m, 0.2, 0.05) >= 0.8 > stats.mcnemar_power(m - 1, 0.2, 0.05)
    assert samplesize.answers_for_width(n=40, low=0.2, high=0.4, half_width=0.05) == 160
    with pytest.raises(ValueError, match="limit must be between 0 and 1"):
        samplesize.answers_for_bound(0.0)
    # the three-way decision: pass, too few to tell, shown above the limit
    assert samplesize.decide_rate(stats.wilson(0, 80), 0.05).verdict == "pass"
    assert samplesize.decide_rate(stats.wilson(0, 20), 0.05) == samplesize.Decision(
        "inconclusive", 73
    )
    assert samplesize.decide_rate(stats.wilson(12, 20), 0.05).verdict == "fail"
    assert samplesize.decide_rate(stats.wilson(1, 100), 0.05).verdict == "fail"


def test_evidence_is_bounded_and_json_safe():
    from pytest_modelprov.reports.measurement import EXCERPT_CHARS, evidence_item

    item = evidence_item(prompt="p" * 5000, answer="a\u2028" * 3000, key="k", replicate=0)
    assert len(item["prompt"]) == len(item["answer"]) == EXCERPT_CHARS
    assert json.loads(json.dumps(item)) == item and "decided_by" not in item
