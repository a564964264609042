"""The documented path of the Batch API engine; its code is in
:mod:`pytest_modelprov.calls.batch`."""

from __future__ import annotations

from .calls.batch import (
    MAX_BYTES,
    MAX_LINES,
    BatchOutcome,
    BatchProgress,
    BatchStateError,
    LineError,
    fill,
)

__all__ = [
    "MAX_BYTES",
    "MAX_LINES",
    "BatchOutcome",
    "BatchProgress",
    "BatchStateError",
    "LineError",
    "fill",
]
