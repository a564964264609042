"""Packages that import their parts on first use (PEP 562), one way for every detector.

A warm run replays stored results and needs little of a detector's code, and importing all of
it at ``from pytest_modelprov import refusal`` cost tens of milliseconds on every run. A
package whose ``__getattr__`` and ``__dir__`` come from :func:`lazy_exports` behaves as if it
had imported everything: each public name resolves from its home module on first use, every
submodule is reachable as an attribute (``refusal.classifiers`` without importing it first),
and ``dir()`` lists both (the public submodules).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose names live in ``homes``.

    ``homes`` maps a public name to the relative module that defines it (``".sampling"``).
    """
    namespace = sys.modules[package].__dict__

    def submodules() -> set[str]:
        import pkgutil  # only dir() needs it, and no pytest run imports it otherwise

        return {
            info.name
            for info in pkgutil.iter_modules(namespace["__path__"])
            if not info.name.startswith("_")
        }

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home, package), name)
            # bound once: later reads are plain attribute lookups, not calls to this hook
            namespace[name] = value
            return value
        # dunder lookups (copy, inspect, pickle probing) must not import anything, nor a
        # dotted name import a module deeper down
        if (
            name.isidentifier()
            and not name.startswith("__")
            and importlib.util.find_spec(f"{package}.{name}") is not None
        ):
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes, *submodules()})

    return __getattr__, __dir__
