"""The machine-readable report of a run: every measurement and the calls per model.

Written only when asked (``--modelprov-report-json FILE``), validated against
``schemas/report.schema.json`` before it is written, and written atomically so a reader
never sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..baseline import BaselineEvent
from ..calls.ledger import Ledger
from ..config import Settings
from ..errors import ConfigError
from ..util import schema
from ..util.files import write_text_atomic
from ..util.safejson import loads as json_loads
from .measurement import Measurement, format_against, format_value, safe_text, verdict_text

FORMAT = "pytest-modelprov-report/1"


def build(
    measurements: Sequence[tuple[str, Measurement]],
    ledger: Ledger,
    *,
    record_mode: str,
    exit_status: int,
    version: str,
    baselines: dict[str, Any] | None = None,
    failures: Sequence[Mapping[str, str]] = (),
    test_warnings: Sequence[str] = (),
    inconclusive: str = "fail",
) -> dict[str, Any]:
    """The report: ``failures`` are failed tests with their message (a plain ``assert``
    has no measurement), ``test_warnings`` the plugin's pytest warnings (power notes)."""
    models = {}
    for name, tally in sorted(ledger.tallies.items()):
        data = asdict(tally)
        models[name] = {k: data[k] for k in ("model", "endpoint", "calls", "hits", "errors")}
        models[name]["resolved"] = dict(tally.resolved)
    rows = []
    for nodeid, m in measurements:
        row = json_loads(m.to_json())
        row["test"] = nodeid
        rows.append(row)
    return {
        "format": FORMAT,
        "plugin_version": version,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "exit_status": exit_status,
        "record_mode": record_mode,
        "models": models,
        "measurements": rows,
        "baselines": baselines or {},
        "warnings": [*ledger.warnings, *test_warnings],
        "inconclusive": inconclusive,
        "failures": [
            {
                "test": str(f.get("test", "")),
                "when": str(f.get("when", "call")),
                "message": str(f.get("message", "")),
                "measured": any(
                    t == f.get("test") and m.verdict == "fail" for t, m in measurements
                ),
            }
            for f in failures
        ],
    }


def baselines_section(
    settings: Settings, events: Sequence[BaselineEvent], unused: Sequence[Path]
) -> dict[str, Any]:
    """Which baselines the run compared, wrote or missed, and which no test used."""
    return {
        "directory": str(settings.baseline_dir),
        "label": settings.baseline_label,
        "update": settings.update_baselines,
        "checks": [
            {"path": e.path, "status": e.status, "label": e.label, "test": e.test} for e in events
        ],
        "unused": [str(p) for p in unused],
    }


def markdown(data: dict[str, Any]) -> str:
    """A GitHub-flavoured Markdown summary of a report (for a CI job summary).

    Every text from the run (test ids, model ids, labels, warnings, which can carry a
    model's or a server's words) is escaped: it renders as the text it is, never as a
    link, an image or HTML.
    """
    rows = [_row_measurement(row) for row in data["measurements"]]
    failed = sum(1 for _, m in rows if m.verdict == "fail")
    undecided = sum(1 for _, m in rows if m.verdict == "inconclusive")
    head = "failed" if data["exit_status"] else "passed"
    counts = f"{len(rows)} measurements, {failed} failing"
    if undecided:
        counts += f", {undecided} inconclusive"
    lines = [f"### pytest-modelprov: {head} ({counts})", ""]
    if rows:
        lines += [
            "| test | model | quantity | value [interval] | n | against | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for test, m in rows:
            # the rows are measurements plus their test: one formatting for all outputs
            verdict = _md_cell(verdict_text(m))
            if m.verdict in ("fail", "inconclusive"):
                verdict = f"**{verdict}**"
            cells = [test.rsplit("::", 1)[-1], m.model, m.name, format_value(m), str(m.n or "-")]
            cells += [format_against(m) or "-"]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + f" | {verdict} |")
    failures = [f for f in data.get("failures") or [] if not f.get("measured")]
    if failures:
        lines += ["", f"{len(failures)} test(s) failed without a measurement:"]
        for f in failures[:50]:
            lines.append(f"- {_md_cell(f.get('test', ''))}: {_md_cell(f.get('message', ''))}")
    unused = data.get("baselines", {}).get("unused", [])
    if unused:
        lines += ["", f"{len(unused)} baseline(s) no test used: " + _md_cell(", ".join(unused))]
    lines += [f"- warning: {_md_cell(w)}" for w in data["warnings"]]
    return "\n".join(lines) + "\n"


def _row_measurement(row: dict[str, Any]) -> tuple[str, Measurement]:
    return str(row["test"]), Measurement.from_json(json.dumps(row))


def _md_cell(text: Any) -> str:
    """Inert Markdown: control characters shown as escapes, and every character that can
    start a link, image, autolink (``https:``, ``www.``), emphasis, code, math, HTML or a
    table break backslash-escaped; cut to 300 characters."""
    plain = safe_text(" ".join(str(text).split()), 300)
    out = []
    for i, ch in enumerate(plain):
        www = ch == "." and plain[max(0, i - 3) : i].lower() == "www"
        out.append("\\" + ch if ch in _MD_SPECIAL or www else ch)
    return "".join(out)


_MD_SPECIAL = frozenset("\\`*_[]()!<>&|~#:@$")


def append_markdown(path: Path, data: dict[str, Any]) -> None:
    """Append (a CI job summary file collects several steps' output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(markdown(data))


def validate(data: Any, source: str) -> None:
    """Raise ConfigError naming ``source`` and the first problem when ``data`` is not a report."""
    schema.check(data, "report.schema.json", f"report {source}")


def write(path: Path, data: dict[str, Any]) -> None:
    validate(data, str(path))
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def load(path: Path) -> dict[str, Any]:
    """Read and validate a report; errors name the file."""
    try:
        data = json_loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the report: {exc}") from None
    validate(data, str(path))
    return dict(data)
