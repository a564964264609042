"""Pacing calls below a provider's rate limits, and backing off together on 429.

Providers limit requests and tokens per minute per model, and enforce it over much
shorter windows than a minute: a burst of 500 requests at the top of the minute is
refused even under a 600 RPM limit. So each limit is a token bucket that holds one
second's worth and refills at the limit's rate; a call takes one request and its
estimated tokens, and waits until both buckets have them. The estimate is corrected by
the answer's real usage afterwards (a later call pays the difference).

When a 429 comes anyway (other clients share the key, the limits in the config are too
high), every thread pauses until the server's Retry-After, not just the one that got it,
and the paced rate is halved; it grows back by a tenth after every 10 answers in a row.
That is the adaptive part: with no limits configured, a 429 still pauses everyone.
With a :class:`SharedPause` (one file per model in the cache directory) the pause and the
slower pace reach the other processes too: pytest-xdist workers share one key's limits.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_FACTOR = 1 / 16
#: the longest back-off the client sleeps between attempts when the server names no wait
MAX_BACKOFF = 30.0
#: clock differences between machines sharing a cache that a published pause may carry
PAUSE_SLACK = 5.0
RECOVERY_STREAK = 10
DEFAULT_COMPLETION_TOKENS = 512


def estimate_tokens(text: str) -> int:
    """A rough token count, without a tokenizer: CJK about one token per character,
    other scripts about four bytes per token (what OpenAI's guidance gives for English)."""
    wide = sum(1 for ch in text if ord(ch) >= 0x2E80)
    narrow = len(text.encode("utf-8", "surrogatepass")) - 3 * wide
    return wide + (max(0, narrow) + 3) // 4


def estimate_prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    total = 3  # the reply's priming
    for message in messages:
        total += 4  # role and separators
        content = message.get("content")
        if isinstance(content, str):
            total += estimate_tokens(content)
        elif isinstance(content, list):
            total += sum(
                estimate_tokens(str(p.get("text", ""))) for p in content if isinstance(p, Mapping)
            )
    return total


def completion_budget(params: Mapping[str, Any]) -> int | None:
    """The largest completion the request allows, when it says."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass
class PacerStats:
    waited: float = 0.0  # seconds calls spent waiting for the limits or a 429 pause
    throttled: int = 0  # 429 answers received
    paused: float = 0.0  # seconds of shared pause after 429s


class SharedPause:
    """The end (wall-clock time) of the latest 429 pause of one model, in a small file, so
    every process calling the model sees it: xdist workers share the provider's limits.

    The file is scratch state: unreadable or missing means "no pause", and a write that
    fails is skipped (each process still pauses itself).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._until = 0.0

    def read(self) -> float:
        try:
            st = os.stat(self.path)
        except OSError:
            return 0.0
        # os.replace gives every write a new inode: equal size and time cannot hide a change
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:  # a stat per call; the file is read only when it changed
            self._stamp = stamp
            try:
                self._until = float(self.path.read_text(encoding="ascii"))
            except (OSError, ValueError):
                self._until = 0.0
        return self._until

    def publish(self, until: float) -> None:
        if until <= self.read():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            # read, compare and replace under one lock: a shorter pause published by another
            # process must not overwrite a longer one
            fcntl.flock(lock, fcntl.LOCK_EX)
            if until > self.read():
                self._write(until)
        except OSError:
            pass
        finally:
            os.close(lock)

    def _write(self, until: float) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".pause-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(repr(until))
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise


class Pacer:
    """Rate limits of one model at one endpoint, shared by every thread that calls it."""

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        shared: SharedPause | None = None,
        wall: Callable[[], float] = time.time,
        max_pause: float | None = None,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.rpm = rpm
        self._max_pause = max_pause
        self._note = note
        self.tpm = tpm
        self._clock = clock
        self._sleep = sleep
        self._shared = shared
        self._wall = wall
        # the latest shared pause end already applied here (own 429s included); one still
        # running from an earlier run is honoured: the provider is still refusing
        self._seen = 0.0
        self._lock = threading.Lock()
        self._factor = 1.0
        self._streak = 0
        now = clock()
        self._last = now
        # start full: the first second's worth may go at once, as the provider allows
        self._requests = self._request_capacity
        self._tokens = self._token_capacity
        self._pause_until = now
        self.stats = PacerStats()
        self._completion_sum = 0
        self._completion_count = 0

    @property
    def _request_capacity(self) -> float:
        return max(1.0, self.rpm / 60) if self.rpm else 0.0

    @property
    def _token_capacity(self) -> float:
        return max(1.0, self.tpm / 60) if self.tpm else 0.0

    @property
    def factor(self) -> float:
        """The share of the configured rate in use (below 1 after 429s)."""
        with self._lock:
            return self._factor

    def expected_completion(self, params: Mapping[str, Any]) -> int:
        """Completion tokens to reserve: the mean seen so far, capped by max_tokens."""
        cap = completion_budget(params)
        with self._lock:
            seen = self._completion_sum / self._completion_count if self._completion_count else None
        guess = int(seen) if seen is not None else DEFAULT_COMPLETION_TOKENS
        return min(guess, cap) if cap is not None else guess

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last)
        self._last = now
        if self.rpm:
            rate = self.rpm / 60 * self._factor
            self._requests = min(self._request_capacity, self._requests + elapsed * rate)
        if self.tpm:
            rate = self.tpm / 60 * self._factor
            self._tokens = min(self._token_capacity, self._tokens + elapsed * rate)

    def acquire(self, tokens: int) -> float:
        """Wait until one request of about ``tokens`` tokens may go; seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if self._shared is not None:
                    self._follow(now)
                wait = self._pause_until - now
                if wait <= 0 and self.rpm and self._requests < 1:
                    wait = (1 - self._requests) / (self.rpm / 60 * self._factor)
                if wait <= 0 and self.tpm:
                    # a call larger than the bucket goes once the bucket is full, in debt
                    need = min(float(tokens), self._token_capacity)
                    if self._tokens < need:
                        wait = (need - self._tokens) / (self.tpm / 60 * self._factor)
                if wait <= 0:
                    if self.rpm:
                        self._requests -= 1
                    if self.tpm:
                        self._tokens -= tokens
                    self.stats.waited += waited
                    return waited
            wait = min(wait, 5.0)  # wake to re-check: a 429 pause may have been extended
            self._sleep(wait)
            waited += wait

    def settle(self, estimated: int, prompt_tokens: int, completion_tokens: int) -> None:
        """Correct the reservation of a finished call with the usage it reported."""
        with self._lock:
            if completion_tokens > 0:
                self._completion_sum += completion_tokens
                self._completion_count += 1
            actual = prompt_tokens + completion_tokens
            if self.tpm and actual > 0:
                self._tokens -= actual - estimated
            self._streak += 1
            if self._streak >= RECOVERY_STREAK and self._factor < 1.0:
                self._factor = min(1.0, self._factor + 0.1)
                self._streak = 0

    def release(self, estimated: int) -> None:
        """Give back a reservation whose call was never answered (a failure, not a 429)."""
        with self._lock:
            if self.tpm:
                self._tokens = min(self._token_capacity, self._tokens + estimated)

    def throttled(self, pause: float) -> None:
        """A 429 arrived: pause every caller for ``pause`` seconds and slow the pace."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self.stats.throttled += 1
            self._back_off(now, now + max(0.0, pause))
            if self._shared is not None:
                end = self._wall() + max(0.0, pause)
                # a later pause already taken from another process stays taken
                self._seen = max(self._seen, end)
                self._shared.publish(end)

    def _follow(self, now: float) -> None:
        """Apply a pause another process published since the last look (lock held)."""
        assert self._shared is not None
        until = self._shared.read()
        if until > self._seen:
            self._seen = until
            remaining = until - self._wall()
            if self._max_pause is not None and remaining > self._max_pause:
                if self._note is not None and self._shared is not None:
                    self._note(
                        f"ignored the shared pause in {self._shared.path}: it ends "
                        f"{remaining:.0f} s from now, longer than any pause this package "
                        f"publishes ({self._max_pause:g} s); the clocks of the machines "
                        "sharing the cache differ, or the file was edited"
                    )
                return
            if remaining > 0:
                # 429s of several workers in one burst are one overload: within a pause
                # already running here the pause grows, the pace is not halved again
                self._back_off(now, now + remaining, slow=now >= self._pause_until)

    def _back_off(self, now: float, until: float, *, slow: bool = True) -> None:
        if until > self._pause_until:
            self.stats.paused += until - max(now, self._pause_until)
            self._pause_until = until
        if not slow:
            return
        self._factor = max(MIN_FACTOR, self._factor / 2)
        self._streak = 0
        # what was saved up would go out as a burst right after the pause
        self._requests = min(self._requests, 0.0)
        self._tokens = min(self._tokens, 0.0)


def worker_share(environ: Mapping[str, str]) -> int:
    """How many processes share the limits: pytest-xdist workers each pace at 1/N."""
    try:
        return max(1, int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1
