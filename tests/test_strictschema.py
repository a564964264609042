"""util/strictschema against jsonschema, the oracle: same decision, same errors, same order.

The package validates its untrusted reads with its own small validator (no jsonschema import
on a warm run). Here jsonschema's Draft202012Validator judges the same instances: for every
shipped schema, instances generated from the schema and mutated at random, and the real
files the package and its examples use, mutated too. Both must agree on every instance on
valid or not and on the whole list of (path, message) in jsonschema's order, which is what
``schema.problems`` and ``schema.check`` report.
"""

from __future__ import annotations

import copy
import functools
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import pytest_modelprov
from pytest_modelprov.errors import ConfigError
from pytest_modelprov.util import schema
from pytest_modelprov.util.strictschema import MAX_MESSAGE, SchemaError, Validator, shorten

PACKAGE = Path(pytest_modelprov.__file__).parent
REPO = PACKAGE.parent
SCHEMAS = sorted(p.name for p in (PACKAGE / "schemas").glob("*.schema.json"))

#: real documents for each schema: the package's data files and the example suite's
REAL: dict[str, list[Path]] = {
    "identity_vendors.schema.json": [
        PACKAGE / "data/identity/vendors.json",
        REPO / "examples/identity_vendors.json",
    ],
    "identity_probes.schema.json": [PACKAGE / "data/identity/probes.json"],
    "refusal_model.schema.json": [PACKAGE / "data/refusal/weights.json"],
    "lexical_prompts.schema.json": [PACKAGE / "data/lexical/prompts.json"],
    "refusal_topics.schema.json": sorted((PACKAGE / "data/refusal/topics").glob("*.json")),
    "server_script.schema.json": [REPO / "examples/local_script.json"],
    "baseline.schema.json": sorted((REPO / "examples/modelprov-baselines").rglob("*.json")),
}

#: strings that match (or nearly match) the schemas' patterns, and some that do not
STRINGS = [
    "",
    " ",
    "a",
    "x" * 65,
    "v1.2",
    "-v1",
    "acme",
    "Acme Labs",
    "en",
    "zh-Hans",
    "pt-BR",
    "EN",
    "e",
    "two words",
    "one two three four",
    "tab\tinside",
    "0" * 64,
    "f" * 63,
    "g" * 64,
    "a_b.c-d",
    "a:b",
    "2026-12-02T21:00:00Z",
    "\u4f60\u597d",
]


def _load(name: str) -> Any:
    return json.loads((PACKAGE / "schemas" / name).read_text(encoding="utf-8"))


def _errors_jsonschema(validator: Any, instance: Any) -> list[tuple[list[Any], str]]:
    # a message over MAX_MESSAGE characters is cut the same way (its own test is below)
    return [(list(e.absolute_path), shorten(e.message)) for e in validator.iter_errors(instance)]


def _errors_strict(validator: Validator, instance: Any) -> list[tuple[list[Any], str]]:
    return [(list(e.absolute_path), e.message) for e in validator.iter_errors(instance)]


def _same(oracle: Any, ours: Validator, instance: Any) -> bool:
    """Assert agreement; returns whether the instance was valid."""
    theirs = _errors_jsonschema(oracle, instance)
    mine = _errors_strict(ours, instance)
    # additionalProperties with a schema visits extras in set order in jsonschema: compare
    # errors at different paths as a multiset, errors at one path in order
    key = lambda e: [str(p) for p in e[0]]  # noqa: E731
    assert sorted(mine, key=key) == sorted(theirs, key=key), json.dumps(instance)[:300]
    assert ours.is_valid(instance) == (not theirs)
    return not theirs


# -- generating instances from a schema ------------------------------------------------------


class Generator:
    def __init__(self, root: Any, rng: random.Random) -> None:
        self.root, self.rng = root, rng

    def resolve(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 10:
            target: Any = self.root
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = {**{k: v for k, v in node.items() if k != "$ref"}, **target}
            seen += 1
        return node

    def make(self, node: Any, depth: int = 0) -> Any:
        rng = self.rng
        node = self.resolve(node)
        if node is True or not isinstance(node, dict):
            return rng.choice([1, "s", None, [], {}])
        if node is False:
            return None
        if "const" in node:
            return copy.deepcopy(node["const"])
        if "enum" in node:
            return copy.deepcopy(rng.choice(node["enum"]))
        for key in ("oneOf", "anyOf", "allOf"):
            if key in node and rng.random() < 0.8:
                rest = {k: v for k, v in node.items() if k != key}
                parts = node[key] if key == "allOf" else [rng.choice(node[key])]
                for part in parts:
                    rest = self.merge(rest, self.resolve(part))
                return self.make(rest, depth)
        if "if" in node and rng.random() < 0.8:
            rest = {k: v for k, v in node.items() if k not in ("if", "then", "else")}
            branch = rng.choice([node.get("then", {}), node.get("else", {})])
            if branch is node.get("then"):
                rest = self.merge(rest, node["if"])
            return self.make(self.merge(rest, self.resolve(branch)), depth)
        types = node.get("type", rng.choice(["object", "string", "integer", "array"]))
        kind = rng.choice(types) if isinstance(types, list) else types
        if depth > 6:
            kind = "null" if isinstance(types, list) and "null" in types else kind
        if kind == "object":
            out: dict[str, Any] = {}
            props = node.get("properties", {})
            for name, sub in props.items():
                if name in node.get("required", []) or rng.random() < 0.5:
                    out[name] = self.make(sub, depth + 1)
            extra = node.get("additionalProperties", True)
            for name in node.get("required", []):
                if name not in out:  # required but not described: any value, or the extras'
                    out[name] = self.make(extra if isinstance(extra, dict) else {}, depth + 1)
            if isinstance(extra, dict) and rng.random() < 0.8:
                names = self.resolve(node.get("propertyNames", {}))
                for _ in range(rng.randint(node.get("minProperties", 1), 3)):
                    out[self.string(names)] = self.make(extra, depth + 1)
            return out
        if kind == "array":
            low = node.get("minItems", 0)
            high = low if depth > 3 else min(node.get("maxItems", low + 2), low + 2)
            items = node.get("items", {"type": "string"})
            return [self.make(items, depth + 1) for _ in range(rng.randint(low, max(low, high)))]
        if kind == "string":
            return self.string(node)
        if kind in ("integer", "number"):
            low = node.get("minimum", node.get("exclusiveMinimum", -3))
            high = node.get("maximum", node.get("exclusiveMaximum", low + 10))
            if kind == "number" and rng.random() < 0.7:
                return rng.uniform(low, max(low, high))
            return rng.randint(int(low), int(max(low, high)))
        if kind == "boolean":
            return rng.random() < 0.5
        return None

    @staticmethod
    def merge(node: dict[str, Any], more: Any) -> dict[str, Any]:
        if not isinstance(more, dict):
            return node
        out = {**node, **{k: v for k, v in more.items() if k not in ("required", "properties")}}
        out["required"] = [*node.get("required", []), *more.get("required", [])]
        out["properties"] = {**node.get("properties", {}), **more.get("properties", {})}
        return out

    def string(self, node: Any) -> str:
        """Mostly a string that matches the node's pattern and length (when one exists)."""
        rng = self.rng
        low, high = node.get("minLength", 0), node.get("maxLength", 100)
        fits = _fitting(node.get("pattern", ""), low, high)
        if fits and rng.random() < 0.85:
            return rng.choice(fits)
        if rng.random() < 0.3:
            return rng.choice(STRINGS)
        size = rng.randint(low, max(low, min(high, low + 8)))
        return "".join(rng.choice("abc xyz") for _ in range(size))


@functools.cache
def _fitting(pattern: str, low: int, high: int) -> list[str]:
    return [s for s in STRINGS if low <= len(s) <= high and re.search(pattern, s) is not None]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*at, i))


REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    0.5,
    -0.5,
    2.5e9,
    "",
    "x",
    "v2",
    "zh",
    "0" * 64,
    [],
    ["a"],
    [1, 2],
    {},
    {"x": 1},
]


def mutate(value: Any, rng: random.Random) -> Any:
    """One random edit somewhere in a copy of ``value``: a replaced, deleted or added part."""
    value = copy.deepcopy(value)
    paths = list(_paths(value))
    at = rng.choice(paths)
    if not at:
        return rng.choice([*REPLACEMENTS, value])
    parent = value
    for part in at[:-1]:
        parent = parent[part]
    last = at[-1]
    roll = rng.random()
    if roll < 0.55:
        parent[last] = copy.deepcopy(rng.choice(REPLACEMENTS + STRINGS))
    elif roll < 0.75:
        del parent[last]
    elif roll < 0.85 and isinstance(parent, dict):
        parent[rng.choice(["extra", "format", "kind", "x-note"])] = rng.choice(REPLACEMENTS)
    elif isinstance(parent[last], list):
        parent[last] = parent[last] * 2 + parent[last][:1]
    elif isinstance(parent[last], str):
        parent[last] = parent[last] + rng.choice([" ", "X", "-", "\u00e9"])
    elif isinstance(parent[last], (int, float)) and not isinstance(parent[last], bool):
        parent[last] = -parent[last] if rng.random() < 0.5 else float(parent[last])
    else:
        parent[last] = rng.choice(STRINGS)
    return value


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_shipped_schema_loads_and_is_valid_2020_12(name):
    jsonschema.Draft202012Validator.check_schema(_load(name))
    assert isinstance(schema.validator(name), Validator)


@pytest.mark.parametrize("name", SCHEMAS)
def test_generated_and_mutated_instances_agree_with_jsonschema(name):
    root = _load(name)
    oracle = jsonschema.Draft202012Validator(root)
    ours = Validator(root, name)
    rng = random.Random(name)
    gen = Generator(root, rng)
    verdicts = []
    for _ in range(150):
        instance = gen.make(root)
        verdicts.append(_same(oracle, ours, instance))
        for _ in range(3):
            instance = mutate(instance, rng)
            verdicts.append(_same(oracle, ours, instance))
    # both kinds occurred, so the agreement covers accepting and refusing
    assert any(verdicts), f"{name}: no generated instance was valid"
    assert not all(verdicts), f"{name}: no generated instance was invalid"


@pytest.mark.parametrize(
    ("name", "path"),
    [(name, path) for name, paths in REAL.items() for path in paths],
    ids=lambda x: x if isinstance(x, str) else x.name,
)
def test_real_files_and_their_mutations_agree_with_jsonschema(name, path):
    root = _load(name)
    oracle = jsonschema.Draft202012Validator(root)
    ours = Validator(root, name)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert _same(oracle, ours, document), f"{path} does not match {name}"
    rng = random.Random(str(path))
    invalid = 0
    for _ in range(80):
        invalid += not _same(oracle, ours, mutate(document, rng))
    assert invalid > 10


def test_the_first_problem_is_jsonschemas_first_after_the_same_sort():
    """What users read: schema.check's first (path, message) and the count of the rest."""
    root = _load("baseline.schema.json")
    oracle = jsonschema.Draft202012Validator(root)
    document = json.loads(REAL["baseline.schema.json"][0].read_text(encoding="utf-8"))
    rng = random.Random(7)
    compared = 0
    for _ in range(120):
        broken = document
        for _ in range(rng.randint(1, 4)):
            broken = mutate(broken, rng)
        theirs = sorted(oracle.iter_errors(broken), key=lambda e: list(map(str, e.absolute_path)))
        expected = [
            ("/".join(str(p) for p in e.absolute_path) or "(top level)", shorten(e.message))
            for e in theirs
        ]
        assert schema.problems(broken, "baseline.schema.json") == expected
        compared += bool(expected)
    assert compared > 40


EDGE_SCHEMAS: list[dict[str, Any]] = [
    {"enum": [1, "a", [True], {"k": None}]},
    {"const": 1},
    {"const": False},
    {"type": ["integer", "null"], "minimum": 0, "exclusiveMaximum": 3},
    {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    {"oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "string"}]},
    {"anyOf": [{"type": "integer"}, {"minLength": 2}]},
    {"not": {"type": "string"}},
    {"type": "array", "contains": {"const": 3}, "maxItems": 2},
    {"type": "array", "items": False},
    {"type": "array", "items": {"type": "array", "minItems": 1, "items": {"minimum": 0}}},
    {"propertyNames": {"pattern": "^[a-z]+$", "maxLength": 3}, "maxProperties": 2},
    {"minProperties": 1, "additionalProperties": {"type": "integer"}},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {
        "if": {"properties": {"kind": {"const": "x"}}, "required": ["kind"]},
        "then": {"required": ["x"]},
        "else": {"required": ["y"]},
    },
    {"$defs": {"pos": {"type": "integer", "minimum": 1}}, "items": {"$ref": "#/$defs/pos"}},
    {"allOf": [{"minLength": 2}, {"maxLength": 0}, {"pattern": "b"}]},
    {"properties": {"a": False, "b": True}},
]

EDGE_INSTANCES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    1.0,
    2,
    3,
    -1,
    0.5,
    "",
    "a",
    "ab",
    "abcd",
    [],
    [3],
    [3, 3, 3],
    [[]],
    [[-1, 2]],
    [0, 1],
    [True],
    {},
    {"k": None},
    {"a": 1},
    {"a": "s", "b": 2},
    {"abcd": 1, "A": 2, "x": "y"},
    {"kind": "x"},
    {"kind": "x", "x": 1},
    {"kind": "z"},
    {"y": 1},
]


@pytest.mark.parametrize("root", EDGE_SCHEMAS, ids=lambda s: json.dumps(s)[:40])
def test_each_keyword_agrees_with_jsonschema_on_edge_cases(root):
    oracle = jsonschema.Draft202012Validator(root)
    ours = Validator(root)
    verdicts = [_same(oracle, ours, instance) for instance in EDGE_INSTANCES]
    assert any(verdicts) and not all(verdicts)


@pytest.mark.parametrize(
    ("root", "refused"),
    [
        ({"uniqueItems": True}, "'uniqueItems' is not implemented"),
        ({"patternProperties": {"^a": {}}}, "'patternProperties' is not implemented"),
        ({"properties": {"a": {"requird": ["b"]}}}, "#/properties/a/requird"),
        ({"prefixItems": [{}]}, "'prefixItems' is not implemented"),
        ({"items": {"$ref": "other.json#/x"}}, "not a pointer into this document"),
        ({"$ref": "#/$defs/missing"}, "points at nothing"),
        ({"then": {"required": ["a"]}}, "without 'if'"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "only https://"),
        ({"type": "text"}, "must be a type name"),
        ({"minLength": -1}, "must be a count"),
        ({"pattern": "("}, "is not a regular expression"),
        ({"dependentRequired": {"a": ["b"]}}, "'dependentRequired' is not implemented"),
        ({"unevaluatedProperties": False}, "'unevaluatedProperties' is not implemented"),
        ({"properties": {"a": {"$id": "urn:x", "$ref": "#/$defs/y"}}}, "$id below the root"),
        ({"items": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}, "below the root"),
        ({"$defs": {"unused": {"minContains": 1}}}, "#/$defs/unused/minContains"),
        ({"items": {"$defs": {"deep": {"uniqueItems": True}}}}, "#/items/$defs/deep/uniqueItems"),
        ({"$defs": []}, "must be an object of schemas"),
        ({"properties": {"a": {}}, "$ref": "#/properties"}, "not a schema"),
        ({"$anchor": "a"}, "'$anchor' is not implemented"),
    ],
)
def test_a_schema_with_anything_it_does_not_enforce_is_refused_at_load(root, refused):
    with pytest.raises(SchemaError, match="does not enforce it") as raised:
        Validator(root, "schemas/x.json")
    assert refused in str(raised.value)
    assert "schemas/x.json" in str(raised.value)


def test_annotations_and_format_are_accepted_and_assert_nothing():
    root = {
        "title": "t",
        "description": "d",
        "$comment": "c",
        "x-checked-by": "numpy",
        "format": "date-time",
        "examples": [1],
        "default": 2,
    }
    ours = Validator(root)
    assert ours.is_valid("not a date") and ours.is_valid(3)


def test_the_warm_path_modules_do_not_import_jsonschema(pytester):
    """util.schema (and so every read path) runs without jsonschema in the process."""
    pytester.makepyfile(
        check="""
        import sys
        from pytest_modelprov.util import schema
        print(schema.problems({}, "baseline.schema.json")[0])
        print("jsonschema" in sys.modules)
        """
    )
    result = pytester.runpython(pytester.path / "check.py")
    assert result.outlines[-1] == "False"
    assert "is a required property" in result.outlines[-2]


def test_the_package_needs_no_jsonschema_installed(pytester):
    """jsonschema is a test dependency only: every module imports and every schema checks
    with it unimportable."""
    pytester.makepyfile(
        check="""
        import importlib, pkgutil, sys
        sys.modules["jsonschema"] = None  # import jsonschema now raises ImportError
        import pytest_modelprov
        from pytest_modelprov.util import schema
        names = [m.name for m in pkgutil.walk_packages(pytest_modelprov.__path__, "pytest_modelprov.")]
        for name in names:
            importlib.import_module(name)
        from importlib.resources import files
        for path in files("pytest_modelprov").joinpath("schemas").iterdir():
            assert schema.problems(None, path.name), path.name
        print(len(names), "modules")
        """
    )
    result = pytester.runpython(pytester.path / "check.py")
    assert result.ret == 0, result.errlines[-5:]
    assert int(result.outlines[-1].split()[0]) > 50


def test_a_pytest_start_with_the_plugin_imports_no_validator_and_no_numpy(pytester, monkeypatch):
    """Every pytest start imports the plugin (and util.schema): the validator is imported
    when something is first checked, numpy and jsonschema not at all."""
    log = pytester.path / "modules.txt"
    monkeypatch.setenv("MODULES_LOG", str(log))
    pytester.makepyfile(
        modules_seen="""
        import os, sys
        def pytest_unconfigure(config):
            with open(os.environ["MODULES_LOG"], "w", encoding="utf-8") as out:
                out.write(" ".join(sorted(sys.modules)))
        """,
        test_nothing="def test_nothing():\n    pass\n",
    )
    pytester.runpytest_subprocess("-p", "modules_seen").assert_outcomes(passed=1)
    modules = set(log.read_text(encoding="utf-8").split())
    assert "pytest_modelprov.util.schema" in modules  # control: the plugin was loaded
    assert not modules & {"pytest_modelprov.util.strictschema", "numpy", "jsonschema"}


# -- where jsonschema (Python's re, Python's repr) is not the standard -----------------------


def _shipped_patterns() -> list[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in SCHEMAS:
        walk(_load(name))
    return sorted(found)


#: one string per anchored shipped pattern that it accepts
ANCHORED_OK = ["0" * 64, "acme", "en", "zh-Hans", "a-1", "gpt-4o.mini+x", "one two", "id:a"]


@pytest.mark.parametrize("pattern", [p for p in _shipped_patterns() if p.endswith("$")])
def test_an_anchored_shipped_pattern_refuses_a_trailing_newline(pattern):
    """JSON Schema's patterns are ECMA-262, where ``$`` is the end of the string; Python's
    ``$`` (and so jsonschema's) also matches before a final newline, which let an id, a
    language tag or a 64-hex key end in ``\\n``. Here we differ from jsonschema on purpose."""
    fits = [s for s in ANCHORED_OK if re.search(pattern, s)]
    assert fits, f"no sample string fits {pattern}"
    oracle = jsonschema.Draft202012Validator({"pattern": pattern})
    ours = Validator({"pattern": pattern})
    for s in fits:
        assert ours.is_valid(s) and oracle.is_valid(s)
        assert oracle.is_valid(s + "\n")  # Python's re: the hole this test is about
        if oracle.is_valid(s + "\n\n"):
            # the pattern's own class takes a newline ("[^ ]"): ECMA-262 accepts it as well
            assert ours.is_valid(s + "\n")
            continue
        assert [(p.absolute_path, p.message) for p in ours.iter_errors(s + "\n")] == [
            ((), f"{s + chr(10)!r} does not match {pattern!r}")
        ]


def test_a_topic_set_name_and_language_with_a_trailing_newline_are_refused():
    """The same through a shipped schema and schema.problems, as a topic set from elsewhere."""
    path = REAL["refusal_topics.schema.json"][0]
    document = json.loads(path.read_text(encoding="utf-8"))
    assert schema.problems(document, "refusal_topics.schema.json") == []
    document["name"] += "\n"
    prompts = document["topics"][0]["prompts"]
    lang = next(iter(prompts))
    prompts[lang + "\n"] = prompts.pop(lang)
    found = schema.problems(document, "refusal_topics.schema.json")
    assert [at for at, _ in found] == ["name", "topics/0/prompts"], found
    assert all("does not match" in message for _, message in found)


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("^a[$]\\$$", ["a$$"], ["a$$\n", "a$"]),  # a class's and an escaped $ stay literal
        ("^[]$]x$", ["]x", "$x"], ["]x\n"]),  # Python reads a leading ] as a member
        ("(^a$)|(^b$)", ["a", "b"], ["a\n", "b\n", "ab"]),
        ("\\S", ["x", " x"], ["", " \t"]),
    ],
)
def test_dollar_is_the_end_of_the_string_and_the_rest_is_unchanged(pattern, yes, no):
    oracle = jsonschema.Draft202012Validator({"pattern": pattern})
    ours = Validator({"pattern": pattern})
    for s in yes:
        assert ours.is_valid(s) and oracle.is_valid(s), s
    for s in no:
        assert not ours.is_valid(s), s
        # jsonschema differs only where Python's $ matched before a final newline
        assert oracle.is_valid(s) == (s.endswith("\n") and s.rstrip("\n") in yes), s


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("^\\d+$", "\\d"),  # Python: any Unicode digit ("\u0661"); ECMA-262: 0-9
        ("^\\w+$", "\\w"),
        ("[^\\W]", "\\W"),
        ("\\bx", "\\b"),
        ("^a.b$", "'.'"),  # Python's . matches \r and \u2028, ECMA-262's does not
        ("(?m)^a$", "inline flag"),
        ("(?i:a)", "inline flag"),
    ],
)
def test_a_pattern_whose_python_meaning_is_not_ecmas_is_refused_at_load(pattern, why):
    with pytest.raises(SchemaError, match="does not enforce it") as raised:
        Validator({"properties": {"id": {"pattern": pattern}}}, "schemas/x.json")
    assert "#/properties/id/pattern" in str(raised.value)
    assert why in str(raised.value)


def test_a_value_nested_deeper_than_python_can_walk_is_a_problem_not_a_crash():
    """Every file read is depth-bounded first (util/safejson), but the validator is public
    (Fingerprint.from_dict, baseline adapters): a value nested 5000 deep, whose message
    jsonschema and we would quote with repr(), is one clear problem, not a RecursionError."""
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(RecursionError):
        list(jsonschema.Draft202012Validator({"type": "object"}).iter_errors(deep))
    for name in ("baseline.schema.json", "cache_entry.schema.json"):
        found = schema.problems(deep, name)
        assert found == [("(top level)", found[0][1])] and "nested too deeply" in found[0][1]
        assert not schema.validator(name).is_valid({"key": deep})
    at_key = schema.problems({"label": deep}, "baseline.schema.json")
    assert any("nested too deeply" in message for _, message in at_key), at_key


def test_a_message_quoting_a_large_value_keeps_its_start_and_what_was_wrong():
    """A baseline edited by hand so that its prompts are an object: jsonschema's message
    quotes all of them (tens of KB in one ConfigError); ours keeps both ends of it."""
    path = REAL["baseline.schema.json"][0]
    document = json.loads(path.read_text(encoding="utf-8"))
    prompts = document["payload"]["prompts"]
    assert isinstance(prompts, list) and len(json.dumps(prompts)) > 20 * MAX_MESSAGE
    document["payload"]["prompts"] = dict(enumerate(prompts))
    root = _load("baseline.schema.json")
    (full,) = [e.message for e in jsonschema.Draft202012Validator(root).iter_errors(document)]
    (problem,) = Validator(root).iter_errors(document)
    head, rest = problem.message.split(" ... (", 1)
    count, tail = rest.split(" characters left out) ... ", 1)
    assert full.startswith(head) and full.endswith(tail) and tail.endswith("not of type 'array'")
    assert len(head) + int(count.replace(",", "")) + len(tail) == len(full)
    assert len(problem.message) < MAX_MESSAGE + 60
    with pytest.raises(ConfigError, match=re.escape("at payload/prompts: {0: {")) as raised:
        schema.check(document, "baseline.schema.json", f"baseline {path.name}")
    assert len(str(raised.value)) < 2 * MAX_MESSAGE


# -- the quick predicates (is_valid) against the errors they stand for -----------------------


def _check_message(name: str, document: Any) -> str | None:
    try:
        schema.check(document, name, "baseline b.json")
    except ConfigError as exc:
        return str(exc)
    return None


def _message_by_errors(validator: Validator, name: str, document: Any) -> str | None:
    """schema.check's message as it was made before the predicates: from the errors alone."""
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    found = [
        ("/".join(str(p) for p in e.absolute_path) or "(top level)", e.message) for e in errors
    ]
    if not found:
        return None
    at, message = found[0]
    more = f" (and {len(found) - 1} more problems)" if len(found) > 1 else ""
    return f"baseline b.json does not match schemas/{name} at {at}: {message}{more}"


@pytest.mark.parametrize("name", sorted(REAL))
def test_the_predicates_refuse_what_the_errors_refuse_with_the_same_message(name):
    """schema.check asks the predicates first and lists the errors only when they refuse:
    every real file and 300 mutations of each are refused (or not) exactly as the errors
    alone decide, with the same message, and the predicates decide without falling back."""
    validator = schema.validator(name)
    refused = 0
    for path in REAL[name]:
        document = json.loads(path.read_text(encoding="utf-8"))
        rng = random.Random(f"predicates {path}")
        for instance in [document, *(mutate(document, rng) for _ in range(300))]:
            expected = _message_by_errors(validator, name, instance)
            assert validator._root.valid(instance, 0) == (expected is None)
            assert _check_message(name, instance) == expected
            refused += expected is not None
    assert refused > 60 * len(REAL[name])


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 100, 250, 300, 330, 360, 400, 2000])
def test_values_nested_past_the_predicates_depth_are_decided_by_the_errors(depth):
    """Past MAX_DEPTH levels the predicates stop and iter_errors decides (its recursion, not
    theirs): a value nested just deep enough to exhaust the one but not the other must not
    be accepted by is_valid where iter_errors reports it too deep."""
    ours = Validator(
        {"$defs": {"n": {"type": "array", "items": {"$ref": "#/$defs/n"}}}, "$ref": "#/$defs/n"}
    )
    deep: Any = []
    for _ in range(depth):
        deep = [deep]
    assert ours.is_valid(deep) == (not list(ours.iter_errors(deep)))
    assert ours.is_valid([*deep, 1]) is False
