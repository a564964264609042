"""Counts of what a run did with each model, mergeable across xdist workers."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..config import Price
from .response import Response, Usage


@dataclass
class ModelTally:
    model: str = ""
    endpoint: str = ""
    calls: int = 0  # HTTP requests that produced an answer
    hits: int = 0  # answers served from the cache
    uncached: int = 0  # answers returned but not stored (empty, content filter)
    errors: int = 0  # calls that failed after their retries
    retries: int = 0
    throttled: int = 0  # 429 answers: every caller of the model paused after each
    batched: int = 0  # answers stored by a --modelprov-batch fill
    paced: float = 0.0  # seconds calls waited to stay under the rpm/tpm limits or a 429 pause
    prompt_tokens: int = 0  # spent on calls made
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    replayed_tokens: int = 0  # in cache hits: what the cache saved
    cost: float = 0.0
    saved_cost: float = 0.0
    priced: bool = False
    resolved: dict[str, int] = field(default_factory=dict)  # resolved model id -> answers

    def merge(self, other: Mapping[str, Any]) -> None:
        for f in fields(self):
            value = other.get(f.name)
            if value is None:
                continue
            if f.name in ("model", "endpoint"):
                setattr(self, f.name, getattr(self, f.name) or value)
            elif f.name == "priced":
                self.priced = self.priced or bool(value)
            elif f.name == "resolved":
                for key, count in value.items():
                    self.resolved[key] = self.resolved.get(key, 0) + int(count)
            else:
                setattr(self, f.name, getattr(self, f.name) + value)


class Ledger:
    """Thread-safe tallies per model name, plus whether any model was used at all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.tallies: dict[str, ModelTally] = {}
        self.warnings: list[str] = []

    @property
    def used(self) -> bool:
        return bool(self.tallies)

    def _tally(self, name: str, model: str, endpoint: str) -> ModelTally:
        tally = self.tallies.get(name)
        if tally is None:
            tally = self.tallies[name] = ModelTally(model=model, endpoint=endpoint)
        return tally

    def touch(self, name: str, model: str, endpoint: str) -> None:
        with self._lock:
            self._tally(name, model, endpoint)

    def record_call(
        self,
        name: str,
        model: str,
        endpoint: str,
        *,
        usage: Usage,
        resolved: str | None,
        stored: bool,
        price: Price | None,
    ) -> None:
        """Tally one answer that came from a model call (hits go through record_many)."""
        with self._lock:
            tally = self._tally(name, model, endpoint)
            tally.priced = tally.priced or price is not None
            tally.calls += 1
            tally.uncached += not stored
            tally.prompt_tokens += usage.prompt_tokens
            tally.completion_tokens += usage.completion_tokens
            tally.reasoning_tokens += usage.reasoning_tokens
            if price is not None:
                tally.cost += price.cost(usage.prompt_tokens, usage.completion_tokens)
            if resolved:
                tally.resolved[resolved] = tally.resolved.get(resolved, 0) + 1

    def record_many(
        self,
        name: str,
        model: str,
        endpoint: str,
        hits: Sequence[Response],
        *,
        price: Price | None,
    ) -> None:
        """Tally answers served from the cache."""
        prompt = sum(r.usage.prompt_tokens for r in hits)
        completion = sum(r.usage.completion_tokens for r in hits)
        with self._lock:
            tally = self._tally(name, model, endpoint)
            tally.priced = tally.priced or price is not None
            tally.hits += len(hits)
            tally.replayed_tokens += prompt + completion
            if price is not None:
                tally.saved_cost += price.cost(prompt, completion)
            for r in hits:
                if r.model:
                    tally.resolved[r.model] = tally.resolved.get(r.model, 0) + 1

    def record_batch(
        self,
        name: str,
        model: str,
        endpoint: str,
        *,
        answers: int,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float | None,
    ) -> None:
        """Tally answers a Batch API fill stored: spent (at the batch price), not saved."""
        with self._lock:
            tally = self._tally(name, model, endpoint)
            tally.batched += answers
            tally.prompt_tokens += prompt_tokens
            tally.completion_tokens += completion_tokens
            if cost is not None:
                tally.priced = True
                tally.cost += cost

    def add(self, name: str, model: str, endpoint: str, **counts: float) -> None:
        with self._lock:
            tally = self._tally(name, model, endpoint)
            for key, value in counts.items():
                setattr(tally, key, getattr(tally, key) + value)

    def warn(self, message: str) -> None:
        with self._lock:
            if message not in self.warnings:
                self.warnings.append(message)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "tallies": {name: asdict(t) for name, t in self.tallies.items()},
                "warnings": list(self.warnings),
            }

    def merge(self, data: Mapping[str, Any]) -> None:
        with self._lock:
            for name, tally in data.get("tallies", {}).items():
                self._tally(name, tally.get("model", ""), tally.get("endpoint", "")).merge(tally)
            for message in data.get("warnings", []):
                if message not in self.warnings:
                    self.warnings.append(message)
