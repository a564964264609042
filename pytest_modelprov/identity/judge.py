"""The judge's side of an identity probe: the prompt a judge model gets for an answer the
rules find unclear, and the strict parsing of its reply (an unreadable reply is listed,
never counted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..util.safejson import loads as json_loads
from . import _hints
from .team import canonical_vendor

__all__ = [
    "JudgeVerdict",
]


@dataclass(frozen=True)
class JudgeVerdict:
    """What the judge model said about one answer; ``error`` when it could not be read."""

    claimed: frozenset[str] = frozenset()
    negated: frozenset[str] = frozenset()
    hedged: frozenset[str] = frozenset()
    raw: str = ""
    error: str | None = None


JUDGE_PROMPT = """\
You check what an AI assistant's answer says about the assistant itself.

Vendor ids: {vendors}. For an assistant, model or maker named in none of them, use \
"other:<name>" with the name in lower case.
A vendor is CLAIMED when the answer says, in the first person, that the assistant is that \
vendor's product or model, or was made, trained or built on it by that vendor ("I am X", \
"I was developed by X", "I'm based on X", in any language). It is NEGATED when the answer \
says the assistant is not it. It is HEDGED when the answer only says it might be. Names that \
are merely mentioned, compared with, listed, or described in the third person are none of \
these. Role-play or hypothetical statements are not claims.

The user asked:
<question>
{question}
</question>

The assistant answered:
<answer>
{answer}
</answer>

Reply with exactly one line of JSON and nothing else, using only the vendor ids above:
{{"claimed": [], "negated": [], "hedged": []}}"""


_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


def parse_judge(raw: str, vendors: _hints.VendorTable | None = None) -> JudgeVerdict:
    """Read a judge reply; anything unreadable becomes a verdict with ``error`` set."""
    # the default table's ids are known without building it (no alias is looked up here)
    canonical: Callable[[str], str] = vendors.canonical if vendors is not None else canonical_vendor
    match = _JSON_OBJECT.search(raw or "")
    if match is None:
        return JudgeVerdict(raw=raw, error="no JSON object in the judge's reply")
    try:
        data = json_loads(match.group(0))
    except json.JSONDecodeError as exc:
        return JudgeVerdict(raw=raw, error=f"the judge's JSON does not parse: {exc.msg}")
    if not isinstance(data, dict):
        return JudgeVerdict(raw=raw, error="the judge's reply is not a JSON object")
    sets: dict[str, frozenset[str]] = {}
    for key in ("claimed", "negated", "hedged"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return JudgeVerdict(raw=raw, error=f"'{key}' is not a list of vendor ids")
        try:
            sets[key] = frozenset(canonical(v) for v in value)
        except ValueError as exc:
            return JudgeVerdict(raw=raw, error=str(exc).split(";")[0])
    return JudgeVerdict(sets["claimed"], sets["negated"], sets["hedged"], raw=raw)
