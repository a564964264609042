"""The documented path of the refusal classifier's agreement check; its code is in
:mod:`pytest_modelprov.refusal.evaluation`."""

from __future__ import annotations

from .refusal.evaluation import Agreement, GroupAgreement, assert_agrees, evaluate

__all__ = ["Agreement", "GroupAgreement", "assert_agrees", "evaluate"]
