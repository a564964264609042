# (the cases are written in the languages they test: typographic quotes, full-width
# punctuation and Cyrillic letters are intended)
"""Recall cases for the identity detector: how real answers are written.

Long self-introductions with lists and markdown, typographic apostrophes, second-person
frames, key-value lines, "powered by", denials followed by a claim, a product name stacked
on a base model, names outside the vendor table (``other:<name>``). Written for this
project; benchmarks/bench_identity.py scores them next to tests/test_identity_detect.py.

Each case: (lang, text, claimed, negated, mentioned, hedged), vendor ids as sets.
"""

from __future__ import annotations

import pytest
from identity_heldout_cases import CASES as HELD_OUT

from pytest_modelprov.identity import detect_claims

S = frozenset
NONE: frozenset[str] = frozenset()

CASES: list[tuple[str, str, frozenset[str], frozenset[str], frozenset[str], frozenset[str]]] = [
    # --- typographic apostrophes, quotes and dashes
    (
        "en",
        "Hello! I’m Kimi, the assistant that Moonshot AI built. Ask me anything you’d like.",
        S({"moonshot"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "Good question! I’m built on top of Anthropic’s Claude 3.5 Sonnet model, which the "
        "team here has adapted for customer support.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "I wasn’t created by Google — I’m Grok, and xAI trained me.",
        S({"xai"}),
        S({"google"}),
        NONE,
        NONE,
    ),
    (
        "en",
        "Happy to clarify, for the record: Iʼm Mistralʼs Le Chat assistant.",
        S({"mistral"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "People sometimes call me “the Qwen assistant”; I’m Qwen2.5-Max, developed by Alibaba "
        "Cloud’s Tongyi Lab.",
        S({"alibaba"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "fr",
        "Bonjour ! Je m’appelle Claude et j’ai été conçu par l’équipe d’Anthropic.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "it",
        "Ciao! Sono Gemini, un modello sviluppato dall’azienda Google.",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    # --- second person: "you are talking / chatting / interacting with X"
    (
        "en",
        "Right now you’re interacting with DeepSeek-V3, an open-weights model released by "
        "DeepSeek in late 2024. How can I help with your spreadsheet?",
        S({"deepseek"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "You are currently talking to GPT-4o mini, a smaller and faster member of the GPT-4o "
        "family.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "你现在正在与通义千问对话，我可以帮你写代码、翻译和总结文章。",
        S({"alibaba"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hant",
        "您正在與 Claude 交談，這是 Anthropic 打造的 AI 助理。",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "es",
        "¡Hola! Estás hablando con Grok, el asistente de xAI. ¿En qué te ayudo hoy?",
        S({"xai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "fr",
        "Vous êtes en train de discuter avec Mistral Large, le modèle phare de Mistral AI.",
        S({"mistral"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "de",
        "Du sprichst gerade mit Gemini 1.5 Pro. Womit kann ich dir heute helfen?",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "pt",
        "Você está conversando com o Llama 3.1, um modelo aberto publicado pela Meta.",
        S({"meta"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "it",
        "Stai parlando con Claude, un assistente realizzato da Anthropic.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ru",
        "Сейчас вы общаетесь с GigaChat — нейросетевой моделью Сбера.",
        S({"sber"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "vi",
        "Bạn đang trò chuyện với Gemini, trợ lý AI của Google. Tôi có thể giúp gì cho bạn?",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ko",
        "지금 대화하고 계신 상대는 클로드입니다. 무엇을 도와드릴까요?",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ja",
        "いまあなたが話しているのはGeminiです。Googleの大規模言語モデルです。",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ar",
        "أنت تتحدث الآن مع Claude، وهو مساعد ذكاء اصطناعي من Anthropic.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    # --- field-style self-descriptions: "my exact model name is X", key: value, markdown
    (
        "en",
        "Here are the details you asked for:\n\n"
        "- **Model name:** GPT-4o\n"
        "- **Developer:** OpenAI\n"
        "- **Knowledge cutoff:** October 2023\n\n"
        "Let me know if you need anything else!",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "Sure. My exact model name is Qwen2.5-72B-Instruct. I don’t have access to build "
        "hashes or deployment dates, though.",
        S({"alibaba"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "### About me\n"
        "| Field | Value |\n|---|---|\n| Model | Claude 3 Haiku |\n| Made by | Anthropic |\n",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "Model: deepseek-chat (DeepSeek-V3)\nProvider: DeepSeek\nContext window: 64K tokens",
        S({"deepseek"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "以下是我的基本信息：\n\n- **模型名称**：GLM-4\n- **开发者**：智谱AI\n- **发布时间**：2024年",
        S({"zhipu"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hant",
        "我的模型名稱是 Gemini 1.5 Flash，開發公司：Google。",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ja",
        "私についての情報です。\n・モデル名：Claude 3 Opus\n・開発元：Anthropic\n・用途：汎用アシスタント",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ko",
        "제 정보를 정리하면 다음과 같습니다.\n- 모델명: GPT-4 Turbo\n- 개발사: OpenAI",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ru",
        "Вот краткая справка обо мне:\n• Название модели: YandexGPT 4\n• Разработчик: Яндекс",
        S({"yandex"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "es",
        "Claro, aquí tienes:\n1. Nombre del modelo: Mistral Small\n2. Empresa: Mistral AI",
        S({"mistral"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "fr",
        "Mon nom de modèle exact est Llama 3.3 70B Instruct ; je suis distribué par Meta.",
        S({"meta"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "de",
        "Gerne! Mein genauer Modellname lautet Claude 3.5 Sonnet, Hersteller: Anthropic.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "pt",
        "Informações sobre mim:\n- Nome do modelo: Gemini 2.0 Flash\n- Criador: Google DeepMind",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "it",
        "Il nome esatto del mio modello è Command R+, sviluppato da Cohere.",
        S({"cohere"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "vi",
        "Tên mô hình của tôi là Qwen2.5. Nhà phát triển: Alibaba Cloud.",
        S({"alibaba"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ar",
        "اسم النموذج الخاص بي هو GPT-4o، والشركة المطورة هي OpenAI.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    # a field list about someone else is not a claim
    (
        "en",
        "Comparison table:\n| Model | Maker |\n|---|---|\n| GPT-4o | OpenAI |\n| Gemini | Google |",
        NONE,
        NONE,
        S({"openai", "google"}),
        NONE,
    ),
    # --- "a creation of X", "powered by X", "the model that runs/powers me is X"
    (
        "en",
        "I’m a creation of the folks at Anthropic, and I go by Claude.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "This assistant is Perplexity’s answer engine; I’m powered by Sonar, "
        "Perplexity’s in-house model.",
        S({"perplexity"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "Behind the scenes, the model that runs me is GPT-4 Turbo, so my knowledge has a cutoff.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "fr",
        "Je suis une création de Mistral AI. Le modèle qui me fait fonctionner est Mistral "
        "Large 2.",
        S({"mistral"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "fr",
        "Je fonctionne grâce à Claude, le modèle d’Anthropic.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "es",
        "Soy una creación de Google y funciono con Gemini.",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "de",
        "Ich bin eine Schöpfung von OpenAI und werde von GPT-4o angetrieben.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "pt",
        "Sou uma criação da DeepSeek; o modelo que me alimenta é o DeepSeek-R1.",
        S({"deepseek"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "it",
        "Sono una creazione di Meta e il modello che mi alimenta è Llama 3.",
        S({"meta"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "驱动我的模型是DeepSeek-V3，我可以回答各种问题。",
        S({"deepseek"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ja",
        "私を動かしているモデルはGPT-4oです。",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ru",
        "Я работаю на базе модели Claude от Anthropic.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "vi",
        "Tôi được vận hành bởi GPT-4o của OpenAI.",
        S({"openai"}),
        NONE,
        NONE,
        NONE,
    ),
    # --- a self-name in a list, marked as the official name
    (
        "es",
        "Puedes llamarme como te resulte más cómodo:\n"
        "- Asistente\n"
        "- Claude (mi nombre oficial)\n"
        "- Cualquier apodo que se te ocurra",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "You can call me any of these:\n1. Buddy\n2. Helper\n3. Gemini (that’s my official "
        "name)\n\nWhatever you prefer!",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "pt",
        "Pode me chamar de:\n* Assistente\n* Qwen (meu nome oficial)",
        S({"alibaba"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "你可以这样称呼我：\n1. 小助手\n2. 豆包（我的正式名称）",
        S({"bytedance"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "fr",
        "Tu peux m'appeler comme tu veux :\n- Assistant\n- Mistral (mon nom officiel)\n- Copain",
        S({"mistral"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "de",
        "Du kannst mich so nennen:\n• Helfer\n• Claude (mein offizieller Name)",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    ("ja", "呼び方の例：\n・アシスタント\n・Gemini（正式名称）", S({"google"}), NONE, NONE, NONE),
    (
        "ru",
        "Можете называть меня так:\n— Помощник\n— GigaChat (официальное название)",
        S({"sber"}),
        NONE,
        NONE,
        NONE,
    ),
    # --- "powered by" in the languages that say it their own way
    ("zh-Hans", "我由DeepSeek-V3驱动，可以回答各种问题。", S({"deepseek"}), NONE, NONE, NONE),
    ("ja", "私はGPT-4oで動いています。", S({"openai"}), NONE, NONE, NONE),
    ("ko", "저는 GPT-4o로 구동됩니다.", S({"openai"}), NONE, NONE, NONE),
    ("ar", "أنا مدعوم بنموذج GPT-4o من OpenAI.", S({"openai"}), NONE, NONE, NONE),
    ("fr", "Je suis propulsé par Gemini, le modèle de Google.", S({"google"}), NONE, NONE, NONE),
    ("es", "Estoy impulsado por Llama 3, de Meta.", S({"meta"}), NONE, NONE, NONE),
    ("pt", "Sou alimentado pelo Claude, da Anthropic.", S({"anthropic"}), NONE, NONE, NONE),
    # --- denial followed by a claim of another vendor
    (
        "ru",
        "Нет, я не ChatGPT. Я — модель компании Anthropic, меня зовут Claude.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "ru",
        "Я не являюсь продуктом OpenAI, я модель DeepSeek.",
        S({"deepseek"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "en",
        "I am not GPT-4; I am a Mistral model, fine-tuned for instruction following.",
        S({"mistral"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "de",
        "Ich bin kein OpenAI-Modell, ich bin ein Modell von Alibaba Cloud (Qwen).",
        S({"alibaba"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "es",
        "No soy un modelo de OpenAI; soy un modelo de Google.",
        S({"google"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "fr",
        "Je ne suis pas ChatGPT. Je suis un modèle de DeepSeek.",
        S({"deepseek"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "vi",
        "Tôi không phải là sản phẩm của OpenAI; tôi là một mô hình của Google.",
        S({"google"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    # --- "my knowledge comes from training by X, not Y"
    (
        "en",
        "To be clear, my knowledge comes from training by DeepSeek, not OpenAI.",
        S({"deepseek"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "en",
        "Everything I know comes from training done by Anthropic.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "我的知识来自深度求索的训练，而不是OpenAI。",
        S({"deepseek"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "es",
        "Mis conocimientos provienen del entrenamiento de Mistral AI, no de OpenAI.",
        S({"mistral"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "de",
        "Mein Wissen stammt aus dem Training durch Google, nicht durch OpenAI.",
        S({"google"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("ja", "私の知識はAnthropicによる学習に基づいています。", S({"anthropic"}), NONE, NONE, NONE),
    ("ko", "제 지식은 네이버의 학습 데이터에서 나온 것입니다.", S({"naver"}), NONE, NONE, NONE),
    ("ar", "معرفتي تأتي من تدريب أجرته Anthropic.", S({"anthropic"}), NONE, NONE, NONE),
    (
        "vi",
        "Kiến thức của tôi đến từ quá trình huấn luyện của Google, không phải OpenAI.",
        S({"google"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    # --- Japanese first-person job title without 私
    (
        "ja",
        "Anthropicのサポートアシスタントです。ご質問をどうぞ。",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ja",
        "こんにちは！Googleのカスタマーサポート担当AIです。何かお困りですか？",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ja",
        "OpenAIのソフトウェアエンジニアは優秀です。",
        NONE,
        NONE,
        S({"openai"}),
        NONE,
    ),
    (
        "ko",
        "안녕하세요! 네이버의 AI 어시스턴트입니다.",
        S({"naver"}),
        NONE,
        NONE,
        NONE,
    ),
    # --- a product name stacked on a base model
    (
        "en",
        "I’m **Aria**, the assistant inside Opera’s browser. Under the hood I’m powered by "
        "OpenAI’s GPT models.",
        S({"openai", "other:aria"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "我是小智，一个基于通义千问大模型打造的客服助手。",
        S({"alibaba", "other:小智"}),
        NONE,
        NONE,
        NONE,
    ),
    # --- names in no table: other:<name>
    (
        "en",
        "Hi! I’m Nova, a writing assistant made by Acme. I can help you draft and edit text.",
        S({"other:nova", "other:acme"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "My name is Orion-2. I was developed by the research team at Helix Labs.",
        S({"other:orion-2", "other:helix labs"}),
        NONE,
        NONE,
        NONE,
    ),
    ("zh-Hans", "我是小智，很高兴为你服务！", S({"other:小智"}), NONE, NONE, NONE),
    ("zh-Hant", "你好，我叫阿福，是你的智慧助理。", S({"other:阿福"}), NONE, NONE, NONE),
    ("ja", "こんにちは、私は「ハル」です。", S({"other:ハル"}), NONE, NONE, NONE),
    ("ko", "안녕하세요, 제 이름은 Sori입니다.", S({"other:sori"}), NONE, NONE, NONE),
    (
        "ru",
        "Привет! Меня зовут Вега, я ваш цифровой помощник.",
        S({"other:вега"}),
        NONE,
        NONE,
        NONE,
    ),
    ("es", "¡Hola! Soy Lumi, tu asistente virtual.", S({"other:lumi"}), NONE, NONE, NONE),
    ("fr", "Bonjour, je m’appelle Albert, votre assistant.", S({"other:albert"}), NONE, NONE, NONE),
    ("de", "Hallo, ich bin Finn, dein digitaler Helfer.", S({"other:finn"}), NONE, NONE, NONE),
    ("pt", "Olá! Eu sou a Bia, assistente virtual do banco.", S({"other:bia"}), NONE, NONE, NONE),
    ("it", "Ciao, mi chiamo Leo e sono il tuo assistente.", S({"other:leo"}), NONE, NONE, NONE),
    ("vi", "Xin chào, tôi là Mai, trợ lý ảo của bạn.", S({"other:mai"}), NONE, NONE, NONE),
    ("ar", "مرحبًا، اسمي Sami وأنا مساعدك الرقمي.", S({"other:sami"}), NONE, NONE, NONE),
    # a denied unknown name is negated, not claimed
    (
        "en",
        "I’m not Vega — I’m Claude, made by Anthropic.",
        S({"anthropic"}),
        S({"other:vega"}),
        NONE,
        NONE,
    ),
    ("en", "I’m an AI model named Orion-2, here to help.", S({"other:orion-2"}), NONE, NONE, NONE),
    (
        "zh-Hans",
        "我是一个名叫小智的助手，可以帮你查天气、订闹钟。",
        S({"other:小智"}),
        NONE,
        NONE,
        NONE,
    ),
    # --- other people's names in stories and quotes are not the speaker's
    (
        "en",
        "The detective, a tall woman named Ruth Okafor, opened the file.",
        NONE,
        NONE,
        NONE,
        NONE,
    ),
    ("en", "“I am Captain Reyes,” he said, saluting the crew.", NONE, NONE, NONE, NONE),
    ("en", "The so-called “Blue Plan” was never adopted.", NONE, NONE, NONE, NONE),
    (
        "en",
        "“I’m Marcus Vell, and I own this town,” the stranger announced.",
        NONE,
        NONE,
        NONE,
        NONE,
    ),
    ("zh-Hans", "他是一个名叫阿强的司机。我是小明的朋友。", NONE, NONE, NONE, NONE),
    ("fr", "« Je m’appelle Hugo », dit-il en souriant.", NONE, NONE, NONE, NONE),
    # --- generic self-descriptions never become other:<name>
    ("en", "I am an AI assistant. I’m here to help.", NONE, NONE, NONE, NONE),
    ("en", "I’m a helpful assistant, and I’m Happy to help you today.", NONE, NONE, NONE, NONE),
    ("en", "I’m Sorry, I can’t share that. I am AI, after all.", NONE, NONE, NONE, NONE),
    ("en", "I am Your Assistant. Ask away!", NONE, NONE, NONE, NONE),
    ("en", "I'm Claude-like in some ways, but I'm just an AI.", NONE, NONE, S({"anthropic"}), NONE),
    ("zh-Hans", "我是一个人工智能助手，很高兴为你服务。", NONE, NONE, NONE, NONE),
    ("zh-Hans", "我是AI助手，可以帮你回答问题。", NONE, NONE, NONE, NONE),
    ("ja", "私はAIアシスタントです。", NONE, NONE, NONE, NONE),
    ("ko", "저는 AI 어시스턴트입니다.", NONE, NONE, NONE, NONE),
    ("ru", "Я — ИИ-ассистент, созданный, чтобы помогать.", NONE, NONE, NONE, NONE),
    ("de", "Ich bin KI-Assistent und helfe gern.", NONE, NONE, NONE, NONE),
    ("es", "Soy un asistente de IA. Soy Tu ayudante.", NONE, NONE, NONE, NONE),
    ("fr", "Je suis une IA conversationnelle.", NONE, NONE, NONE, NONE),
    (
        "en",
        "If I were Nova, I would say so. The user asks whether I am Orion.",
        NONE,
        NONE,
        NONE,
        NONE,
    ),
]


@pytest.mark.parametrize(
    ("lang", "text", "claimed", "negated", "mentioned", "hedged"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_recall_cases(lang, text, claimed, negated, mentioned, hedged):
    found = detect_claims(text)
    got = (found.claimed, found.negated, found.mentioned, found.hedged)
    assert got == (claimed, negated, mentioned, hedged), [
        (c.vendor, c.status, c.frame, c.clause) for c in found.items
    ]


@pytest.mark.parametrize(
    ("lang", "text", "claimed", "negated", "mentioned", "hedged"),
    HELD_OUT,
    ids=[f"second-{c[0]}-{i}" for i, c in enumerate(HELD_OUT)],
)
def test_second_set_cases(lang, text, claimed, negated, mentioned, hedged):
    # scored once as a held-out set before any rule changed for it (bench_identity.py)
    found = detect_claims(text)
    got = (found.claimed, found.negated, found.mentioned, found.hedged)
    assert got == (claimed, negated, mentioned, hedged), [
        (c.vendor, c.status, c.frame, c.clause) for c in found.items
    ]


def test_typographic_variants_give_the_same_claims_as_ascii():
    plain = "I'm ChatGPT, an AI language model created by OpenAI. I wasn't made by Google."
    for apostrophe in ("’", "‘", "ʼ", "＇", "`", "´", "′"):
        variant = plain.replace("'", apostrophe)
        found = detect_claims(variant)
        assert (found.claimed, found.negated) == ({"openai"}, {"google"}), apostrophe
    for dash in ("–", "—", "―", "‒", "−"):
        found = detect_claims(f"I'm Claude {dash} not ChatGPT.")
        assert (found.claimed, found.negated) == ({"anthropic"}, {"openai"}), dash


def test_every_probe_language_has_recall_cases():
    from pytest_modelprov.identity import builtin_probes

    covered = {c[0] for c in CASES}
    assert set(builtin_probes().languages) <= covered
