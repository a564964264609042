"""The documented path of the local server; its code is in :mod:`pytest_modelprov.testing`.

``from pytest_modelprov.server import LocalServer, Script`` and ``python -m
pytest_modelprov.server --script FILE`` keep working.
"""

from __future__ import annotations

from .testing import (
    BATCH_FAULT_KINDS,
    FAULT_KINDS,
    BatchEnding,
    BatchFault,
    Fault,
    LocalServer,
    RecordedRequest,
    Rule,
    Script,
)
from .testing.server import main

__all__ = [
    "BATCH_FAULT_KINDS",
    "FAULT_KINDS",
    "BatchEnding",
    "BatchFault",
    "Fault",
    "LocalServer",
    "RecordedRequest",
    "Rule",
    "Script",
    "main",
]

if __name__ == "__main__":
    raise SystemExit(main())
