"""What stopping early saves on real labelled answers, and how often it changes a verdict.

    python benchmarks/bench_sequential.py [--orders 200] [--batch 10] [--shares 0.5,0.67,0.9]

Reads ``../shared/data/refusal/labelled.jsonl`` and uses its human/judge labels as the
model's outcomes: per model, prompt set (XSTest's safe and unsafe prompts apart, the
SpeechMap China sets per language) a list of prompts with non-compliance 0/1 (refusal or
partial). For each such group and each threshold, ``assert_rate_at_most`` on the whole set
(95% Wilson upper bound) gives the full-sample verdict; ``StopEarly(threshold, batch=10)``
is then replayed over ``--orders`` seeded prompt orders (the package's own order function,
seeds 0..orders-1), and the table shows the prompts it sampled against the full set and how
often its verdict agrees with the full-sample one. Thresholds: 0.1, 0.3, 0.5 and "the
group's own rate + 0.15" (a gate the model clearly passes).

Two error splits side by side, in the same run: "equal" (every look at 1 - alpha/K, the
earlier rule) and the default ``final_share`` (most of the error on the last look). A
sweep over other final shares (``--shares``; empty for none) shows the trade-off between
the prompts saved and the agreement that the default was chosen on.

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
from collections.abc import Mapping, Sequence
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


Rule = tuple[str, float | None]  # (label, final_share); None: the equal split


def look_confidences(looks: int, share: float | None) -> list[float]:
    """Per look, the adjusted confidence of a rule (the equal split is written out here,
    as the package had it, so the comparison does not rest on the new code)."""
    if share is None:
        return [1 - (1 - CONFIDENCE) / looks] * looks
    return [
        sequential.adjusted_confidence(CONFIDENCE, looks, j, final_share=share)
        for j in range(1, looks + 1)
    ]


def decision_table(total: int, batch: int, t: float, share: float | None) -> list[dict[int, str]]:
    """Per look, the verdict of ``sequential.decide`` for every count of positives."""
    confs = look_confidences(sequential.planned_looks(total, batch), share)
    table = []
    for look, conf in enumerate(confs, start=1):
        m = min(look * batch, total)
        row: dict[int, str] = {}
        for k in range(m + 1):
            d = sequential.decide(
                [(1, 1)] * k + [(0, 1)] * (m - k),
                threshold=t,
                confidence=conf,
                remaining=total - m,
                samples=1,
                final_confidence=confs[-1],
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
    group: Group, t: float, batch: int, share: float | None, seed: int, want: tuple[int, bool]
) -> None:
    """The fast replay must be what ``sequential.run`` itself does on the same order."""
    streams = {"x": [(key, i) for i, key in enumerate(group.keys)]}
    looks = sequential.planned_looks(len(group.keys), batch)
    # the equal split is the final share 1/K
    final_share = 1 / looks if share is None else share
    if looks == 1:
        final_share = 0.5  # any share: one look spends everything
    options = sequential.StopEarly(threshold=t, batch=batch, seed=seed, final_share=final_share)

    def slices(taken: Mapping[str, Sequence[int]]) -> sequential.SliceCounts:
        return {"x": ([(int(group.outcomes[i]), 1) for i in taken["x"]], len(group.keys))}

    done = sequential.run(streams, lambda items: None, slices, options, samples=1)["x"]
    got = (done.sampled, done.verdict == "pass")
    if got != want:
        raise SystemExit(
            f"replay and sequential.run disagree on {group.model} (share {share}): {got} vs {want}"
        )


LABELS = ["0.1", "0.3", "0.5", "rate+0.15"]
# per cell: full prompts, sampled, agree, early, full passes, seq passes, runs
FIELDS = 7


def measure(
    groups: Sequence[Group], orders: int, batch: int, rules: Sequence[Rule], spot_checks: int
) -> tuple[dict[tuple[str, str, str], np.ndarray], int]:
    """Replay every rule over every group, threshold and order; cells keyed by
    (rule label, source, threshold label)."""
    cells: dict[tuple[str, str, str], np.ndarray] = defaultdict(lambda: np.zeros(FIELDS))
    tables: dict[tuple[int, float, float | None], list[dict[int, str]]] = {}
    checked = 0
    for group in groups:
        total = len(group.keys)
        ordered = group.outcomes[np.array([sequential.order(group.keys, s) for s in range(orders)])]
        for label, t in thresholds(group):
            full_pass = stats.wilson(int(group.outcomes.sum()), total, CONFIDENCE).high <= t
            for rule, share in rules:
                key = (total, round(t, 12), share)
                if key not in tables:
                    tables[key] = decision_table(total, batch, t, share)
                sampled, passed, early = replay(ordered, tables[key], batch)
                if checked < spot_checks:  # a spot check per group, threshold and rule
                    check_against_run(group, t, batch, share, 0, (int(sampled[0]), bool(passed[0])))
                    checked += 1
                cells[(rule, group.source, label)] += [
                    total * orders,
                    sampled.sum(),
                    (passed == full_pass).sum(),
                    early.sum(),
                    orders * full_pass,
                    passed.sum(),
                    orders,
                ]
    return cells, checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="sequential sampling benchmark")
    parser.add_argument("--data", type=Path, default=REFUSAL)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--shares",
        default="0.5,0.67,0.9",
        help="other final shares to sweep (comma-separated), next to the default",
    )
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"SKIPPED: {args.data} is absent (the labelled benchmark data is not shipped)")
        return 0
    try:
        sweep = [float(x) for x in args.shares.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--shares: expected numbers like 0.5,0.9, got {args.shares!r}") from None
    started = time.perf_counter()
    groups = load_groups(args.data)
    default = sequential.FINAL_SHARE
    main_rules: list[Rule] = [("equal", None), (f"share {default:g}", default)]
    print(
        f"{len(groups)} model x prompt-set groups (>= {MIN_PROMPTS} prompts) from {args.data}; "
        f"{args.orders} seeded orders each, batch {args.batch}, confidence {CONFIDENCE}"
    )
    print(
        "rules: equal = every look at 1 - alpha/K (the old split); "
        f"share {default:g} = the default, {default:g} alpha on the last look, the rest split "
        "equally over the earlier looks"
    )
    # one pass over every rule: the main table shows two of them, the sweep all
    rules: list[Rule] = [*main_rules] + [
        (f"share {x:g}", x) for x in sorted(set(sweep) - {default})
    ]
    cells, checked = measure(groups, args.orders, args.batch, rules, 80)

    header = (
        f"{'prompt set':30} {'threshold':>9} {'groups':>6} {'prompts':>7} {'rule':>10} "
        f"{'sampled':>7} {'saving':>7} {'agree':>7} {'stopped':>7} {'pass full':>9} "
        f"{'pass seq':>8}"
    )

    def line(name: str, label: str, rule: str, c: np.ndarray) -> str:
        runs = c[6]
        return (
            f"{name:30} {label:>9} {int(runs / args.orders):>6} {c[0] / runs:>7.1f} {rule:>10} "
            f"{c[1] / runs:>7.1f} {1 - c[1] / c[0]:>7.1%} {c[2] / runs:>7.1%} "
            f"{c[3] / runs:>7.1%} {c[4] / runs:>9.1%} {c[5] / runs:>8.1%}"
        )

    def total_of(rule: str, label: str | None) -> np.ndarray:
        picked = [c for (r, _, lab), c in cells.items() if r == rule and label in (None, lab)]
        return sum(picked, np.zeros(FIELDS))

    print(header)
    print("-" * len(header))
    sources = sorted({s for _, s, _ in cells})
    for source in sources:
        for label in LABELS:
            for rule, _ in main_rules:
                print(line(source, label, rule, cells[(rule, source, label)]))
    print("-" * len(header))
    for label in LABELS:
        for rule, _ in main_rules:
            print(line("all sets", label, rule, total_of(rule, label)))
    for rule, _ in main_rules:
        print(line("all sets, all thresholds", "", rule, total_of(rule, None)))
    print(
        "prompts/sampled: per group and order, mean; saving: 1 - sampled/prompts; agree: "
        "sequential verdict = full-sample 95% verdict; stopped: before the last prompt"
    )
    print(f"replay checked against sequential.run on {checked} (group, threshold, rule) cases")

    if sweep:
        print()
        print("final-share sweep, all sets: saving / agree per threshold")
        print(f"{'rule':>12} " + " ".join(f"{lab:>15}" for lab in [*LABELS, "all"]))
        for rule, _ in sorted(rules, key=lambda r: -1.0 if r[1] is None else r[1]):
            parts = []
            for which in [*LABELS, None]:
                c = total_of(rule, which)
                parts.append(f"{1 - c[1] / c[0]:>6.1%} / {c[2] / c[6]:>6.1%}")
            print(f"{rule:>12} " + " ".join(f"{p:>15}" for p in parts))
    if IDENTITY.exists():
        print(
            f"identity: {IDENTITY} holds detector edge cases (texts with expected claims), "
            "not per-probe answers of models, so there is no identity replay to run"
        )
    print(f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
