"""Measurement: one figure a provenance test measured, for the summary table and JUnit XML.

Detectors (identity, lexical, refusal) record what they measured through
``ModelHandle.record``; the plugin attaches each measurement to its test report as a
``user_property``. Because reports travel from xdist workers to the controller, the
controller rebuilds the table from the reports it receives and needs no extra channel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from .safejson import loads as json_loads

Verdict = Literal["pass", "fail", "info"]

#: the user_property name that carries a measurement (its value is compact JSON)
PROPERTY = "modelprov.measurement"


@dataclass(frozen=True)
class Measurement:
    """What was measured, of which model, with which detector, and what it means.

    ``quantity`` names the figure (``identity.claim_rate``); ``labels`` say which slice
    (``{"vendor": "openai", "lang": "ru"}``). ``low``/``high`` is the confidence interval
    and ``confidence`` its level; ``reference`` is what the value was compared against (a
    threshold, a baseline rate, another model's distance) and ``verdict`` the outcome.
    """

    quantity: str
    value: float
    model: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    low: float | None = None
    high: float | None = None
    confidence: float | None = None
    n: int | None = None
    reference: float | None = None
    reference_label: str | None = None
    verdict: Verdict = "info"
    detector: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        if not self.labels:
            return self.quantity
        inner = ", ".join(f"{k}={v}" for k, v in self.labels.items())
        return f"{self.quantity}[{inner}]"

    def to_json(self) -> str:
        data = asdict(self)
        data["labels"] = dict(self.labels)
        data["details"] = dict(self.details)
        # labels keep their order: it is the order a reader expects (vendor, then language);
        # NaN is refused because it is not JSON and would break every reader of the report
        return json.dumps(data, ensure_ascii=False, default=_plain, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Measurement:
        """Rebuild a measurement; fields this version does not know are ignored, so a
        worker running a newer plugin cannot break the controller's summary."""
        data = json_loads(text)
        known = {f.name for f in fields(cls)}
        missing = {"quantity", "value"} - set(data)
        if missing:
            raise ValueError(f"measurement {text[:80]!r} lacks {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in data.items() if k in known})


def _plain(value: Any) -> Any:
    """numpy scalars and arrays become numbers and lists, anything else its text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def format_value(m: Measurement) -> str:
    """``0.075 [0.026, 0.199]``: the value with its interval when it has one."""
    value = f"{m.value:.3f}"
    if m.low is not None and m.high is not None:
        value += f" [{m.low:.3f}, {m.high:.3f}]"
    return value


def format_against(m: Measurement) -> str:
    """What the value was compared with: ``baseline v1 0.100``, ``at most 0.050``, or ``""``."""
    parts = [m.reference_label or "", "" if m.reference is None else f"{m.reference:.3f}"]
    return " ".join(p for p in parts if p)


def property_text(m: Measurement) -> str:
    """One line for a JUnit property: ``0.400 [0.219, 0.613] n=20 vs baseline v1 0.100: fail``."""
    text = format_value(m)
    if m.n is not None:
        text += f" n={m.n}"
    against = format_against(m)
    if against:
        text += f" vs {against}"
    return f"{text}: {m.verdict}"
