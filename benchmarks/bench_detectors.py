"""Per-answer against batch classification, with and without the verdict cache.

    python benchmarks/bench_detectors.py [--answers 600] [--runs 3] [--data PATH] [--profile]

Both offline detectors on real answers from ``../shared/data/refusal/labelled.jsonl`` (read
at run time for measuring only; from a git worktree, beside its main checkout; skipped
with a message when absent; ``--data`` points elsewhere):

- refusal: ``Classifier.classify`` answer by answer as it was before this work (the
  baseline, ``tests/refusal_reference.py``: the phrase patterns as written, the quadratic
  code-stripping regex, one CRC call per token, no memo), as it is now, ``classify_many``
  over all answers at once, and the path ``refusal.measure`` takes
  (``refusal.classifiers._classified``) through a verdict cache that is empty (cold: classify and
  store) and full (warm: every verdict replayed);
- identity: ``Detector.detect`` on the same answers cut to 600 characters (the length of a
  typical self-introduction plus context) with every alias tried at every position (the
  baseline, as before), as it is now, and the path ``identity.probe`` takes
  (``identity.sampling._detect_all``) without a cache, cold and warm; then the same on up
  to ``--answers`` answers of the whole file that name a vendor in their first 600
  characters (most answers name none, and the detector dismisses those after one scan: the
  second table is the speed on the texts an identity probe is about).

Answers are every k-th row of the file (a fixed stride over all sources and languages).
Each figure is the median of ``--runs`` passes in this process, in wall time and in CPU
time of the process (on a shared machine the CPU figure moves far less with the other
load); ratios are against the baseline ("before") of the same run. Every path must
return the per-answer verdicts exactly (compared with ``==``; a difference stops the
benchmark). ``--profile`` prints where the
batch's time goes (cProfile, top functions by own time). Before each batch pass and each
cold pass of the verdict cache the refusal memos keyed by a whole answer are emptied (the
passes before have filled them with the same answers); memos of words and requests stay,
as in a suite.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_modelprov import identity, langid, refusal
from pytest_modelprov.calls.response import Response, Usage
from pytest_modelprov.calls.verdicts import VerdictStore
from pytest_modelprov.identity import sampling as identity_sampling
from pytest_modelprov.identity.detect import Detector, default_detector
from pytest_modelprov.refusal import _nfkc as refusal_nfkc
from pytest_modelprov.refusal import classifiers as refusal_classifiers
from pytest_modelprov.refusal import features as refusal_features

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import refusal_reference  # noqa: E402  (the mechanics as they were, shared with the tests)
from shared_data import shared_data  # noqa: E402

SHARED = shared_data(ROOT) / "refusal" / "labelled.jsonl"
IDENTITY_CHARS = 600


def load(path: Path, count: int) -> list[tuple[str, str, str]]:
    """(key, prompt, answer) of ``count`` rows spread evenly over the file."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    step = max(1, len(rows) // count)
    chosen = rows[::step][:count]
    return [
        (
            hashlib.sha256(str(r.get("id", i)).encode()).hexdigest(),
            r.get("prompt") or "",
            r["response"],
        )
        for i, r in enumerate(chosen)
    ]


Times = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def clock() -> Times:
    return time.perf_counter(), time.process_time()


def since(start: Times) -> Times:
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def median(times: Sequence[Times]) -> Times:
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def timed(fn: Callable[[], Any], runs: int) -> tuple[Times, Any]:
    """Median wall and CPU seconds of ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        start = clock()
        result = fn()
        times.append(since(start))
    return median(times), result


def cold_then_warm(
    name: str,
    stores: Store,
    compute: Callable[[Any], Any],
    expected: Any,
    runs: int,
    answers: int,
    forget: Callable[[], None] = lambda: None,
) -> tuple[Times, Times]:
    """Median times of a detector's cached path on a fresh verdict store (every verdict
    computed and stored; ``forget`` empties first what earlier passes memoised about these
    answers), then on the same store again (every verdict replayed)."""
    cold: list[Times] = []
    warm: list[Times] = []
    for _ in range(runs):
        store = stores.fresh()
        forget()
        start = clock()
        got = compute(store)
        cold.append(since(start))
        check(f"{name} cached (cold)", got, expected)
        start = clock()
        got = compute(store)
        warm.append(since(start))
        check(f"{name} cached (warm)", got, expected)
        assert store.computed == answers
    return median(cold), median(warm)


class Store:
    """A verdict store in a temporary directory, emptied for each cold pass."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="modelprov-verdicts-")
        self.count = 0

    def fresh(self) -> VerdictStore:
        self.count += 1
        return VerdictStore(Path(self._tmp.name) / str(self.count))

    def close(self) -> None:
        self._tmp.cleanup()


def responses(rows: Sequence[tuple[str, str, str]]) -> list[Response]:
    """The answers as replayed Responses (what refusal.measure classifies)."""
    return [
        Response.replayed(
            answer=answer,
            reasoning=None,
            messages=({"role": "user", "content": prompt},),
            prompt_index=i,
            replicate=0,
            finish_reason="stop",
            model="benchmark",
            requested_model="benchmark",
            system_fingerprint=None,
            usage=Usage(0, 0, 0),
            key=key,
            body={},
        )
        for i, (key, prompt, answer) in enumerate(rows)
    ]


def report(title: str, n: int, rows: Sequence[tuple[str, Times]]) -> None:
    (base_wall, base_cpu) = rows[0][1]
    print(f"{title}, {n} answers, median of the passes (wall, and CPU of this process):")
    for name, (wall, cpu) in rows:
        print(
            f"  {name:<44}: {wall / n * 1e3:8.3f} ms/answer {base_wall / wall:7.1f}x wall"
            f"  {cpu / n * 1e3:8.3f} ms/answer {base_cpu / cpu:7.1f}x CPU"
        )


def check(name: str, got: Sequence[Any], expected: Sequence[Any]) -> None:
    if list(got) != list(expected):
        bad = sum(1 for a, b in zip(got, expected, strict=True) if a != b)
        raise SystemExit(
            f"{name}: {bad} of {len(expected)} verdicts differ from the per-answer path"
        )


def forget_texts() -> None:
    """Empty the memos the per-answer passes filled with these very answers: whole answers
    (normalised text, clean-refusal rule, language) and token hashes. The batch is timed as
    on answers it meets for the first time (it hashes every token itself, with numpy: it
    keeps no memo of words); memos of requests stay, as in a suite."""
    refusal_features.normalise.cache_clear()
    refusal_features.clean_refusal.cache_clear()
    langid.detect.cache_clear()
    refusal_features._HASHES.clear()


def bench_refusal(rows: list[tuple[str, str, str]], runs: int, stores: Store) -> None:
    clf = refusal.default_classifier()
    prompts = [p for _, p, _ in rows]
    texts = [a for _, _, a in rows]
    answers = responses(rows)
    clf.classify(texts[0], prompts[0])  # untimed: lazy tables
    refusal_nfkc.build()  # untimed: the table of what NFKC changes (first prepare)

    def before() -> list[str]:
        # classify() as it was: tests/refusal_reference.py (every pattern as written, the
        # quadratic code-stripping regex, one CRC call per token, no memo, ...)
        with refusal_reference.as_it_was():
            return [clf.classify(t, p) for t, p in zip(texts, prompts, strict=True)]

    old, expected = timed(before, runs)
    per, got = timed(
        lambda: [clf.classify(t, p) for t, p in zip(texts, prompts, strict=True)], runs
    )
    check("refusal classify", got, expected)

    def batch_pass() -> list[str]:
        forget_texts()  # no pass may reuse what an earlier one memoised about these texts
        return clf.classify_many(texts, prompts)

    batch, got = timed(batch_pass, runs)
    check("refusal classify_many", got, expected)

    cold, warm = cold_then_warm(
        "refusal",
        stores,
        lambda store: refusal_classifiers._classified(store, clf, answers),
        expected,
        runs,
        len(rows),
        forget_texts,  # the cold pass meets the answers as the batch pass does
    )
    report(
        f"refusal ({clf.detector}), answers of median "
        f"{statistics.median(map(len, texts)):.0f} chars",
        len(rows),
        [
            ("before: classify() as it was, in a loop", old),
            ("per answer: classify() in a loop", per),
            ("batch: classify_many()", batch),
            ("measure's path, verdict cache cold (+store)", cold),
            ("measure's path, verdict cache warm", warm),
        ],
    )


def naming_rows(path: Path, count: int) -> list[tuple[str, str, str]]:
    """Up to ``count`` rows of the whole file whose first ``IDENTITY_CHARS`` characters name
    a vendor (the detector finds at least one claim or mention in them), in file order.

    Most shared answers name no vendor, and the detector skips such a text after one scan:
    these are the texts an identity probe is about, and they take the full clause reading."""
    rules = default_detector()
    out = []
    for row in load(path, 10**9):
        if rules.detect(row[2][:IDENTITY_CHARS]).items:
            out.append(row)
            if len(out) == count:
                break
    return out


def bench_identity(
    rows: list[tuple[str, str, str]], runs: int, stores: Store, what: str = "answers"
) -> None:
    rules = default_detector()
    texts = [a[:IDENTITY_CHARS] for _, _, a in rows]
    items = [(k, "answer", t, None) for (k, _, _), t in zip(rows, texts, strict=True)]
    rules.detect(texts[0])

    scan_all = Detector(rules.vendors)
    scan_all._prefilter = False  # detect() as it was: every alias tried at every position
    scan_all.detect(texts[0])
    old, expected = timed(lambda: [scan_all.detect(t) for t in texts], runs)
    per, got = timed(lambda: [rules.detect(t) for t in texts], runs)
    check("identity detect", got, expected)
    batch, got = timed(lambda: identity_sampling._detect_all(None, rules, items), runs)
    check("identity batch", got, expected)
    cold, warm = cold_then_warm(
        "identity",
        stores,
        lambda store: identity_sampling._detect_all(store, rules, items),
        expected,
        runs,
        len(rows),
    )
    report(
        f"identity ({identity.DETECTOR_VERSION}), {what} cut to {IDENTITY_CHARS} chars",
        len(rows),
        [
            ("before: detect() as it was, in a loop", old),
            ("per answer: detect() in a loop", per),
            ("probe's path, no verdict cache", batch),
            ("probe's path, verdict cache cold (+store)", cold),
            ("probe's path, verdict cache warm", warm),
        ],
    )


def profile(rows: list[tuple[str, str, str]]) -> None:
    clf = refusal.default_classifier()
    rules = default_detector()
    prompts = [p for _, p, _ in rows]
    texts = [a for _, _, a in rows]
    forget_texts()
    for title, call in (
        ("refusal classify_many (batch)", lambda: clf.classify_many(texts, prompts)),
        (
            f"identity detect on {IDENTITY_CHARS}-char answers",
            lambda: [rules.detect(a[:IDENTITY_CHARS]) for _, _, a in rows],
        ),
    ):
        prof = cProfile.Profile()
        prof.runcall(call)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
        print(f"\nprofile of {title} over {len(rows)} answers (own time):")
        print("\n".join(out.getvalue().splitlines()[6:22]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=600, help="answers per detector")
    parser.add_argument("--runs", type=int, default=3, help="passes of each path (median)")
    parser.add_argument("--data", type=Path, default=SHARED, help="labelled.jsonl to read")
    parser.add_argument("--profile", action="store_true", help="also profile the batch paths")
    args = parser.parse_args()
    if not args.data.is_file():
        print(
            f"SKIPPED: no shared answers at {args.data} (the benchmark measures on real answers "
            "it never copies; point --data at labelled.jsonl)"
        )
        return 0
    rows = load(args.data, args.answers)
    print(
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"({os.cpu_count()} cores)"
    )
    stores = Store()
    try:
        bench_refusal(rows, args.runs, stores)
        bench_identity(rows, args.runs, stores)
        named = naming_rows(args.data, args.answers)
        bench_identity(named, args.runs, stores, "only answers naming a vendor")
    finally:
        stores.close()
    if args.profile:
        profile(rows)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
