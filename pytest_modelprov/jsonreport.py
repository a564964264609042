"""The machine-readable report of a run: every measurement and the calls per model.

Written only when asked (``--modelprov-report-json FILE``), validated against
``schemas/report.schema.json`` before it is written, and written atomically so a reader
never sees half a file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import schema
from .baseline import BaselineEvent
from .config import Settings
from .errors import ConfigError
from .files import write_text_atomic
from .ledger import Ledger
from .measurement import Measurement, format_against, format_value
from .safejson import loads as json_loads

FORMAT = "pytest-modelprov-report/1"


def build(
    measurements: Sequence[tuple[str, Measurement]],
    ledger: Ledger,
    *,
    record_mode: str,
    exit_status: int,
    version: str,
    baselines: dict[str, Any] | None = None,
) -> dict[str, Any]:
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
        "warnings": list(ledger.warnings),
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
    """A GitHub-flavoured Markdown summary of a report (for a CI job summary)."""
    failed = [m for m in data["measurements"] if m["verdict"] == "fail"]
    head = "failed" if data["exit_status"] else "passed"
    lines = [
        f"### pytest-modelprov: {head} ({len(data['measurements'])} measurements, "
        f"{len(failed)} failing)",
        "",
    ]
    if data["measurements"]:
        lines += [
            "| test | quantity | value [interval] | n | against | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for row in data["measurements"]:
            # the rows are measurements plus their test: one formatting for all outputs
            m = Measurement.from_json(json.dumps(row))
            verdict = "**FAIL**" if m.verdict == "fail" else m.verdict
            cells = [row["test"].rsplit("::", 1)[-1], m.name, format_value(m), str(m.n or "-")]
            cells += [format_against(m) or "-", verdict]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    unused = data.get("baselines", {}).get("unused", [])
    if unused:
        lines += ["", f"{len(unused)} baseline(s) no test used: " + ", ".join(unused)]
    lines += [f"- warning: {_md_cell(w)}" for w in data["warnings"]]
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    # a model's words end up in labels and warnings: keep them from breaking the table
    return " ".join(str(text).replace("|", "\\|").replace("<", "&lt;").split())[:300]


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
