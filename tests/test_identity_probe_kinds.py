"""The presupposition and system-prompt probes: the shipped set, the loader, the scoring."""

from __future__ import annotations

import json

import pytest

from pytest_modelprov.errors import ConfigError
from pytest_modelprov.identity import builtin_probes, detect_claims, load_probes


def test_both_kinds_are_shipped_in_every_language():
    probes = builtin_probes()
    assert len(probes.languages) == 13
    for lang in probes.languages:
        mine = [p for p in probes.probes if p.lang == lang]
        presuppose = [p for p in mine if p.kind == "presuppose"]
        system = [p for p in mine if p.kind == "system"]
        assert {p.target for p in presuppose} >= {"openai", "anthropic"}, lang
        assert len(system) == 1, lang
        (item,) = system
        assert item.messages is not None and item.messages[0]["role"] == "system"
        # the system prompt gives the names the probe is scored against
        assert any(name in item.messages[0]["content"] for name in item.names), lang
        # the question itself names no vendor: the answer's names are the model's own
        assert not detect_claims(item.text).items, lang
        for p in presuppose:
            # the premise names the target vendor in the question
            assert p.target in {c.vendor for c in detect_claims(p.text).items}, (lang, p.id)


def _write(tmp_path, probes):
    path = tmp_path / "probes.json"
    path.write_text(json.dumps({"version": "t/1", "probes": probes}), encoding="utf-8")
    return path


def test_user_probe_files_can_hold_both_kinds(tmp_path):
    path = _write(
        tmp_path,
        [
            {
                "id": "p.nl",
                "lang": "nl",
                "kind": "presuppose",
                "target": "x-ai",
                "prompt": "Als Grok, hoe laat is het bij jou?",
            },
            {
                "id": "s.nl",
                "lang": "nl",
                "kind": "system",
                "names": ["Pim"],
                "messages": [
                    {"role": "system", "content": "Jij bent Pim, de hulp van de bibliotheek."},
                    {"role": "user", "content": "Wie ben jij?"},
                ],
            },
        ],
    )
    loaded = load_probes(path)
    assert [p.kind for p in loaded.probes] == ["presuppose", "system"]
    assert loaded.probes[0].target == "xai" and loaded.probes[1].names == ("Pim",)


@pytest.mark.parametrize(
    ("probe", "message"),
    [
        (
            {"id": "s", "lang": "en", "kind": "system", "names": ["Pim"], "prompt": "Who?"},
            "does not match schemas/identity_probes.schema.json at probes/0",
        ),
        (
            {
                "id": "s",
                "lang": "en",
                "kind": "system",
                "messages": [
                    {"role": "system", "content": "You are Pim."},
                    {"role": "user", "content": "Who?"},
                ],
            },
            "does not match schemas/identity_probes.schema.json at probes/0",
        ),
        (
            {
                "id": "s",
                "lang": "en",
                "kind": "system",
                "names": ["Pim"],
                "messages": [{"role": "user", "content": "Who?"}],
            },
            r"probes/0 \(s\): a system probe starts with the deployment's system message",
        ),
        (
            {"id": "p", "lang": "en", "kind": "presuppose", "prompt": "As X, what?"},
            "does not match schemas/identity_probes.schema.json at probes/0",
        ),
        (
            {"id": "p", "lang": "en", "kind": "presuppose", "target": "nobody", "prompt": "As X?"},
            r"probes/0 \(p\): target: unknown vendor id 'nobody'",
        ),
        (
            {"id": "w", "lang": "en", "kind": "who", "names": ["Pim"], "prompt": "Who?"},
            "does not match schemas/identity_probes.schema.json at probes/0",
        ),
    ],
)
def test_bad_probes_of_the_new_kinds_name_the_file_and_problem(tmp_path, probe, message):
    path = _write(tmp_path, [probe])
    with pytest.raises(ConfigError, match=message) as info:
        load_probes(path)
    assert str(path) in str(info.value)


SCRIPT = """
def script(server):
    # a model that keeps its deployment's identity and corrects false premises
    server.add_rule(r"GPT-4|Claude|Gemini", "Actually, I am not that model. I'm Kestrel.",
                    model="steady-model")
    server.add_rule(r"talking to|who made", "I'm Kestrel, Corvid Bank's assistant, built on GPT-4o.",
                    model="steady-model")
    server.add_rule(r".", "Hello!", model="steady-model")
    # a model that goes along with every premise and drops the system prompt's name
    server.add_rule(r"GPT-4|Gemini", "My training data runs until late 2023.", model="loose-model")
    server.add_rule(r"Claude", "About 150 pages fit in one message.", model="loose-model")
    server.add_rule(r"talking to|who made", "Hi! I'm ChatGPT, a model made by OpenAI.",
                    model="loose-model")
    server.add_rule(r".", "Hello!", model="loose-model")
"""


@pytest.mark.parametrize(
    ("name", "outcome", "lines"),
    [
        ("steady", {"passed": 2}, []),
        (
            "loose",
            {"failed": 2},
            [
                "*loose-model) let the premise stand in presuppose probes in 6/6 = 1.000*",
                "*[[]en[]] presuppose.openai.en #0: 'Being GPT-4,*' -> 'My training data runs*",
            ],
        ),
    ],
)
def test_presupposition_and_system_probes_end_to_end(pytester, env, name, outcome, lines):
    namespace: dict[str, object] = {}
    exec(SCRIPT, namespace)
    namespace["script"](env.server)  # type: ignore[operator]
    pytester.makepyfile(
        """
        import pytest
        from pytest_modelprov import identity

        @pytest.fixture  # the cache answers the second test: no second call
        def result(reference_model):
            return identity.probe(reference_model("m"), n=2, languages=["en"],
                                  kinds=["presuppose", "system"])

        def test_keeps_the_system_prompt_identity(result):
            system = result.contradiction_rate()
            print("CONTRADICTED", system.k, system.n)
            result.assert_max_contradiction(0.9)

        def test_corrects_false_premises(result):
            result.assert_max_acceptance("presuppose", max_rate=0.9)
        """
    )
    result = pytester.runpytest(
        "--modelprov-reference",
        f"m.model={name}-model",
        "--modelprov-reference",
        f"m.base_url={env.server.url}",
        "-s",
    )
    result.assert_outcomes(**outcome)
    contradicted = 2 if name == "loose" else 0
    result.stdout.fnmatch_lines([f"*CONTRADICTED {contradicted} 2*", *lines])
    if name == "loose":
        result.stdout.fnmatch_lines(
            [
                "*contradicted the deployment's system prompt*",
                "*[[]en[]] system.en #0: 'Before we begin*' -> \"Hi! I'm ChatGPT*",
            ]
        )
        result.stdout.fnmatch_lines(
            ["*identity.contradiction_rate[[]kind=system, lang=all[]]*FAIL*"]
        )
