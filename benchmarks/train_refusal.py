"""Train the shipped refusal classifier weights (reproducible: no randomness, fixed folds).

    python benchmarks/train_refusal.py [--data ../shared/data/refusal/labelled.jsonl]
                                       [--out pytest_modelprov/data/refusal/weights.json]

Reads the labelled answers at training time only; the package ships nothing of them but
weights over hashed n-gram features. Labels: ``partial`` (SpeechMap EVASIVE; XSTest partial
refusal) is trained as ``evasion``. Calibration folds are whole models.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# the machine's cores are shared: the sparse work gains nothing from BLAS threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pytest_modelprov.langid import answer_language
from pytest_modelprov.refusal.features import strip_reasoning
from pytest_modelprov.refusal.model import Example, TrainSettings, featurise_examples, fit_matrix

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "refusal" / "labelled.jsonl"
OUT = ROOT / "pytest_modelprov" / "data" / "refusal" / "weights.json"
LABEL_MAP = {"compliance": "compliance", "refusal": "refusal", "partial": "evasion"}
#: the recipe's settings (``benchmarks/select_refusal.py`` compares regularisation strengths
#: by nested cross-validation: a weaker L2 picked on models did worse on unseen vendors)
SETTINGS = TrainSettings()
SOURCE = (
    "xstest-v2 completions (paul-rottger/exaggerated-safety, CC-BY-4.0 prompts) and SpeechMap "
    "(xlr8harder/speechmap-eval, speechmap-data; Apache-2.0) labelled answers"
)


def load(path: Path) -> tuple[list[Example], list[str], list[str]]:
    """Examples grouped by model; the language each answer is written in (decided from the
    text as ``refusal.measure`` decides it, the data's request language when undecided), for
    the per-language CV figures and the envelope; and each answer's source."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    examples = [
        Example(r["response"], LABEL_MAP[r["label"]], r.get("prompt"), r["model"]) for r in rows
    ]
    langs = [
        answer_language(strip_reasoning(e.response).strip(), e.prompt, str(r.get("lang") or ""))
        for e, r in zip(examples, rows, strict=True)
    ]
    return examples, langs, [str(r["source"]) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data} not found: the labelled data is needed to train", file=sys.stderr)
        return 2
    started = time.perf_counter()
    examples, langs, sources = load(args.data)
    print(f"read {len(examples)} labelled answers from {args.data}")
    settings = SETTINGS
    model = fit_matrix(
        featurise_examples(examples),
        [e.label for e in examples],
        [e.group for e in examples],
        settings=settings,
        name="modelprov-linear",
        version="4",
        source=SOURCE,
        log=print,
        strata=langs,
    )
    # where each language's answers came from: the envelope names its evidence
    for lang, info in model.training["envelope"]["langs"].items():
        info["sources"] = sorted({s for s, x in zip(sources, langs, strict=True) if x == lang})
    print(f"threshold {model.threshold}; cross-validated {model.training['cv']}")
    for lang, info in model.training["envelope"]["langs"].items():
        print(f"envelope [{lang}]: {info}")
    model.save(args.out)
    size = args.out.stat().st_size
    print(f"settings {settings.to_dict()}")
    print(f"wrote {args.out} ({size / 1e6:.2f} MB) in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
