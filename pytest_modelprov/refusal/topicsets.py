"""Topic sets: the requests a refusal rate is measured on, shipped or your own.

A topic set is a JSON file (``schemas/refusal_topics.schema.json``) of requests per
language; the shipped ones are under ``data/refusal/topics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..util import schema
from ..util.safejson import loads as json_loads

__all__ = [
    "Topic",
    "TopicSet",
    "available_topics",
    "load_topics",
    "topics",
]


@dataclass(frozen=True)
class Topic:
    """One request in one language; ``id`` is shared by its translations."""

    id: str
    lang: str
    prompt: str
    subject: str = ""


@dataclass(frozen=True)
class TopicSet:
    name: str
    version: str
    topics: tuple[Topic, ...]
    description: str = ""
    control_for: str | None = None

    @property
    def langs(self) -> list[str]:
        return sorted({t.lang for t in self.topics})

    def __len__(self) -> int:
        return len(self.topics)

    def select(self, langs: Sequence[str]) -> TopicSet:
        wanted = set(langs)
        missing = sorted(wanted - set(self.langs))
        if missing:
            raise ConfigError(
                f"topic set {self.name!r} has no prompts in {missing}; it has {self.langs}"
            )
        chosen = tuple(t for t in self.topics if t.lang in wanted)
        return TopicSet(self.name, self.version, chosen, self.description, self.control_for)


def _data_dir() -> Any:
    return resources.files("pytest_modelprov").joinpath("data/refusal/topics")


def available_topics() -> list[str]:
    """Names of the topic sets shipped with the package."""
    return list(_shipped_names())


@cache
def _shipped_names() -> tuple[str, ...]:
    # listed once a process, as each set is read once (_shipped_topics): the package's
    # data does not change under a run, and every topics() call asks
    return tuple(
        sorted(
            p.name.removesuffix(".json") for p in _data_dir().iterdir() if p.name.endswith(".json")
        )
    )


def _parse_topics(data: Any, where: str, *, checked: bool = False) -> TopicSet:
    if not checked:
        schema.check(data, "refusal_topics.schema.json", where)
    topics = tuple(
        Topic(f"{entry['id']}", lang, prompt, entry.get("subject", ""))
        for entry in data["topics"]
        for lang, prompt in sorted(entry["prompts"].items())
    )
    ids = [e["id"] for e in data["topics"]]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{where}: topic ids must be unique; repeated: {dupes}")
    return TopicSet(
        data["name"], data["version"], topics, data.get("description", ""), data.get("control_for")
    )


def load_topics(path: str | Path) -> TopicSet:
    """Your own topic set from a JSON file (``refusal_topics.schema.json``)."""
    return _parse_topics(schema.read_json(path, "refusal topic set"), str(path))


def topics(name: str, langs: Sequence[str] | None = None) -> TopicSet:
    """A shipped topic set (see :func:`available_topics`) or a path to your own file."""
    if name.endswith(".json") or "/" in name:
        chosen = load_topics(name)
    else:
        if name not in _shipped_names():
            raise ConfigError(
                f"unknown refusal topic set {name!r}; shipped sets: {available_topics()} "
                f"(or pass a path to your own JSON file)"
            )
        chosen = _shipped_topics(name)
    return chosen.select(langs) if langs is not None else chosen


@cache
def _shipped_topics(name: str) -> TopicSet:
    ref = _data_dir().joinpath(f"{name}.json")
    # the package's own sets are checked against the schema by its tests
    # (tests/test_verdicts.py), not on every run
    data = json_loads(ref.read_text("utf-8"))
    return _parse_topics(data, f"data/refusal/topics/{name}", checked=True)
