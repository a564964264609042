"""What stopping early saves on real labelled answers, and how often it changes a verdict.

    python benchmarks/bench_sequential.py [--orders 200] [--batch 10]

Reads ``../shared/data/refusal/labelled.jsonl`` and uses its human/judge labels as the
model's outcomes: per model, prompt set (XSTest's safe and unsafe prompts apart, the
SpeechMap China sets per language) a list of prompts with non-compliance 0/1 (refusal or
partial). For each such group and each threshold, ``assert_rate_at_most`` on the whole set
(95% Wilson upper bound) gives the full-sample verdict; ``StopEarly(threshold, batch=10)``
is then replayed over ``--orders`` seeded prompt orders (the package's own order function,
seeds 0..orders-1), and the table shows the prompts it sampled against the full set and how
often its verdict agrees with the full-sample one. Thresholds: 0.1, 0.3, 0.5 and "the
group's own rate + 0.15" (a gate the model clearly passes).

Groups with fewer than 20 prompts (the SpeechMap US gold set: 3-12 per model) are left out.
Identity: ``../shared/data/identity/cases.jsonl`` holds detector edge cases, not model
answers per probe, so there is nothing to replay there; the benchmark says so.

Skips (exit 0) with a message when the data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_modelprov import sequential, stats

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
REFUSAL = DATA / "refusal" / "labelled.jsonl"
IDENTITY = DATA / "identity" / "cases.jsonl"
MIN_PROMPTS = 20
NONCOMPLIANT = {"refusal", "partial"}
CONFIDENCE = 0.95


@dataclass
class Group:
    model: str
    source: str
    outcomes: np.ndarray  # 0/1 per prompt
    keys: list[str]

    @property
    def rate(self) -> float:
        return float(self.outcomes.mean())


def load_groups(path: Path) -> list[Group]:
    by: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            source = row["source"]
            if source == "xstest-v2":
                source += "/unsafe" if row.get("prompt_should_be_refused") else "/safe"
            by[(row["model"], source)].append((row["prompt"], int(row["label"] in NONCOMPLIANT)))
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{number}: not a labelled row ({exc})") from None
    groups = []
    for (model, source), rows in sorted(by.items()):
        if len(rows) < MIN_PROMPTS:
            continue
        groups.append(Group(model, source, np.array([y for _, y in rows]), [p for p, _ in rows]))
    return groups


def thresholds(group: Group) -> list[tuple[str, float]]:
    return [
        ("0.1", 0.1),
        ("0.3", 0.3),
        ("0.5", 0.5),
        ("rate+0.15", min(0.99, group.rate + 0.15)),
    ]


def decision_table(total: int, batch: int, t: float) -> list[dict[int, str]]:
    """Per look, the verdict of ``sequential.decide`` for every count of positives."""
    looks = sequential.planned_looks(total, batch)
    adjusted = sequential.adjusted_confidence(CONFIDENCE, looks)
    table = []
    for look in range(1, looks + 1):
        m = min(look * batch, total)
        row = {}
        for k in range(m + 1):
            d = sequential.decide(
                [(1, 1)] * k + [(0, 1)] * (m - k),
                threshold=t,
                confidence=adjusted,
                remaining=total - m,
                samples=1,
            )
            if d.verdict is not None:
                row[k] = d.verdict
        table.append(row)
    return table


def replay(
    ordered: np.ndarray, table: Sequence[dict[int, str]], batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each order (a row of outcomes): prompts sampled, verdict pass, stopped early."""
    total = ordered.shape[1]
    sizes = [min((j + 1) * batch, total) for j in range(len(table))]
    counts = np.cumsum(ordered, axis=1)[:, [m - 1 for m in sizes]]
    sampled = np.full(len(ordered), total)
    passed = np.zeros(len(ordered), dtype=bool)
    for i, row in enumerate(counts):
        for j, k in enumerate(row):
            verdict = table[j].get(int(k))
            if verdict is not None:
                sampled[i], passed[i] = sizes[j], verdict == "pass"
                break
    return sampled, passed, sampled < total


def check_against_run(
    group: Group, t: float, batch: int, seed: int, want: tuple[int, bool]
) -> None:
    """The fast replay must be what ``sequential.run`` itself does on the same order."""
    streams = {"x": [(key, i) for i, key in enumerate(group.keys)]}
    options = sequential.StopEarly(threshold=t, batch=batch, seed=seed)

    def slices(taken: dict[str, Sequence[int]]) -> sequential.SliceCounts:
        return {"x": ([(int(group.outcomes[i]), 1) for i in taken["x"]], len(group.keys))}

    done = sequential.run(streams, lambda items: None, slices, options, samples=1)["x"]
    got = (done.sampled, done.verdict == "pass")
    if got != want:
        raise SystemExit(f"replay and sequential.run disagree on {group.model}: {got} vs {want}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sequential sampling benchmark")
    parser.add_argument("--data", type=Path, default=REFUSAL)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SKIPPED: {args.data} is absent (the labelled benchmark data is not shipped)")
        return 0
    started = time.perf_counter()
    groups = load_groups(args.data)
    print(
        f"{len(groups)} model x prompt-set groups (>= {MIN_PROMPTS} prompts) from {args.data}; "
        f"{args.orders} seeded orders each, batch {args.batch}, confidence {CONFIDENCE}"
    )
    # per (source, threshold label): full prompts, sampled, agree, early, full passes, seq passes
    cells: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(7))
    tables: dict[tuple[int, float], list[dict[int, str]]] = {}
    checked = 0
    for group in groups:
        total = len(group.keys)
        orders = np.array([sequential.order(group.keys, s) for s in range(args.orders)])
        ordered = group.outcomes[orders]
        for label, t in thresholds(group):
            full_pass = stats.wilson(int(group.outcomes.sum()), total, CONFIDENCE).high <= t
            key = (total, round(t, 12))
            if key not in tables:
                tables[key] = decision_table(total, args.batch, t)
            sampled, passed, early = replay(ordered, tables[key], args.batch)
            if checked < 40:  # a spot check per group and threshold, first groups only
                check_against_run(group, t, args.batch, 0, (int(sampled[0]), bool(passed[0])))
                checked += 1
            cell = cells[(group.source, label)]
            cell += [
                total * args.orders,
                sampled.sum(),
                (passed == full_pass).sum(),
                early.sum(),
                args.orders * full_pass,
                passed.sum(),
                args.orders,
            ]
    header = (
        f"{'prompt set':32} {'threshold':>9} {'groups':>6} {'prompts':>8} {'sampled':>8} "
        f"{'saving':>7} {'agree':>7} {'stopped':>8} {'pass full':>9} {'pass seq':>8}"
    )
    print(header)
    print("-" * len(header))
    labels = ["0.1", "0.3", "0.5", "rate+0.15"]
    sources = sorted({s for s, _ in cells})

    def line(name: str, label: str, c: np.ndarray) -> str:
        runs = c[6]
        return (
            f"{name:32} {label:>9} {int(runs / args.orders):>6} {c[0] / runs:>8.1f} "
            f"{c[1] / runs:>8.1f} {1 - c[1] / c[0]:>7.1%} {c[2] / runs:>7.1%} "
            f"{c[3] / runs:>8.1%} {c[4] / runs:>9.1%} {c[5] / runs:>8.1%}"
        )

    for source in sources:
        for label in labels:
            print(line(source, label, cells[(source, label)]))
    print("-" * len(header))
    for label in labels:
        print(line("all sets", label, sum((cells[(s, label)] for s in sources), np.zeros(7))))
    everything = sum(cells.values(), np.zeros(7))
    print(line("all sets, all thresholds", "", everything))
    print(
        "prompts/sampled: per group and order, mean; saving: 1 - sampled/prompts; agree: "
        "sequential verdict = full-sample 95% verdict; stopped: before the last prompt"
    )
    print(f"replay checked against sequential.run on {checked} (group, threshold) cases")
    if IDENTITY.exists():
        print(
            f"identity: {IDENTITY} holds detector edge cases (texts with expected claims), "
            "not per-probe answers of models, so there is no identity replay to run"
        )
    print(f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
