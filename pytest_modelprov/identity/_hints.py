"""Classes that public annotations of identity name but that load on first use: the claim
detector and the vendor table (:mod:`.detect`, :mod:`.vendors`, with fastre behind them).

An annotation written ``_hints.Detector`` is what mypy reads as the class, and what
``typing.get_type_hints`` (pydantic, typeguard, documentation tools) resolves through this
module's ``__getattr__``, which imports the class then: importing the module that annotates
with it loads none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .detect import Detector as Detector
    from .vendors import VendorTable as VendorTable

_HOME = {"Detector": ".detect", "VendorTable": ".vendors"}


if not TYPE_CHECKING:  # mypy would type every unknown name as Any (a typo would pass)

    def __getattr__(name: str) -> Any:
        home = _HOME.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home, __package__), name)
