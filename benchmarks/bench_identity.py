"""Accuracy and speed of the identity-claim detector.

    python benchmarks/bench_identity.py

Per field (claimed, negated, mentioned, hedged): precision and recall of the vendor ids
``detect_claims`` returns, micro-averaged over (case, vendor) pairs, on

* ``../shared/data/identity/cases.jsonl`` (labelled edge cases; read at run time, never
  copied into the project; skipped with a message when the folder is absent), and
* the project's own cases in ``tests/test_identity_detect.py``.

Vendor ids in the data are mapped to the detector's canonical ids (``x-ai`` -> ``xai``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from pytest_modelprov.identity import canonical_vendor, detect_claims

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "identity" / "cases.jsonl"
FIELDS = ("claimed", "negated", "mentioned", "hedged")

Case = tuple[str, str, dict[str, frozenset[str]]]


def shared_cases() -> list[Case] | None:
    if not SHARED.exists():
        return None
    cases = []
    for number, line in enumerate(SHARED.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{SHARED}:{number}: not JSON ({exc.msg})") from None
        expect = {
            "claimed": row["expect_claims"],
            "negated": row["expect_negated"],
            "mentioned": row["expect_mentions_only"],
        }
        if "expect_hedged" in row:
            expect["hedged"] = row["expect_hedged"]
        cases.append(
            (
                row["lang"],
                row["text"],
                {k: frozenset(map(canonical_vendor, v)) for k, v in expect.items()},
            )
        )
    return cases


def own_cases() -> list[Case]:
    spec = importlib.util.spec_from_file_location(
        "cases", ROOT / "tests" / "test_identity_detect.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [
        (lang, text, dict(zip(FIELDS, (c, n, m, h), strict=True)))
        for lang, text, c, n, m, h in module.CASES
    ]


def score(cases: Iterable[Case]) -> tuple[dict[str, tuple[int, int, int]], list[str]]:
    counts = {f: [0, 0, 0] for f in FIELDS}  # true positives, false positives, false negatives
    wrong = []
    for lang, text, expect in cases:
        found = detect_claims(text)
        for field in FIELDS:
            if field not in expect:
                continue  # the case does not label this field
            got, want = getattr(found, field), expect[field]
            counts[field][0] += len(got & want)
            counts[field][1] += len(got - want)
            counts[field][2] += len(want - got)
            if got != want:
                wrong.append(
                    f"  [{lang}] {field}: expected {sorted(want)}, got {sorted(got)}: {text}"
                )
    return {f: (c[0], c[1], c[2]) for f, c in counts.items()}, wrong


def report(name: str, cases: list[Case]) -> int:
    counts, wrong = score(cases)
    right = len(cases) - len({w.split(": ", 2)[-1] for w in wrong})
    print(f"\n{name}: {len(cases)} cases, {right} entirely right")
    print(f"  {'field':10} {'precision':>10} {'recall':>8}   tp  fp  fn")
    for field, (tp, fp, fn) in counts.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"  {field:10} {precision:10.3f} {recall:8.3f}  {tp:3} {fp:3} {fn:3}")
    for line in wrong:
        print(line)
    return len(wrong)


def speed(texts: list[str], seconds: float = 1.0) -> float:
    detect_claims(texts[0])  # build the detector outside the timing
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for text in texts:
            detect_claims(text)
        done += len(texts)
    return done / (time.perf_counter() - start)


def main() -> int:
    failures = 0
    shared = shared_cases()
    if shared is None:
        print(f"skipped: {SHARED} is absent (the shared benchmark data is not shipped)")
    else:
        failures += report(f"shared cases ({SHARED.relative_to(ROOT.parent)})", shared)
    own = own_cases()
    failures += report("own cases (tests/test_identity_detect.py)", own)
    texts = [c[1] for c in (shared or []) + own]
    print(f"\nspeed: {speed(texts):,.0f} texts/s over {len(texts)} texts (one core)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
