"""Measurement: one figure a provenance test measured, for the summary table and JUnit XML.

Detectors (identity, lexical, refusal) record what they measured through
``ModelHandle.record``; the plugin attaches each measurement to its test report as a
``user_property``. Because reports travel from xdist workers to the controller, the
controller rebuilds the table from the reports it receives and needs no extra channel.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ..util.safejson import loads as json_loads

#: ``inconclusive``: the sample cannot decide (too few answers for the bound, an
#: underpowered gate); never a pass, and a fail or a warning per --modelprov-inconclusive
Verdict = Literal["pass", "fail", "inconclusive", "info"]
VERDICTS: tuple[str, ...] = ("pass", "fail", "inconclusive", "info")

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

    @property
    def flags(self) -> list[str]:
        """``details["flags"]``: short marks a detector puts on a figure it cannot fully
        stand behind (``unvalidated``, ``few-shared-prompts``, ``underpowered``)."""
        return flags_of(self.details)

    @property
    def needed_n(self) -> int | None:
        """``details["needed_n"]``: answers that would decide an inconclusive check."""
        value = self.details.get("needed_n")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

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


#: answers quoted per slice in ``details["evidence"]``; the rest are in the cache by key
MAX_EVIDENCE = 5
EXCERPT_CHARS = 400


def evidence_item(
    *,
    prompt: str,
    answer: str,
    decided_by: str | None = None,
    label: str | None = None,
    replicate: int | None = None,
    key: str | None = None,
    lang: str | None = None,
    ref: str | None = None,
) -> dict[str, Any]:
    """One quoted answer for ``details["evidence"]``: what was asked, an excerpt of what
    the model said, the sentence or label that decided, and where to find the whole answer
    (``key`` in the cache: ``modelprov cache show KEY``). Texts are cut, not escaped: every
    report escapes them for its own format."""
    item: dict[str, Any] = {
        "prompt": _cut(prompt, EXCERPT_CHARS),
        "answer": _cut(answer, EXCERPT_CHARS),
    }
    extra = {
        "decided_by": None if decided_by is None else _cut(decided_by, EXCERPT_CHARS),
        "label": label,
        "replicate": replicate,
        "key": key,
        "lang": lang,
        "ref": ref,
    }
    item.update({k: v for k, v in extra.items() if v is not None})
    return item


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flags_of(details: Any) -> list[str]:
    """The flags in a details mapping, as clean short strings (a worker's or a report's
    details are untrusted: anything that is not a list of strings is shown as its text)."""
    if not isinstance(details, Mapping):
        return []
    raw = details.get("flags")
    if raw is None:
        return []
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    return [safe_text(str(f), 40) for f in items[:20] if str(f)]


def safe_text(text: str, limit: int = 200) -> str:
    """One line of text that is inert on a terminal: control characters (escape codes, BEL,
    ``\\r``, newlines), bidi overrides and surrogates shown as escapes, cut to ``limit``."""
    out = []
    for ch in text[: limit + 1]:
        code = ord(ch)
        if ch == " " or (code >= 0x20 and code not in _BIDI and code != 0x7F and code < 0x80):
            out.append(ch)
        elif code < 0x80 or code in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    result = "".join(out)
    if len(text) > limit:
        result = result[: limit - 1] + "…"
    return result


_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A)) | {0x200E, 0x200F}


def verdict_text(m: Measurement) -> str:
    """``FAIL``, ``pass``, ``INCONCLUSIVE (needs 73)``, with any flags: the verdict cell."""
    text = m.verdict.upper() if m.verdict in ("fail", "inconclusive") else m.verdict
    if m.verdict == "inconclusive" and m.needed_n is not None:
        text += f" (needs n>={m.needed_n})"
    flags = m.flags
    if flags:
        text += " [" + ", ".join(flags) + "]"
    return text


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
    text = f"{text}: {m.verdict}"
    if m.verdict == "inconclusive" and m.needed_n is not None:
        text += f" (needs n>={m.needed_n})"
    if m.flags:
        text += f" [flags: {', '.join(m.flags)}]"
    return text
