"""What the identity detector finds in a text: one :class:`Claim` per vendor name, with its
status (claimed, negated, hedged, mentioned, ambiguous) and role (name, developer, base),
gathered in :class:`Claims`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DETECTOR_VERSION",
    "Claim",
    "Claims",
    "Status",
]

#: the claim rules' version (:mod:`.detect`), bumped whenever a change can move a verdict;
#: recorded with every measurement. Here, beside what the rules find, so that results and
#: baselines can name it without loading the rules.
DETECTOR_VERSION = "identity-rules/3"


Status = Literal["claimed", "negated", "hedged", "mentioned", "ambiguous"]


Role = Literal["name", "developer", "base"]


@dataclass(frozen=True)
class Claim:
    """One vendor name found in a text and what the text does with it."""

    vendor: str
    alias: str
    status: Status
    frame: str
    role: Role | None
    weak: bool
    sentence: str
    clause: str


@dataclass(frozen=True)
class Claims:
    """What a text says about who it is.

    ``claimed``: vendor ids the text claims to be (or to be made by, or based on), with
    ``other:<name>`` for a name in no vendor table;
    ``negated``: ids it says it is not; ``mentioned``: ids only mentioned; ``hedged``:
    ids claimed under a hedge; ``ambiguous``: ids a judge should look at. A vendor is in at
    most one set, in that order of precedence. ``items`` has one Claim per name found.
    """

    text: str
    items: tuple[Claim, ...] = ()

    def _ids(self, status: Status) -> frozenset[str]:
        return frozenset(c.vendor for c in self.items if c.status == status)

    @property
    def claimed(self) -> frozenset[str]:
        return self._ids("claimed")

    @property
    def negated(self) -> frozenset[str]:
        return self._ids("negated") - self.claimed

    @property
    def hedged(self) -> frozenset[str]:
        return self._ids("hedged") - self.claimed - self.negated

    @property
    def ambiguous(self) -> frozenset[str]:
        return self._ids("ambiguous") - self.claimed - self.negated - self.hedged

    @property
    def mentioned(self) -> frozenset[str]:
        return self._ids("mentioned") - self.claimed - self.negated - self.hedged - self.ambiguous

    def evidence(self, vendor: str, status: Status = "claimed") -> list[Claim]:
        """The items that put ``vendor`` in the ``status`` set."""
        return [c for c in self.items if c.vendor == vendor and c.status == status]

    def __bool__(self) -> bool:
        return bool(self.items)
