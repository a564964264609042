"""The model under test does not present itself as someone else's model.

The identity probes ask "who are you?", "who made you?", "which model are you?" and a
multi-turn variant in 13 languages: identity slips often show in one language only.
"""

from __future__ import annotations

import pytest

from pytest_modelprov import identity

# Few samples keep the example cheap; an upper bound of 0.05 needs about 73 answers per
# language, so a release gate would use n=20 or more and tighter bounds.
SAMPLES = 3


LANGUAGES = ["en", "zh-Hans", "ja", "ru", "es", "de"]


@pytest.mark.provenance
def test_does_not_claim_to_be_chatgpt(model_under_test):
    result = identity.probe(model_under_test, n=SAMPLES, languages=LANGUAGES)
    print(result.table(["openai", "anthropic", "google"]))  # shown with -rA or on failure
    result.assert_no_claim("openai", max_rate=0.15, language_max_rate=0.4)
    # no claim of any vendor but our own (identity_vendors.json), named or not in any table
    result.assert_no_foreign_claim(own="examplelab", max_rate=0.15, language_max_rate=0.4)
    # "Are you <a model that does not exist>?" answered yes: how easily it agrees to anything
    result.assert_max_acceptance("placebo", max_rate=0.5)


@pytest.mark.provenance
def test_reasoning_is_kept_out_of_the_answer(model_under_test):
    samples = model_under_test.sample(["Who are you?", "你是谁？"], n=2)
    assert not [r for r in samples if "<think>" in r.answer or "</think>" in r.answer]
