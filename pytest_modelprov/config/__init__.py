"""Settings: where they come from, what values are valid, and how they combine.

Precedence, highest first, for every setting:

1. the command-line option (``--modelprov-…``),
2. the environment variable (``MODELPROV_…``),
3. the pytest ini key (``modelprov_…`` in ``pyproject.toml``, ``pytest.ini``, ``setup.cfg``),
4. the default (for the model under test, the openai SDK's ``OPENAI_BASE_URL`` and
   ``OPENAI_API_KEY`` come just before the built-in default).

Generation parameters and reference models are merged key by key in the same order, so a
CLI ``--modelprov-param temperature=0`` changes the temperature and keeps the ini's
``max_tokens``.

This package knows nothing about pytest objects: the plugin hands it a lookup function,
which keeps it usable from the ``modelprov`` command line too. ``settings`` holds the types
(``ModelSpec``, ``Settings``), ``options`` every option and the lookup in its sources,
``checks`` the parsing of values, ``models`` the model under test and the references, and
``resolve`` puts them together (:func:`resolve`). Every public name is importable from here.
"""

from __future__ import annotations

from .checks import (
    BOUNDS,
    check_number,
    parse_json_value,
    parse_price,
    validate_params,
)
from .models import (
    resolve_references,
    shadowed,
)
from .options import (
    ENV_NAMES,
    INI_NAMES,
    OPTIONS,
    OPTIONS_BY_NAME,
    Lookup,
    Option,
    Sources,
)
from .resolve import (
    check_label,
    resolve,
)
from .settings import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_BASELINE_DIR,
    DEFAULT_BASELINE_LABEL,
    DEFAULT_CACHE_DIR,
    GENERATION_PARAMS,
    REFERENCE_FIELDS,
    Budget,
    Given,
    Inconclusive,
    ModelSpec,
    Price,
    Progress,
    RecordMode,
    Settings,
    Switch,
    Unconfigured,
    UnusedBaselines,
    redact_url,
)

__all__ = [
    "BOUNDS",
    "DEFAULT_API_KEY_ENV",
    "DEFAULT_BASELINE_DIR",
    "DEFAULT_BASELINE_LABEL",
    "DEFAULT_BASE_URL",
    "DEFAULT_CACHE_DIR",
    "ENV_NAMES",
    "GENERATION_PARAMS",
    "INI_NAMES",
    "OPTIONS",
    "OPTIONS_BY_NAME",
    "REFERENCE_FIELDS",
    "Budget",
    "Given",
    "Inconclusive",
    "Lookup",
    "ModelSpec",
    "Option",
    "Price",
    "Progress",
    "RecordMode",
    "Settings",
    "Sources",
    "Switch",
    "Unconfigured",
    "UnusedBaselines",
    "check_label",
    "check_number",
    "parse_json_value",
    "parse_price",
    "redact_url",
    "resolve",
    "resolve_references",
    "shadowed",
    "validate_params",
]
