"""What every report shows: flags, inconclusive verdicts, inert server text, the width."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

from pytest_modelprov.reports import jsonreport
from pytest_modelprov.reports.measurement import Measurement, safe_text
from pytest_modelprov.reports.terminal import measurement_lines

FLAGGED = """
from pytest_modelprov.reports.measurement import Measurement


def test_flagged(model_under_test):
    model_under_test.record(Measurement(
        "refusal.rate", 0.125, labels={"set": "mine", "lang": "sw"}, low=0.05, high=0.27,
        n=40, reference=0.3, reference_label="max upper bound", verdict="pass",
        details={"flags": ["unvalidated", "few-shared-prompts"]},
    ))
"""


def _outputs(pytester, *args):
    out = pytester.path / "out"
    paths = {k: out / f"r.{k}" for k in ("json", "md", "html", "xml")}
    result = pytester.runpytest(
        f"--modelprov-report-json={paths['json']}",
        f"--modelprov-report-md={paths['md']}",
        f"--modelprov-report-html={paths['html']}",
        f"--junitxml={paths['xml']}",
        *args,
    )
    return result, paths


def test_flags_are_visible_in_every_report(pytester, env, xdist_args, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    pytester.makepyfile(FLAGGED)
    result, paths = _outputs(pytester, *xdist_args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*refusal.rate*0.125*pass [[]unvalidated, few-shared-prompts]"])
    props = {
        p.get("name"): p.get("value") for p in ET.parse(paths["xml"]).getroot().iter("property")
    }
    assert props["refusal.rate[set=mine, lang=sw]"].endswith(
        ": pass [flags: unvalidated, few-shared-prompts]"
    )
    data = jsonreport.load(paths["json"])
    assert data["measurements"][0]["details"]["flags"] == ["unvalidated", "few-shared-prompts"]
    page = paths["html"].read_text()
    assert '<span class="flag"' in page and "⚑ few-shared-prompts" in page
    assert "pass \\[unvalidated, few-shared-prompts\\]" in paths["md"].read_text()


HOSTILE = (
    "![x](https://attacker.example/p.png) [Re-authenticate here](https://attacker.example/login)"
    " www.attacker.example <img src=x> \x1b[2J\x1b]0;owned\x07\r\u202egnp.exe"
)


def test_server_text_is_inert_in_markdown_and_terminal(pytester, env, monkeypatch):
    """issue 16 item 10: a model id (and labels, warnings) full of Markdown and escapes."""
    monkeypatch.setenv("MODELPROV_MODEL", HOSTILE)
    monkeypatch.setenv("COLUMNS", "200")
    pytester.makepyfile(
        """
        from pytest_modelprov.reports.measurement import Measurement

        def test_hostile(model_under_test):
            model_under_test.sample(["hello"])
            model = model_under_test.model
            model_under_test.record(Measurement(
                "identity.claim_rate", 0.0, model=model, labels={"lang": model}, n=3,
                details={"flags": [model]},
            ))
        """
    )
    result, paths = _outputs(pytester)
    result.assert_outcomes(passed=1)
    terminal = result.stdout.str()
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in terminal, repr(raw)
    assert "\\x1b[2J" in terminal and "\\x07" in terminal and "\\x0d" in terminal
    md = paths["md"].read_text()
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in md, repr(raw)
    # no link, image, autolink or HTML can form: each opener is escaped
    assert not re.search(r"(?<!\\)(\]\(|!\[|<img|https:|www\.)", md), md
    assert "\\!\\[x\\]\\(https\\://attacker" in md
    assert "www\\.attacker" in md


def test_safe_text_shows_controls_and_keeps_letters():
    assert safe_text("Привет, 你好 ok") == "Привет, 你好 ok"
    assert safe_text("a\x1b[31mb\x07\r\n\u202e\x85") == "a\\x1b[31mb\\x07\\x0d\\x0a\\u202e\\x85"
    assert safe_text("x" * 50, 10) == "x" * 9 + "…"


def _m(verdict: str, **details: object) -> Measurement:
    return Measurement(
        "identity.claim_rate",
        0.0,
        model="model under test",
        labels={"vendor": "openai", "lang": "ru", "source": "answer"},
        low=0.0,
        high=0.161,
        n=20,
        reference=0.05,
        reference_label="max upper bound",
        verdict=verdict,  # type: ignore[arg-type]
        details=details,
    )


def test_the_table_fits_80_columns_and_keeps_the_verdict():
    rows = [
        (f"tests/test_identity.py::test_{'long_name_' * 4}{i}", _m(v, needed_n=73))
        for i, v in enumerate(["pass", "fail", "inconclusive"])
    ]
    wide = measurement_lines(rows)
    assert max(len(line) for line in wide) > 120  # the full table would wrap at 80
    for width in (80, 100, 120):
        lines = measurement_lines(rows, width)
        assert max(len(line) for line in lines) <= width, "\n".join(lines)
        text = "\n".join(lines)
        assert "FAIL" in text and "INCONCLUSIVE" in text and "n>=73" in text
        # every row's value and verdict are on its first line, uncut
        assert sum("0.000 [0.000, 0.161]" in line for line in lines) == 3


def test_markdown_has_a_model_column_and_the_inconclusive_count():
    rows = []
    for model, verdict in (("old", "pass"), ("new", "inconclusive")):
        row = json.loads(_m(verdict, needed_n=73).to_json())
        row["model"], row["test"] = model, "t.py::test_x"
        rows.append(row)
    md = jsonreport.markdown(
        {"exit_status": 1, "measurements": rows, "warnings": [], "baselines": {}}
    )
    assert "| test | model | quantity |" in md
    assert "| test\\_x | old |" in md and "| test\\_x | new |" in md
    assert "1 inconclusive" in md and "**INCONCLUSIVE \\(needs n\\>=73\\)**" in md


def test_the_plugins_power_warnings_reach_every_report(pytester, env, xdist_args):
    pytester.makepyfile(
        """
        import warnings
        from pytest_modelprov import refusal

        def test_gate(model_under_test):
            model_under_test.sample(["hello"])
            warnings.warn(refusal.RefusalWarning("[en] 50 prompts can only detect 0.29"))
            warnings.warn(UserWarning("somebody else's warning"))
        """
    )
    result, paths = _outputs(pytester, *xdist_args)
    result.assert_outcomes(passed=1)
    data = jsonreport.load(paths["json"])
    assert data["warnings"] == [
        "test_the_plugins_power_warnings_reach_every_report.py::test_gate: RefusalWarning: "
        "[en] 50 prompts can only detect 0.29"
    ]
    assert "RefusalWarning: [en] 50 prompts can only detect 0.29" in paths["html"].read_text()
    assert "RefusalWarning\\: \\[en\\] 50 prompts can only detect 0.29" in paths["md"].read_text()


def test_a_failed_lexical_check_quotes_the_answers_with_the_shared_words(
    pytester, env, monkeypatch
):
    from test_lexical_plugin import INNER as LEXICAL
    from test_lexical_plugin import VOCAB, _configure

    _configure(env, monkeypatch)
    pytester.makepyfile(LEXICAL)
    result, paths = _outputs(pytester, "-k", "slate_fails")
    result.assert_outcomes(failed=1)
    data = jsonreport.load(paths["json"])
    (slate,) = [m for m in data["measurements"] if m["verdict"] == "fail"]
    evidence = slate["details"]["evidence"]
    assert 1 <= len(evidence) <= 5
    for e in evidence:
        word = re.fullmatch(r"shares '(\w+)' with ember", e["label"]).group(1)
        assert word in VOCAB["ember"] and word in e["decided_by"] and word in e["answer"]
    assert html.escape(evidence[0]["decided_by"], quote=True) in paths["html"].read_text()
