"""``--modelprov-batch``: the plan's missing calls, through the provider's Batch API.

A plan pass (see planning.py) collects every call the selected tests would make and are
not cached. Here they are submitted per model with :func:`batch.fill`, which waits, stores
the answers and keeps the state of unfinished batches in ``<cache>/batches`` so that the
next run resumes them. Calls that follow an answer not recorded yet are left for the next
round (the plugin plans again once the answers are in). The tests run only when every
call has its answer: running them with some missing would call those at the full price,
which is the surprise the user chose batch mode to avoid.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ModelprovError
from ..session import ModelProvSession
from . import batch
from .batch import BatchProgress, FillReport
from .planning import Planner

#: rounds of plan-and-fill before giving up: a test whose every call depends on the one
#: before (a long conversation, a stop_early set of many looks) needs one round per step
MAX_ROUNDS = 10


def fill_round(
    mp: ModelProvSession,
    planner: Planner,
    report: FillReport,
    write: Callable[[str], None] | None = None,
    round_: int = 1,
) -> None:
    """Submit the planner's missing calls, model by model; the outcome goes to ``report``."""
    settings = mp.settings
    report.rounds = round_
    for spec, calls in planner.missing_calls():
        plan = planner.models[spec.name]
        progress = _Printer(f"modelprov {spec.name} ({spec.model})", write)
        # the batch price of what is submitted now (not of the calls left for later rounds)
        whole = plan.cost(batch=True) or 0.0
        estimate = whole * len(calls) / plan.misses if plan.misses else 0.0
        try:
            mp.spending.reserve(spec, len(calls), cost=estimate, whole=True)
        except ModelprovError as exc:
            report.lines.append(str(exc))
            report.complete = False
            continue
        spent = 0.0
        try:
            outcome = batch.fill(
                mp.client(spec).sdk(),
                spec,
                calls,
                mp.cache,
                run_id=mp.run_id,
                state_dir=settings.cache_dir / "batches",
                poll_interval=settings.batch_poll,
                timeout=settings.batch_wait,
                progress=progress,
            )
        except ModelprovError as exc:
            report.lines.append(str(exc))
            report.complete = False
            continue
        finally:
            mp.spending.settle(spec, estimate, spent)
        cost = outcome.cost(spec.price)
        mp.spending.settle(spec, 0.0, cost or 0.0)
        mp.ledger.record_batch(
            spec.name,
            spec.model,
            spec.display_url,
            answers=outcome.filled,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            cost=cost,
        )
        prefix = f"round {round_}: " if round_ > 1 else ""
        report.lines.append(prefix + outcome.summary())
        report.submitted += outcome.submitted
        report.filled += outcome.filled
        report.complete = report.complete and outcome.complete


class _Printer:
    """Prints a batch's polls when something changed: a line per change, not per poll."""

    def __init__(self, prefix: str, write: Callable[[str], None] | None) -> None:
        self.prefix = prefix
        self.write = write
        self.last: tuple[str, int, int] | None = None

    def __call__(self, state: BatchProgress) -> None:
        key = (state.status, state.completed, state.failed)
        if self.write is not None and key != self.last:
            self.last = key
            self.write(f"{self.prefix}: {state}")
