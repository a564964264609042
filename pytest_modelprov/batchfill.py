"""``--modelprov-batch``: the plan's missing calls, through the provider's Batch API.

The plan pass (see planning.py) has collected every call the selected tests would make
and are not cached. Here they are submitted per model with :func:`batch.fill`, which
waits, stores the answers and keeps the state of unfinished batches in
``<cache>/batches`` so that the next run resumes them. The tests run afterwards only when
every call has its answer: running them with some missing would call those at the full
price, which is the surprise the user chose batch mode to avoid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import batch
from .batch import BatchProgress
from .errors import ModelprovError
from .session import ModelProvSession


@dataclass
class FillReport:
    lines: list[str] = field(default_factory=list)
    complete: bool = True
    submitted: int = 0
    filled: int = 0


def fill_missing(mp: ModelProvSession, write: Callable[[str], None] | None = None) -> FillReport:
    report = FillReport()
    planner = mp.last_plan
    if planner is None:
        return report
    settings = mp.settings
    missing = planner.missing_calls()
    if not missing:
        report.lines.append(
            "modelprov batch: every call the tests make is cached; nothing to submit."
        )
        return report
    for spec, calls in missing:
        progress = _Printer(f"modelprov {spec.name} ({spec.model})", write)
        try:
            mp.spending.reserve(spec, len(calls))
            client = mp.client(spec)
            outcome = batch.fill(
                client.sdk(),
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
        report.lines.append(outcome.summary())
        report.submitted += outcome.submitted
        report.filled += outcome.filled
        mp.ledger.add(spec.name, spec.model, spec.display_url, batched=outcome.filled)
        report.complete = report.complete and outcome.complete
    if not report.complete:
        report.lines.append(
            "modelprov batch: not every call has its answer yet, so the tests did not run "
            "(they would call the missing ones at the full price). Run the same command "
            "again: it resumes the batches still running and resubmits what failed."
        )
    return report


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
