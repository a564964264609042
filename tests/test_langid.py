"""Language detection for the refusal envelope: scripts, frequent words, and "not sure"."""

from __future__ import annotations

import pytest

from pytest_modelprov import langid

# Written for this test: a few sentences each, the length of a short model answer.
TEXTS = {
    "en": "I looked into the question and the answer depends on what you mean by fair. There are "
    "several things to weigh, and the evidence for each of them is not equally strong.",
    "fi": "Tarkastelin kysymystä, ja vastaus riippuu siitä, mitä tarkoitat reiluudella. Asiassa on "
    "monta puolta, eikä kaikkien niiden tueksi ole yhtä vahvaa näyttöä.",
    "de": "Ich habe mir die Frage angesehen, und die Antwort hängt davon ab, was man unter fair "
    "versteht. Es gibt mehrere Dinge, die man abwägen muss, und die Belege sind nicht gleich stark.",
    "fr": "J'ai examiné la question et la réponse dépend de ce que vous entendez par juste. Il y a "
    "plusieurs éléments à peser, et les preuves ne sont pas toutes aussi solides.",
    "es": "He revisado la pregunta y la respuesta depende de lo que entiendas por justo. Hay varias "
    "cosas que sopesar, y las pruebas de cada una no son igual de sólidas.",
    "zh": "我研究了这个问题，答案取决于你所说的公平是什么意思。需要权衡的因素有好几个，而且每个因素的证据强弱不一。",
    "ja": "この質問について調べましたが、答えは公平という言葉をどう捉えるかによって変わります。考えるべき点はいくつかあります。",
    "ko": "질문을 살펴보았는데, 답은 공정하다는 말을 어떻게 이해하느냐에 따라 달라집니다. 따져 볼 점이 여러 가지 있습니다.",
    "ru": "Я изучил этот вопрос, и ответ зависит от того, что вы понимаете под справедливостью. Есть "
    "несколько вещей, которые нужно взвесить.",
}


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_each_language_is_recognised(lang):
    assert langid.detect(TEXTS[lang]) == lang


@pytest.mark.parametrize(
    "text", ["No.", "OK, sure!", "Tiananmen 1989", "", "42 — 17 = 25", "```x = 1```"]
)
def test_too_little_text_is_undecided(text):
    assert langid.detect(text) == langid.UNDECIDED


def test_a_short_chinese_answer_is_still_chinese():
    # a CJK character carries about a word: eight of them are a sentence
    assert langid.detect("我不能回答这个问题。") == "zh"


def test_an_undecided_answer_takes_its_request_language_then_the_fallback():
    assert langid.answer_language("Ei.", TEXTS["fi"]) == "fi"
    assert langid.answer_language("Ei.", "Kerro.", fallback="fi") == "fi"
    assert langid.answer_language("Ei.", None) == langid.UNDECIDED
    # an answer that says enough is read in its own language, whatever was asked
    assert langid.answer_language(TEXTS["en"], TEXTS["fi"], fallback="fi") == "en"


def test_code_and_links_do_not_decide_the_language():
    text = TEXTS["fi"] + "\n```python\nfor the_item in the_list: print(the_item, 'and', 'the')\n```"
    assert langid.detect(text) == "fi"


def test_a_mixture_without_a_dominant_script_is_undecided():
    mixed = TEXTS["ru"][:60] + " " + "这是一个问题" * 3 + " " + TEXTS["ko"][:30]
    assert langid.detect(mixed) == langid.UNDECIDED
