"""Test helpers: a scripted OpenAI-compatible server on loopback, for your own tests.

``LocalServer`` serves chat completions (and the Batch and Files APIs) from a ``Script`` of
``Rule`` s, with injectable ``Fault`` s, so a suite runs against real HTTP through the real
``openai`` SDK without network or keys. The plugin's ``modelprov_server`` fixture gives a
started one. The documented path ``pytest_modelprov.server`` keeps working.
"""

from __future__ import annotations

from .script import (
    BATCH_FAULT_KINDS,
    FAULT_KINDS,
    BatchEnding,
    BatchFault,
    Fault,
    RecordedRequest,
    Rule,
    Script,
)
from .server import LocalServer

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
]
