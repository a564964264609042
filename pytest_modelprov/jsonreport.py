"""The machine-readable report of a run: every measurement and the calls per model.

Written only when asked (``--modelprov-report-json FILE``), validated against
``schemas/report.schema.json`` before it is written, and written atomically so a reader
never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import schema
from .errors import ConfigError
from .ledger import Ledger
from .measurement import Measurement

FORMAT = "pytest-modelprov-report/1"


def build(
    measurements: Sequence[tuple[str, Measurement]],
    ledger: Ledger,
    *,
    record_mode: str,
    exit_status: int,
    version: str,
) -> dict[str, Any]:
    models = {}
    for name, tally in sorted(ledger.tallies.items()):
        data = asdict(tally)
        models[name] = {k: data[k] for k in ("model", "endpoint", "calls", "hits", "errors")}
        models[name]["resolved"] = dict(tally.resolved)
    rows = []
    for nodeid, m in measurements:
        row = json.loads(m.to_json())
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
        "warnings": list(ledger.warnings),
    }


def validate(data: Any, source: str) -> None:
    """Raise ConfigError naming ``source`` and the first problem when ``data`` is not a report."""
    schema.check(data, "report.schema.json", f"report {source}")


def write(path: Path, data: dict[str, Any]) -> None:
    validate(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any]:
    """Read and validate a report; errors name the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the report: {exc}") from None
    validate(data, str(path))
    return dict(data)
