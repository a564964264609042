"""Helpers of the warm-path tests: a pytester run with its JSON report, and the report
without what differs between any two runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def run_reported(pytester: pytest.Pytester, out: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    """Run pytester's suite in a subprocess with its JSON report written under ``out``."""
    out.mkdir()
    report = out / "report.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "no:cacheprovider", f"--modelprov-report-json={report}", *args
    )
    return result, json.loads(report.read_text(encoding="utf-8"))


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between any two runs (its time, the calls made)."""
    return {k: v for k, v in report.items() if k not in ("created", "models", "record_mode")}
