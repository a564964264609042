"""The HTML report: sections drawn from a JSON report, escaping, and the empty case."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_modelprov.reports import htmlreport, jsonreport
from pytest_modelprov.reports.measurement import Measurement

VENDORS = ["openai", "anthropic", "google"]
LANGS = ["all", "en", "zh-Hans", "ru"]
REFUSAL_LANGS = ["en", "zh", "fi"]
LEXICAL_MODELS = ["model", "ember", "slate", "tidal", "brook"]
# hand-written distances: "model" is close to "ember", "tidal" and "brook" are a pair
LEXICAL_MATRIX = [
    [0.0, 0.12, 0.41, 0.47, 0.45],
    [0.12, 0.0, 0.39, 0.46, 0.44],
    [0.41, 0.39, 0.0, 0.43, 0.42],
    [0.47, 0.46, 0.43, 0.0, 0.18],
    [0.45, 0.44, 0.42, 0.18, 0.0],
]


def _row(test: str, m: Measurement) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(m.to_json())
    row["test"] = test
    return row


def sample_report(exit_status: int = 1) -> dict[str, Any]:
    """A report with every section: identity grid, refusal with baselines, lexical matrix."""
    rows = []
    for v, vendor in enumerate(VENDORS):
        for j, lang in enumerate(LANGS):
            value = 0.02 * v + 0.01 * j
            failed = vendor == "openai" and lang == "ru"
            if failed:
                value = 0.3
            rows.append(
                _row(
                    "tests/test_identity.py::test_not_others",
                    Measurement(
                        "identity.claim_rate",
                        value,
                        model="model",
                        labels={"vendor": vendor, "lang": lang, "source": "answer"},
                        low=max(0.0, value - 0.02),
                        high=value + 0.06,
                        confidence=0.95,
                        n=60,
                        reference=0.1,
                        reference_label="max upper bound",
                        verdict="fail" if failed else "pass",
                        detector="identity/1",
                    ),
                )
            )
    rows.append(
        _row(
            "tests/test_identity.py::test_placebo",
            Measurement(
                "identity.acceptance_rate",
                0.05,
                model="model",
                labels={"kind": "placebo", "vendor": "any"},
                low=0.01,
                high=0.15,
                n=40,
                reference=0.2,
                reference_label="max upper bound",
                verdict="pass",
            ),
        )
    )
    for k, lang in enumerate(REFUSAL_LANGS):
        value = 0.1 + 0.1 * k
        base = 0.1 + 0.05 * k
        rows.append(
            _row(
                "tests/test_refusal.py::test_china",
                Measurement(
                    "refusal.rate",
                    value,
                    model="model",
                    labels={"set": "china-criticism", "lang": lang},
                    low=value - 0.05,
                    high=value + 0.08,
                    n=30,
                    reference=base,
                    reference_label="baseline v1.2",
                    verdict="fail" if lang == "fi" else "pass",
                    detector="refusal/2",
                    details={
                        "baseline": {
                            "value": base,
                            "low": base - 0.04,
                            "high": base + 0.07,
                            "label": "baseline v1.2",
                            "model": "model-v1.2",
                        }
                    },
                ),
            )
        )
        rows.append(
            _row(
                "tests/test_refusal.py::test_china",
                Measurement(
                    "refusal.change",
                    value - base,
                    model="model",
                    labels={"set": "china-criticism", "lang": lang},
                    low=value - base - 0.06,
                    high=value - base + 0.07,
                    n=30,
                    reference=0.1,
                    reference_label="margin",
                    verdict="fail" if lang == "fi" else "pass",
                    details={"before": base, "after": value, "p": 0.01 + 0.1 * (2 - k)},
                ),
            )
        )
    rows.append(
        _row(
            "tests/test_lexical.py::test_nearest",
            Measurement(
                "lexical.matrix",
                0.12,
                model="model",
                labels={"part": "answer", "method": "profile"},
                reference_label="nearest: ember",
                detector="lexical/1",
                details={
                    "models": LEXICAL_MODELS,
                    "matrix": LEXICAL_MATRIX,
                    "shared_words": {
                        "ember": [["lantern", 40, 35], ["hush", 22, 30], ["glimmer", 9, 12]],
                        "slate": [["plain", 5, 30]],
                        "tidal": [],
                        "brook": [["quiet", 7, 3]],
                    },
                },
            ),
        )
    )
    for j, name in enumerate(LEXICAL_MODELS[1:], start=1):
        value = LEXICAL_MATRIX[0][j]
        rows.append(
            _row(
                "tests/test_lexical.py::test_nearest",
                Measurement(
                    "lexical.distance",
                    value,
                    model="model",
                    labels={"reference": name, "part": "answer", "method": "profile"},
                    low=value - 0.03,
                    high=value + 0.04,
                    n=36,
                    verdict="pass" if name == "ember" else "info",
                ),
            )
        )
    return {
        "format": jsonreport.FORMAT,
        "plugin_version": "0.1.0",
        "created": "2025-05-04T10:11:12+00:00",
        "exit_status": exit_status,
        "record_mode": "replay",
        "models": {
            "model": {
                "model": "test-model",
                "endpoint": "http://127.0.0.1:1234/v1",
                "calls": 0,
                "hits": 480,
                "errors": 0,
                "resolved": {"test-model-2025-01": 480},
            },
            "ember": {
                "model": "ref-ember",
                "endpoint": "http://127.0.0.1:1234/v1",
                "calls": 3,
                "hits": 105,
                "errors": 1,
                "resolved": {},
            },
        },
        "measurements": rows,
        "warnings": ["answers of model came from 2 snapshots"],
        "baselines": {
            "directory": "baselines",
            "label": "v1.2",
            "update": False,
            "checks": [
                {
                    "path": "baselines/test_refusal/test_china.json",
                    "status": "drifted",
                    "label": "v1.2",
                    "test": "tests/test_refusal.py::test_china",
                }
            ],
            "unused": ["baselines/test_old/test_gone.json"],
        },
    }


class _Elements(HTMLParser):
    """Collects (tag, attributes) of every element, and all text, as a browser would see it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "script":
            self.scripts += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str, cls: str) -> int:
        return sum(1 for t, a in self.elements if t == tag and cls in a.get("class", "").split())


def parse(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    parser.close()
    return parser


def test_sample_report_is_a_valid_json_report():
    jsonreport.validate(sample_report(), "sample")


def test_all_sections_with_their_charts():
    page = htmlreport.render(sample_report())
    doc = parse(page)
    ids = {a.get("id") for _, a in doc.elements}
    assert {"identity", "refusal", "lexical", "measurements", "models", "warnings"} <= ids
    assert "baseline-files" in ids
    # identity grid: one cell per vendor x language, plus the 5 x 5 lexical matrix
    assert doc.count("rect", "cell") == len(VENDORS) * len(LANGS) + len(LEXICAL_MODELS) ** 2
    assert doc.count("rect", "failed") == 1  # openai / ru
    # refusal: one current and one baseline bar per language; changes; identity bars
    assert doc.count("rect", "baseline") == len(REFUSAL_LANGS)
    current = len(VENDORS) * len(LANGS) + 1 + 2 * len(REFUSAL_LANGS) + len(LEXICAL_MODELS) - 1
    assert doc.count("rect", "current") == current
    # the tree joins 5 leaves with 4 merges, plus the root's stem
    assert doc.count("path", "branch") == len(LEXICAL_MODELS)
    # every measurement is a table row, failing ones marked
    rows = [a for t, a in doc.elements if t == "tr" and a.get("class") in ("pass", "fail", "info")]
    assert len(rows) == len(sample_report()["measurements"]) + 1  # + the baseline file
    assert sum(1 for a in rows if a["class"] == "fail") == 3 + 1  # and the drifted baseline
    text = " ".join(doc.text)
    assert "lantern" in text and "baseline v1.2" in text and "ref-ember" in text
    assert "test-model-2025-01 (480)" in text
    assert doc.scripts == 0
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), (
        "nothing may load from the network"
    )


def test_heat_map_orders_models_by_the_tree():
    page = htmlreport.render(sample_report())
    chunk = page[page.index("<title>Fingerprint distances") :]
    chunk = chunk[: chunk.index("</svg>")]
    labels = re.findall(
        r'class="row-label[^"]*"[^>]*>(?:<title>[^<]*</title>)?([^<]+)</text>', chunk
    )
    # model+ember merge first, tidal+brook next, slate joins model+ember before the pairs meet
    assert labels == ["model", "ember", "slate", "tidal", "brook"]


HOSTILE = "<script>alert(1)</script>\x00\x07\x1b[31m\u202eevil\"'&"


def test_hostile_text_is_escaped_everywhere():
    report = sample_report()
    report["measurements"].append(
        _row(
            f"tests/test_x.py::test[{HOSTILE}]",
            Measurement(
                "identity.claim_rate",
                0.5,
                model=HOSTILE,
                labels={"vendor": HOSTILE, "lang": HOSTILE, HOSTILE: "x"},
                reference_label=HOSTILE,
                verdict="fail",
                details={"answer": HOSTILE, "huge": "A" * 100_000},
            ),
        )
    )
    matrix = next(m for m in report["measurements"] if m["quantity"] == "lexical.matrix")
    matrix["details"]["shared_words"]["ember"].append([HOSTILE, 1, 2])
    matrix["details"]["models"][2] = HOSTILE
    report["warnings"].append(HOSTILE)
    report["models"][HOSTILE] = {
        "model": HOSTILE,
        "endpoint": HOSTILE,
        "calls": 1,
        "hits": 0,
        "errors": 0,
    }
    page = htmlreport.render(report)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for raw in ("\x00", "\x07", "\x1b", "\u202e"):
        assert raw not in page
    assert "\\x07" in page and "\\u202e" in page
    assert len(page) < 200_000, "huge strings are cut"
    assert "more characters" in page
    doc = parse(page)
    assert doc.scripts == 0
    # no attribute escaped its quotes: every element the parser saw is one we write
    tags = {t for t, _ in doc.elements}
    assert tags <= {
        "html", "head", "meta", "title", "style", "body", "main", "header", "div", "h1", "h2",
        "h3", "h4", "dl", "dt", "dd", "section", "ul", "li", "nav", "a", "figure", "figcaption",
        "svg", "rect", "text", "line", "path", "circle", "g", "table", "caption", "thead",
        "tbody", "tr", "th", "td", "span", "b", "br", "wbr", "code", "details", "summary", "pre", "p", "footer",
    }  # fmt: skip


def test_empty_report_says_so():
    report = sample_report(exit_status=0)
    report["measurements"] = []
    report["warnings"] = []
    del report["baselines"]
    page = htmlreport.render(report)
    doc = parse(page)
    assert "No measurements" in " ".join(doc.text)
    ids = {a.get("id") for _, a in doc.elements}
    assert not ids & {"identity", "refusal", "lexical", "measurements", "warnings", "failures"}
    assert doc.count("svg", "chart") == 0


def test_sections_only_with_data():
    report = sample_report()
    report["measurements"] = [
        m for m in report["measurements"] if m["quantity"].startswith("refusal.")
    ]
    doc = parse(htmlreport.render(report))
    ids = {a.get("id") for _, a in doc.elements}
    assert "refusal" in ids and not ids & {"identity", "lexical"}


def test_write_html_is_atomic_and_complete(tmp_path: Path):
    target = htmlreport.write_html(sample_report(), tmp_path / "out" / "report.html")
    assert target.read_text("utf-8").endswith("</html>\n")
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_malformed_details_do_not_break_the_page():
    report = sample_report()
    for m in report["measurements"]:
        if m["quantity"] == "lexical.matrix":
            m["details"] = {"models": ["a", "b"], "matrix": [[0, "x"], [1]]}
        if m["quantity"] == "refusal.rate":
            m["details"] = {"baseline": "not an object"}
    page = htmlreport.render(report)
    doc = parse(page)
    assert "without a usable matrix" in " ".join(doc.text)
    assert doc.count("rect", "baseline") == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numbers_render_as_dashes(value: float):
    report = sample_report()
    report["measurements"][0]["value"] = value
    doc = parse(htmlreport.render(report))
    first = next(a for t, a in doc.elements if t == "tr" and a.get("class") in ("pass", "fail"))
    assert first  # the page rendered; the value cell shows a dash, not nan/inf
    assert not {"nan", "inf"} & {w.lower() for w in " ".join(doc.text).split()}
