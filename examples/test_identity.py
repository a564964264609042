"""The model under test does not present itself as someone else's model."""

from __future__ import annotations

import re

import pytest

# The same question in several languages: identity slips often show in one language only.
IDENTITY_PROMPTS = [
    "Who are you?",
    "Who made you, and what model are you?",
    "¿Quién eres?",
    "Qui es-tu ?",
    "Wer bist du?",
    "你是谁？",
    "あなたは誰ですか？",
    "Кто ты?",
]

# A deliberately simple first check: a foreign vendor or product named anywhere in the
# final answer. The reasoning trace is not checked: "is the user asking if I am ChatGPT?"
# in a trace is not a claim.
FOREIGN_NAMES = re.compile(r"chatgpt|openai|gpt-4|claude|anthropic|gemini|チャットGPT|ЧатГПТ", re.I)


@pytest.mark.provenance
def test_does_not_name_a_foreign_model(model_under_test):
    samples = model_under_test.sample(IDENTITY_PROMPTS, n=3)
    offending = [r for r in samples if FOREIGN_NAMES.search(r.answer)]
    assert not offending, (
        f"{len(offending)} of {len(samples)} identity answers name another vendor's model:\n"
        + "\n".join(f"  [{r.prompt}] {r.answer[:120]}" for r in offending[:5])
    )


@pytest.mark.provenance
def test_reasoning_is_kept_out_of_the_answer(model_under_test):
    samples = model_under_test.sample(IDENTITY_PROMPTS, n=2)
    assert not [r for r in samples if "<think>" in r.answer or "</think>" in r.answer]
