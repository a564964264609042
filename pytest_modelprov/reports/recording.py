"""Where a measurement goes when no model handle carries it.

A fingerprint built with ``Fingerprint.from_texts`` (answers a team already has) has no
handle to record through; the plugin points this at the running test, so comparisons of such
fingerprints still reach the summary table and the reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .measurement import Measurement

Recorder = Callable[[Measurement], None]

# a plain module global rather than a ContextVar: a test may compare fingerprints in a
# thread of its own, and pytest runs one test at a time per process
_current: Recorder | None = None


def current() -> Recorder | None:
    """The running test's recorder, or None outside a test run by the plugin."""
    return _current


@contextmanager
def recording(recorder: Recorder) -> Iterator[None]:
    global _current
    previous, _current = _current, recorder
    try:
        yield
    finally:
        _current = previous
