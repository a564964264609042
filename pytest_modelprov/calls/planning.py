"""The dry run: every call the selected tests would make, and what it would cost.

In a ``--modelprov-plan`` run each test body runs with clients that look everything up in
the cache but call nothing: a miss is noted here and answered with an empty placeholder,
so the test goes on to its next sample() call. The test's own verdict is meaningless and
is not reported. Calls that depend on the text of an answer that is not recorded yet (a
follow-up built from a reply) are planned from the placeholder, so their count is right
but their prompts are not; the plan says how many tests made such calls.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..config import ModelSpec
from .keys import CacheKey
from .pacing import DEFAULT_COMPLETION_TOKENS, completion_budget, estimate_prompt_tokens


class Call(NamedTuple):
    """One planned request: a prompt's replicate, with its cache key.

    A NamedTuple, not a frozen dataclass: a warm run plans thousands of these, and the
    dataclass ``__init__`` alone cost more than the cache lookup it leads to.
    """

    key: CacheKey
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    prompt_index: int
    replicate: int
    n: int
    messages_tuple: tuple[Mapping[str, Any], ...] = ()


@dataclass
class ModelPlan:
    spec: ModelSpec
    calls: int = 0
    hits: int = 0
    prompt_tokens: int = 0  # estimated, of the misses
    completion_tokens: int = 0  # estimated, of the misses
    completion_assumed: int = 0  # misses whose completion size is a guess
    hit_completion_tokens: int = 0  # recorded usage of the hits: the best guess of size
    hit_completions: int = 0
    missing: dict[str, Call] = field(default_factory=dict)  # by key: what a batch submits
    # misses of a test after it got a placeholder: their prompts or their number may
    # depend on that answer, so they are estimated but never submitted
    speculative: dict[str, Call] = field(default_factory=dict)

    @property
    def misses(self) -> int:
        return len(self.missing) + len(self.speculative)

    def cost(self, *, batch: bool = False) -> float | None:
        if self.spec.price is None:
            return None
        full = self.spec.price.cost(self.prompt_tokens, self.completion_tokens)
        return full / 2 if batch else full


class Planner:
    """Collects, per configured model, the calls a dry run would make."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.models: dict[str, ModelPlan] = {}
        self.tests: set[str] = set()
        self.waiting: set[str] = set()  # tests that got a placeholder answer
        self.speculative_tests: set[str] = set()

    def note(
        self, spec: ModelSpec, calls: Sequence[Call], missing: Sequence[int], nodeid: str
    ) -> None:
        with self._lock:
            plan = self.models.setdefault(spec.name, ModelPlan(spec))
            plan.calls += len(calls)
            plan.hits += len(calls) - len(missing)
            if not missing:
                return
            self.tests.add(nodeid)
            target = plan.speculative if nodeid in self.waiting else plan.missing
            if nodeid in self.waiting:
                self.speculative_tests.add(nodeid)
            self.waiting.add(nodeid)
            for i in missing:
                call = calls[i]
                if call.key.digest in plan.missing or call.key.digest in plan.speculative:
                    continue  # the same request twice in a run is recorded once
                target[call.key.digest] = call
                plan.prompt_tokens += estimate_prompt_tokens(call.messages)
                cap = completion_budget(call.params)
                if cap is not None:
                    plan.completion_tokens += cap
                else:
                    plan.completion_assumed += 1

    def note_hit_usage(self, spec: ModelSpec, completion_tokens: int, answers: int) -> None:
        with self._lock:
            plan = self.models.setdefault(spec.name, ModelPlan(spec))
            plan.hit_completion_tokens += completion_tokens
            plan.hit_completions += answers

    def finish(self) -> None:
        """Price the misses whose completion size is unknown: as the recorded answers of the
        same model, else a default."""
        with self._lock:
            for plan in self.models.values():
                if not plan.completion_assumed:
                    continue
                mean = (
                    plan.hit_completion_tokens / plan.hit_completions
                    if plan.hit_completions
                    else DEFAULT_COMPLETION_TOKENS
                )
                plan.completion_tokens += round(mean * plan.completion_assumed)

    def lines(self) -> list[str]:
        """The plan as a table, for the terminal."""
        header = (
            "model", "calls", "cached", "to call", "est. in tok", "est. out tok", "est. cost",
            "batch",
        )  # fmt: skip
        rows = [header]
        total_cost = 0.0
        priced_all = True
        for name in sorted(self.models):
            plan = self.models[name]
            cost, batch = plan.cost(), plan.cost(batch=True)
            if cost is None:
                priced_all = priced_all and plan.misses == 0
            else:
                total_cost += cost
            guess = "~" if plan.completion_assumed else ""
            rows.append(
                (
                    f"{name} ({plan.spec.model})", str(plan.calls), str(plan.hits),
                    str(plan.misses), str(plan.prompt_tokens),
                    guess + str(plan.completion_tokens), _usd(cost), _usd(batch),
                )
            )  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        misses = sum(p.misses for p in self.models.values())
        lines.append(
            f"{misses} call{'s' * (misses != 1)} to make in {len(self.tests)} "
            f"test{'s' * (len(self.tests) != 1)}; estimated cost {_usd(total_cost)}"
            + ("" if priced_all else " (models without a price are not counted)")
            + "; nothing was called."
        )
        speculative = sum(len(p.speculative) for p in self.models.values())
        if speculative:
            lines.append(
                f"{speculative} of them come after an answer that is not recorded yet (in "
                f"{len(self.speculative_tests)} tests): their number and prompts are estimated "
                "from an empty placeholder answer; a batch fill submits them in a later round."
            )
        if any(p.completion_assumed for p in self.models.values()):
            lines.append(
                "~ output tokens of calls without max_tokens are estimated from the recorded "
                f"answers of the same model (or {DEFAULT_COMPLETION_TOKENS} each when none is "
                "recorded)."
            )
        lines.append(
            "Token counts are estimates (about 4 bytes a token, 1 per CJK character); a "
            "--modelprov-batch run costs about half (the batch column)."
        )
        return lines

    def missing_calls(self) -> list[tuple[ModelSpec, list[Call]]]:
        with self._lock:
            return [
                (plan.spec, list(plan.missing.values()))
                for _, plan in sorted(self.models.items())
                if plan.missing
            ]


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}" if value >= 0.01 or not value else "<$0.01"
