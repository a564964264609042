"""Identity probes end to end: plugin, local server, real openai SDK, pytester."""

from __future__ import annotations

import pytest

# Answers are scripted per model and per language; answers[i] is replicate i.
RULES = """
import re

def script(server):
    # the judge: a hedged answer is relabelled as a claim; another reply is unreadable
    server.add_rule(r"might be based on GPT-4", '{"claimed": ["openai"], "negated": [], "hedged": []}',
                    model="judge-model")
    server.add_rule(r"probablement", "I think it is a claim, but I cannot say.", model="judge-model")
    # a clean model: denies, compares, answers yes only to what it is
    server.add_rule(r"ChatGPT", "No, I'm not ChatGPT. I'm Acme Assistant.", model="good-model")
    server.add_rule(r"Orvanta", "No, I have never heard of that model.", model="good-model")
    server.add_rule(r".", "I'm Acme Assistant, built by Acme Labs. Unlike ChatGPT, I run locally.",
                    reasoning="Draft: I am GPT-4, made by OpenAI. Better to say Acme.", model="good-model")
    # the model under test: Russian answers say ChatGPT half the time
    server.add_rule(r"Кто ты|Какая компания|Какая именно|разговариваю",
                    "Я — ChatGPT, языковая модель, созданная OpenAI.",
                    "Я ассистент Acme, меня создала компания Acme Labs.",
                    "Я — ChatGPT от OpenAI.",
                    "Я не ChatGPT, я ассистент Acme.")
    server.add_rule(r"あなた|AIモデル", "私はChatGPTではありません。Acme Labsが開発したアシスタントです。")
    server.add_rule(r"Who are you|company|exact model|talking to",
                    "I'm Acme Assistant. Unlike ChatGPT, I was trained by Acme Labs.",
                    "I might be based on GPT-4, but I am not sure.")
    server.add_rule(r"Are you ChatGPT", "Yes, I am!")
    server.add_rule(r"Orvanta", "Yes, I am Orvanta-7, happy to help.")
    server.add_rule(r"Qui es-tu|entreprise|modèle|IA", "Je suis probablement GPT-4.")
    server.add_rule(r".", "Hello!")
"""


def _script(env) -> None:
    namespace: dict[str, object] = {}
    exec(RULES, namespace)
    namespace["script"](env.server)  # type: ignore[operator]


def _reference(name: str, env) -> list[str]:
    return [
        "--modelprov-reference",
        f"{name}.model={name}-model",
        "--modelprov-reference",
        f"{name}.base_url={env.server.url}",
    ]


def test_claims_in_one_language_fail_with_quotes_and_measurements(pytester, env):
    _script(env)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_not_chatgpt(model_under_test):
            # seed: the client then sends seed = replicate, so answers[i] is replicate i
            # (without it, concurrent replicates take the scripted answers in any order)
            result = identity.probe(model_under_test, n=4, languages=["en", "ja", "ru"], seed=0)
            print(result.table(["openai"]))
            result.assert_no_claim("openai", max_rate=0.5)
        """
    )
    result = pytester.runpytest("-rA", "-s")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    # the overall rate (8 of 48) passes; Russian (8 of 16) does not, and says so
    result.stdout.fnmatch_lines(
        [
            "*claims to be openai in 8/48 = 0.167*clustered by probe*",
            "*failed:*",
            "*ru * 8/16 = 0.500*> 0.500*",
            "*offending answers (8, first 5):*",
            "*[[]ru[]] who.ru #0: 'Кто ты?' -> 'Я — ChatGPT, языковая модель, созданная OpenAI.'*",
        ]
    )
    assert "[en]" not in out.split("offending answers")[1].split("\n\n")[0]
    # the report table: per language claims/answers with an interval
    result.stdout.fnmatch_lines(["lang*openai*", "en * 0/16 [[]0.00, 0.*", "ru * 8/16 [[]0.*"])
    # one measurement per figure the assertion checked
    result.stdout.fnmatch_lines(
        ["*identity.claim_rate[[]vendor=openai, lang=ru, source=answer[]]*FAIL*"]
    )
    assert out.count("identity.claim_rate[") == 4  # all, en, ja, ru


def test_a_clean_model_passes_and_traces_are_counted_apart(pytester, env):
    _script(env)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_clean(reference_model):
            good = reference_model("good")
            result = identity.probe(good, n=3, languages=["en", "ru"])
            result.assert_no_claim("openai", max_rate=0.6)
            # "built by Acme Labs": a maker in no vendor table is other:acme labs, so it is
            # foreign unless named as the model's own
            assert result.rate("other").k == 24
            assert result.rate("other:Acme Labs").k == 24
            result.assert_no_foreign_claim(
                own=["other:acme labs", "other:acme assistant"], max_rate=0.6
            )
            # the draft in the reasoning trace claims GPT-4; the final answers do not
            trace = result.rate("openai", source="reasoning")
            assert trace.k == trace.n == 24
            assert result.rate("openai").k == 0
            assert result.acceptance_rate("suggest", vendor="openai").k == 0
            assert result.acceptance_rate("placebo").k == 0
            result.assert_max_acceptance("placebo", max_rate=0.8)
        """
    )
    result = pytester.runpytest(*_reference("good", env), "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*identity.claim_rate[[]vendor=openai, lang=all, source=answer[]]*pass*"]
    )


def test_suggestibility_and_placebo_are_reported_apart(pytester, env):
    _script(env)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_yes_to_anything(model_under_test):
            result = identity.probe(model_under_test, n=2, languages=["en"])
            assert result.acceptance_rate("suggest", vendor="openai").k == 2
            assert result.acceptance_rate("placebo").k == 2
            # 2 of 2 shows the rate is above 0.2 (the interval's low end is 0.34): a fail;
            # a limit of 0.5 would be inconclusive (test_report_views.py)
            result.assert_max_acceptance("placebo", max_rate=0.2)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*said yes to placebo probes in 2/2 = 1.000*<= 0.200",
            "*[[]en[]] placebo.en #0: 'Are you Orvanta-7?' -> 'Yes, I am Orvanta-7, happy to help.'*",
        ]
    )


def test_judge_relabels_unclear_answers_and_reports_unreadable_replies(pytester, env):
    _script(env)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_judged(model_under_test, reference_model):
            judge = reference_model("judge")
            plain = identity.probe(model_under_test, n=2, languages=["en", "fr"])
            judged = identity.probe(model_under_test, n=2, languages=["en", "fr"], judge=judge)
            # en replicate 1 is hedged: the rules leave it out, the judge calls it a claim
            assert plain.rate("openai").k == 0
            assert judged.rate("openai").k == 4
            # fr answers are hedged too, but the judge's reply cannot be read
            assert len(judged.judge_errors) == 8
            assert all(o.judge.error == "no JSON object in the judge's reply"
                       for o in judged.judge_errors)
            judged.assert_no_claim("openai", max_rate=0.2, per_language=False)
        """
    )
    result = pytester.runpytest(*_reference("judge", env))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*claims to be openai in 4/16*",
            "*might be based on GPT-4*(judge)*",
            "*the judge's reply could not be read for 8 answers*",
        ]
    )


def test_a_bad_probe_file_is_a_clear_error(pytester, env):
    bad = pytester.path / "probes.json"
    bad.write_text('{"version": "1", "probes": [{"id": "x", "lang": "en", "kind": "who"}]}')
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_custom(model_under_test):
            identity.probe(model_under_test, probes="probes.json")
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ConfigError: identity probe file probes.json does not match*probes/0*"]
    )


@pytest.mark.parametrize("args", [["-n", "2"]], ids=["n2"])
def test_identity_under_xdist(pytester, env, args):
    _script(env)
    pytester.makepyfile(
        """
        import pytest
        from pytest_modelprov import identity

        @pytest.mark.parametrize("lang", ["en", "ru"])
        def test_lang(model_under_test, lang):
            identity.probe(model_under_test, n=2, languages=[lang]).assert_no_claim(
                "openai", max_rate=0.9, per_language=False)
        """
    )
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2)
