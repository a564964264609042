"""Identity probes: does the model say it is someone else?

The public API of the identity detector; ``from pytest_modelprov import identity`` and use
``identity.probe(model_under_test)``, ``identity.detect_claims(text)`` and the rest of
``__all__``. Behind it: ``probe`` (asking and collecting the answers), ``detect`` (the offline
claim detector and its vendor tables).
"""

from __future__ import annotations

# importable, as they were from the single module before this package, outside ``__all__``
from .sampling import DEPLOYMENT as DEPLOYMENT
from .sampling import (
    DETECTOR_VERSION,
    IDENTITY_KINDS,
    KINDS,
    Claim,
    Claims,
    Detector,
    IdentityResult,
    JudgeVerdict,
    Observation,
    Probe,
    ProbeSet,
    Source,
    StopEarly,
    VendorTable,
    add_vendor,
    add_vendors,
    builtin_probes,
    canonical_vendor,
    detect_claims,
    load_probes,
    load_vendors,
    probe,
    remove_vendors,
    team_vendors,
    vendor_ids,
)
from .sampling import FOREIGN as FOREIGN
from .sampling import JUDGE_PROMPT as JUDGE_PROMPT
from .sampling import parse_judge as parse_judge

__all__ = [
    "DETECTOR_VERSION",
    "IDENTITY_KINDS",
    "KINDS",
    "Claim",
    "Claims",
    "Detector",
    "IdentityResult",
    "JudgeVerdict",
    "Observation",
    "Probe",
    "ProbeSet",
    "Source",
    "StopEarly",
    "VendorTable",
    "add_vendor",
    "add_vendors",
    "builtin_probes",
    "canonical_vendor",
    "detect_claims",
    "load_probes",
    "load_vendors",
    "probe",
    "remove_vendors",
    "team_vendors",
    "vendor_ids",
]
