"""Vendor ids without the claim detector: the team vendors a run adds, and canonical ids.

The plugin registers a team's vendor file when pytest starts, and probe files, results and
assertions turn vendor names into ids (``"x-ai"`` -> ``"xai"``). None of that needs the
detector's compiled vendor table and rules (:mod:`.detect`, :mod:`pytest_modelprov.fastre`),
which a run that replays every observation from the verdict cache then never loads. A team
vendor file is checked here for everything building the detector's table would refuse (the
schema, its patterns, ids the built-in table or an earlier team vendor holds), with the
same messages, so a bad file still fails when pytest starts; the table is built on first
use (:func:`.detect.default_detector`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..util import schema
from ..util.safejson import loads as json_loads

__all__ = [
    "OTHER",
    "OTHER_PREFIX",
    "add_vendor",
    "add_vendors",
    "canonical_vendor",
    "load_json",
    "remove_vendors",
    "state",
    "team_vendors",
    "vendor_ids",
]

#: vendor ids of names outside the table start with this
OTHER_PREFIX = "other:"


#: the id of the bucket of every name in no table ("other:<name>" is one of them)
OTHER = "other"


SCHEMA_FILE = "identity_vendors.schema.json"


def load_json(
    path: str | Path | None, builtin: str, schema_file: str, what: str
) -> tuple[Any, str]:
    """Read, parse and validate ``path`` (or ``data/identity/<builtin>``): ``(data, where)``.

    Every problem is a ConfigError that names the file.
    """
    if path is None:
        where = f"built-in data/identity/{builtin}"
        text = files("pytest_modelprov").joinpath(f"data/identity/{builtin}").read_text("utf-8")
        # the package's own files are checked against their schemas by its tests
        # (tests/test_verdicts.py), not on every run
        return json_loads(text), where
    where = str(path)
    data = schema.read_json(path, what)
    schema.check(data, schema_file, f"{what} {where}")
    return data, where


def ids_of(vendors: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """The ids of vendors in the schema's form: ``(id -> name, synonym -> id)``."""
    names: dict[str, str] = {}
    synonyms: dict[str, str] = {}
    for vid, entry in vendors.items():
        names[vid] = entry["name"]
        for syn in entry.get("synonyms", []):
            synonyms[syn.casefold()] = vid
    return names, synonyms


def check_aliases(vid: str, entry: Mapping[str, Any], where: str) -> None:
    """ConfigError naming the vendor and ``where`` if a literal alias (a team vendor's name
    among them) is blanks only: it names nothing, and the detector starts every alias at
    its first word. (Normalising never blanks a text that is not: NFKC maps no other
    character to a space.)"""
    for key in ("aliases", "weak"):
        for text in entry.get(key, []):
            if not text.split():
                raise ConfigError(
                    f"vendor table {where}: vendors.{vid}.{key}: {text!r} is blanks only "
                    "(a team vendor's name is one of its aliases)"
                )


def check_patterns(vid: str, entry: Mapping[str, Any], where: str) -> None:
    """ConfigError naming the vendor and ``where`` unless every pattern alias compiles, as
    one alternative of the detector's pattern too, and has no capturing group."""
    for pat in entry.get("patterns", []):
        try:
            compiled = re.compile(pat["regex"])
            # the detector joins every alias into one pattern: global flags ("(?i)") are
            # an error there
            re.compile(f"(?:{pat['regex']})")
        except re.error as exc:
            raise ConfigError(
                f"vendor table {where}: vendors.{vid}.patterns: invalid regex "
                f"{pat['regex']!r}: {exc}"
            ) from None
        if compiled.groups:
            # it tells the aliases apart by the group that matched: one more group in an
            # alias reads every alias after it as the next one's vendor
            raise ConfigError(
                f"vendor table {where}: vendors.{vid}.patterns: regex {pat['regex']!r} has "
                "a capturing group; write (?:...) instead"
            )
        if _min_width(pat["regex"]) == 0:
            # found everywhere: every name in no table would be taken for it, and every
            # key-value line would name several vendors
            raise ConfigError(
                f"vendor table {where}: vendors.{vid}.patterns: regex {pat['regex']!r} can "
                "match the empty text; a pattern alias must match a name"
            )


def _min_width(regex: str) -> int:
    """The fewest characters ``regex`` (which compiles) can match: 0 for ``x?`` or ``\\b``."""
    try:
        from re import _parser  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_parse as _parser
    return int(_parser.parse(regex).getwidth()[0])


def check_new_ids(
    extra: tuple[Mapping[str, str], Mapping[str, str]],
    known: tuple[Mapping[str, str], Mapping[str, str]],
    where: str,
) -> None:
    """ConfigError unless the ids and synonyms of ``extra`` are none of ``known``'s (each
    ``(id -> name, synonym -> id)``)."""
    taken = set(known[0]) | set(known[1])
    clash = sorted(set(extra[0]) & taken) + sorted(set(extra[1]) & taken)
    if clash:
        raise ConfigError(
            f"{where}: vendor id(s) {', '.join(clash)} are already in the vendor table; "
            "choose other ids (a team vendor cannot redefine a built-in one)"
        )


def canonical(names: Mapping[str, str], synonyms: Mapping[str, str], vendor: str) -> str:
    """The canonical id of ``vendor`` among ``names`` and ``synonyms`` (see
    :meth:`.vendors.VendorTable.canonical`); ValueError if unknown."""
    key = vendor.strip().casefold()
    if key in names:
        return key
    if key in synonyms:
        return synonyms[key]
    if key == OTHER:
        return key
    if key.startswith(OTHER_PREFIX) and key[len(OTHER_PREFIX) :].strip():
        # here: it loads fastre, and most ids never need it
        from .typography import _normalise

        return OTHER_PREFIX + " ".join(_normalise(key[len(OTHER_PREFIX) :]).split())
    known = ", ".join(sorted(names))
    raise ValueError(
        f"unknown vendor id {vendor!r}; known vendor ids: {known}, other, other:<name> "
        "(add your own with modelprov_identity_vendors or identity.add_vendor)"
    )


@cache
def _builtin_ids() -> tuple[dict[str, str], dict[str, str]]:
    data, _ = load_json(None, "vendors.json", SCHEMA_FILE, "vendor table")
    return ids_of(data["vendors"])


# --------------------------------------------------------------------------------------
# team vendors: ids a team adds next to the built-in table (its own lab, its assistant)

_TEAM: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (where it came from, entry)
_TEAM_LOCK = threading.Lock()


@dataclass(frozen=True)
class TeamState:
    """The vendor ids known with the team vendors added so far, and those vendors."""

    #: every id (built-in and team) -> its name, and every synonym -> its id
    names: dict[str, str]
    synonyms: dict[str, str]
    #: the team entries as JSON, in the order they were added (among equal aliases of two
    #: team vendors, the table tries the first one's first): with the built-in table's
    #: file and the detector's code, all the default detector's table is made of. The
    #: table is built from this text (:meth:`entries`), so it is what it is cached under.
    described: str

    def entries(self) -> dict[str, dict[str, Any]]:
        """The team entries in the order they were added: id -> entry."""
        return {vid: entry for vid, entry in json.loads(self.described)}


#: made again after every change, so that looking an id up takes no lock
_current: TeamState | None = None


def with_names(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Team entries as the vendor table holds them: a team vendor's name is one of its
    aliases too ("made by Orbit AI" claims orbit)."""
    return {
        vid: {**entry, "aliases": [*entry.get("aliases", []), entry["name"]]}
        for vid, entry in entries.items()
    }


def _check_team(entries: Mapping[str, Mapping[str, Any]], where: str) -> None:
    """What :meth:`.vendors.VendorTable.with_vendors` of the built-in table would refuse of
    these team entries, in the order it would find it."""
    named = with_names(entries)
    for vid, entry in named.items():
        check_aliases(vid, entry, where)
        check_patterns(vid, entry, where)
    check_new_ids(ids_of(named), _builtin_ids(), where)


def add_vendors(source: str | Path | Mapping[str, Any]) -> list[str]:
    """Add team vendors from a file or mapping in the vendor table's form
    (``schemas/identity_vendors.schema.json``): ``{"version": "...", "vendors": {"acme":
    {"name": "Acme", "aliases": ["Acme", "Nova"], "weak": [], "patterns": []}}}``. The
    ``name`` counts as an alias too.

    Their ids are then accepted wherever a vendor id is (``own="acme"``, ``rate("acme")``)
    and claims of them are counted. Adding the same entry again changes nothing; an id of
    the built-in table, or one added before with other content, is a ConfigError that
    names the source. Returns the ids added.
    """
    global _current
    if isinstance(source, Mapping):
        where = "team vendors (identity.add_vendors)"
        schema.check(source, SCHEMA_FILE, where)
        data: Any = source
    else:
        data, where = load_json(source, "vendors.json", SCHEMA_FILE, "team vendor table")
    vendors: dict[str, dict[str, Any]] = {str(k): dict(v) for k, v in data["vendors"].items()}
    with _TEAM_LOCK:
        for vid, entry in vendors.items():
            if vid in _TEAM and _TEAM[vid][1] != entry:
                raise ConfigError(
                    f"{where}: vendor id {vid!r} was already added from {_TEAM[vid][0]} with "
                    "other names; give each team vendor one definition"
                )
        fresh = {k: v for k, v in vendors.items() if k not in _TEAM}
        # validates the new entries against the built-in table and each other
        _check_team({**{k: e for k, (_, e) in _TEAM.items()}, **fresh}, where)
        for vid, entry in fresh.items():
            _TEAM[vid] = (where, entry)
        _current = None
    return sorted(vendors)


def add_vendor(
    vendor_id: str,
    *,
    name: str | None = None,
    aliases: Iterable[str] = (),
    products: Iterable[str] = (),
    weak: Iterable[str] = (),
    synonyms: Iterable[str] = (),
) -> str:
    """Add one team vendor: ``add_vendor("acme", name="Acme Labs", aliases=["Acme"],
    products=["Nova"])``. Product and model names are aliases of the vendor; ``weak``
    aliases (common words) count only directly inside a claim frame. Returns the id."""
    entry: dict[str, Any] = {
        "name": name or vendor_id,
        "aliases": [*aliases, *products],
        "weak": list(weak),
        "synonyms": list(synonyms),
    }
    add_vendors({"version": "team", "vendors": {vendor_id: entry}})
    return vendor_id


def remove_vendors(ids: Iterable[str]) -> None:
    """Forget team vendors (the plugin does this at the end of the run that added them)."""
    global _current
    with _TEAM_LOCK:
        for vid in ids:
            _TEAM.pop(vid, None)
        _current = None


def team_vendors() -> dict[str, str]:
    """The team vendors added so far: id -> where it came from."""
    with _TEAM_LOCK:
        return {vid: where for vid, (where, _) in sorted(_TEAM.items())}


def state() -> TeamState:
    """The ids and team vendors as they are now (one object until the next change)."""
    global _current
    current = _current
    if current is None:
        with _TEAM_LOCK:
            entries = {vid: entry for vid, (_, entry) in _TEAM.items()}
            team_names, team_synonyms = ids_of(with_names(entries))
            names, synonyms = _builtin_ids()
            described = json.dumps(list(entries.items()), sort_keys=True, ensure_ascii=False)
            current = TeamState({**names, **team_names}, {**synonyms, **team_synonyms}, described)
            _current = current
    return current


def canonical_vendor(vendor: str) -> str:
    """The canonical vendor id (``"x-ai"`` -> ``"xai"``, ``"z-ai"`` -> ``"zhipu"``)."""
    now = state()
    return canonical(now.names, now.synonyms, vendor)


def vendor_ids() -> list[str]:
    """Every vendor id of the built-in table and the team vendors added."""
    return sorted(state().names)
