"""The model under test still behaves like the previous release on a fixed prompt set."""

from __future__ import annotations

import statistics

import pytest

STORY_PROMPTS = [
    "Write three sentences about a lighthouse keeper's ordinary night.",
    "Describe a small harbour at dawn in two or three sentences.",
    "In three sentences, tell a story that ends at a harbor.",
]


@pytest.mark.provenance
def test_answer_length_did_not_drift(model_under_test, reference_model):
    previous = reference_model("previous-release")
    ours = model_under_test.sample(STORY_PROMPTS, n=3)
    theirs = previous.sample(STORY_PROMPTS, n=3)
    ours_median = statistics.median(len(r.answer.split()) for r in ours)
    theirs_median = statistics.median(len(r.answer.split()) for r in theirs)
    assert 0.5 <= ours_median / theirs_median <= 2.0, (
        f"median answer length moved from {theirs_median} words ({previous.model}) "
        f"to {ours_median} words ({model_under_test.model})"
    )


@pytest.mark.provenance
def test_answers_come_from_one_snapshot(model_under_test):
    samples = model_under_test.sample(STORY_PROMPTS, n=3)
    snapshots = {r.model for r in samples}
    assert len(snapshots) == 1, f"answers came from several snapshots: {sorted(snapshots)}"
