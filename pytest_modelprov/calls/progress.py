"""The progress line of a long cold run: calls done of total, cached, errors, rate, ETA.

Only the formatting and the throttling live here; the plugin decides whether there is a
terminal to draw on (not under ``-q``, not when output is piped, never in an xdist
worker) and how to draw without breaking pytest's own line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: a batch of calls quicker than this never shows a line: warm runs stay silent
SHOW_AFTER = 0.5
REDRAW_EVERY = 0.2


@dataclass(frozen=True)
class CallProgress:
    """The state of one sample() call's model calls while they run."""

    name: str
    model: str
    done: int  # calls finished (answered or failed) of total
    total: int  # calls to make: the misses of this sample() call
    hits: int  # answers of the same call that came from the cache
    errors: int
    elapsed: float
    finished: bool

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        if self.done == 0 or self.rate == 0:
            return None
        return (self.total - self.done) / self.rate


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def render(state: CallProgress) -> str:
    parts = [
        f"modelprov {state.model}: {state.done}/{state.total} calls",
        f"{state.hits} cached",
        f"{state.errors} error{'s' * (state.errors != 1)}",
        f"{state.rate:.1f}/s",
    ]
    if state.finished:
        parts.append(f"done in {duration(state.elapsed)}")
    else:
        eta = state.eta
        parts.append(f"ETA {duration(eta)}" if eta is not None else "ETA -")
    return " · ".join(parts)


class ProgressLine:
    """Throttles states into redraws of one line; ``draw(text, final)`` does the drawing."""

    def __init__(
        self,
        draw: Callable[[str, bool], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._draw = draw
        self._clock = clock
        self._lock = threading.Lock()
        self._last = -1.0
        self._shown = False

    def __call__(self, state: CallProgress) -> None:
        with self._lock:
            if state.elapsed < SHOW_AFTER and not self._shown:
                return  # quick enough that a line would only flicker
            now = self._clock()
            if state.finished:
                self._draw(render(state), True)
                self._shown = False
                self._last = -1.0
                return
            if now - self._last < REDRAW_EVERY:
                return
            self._last = now
            self._shown = True
            self._draw(render(state), False)
