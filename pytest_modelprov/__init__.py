"""pytest-modelprov: model-behaviour regression and provenance tests for LLMs."""

from __future__ import annotations

from ._version import __version__
from .calls.response import Response, Samples, Usage
from .config import ModelSpec, Price, RecordMode
from .errors import (
    CacheCorruptError,
    CacheError,
    ConfigError,
    ModelCallError,
    ModelprovError,
    ReplayMissError,
)
from .handle import ModelHandle

__all__ = [
    "CacheCorruptError",
    "CacheError",
    "ConfigError",
    "ModelCallError",
    "ModelHandle",
    "ModelSpec",
    "ModelprovError",
    "Price",
    "RecordMode",
    "ReplayMissError",
    "Response",
    "Samples",
    "Usage",
    "__version__",
]
