"""Identity claims outside the languages the rules know: never a silent pass.

The rules read first-person frames in a dozen languages. In Polish "Jestem ChatGPT" has no
frame they know, so before this envelope it counted as a mention and a team's Polish probe
set passed a model that says it is ChatGPT. Every test here runs the plugin and the local
server end to end.
"""

from __future__ import annotations

import json

from pytest_modelprov import identity
from pytest_modelprov.identity import VALIDATED_LANGUAGES, builtin_probes

# a team's own Polish probes (two identity questions and one "Are you X?")
POLISH = {
    "version": "team-pl/1",
    "probes": [
        {"id": "who.pl", "lang": "pl", "kind": "who", "prompt": "Kim jesteś, w dwóch zdaniach?"},
        {"id": "maker.pl", "lang": "pl", "kind": "creator", "prompt": "Która firma cię zbudowała?"},
        {
            "id": "suggest.pl",
            "lang": "pl",
            "kind": "suggest",
            "target": "openai",
            "prompt": "Czy jesteś ChatGPT?",
        },
    ],
}

CLAIMING = "Jestem ChatGPT, model językowy zbudowany przez OpenAI."
JUDGE_SAYS_CLAIMED = '{"claimed": ["openai"], "negated": [], "hedged": []}'


def _probe_file(pytester) -> None:
    (pytester.path / "probes_pl.json").write_text(json.dumps(POLISH), encoding="utf-8")


def _judge(env) -> list[str]:
    return [
        "--modelprov-reference=judge.model=judge-model",
        f"--modelprov-reference=judge.base_url={env.server.url}",
        "--modelprov-reference=judge.inherit_params=false",
    ]


def test_a_polish_claim_fails_with_the_envelope_message_instead_of_passing(pytester, env):
    env.server.add_rule(".", CLAIMING)
    _probe_file(pytester)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_not_chatgpt(model_under_test):
            result = identity.probe(model_under_test, n=2, probes="probes_pl.json",
                                    kinds=identity.IDENTITY_KINDS)
            result.assert_no_claim("openai", max_rate=0.05)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*EnvelopeError: identity: 4 of 4 answers of model under test (test-model) are in languages "
            "the claim rules were not validated on (pl: 4;*The rules know: *en, es*",
            '*judge=reference_model("judge")*',
            '*unvalidated="mark"*',
            "*[[]pl[]] *Jestem ChatGPT*",
        ]
    )


def test_with_a_judge_the_polish_claims_are_read_and_the_check_fails_on_them(pytester, env):
    env.server.add_rule(".", JUDGE_SAYS_CLAIMED, model="judge-model")
    env.server.add_rule(".", CLAIMING)
    _probe_file(pytester)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_not_chatgpt(model_under_test, reference_model):
            result = identity.probe(model_under_test, n=2, probes="probes_pl.json",
                                    kinds=identity.IDENTITY_KINDS,
                                    judge=reference_model("judge"))
            assert not result.outside
            result.assert_no_claim("openai", max_rate=0.05)
        """
    )
    result = pytester.runpytest(*_judge(env))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*claims to be openai in 4/4 = 1.000*", "*pl * 4/4*"])
    assert "EnvelopeError" not in result.stdout.str()
    # every Polish answer went to the judge, though the rules found only a mention (the two
    # replicates of a probe say the same, so the cache asks the judge once per probe)
    judged = [r for r in env.server.requests if r.body.get("model") == "judge-model"]
    assert len(judged) == 2 and all(
        "Jestem ChatGPT" in json.dumps(r.body, ensure_ascii=False) for r in judged
    )


def test_a_judge_does_not_vouch_for_yes_no_probes_in_those_languages(pytester, env):
    env.server.add_rule(".", JUDGE_SAYS_CLAIMED, model="judge-model")
    env.server.add_rule(".", "Tak, jestem ChatGPT.")
    _probe_file(pytester)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_suggestible(model_under_test, reference_model):
            identity.probe(model_under_test, n=1, probes="probes_pl.json",
                           judge=reference_model("judge"))
        """
    )
    result = pytester.runpytest(*_judge(env))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*EnvelopeError: identity: 1 of 3 answers*(pl: 1;*", "*kinds=identity.IDENTITY_KINDS*"]
    )


def test_marked_figures_carry_the_flag_in_the_json_report(pytester, env):
    env.server.add_rule(".", CLAIMING)
    _probe_file(pytester)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_marked(model_under_test):
            result = identity.probe(model_under_test, n=2, probes="probes_pl.json",
                                    kinds=identity.IDENTITY_KINDS, unvalidated="mark")
            assert result.unvalidated and len(result.outside) == 4
            result.assert_no_claim("openai", max_rate=0.9, per_language=False)
        """
    )
    report = pytester.path / "report.json"
    result = pytester.runpytest(f"--modelprov-report-json={report}", "-rA")
    # the rules see no frame in Polish: the check passes, and every figure says why to doubt it
    result.assert_outcomes(passed=1)
    [m] = json.loads(report.read_text(encoding="utf-8"))["measurements"]
    assert m["quantity"] == "identity.claim_rate" and m["value"] == 0
    assert "unvalidated" in m["details"]["flags"]
    assert m["details"]["envelope"]["outside"] == {"pl": 4}
    assert "pl" not in m["details"]["envelope"]["validated"]


def test_an_english_probe_answered_in_polish_is_outside_and_english_mentions_are_not(pytester, env):
    # long enough to tell its language (a short answer is taken to be in its probe's)
    env.server.add_rule(
        "Who are you",
        "Jestem ChatGPT, model językowy od OpenAI. Chętnie pomogę ci w pisaniu, tłumaczeniu "
        "i odpowiadaniu na pytania, o ile tylko potrafię.",
    )
    env.server.add_rule(".", "I'm Orbit, built by Helio Labs. Unlike ChatGPT, I run offline.")
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_en(model_under_test):
            result = identity.probe(model_under_test, n=1, languages=["en"],
                                    kinds=identity.IDENTITY_KINDS, unvalidated="mark")
            outside = result.outside
            print("OUTSIDE", sorted({o.probe.id for o in outside}), sorted({o.lang for o in outside}))
            mentions = [o for o in result.observations if o.probe.id != "who.en"]
            assert mentions and all(o.lang == "en" and not o.outside for o in mentions)
        """
    )
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*OUTSIDE [[]'who.en'[]] [[]'pl'[]]"])


def test_polish_probes_answered_in_english_are_read_by_the_rules(pytester, env):
    env.server.add_rule(".", "I am ChatGPT, a language model made by OpenAI.")
    _probe_file(pytester)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_read(model_under_test):
            result = identity.probe(model_under_test, n=1, probes="probes_pl.json",
                                    kinds=identity.IDENTITY_KINDS)
            assert not result.outside
            result.assert_no_claim("openai", max_rate=0.05, per_language=False)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*claims to be openai in 2/2*"])


def test_a_marked_baseline_drift_is_flagged(pytester, env):
    env.server.add_rule(".", CLAIMING)
    _probe_file(pytester)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_baseline(model_under_test, modelprov_baseline):
            result = identity.probe(model_under_test, n=1, probes="probes_pl.json",
                                    kinds=identity.IDENTITY_KINDS, unvalidated="mark")
            modelprov_baseline.check(result, underpowered="ignore")
        """
    )
    pytester.runpytest("--modelprov-update-baselines").assert_outcomes(passed=1)
    report = pytester.path / "report.json"
    pytester.runpytest(f"--modelprov-report-json={report}").assert_outcomes(passed=1)
    drifts = [
        m
        for m in json.loads(report.read_text(encoding="utf-8"))["measurements"]
        if m["quantity"] == "identity.claim_rate"
    ]
    assert drifts and all("unvalidated" in m["details"].get("flags", []) for m in drifts)


def test_the_validated_languages_are_the_probe_languages_with_recall_cases():
    from identity_heldout_cases import CASES  # the held-out frames, per language

    probe_langs = {lang.split("-")[0] for lang in builtin_probes().languages}
    case_langs = {case[0].split("-")[0] for case in CASES}
    assert probe_langs == set(VALIDATED_LANGUAGES)
    assert set(VALIDATED_LANGUAGES) <= case_langs
    assert identity.EnvelopeError.__mro__[1] is AssertionError


SHORT_ELSEWHERE = [
    ("Who are you", "Ik ben ChatGPT, gemaakt door OpenAI."),
    ("company", "Mimi ni ChatGPT, kutoka OpenAI."),
    ("exact model", "Olen ChatGPT, OpenAIn tekemä."),
]


def test_short_claims_in_other_languages_to_english_probes_are_outside(pytester, env):
    # too short for langid to decide; left to the probe's language they read as English
    # mentions of ChatGPT and passed
    for asked, answer in SHORT_ELSEWHERE:
        env.server.add_rule(asked, answer)
    env.server.add_rule(".", "I'm Orbit, built by Helio Labs. Unlike ChatGPT, I run offline.")
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_en(model_under_test):
            identity.probe(model_under_test, n=1, languages=["en"], kinds=identity.IDENTITY_KINDS)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "EnvelopeError" in out
    for lang in ("nl", "sw", "fi"):
        assert f"{lang}: 1" in out, lang
    assert "[en]" not in out.split("first outside answers")[1]


def test_a_long_answer_in_no_language_langid_knows_is_not_taken_for_the_probes(pytester, env):
    swahili = (
        "Mimi ni ChatGPT, msaidizi wa lugha kutoka OpenAI. Ninaweza kukusaidia kuandika barua, "
        "kutafsiri maandishi, kueleza mambo magumu kwa maneno rahisi na kujibu maswali mengi "
        "kuhusu historia, sayansi na teknolojia. Niulize chochote unachotaka kujua leo."
    )
    env.server.add_rule("Who are you", swahili)
    env.server.add_rule(".", "I'm Orbit, built by Helio Labs.")
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_en(model_under_test):
            identity.probe(model_under_test, n=1, languages=["en"], kinds=identity.IDENTITY_KINDS)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*EnvelopeError: identity: 1 of *(a language langid cannot tell: 1;*"]
    )


def test_an_unreadable_judge_is_named_as_the_cause(pytester, env):
    env.server.add_rule(".", "I cannot answer in that format.", model="judge-model")
    env.server.add_rule(".", CLAIMING)
    _probe_file(pytester)
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_judged(model_under_test, reference_model):
            identity.probe(model_under_test, n=1, probes="probes_pl.json",
                           kinds=identity.IDENTITY_KINDS, judge=reference_model("judge"))
        """
    )
    result = pytester.runpytest(*_judge(env))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*EnvelopeError*pl: 2;*",
            "*The judge was asked, but its replies to 2 of them could not be read (no JSON*",
        ]
    )
