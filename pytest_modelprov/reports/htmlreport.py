"""The HTML report: one self-contained file (inline CSS and SVG) drawn from a JSON report.

Nothing is fetched at view time: no external scripts, fonts or images, so the file can be
kept as a CI artifact and opened offline years later. Every text that comes from the report
(test ids, labels, model answers quoted in details) is escaped and long texts are cut,
because model output is untrusted input. The one inline script (the answer browser's
filters) is allowed by hash in the page's Content-Security-Policy, which forbids every
other script and every network load; without JavaScript the page is complete, only the
filters are hidden.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..util.files import write_text_atomic
from .htmlsections import (
    _badge,
    _baseline_files,
    _baseline_section,
    _e_pre,
    _flags_html,
    _identity_section,
    _lexical_section,
    _refusal_section,
    _table,
)
from .markup import (
    DASH,
    _against,
    _clean,
    _details,
    _e,
    _interval,
    _labels,
    _name,
    _test_id,
    _verdict,
)

__all__ = [
    "render",
    "write_html",
]

# -- text ----------------------------------------------------------------------------------


# -- scales and colours --------------------------------------------------------------------


# -- interval ("forest") chart -------------------------------------------------------------


# -- heat map ------------------------------------------------------------------------------


# -- dendrogram ----------------------------------------------------------------------------


# -- sections ------------------------------------------------------------------------------


def _header(report: Mapping[str, Any], ms: Sequence[Mapping[str, Any]]) -> str:
    status = report.get("exit_status")
    failed = sum(1 for m in ms if _verdict(m) == "fail")
    passed = sum(1 for m in ms if _verdict(m) == "pass")
    undecided = sum(1 for m in ms if _verdict(m) == "inconclusive")
    ok = status == 0
    state = "passed" if ok else f"failed (exit status {_e(status)})"
    created = str(report.get("created", ""))
    meta = [
        ("run", created.replace("T", " ").replace("+00:00", " UTC")),
        ("plugin", f"pytest-modelprov {report.get('plugin_version', '?')}"),
        ("record mode", report.get("record_mode", "?")),
        (
            "measurements",
            f"{len(ms)}: {passed} passed, {failed} failed, {undecided} inconclusive, "
            f"{len(ms) - passed - failed - undecided} info",
        ),
    ]
    dl = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in meta)
    return (
        f'<header><div class="status {"ok" if ok else "bad"}">{"✓" if ok else "✗"} {state}</div>'
        f'<h1>Model provenance report</h1><dl class="meta">{dl}</dl></header>'
    )


def _models(report: Mapping[str, Any]) -> str:
    models = report.get("models")
    if not isinstance(models, Mapping) or not models:
        return ""
    rows = []
    for name, t in models.items():
        if not isinstance(t, Mapping):
            continue
        resolved = t.get("resolved")
        if not isinstance(resolved, Mapping):
            resolved = {}
        snaps = ", ".join(f"{_e(k, 80)} ({_e(v)})" for k, v in resolved.items()) or DASH
        errors = t.get("errors", 0)
        rows.append(
            f"<tr><td><b>{_e(name, 80)}</b></td><td>{_e(t.get('model', ''), 120)}</td>"
            f'<td class="muted">{_e(t.get("endpoint", ""), 120)}</td><td '
            f'class="num">{_e(t.get("calls", 0))}</td>'
            f'<td class="num">{_e(t.get("hits", 0))}</td><td '
            f'class="num{" bad" if errors else ""}">{_e(errors)}</td>'
            f"<td>{snaps}</td></tr>"
        )
    return (
        '<section id="models"><h2>Models</h2><div class="scroll"><table><thead><tr><th>name</th>'
        "<th>model</th>"
        '<th>endpoint</th><th class="num">calls</th><th class="num">cache hits</th><th '
        'class="num">errors</th>'
        "<th>resolved snapshots</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div></section>"
    )


def _evidence(m: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = _details(m).get("evidence")
    if not isinstance(found, list):
        return []
    return [e for e in found[:MAX_EVIDENCE_SHOWN] if isinstance(e, Mapping)]


#: quoted answers shown per check (the JSON report is bounded the same way)
MAX_EVIDENCE_SHOWN = 20


def _quote_html(e: Mapping[str, Any]) -> str:
    """One quoted answer: the prompt, what the model said, what decided, where it is."""
    decided = e.get("decided_by")
    meta = [str(e[k]) for k in ("label",) if e.get(k)]
    if isinstance(e.get("replicate"), int):
        meta.append(f"sample #{e['replicate']}")
    if e.get("ref"):
        meta.append(str(e["ref"]))
    key = (
        f' <code class="cache-key" title="cache key">{_e(e["key"], 80)}</code>'
        if e.get("key")
        else ""
    )
    lang = f'<span class="lang">{_e(e["lang"], 20)}</span> ' if e.get("lang") else ""
    return (
        f'<li class="quote">{lang}<span class="prompt">{_e(e.get("prompt", ""), 400)}</span>'
        f' <span class="arrow">→</span> <span class="answer">{_e(e.get("answer", ""), 400)}'
        "</span>"
        + (
            f'<span class="decided">decided by: <mark>{_e(decided, 400)}</mark></span>'
            if decided
            else ""
        )
        + f'<span class="meta">{_e(" · ".join(meta), 200)}{key}</span></li>'
    )


def _check_item(m: Mapping[str, Any]) -> str:
    evidence = _evidence(m)
    quotes = ""
    if evidence:
        quotes = (
            f'<ol class="evidence" aria-label="answers">{"".join(_quote_html(e) for e in evidence)}'
            "</ol>"
        )
    model = f" · {_e(m['model'], 80)}" if m.get("model") else ""
    return (
        f"<li><b>{_e(_name(m))}</b> = {_e(_interval(m))}, n={_e(m.get('n', DASH))} against "
        f"{_e(_against(m))} {_badge(m)}{_flags_html(m)}"
        f' <span class="muted">({_e(m.get("test", ""))}{model})</span>{quotes}</li>'
    )


def _failures(ms: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for verdict, title, cls, lead in (
        ("fail", "✗ Failed checks", "failures", ""),
        (
            "inconclusive",
            "? Inconclusive checks",
            "inconclusive",
            '<p class="lead">The sample cannot decide these: too few answers for the bound, or '
            "a gate whose prompts could not have detected its margin. Never a pass; they fail "
            "the run with <code>--modelprov-inconclusive=fail</code> (the default) or warn.</p>",
        ),
    ):
        chosen = [m for m in ms if _verdict(m) == verdict]
        if not chosen:
            continue
        items = "".join(_check_item(m) for m in chosen[:50])
        more = f"<li>… and {len(chosen) - 50} more</li>" if len(chosen) > 50 else ""
        parts.append(
            f'<section id="{cls}" class="{cls}"><h2>{title} ({len(chosen)})</h2>{lead}'
            f"<ul>{items}{more}</ul></section>"
        )
    return "".join(parts)


def _failed_tests(report: Mapping[str, Any]) -> str:
    """Every failed test with its message: a plain ``assert`` has no measurement at all."""
    raw = report.get("failures")
    failures = [f for f in raw if isinstance(f, Mapping)] if isinstance(raw, list) else []
    if not failures:
        return ""
    items = "".join(
        f'<li><span class="test">{_test_id(f.get("test", ""))}</span>'
        + ("" if f.get("measured") else ' <span class="tag">no measurement</span>')
        + (f' <span class="muted">({_e(f["when"], 20)})</span>' if f.get("when") != "call" else "")
        + f"<pre>{_e_pre(str(f.get('message', '')))}</pre></li>"
        for f in failures[:100]
    )
    return (
        f'<section id="failed-tests" class="failures"><h2>✗ Failed tests ({len(failures)})</h2>'
        f'<ul class="failed-tests">{items}</ul></section>'
    )


def _answers(ms: Sequence[Mapping[str, Any]]) -> str:
    """Every quoted answer in one table, filterable by test, model, language and label.

    The table is plain HTML (complete without JavaScript); the filters are a small inline
    script allowed by the page's Content-Security-Policy hash and nothing else."""
    rows = []
    values: dict[str, set[str]] = {"test": set(), "model": set(), "lang": set(), "label": set()}
    for m in ms:
        for e in _evidence(m):
            cells = {
                "test": _clean(str(m.get("test", "")).rsplit("::", 1)[-1], 120),
                "model": _clean(m.get("model", ""), 80),
                "lang": _clean(e.get("lang") or _labels(m).get("lang", ""), 20),
                "label": _clean(e.get("label") or _verdict(m), 60),
            }
            for k, v in cells.items():
                values[k].add(v)
            data = " ".join(f'data-{k}="{html.escape(v, quote=True)}"' for k, v in cells.items())
            decided = e.get("decided_by")
            rows.append(
                f'<tr class="{_verdict(m)}" {data}><td class="test">{html.escape(cells["test"])}'
                f"</td><td>{html.escape(cells['model'])}</td><td>{html.escape(cells['lang'])}</td>"
                f"<td>{html.escape(cells['label'])}</td><td>{_e(e.get('prompt', ''), 400)}</td>"
                f'<td class="answer">{_e(e.get("answer", ""), 400)}'
                + (f"<br><mark>{_e(decided, 400)}</mark>" if decided else "")
                + f'</td><td>{_badge(m)}</td><td class="muted">{_e(e.get("key", ""), 80)}</td></tr>'
            )
    if not rows:
        return ""
    selects = "".join(
        f'<label>{name} <select data-filter="{name}"><option value="">all</option>'
        + "".join(
            f'<option value="{html.escape(v, quote=True)}">{html.escape(v)}</option>'
            for v in sorted(values[name])
        )
        + "</select></label>"
        for name in ("test", "model", "lang", "label")
    )
    return (
        '<section id="answers"><h2>Answers</h2><p class="lead">What the model said in the '
        "checks that failed or could not decide: the prompt, an excerpt of the answer and "
        "the sentence that decided (marked). The whole answer is in the cache under its key "
        f"(<code>modelprov cache show KEY</code>).</p>"
        f'<form class="filters" id="answer-filters" hidden>{selects} '
        '<output id="answer-count"></output></form>'
        '<div class="scroll"><table class="measurements" id="answer-table"><thead><tr>'
        "<th>test</th><th>model</th><th>lang</th><th>label</th><th>prompt</th><th>answer</th>"
        f"<th>verdict</th><th>cache key</th></tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table></div></section>"
    )


# The answer browser's filters. It reads only the page (and its #filter-... fragment, so a
# filtered view can be linked) and writes only the hidden flag of rows: no network, no HTML.
SCRIPT = """
(function () {
  var form = document.getElementById("answer-filters");
  var table = document.getElementById("answer-table");
  if (!form || !table) { return; }
  form.hidden = false;
  var selects = form.querySelectorAll("select[data-filter]");
  var rows = table.tBodies[0].rows;
  function apply() {
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var ok = true;
      for (var j = 0; j < selects.length; j++) {
        var want = selects[j].value;
        if (want && rows[i].getAttribute("data-" + selects[j].dataset.filter) !== want) {
          ok = false;
        }
      }
      rows[i].hidden = !ok;
      if (ok) { shown++; }
    }
    document.getElementById("answer-count").textContent =
      shown + " of " + rows.length + " answers";
  }
  var hash = decodeURIComponent(location.hash.slice(1)).split("&");
  for (var k = 0; k < hash.length; k++) {
    var pair = hash[k].split("=");
    if (pair.length === 2 && pair[0].indexOf("filter-") === 0) {
      var sel = form.querySelector('select[data-filter="' + pair[0].slice(7) + '"]');
      if (sel) {
        for (var o = 0; o < sel.options.length; o++) {
          if (sel.options[o].value === pair[1]) { sel.value = pair[1]; }
        }
      }
    }
  }
  form.addEventListener("change", apply);
  apply();
})();
"""


def _csp() -> str:
    """Nothing from the network, and no script but the filters (by hash): a model answer
    that escaped escaping still could not run or load anything."""
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; form-action 'none'; base-uri 'none'"
    )


@lru_cache(maxsize=1)
def _css() -> str:
    return files("pytest_modelprov").joinpath("data/report/report.css").read_text("utf-8")


def render(report: Mapping[str, Any]) -> str:
    """The whole report as one self-contained HTML document."""
    raw = report.get("measurements")
    ms: list[Mapping[str, Any]] = (
        [m for m in raw if isinstance(m, Mapping)] if isinstance(raw, list) else []
    )
    body = [_header(report, ms)]
    warnings = report.get("warnings")
    if isinstance(warnings, list) and warnings:
        items = "".join(f"<li>{_e(w, 1000)}</li>" for w in warnings[:100])
        body.append(
            f'<section id="warnings" class="warnings"><h2>Warnings</h2><ul>{items}</ul></section>'
        )
    body.append(_failures(ms))
    body.append(_failed_tests(report))
    body.append(_models(report))
    sections: list[tuple[str, str]] = []
    if not ms:
        body.append(
            '<section id="empty" class="empty"><h2>No measurements</h2><p>This run recorded no '
            "provenance measurement: no test used an identity, lexical or refusal check, or the "
            "tests that do were not selected.</p></section>"
        )
    else:
        quantities = [str(m.get("quantity", "")) for m in ms]
        if any(q.startswith("identity.") for q in quantities):
            sections.append(("identity", _identity_section(ms)))
        if any(q.startswith("refusal.") for q in quantities):
            sections.append(("refusal", _refusal_section(ms)))
        if any(q in ("lexical.matrix", "lexical.distance") for q in quantities):
            sections.append(("lexical", _lexical_section(ms)))
        base = _baseline_section(ms)
        if base:
            sections.append(("against-baselines", base))
        files_ = _baseline_files(report.get("baselines"))
        if files_:
            sections.append(("baseline-files", files_))
        answers = _answers(ms)
        if answers:
            sections.append(("answers", answers))
        sections.append(("measurements", _table(ms)))
        titles = {
            "answers": "Answers",
            "identity": "Identity",
            "refusal": "Refusal",
            "lexical": "Lexical",
            "against-baselines": "Against baselines",
            "baseline-files": "Baseline files",
            "measurements": "Every measurement",
        }
        nav = " ".join(f'<a href="#{k}">{titles[k]}</a>' for k, _ in sections)
        body.append(f'<nav aria-label="sections">{nav}</nav>')
        body.extend(s for _, s in sections)
    title = f"modelprov report {_clean(report.get('created', ''), 40)}"
    body_text = "".join(body)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_css()}</style></head><body><main>"
        + body_text
        + f"<footer>pytest-modelprov {_e(report.get('plugin_version', ''))} · "
        f"{_e(report.get('format', ''))} · self-contained file, nothing loaded from the "
        "network</footer>"
        "</main>"
        + (f"<script>{SCRIPT}</script>" if 'id="answer-filters"' in body_text else "")
        + "</body></html>\n"
    )


def write_html(report: Mapping[str, Any], path: str | Path) -> Path:
    """Render ``report`` and write it to ``path`` atomically (a reader never sees half a file)."""
    target = Path(path)
    write_text_atomic(target, render(report))
    return target
