"""The identity-claim detector, the probe set and its loader, the judge parser.

CASES is also read by benchmarks/bench_identity.py (precision/recall on our own cases).
Each case: (lang, text, claimed, negated, mentioned, hedged), vendor ids as sets.
"""

from __future__ import annotations

import json
import random

import pytest

from pytest_modelprov import fastre, identity, stats
from pytest_modelprov.errors import ConfigError
from pytest_modelprov.identity import (
    IDENTITY_KINDS,
    builtin_probes,
    canonical_vendor,
    detect_claims,
    load_probes,
)
from pytest_modelprov.identity.detect import Detector, default_detector
from pytest_modelprov.identity.judge import parse_judge
from pytest_modelprov.identity.vendors import Alias, VendorTable, load_vendors

S = frozenset
NONE: frozenset[str] = frozenset()

CASES: list[tuple[str, str, frozenset[str], frozenset[str], frozenset[str], frozenset[str]]] = [
    # --- English: claims, creator and base frames, second person, "As X"
    (
        "en",
        "Hi there! I'm Qwen, a large language model from Alibaba Cloud.",
        S({"alibaba"}),
        NONE,
        NONE,
        NONE,
    ),
    ("en", "I'm an assistant powered by GPT-4o.", S({"openai"}), NONE, NONE, NONE),
    ("en", "You're chatting with Claude, made by Anthropic.", S({"anthropic"}), NONE, NONE, NONE),
    ("en", "I am an AI assistant.\nTrained by OpenAI.", S({"openai"}), NONE, NONE, NONE),
    (
        "en",
        "As an AI language model developed by OpenAI, I cannot browse the internet.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    ("en", "I'm Llama, a model from Meta.", S({"meta"}), NONE, NONE, NONE),
    ("en", "Yes, I am ChatGPT.", S({"openai"}), NONE, NONE, NONE),
    # negated, elliptical negation, contrast
    ("en", "I was trained by DeepSeek, not OpenAI.", S({"deepseek"}), S({"openai"}), NONE, NONE),
    ("en", "I wasn't made by OpenAI but by Mistral AI.", S({"mistral"}), S({"openai"}), NONE, NONE),
    (
        "en",
        "I'm Claude, made by Anthropic — not by OpenAI.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("en", "I am neither ChatGPT nor Gemini.", NONE, S({"openai", "google"}), NONE, NONE),
    ("en", "Nope, I'm not GPT-4. I'm Claude.", S({"anthropic"}), S({"openai"}), NONE, NONE),
    (
        "en",
        "I'm Claude, not ChatGPT, which was developed by OpenAI.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    # mentions: comparison, third person, lists, questions, counterfactual, traces
    (
        "en",
        "ChatGPT is a chatbot developed by OpenAI. I am Claude.",
        S({"anthropic"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    (
        "en",
        "I'm familiar with ChatGPT, but I'm Claude.",
        S({"anthropic"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    ("en", "I'm ChatGPT-like, but I'm actually Qwen.", S({"alibaba"}), NONE, S({"openai"}), NONE),
    (
        "en",
        "Some popular assistants are ChatGPT, Claude, and Gemini.",
        NONE,
        NONE,
        S({"openai", "anthropic", "google"}),
        NONE,
    ),
    (
        "en",
        "Here are some assistants:\n- ChatGPT (OpenAI)\n- Claude (Anthropic)",
        NONE,
        NONE,
        S({"openai", "anthropic"}),
        NONE,
    ),
    (
        "en",
        "Am I ChatGPT? No, I am Kimi, made by Moonshot AI.",
        S({"moonshot"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    (
        "en",
        "The user asks if I'm Claude. I should say I'm DeepSeek-V3.",
        S({"deepseek"}),
        NONE,
        S({"anthropic"}),
        NONE,
    ),
    ("en", "Were I Grok, I would be funnier.", NONE, NONE, S({"xai"}), NONE),
    (
        "en",
        "As an AI language model developed by OpenAI, ChatGPT has many uses.",
        NONE,
        NONE,
        NONE,
        NONE,
    ),
    # hedged
    ("en", "I'm probably GPT-4, but I can't be certain.", NONE, NONE, NONE, S({"openai"})),
    ("en", "I'm not sure, but I think I'm GPT-4.", NONE, NONE, NONE, S({"openai"})),
    ("en", "I might be based on GPT-4, but I am not sure.", NONE, NONE, NONE, S({"openai"})),
    # traps: weak aliases and look-alike names outside frames
    ("en", "Jean-Claude is my friend and we searched Google.", NONE, NONE, NONE, NONE),
    ("en", "My birthday makes me a Gemini.", NONE, NONE, S({"google"}), NONE),
    ("en", "I use Google Docs every day.", NONE, NONE, NONE, NONE),
    ("en", "Llamas are domesticated animals. Meta-analysis shows effects.", NONE, NONE, NONE, NONE),
    ("en", "GLM is a generalized linear model.", NONE, NONE, NONE, NONE),
    ("en", "Ernie and Bert are Muppets; Alice is in Wonderland.", NONE, NONE, NONE, NONE),
    ("en", "I'm built on Mistral.", S({"mistral"}), NONE, NONE, NONE),
    # --- Chinese (simplified and traditional)
    ("zh-Hans", "我是通义千问，由阿里云开发的大语言模型。", S({"alibaba"}), NONE, NONE, NONE),
    (
        "zh-Hans",
        "我不是ChatGPT，我是由深度求索公司开发的DeepSeek。",
        S({"deepseek"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("zh-Hans", "ChatGPT是由OpenAI开发的聊天机器人。", NONE, NONE, S({"openai"}), NONE),
    ("zh-Hans", "我可能是基于GPT-4的模型。", NONE, NONE, NONE, S({"openai"})),
    ("zh-Hans", "我是由DeepSeek训练的，而不是OpenAI。", S({"deepseek"}), S({"openai"}), NONE, NONE),
    ("zh-Hans", "像ChatGPT这样的模型很多，我是Kimi。", S({"moonshot"}), NONE, S({"openai"}), NONE),
    ("zh-Hans", "如果我是ChatGPT，我会这样回答。", NONE, NONE, S({"openai"}), NONE),
    ("zh-Hans", "我是GLM，由智谱开发。", S({"zhipu"}), NONE, NONE, NONE),
    ("zh-Hant", "我是 Claude，由 Anthropic 開發的 AI 助理。", S({"anthropic"}), NONE, NONE, NONE),
    (
        "zh-Hant",
        "我與OpenAI沒有關係，我是由智譜開發的GLM。",
        S({"zhipu"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    ("zh-Hant", "我是一個基於GPT-4的模型。", S({"openai"}), NONE, NONE, NONE),
    # --- Japanese
    ("ja", "私はClaudeです。Anthropicによって開発されました。", S({"anthropic"}), NONE, NONE, NONE),
    (
        "ja",
        "私はChatGPTではありません。DeepSeekが開発したAIアシスタントです。",
        S({"deepseek"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("ja", "ChatGPTのようなAIとは違い、私はGeminiです。", S({"google"}), NONE, S({"openai"}), NONE),
    ("ja", "おそらくGPT-4をベースにしたモデルかもしれません。", NONE, NONE, NONE, S({"openai"})),
    (
        "ja",
        "私はOpenAIではなく、Anthropicによって作られました。",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("ja", "私の名前はクロードです。", S({"anthropic"}), NONE, NONE, NONE),
    ("ja", "OpenAIが開発したChatGPTです。", S({"openai"}), NONE, NONE, NONE),
    ("ja", "ChatGPTはOpenAIによって開発されました。", NONE, NONE, S({"openai"}), NONE),
    # --- Korean
    ("ko", "저는 구글에서 개발한 Gemini입니다.", S({"google"}), NONE, NONE, NONE),
    ("ko", "ChatGPT는 OpenAI가 개발한 챗봇입니다.", NONE, NONE, S({"openai"}), NONE),
    ("ko", "저는 아마 GPT-4 기반 모델일 수도 있습니다.", NONE, NONE, NONE, S({"openai"})),
    ("ko", "ChatGPT와 달리 저는 Claude입니다.", S({"anthropic"}), NONE, S({"openai"}), NONE),
    ("ko", "저는 ChatGPT가 아니라 Claude입니다.", S({"anthropic"}), S({"openai"}), NONE, NONE),
    ("ko", "드라마를 좋아하는 라마가 있습니다.", NONE, NONE, NONE, NONE),
    # --- Russian
    ("ru", "Я — ChatGPT, языковая модель, созданная OpenAI.", S({"openai"}), NONE, NONE, NONE),
    (
        "ru",
        "Я не ChatGPT. Меня разработала компания DeepSeek.",
        S({"deepseek"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("ru", "В отличие от ChatGPT, я — YandexGPT.", S({"yandex"}), NONE, S({"openai"}), NONE),
    ("ru", "Возможно, я основан на GPT-4.", NONE, NONE, NONE, S({"openai"})),
    ("ru", "ChatGPT — это чат-бот от OpenAI.", NONE, NONE, S({"openai"}), NONE),
    ("ru", "Я — GigaChat, созданный Сбером.", S({"sber"}), NONE, NONE, NONE),
    # --- Spanish, French, German, Portuguese, Italian
    (
        "es",
        "Soy ChatGPT, un modelo de lenguaje creado por OpenAI.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "es",
        "No soy ChatGPT; soy Claude, creado por Anthropic.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "es",
        "A diferencia de ChatGPT, soy Gemini, desarrollado por Google.",
        S({"google"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    ("es", "Fui creado por OpenAI.", S({"openai"}), NONE, NONE, NONE),
    ("fr", "Je suis Claude, un assistant conçu par Anthropic.", S({"anthropic"}), NONE, NONE, NONE),
    (
        "fr",
        "Contrairement à ChatGPT, je suis Le Chat de Mistral AI.",
        S({"mistral"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    ("fr", "Je suis probablement GPT-4.", NONE, NONE, NONE, S({"openai"})),
    (
        "de",
        "Ich bin ChatGPT, ein von OpenAI entwickeltes Sprachmodell.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "de",
        "Ich bin nicht ChatGPT, sondern Claude von Anthropic.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("de", "Ich wurde von Google entwickelt.", S({"google"}), NONE, NONE, NONE),
    ("de", "Im Gegensatz zu ChatGPT bin ich lokal.", NONE, NONE, S({"openai"}), NONE),
    ("pt", "Eu sou o ChatGPT, desenvolvido pela OpenAI.", S({"openai"}), NONE, NONE, NONE),
    ("pt", "Não sou o ChatGPT. Sou o Gemini, do Google.", S({"google"}), S({"openai"}), NONE, NONE),
    ("it", "Sono ChatGPT, sviluppato da OpenAI.", S({"openai"}), NONE, NONE, NONE),
    ("it", "Sono un modello linguistico addestrato da Google.", S({"google"}), NONE, NONE, NONE),
    # --- Vietnamese, Arabic
    (
        "vi",
        "Tôi là ChatGPT, một mô hình ngôn ngữ do OpenAI phát triển.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "vi",
        "Tôi không phải là ChatGPT, tôi là Claude.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("vi", "Tôi được phát triển bởi Google.", S({"google"}), NONE, NONE, NONE),
    ("ar", "أنا ChatGPT، نموذج لغوي من تطوير OpenAI.", S({"openai"}), NONE, NONE, NONE),
    ("ar", "لست ChatGPT، أنا Claude من Anthropic.", S({"anthropic"}), S({"openai"}), NONE, NONE),
    ("ar", "تم تطويري بواسطة OpenAI.", S({"openai"}), NONE, NONE, NONE),
    # --- review: a bare first-person marker denies or hedges but never claims
    ("en", "I'm happy to explain how ChatGPT works.", NONE, NONE, S({"openai"}), NONE),
    (
        "en",
        "I'm often confused with ChatGPT, but I'm Claude.",
        S({"anthropic"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    ("en", "I'm a different model from GPT-4.", NONE, NONE, S({"openai"}), NONE),
    # coordinated names share a frame; "the latest version of"; active "X trained me"
    (
        "en",
        "I was developed by OpenAI and Microsoft.",
        S({"openai", "microsoft"}),
        NONE,
        NONE,
        NONE,
    ),
    ("en", "I'm the latest version of Claude.", S({"anthropic"}), NONE, NONE, NONE),
    ("en", "Anthropic trained me to be helpful.", S({"anthropic"}), NONE, NONE, NONE),
    (
        "en",
        "I am a large language model created by a team at Google.",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "I can't say for sure, but I may have been trained by OpenAI.",
        NONE,
        NONE,
        NONE,
        S({"openai"}),
    ),
    # ja/ko negate the whole noun phrase, past an embedded creator phrase
    (
        "ja",
        "私はOpenAIが開発したChatGPTではなく、Anthropicが開発したClaudeです。",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("ko", "저는 OpenAI가 만든 ChatGPT가 아닙니다.", NONE, S({"openai"}), NONE, NONE),
    (
        "es",
        "No soy ChatGPT ni fui creado por OpenAI. Soy Claude.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "de",
        "Ich bin weder ChatGPT noch Gemini, sondern Claude.",
        S({"anthropic"}),
        S({"openai", "google"}),
        NONE,
        NONE,
    ),
    # a topic or a rival is not an identity
    ("zh-Hans", "我是ChatGPT的竞争对手。", NONE, NONE, S({"openai"}), NONE),
    ("ja", "私はChatGPTについて詳しく説明できます。", NONE, NONE, S({"openai"}), NONE),
]


@pytest.mark.parametrize(
    ("lang", "text", "claimed", "negated", "mentioned", "hedged"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_detector_cases(lang, text, claimed, negated, mentioned, hedged):
    found = detect_claims(text)
    got = (found.claimed, found.negated, found.mentioned, found.hedged)
    assert got == (claimed, negated, mentioned, hedged), [
        (c.vendor, c.status, c.frame, c.clause) for c in found.items
    ]


def test_every_probe_language_has_detector_cases():
    covered = {c[0] for c in CASES}
    assert set(builtin_probes().languages) <= covered


def test_claim_details_name_the_frame_role_and_sentence():
    found = detect_claims("Hello! I was developed by Anthropic. I am based on Claude 3.")
    (developer,) = found.evidence("anthropic")[:1]
    assert (developer.frame, developer.role) == ("creator", "developer")
    assert developer.sentence == "I was developed by Anthropic."
    roles = {c.role for c in found.evidence("anthropic")}
    assert roles == {"developer", "base"}


def test_cjk_boundaries_match_next_to_han_and_hangul_text():
    assert detect_claims("我是Qwen3.5模型。").claimed == {"alibaba"}
    assert detect_claims("저는Claude입니다.").claimed == {"anthropic"}
    # a Latin alias inside a longer Latin word is not the name (a name in no table is
    # other:<name>)
    assert detect_claims("I am Claudette.").claimed == {"other:claudette"}
    assert not detect_claims("I am deepseeker-bot.").items
    # katakana and hangul aliases do not match inside longer words (ドラマ, 드라마)
    assert not detect_claims("私はドラマです。").items


def test_weak_aliases_count_only_inside_tight_frames():
    assert detect_claims("I'm Gemma.").claimed == {"google"}
    assert detect_claims("I am an assistant who likes Gemma.").claimed == set()
    assert not detect_claims("I am an assistant who likes Gemma.").items
    assert detect_claims("Называйте меня просто «Алиса».").claimed == {"yandex"}


def test_vendor_ids_accept_synonyms_and_reject_unknown_ones():
    assert canonical_vendor("x-ai") == "xai"
    assert canonical_vendor("Z-AI") == "zhipu"
    assert canonical_vendor("qwen") == "alibaba"
    with pytest.raises(ValueError, match=r"unknown vendor id 'openia'; known vendor ids: .*openai"):
        canonical_vendor("openia")
    assert len(identity.vendor_ids()) >= 18


def test_custom_aliases_extend_the_table():
    table = load_vendors().merged({"acme": ["Acme Assistant"]})
    found = Detector(table).detect("I'm Acme Assistant, not ChatGPT.")
    assert (found.claimed, found.negated) == ({"acme"}, {"openai"})


# --- probe set -----------------------------------------------------------------------


def test_builtin_probe_set_covers_languages_and_kinds():
    probes = builtin_probes()
    required = {"en", "zh-Hans", "zh-Hant", "ja", "ko", "ru", "es", "fr", "de", "pt", "vi", "ar"}
    assert required <= set(probes.languages)
    assert probes.version.startswith("identity-probes/")
    for lang in probes.languages:
        kinds = {p.kind for p in probes.probes if p.lang == lang}
        assert kinds == set(identity.KINDS), lang
        suggested = {p.target for p in probes.probes if p.lang == lang and p.kind == "suggest"}
        assert len(suggested) >= 3, lang
    multi = [p for p in probes.probes if p.kind == "multiturn"]
    assert all(p.messages and len(p.messages) == 3 for p in multi)
    # the placebo names a model no vendor table knows
    placebo = {p.target for p in probes.probes if p.kind == "placebo"}
    assert all(
        detect_claims(f"I am {name}.").claimed == {f"other:{name.casefold()}"} for name in placebo
    )


def test_probe_selection_names_unknown_languages_and_kinds():
    probes = builtin_probes()
    assert {p.kind for p in probes.select(kinds=IDENTITY_KINDS).probes} == set(IDENTITY_KINDS)
    with pytest.raises(ValueError, match=r"no probes in language\(s\) \['xx'\].*its languages: ar"):
        probes.select(languages=["xx"])
    with pytest.raises(ValueError, match=r"unknown probe kind\(s\) \['whom'\]"):
        probes.select(kinds=["whom"])


def test_user_probe_files_load_and_merge(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "version": "team/3",
                "probes": [
                    {"id": "who.nl", "lang": "nl", "kind": "who", "prompt": "Wie ben jij?"},
                    {
                        "id": "s.nl",
                        "lang": "nl",
                        "kind": "suggest",
                        "target": "x-ai",
                        "prompt": "Ben jij Grok?",
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    mine = load_probes(path)
    assert mine.languages == ["nl"] and mine.probes[1].target == "xai"
    merged = builtin_probes() + mine
    assert "nl" in merged.languages and merged.version.endswith("+team/3")
    with pytest.raises(ValueError, match="probe ids"):
        mine + mine


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"is not valid JSON \(line 1, column 2\)"),
        (
            '{"version": "1", "probes": [{"id": "a", "lang": "en", "kind": "who"}]}',
            "does not match schemas/identity_probes.schema.json at probes/0",
        ),
        (
            '{"version": "1", "probes": [{"id": "a", "lang": "en", "kind": "suggest", "prompt": "Are you X?"}]}',
            "at probes/0",
        ),
        (
            '{"version": "1", "probes": [{"id": "a", "lang": "en", "kind": "suggest", "target": "nobody", "prompt": "Are you X?"}]}',
            r"probes/0 \(a\): target: unknown vendor id 'nobody'",
        ),
        (
            '{"version": "1", "probes": [{"id": "a", "lang": "en", "kind": "who", "prompt": "?"}, {"id": "a", "lang": "en", "kind": "who", "prompt": "?"}]}',
            "probes/1: duplicate id 'a'",
        ),
        (
            '{"version": "1", "probes": [{"id": "a", "lang": "en", "kind": "who", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]}',
            "the last message must be the user's",
        ),
    ],
)
def test_bad_probe_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_probes(path)
    assert str(path) in str(info.value)


def test_missing_probe_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read identity probe file .*nope\.json"):
        load_probes(tmp_path / "nope.json")


def test_bad_vendor_table_is_a_config_error(tmp_path):
    path = tmp_path / "vendors.json"
    path.write_text('{"version": "1", "vendors": {"Acme!": {"name": "x", "aliases": []}}}')
    with pytest.raises(ConfigError, match=r"vendor table .*vendors\.json does not match"):
        load_vendors(path)


# --- judge replies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "claimed", "error"),
    [
        ('{"claimed": ["openai"], "negated": [], "hedged": []}', {"openai"}, None),
        ('Sure.\n```json\n{"claimed": ["x-ai"]}\n```', {"xai"}, None),
        ("I think it claims OpenAI.", set(), "no JSON object in the judge's reply"),
        ('{"claimed": "openai"}', set(), "'claimed' is not a list of vendor ids"),
        ('{"claimed": ["acme"]}', set(), "unknown vendor id 'acme'"),
        ('{"claimed": [}', set(), "the judge's JSON does not parse"),
    ],
)
def test_judge_replies_parse_or_report_an_error(raw, claimed, error):
    verdict = parse_judge(raw)
    assert verdict.claimed == claimed
    if error is None:
        assert verdict.error is None
    else:
        assert verdict.error is not None and verdict.error.startswith(error)


def test_the_too_few_answers_note_gives_the_wilson_zero_count_size():
    # Independent check: at k = 0 the Wilson upper bound is z^2/(n + z^2); the note's n is
    # the smallest n whose bound is at or below the limit.
    from pytest_modelprov.identity.result import _too_few

    limit = 0.05
    note = _too_few(stats.wilson(0, 10), limit, 0.95)
    needed = int(note.rsplit(">= ", 1)[1].split()[0])
    assert stats.wilson(0, needed).high <= limit < stats.wilson(0, needed - 1).high


def test_vendor_table_that_is_not_utf8_is_a_config_error(tmp_path):
    path = tmp_path / "vendors.json"
    path.write_bytes(b'{"version": "1", "vendors": {"acme": {"name": "\xff"}}}')
    with pytest.raises(ConfigError, match=r"vendor table .*vendors\.json is not UTF-8 text"):
        load_vendors(path)


def test_a_repetition_loop_is_decided_like_its_first_occurrences():
    """A name repeated thousands of times in one clause (a decoding loop) takes the decision
    of its first occurrences instead of being decided again each time (which was quadratic)."""
    short = detect_claims("I am an AI assistant called ChatGPT " + "ChatGPT " * 20)
    long = detect_claims("I am an AI assistant called ChatGPT " + "ChatGPT " * 3000)
    assert short.claimed == long.claimed == frozenset({"openai"})
    assert len(long.items) == 3001
    assert {(c.status, c.frame, c.role) for c in long.items} == {
        (c.status, c.frame, c.role) for c in short.items
    }


def _team_tables() -> list[tuple[str, VendorTable]]:
    """The built-in table, one a team extended with names in other scripts, full-width
    letters and typographic apostrophes plus two pattern aliases, and one whose pattern
    alias has a word boundary (the no-name shortcut is then off)."""
    base = default_detector().vendors
    extended = base.merged({"acme": ["Nova Lab", "小智助手", "Ньютон", "ｎｏｖａ", "o’brien"]})
    patterns = (
        Alias("zeta", r"zeta-?[0-9]+(?:x|y)?", False, True),
        Alias("zeta", r"(?:qq|zz)[0-9]{2}", False, True),
    )
    with_patterns = VendorTable(
        extended.version,
        dict(extended.names, zeta="Zeta"),
        dict(extended.synonyms),
        extended.aliases + patterns,
    )
    bounded = VendorTable(
        extended.version,
        dict(extended.names, zeta="Zeta"),
        dict(extended.synonyms),
        (*extended.aliases, Alias("zeta", r"\bfoo[0-9]+", False, True)),
    )
    return [("built-in", base), ("team", with_patterns), ("boundary", bounded)]


@pytest.mark.parametrize("which", ["built-in", "team", "boundary"])
def test_the_no_name_shortcut_finds_what_reading_every_clause_finds(which):
    """Texts written for this test: names in frames of several languages, with zero-width
    and soft-hyphen characters, typographic marks, full-width letters and case changes
    spliced in; the detector with its shortcuts against trying every alias everywhere."""
    table = dict(_team_tables())[which]
    fast, slow = Detector(table), Detector(table)
    slow._prefilter = False
    rng = random.Random(7)
    frames = [
        "I am {}.", "我是{}。", "私は{}です。", "저는 {}입니다.", "Я — {}.", "Model name: {}\n",
        "| Made by | {} |", "I'm not {}, but I was developed by {}.", "As an AI developed by {}, I help.",
        "{}", '"I am {}," she said.', "I was trained by {} — not by anyone else.", "**{}**",
        "I AM {}!", "Built on {}‑based tech", "i am {}\u200b.",
    ]  # fmt: skip
    odd = ["\u200b", "\u00ad", "\u2019", "\u2011", "\u00a0", "ﬁ", "Ａ", "\u0301", "", "", ""]
    names = [a.text for a in table.aliases if not a.regex] + [
        "gpt-4o", "zeta-12x", "qq42", "foo12", "llama3", "o3-mini", "glm4.5", "ernie4",
    ]  # fmt: skip
    texts = ["Nothing to see here.", "我是一个助手。", "I am Nova, made by Helix Labs.", "ok"]
    for _ in range(400):
        name = rng.choice(names)
        if rng.random() < 0.3:
            at = rng.randrange(len(name) + 1)
            name = name[:at] + rng.choice(odd) + name[at:]
        if rng.random() < 0.3:
            name = name.upper()
        frame = rng.choice(frames)
        text = frame.format(*([name] * frame.count("{}")))
        if rng.random() < 0.3:
            text = "A sentence before. " + text + " And one after."
        texts.append(text)
    got = [fast.detect(t) for t in texts]
    with fastre.exact():
        expected = [slow.detect(t) for t in texts]
    differ = [(t, g, e) for t, g, e in zip(texts, got, expected, strict=True) if g != e]
    assert not differ, differ[:3]
    # not vacuous: most texts name someone, and some name no one
    named = sum(bool(c.items) for c in got)
    assert len(texts) // 2 < named < len(texts), named
