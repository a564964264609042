"""`modelprov report` and `modelprov compare`, and the lexical.matrix measurement end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_htmlreport import parse, sample_report
from test_lexical import _corpus
from test_lexical_plugin import VOCAB, _configure

from pytest_modelprov.cli import main as cli
from pytest_modelprov.lexical import Fingerprint, distance
from pytest_modelprov.reports import jsonreport

# --- modelprov report ----------------------------------------------------------------------


def test_report_renders_the_html_next_to_the_json(tmp_path: Path, capsys):
    source = tmp_path / "run.json"
    jsonreport.write(source, sample_report())
    assert cli(["report", str(source)]) == 0
    page = (tmp_path / "run.html").read_text("utf-8")
    assert parse(page).count("svg", "heatmap") == 2
    assert "run.html" in capsys.readouterr().out
    assert cli(["report", str(source), "-o", str(tmp_path / "sub" / "x.html")]) == 0
    assert (tmp_path / "sub" / "x.html").read_text("utf-8") == page


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "cannot read the report"),
        (json.dumps({"format": "pytest-modelprov-report/1"}), "report"),
        (json.dumps({**sample_report(), "exit_status": "one"}), "exit_status"),
    ],
    ids=["not-json", "incomplete", "wrong-type"],
)
def test_report_bad_input_names_the_file(tmp_path: Path, capsys, content: str, problem: str):
    source = tmp_path / "broken.json"
    source.write_text(content, "utf-8")
    assert cli(["report", str(source), "-o", str(tmp_path / "out.html")]) == 2
    err = capsys.readouterr().err
    assert str(source) in err and problem in err
    assert not (tmp_path / "out.html").exists()


def test_report_missing_file_and_self_overwrite(tmp_path: Path, capsys):
    assert cli(["report", str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err
    source = tmp_path / "run.json"
    jsonreport.write(source, sample_report())
    assert cli(["report", str(source), "-o", str(source)]) == 2
    assert jsonreport.load(source)  # untouched


# --- modelprov compare ---------------------------------------------------------------------


def _save(tmp_path: Path, name: str, author: int, seed: int) -> Path:
    texts, prompts = _corpus(author, ["sea", "city", "farm"], 4, seed)
    fp = Fingerprint.from_texts(texts, prompts, name=name)
    return fp.save(tmp_path / f"{name}.json")


def _table(out: str, names: list[str]) -> np.ndarray:
    rows = []
    for line in out.split("average-linkage tree")[0].splitlines():
        head = line.split("  ")[0].strip()
        if head in names and "nearest" not in line:
            rows.append([float(x) for x in line[len(head) :].split()])
    return np.array(rows)


def test_compare_prints_the_matrix_and_groups_the_same_author(tmp_path: Path, capsys):
    # two samples of author 1, two of author 2: the tree must pair them up
    paths = [
        _save(tmp_path, "ours", 1, 10),
        _save(tmp_path, "other-a", 2, 11),
        _save(tmp_path, "ours-again", 1, 12),
        _save(tmp_path, "other-b", 2, 13),
    ]
    names = ["ours", "other-a", "ours-again", "other-b"]
    assert cli(["compare", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    matrix = _table(out, names)
    fps = [Fingerprint.load(p) for p in paths]
    for i in range(4):
        for j in range(4):
            expected = 0.0 if i == j else distance(fps[i], fps[j])
            assert matrix[i, j] == pytest.approx(expected, abs=6e-4)
    assert "nearest to ours: ours-again" in out
    tree = out.split("average-linkage tree (UPGMA):\n", 1)[1].splitlines()
    leaves = [line.split(" ")[0] for line in tree[0:7:2]]
    assert leaves == ["ours", "ours-again", "other-a", "other-b"]


def test_compare_names_methods_and_errors(tmp_path: Path, capsys):
    a, b = _save(tmp_path, "a", 1, 1), _save(tmp_path, "b", 2, 2)
    assert cli(["compare", str(a), str(b), "--names", "first,second", "--method", "jaccard"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("jaccard distance") and "nearest to first: second" in out
    assert cli(["compare", str(a), str(b), "--names", "one"]) == 2
    assert "--names gives 1 names for 2" in capsys.readouterr().err
    # the style distance needs a pool of three
    assert cli(["compare", str(a), str(b), "--method", "style"]) == 2
    assert "at least 3" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": 1}', "utf-8")
    assert cli(["compare", str(a), str(broken)]) == 2
    assert str(broken) in capsys.readouterr().err
    # one model saved twice: the file names tell the rows apart
    assert cli(["compare", str(a), str(a), "--ascii"]) == 0
    out = capsys.readouterr().out
    assert "a #1" in out and "a #2" in out and "├" not in out


# --- lexical.matrix through the plugin, then the HTML ----------------------------------------

INNER = """
from pytest_modelprov import lexical

PROMPTS = [f"Write story number {i} about a place you remember." for i in range(8)]

def test_nearest_is_ember(model_under_test, reference_model):
    ours = lexical.fingerprint(model_under_test, n=3, prompts=PROMPTS)
    refs = {name: lexical.fingerprint(reference_model(name), n=3, prompts=PROMPTS)
            for name in ("ember", "slate", "tidal")}
    lexical.assert_nearest(ours, refs, expected="ember")
"""


def test_assert_nearest_records_the_matrix_for_the_report(pytester, env, monkeypatch, capsys):
    _configure(env, monkeypatch)
    pytester.makepyfile(INNER)
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess("-p", "no:randomly", f"--modelprov-report-json={report}")
    result.assert_outcomes(passed=1)
    data = jsonreport.load(report)
    (matrix,) = [m for m in data["measurements"] if m["quantity"] == "lexical.matrix"]
    distances = {
        m["labels"]["reference"]: m["value"]
        for m in data["measurements"]
        if m["quantity"] == "lexical.distance"
    }
    details = matrix["details"]
    assert details["models"] == [matrix["model"], "ember", "slate", "tidal"]
    d = np.array(details["matrix"])
    assert d.shape == (4, 4) and np.allclose(d, d.T) and np.allclose(np.diag(d), 0)
    # row 0 is the comparison the assertion made; the value is the nearest distance
    for j, name in enumerate(details["models"][1:], start=1):
        assert d[0, j] == pytest.approx(distances[name], abs=1e-6)
    assert matrix["value"] == pytest.approx(min(distances.values()))
    assert matrix["labels"] == {"part": "answer", "method": "delta"}
    # the words shared with ember are ember's own favourites, none shared with slate
    ember_words = {w for w, _, _ in details["shared_words"]["ember"]}
    assert ember_words and ember_words <= set(VOCAB["ember"])
    assert all(ca > 0 and cb > 0 for _, ca, cb in details["shared_words"]["ember"])
    assert not {w for w, _, _ in details["shared_words"]["slate"]} & set(VOCAB["ember"])
    # and the HTML draws the 4 x 4 heat map and a tree with 3 merges (+ the root's stem)
    html_path = pytester.path / "report.html"
    assert cli(["report", str(report), "-o", str(html_path)]) == 0
    doc = parse(html_path.read_text("utf-8"))
    assert doc.count("rect", "cell") == 16
    assert doc.count("path", "branch") == 4
    assert any("lantern" in t or "ember" in t for t in doc.text)
