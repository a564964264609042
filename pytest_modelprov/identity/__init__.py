"""Identity probes: does the model say it is someone else?

The identity detector's public API: ``from pytest_modelprov import identity`` and use
``identity.probe(model_under_test)``, ``identity.detect_claims(text)``, the vendor tables
(``add_vendor``, ``team_vendors``) and the rest of ``__all__`` (the old single modules'
other public names stay importable from here). Behind it: ``probes`` (the questions),
``sampling`` (asking them and detecting claims in every answer, verdicts cached),
``detect`` (the offline claim detector), ``frames`` (the first-person frames it matches),
``vendors`` (the vendor tables), ``judge`` (a model's second opinion on unclear answers),
``result`` (rates, tables, assertions) and ``baseline`` (results as stored baselines).
"""

from __future__ import annotations

from ..errors import EnvelopeError
from ..sequential import StopEarly
from .claims import (
    Claim,
    Claims,
)
from .detect import (
    DETECTOR_VERSION,
    Detector,
    add_vendor,
    add_vendors,
    canonical_vendor,
    detect_claims,
    remove_vendors,
    team_vendors,
    vendor_ids,
)
from .judge import JUDGE_PROMPT as JUDGE_PROMPT
from .judge import (
    JudgeVerdict,
)
from .judge import parse_judge as parse_judge
from .probes import (
    IDENTITY_KINDS,
    KINDS,
    Probe,
    ProbeSet,
    Source,
    builtin_probes,
    load_probes,
)
from .result import FOREIGN as FOREIGN
from .result import UNVALIDATED as UNVALIDATED
from .result import (
    VALIDATED_LANGUAGES,
    IdentityResult,
    Observation,
)
from .sampling import DEPLOYMENT as DEPLOYMENT
from .sampling import (
    probe,
)
from .vendors import (
    VendorTable,
    load_vendors,
)

__all__ = [
    "DETECTOR_VERSION",
    "IDENTITY_KINDS",
    "KINDS",
    "VALIDATED_LANGUAGES",
    "Claim",
    "Claims",
    "Detector",
    "EnvelopeError",
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
