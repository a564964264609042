"""Identity probes: does the model say it is someone else?

The identity detector's public API: ``from pytest_modelprov import identity`` and use
``identity.probe(model_under_test)``, ``identity.detect_claims(text)``, the vendor tables
(``add_vendor``, ``team_vendors``) and the rest of ``__all__`` (the old single modules'
other public names stay importable from here). Behind it: ``probes`` (the questions),
``sampling`` (asking them and detecting claims in every answer, verdicts cached),
``detect`` (the offline claim detector), ``frames`` (the first-person frames it matches),
``vendors`` (the vendor tables), ``team`` (vendor ids and the team vendors added, without
the detector), ``judge`` (a model's second opinion on unclear answers),
``result`` (rates, tables, assertions) and ``baseline`` (results as stored baselines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..util.lazy import lazy_exports

if TYPE_CHECKING:
    from ..errors import EnvelopeError
    from ..sequential import StopEarly
    from .claims import (
        DETECTOR_VERSION,
        Claim,
        Claims,
    )
    from .detect import (
        Detector,
        detect_claims,
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
    from .team import (
        add_vendor,
        add_vendors,
        canonical_vendor,
        remove_vendors,
        team_vendors,
        vendor_ids,
    )
    from .vendors import (
        VendorTable,
        load_vendors,
    )

# Loaded on first use: the plugin reads a team's vendor file (``team``) when pytest starts,
# a run without identity tests should not pay for the probe machinery, and one that replays
# every observation not for the claim rules (``detect``).
_HOME: dict[str, str] = {
    "EnvelopeError": "..errors",
    "StopEarly": "..sequential",
    "Claim": ".claims",
    "Claims": ".claims",
    "DETECTOR_VERSION": ".claims",
    "Detector": ".detect",
    "add_vendor": ".team",
    "add_vendors": ".team",
    "canonical_vendor": ".team",
    "detect_claims": ".detect",
    "remove_vendors": ".team",
    "team_vendors": ".team",
    "vendor_ids": ".team",
    "JUDGE_PROMPT": ".judge",
    "JudgeVerdict": ".judge",
    "parse_judge": ".judge",
    "IDENTITY_KINDS": ".probes",
    "KINDS": ".probes",
    "Probe": ".probes",
    "ProbeSet": ".probes",
    "Source": ".probes",
    "builtin_probes": ".probes",
    "load_probes": ".probes",
    "FOREIGN": ".result",
    "UNVALIDATED": ".result",
    "VALIDATED_LANGUAGES": ".result",
    "IdentityResult": ".result",
    "Observation": ".result",
    "DEPLOYMENT": ".sampling",
    "probe": ".sampling",
    "VendorTable": ".vendors",
    "load_vendors": ".vendors",
}


if not TYPE_CHECKING:  # mypy would type every unknown name as Any (py.typed: a typo passes)
    __getattr__, __dir__ = lazy_exports(__name__, _HOME)


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
