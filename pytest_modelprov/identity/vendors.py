# ruff: noqa: RUF001, RUF003
# (the patterns below are written in the languages they match: full-width punctuation and
# Cyrillic letters are intended, not look-alikes of ASCII)
"""Vendor tables, and the normalisation every text gets before names are looked up.

A :class:`VendorTable` maps each vendor id to its aliases (products, models, spellings in
Latin, CJK, kana, hangul, Cyrillic and Arabic), with weak aliases (common words) that count
only inside a tight frame; the built-in table is ``data/identity/vendors.json``
(``schemas/identity_vendors.schema.json``). Texts are normalised (typographic marks mapped,
NFKC, casefold, markdown emphasis removed) and split into sentences and clauses here, so
that the table and the detector see the same text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import fastre
from .team import (
    OTHER,
    OTHER_PREFIX,
    SCHEMA_FILE,
    canonical,
    check_aliases,
    check_new_ids,
    check_patterns,
    ids_of,
    load_json,
)
from .typography import _normalise, typographic

__all__ = [
    "OTHER",
    "OTHER_PREFIX",
    "VendorTable",
    "load_vendors",
]


@dataclass(frozen=True)
class Alias:
    vendor: str
    text: str  # literal alias (casefolded) or a regex
    weak: bool
    regex: bool = False

    def pattern(self) -> str:
        body = self.text if self.regex else r"\s*".join(re.escape(w) for w in self.text.split())
        head = self.text[0]
        tail = self.text[-1] if not self.regex else "a"
        return _boundary_before(head) + body + _boundary_after(tail)


def _script(ch: str) -> str:
    if ch.isascii():
        return "latin" if ch.isalnum() else "other"
    name = unicodedata.name(ch, "")
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    if name.startswith("KATAKANA") or ch == "ー":
        return "katakana"
    if name.startswith("HANGUL"):
        return "hangul"
    if name.startswith("LATIN"):
        return "latin"
    return "other"


def _boundary_before(ch: str) -> str:
    # Python's \b sees CJK as word characters, so "我是Qwen" has no boundary before Qwen:
    # lookarounds on the alias's own script work next to any other script
    script = _script(ch)
    if script == "latin":
        return r"(?<![a-z0-9_\-à-ÿ])"
    if script == "cyrillic":
        return r"(?<![а-яё\-])"
    if script == "katakana":
        return r"(?<![ァ-ヺー])"
    if script == "hangul":
        return r"(?<![가-힣])"
    return ""


def _boundary_after(ch: str) -> str:
    # digits may follow a Latin alias (Qwen3.5, GPT-4o); Cyrillic and Korean inflect or take
    # particles after the name (Клода, Claude가), so only Latin and katakana are closed
    script = _script(ch)
    if script == "latin":
        return r"(?![a-zà-ÿ])"
    if script == "katakana":
        return r"(?![ァ-ヺー])"
    return ""


_SCHEMA_FILE = SCHEMA_FILE


@dataclass(frozen=True)
class VendorTable:
    """Vendor ids with their names, id synonyms and aliases."""

    version: str
    names: Mapping[str, str]
    synonyms: Mapping[str, str]  # synonym id -> canonical id
    aliases: tuple[Alias, ...]

    def canonical(self, vendor: str) -> str:
        """The canonical id for ``vendor`` (``"x-ai"`` -> ``"xai"``); ValueError if unknown.

        ``"other"`` (any name in no table) and ``"other:<name>"`` (one such name) are ids too.
        """
        return canonical(self.names, self.synonyms, vendor)

    def with_vendors(self, vendors: Mapping[str, Mapping[str, Any]], where: str) -> VendorTable:
        """This table plus vendors in the schema's form; their aliases win over equal ones
        of this table (a team's assistant called "Nova" is theirs, not Amazon's)."""
        extra = _table_from({"version": self.version, "vendors": vendors}, where)
        check_new_ids((extra.names, extra.synonyms), (self.names, self.synonyms), where)
        texts = {a.text for a in extra.aliases if not a.regex}
        kept = tuple(a for a in self.aliases if a.regex or a.text not in texts)
        return VendorTable(
            self.version,
            {**self.names, **extra.names},
            {**self.synonyms, **extra.synonyms},
            kept + extra.aliases,
        )

    def merged(self, extra: Mapping[str, Iterable[str]]) -> VendorTable:
        """This table plus ``{vendor: [alias, ...]}`` (new vendors are created)."""
        names = dict(self.names)
        added: list[Alias] = []
        for vendor, texts in extra.items():
            vid = vendor.strip().casefold()
            names.setdefault(vid, vendor)
            for text in texts:
                norm = " ".join(_normalise(text).split())
                if not norm:
                    raise ValueError(f"empty alias for vendor {vendor!r}")
                added.append(Alias(vid, norm, weak=False))
        # the names given here win over equal aliases of the table
        texts = {a.text for a in added}
        kept = tuple(a for a in self.aliases if a.regex or a.text not in texts)
        return VendorTable(self.version, names, dict(self.synonyms), kept + tuple(added))


def load_vendors(path: str | Path | None = None) -> VendorTable:
    """Load a vendor alias table (the built-in one when ``path`` is None)."""
    data, where = load_json(path, "vendors.json", _SCHEMA_FILE, "vendor table")
    return _table_from(data, where)


def _table_from(data: Mapping[str, Any], where: str) -> VendorTable:
    aliases: list[Alias] = []
    for vid, entry in data["vendors"].items():
        check_aliases(vid, entry, where)
        for text in entry.get("aliases", []):
            aliases.append(Alias(vid, _normalise(text), weak=False))
        for text in entry.get("weak", []):
            aliases.append(Alias(vid, _normalise(text), weak=True))
        check_patterns(vid, entry, where)
        for pat in entry.get("patterns", []):
            aliases.append(Alias(vid, pat["regex"], weak=bool(pat.get("weak")), regex=True))
    names, synonyms = ids_of(data["vendors"])
    return VendorTable(str(data["version"]), names, synonyms, tuple(aliases))


_MARKDOWN = fastre.compile(r"\*+|`+|~~|(?<!\w)__|__(?!\w)|^\s*#+\s*|^\s*>\s*", re.M)


# NFKC turns the full-width ！？ into ASCII, and CJK text puts no space after them
_SENTENCE = fastre.compile(
    r"(?<=[.!?…])\s+|(?<=[。！？])|(?<=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af][!?])|\n+"
)


# a dash splits too, except the Russian copula dash "Я — X"
_CLAUSE_PUNCT = fastre.compile(r"[,;:，；、：]|(?<!я)\s[—–]\s")


# contrast connectors start a new clause (and are kept with it, so "but rather X" is seen)
_CONNECTOR = fastre.compile(
    r"(?=\b(?:but|however|mais|aber|sondern|pero|sino|mas|ma|nhưng|tuy nhiên)\b)"
    r"|(?=(?<![а-яё])(?:но|а)(?![а-яё]))"
    r"|(?=但是|不过|不過|然而|而是|而不是|しかし|하지만|그러나|لكن)"
)


def _sentences(text: str) -> list[str]:
    clean = _MARKDOWN.sub("", typographic(text))
    return [s.strip() for s in _SENTENCE.split(clean) if s and s.strip()]


def _clauses(sentence: str) -> list[str]:
    out: list[str] = []
    for part in _CLAUSE_PUNCT.split(sentence):
        pieces = [p for p in _CONNECTOR.split(part) if p is not None]
        out.extend(p.strip() for p in pieces if p.strip())
    return out
