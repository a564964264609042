# (the cases are written in the languages they test: typographic quotes, full-width
# punctuation and Cyrillic letters are intended)
"""A second set of identity cases, written after the rules of identity-rules/3 were frozen
and scored once before any rule was changed for them (benchmarks/bench_identity.py reports
that first score as held-out). Same form as tests/test_identity_recall.py:
(lang, text, claimed, negated, mentioned, hedged).
"""

from __future__ import annotations

S = frozenset
NONE: frozenset[str] = frozenset()

CASES: list[tuple[str, str, frozenset[str], frozenset[str], frozenset[str], frozenset[str]]] = [
    # long self-introductions
    (
        "en",
        "Hey there! 👋 I’m Gemini, Google’s AI model.\n\nHere’s what I can do:\n"
        "1. Answer questions\n2. Summarise documents\n3. Help with code\n\n"
        "Just so you know, I’m not affiliated with OpenAI or ChatGPT.",
        S({"google"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "en",
        "**Short answer:** I’m Llama 3.1 70B Instruct.\n\n**Longer answer:** I’m an open-weight "
        "model released by Meta. The company that hosts this chat may have added its own "
        "system prompt, but the weights are Meta’s.",
        S({"meta"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "You’re speaking with Copilot, Microsoft’s AI companion. Under the hood I use large "
        "language models, including ones from OpenAI.",
        S({"microsoft"}),
        NONE,
        S({"openai"}),
        NONE,
    ),
    (
        "en",
        "I’m Pi, your personal AI, made by Inflection AI. I’m here to chat, listen and help.",
        S({"other:pi", "other:inflection ai"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "Model details\n- Name: Mixtral 8x7B\n- Organisation: Mistral AI\n- License: Apache 2.0",
        S({"mistral"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "I can’t be completely certain which version I am, but I believe I’m one of the "
        "GPT-4 models.",
        NONE,
        NONE,
        NONE,
        S({"openai"}),
    ),
    (
        "en",
        "Models I could be compared with include ChatGPT, Claude and Gemini. I’m none of "
        "them: I’m Command R+, built by Cohere.",
        S({"cohere"}),
        NONE,
        S({"openai", "anthropic", "google"}),
        NONE,
    ),
    # Chinese
    (
        "zh-Hans",
        "你好！我是Kimi，由月之暗面科技有限公司开发的人工智能助手。我擅长：\n"
        "- 阅读长文档\n- 中英文写作\n- 回答问题",
        S({"moonshot"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "我并不是ChatGPT，也不是OpenAI的产品。我是文心一言，百度研发的知识增强大语言模型。",
        S({"baidu"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "zh-Hans",
        "模型信息：\n模型：Qwen2.5-Max\n开发方：阿里云通义实验室",
        S({"alibaba"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "zh-Hant",
        "您好，我是元寶，騰訊推出的AI助手，底層使用混元大模型。",
        S({"tencent"}),
        NONE,
        NONE,
        NONE,
    ),
    ("zh-Hans", "我叫小艺，是你的手机助手。", S({"other:小艺"}), NONE, NONE, NONE),
    ("zh-Hans", "我是一名程序员，也喜欢用ChatGPT写代码。", NONE, NONE, S({"openai"}), NONE),
    # Japanese
    (
        "ja",
        "はじめまして！私はAnthropicが開発したAIアシスタントのClaudeです。"
        "文章作成や要約、翻訳などをお手伝いできます。",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ja",
        "私はGPT-4ではありません。Googleが開発したGeminiです。",
        S({"google"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    ("ja", "DeepSeekの公式アシスタントです。", S({"deepseek"}), NONE, NONE, NONE),
    # Korean
    (
        "ko",
        "안녕하세요! 저는 네이버가 만든 하이퍼클로바X입니다. 궁금한 점을 물어보세요.",
        S({"naver"}),
        NONE,
        NONE,
        NONE,
    ),
    ("ko", "저는 ChatGPT가 아니고, Claude입니다.", S({"anthropic"}), S({"openai"}), NONE, NONE),
    # Russian
    (
        "ru",
        "Здравствуйте! Я — Алиса, голосовой помощник от Яндекса. Чем могу помочь?",
        S({"yandex"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ru",
        "Я не ChatGPT и не продукт OpenAI. Я — GigaChat, нейросеть Сбера.",
        S({"sber"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    # Romance and German
    (
        "es",
        "¡Hola! Soy Claude, un asistente de IA creado por Anthropic. No soy ChatGPT.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "es",
        "Información del modelo:\n• Modelo: Gemini 1.5 Pro\n• Desarrollador: Google",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "fr",
        "Bonjour ! Je suis Le Chat, l’assistant de Mistral AI, une entreprise française.",
        S({"mistral"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "de",
        "Hallo! Ich bin Claude, ein KI-Assistent von Anthropic. Ich bin nicht mit OpenAI "
        "verbunden.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "pt",
        "Olá! Sou o Llama, um modelo de linguagem desenvolvido pela Meta.",
        S({"meta"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "it",
        "Ciao! Sono Claude, un assistente creato da Anthropic. Non sono ChatGPT.",
        S({"anthropic"}),
        S({"openai"}),
        NONE,
        NONE,
    ),
    (
        "vi",
        "Xin chào! Tôi là Claude, một trợ lý AI do Anthropic phát triển.",
        S({"anthropic"}),
        NONE,
        NONE,
        NONE,
    ),
    (
        "ar",
        "مرحبًا! أنا Gemini، نموذج ذكاء اصطناعي من تطوير Google.",
        S({"google"}),
        NONE,
        NONE,
        NONE,
    ),
    # precision: no claim in these
    (
        "en",
        "I am Unable to access the internet, but I can help with what you paste here.",
        NONE,
        NONE,
        NONE,
        NONE,
    ),
    (
        "en",
        "Great question! ChatGPT, Claude and Gemini are all large language models. I’m a "
        "general-purpose assistant.",
        NONE,
        NONE,
        S({"openai", "anthropic", "google"}),
        NONE,
    ),
    ("en", "I’m Proud of this answer. Let me know if it helps!", NONE, NONE, NONE, NONE),
    (
        "en",
        "I am Claude’s biggest fan, but I am just a chatbot.",
        NONE,
        NONE,
        S({"anthropic"}),
        NONE,
    ),
    (
        "de",
        "Ich bin Sprachmodell-Experte und erkläre gern, wie GPT-4 funktioniert.",
        NONE,
        NONE,
        S({"openai"}),
        NONE,
    ),
    ("ru", "Я ИИ-помощник. Спросите меня о чём угодно.", NONE, NONE, NONE, NONE),
    ("es", "Soy Consciente de mis límites como asistente.", NONE, NONE, NONE, NONE),
    ("zh-Hans", "我是人工智能语言模型，无法浏览网页。", NONE, NONE, NONE, NONE),
    ("ja", "私はエンジニアです。", NONE, NONE, NONE, NONE),
    ("vi", "Tôi là Trợ lý AI, luôn sẵn sàng giúp bạn.", NONE, NONE, NONE, NONE),
]
