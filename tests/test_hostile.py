"""Hostile answers: huge, full of control characters, markup, or not UTF-8 at all.

They must come back exactly as the server sent them through the client, the cache, a cache
export, the transcript and the JSON report; bytes that are not UTF-8 are a failed call, never
a stored answer. (Escaping in the HTML report is tested with the report.)
"""

from __future__ import annotations

import json

from pytest_modelprov.calls.cache import ResponseCache
from pytest_modelprov.cli import main as cli
from pytest_modelprov.testing.script import Fault

CONTROL = "bell\x07 nul\x00 esc\x1b[31mred\x1b[0m cr\r lf\n tab\t del\x7f c1\x85\x9b"
UNICODE = "rtl\u202eevil\u202c ls\u2028ps\u2029 bom\ufeff zwj\u200d nonchar\ufffe astral\U0001f600"
MARKUP = '</script><script>alert("x")</script><img src=x onerror=alert(1)> & &amp; "quotes"'
HUGE = ("A long answer line with words, numbers 12345 and 汉字. " * 40_000)[:2_000_000]

HOSTILE = {"control": CONTROL, "unicode": UNICODE, "markup": MARKUP, "huge": HUGE}

SUITE = """
import json
from pytest_modelprov.reports.measurement import Measurement

KINDS = {kinds!r}

def test_hostile(model_under_test):
    for kind in KINDS:
        answer = model_under_test.ask(f"Say the {{kind}} thing.").answer
        with open(f"seen-{{kind}}.json", "w", encoding="utf-8") as out:
            json.dump(answer, out)
        model_under_test.record(
            Measurement("hostile.length", float(len(answer)), labels={{"kind": kind}},
                        details={{"answer": answer[:5000]}})
        )
"""


def test_hostile_answers_round_trip_exactly(pytester, env, tmp_path, capsys):
    for kind, text in HOSTILE.items():
        env.server.add_rule(f"the {kind} thing", text)
    pytester.makepyfile(SUITE.format(kinds=list(HOSTILE)))
    log, report = tmp_path / "t.jsonl", tmp_path / "report.json"
    for run in ("record", "replay"):
        mode = "once" if run == "record" else "replay"
        result = pytester.runpytest_inprocess(
            "-p", "no:randomly", f"--modelprov-record-mode={mode}",
            f"--modelprov-transcript={log}", f"--modelprov-report-json={report}",
        )  # fmt: skip
        result.assert_outcomes(passed=1)
        # what the test saw
        for kind, text in HOSTILE.items():
            seen = json.loads((pytester.path / f"seen-{kind}.json").read_text(encoding="utf-8"))
            assert seen == text, (run, kind)
        # the transcript: one JSON object a line, however many newlines the answers hold
        # (split on "\n" as JSON Lines says: str.splitlines also breaks at U+2028 and U+0085)
        text = log.read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.split("\n") if line]
        assert sorted(r["answer"] for r in rows) == sorted(HOSTILE.values())
        assert all(r["cached"] == (run == "replay") for r in rows)
        # the JSON report parses and carries the details unchanged
        data = json.loads(report.read_text(encoding="utf-8"))
        text = json.dumps(data, ensure_ascii=False)
        for kind in ("control", "unicode", "markup"):
            assert json.dumps(HOSTILE[kind], ensure_ascii=False)[1:-1] in text, kind
    assert env.server.request_count == len(HOSTILE)

    # the cache, and an export of it imported elsewhere, hold the same bytes
    export = tmp_path / "export.jsonl"
    assert cli(["cache", "export", str(export), "--cache-dir", str(env.cache)]) == 0
    # one entry a line even for readers that break lines at U+2028 or U+0085
    assert len(export.read_text(encoding="utf-8").splitlines()) == 1 + len(HOSTILE)
    other = tmp_path / "other-cache"
    assert cli(["cache", "import", str(export), "--cache-dir", str(other)]) == 0
    capsys.readouterr()
    for directory in (env.cache, other):
        cache = ResponseCache(directory)
        answers = sorted(
            e.response["choices"][0]["message"]["content"]
            for _, e in cache.entries()
            if not isinstance(e, Exception)
        )
        cache.close()
        assert answers == sorted(HOSTILE.values())


def test_answers_that_are_not_utf8_fail_and_are_never_stored(pytester, env, monkeypatch):
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "2")
    env.server.set_fault_rate(1.0, [Fault("invalid_utf8")])
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            model_under_test.ask("Say something broken.")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*failed after 3 attempts: the response body is not valid UTF-8*"])
    assert env.server.request_count == 3
    assert not env.cache.exists() or ResponseCache(env.cache).digests() == []
    # once the server mends its ways the same test records a clean answer
    env.server.set_fault_rate(0.0, [])
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)
    (entry,) = [e for _, e in ResponseCache(env.cache).entries()]
    assert not isinstance(entry, Exception)
    assert entry.response["choices"][0]["message"]["content"].startswith("Scripted answer")


def test_a_huge_failing_message_is_cut_in_the_failure(pytester, env, monkeypatch):
    """A 2 MB error body must not flood the terminal: the message is an excerpt."""
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "0")
    env.server.inject(Fault("status", status=500, message="E" * 2_000_000))
    pytester.makepyfile(
        """
        def test_one(model_under_test):
            model_under_test.ask("Anything.")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    assert len(result.stdout.str()) < 20_000
