"""The batch paths give exactly the per-answer verdicts: on the package's own texts always,
and on every shared answer when ``../shared`` is there (measuring only: nothing is copied)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_identity_detect import CASES

from pytest_modelprov.identity_detect import Detector, default_detector

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"


def _reference() -> Detector:
    """The detector trying every alias at every position, as before the prefilter."""
    slow = Detector(default_detector().vendors)
    slow._prefilter = False
    return slow


def _identity_texts() -> list[str]:
    texts = [case[1] for case in CASES]
    # the same texts run together, cut mid-word and doubled: names at odd offsets, a clause
    # with several names, markdown around them
    joined = " ".join(texts)
    texts += [joined[i : i + 600] for i in range(0, len(joined), 257)]
    texts += [f"**{t}** — {t.upper()}" for t in texts[:40]]
    return texts


def test_identity_prefilter_finds_exactly_what_every_alias_everywhere_finds():
    texts = _identity_texts()
    assert len(texts) > 150
    fast, slow = default_detector(), _reference()
    found = [fast.detect(t) for t in texts]
    assert found == [slow.detect(t) for t in texts]
    assert sum(bool(c.items) for c in found) > 100  # the texts do name vendors


def test_every_alias_of_the_table_is_found_where_it_stands():
    """Each alias alone, in a frame and glued to other scripts: the prefilter must not skip
    the position where any of them starts."""
    fast, slow = default_detector(), _reference()
    texts = []
    for alias in fast._aliases:
        if alias.regex:
            continue
        texts += [
            alias.text,
            f"I am {alias.text}.",
            f"我是{alias.text}。",
            f"x{alias.text} {alias.text}x",
        ]
    texts += ["gpt-4o", "I am GPT-4.1 and o3-mini", "llama-3.1 or yi-34b", "I'm GLM-4, not ERNIE-4"]
    assert [fast.detect(t) for t in texts] == [slow.detect(t) for t in texts]


def _shared_rows(name: str) -> list[dict[str, object]]:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(
            f"no shared data at {path} (measuring only; the package's own texts run always)"
        )
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_identity_on_every_shared_answer():
    rows = _shared_rows("refusal/labelled.jsonl")
    fast, slow = default_detector(), _reference()
    # the opening of each (where self-descriptions are): the reference takes ~20 ms per
    # 600 characters, and there are ~7,000 answers
    texts = [str(r["response"])[:400] for r in rows]
    assert len(texts) > 1000
    assert [fast.detect(t) for t in texts] == [slow.detect(t) for t in texts]
