"""The model under test still writes like the previous release (a lexical fingerprint).

A model trained on another model's outputs inherits its favourite words; a release whose
vocabulary moved away from our own previous release deserves a look before it ships.
"""

from __future__ import annotations

import pytest

from pytest_modelprov import lexical


@pytest.mark.provenance
def test_vocabulary_is_close_to_the_previous_release(model_under_test, reference_model):
    # the built-in creative-writing prompts; a fixed seed makes the samples reproducible
    ours = lexical.fingerprint(model_under_test, n=2, seed=1)
    previous = lexical.fingerprint(reference_model("previous-release"), n=2, seed=1)
    # the upper end of a bootstrap interval over prompts must stay below the bound
    lexical.assert_distance_below(ours, previous, 0.3, name="previous-release")
