"""Spending limits of one run: requests and estimated cost, in all and per model.

The counts live in a small diskcache beside the responses (``<cache>/budget``) under the
run id, so the pytest-xdist workers of one run draw on one budget: ``incr`` is atomic
across processes. Entries expire after a week; nothing there is needed after the run.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Budget, ModelSpec
from ..errors import CacheError, ModelCallError

if TYPE_CHECKING:
    import diskcache

_EXPIRE = 7 * 24 * 3600
RUN = ""  # the scope of the whole run: no model name is empty
_MICRO = 1_000_000  # cost is counted in micro-dollars: diskcache's incr is for integers


class BudgetExceeded(ModelCallError):
    """A call was not made because the run's budget is spent."""


class Spending:
    """The budget of a run and what it has spent so far (across xdist workers)."""

    def __init__(self, budget: Budget, directory: Path, run_id: str) -> None:
        self.budget = budget
        self.directory = Path(directory)
        self.run_id = run_id
        self._store: diskcache.Cache | None = None
        self._lock = threading.Lock()

    def _open(self) -> diskcache.Cache:
        # here: only a run with a budget that calls a model counts
        from . import safedisk

        with self._lock:
            if self._store is None:
                try:
                    # the folder may be restored from another machine, like the responses
                    self._store = safedisk.open_cache(self.directory)
                except (OSError, sqlite3.Error) as exc:
                    raise CacheError(
                        f"modelprov: cannot open the budget counters in {self.directory}: "
                        f"{exc}; the cache directory must be writable to record answers"
                    ) from exc
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _incr(self, key: str, delta: int) -> int:
        store = self._open()
        store.add(key, 0, expire=_EXPIRE)
        try:
            # diskcache adds to the row's stored value as it is, whatever its mode says
            return self._count(key, store.incr(key, delta))
        except TypeError:
            raise self._unreadable(key) from None

    def _get(self, key: str) -> int:
        if not self.budget:
            return 0
        return self._count(key, self._open().get(key, 0))

    def _count(self, key: str, value: object) -> int:
        # the store is a file from elsewhere too: a counter this package wrote is an int
        if type(value) is not int:
            raise self._unreadable(key)
        return value

    def _unreadable(self, key: str) -> CacheError:
        return CacheError(
            f"modelprov: the budget counter {key!r} in {self.directory / 'cache.db'} is not "
            "a count this package wrote (the file was changed or copied from elsewhere), so "
            f"the spending of this run cannot be counted. Delete {self.directory}: it holds "
            "only the counts of runs, never a recorded answer."
        )

    def _scope(self, spec: ModelSpec) -> str:
        return "model" if spec.name == "model under test" else spec.name

    def _counter(self, where: str, what: str) -> str:
        # the whole run and each model have their own namespace: a reference may be "run"
        scope = "all" if where == RUN else f"model={where}"
        return f"{self.run_id}:{scope}:{what}"

    def _limits(self, spec: ModelSpec) -> list[tuple[str, int | None, float | None]]:
        scope = self._scope(spec)
        calls, cost = self.budget.for_model(scope)
        return [(RUN, self.budget.calls, self.budget.cost), (scope, calls, cost)]

    def reserve(
        self, spec: ModelSpec, count: int = 1, cost: float = 0.0, *, whole: bool = False
    ) -> None:
        """Count ``count`` requests to ``spec`` and their estimated ``cost`` in USD, or raise
        BudgetExceeded counting none.

        The estimate is held until :meth:`settle` replaces it by the real cost: calls in
        flight count against the limit, so many at once cannot all slip under it. A call may
        cross the limit (it is refused once the limit is reached); with ``whole`` (a batch,
        paid for at once) the estimate itself must fit.
        """
        if not self.budget:
            return
        micro = math.ceil(cost * _MICRO) if spec.price is not None else 0
        taken: list[tuple[str, int]] = []
        try:
            for where, calls, limit in self._limits(spec):
                if limit is not None and spec.price is not None:
                    # add first, then look: the increment is atomic across threads and
                    # processes, a read followed by an add is not
                    key = self._counter(where, "cost")
                    after = self._incr(key, micro)
                    taken.append((key, micro))
                    spent = (after - micro) / _MICRO
                    if spent >= limit or (whole and after / _MICRO > limit):
                        what = f"${spent:.4f} of ${limit:g}"
                        if whole:
                            what += f", ${micro / _MICRO:.4f} more needed"
                        raise self._exceeded(spec, where, what, "cost")
                if calls is not None:
                    key = self._counter(where, "calls")
                    used = self._incr(key, count)
                    taken.append((key, count))
                    if used > calls:
                        before = used - count
                        what = (
                            f"{before} of {calls} requests used, {count} more needed"
                            if count > 1
                            else f"{calls} of {calls} requests"
                        )
                        raise self._exceeded(spec, where, what, "calls")
        except BaseException:
            for key, amount in taken:  # the requests are not made: they must not count
                self._incr(key, -amount)
            raise

    def settle(self, spec: ModelSpec, reserved: float, spent: float) -> None:
        """Replace a reservation's estimated cost by what the call really cost (0 when it
        got no answer)."""
        if not self.budget or spec.price is None:
            return
        delta = math.ceil(spent * _MICRO) - math.ceil(reserved * _MICRO)
        if not delta:
            return
        for where, _, limit in self._limits(spec):
            if limit is not None:
                self._incr(self._counter(where, "cost"), delta)

    def status(self) -> list[str]:
        """One line per limit: what was spent of it."""
        if not self.budget:
            return []
        lines = []
        rows: list[tuple[str, int | None, float | None]] = [
            (RUN, self.budget.calls, self.budget.cost)
        ]
        rows += [(name, c, k) for name, (c, k) in sorted(self.budget.per_model.items())]
        for where, calls, cost in rows:
            label = "whole run" if where == RUN else where
            if calls is not None:
                used = self._get(self._counter(where, "calls"))
                lines.append(f"{label}: {used} of {calls} requests")
            if cost is not None:
                spent = self._get(self._counter(where, "cost")) / _MICRO
                lines.append(f"{label}: ${spent:.4f} of ${cost:g} (estimated from prices)")
        return lines

    def _exceeded(self, spec: ModelSpec, where: str, what: str, kind: str) -> BudgetExceeded:
        scope = "this run" if where == RUN else f"{where!r} in this run"
        item = f"{kind}=" if where == RUN else f"{where}.{kind}="
        return BudgetExceeded(
            f"modelprov: budget reached: {what} for {scope} (budget from "
            f"{self.budget.source}: {self.budget.describe()}). {spec.model} at "
            f"{spec.display_url} ({spec.name}) was not called. Every answer recorded so far "
            f"is in the cache, so a re-run replays them for free; raise the limit with "
            f"--modelprov-budget {item}..., or select fewer tests."
        )
