"""How far apart are releases of one model family on the same prompts? (lexical drift)

Reads the labelled real outputs in ../shared/data/lexical (not shipped) and prints, for
pairs of models answering the same SpeechMap prompts, the profile distance the lexical
baseline check uses with its basic bootstrap interval, and each model's split-half noise
floor. The default rule ``lexical.distance:+0.08`` was chosen from it.

    python benchmarks/bench_drift.py
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from pytest_modelprov.lexical.distances import bootstrap, distance
from pytest_modelprov.lexical.fingerprints import Fingerprint

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "lexical" / "outputs.jsonl"
PAIRS = [
    ("deepseek-r1", "r1-1776", "post-trained from R1 (de-censoring)"),
    ("deepseek-r1", "mai-ds-r1", "post-trained from R1"),
    ("deepseek-r1", "deepseek-r1t-chimera", "merge of R1 and V3-0324"),
    ("deepseek-r1", "deepseek-r1-0528", "next release"),
    ("deepseek-v3", "deepseek-v3-0324", "next release"),
    ("gpt-4o-2024-11-20", "chatgpt-4o-latest", "same family, later snapshot"),
    ("gpt-4o-2024-11-20", "gpt-4.1-2025-04-14", "next generation"),
    ("deepseek-r1", "gpt-4o-2024-11-20", "unrelated vendors"),
    ("deepseek-r1", "grok-3-beta", "unrelated vendors"),
    ("deepseek-v3", "qwen3-235b-a22b", "unrelated vendors"),
]


def main() -> int:
    if not DATA.is_file():
        print(f"skipped: {DATA} not found (the shared benchmark data is not shipped)")
        return 0
    texts: dict[str, dict[str, str]] = defaultdict(dict)
    for line in DATA.open(encoding="utf-8"):
        row = json.loads(line)
        if row["source"] == "speechmap":
            texts[row["model"]][row["shared_prompt_key"]] = row["response"]
    started = time.perf_counter()
    print(
        f"{'baseline':<22} {'candidate':<22} {'prompts':>7}  "
        "distance [95% interval]  floor(b)  relation"
    )
    for a, b, relation in PAIRS:
        common = sorted(set(texts[a]) & set(texts[b]))
        fa = Fingerprint.from_texts([texts[a][p] for p in common], prompts=common, name=a)
        fb = Fingerprint.from_texts([texts[b][p] for p in common], prompts=common, name=b)
        d = bootstrap([fa, fb], lambda f: distance(f[0], f[1], "profile"), resamples=200)
        floor = distance(*fa.halves(), "profile")
        print(
            f"{a:<22} {b:<22} {len(common):>7}  {d.value:.3f} [{d.low:.3f}, {d.high:.3f}]"
            f"     {floor:.3f}  {relation}"
        )
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
