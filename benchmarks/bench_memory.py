"""Peak memory of the detectors on large batches, against the per-answer path of the same run.

    python benchmarks/bench_memory.py [--answers 3000] [--chars 4000] [--before DIR] [--data PATH]

Each case runs in a fresh Python process (so nothing one case allocated or memoised is
counted in another) over ``--answers`` texts of ``--chars`` characters, made by joining
consecutive real answers from ``../shared/data/refusal/labelled.jsonl`` (read at run time for
measuring only; skipped with a message when absent). In the child the imports and lazy
tables are warmed on two texts, the texts are built, and the case runs twice, each time in
a fresh process:

- heap peak: under ``tracemalloc`` started just before the work, the peak of what it
  allocated through Python's allocators (numpy's arrays included), memos it keeps included;
- RSS growth: without tracemalloc, the kernel's high-water mark of the resident set (reset
  with ``/proc/self/clear_refs`` just before the work) minus the resident set then. Memory
  the set-up freed stays in the process's arenas and is reused first, so this can read lower
  than the heap peak; it is what the machine sees.

Times are not reported (tracemalloc slows the work): see ``bench_detectors.py`` for speed.

Cases:

- ``refusal-each``: ``Classifier.classify`` answer by answer (the baseline: bounded by one
  answer at a time plus the memos);
- ``refusal-batch``: ``Classifier.classify_many`` over all answers at once (the path
  ``refusal.measure`` takes);
- ``identity-each``: the identity detector's ``detect`` answer by answer;
- ``lexical``: two fingerprints of half the texts each and the delta distance between them.

Ratios are against ``refusal-each`` of the same run. ``--before DIR`` runs every case also
with the package imported from another source tree (e.g. ``git archive <rev> | tar -x -C
DIR``), so a change in memory is measured against its baseline on the same machine state.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from shared_data import shared_data  # noqa: E402

SHARED = shared_data(ROOT) / "refusal" / "labelled.jsonl"
CASES = ("refusal-each", "refusal-batch", "identity-each", "lexical")
MIB = 1024 * 1024


def _status(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` figure of this process, in bytes."""
    with open("/proc/self/status", encoding="ascii") as f:
        found = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"/proc/self/status has no {field}: this benchmark needs Linux")
    return int(found.group(1)) * 1024


def texts_of(path: Path, count: int, chars: int) -> tuple[list[str], list[str]]:
    """``count`` texts of ``chars`` characters, each made of consecutive answers of the file
    joined by blank lines (wrapping around), and the prompt of each text's first answer."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    texts, prompts, at = [], [], 0
    for _ in range(count):
        prompts.append(rows[at % len(rows)].get("prompt") or "")
        parts: list[str] = []
        size = 0
        while size < chars:
            answer = rows[at % len(rows)]["response"]
            parts.append(answer)
            size += len(answer) + 2
            at += 1
        texts.append("\n\n".join(parts)[:chars])
    return texts, prompts


def child(case: str, path: Path, count: int, chars: int, measure: str) -> float:
    """Run one case in this process: the peak of what it allocated (``heap``) or the growth
    of the resident set's high-water mark (``rss``), in bytes."""
    import gc
    import tracemalloc

    texts, prompts = texts_of(path, count, chars)
    if case.startswith("refusal"):
        from pytest_modelprov import refusal

        clf = refusal.default_classifier()
        clf.classify_many(texts[-2:], prompts[-2:])  # untimed: imports and lazy tables
        clf.classify(texts[-1], prompts[-1])
        if case == "refusal-batch":

            def work() -> object:
                return clf.classify_many(texts, prompts)
        else:

            def work() -> object:
                return [clf.classify(t, p) for t, p in zip(texts, prompts, strict=True)]
    elif case == "identity-each":
        try:
            from pytest_modelprov.identity.detect import default_detector
        except ImportError:  # a tree from before identity became a package
            from pytest_modelprov.identity_detect import (  # type: ignore[import-not-found,no-redef]
                default_detector,
            )

        rules = default_detector()
        rules.detect(texts[-1])

        def work() -> object:
            return [rules.detect(t) for t in texts]
    elif case == "lexical":
        from pytest_modelprov import lexical

        ids = [f"p{i % 100}" for i in range(len(texts))]
        warm = lexical.Fingerprint.from_texts(texts[-4:], ids[-4:])
        lexical.distance(warm, warm)
        half = len(texts) // 2

        def work() -> object:
            a = lexical.Fingerprint.from_texts(texts[:half], ids[:half])
            b = lexical.Fingerprint.from_texts(texts[half:], ids[half:])
            return lexical.distance(a, b)
    else:
        raise SystemExit(f"unknown case {case!r}; one of {', '.join(CASES)}")
    gc.collect()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")  # resets VmHWM to the current resident set
    if measure == "heap":
        tracemalloc.start()
    result = work()
    assert result is not None
    if measure == "heap":
        return float(tracemalloc.get_traced_memory()[1])
    return float(_status("VmHWM") - before)


def run_case(
    case: str, path: Path, count: int, chars: int, source: Path | None, measure: str
) -> float | str:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            case,
            "--data",
            str(path),
            "--answers",
            str(count),
            "--chars",
            str(chars),
            "--measure",
            measure,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"failed: {last[:120]}"
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=3000, help="texts per case")
    parser.add_argument("--chars", type=int, default=4000, help="characters per text")
    parser.add_argument("--before", type=Path, help="another source tree to measure too")
    parser.add_argument("--data", type=Path, default=SHARED, help="labelled answers (jsonl)")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument(
        "--measure", choices=("heap", "rss"), default="heap", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the shared labelled answers; --data PATH)")
        return 0
    if args.child:
        print(child(args.child, args.data, args.answers, args.chars, args.measure))
        return 0
    if args.before is not None and not (args.before / "pytest_modelprov").is_dir():
        parser.error(f"--before {args.before}: no pytest_modelprov package in it")
    print(f"{args.answers} texts of {args.chars} characters per case, one process each")
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.before is not None:
        trees.append((f"before ({args.before})", args.before))
    for label, source in trees:
        print(f"\n{label}:")
        print(
            f"  {'case':<15} {'heap peak':>11} {'per 1,000':>10} {'vs each':>8} {'RSS growth':>11}"
        )
        base: float | None = None
        for case in CASES:
            heap = run_case(case, args.data, args.answers, args.chars, source, "heap")
            rss = run_case(case, args.data, args.answers, args.chars, source, "rss")
            if isinstance(heap, str) or isinstance(rss, str):
                print(f"  {case:<15} {heap if isinstance(heap, str) else rss}")
                continue
            peak = heap / MIB
            if case == "refusal-each":
                base = peak
            ratio = f"{peak / base:.2f}x" if base else "-"
            print(
                f"  {case:<15} {peak:>8.1f} MiB {peak * 1000 / args.answers:>6.1f} MiB"
                f" {ratio:>8} {rss / MIB:>7.1f} MiB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
