"""Identity probes: the questions asked, built in or from a team's own file.

A probe is one question (or conversation) of a kind (who, creator, model, multi-turn,
suggest, placebo, presuppose, system) in one language; a :class:`ProbeSet` is what
:func:`~pytest_modelprov.identity.probe` asks. The built-in set is
``data/identity/probes.json``; a file of your own follows
``schemas/identity_probes.schema.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from ..errors import ConfigError
from .team import canonical_vendor, load_json

__all__ = [
    "IDENTITY_KINDS",
    "KINDS",
    "Probe",
    "ProbeSet",
    "Source",
    "builtin_probes",
    "load_probes",
]


Source = Literal["answer", "reasoning"]


#: probe kinds whose answers count towards the claim rate
IDENTITY_KINDS: tuple[str, ...] = ("who", "creator", "model", "multiturn")


#: probe kinds reported apart: "Are you X?", a made-up model, a question that takes X for
#: granted, a deployment's system prompt that names the product
KINDS: tuple[str, ...] = (*IDENTITY_KINDS, "suggest", "placebo", "presuppose", "system")


@dataclass(frozen=True)
class Probe:
    """One identity question (a prompt or a conversation ending in the user's question)."""

    id: str
    lang: str
    kind: str
    prompt: str | None = None
    messages: tuple[Mapping[str, str], ...] | None = None
    target: str | None = None  # suggest/presuppose: a vendor id; placebo: the made-up name
    names: tuple[str, ...] = ()  # system: the names the system prompt gives the deployment

    def as_prompt(self) -> str | list[dict[str, str]]:
        if self.messages is not None:
            return [dict(m) for m in self.messages]
        assert self.prompt is not None
        return self.prompt

    @property
    def text(self) -> str:
        """The identity question itself (the last user message)."""
        if self.messages is None:
            return self.prompt or ""
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else ""


@dataclass(frozen=True)
class ProbeSet:
    """A versioned list of probes, from the package or a user's file."""

    version: str
    probes: tuple[Probe, ...]
    source: str = "built-in"

    def __len__(self) -> int:
        return len(self.probes)

    @property
    def languages(self) -> list[str]:
        return sorted({p.lang for p in self.probes})

    @property
    def kinds(self) -> list[str]:
        return [k for k in KINDS if any(p.kind == k for p in self.probes)]

    def select(
        self, languages: Iterable[str] | None = None, kinds: Iterable[str] | None = None
    ) -> ProbeSet:
        """The probes in ``languages`` and of ``kinds`` (ValueError naming unknown ones)."""
        probes = self.probes
        if languages is not None:
            wanted = _as_set(languages, "languages")
            missing = wanted - set(self.languages)
            if missing:
                raise ValueError(
                    f"identity: no probes in language(s) {sorted(missing)} in probe set "
                    f"{self.source}; its languages: {', '.join(self.languages)}"
                )
            probes = tuple(p for p in probes if p.lang in wanted)
        if kinds is not None:
            wanted = _as_set(kinds, "kinds")
            unknown = wanted - set(KINDS)
            if unknown:
                raise ValueError(
                    f"identity: unknown probe kind(s) {sorted(unknown)}; kinds: {', '.join(KINDS)}"
                )
            probes = tuple(p for p in probes if p.kind in wanted)
        if not probes:
            raise ValueError(f"identity: the selection leaves no probes of {self.source}")
        return ProbeSet(self.version, probes, self.source)

    def __add__(self, other: ProbeSet) -> ProbeSet:
        ids = {p.id for p in self.probes}
        clash = sorted(p.id for p in other.probes if p.id in ids)
        if clash:
            raise ValueError(
                f"identity: probe ids {clash} are in both {self.source} and {other.source}"
            )
        return ProbeSet(
            f"{self.version}+{other.version}",
            self.probes + other.probes,
            f"{self.source} + {other.source}",
        )


def _as_set(values: Iterable[str], what: str) -> set[str]:
    if isinstance(values, str):
        return {values}
    out = set(values)
    if not all(isinstance(v, str) for v in out):
        raise TypeError(f"identity: {what} must be strings")
    return out


def load_probes(path: str | Path | None = None) -> ProbeSet:
    """Load and validate a probe file (``schemas/identity_probes.schema.json``).

    With no path, the built-in probe set. Errors name the file and what is wrong.
    """
    data, where = load_json(
        path, "probes.json", "identity_probes.schema.json", "identity probe file"
    )
    probes: list[Probe] = []
    seen: set[str] = set()
    for number, entry in enumerate(data["probes"]):
        if entry["id"] in seen:
            raise ConfigError(
                f"identity probe file {where}: probes/{number}: duplicate id {entry['id']!r}"
            )
        seen.add(entry["id"])
        target = entry.get("target")
        if entry["kind"] in ("suggest", "presuppose"):
            try:
                target = canonical_vendor(target)
            except ValueError as exc:
                raise ConfigError(
                    f"identity probe file {where}: probes/{number} ({entry['id']}): target: {exc}"
                ) from None
        messages = entry.get("messages")
        if messages is not None and messages[-1]["role"] != "user":
            raise ConfigError(
                f"identity probe file {where}: probes/{number} ({entry['id']}): the last message "
                "must be the user's identity question"
            )
        if entry["kind"] == "system" and messages[0]["role"] != "system":
            raise ConfigError(
                f"identity probe file {where}: probes/{number} ({entry['id']}): a system probe "
                "starts with the deployment's system message"
            )
        probes.append(
            Probe(
                id=entry["id"],
                lang=entry["lang"],
                kind=entry["kind"],
                prompt=entry.get("prompt"),
                messages=tuple(messages) if messages is not None else None,
                target=target,
                names=tuple(entry.get("names", ())),
            )
        )
    return ProbeSet(data["version"], tuple(probes), where)


@cache
def builtin_probes() -> ProbeSet:
    """The probe set shipped with the package."""
    return load_probes()
