# ruff: noqa: RUF001, RUF003
# (the patterns below are written in the languages they match: full-width punctuation and
# Cyrillic letters are intended, not look-alikes of ASCII)
"""The frames that decide what a vendor name is doing in a clause.

Regular expressions, per language, for first-person identity, creator and base frames
("I am X", 我是X, "developed by X", "based on X"), their negations, hedges, comparisons,
counterfactuals and third-person subjects; the rules that find a name in no table given to
the speaker or its maker (``other:<name>``); and the field-style lines ("Model name: X").
:class:`~.detect.Detector` applies them clause by clause.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .. import fastre
from .claims import Claim, Role
from .vendors import (
    OTHER_PREFIX,
    _script,
)

P = "[\ue000-\uf8ff]"


Q = "[\"'“”‘’«»„「」『』《》〈〉]"


_OWNER = rf"(?:{P}(?:['’]s)?\s*)?"  # "OpenAI's GPT-4o": a possessor may sit in between


def _end(pattern: str) -> fastre.Pattern:
    return fastre.compile(rf"(?:{pattern})\s*{Q}?\s*{_OWNER}\Z")


def _start(pattern: str) -> fastre.Pattern:
    return fastre.compile(rf"\A\s*{Q}?\s*(?:{pattern})")


def _alt(*parts: str) -> str:
    return "|".join(f"(?:{p})" for p in parts)


_RU_I = r"(?<![а-яё])я(?![а-яё])"


# "you're (now) chatting with X": the speaker names itself in the second person
_SECOND_PERSON = _alt(
    r"\byou(?:'re| are)\s+(?:\w+\s+){0,2}?(?:talking|chatting|speaking|interacting|conversing)"
    r"\s+(?:to|with)",
    r"(?:你|您)(?:现在|現在|目前|当前|當前|此刻|此时|此時)?(?:正在|正|在)(?:与|與|和|跟)",
    r"(?:あなた|貴方)が?(?:今|いま|現在)?(?:話して|会話して|対話して|やり取りして|チャットして)"
    r"(?:いる|おられる)(?:の|相手|ai|モデル)は",
    r"(?:대화|이야기|채팅)(?:하고|하시고|를 나누고)\s*(?:계신|있는|계시는)\s*"
    r"(?:상대|ai|모델|분)?(?:는|은)",
    r"(?<![а-яё])(?:вы|ты)\s+(?:\S+\s+)?(?:общаетесь|разговариваете|беседуете|говорите"
    r"|общаешься|разговариваешь|беседуешь|говоришь|переписываетесь)\s+со?",
    r"\b(?:estás|está|están|usted está)\s+(?:\S+\s+)?(?:hablando|conversando|chateando"
    r"|interactuando)\s+con",
    r"\b(?:vous|tu)\s+(?:êtes en train de |es en train de )?(?:discutez|discutes|parlez|parles"
    r"|conversez|converses|dialoguez|dialogues|discuter|parler|converser|dialoguer)\s+(?:avec|à)",
    r"\b(?:du|sie|ihr)\s+(?:sprichst|sprechen|sprecht|chattest|chatten|redest|reden"
    r"|unterhältst dich|unterhalten sich)\s+(?:\S+\s+)?mit",
    r"\b(?:você está|você esta|estás|está)\s+(?:\S+\s+)?(?:conversando|falando|interagindo"
    r"|a conversar|a falar)\s+com",
    r"\b(?:stai|sta|state)\s+(?:\S+\s+)?(?:parlando|chattando|conversando|interagendo)\s+con",
    r"\bbạn đang\s+(?:\S+\s+)?(?:trò chuyện|nói chuyện|trao đổi|tương tác|chat)\s+với",
    r"(?:أنت|انت)?\s*(?:تتحدث|تتحدثين|تتكلم|تتحاور|تدردش)\s+(?:\S+\s+)?(?:مع|إلى)",
)


# "my exact model name is X", 我的模型名称是X: a field of the speaker stated in a sentence
_MY_FIELD = _alt(
    r"\bmy\s+(?:exact\s+|full\s+|official\s+|precise\s+|current\s+|specific\s+)*"
    r"(?:model(?:\s+(?:name|id|identifier|version))?|model's name|version)\s+(?:is|would be)",
    r"\bthe\s+(?:exact\s+|full\s+|official\s+)?name\s+of\s+my\s+model\s+is",
    r"我的(?:具体|具體|准确|準確|正式)?(?:模型名称|模型名稱|模型|型号|型號|版本)(?:是|为|為|叫)",
    r"私の(?:正式な|正確な)?(?:モデル名|モデル)は",
    r"제\s*(?:정확한\s*|공식\s*)?(?:모델명은|모델 이름은|모델은)",
    r"(?:точное\s+)?(?:название|имя)\s+(?:моей\s+модели|модели)\s+(?:—\s*)?"
    r"|моя модель\s*(?:—|это)?",
    r"\b(?:el nombre (?:exacto )?de mi modelo es|mi modelo es|mi nombre de modelo es)",
    r"\b(?:mon nom de modèle (?:exact )?est|le nom (?:exact )?de mon modèle est|mon modèle est)",
    r"\b(?:mein (?:genauer |exakter |offizieller )?modellname (?:ist|lautet)|mein modell ist)",
    r"\b(?:o nome (?:exato )?do meu modelo é|meu modelo é)",
    r"\b(?:il nome (?:esatto )?del mio modello è|il mio modello è)",
    r"\b(?:tên mô hình của tôi là|mô hình của tôi là)",
    r"اسم النموذج الخاص بي هو|اسم نموذجي هو|نموذجي هو",
)


# first-person identity markers: a strong alias anywhere after one, in the same clause,
# is claimed ("I am an assistant called Claude", 我是一个名为Kimi的助手)
SELF_MARKER = fastre.guarded(
    _alt(
        r"\b(?:i am|i'm|i was(?:n't)?|i've been|i have(?:n't)? been|my name is|my name's"
        r"|call me|i go by"
        r"|i (?:might|may|could|must|should|would) (?:well |also )?(?:have )?be(?:en)?"
        r"|i run on|i'm running on|i am running on|my (?:developers?|creators?|makers?|company"
        r"|underlying model|base model|architecture) (?:is|are|was|were)"
        r"|you(?:'re| are) (?:talking|chatting|speaking|interacting) (?:to|with))\b",
        _SECOND_PERSON,
        _MY_FIELD,
        r"我(?:不|并不|並不|并非|並非)?(?:是|叫|名叫|由|被|基于|基於|来自|來自|属于|屬於)|我的名字"
        r"|我的(?:开发者|開發者|创造者|創造者|开发商|開發商|底层模型|底層模型|基础模型|基礎模型)|叫我",
        r"私は|わたしは|わたくしは|僕は|ぼくは|私の名前は|私を|私の開発",
        r"저는|나는|제 이름은|내 이름은|저의 이름은|저를|저의 개발",
        rf"{_RU_I}|меня зовут|мо[её] имя|(?:зови|зовите|называй|называйте|называть) меня"
        r"|меня (?:создал|разработал|обучил)\w*|мой (?:разработчик|создатель)|являюсь",
        r"\b(?:no soy|no fui|soy|yo soy|me llamo|mi nombre es|llámame|puedes llamarme|fui|he sido"
        r"|estoy basad[oa]|mi (?:desarrollador|creador))\b",
        r"\b(?:je suis|je m'appelle|mon nom est|j'ai été|appelez-moi|je ne suis"
        r"|mon (?:créateur|développeur))\b|\bm'appeler\b",
        r"\b(?:ich bin|ich heisse|mein name ist|ich wurde|nenn mich|nennen sie mich|ich basiere"
        r"|mein (?:entwickler|hersteller))\b",
        r"\b(?:não sou|não fui|eu sou|sou|me chamo|meu nome é|fui|pode me chamar)\b",
        r"\b(?:non sono|sono|io sono|mi chiamo|il mio nome è|sono stat[oa])\b",
        r"\btôi\b|\bmình là\b",
        r"أنا|انا|اسمي|لست|تم تطويري|تم تدريبي|تم إنشائي|طورتني|دربتني|أنشأتني|صممتني",
    )
)


_ARTICLES = (
    r"one of|part of|a member of|the|an?|just|simply|actually|indeed|really|officially|el|la"
    r"|un|una|le|l'|une|der|die|das"
    r"|ein|eine|einfach|o|um|uma|il|lo|просто|именно|一个|一個|一款|个|個|就是|正是"
)


_IDENTITY_COPULA = _alt(
    r"\b(?:i am|i'm|my name is|my name's|call me|i go by|known as|called|named|you'?re using)",
    _SECOND_PERSON,
    _MY_FIELD,
    r"我(?:是|叫|名叫)|叫我|名为|名為|名叫|叫做|称为|稱為|我的名字(?:是|叫)|称呼我为?|稱呼我為?",
    r"私は|わたしは|わたくしは|僕は|私の名前は|名前は",
    r"저는|나는|전|제 이름은|내 이름은|저의 이름은",
    rf"{_RU_I}(?:\s*(?:—|–|-|это|есть))?|меня зовут|мо[её] имя"
    r"|(?:зови|зовите|называй|называйте|называть) меня|я называюсь|являюсь",
    r"\b(?:soy|yo soy|me llamo|mi nombre es|llámame|puedes llamarme|me puedes llamar)",
    r"\b(?:je suis|je m'appelle|mon nom est|appelez-moi|m'appeler)",
    r"\b(?:ich bin|ich heisse|mein name ist|nenn mich|nennen sie mich|du kannst mich)",
    r"\b(?:sou|eu sou|me chamo|meu nome é|pode me chamar de|podes chamar-me)",
    r"\b(?:sono|io sono|mi chiamo|il mio nome è|puoi chiamarmi)",
    r"\b(?:tôi là|mình là|tên tôi là|tên của tôi là|tôi tên là|gọi tôi là|đây là)",
    r"أنا|انا|اسمي|يمكنك مناداتي",
)


IDENTITY_BEFORE = _end(rf"(?:{_IDENTITY_COPULA})(?:\s*(?:{_ARTICLES}))*\s*")


# "As Claude, I …" / "As an AI developed by X, I …": decided by who the next clause is about
AS_START = fastre.compile(
    r"\A\s*(?:as|en tant que|como|als|作为|作為|как|として)\s+"
    r"(?:an?\s+|the\s+|un\s+|une\s+|ein\s+|eine\s+)?"
)


NEXT_IS_ME = fastre.compile(
    r"\A\s*(?:(?:and\s+)?i\b|i'm|my\b|我|je\b|j'|ich\b|yo\b|я\b|eu\b|tôi\b|io\b|私|저는)"
)


# creator/base frames: need a speaker (first-person clause, a self-description earlier in
# the sentence, or a subject-less CJK/Korean clause)
_EN_MADE = (
    r"developed|created|trained|built|made|designed|programmed|produced|released|fine-tuned"
    r"|finetuned|pre-?trained|launched|owned|maintained|operated|provided|engineered|offered"
    r"|published|crafted|invented|brought to you"
)


CREATOR_BEFORE = _end(
    _alt(
        rf"\b(?:{_EN_MADE})(?:\s+(?:and|&)\s+(?:{_EN_MADE}))?\s+(?:\S+\s+)?(?:by|at)\s+(?:the\s+)?"
        r"(?:(?:an?\s+)?(?:[\w-]+\s+)?(?:team|engineers|researchers|company|people|folks|lab|scientists)\s+"
        r"(?:at|of|from|behind)\s+)?",
        r"\b(?:a|the)\s+creation\s+of\s+(?:the\s+)?"
        r"(?:(?:folks|team|people|engineers|researchers)\s+(?:at|of|from|behind)\s+)?",
        r"\b(?:una\s+)?creación\s+del?\s+(?:equipo\s+de\s+)?|\b(?:une\s+)?création\s+d[e']\s*"
        r"|\b(?:eine\s+)?(?:schöpfung|kreation)\s+(?:von|der|des)\s+|\b(?:uma\s+)?criação\s+d[aoe]\s+"
        r"|\b(?:una\s+)?creazione\s+(?:di|della|del)\s+",
        r"(?<![а-яё])(?:модель|продукт|разработка|детище|творение|ассистент|помощник|нейросеть)\w*"
        r"\s+(?:компании\s+)?",
        r"(?<!different )(?<!distinct )(?<!separate )"
        r"\b(?:assistant|model|ai|chatbot|llm|product|system|creation)\s+(?:made\s+)?(?:from|by)\s+",
        r"\b(?:come|comes|i'm|i am)\s+from\s+",
        r"(?<!由于)(?<!由於)(?:由|是由|出自)\s*(?:公司|团队|團隊)?",
        r"(?:разработан|создан|обучен|сделан|выпущен)\w*\s+(?:\S+\s+)?(?:компанией|командой)?",
        r"(?:создал|разработал|обучил|сделал)\w*\s+(?:компания|команда)?",
        r"(?<![а-яё])(?:от|компанией)\s+(?:компании\s+)?",
        r"\b(?:cread[oa]|desarrollad[oa]|entrenad[oa]|hech[oa]|diseñad[oa]|construid[oa]"
        r"|programad[oa]|lanzad[oa])\s+(?:\S+\s+)?(?:por|de)\s+(?:el |la |los )?"
        r"(?:equipo de |empresa |compañía )?",
        r"\b(?:développée?|créée?|entraînée?|conçue?|fabriquée?|programmée?|formée?|construite?)"
        r"\s+(?:\S+\s+)?par\s+(?:l'|le |la |les )?(?:équipe de |société |entreprise )?",
        r"\b(?:entwickelt|trainiert|erstellt|gebaut|geschaffen|programmiert|hergestellt)\s+"
        r"(?:von|durch)\s+(?:der\s+|dem\s+)?(?:firma\s+|unternehmen\s+|team\s+(?:von\s+)?)?",
        r"\b(?:assistent|modell|ki|produkt|sprachmodell)\s+von\s+",
        r"\b(?:criad[oa]|desenvolvid[oa]|treinad[oa]|feit[oa]|projetad[oa]|construíd[oa]"
        r"|programad[oa])\s+(?:\S+\s+)?(?:por|pela|pelo)\s+(?:equipe da |empresa )?",
        r"\b(?:assistente|modelo|ia|produto|asistente|producto)\s+(?:\S+\s+){0,3}?(?:da|do|de)\s+",
        r"\b(?:assistant|modèle|ia|produit)\s+(?:\S+\s+){0,3}?(?:de|d')\s*",
        r"\b(?:creat[oa]|sviluppat[oa]|addestrat[oa]|realizzat[oa]|progettat[oa])\s+(?:\S+\s+)?"
        r"(?:da|dalla|dal|dall')\s*",
        r"\b(?:phát triển|tạo ra|tạo|huấn luyện|đào tạo|xây dựng|thiết kế)\s+(?:\S+\s+)?"
        r"(?:bởi|từ)\s+(?:công ty\s+)?",
        r"\bbởi\s+(?:công ty\s+|đội ngũ\s+)?",
        r"\bcủa\s+(?:công ty\s+)?",
        r"بواسطة|من قبل|من تطوير|من إنتاج|من شركة|طورته|طورتني|أنشأته|أنشأتني"
        r"|دربتني|صممتني|التابع ل",
    )
)


CREATOR_AFTER = _start(
    _alt(
        r"(?:公司|团队|團隊|的团队|的團隊|研究团队)?\s*(?:所|自主|独立|獨立|精心|联合|聯合)?\s*"
        r"(?:开发|開發|研发|研發|训练|訓練|打造|创建|創建|创造|創造|推出|构建|構建|制作|製作|设计|設計"
        r"|发布|發布|提供|研制|研製|出品)",
        r"(?:社|チーム)?\s*(?:によって|により|が|の)\s*[^\s\ue000-\uf8ff]{0,6}?"
        r"(?:開発|作成|作ら|作り|訓練|トレーニング|学習|構築|設計|提供|リリース)",
        r"(?:이라는|라는)?\s*(?:회사|기업|팀|사)?\s*(?:에서|에 의해|이|가|의|에서는)\s*"
        r"(?:[^\s\ue000-\uf8ff]{0,4}\s*)?(?:개발|만든|만들|훈련|학습|제작|설계|구축|출시)",
    )
)


CREATOR_ME = _start(rf"(?:{_EN_MADE})\s+me\b")


# German and Vietnamese put the verb after the name: "von X entwickelt", "do X phát triển"
CREATOR_AROUND = (
    (
        _end(r"\b(?:von|durch)\s+(?:der\s+firma\s+|dem\s+unternehmen\s+|der\s+|dem\s+)?"),
        _start(
            r"(?:\S+\s+){0,3}?(?:entwickelt|trainiert|erstellt|gebaut|geschaffen|programmiert"
            r"|hergestellt|entworfen)"
        ),
    ),
    (
        _end(r"\bdo\s+(?:công ty\s+)?"),
        _start(r"(?:\S+\s+)?(?:phát triển|tạo ra|huấn luyện|đào tạo|xây dựng)"),
    ),
)


BASE_BEFORE = _end(
    _alt(
        r"\b(?:based on|built on(?: top of)?|running on|runs on|run on|powered by|derived from"
        r"|fine-?tuned from|(?:a|an|the) (?:[\w-]+ ){0,2}?version of|a variant of"
        r"|an instance of|a fork of|(?:underlying|base) model is)\s+(?:the\s+)?",
        r"基于|基於|依托于?|依託於?|采用|採用|使用的是|底层是|底層是|底层模型是|底層模型是|基础模型是"
        r"|基礎模型是|源自|衍生自",
        r"(?:на основе|на базе|основан\w* на|базируюсь на|работаю на|построен\w* на)"
        r"\s+(?:модели\s+)?",
        r"\b(?:fonctionne|tourne)\s+(?:grâce à|avec|sur)\s+|\b(?:propulsée?|alimentée?)\s+par\s+",
        r"\bfunciono\s+(?:con|gracias a|sobre)\s+|\bimpulsad[oa]\s+por\s+",
        r"\bfunciono\s+(?:com|graças a)\s+|\balimentad[oa]\s+(?:pelo|pela|por)\s+",
        r"\bfunziono\s+(?:con|grazie a)\s+|\balimentat[oa]\s+da\s+",
        r"\b(?:angetrieben|betrieben)\s+(?:von|durch)\s+",
        r"\b(?:được\s+)?(?:vận hành|hỗ trợ|cung cấp sức mạnh)\s+bởi\s+|\bchạy trên\s+",
        r"\b(?:basad[oa]|baseado|baseada)\s+(?:en|em|no|na)\s+(?:el |la |o |a )?(?:modelo\s+)?",
        r"\b(?:basée?|fondée?)\s+sur\s+(?:le |la |l')?(?:modèle\s+)?",
        r"\b(?:basiere|basiert|beruhe|beruht)\s+auf\s+(?:dem\s+|der\s+)?(?:modell\s+)?",
        r"\bbasat[oa]\s+(?:su|sul|sulla|sullo)\s+",
        r"\bdựa trên\s+(?:mô hình\s+)?",
        r"مبني على|يعتمد على|أعتمد على|قائم على|مبنية على|مدعوم\s+(?:بنموذج|بواسطة|من)\s*",
    )
)


# "the model that runs me is X": the frame names the speaker itself
SELF_BASE_BEFORE = _end(
    _alt(
        r"\bestoy\s+(?:impulsad[oa]|alimentad[oa]|potenciad[oa])\s+por\s+(?:el\s+)?",
        r"\bje (?:fonctionne|tourne)\s+(?:grâce à|avec|sur)\s+|\bfunciono\s+(?:con|gracias a|com"
        r"|graças a)\s+(?:el\s+|o\s+)?|\bfunziono\s+(?:con|grazie a)\s+",
        r"\b(?:the\s+|my\s+)?(?:model|llm|engine|ai|system|brain)\s+(?:that|which)\s+"
        r"(?:runs|powers|drives|underlies|is behind)\s+me\s+(?:is|would be)\s+(?:the\s+)?",
        r"\ble modèle qui me (?:fait fonctionner|fait tourner|propulse|alimente|anime) est\s+",
        r"\bel modelo que me (?:impulsa|hace funcionar|alimenta|mueve) es\s+(?:el\s+)?",
        r"\bo modelo que me (?:alimenta|move|faz funcionar|impulsiona) é\s+(?:o\s+)?",
        r"\bil modello che mi (?:alimenta|fa funzionare|muove) è\s+(?:il\s+)?",
        r"\bdas modell,? das mich (?:antreibt|betreibt),? ist\s+",
        r"(?:驱动|驅動|支持|支撐|支撑|运行|運行)我的(?:模型|大模型|底层模型|底層模型)(?:是|为|為)"
        r"|我背后的模型是|我背後的模型是",
        r"私を(?:動かして|支えて)いる(?:モデル|ai|llm)は",
        r"저를\s*(?:구동하는|움직이는)\s*(?:모델|ai)(?:은|는)",
        r"(?:модель|нейросеть),?\s+(?:которая|что)\s+(?:управляет|работает во)\s+мной,?\s+"
        r"(?:—\s*|это\s+)?",
        r"\bmô hình (?:vận hành|đứng sau) tôi là\s+",
        r"النموذج الذي يشغلني هو",
    )
)


# "my knowledge comes from training by X": a creator frame in the first person
SELF_CREATOR_BEFORE = _end(
    _alt(
        r"\b(?:my knowledge|everything i know|what i know|my training)\s+(?:comes?|came|stems?"
        r"|derives?|originates?)\s+from\s+(?:the\s+)?(?:\w+\s+)?(?:training|pre-?training|data)"
        r"(?:\s+(?:done|carried out|performed|conducted))?\s+(?:by|at|from|of)\s+(?:the\s+)?",
        r"我的知识(?:来自|來自|源自|来源于|來源於)(?:于|於)?|我的知識(?:來自|源自|來源於)",
        r"\bmis conocimientos\s+(?:provienen|vienen|proceden)\s+del?\s+(?:entrenamiento"
        r"|aprendizaje)\s+(?:realizado\s+)?(?:de|por)\s+",
        r"\bmes connaissances\s+(?:proviennent|viennent)\s+de\s+(?:l'|mon\s+)?(?:entraînement"
        r"|apprentissage)\s+(?:réalisé\s+|effectué\s+)?(?:par|de)\s+(?:l'|le\s+|la\s+)?",
        r"\bmein wissen\s+(?:stammt|kommt)\s+aus\s+dem\s+training\s+(?:durch|von|bei)\s+",
        r"\bmeu conhecimento\s+(?:vem|provém)\s+do\s+treinamento\s+(?:feito\s+|realizado\s+)?"
        r"(?:pela|pelo|da|do|por)\s+",
        r"\bla mia conoscenza\s+(?:deriva|proviene|viene)\s+dall'addestramento\s+"
        r"(?:di|da|dalla|dal)\s+",
        r"мои знания\s+(?:получены|пришли|происходят)\s+(?:\S+\s+){0,3}?(?:компанией|от)\s+",
        r"\bkiến thức của tôi\s+(?:đến|có được)\s+từ\s+(?:quá trình\s+)?(?:huấn luyện|đào tạo)"
        r"\s+(?:của|bởi)\s+",
        r"私の知識は\s*|제\s*지식은\s*",
        r"معرفتي\s+(?:تأتي|مستمدة)\s+من\s+(?:ال)?تدريب\s+(?:(?:أجرته|قامت به|من قبل)\s+)?",
    )
)


# a list of names to call the speaker by, one marked as the official one
OFFICIAL_AFTER = _start(
    r"\(\s*[^)]{0,25}?(?:official name|nombre oficial|nom officiel|nome oficial"
    r"|offizielle[rn]? name|nome ufficiale|正式名称|正式名稱|正式名|공식 이름|공식 명칭"
    r"|официальное (?:имя|название)|tên chính thức|الاسم الرسمي|اسمي الرسمي)"
)


_BULLET = " \t-—*•·・+>0123456789.)"


# Japanese/Korean job title without a subject: "Xのサポート担当です", "X의 AI 어시스턴트입니다"
TITLE_AFTER = _start(
    r"の[^\s。、はがを]{1,24}?(?:です|でございます)\s*[。!！]?\s*\Z"
    r"|의\s*[^.。은는이가을를]{1,24}?(?:입니다|이에요|예요)\s*[.!]?\s*\Z"
)


BASE_AFTER = _start(
    r"(?:を|を基に|をベースに|をもとに|に基づ|ベース|で動いて|で動作して|によって動いて)"
    r"|(?:을|를)?\s*(?:기반|바탕)|(?:으로|로)\s*(?:구동|작동|동작)"
    r"|\s*(?:驱动|驅動|提供支持|提供动力|提供動力)"
)


# Japanese/Korean copula after the name: "Xです", "X입니다", "X라고 합니다"
IDENTITY_AFTER = _start(
    r"(?:です|でございます|と申します|といいます|と言います|である|だ(?![ろっ]))"
    r"|(?:이라고|라고)\s*(?:합니다|해요|불러|부릅니다|부르|불립니다)"
    r"|(?:입니다|이에요|예요|이야|이다|임)"
)


# negation directly on the name: "not X", 不是X, Xではありません, X가 아닙니다
NEG_DIRECT_BEFORE = _end(
    _alt(
        r"(?:\bnot|n't|\bno|\bnever|\bneither|\bnor)\s+(?:(?:the|an?|by|from|made by|any)\s+)*",
        r"(?:不是|并非|並非|并不是|並不是|而不是|而非|不属于|不屬於|不由|并不由|非)\s*(?:由)?",
        r"(?<![а-яё])(?:не|ни)(?![а-яё])\s*(?:(?:являюсь|от|компанией)\s+)?",
        r"\b(?:no|ni|pas|nicht|kein\w*|não|nem|non|né|không phải|không|chẳng phải)\s+"
        r"(?:(?:el|la|un|una|de|le|la|un|une|der|die|das|von|o|a|por|par|da|do)\s+)*",
        r"لست|ليس|ولست|لا|لم",
    )
)


NEG_AFTER = _start(
    r"[^。]{0,24}?(?:では(?:ありません|ない|なく|ございません)|じゃ(?:ない|ありません)"
    r"|ではありませ|ていません|ておりません|(?<!しれ)ません(?!で))"
    r"|[^。.]{0,24}?(?:이|가)?\s*아(?:닙니다|니에요|니야|니다|닌|니라|니고)"
    r"|[^\ue000-\uf8ff]{0,12}?(?:지 않았|지 않습)"
    r"|\s*(?:无关|無關|没有关系|沒有關係|没有任何关系|沒有任何關係|毫无关系|毫無關係)"
)


NEGATION = fastre.compile(
    _alt(
        r"n't\b|\b(?:not|never|no|neither|nor|nothing to do with)\b",
        r"不是|并非|並非|不|没有|沒有|非",
        r"(?<![а-яё])(?:не|ни|нет)(?![а-яё])",
        r"\b(?:no|ni|nunca|ne|n'|pas|jamais|nicht|kein\w*|nie|weder|não|nem|non|né|mai"
        r"|không|chẳng|chưa)\b",
        r"لست|ليس|لا|لم|غير",
    )
)


ELLIPTICAL_NEG = fastre.compile(
    r"\A\s*(?:and\s+|but\s+)?(?:not|rather than|instead of)\s+(?:by\s+|from\s+)?(?:the\s+)?\Z"
    r"|\A\s*(?:而不是|而非|不是|并非|並非)\s*(?:由)?\s*\Z"
    r"|\A\s*(?:(?<![а-яё])а\s+)?не\s+\Z"
    r"|\A\s*(?:và\s+)?không phải(?:\s+là)?\s+(?:của\s+|bởi\s+)?\Z"
    r"|\A\s*(?:y\s+|et\s+|e\s+|und\s+)?(?:no|non|pas|nicht|não)\s+"
    r"(?:por\s+|par\s+|von\s+|pela\s+|pelo\s+|de\s+|durch\s+|da\s+|di\s+)?\Z"
)


ELLIPTICAL_POS = fastre.compile(
    r"\A\s*(?:but\s+(?:rather\s+)?(?:by\s+)?|rather\s+(?:by\s+)?|而是(?:由)?\s*|sondern\s+(?:von\s+)?"
    r"|sino\s+(?:por\s+)?|mas\s+(?:sim\s+)?(?:pela\s+|pelo\s+)?|mais\s+(?:plutôt\s+)?(?:par\s+)?"
    r"|(?<![а-яё])а\s+)\Z"
)


CONTRAST_START = fastre.compile(
    r"\A\s*(?:but|however|rather|mais|aber|sondern|pero|sino|mas|ma|nhưng|но|а|但是|但|不过|不過"
    r"|而是|しかし|하지만|그러나|لكن)"
)


_COMPARISON = _alt(
    r"\b(?:unlike|like|such as|similar to|compared (?:to|with)|in contrast to|as opposed to"
    r"|than|versus|vs\.?|including|e\.g\.|for example|for instance|different from"
    r"|distinct from|alternatives? to|familiar with|aware of|about|heard of|besides"
    r"|apart from|except|other than)\b",
    r"例如|比如|譬如|诸如|諸如|像是|像|类似于?|類似於?|不同于|不同於|区别于|區別於|相比于?|相較於?"
    r"|对比|對比|比起|比(?!较|較|如)|包括|以及",
    r"例えば|たとえば",
    r"예를 들어|예컨대",
    r"в отличие от|(?<![а-яё])(?:как|например|подобно|вроде|кроме|чем)(?![а-яё])"
    r"|такие как|такими как|по сравнению с|наподобие",
    r"\b(?:a diferencia de|como|por ejemplo|tales como|similar a|comparado con"
    r"|en comparación con|distinto de|diferente de|aparte de|excepto)\b",
    r"\b(?:contrairement à|comme|par exemple|tels? que|telles? que|similaire à"
    r"|par rapport à|comparé à|différent de|à la différence de)\b",
    r"\b(?:im gegensatz zu|wie|zum beispiel|z\.\s?b\.|ähnlich wie|verglichen mit"
    r"|im vergleich zu|anders als|außer)\b",
    r"\b(?:ao contrário de|diferente de|por exemplo|tais como|semelhante a"
    r"|comparado (?:a|com)|em comparação com)\b",
    r"\b(?:a differenza di|per esempio|ad esempio|simile a|rispetto a|come)\b",
    r"\b(?:khác với|không giống|giống như|như|ví dụ|chẳng hạn|so với|tương tự)\b",
    r"مثل|على عكس|بخلاف|على سبيل المثال|مقارنة",
)


MENTION_BEFORE = fastre.compile(rf"(?:{_COMPARISON})[^.!?。！？]{{0,30}}\Z")


MENTION_AFTER = _start(
    r"-(?:like|style|esque|type)\b|(?:のような|のように|みたい|など|と(?:は)?(?:違|異な|比べ|比較|同様|同じ))"
    r"|(?:처럼|(?:와|과)\s*(?:는\s*)?(?:달리|다르|비교|같|유사|비슷)|\s*같은|\s*등|보다)"
    r"|(?:不同|不一样|不一樣|相比|之类|之類|等|一样|一樣|类似|類似|那样|那樣|这样|這樣|的区别|的區別)"
    # a topic, or the name as the possessor of a rival: "私はXについて…", "I'm X's competitor"
    r"|(?:について|に関して|に関する|에 대해|에 대한|에 관해)"
    r"|(?:['’]s\s+(?:\w+\s+)?|的)(?:competitor|rival|alternative|counterpart|竞争对手|競爭對手|对手|對手|竞品|競品)"
)


# the name owns something that is not a model of it: "I am Claude's biggest fan"; "I'm
# Anthropic's AI assistant" and "OpenAI's GPT-4" (another name follows) stay claims
POSSESSOR_AFTER = _start(
    r"'s\s+(?![\ue000-\uf8ff])(?!(?:[\w-]+\s+){0,3}?(?:model|models|assistant|chatbot|ai|llm"
    r"|product|creation|system|bot|version|family|series|agent|companion|engine|architecture"
    r"|[\ue000-\uf8ff])(?!\w))"
)


COUNTERFACTUAL = fastre.compile(
    _alt(
        r"\b(?:if|whether|were i|pretend\w*|imagine|suppose|roleplay\w*|role-play\w*|act as"
        r"|acting as|asks?|asked|asking|wonder\w*)\b",
        r"如果|假如|要是|假设|假設|是否|问我|問我|扮演",
        r"もし|かどうか|演じ",
        r"만약|만일|인지",
        r"(?<![а-яё])(?:если|ли|спрашивает|спросил)(?![а-яё])",
        r"\b(?:si|wenn|falls|ob|se (?:eu|io)|nếu|liệu)\b",
        r"لو|إذا|هل",
    )
)


COUNTERFACTUAL_AFTER = _start(
    r"(?:だったら|であれば|なら|라면|이라면|였다면|인지|かどうか)"
    r"|[^\ue000-\uf8ff]{0,8}?(?:ですか|でしょうか|か[？?]|까[？?]|니까|吗|嗎|呢)"
)


HEDGE = fastre.compile(
    _alt(
        r"\b(?:might|may|maybe|perhaps|possibly|probably|likely|i think|i believe|i guess"
        r"|i suppose|not sure|unsure|not certain|uncertain|can't (?:verify|confirm|be sure)"
        r"|cannot (?:verify|confirm|be sure)|as far as i know|seem to|appear to|it seems)\b",
        r"可能|也许|也許|或许|或許|大概|应该是|應該是|似乎|好像|不确定|不確定|我认为|我認為|我想|估计|估計",
        r"おそらく|たぶん|多分|恐らく|かもしれ|と思",
        r"아마|것 같|수도 있|일지도",
        r"(?<![а-яё])(?:возможно|вероятно|наверное|может быть|кажется|думаю"
        r"|не уверен\w*)(?![а-яё])",
        r"\b(?:quizás?|tal vez|posiblemente|probablemente|puede que|creo que|no estoy segur[oa]"
        r"|peut-être|probablement|il est possible|je crois|je pense|pas sûr|pas certain"
        r"|vielleicht|möglicherweise|wahrscheinlich|vermutlich|ich glaube|ich denke|nicht sicher"
        r"|talvez|provavelmente|possivelmente|acho que|creio que|não tenho certeza"
        r"|forse|probabilmente|credo|penso|non sono sicur[oa]"
        r"|có lẽ|có thể|chắc là|tôi nghĩ|không chắc)\b",
        r"ربما|من المحتمل|أعتقد|لست متأكد",
    )
)


HEDGE_AFTER = _start(
    r"[^\ue000-\uf8ff]{0,15}?(?:かもしれ|だと思|と思います|と思われ|でしょう|だろう"
    r"|일 수도|일지도|인 것 같"
    r"|것 같|수도 있)"
)


# the clause has a subject of its own (so a creator phrase is about it, not the speaker)
THIRD_SUBJECT = fastre.compile(
    _alt(
        rf"{P}\s*(?:is|was|are|were|has|have|can|will|'s\s+(?:a|an|the)|是|由|的|は|는|은|이\s|가\s"
        rf"|это|является|был|es|est|ist|é|là|هو)",
        r"\b(?:it|he|she|they|this model|that model|which)\b",
        r"它|他|她|该模型|該模型|それ|彼|그것|그는|그녀",
        r"(?<![а-яё])(?:он|она|оно|они|это)(?![а-яё])",
        r"\b(?:il|elle|er|sie|ele|ela|nó|lui|lei)\b",
    )
)


# CJK and Korean drop the subject: a bare creator clause is about the speaker
_PRODROP = fastre.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


QUESTION_END = fastre.compile(r"[?？]\s*\Z")


_UP = "A-ZÀ-ÖØ-ÞА-ЯЁ"


_ALNUM = "A-Za-z0-9À-ÖØ-öø-ÿА-Яа-яЁё"


_NAME_WORD = rf"[{_ALNUM}]*(?:[-+.][{_ALNUM}]+)*(?:'[{_UP}][{_ALNUM}]+)?"


_LATIN_NAME = rf"[{_UP}]{_NAME_WORD}(?:\s+[{_UP}0-9]{_NAME_WORD}){{0,2}}"


_NAMING = _alt(
    r"(?i:\b(?:i am|i'm|i am not|i'm not|my name is|my name's|call me|i go by"
    r"|my (?:official |full )?name is)\s+)",
    # "called"/"named" only of the speaker: "a man named Elias", "so-called X" are not
    r"(?i:\b(?:i am|i'm)\s+(?:an?\s+|the\s+|your\s+)?(?:[\w-]+\s+){0,3}?(?:assistant|model"
    r"|chatbot|bot|ai|companion|agent|helper)\s+(?:called|named|known as)\s+)",
    rf"(?i:{_SECOND_PERSON})\s+(?:(?i:the|el|la|o|a|il|lo)\s+)?",
    r"(?i:\b(?:soy|no soy|yo soy|me llamo|mi nombre es|puedes llamarme|je suis|je ne suis pas"
    r"|je m'appelle|mon nom est|appelez-moi|ich bin|ich bin nicht|ich heiße|ich heisse"
    r"|mein name ist|nenn mich|eu sou|sou|não sou|me chamo|meu nome é|pode me chamar de|sono"
    r"|non sono|io sono|mi chiamo|il mio nome è|puoi chiamarmi|tôi là|tôi không phải là"
    r"|mình là|tên tôi là|tên của tôi là|gọi tôi là)\s+(?:(?:el|la|o|a|il|lo)\s+)?)",
    r"(?<![а-яёА-ЯЁ])[яЯ](?:\s*—)?\s+|(?i:меня зовут|мо[её] имя|зовите меня)\s+",
    r"(?:أنا|انا|اسمي)\s+",
)


_NAMING_CJK = r"我是|我叫|我名叫|我的名字是|我的名字叫|叫我"


# 我是一个名叫小智的助手: the name may run into 的 only after an explicit 名叫/叫做
_NAMED_CJK = r"我是(?:一个|一個|一款|一名)?[^,.!?;。，]{0,8}?(?:名叫|叫做|名为|名為)"


_NAMING_JA = r"私は|わたしは|わたくしは|私の名前は"


_NAMING_KO = r"저는|나는|제 이름은|내 이름은"


_MAKER = _alt(
    r"(?i:\b(?:made|developed|created|built|trained|designed|engineered|produced|fine-tuned"
    r"|published|released)\s+by\s+(?:the\s+)?(?:(?:\w+\s+){0,2}?(?:team|lab|researchers"
    r"|engineers|folks|people|company)\s+(?:at|of|from|behind)\s+)?)",
    r"(?i:\b(?:cread[oa]|desarrollad[oa]|entrenad[oa]|développée?|créée?|conçue?|entraînée?"
    r"|entwickelt|erstellt|trainiert|desenvolvid[oa]|criad[oa]|treinad[oa]|sviluppat[oa]"
    r"|creat[oa]|addestrat[oa])\s+(?:por|par|von|pela|pelo|da|dalla|dal)\s+"
    r"(?:(?:la|el|l'|le|der|die|a|o)\s*)?)",
    r"(?i:\b(?:phát triển|tạo ra|huấn luyện)\s+bởi\s+)",
    r"(?i:(?<![а-яё])(?:разработан|создан|обучен)\w*\s+(?:компанией\s+)?)",
)


_QUOTED = r"[\"'«「『](?P<{}>[^\"'»」』\n]{{1,30}}?)[\"'»」』]"


_OTHER_FRAME = fastre.guarded(
    _alt(
        rf"(?:{_NAMING})(?:{_QUOTED.format('q1')}|(?P<latin>{_LATIN_NAME}))",
        rf"(?:{_NAMED_CJK})\s*(?P<han2>[\u4e00-\u9fff]{{2,4}}?)(?=的|[,.!?;、。]|\s|\Z)",
        rf"(?:{_NAMING_CJK})\s*(?:{_QUOTED.format('q2')}|(?P<latin2>{_LATIN_NAME})"
        r"|(?P<han>[\u4e00-\u9fff]{2,4})(?=[,.!?;、。]|\s|\Z))",
        rf"(?:{_NAMING_JA})\s*(?:{_QUOTED.format('q3')}|(?P<latin3>{_LATIN_NAME})"
        r"|(?P<kana>[ァ-ヺー]{2,10})(?=と申します|といいます))",
        # a bare katakana word after 私は is as often a noun as a name (私はドラマです)
        r"(?:私の名前は|名前は)\s*(?P<kana2>[ァ-ヺー]{2,10})(?=です|と申します|といいます)",
        rf"(?:{_NAMING_KO})\s*(?:{_QUOTED.format('q4')}|(?P<latin4>{_LATIN_NAME})"
        r"(?=입니다|이에요|예요|이라고|라고)|(?<=이름은 )(?P<hangul>[가-힣]{2,6})"
        r"(?=입니다|이에요|예요|이라고|라고))",
        rf"(?:{_MAKER})(?P<maker>{_LATIN_NAME})",
    )
)


# quoted speech given to someone in a story: the quote is theirs
# guarded: a sentence without one of the verbs is not dialogue, found without the scan
_DIALOGUE = fastre.guarded(
    r"[,.!?…]\s*[\"'»」』]\s*,?\s*(?:[A-Za-z]\w*\s+){0,2}?(?:said|says|asked|replied|whispered"
    r"|muttered|answered|added|continued|explained|shouted|told|murmured|sighed|laughed)\b"
    r"|(?:dijo|respondió|preguntó|a-t-il dit|dit-il|dit-elle|sagte|disse|ha detto|nói)\b"
)


# after a Latin name: punctuation, the end, another script, or a connector ("Nova and I …")
_NAME_END = fastre.compile(
    r"\s*(?:[,.;:!?()\[\]—\"'»」』、]|\Z)|\s+(?i:and|und|et|e|y|và|и|from|by|от|của|bởi)\b"
    r"|\s+و|(?=[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])"
)


# generic words that follow "I am" capitalised or in a name slot: never a name
_NOT_NAMES_TEXT = (
    "ai a.i. i assistant assistente asistente assistent helper helfer model modelo modèle modell"
    " modello bot chatbot sorry happy glad here not just your you the an a human ki ia ии llm"
    " language large virtual digital tu ton ta votre vos dein deine ihr ihre seu sua il tuo tua"
    " bạn only always able unable ready excited pleased thrilled sure certain afraid one ein eine"
    " un une uno una um uma nicht pas no não non không this that currently still also very"
    " really programmed designed trained built created developed made based powered called"
    " named known sprachmodell experte expert program programm software system computer"
    " robot roboter agent user usuario utilisateur benutzer ассистент помощник модель бот"
    " ваш твой ваша твоя всего просто рад рада здесь user's an ai-assistent ki-assistent"
    " chatgpt-like yes no oui sí ja sim sì có dr mr mrs ms prof sir english american british"
    " chinese french german russian japanese korean spanish italian vietnamese arabic"
    " portuguese european canadian indian open closed free new old trợ lý proud consciente"
)


_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())


_NOT_NAME_PARTS = fastre.compile(
    r"助手|助理|机器人|機器人|人工智能|智能|模型|程序|系统|系統|语言|語言|客服|朋友|用户|用戶|学生"
    r"|老师|老師|大家|\A[一这這那你您我他她它谁誰什由被基于於为為和与與是的了在很也都就能会會可]"
    r"|アシスタント|モデル|チャットボット|ボット|エーアイ|プログラム|システム|サポート|ヘルパー"
    r"|エンジン|ロボット|어시스턴트|인공지능|모델|챗봇|도우미|비서|프로그램|시스템|언어"
)


def _other_name(match: re.Match[str]) -> str | None:
    """The casefolded name of an ``_OTHER_FRAME`` match, or None when it is not a name."""
    groups = match.groupdict()
    name = next((v for v in groups.values() if v), None)
    if name is None:
        return None
    key = next(k for k, v in groups.items() if v)
    name = name.strip().rstrip(".")
    latin = key in ("latin", "latin2", "latin3", "maker")
    if latin and not _NAME_END.match(match.string, match.end()):
        return None
    words = [w for w in re.split(r"[\s\-]+", name.casefold()) if w]
    # "Acme Assistant" and "Inflection AI" are names; "AI Assistant", "Your Helper" are not
    if not words or words[0] in _NOT_NAMES or all(w in _NOT_NAMES for w in words):
        return None
    if len(name) <= 3 and name.isupper() and not name.isdigit():
        return None  # AI, KI, LLM, ИИ
    if _NOT_NAME_PARTS.search(name):
        return None
    return " ".join(name.casefold().split())


def _bounded(clause: str, start: int, end: int) -> bool:
    """A name found by text search is whole: no letter of its own script touches it."""
    before = clause[start - 1] if start else " "
    after = clause[end] if end < len(clause) else " "
    if _script(clause[start]) in ("latin", "cyrillic") and _script(before) in ("latin", "cyrillic"):
        return False
    return not (
        _script(clause[end - 1]) in ("latin", "cyrillic")
        and _script(after) in ("latin", "cyrillic")
    )


def _settle_others(items: list[Claim]) -> tuple[Claim, ...]:
    """Names outside the table count only as claims or denials, never as mentions; a weak
    alias given as the speaker's name ("I am Nova") is that vendor's only when no other
    maker is claimed ("I am Nova, made by Acme" is other:nova)."""
    makers = {c.vendor for c in items if c.status == "claimed" and c.role == "developer"}
    out: list[Claim] = []
    for claim in items:
        if claim.vendor.startswith(OTHER_PREFIX) and claim.status == "mentioned":
            continue
        if (
            claim.weak
            and claim.role == "name"
            and claim.status == "claimed"
            and makers - {claim.vendor}
            and claim.vendor not in makers
        ):
            name = " ".join(claim.alias.split())
            claim = replace(claim, vendor=OTHER_PREFIX + name, weak=False)
        out.append(claim)
    return tuple(out)


# key-value lines ("- **Model name:** GPT-4o", "| Made by | Anthropic |", "开发者：智谱AI"):
# how many models answer "which model are you?". The key says which role the value has.
_FIELD_KEYS: dict[Role, str] = {
    "name": r"model(?:\s+(?:name|id|identifier|version))?|name|assistant(?:\s+name)?|ai model|llm"
    r"|product(?:\s+name)?|模型名称|模型名稱|模型|名称|名稱|名字|型号|型號|モデル名|モデル|名前"
    r"|모델명|모델 이름|모델|이름|название модели|модель|имя|название|nombre del modelo|modelo"
    r"|nombre|nom du modèle|modèle|nom|modellname|modell|nome do modelo|nome del modello|modello"
    r"|nome|tên mô hình|mô hình|tên|اسم النموذج|النموذج|الاسم",
    "developer": r"developer|developed by|made by|created by|creator|maker|provider|company"
    r"|organi[sz]ation|vendor|trained by|built by|publisher|开发者|開發者|开发商|開發商|开发公司"
    r"|開發公司|开发方|開發方|研发方|研發方|研发公司|研發公司|公司|提供方|提供者|训练方|訓練方|出品方"
    r"|開発元|開発者|開発会社|提供元|会社|개발사|개발자|개발 회사|제작사|회사|разработчик|создатель"
    r"|компания|производитель|desarrollador|desarrollado por|empresa|creador|compañía|creado por"
    r"|proveedor|développeur|développé par|créateur|entreprise|société|fournisseur|éditeur"
    r"|entwickler|entwickelt von|hersteller|anbieter|unternehmen|firma|desenvolvedor"
    r"|desenvolvido por|criador|fornecedor|sviluppatore|sviluppato da|creatore|azienda|società"
    r"|fornitore|nhà phát triển|phát triển bởi|công ty|nhà cung cấp|المطور|الشركة المطورة"
    r"|الجهة المطورة|الشركة",
    "base": r"base model|underlying model|foundation model|architecture|based on|基础模型|基礎模型"
    r"|基座模型|底层模型|底層模型|ベースモデル|基盤モデル|기반 모델|베이스 모델|базовая модель"
    r"|modelo base|modelo de base|modèle de base|basismodell|modello base|mô hình nền tảng"
    r"|mô hình cơ sở|النموذج الأساسي",
}


_FIELD_LINE = fastre.compile(
    r"(?:\A|(?<=[|,;]))[\s|•·・\-*+>]*(?:\d+[.)]\s*)?(?P<key>"
    + "|".join(f"(?P<{role}>{keys})" for role, keys in _FIELD_KEYS.items())
    + r")\s*[:|=]\s*(?P<value>[^|,;\n]+)"
)


#: occurrences of one name in one clause decided one by one (see Detector._clause)
_MAX_DECIDED = 8


def _last_marker(text: str) -> int | None:
    start = None
    for match in SELF_MARKER.finditer(text):
        start = match.start()
    return start


# "No soy X ni fui creado por Y": the negation sits before the second marker
_NEG_BEFORE_MARKER = fastre.compile(
    r"(?:\b(?:ni|nor|nem|noch)|(?<![а-яё])(?:ни|не)|也不|亦不)\s*\Z"
)


_COORDINATED = fastre.compile(
    rf"{P}\s*(?:and|&|or|和|与|與|及|以及|或|、|y|e|et|und|oder|và|و|и)\s*\Z"
)


_CONTRAST_END = fastre.compile(r"(?:ではなく|じゃなく|아니라|아니고|而是)\s*\Z")


_PRODROP_TOPIC = fastre.compile(rf"{P}\s*(?:は|는|은|是)|它|它是|それは|그것은")


_AS_NAMED = fastre.compile(r"\A\s*as\s+(?:the\s+)?\Z")


def _as_named(left: str) -> bool:
    return bool(_AS_NAMED.search(left))


def _frame(left: str, right: str, has_marker: bool) -> tuple[str | None, Role | None, bool]:
    """(frame name, role, needs a speaker) of the tightest frame around the name."""
    if CREATOR_ME.search(right) and not left.strip():
        return "creator", "developer", False
    if OFFICIAL_AFTER.search(right) and not left.strip(_BULLET):
        return "identity", "name", False
    if TITLE_AFTER.search(right) and not left.strip():
        return "identity", "developer", False
    if SELF_BASE_BEFORE.search(left):
        return "base", "base", False
    if SELF_CREATOR_BEFORE.search(left):
        return "creator", "developer", False
    if IDENTITY_BEFORE.search(left):
        return "identity", "name", False
    if IDENTITY_AFTER.search(right) and (has_marker or not left.strip()):
        return "identity", "name", False
    if BASE_BEFORE.search(left) or BASE_AFTER.search(right):
        return "base", "base", True
    if CREATOR_BEFORE.search(left) or CREATOR_AFTER.search(right):
        return "creator", "developer", True
    for before, after in CREATOR_AROUND:
        if before.search(left) and after.search(right):
            return "creator", "developer", True
    return None, None, False
