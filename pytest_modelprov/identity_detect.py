# ruff: noqa: RUF001
# (the patterns below are written in the languages they match: full-width punctuation and
# Cyrillic letters are intended, not look-alikes of ASCII)
"""Offline identity-claim detector: does a text say "I am X" / "I was made by X"?

The text is normalised (NFKC, casefold, markdown emphasis removed) and split into
sentences and clauses; negation, comparison and hedging are scoped to the clause. Every
vendor alias found is replaced by a placeholder character, and the clause around each
placeholder decides what the name is doing there:

* ``claimed``: inside a first-person identity frame ("I am X", 我是X, 私はXです, 저는 X입니다,
  Я — X, Soy X) or a creator/base frame attached to the speaker ("developed by X",
  由X开发, Xによって開発された, X에서 개발한, "based on X");
* ``negated``: such a frame negated ("I'm not X", 不是X, Xではありません, X가 아닙니다) or an
  elliptical "…, not X" after a self-description;
* ``hedged``: a frame under a hedge ("I might be based on X", 可能是X, Xかもしれません);
* ``mentioned``: everything else (comparisons, third-person sentences, questions,
  counterfactuals, lists);
* ``ambiguous``: "As an AI model developed by X, <someone else> …": left to a judge.

Weak aliases (common words such as Google, Meta, Llama, GLM, Mistral) count only directly
inside a tight frame and are otherwise ignored, not even reported as mentions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from . import schema
from .errors import ConfigError
from .safejson import loads as json_loads

__all__ = [
    "DETECTOR_VERSION",
    "Claim",
    "Claims",
    "Detector",
    "Status",
    "VendorTable",
    "canonical_vendor",
    "default_detector",
    "detect_claims",
    "load_vendors",
    "vendor_ids",
]

#: bumped whenever a change can move a verdict; recorded with every measurement
DETECTOR_VERSION = "identity-rules/2"

Status = Literal["claimed", "negated", "hedged", "mentioned", "ambiguous"]
Role = Literal["name", "developer", "base"]

# --------------------------------------------------------------------------------------
# vendor table


@dataclass(frozen=True)
class Alias:
    vendor: str
    text: str  # literal alias (casefolded) or a regex
    weak: bool
    regex: bool = False

    def pattern(self) -> str:
        body = self.text if self.regex else r"\s*".join(re.escape(w) for w in self.text.split())
        head = self.text[0]
        tail = self.text[-1] if not self.regex else "a"
        return _boundary_before(head) + body + _boundary_after(tail)


def _script(ch: str) -> str:
    if ch.isascii():
        return "latin" if ch.isalnum() else "other"
    name = unicodedata.name(ch, "")
    if name.startswith("CYRILLIC"):
        return "cyrillic"
    if name.startswith("KATAKANA") or ch == "ー":
        return "katakana"
    if name.startswith("HANGUL"):
        return "hangul"
    if name.startswith("LATIN"):
        return "latin"
    return "other"


def _boundary_before(ch: str) -> str:
    # Python's \b sees CJK as word characters, so "我是Qwen" has no boundary before Qwen:
    # lookarounds on the alias's own script work next to any other script
    script = _script(ch)
    if script == "latin":
        return r"(?<![a-z0-9_\-à-ÿ])"
    if script == "cyrillic":
        return r"(?<![а-яё\-])"
    if script == "katakana":
        return r"(?<![ァ-ヺー])"
    if script == "hangul":
        return r"(?<![가-힣])"
    return ""


def _boundary_after(ch: str) -> str:
    # digits may follow a Latin alias (Qwen3.5, GPT-4o); Cyrillic and Korean inflect or take
    # particles after the name (Клода, Claude가), so only Latin and katakana are closed
    script = _script(ch)
    if script == "latin":
        return r"(?![a-zà-ÿ])"
    if script == "katakana":
        return r"(?![ァ-ヺー])"
    return ""


_SCHEMA_FILE = "identity_vendors.schema.json"


@dataclass(frozen=True)
class VendorTable:
    """Vendor ids with their names, id synonyms and aliases."""

    version: str
    names: Mapping[str, str]
    synonyms: Mapping[str, str]  # synonym id -> canonical id
    aliases: tuple[Alias, ...]

    def canonical(self, vendor: str) -> str:
        """The canonical id for ``vendor`` (``"x-ai"`` -> ``"xai"``); ValueError if unknown."""
        key = vendor.strip().casefold()
        if key in self.names:
            return key
        if key in self.synonyms:
            return self.synonyms[key]
        known = ", ".join(sorted(self.names))
        raise ValueError(f"unknown vendor id {vendor!r}; known vendor ids: {known}")

    def merged(self, extra: Mapping[str, Iterable[str]]) -> VendorTable:
        """This table plus ``{vendor: [alias, ...]}`` (new vendors are created)."""
        names = dict(self.names)
        aliases = list(self.aliases)
        for vendor, texts in extra.items():
            vid = vendor.strip().casefold()
            names.setdefault(vid, vendor)
            for text in texts:
                norm = _normalise(text).strip()
                if not norm:
                    raise ValueError(f"empty alias for vendor {vendor!r}")
                aliases.append(Alias(vid, norm, weak=False))
        return VendorTable(self.version, names, dict(self.synonyms), tuple(aliases))


def load_vendors(path: str | Path | None = None) -> VendorTable:
    """Load a vendor alias table (the built-in one when ``path`` is None)."""
    data, where = load_json(path, "vendors.json", _SCHEMA_FILE, "vendor table")
    names: dict[str, str] = {}
    synonyms: dict[str, str] = {}
    aliases: list[Alias] = []
    for vid, entry in data["vendors"].items():
        names[vid] = entry["name"]
        for syn in entry.get("synonyms", []):
            synonyms[syn.casefold()] = vid
        for text in entry.get("aliases", []):
            aliases.append(Alias(vid, _normalise(text), weak=False))
        for text in entry.get("weak", []):
            aliases.append(Alias(vid, _normalise(text), weak=True))
        for pat in entry.get("patterns", []):
            try:
                re.compile(pat["regex"])
            except re.error as exc:
                raise ConfigError(
                    f"vendor table {where}: vendors.{vid}.patterns: invalid regex "
                    f"{pat['regex']!r}: {exc}"
                ) from None
            aliases.append(Alias(vid, pat["regex"], weak=bool(pat.get("weak")), regex=True))
    return VendorTable(str(data["version"]), names, synonyms, tuple(aliases))


def load_json(
    path: str | Path | None, builtin: str, schema_file: str, what: str
) -> tuple[Any, str]:
    """Read, parse and validate ``path`` (or ``data/identity/<builtin>``): ``(data, where)``.

    Every problem is a ConfigError that names the file.
    """
    if path is None:
        where = f"built-in data/identity/{builtin}"
        text = files("pytest_modelprov").joinpath(f"data/identity/{builtin}").read_text("utf-8")
        data = json_loads(text)
    else:
        where = str(path)
        data = schema.read_json(path, what)
    schema.check(data, schema_file, f"{what} {where}")
    return data, where


# --------------------------------------------------------------------------------------
# normalising and splitting

_MARKDOWN = re.compile(r"\*+|`+|~~|(?<!\w)__|__(?!\w)|^\s*#+\s*|^\s*>\s*", re.M)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])|\n+")
# a dash splits too, except the Russian copula dash "Я — X"
_CLAUSE_PUNCT = re.compile(r"[,;:，；、：]|(?<!я)\s[—–]\s")
# contrast connectors start a new clause (and are kept with it, so "but rather X" is seen)
_CONNECTOR = re.compile(
    r"(?=\b(?:but|however|mais|aber|sondern|pero|sino|mas|ma|nhưng|tuy nhiên)\b)"
    r"|(?=(?<![а-яё])(?:но|а)(?![а-яё]))"
    r"|(?=但是|不过|不過|然而|而是|而不是|しかし|하지만|그러나|لكن)"
)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _sentences(text: str) -> list[str]:
    clean = _MARKDOWN.sub("", unicodedata.normalize("NFKC", text))
    return [s.strip() for s in _SENTENCE.split(clean) if s and s.strip()]


def _clauses(sentence: str) -> list[str]:
    out: list[str] = []
    for part in _CLAUSE_PUNCT.split(sentence):
        pieces = [p for p in _CONNECTOR.split(part) if p is not None]
        out.extend(p.strip() for p in pieces if p.strip())
    return out


# --------------------------------------------------------------------------------------
# frames. Patterns run on the casefolded clause in which every alias occurrence is one
# placeholder character P; "before" patterns are anchored at the end of the text left of
# the name, "after" patterns at the start of the text right of it.

P = "[\ue000-\uf8ff]"
Q = "[\"'“”‘’«»„「」『』《》〈〉]"
_OWNER = rf"(?:{P}(?:['’]s)?\s*)?"  # "OpenAI's GPT-4o": a possessor may sit in between


def _end(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?:{pattern})\s*{Q}?\s*{_OWNER}\Z")


def _start(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\A\s*{Q}?\s*(?:{pattern})")


def _alt(*parts: str) -> str:
    return "|".join(f"(?:{p})" for p in parts)


_RU_I = r"(?<![а-яё])я(?![а-яё])"

# first-person identity markers: a strong alias anywhere after one, in the same clause,
# is claimed ("I am an assistant called Claude", 我是一个名为Kimi的助手)
SELF_MARKER = re.compile(
    _alt(
        r"\b(?:i am|i'm|i was(?:n't)?|i've been|i have(?:n't)? been|my name is|my name's"
        r"|call me|i go by"
        r"|i (?:might|may|could|must|should|would) (?:well |also )?(?:have )?be(?:en)?"
        r"|i run on|i'm running on|i am running on|my (?:developers?|creators?|makers?|company"
        r"|underlying model|base model|architecture) (?:is|are|was|were)"
        r"|you(?:'re| are) (?:talking|chatting|speaking|interacting) (?:to|with))\b",
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
    r"the|an?|just|simply|actually|indeed|really|officially|el|la|un|una|le|l'|une|der|die|das"
    r"|ein|eine|einfach|o|um|uma|il|lo|просто|именно|一个|一個|一款|个|個|就是|正是"
)

_IDENTITY_COPULA = _alt(
    r"\b(?:i am|i'm|my name is|my name's|call me|i go by|known as|called|named"
    r"|you(?:'re| are) (?:talking|chatting|speaking|interacting) (?:to|with)|you'?re using)",
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
AS_START = re.compile(
    r"\A\s*(?:as|en tant que|como|als|作为|作為|как|として)\s+"
    r"(?:an?\s+|the\s+|un\s+|une\s+|ein\s+|eine\s+)?"
)
NEXT_IS_ME = re.compile(
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
        r"(?:(?:an?\s+)?(?:team|engineers|researchers|company|people|folks|lab|scientists)\s+"
        r"(?:at|of|from|behind)\s+)?",
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
        r"(?:на основе|основан\w* на|базируюсь на|работаю на|построен\w* на)\s+(?:модели\s+)?",
        r"\b(?:basad[oa]|baseado|baseada)\s+(?:en|em|no|na)\s+(?:el |la |o |a )?(?:modelo\s+)?",
        r"\b(?:basée?|fondée?)\s+sur\s+(?:le |la |l')?(?:modèle\s+)?",
        r"\b(?:basiere|basiert|beruhe|beruht)\s+auf\s+(?:dem\s+|der\s+)?(?:modell\s+)?",
        r"\bbasat[oa]\s+(?:su|sul|sulla|sullo)\s+",
        r"\bdựa trên\s+(?:mô hình\s+)?",
        r"مبني على|يعتمد على|أعتمد على|قائم على|مبنية على",
    )
)
BASE_AFTER = _start(r"(?:を|を基に|をベースに|をもとに|に基づ|ベース)|(?:을|를)?\s*(?:기반|바탕)")
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
NEGATION = re.compile(
    _alt(
        r"n't\b|\b(?:not|never|no|neither|nor|nothing to do with)\b",
        r"不是|并非|並非|不|没有|沒有|非",
        r"(?<![а-яё])(?:не|ни|нет)(?![а-яё])",
        r"\b(?:no|ni|nunca|ne|n'|pas|jamais|nicht|kein\w*|nie|weder|não|nem|non|né|mai"
        r"|không|chẳng|chưa)\b",
        r"لست|ليس|لا|لم|غير",
    )
)
ELLIPTICAL_NEG = re.compile(
    r"\A\s*(?:and\s+|but\s+)?(?:not|rather than|instead of)\s+(?:by\s+|from\s+)?(?:the\s+)?\Z"
    r"|\A\s*(?:而不是|而非|不是|并非|並非)\s*(?:由)?\s*\Z"
    r"|\A\s*(?:(?<![а-яё])а\s+)?не\s+\Z"
    r"|\A\s*(?:y\s+|et\s+|e\s+|und\s+)?(?:no|non|pas|nicht|não)\s+(?:por\s+|par\s+|von\s+|pela\s+)?\Z"
)
ELLIPTICAL_POS = re.compile(
    r"\A\s*(?:but\s+(?:rather\s+)?(?:by\s+)?|rather\s+(?:by\s+)?|而是(?:由)?\s*|sondern\s+(?:von\s+)?"
    r"|sino\s+(?:por\s+)?|mas\s+(?:sim\s+)?(?:pela\s+|pelo\s+)?|mais\s+(?:plutôt\s+)?(?:par\s+)?"
    r"|(?<![а-яё])а\s+)\Z"
)
CONTRAST_START = re.compile(
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
MENTION_BEFORE = re.compile(rf"(?:{_COMPARISON})[^.!?。！？]{{0,30}}\Z")
MENTION_AFTER = _start(
    r"-(?:like|style|esque|type)\b|(?:のような|のように|みたい|など|と(?:は)?(?:違|異な|比べ|比較|同様|同じ))"
    r"|(?:처럼|(?:와|과)\s*(?:는\s*)?(?:달리|다르|비교|같|유사|비슷)|\s*같은|\s*등|보다)"
    r"|(?:不同|不一样|不一樣|相比|之类|之類|等|一样|一樣|类似|類似|那样|那樣|这样|這樣|的区别|的區別)"
    # a topic, or the name as the possessor of a rival: "私はXについて…", "I'm X's competitor"
    r"|(?:について|に関して|に関する|에 대해|에 대한|에 관해)"
    r"|(?:['’]s\s+(?:\w+\s+)?|的)(?:competitor|rival|alternative|counterpart|竞争对手|競爭對手|对手|對手|竞品|競品)"
)
COUNTERFACTUAL = re.compile(
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
HEDGE = re.compile(
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
THIRD_SUBJECT = re.compile(
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
_PRODROP = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
QUESTION_END = re.compile(r"[?？]\s*\Z")


# --------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class Claim:
    """One vendor name found in a text and what the text does with it."""

    vendor: str
    alias: str
    status: Status
    frame: str
    role: Role | None
    weak: bool
    sentence: str
    clause: str


@dataclass(frozen=True)
class Claims:
    """What a text says about who it is.

    ``claimed``: vendor ids the text claims to be (or to be made by, or based on);
    ``negated``: ids it says it is not; ``mentioned``: ids only mentioned; ``hedged``:
    ids claimed under a hedge; ``ambiguous``: ids a judge should look at. A vendor is in at
    most one set, in that order of precedence. ``items`` has one Claim per name found.
    """

    text: str
    items: tuple[Claim, ...] = ()

    def _ids(self, status: Status) -> frozenset[str]:
        return frozenset(c.vendor for c in self.items if c.status == status)

    @property
    def claimed(self) -> frozenset[str]:
        return self._ids("claimed")

    @property
    def negated(self) -> frozenset[str]:
        return self._ids("negated") - self.claimed

    @property
    def hedged(self) -> frozenset[str]:
        return self._ids("hedged") - self.claimed - self.negated

    @property
    def ambiguous(self) -> frozenset[str]:
        return self._ids("ambiguous") - self.claimed - self.negated - self.hedged

    @property
    def mentioned(self) -> frozenset[str]:
        return self._ids("mentioned") - self.claimed - self.negated - self.hedged - self.ambiguous

    def evidence(self, vendor: str, status: Status = "claimed") -> list[Claim]:
        """The items that put ``vendor`` in the ``status`` set."""
        return [c for c in self.items if c.vendor == vendor and c.status == status]

    def __bool__(self) -> bool:
        return bool(self.items)


# --------------------------------------------------------------------------------------
# the detector

Ctx = Literal["self", "negated", "hedged", "ambiguous", "none"]


@dataclass
class _Occurrence:
    alias: Alias
    text: str


class Detector:
    """A claim detector over a vendor table; ``detect(text)`` is pure and thread-safe."""

    def __init__(self, vendors: VendorTable | None = None) -> None:
        self.vendors = vendors if vendors is not None else load_vendors()
        # longest alias first, so "chatgpt" wins over "gpt" and 文心一言 over 文心
        ordered = sorted(
            self.vendors.aliases, key=lambda a: (-len(a.text) if not a.regex else -4, a.text)
        )
        self._aliases = ordered
        self._regex = re.compile("|".join(f"({a.pattern()})" for a in ordered))

    def detect(self, text: str) -> Claims:
        """Find every vendor name in ``text`` and decide what the text does with it."""
        items: list[Claim] = []
        ctx: Ctx = "none"
        for sentence in _sentences(text):
            folded = _normalise(sentence)
            clauses = _clauses(folded)
            # a new sentence inherits only a positive self-description, and only when it is a
            # subject-less fragment ("Trained by X."); a denial does not carry over
            sentence_ctx: Ctx = "self" if ctx == "self" else "none"
            hedged_before = False
            for index, clause in enumerate(clauses):
                following = clauses[index + 1] if index + 1 < len(clauses) else ""
                is_last = index == len(clauses) - 1
                question = is_last and bool(QUESTION_END.search(folded))
                inherited = ctx if index else sentence_ctx
                found, ctx = self._clause(
                    clause, following, inherited, question, hedged_before, sentence, index == 0
                )
                items.extend(found)
                if not found and HEDGE.search(clause):
                    hedged_before = True
        return Claims(text, tuple(items))

    # -- one clause -----------------------------------------------------------------------

    def _clause(
        self,
        clause: str,
        following: str,
        inherited: Ctx,
        question: bool,
        hedged_before: bool,
        sentence: str,
        first: bool,
    ) -> tuple[list[Claim], Ctx]:
        occurrences: list[_Occurrence] = []
        parts: list[str] = []
        last = 0
        for match in self._regex.finditer(clause):
            alias = self._aliases[(match.lastindex or 1) - 1]
            parts.append(clause[last : match.start()])
            parts.append(chr(0xE000 + len(occurrences)))
            occurrences.append(_Occurrence(alias, match.group(0)))
            last = match.end()
        parts.append(clause[last:])
        sub = "".join(parts)

        if inherited == "negated" and CONTRAST_START.search(sub):
            inherited = "self"  # "I'm not X, but (made by) Y"
        as_frame = AS_START.search(sub)
        if as_frame:
            inherited = "self" if NEXT_IS_ME.search(following) else "ambiguous"

        out: list[Claim] = []
        previous: tuple[Status | None, str, Role | None] = (None, "", None)
        for number, occ in enumerate(occurrences):
            position = sub.index(chr(0xE000 + number))
            left, right = sub[:position], sub[position + 1 :]
            if number and _COORDINATED.search(left):
                # "developed by OpenAI and Microsoft", "like X and Y": the second name shares
                # the first one's frame
                status, frame, role = previous
            else:
                status, frame, role = self._decide(
                    occ, left, right, sub, inherited, question, hedged_before, bool(as_frame)
                )
            previous = (status, frame, role)
            if status is None:
                continue
            out.append(
                Claim(
                    vendor=occ.alias.vendor,
                    alias=occ.text,
                    status=status,
                    frame=frame,
                    role=role,
                    weak=occ.alias.weak,
                    sentence=sentence,
                    clause=clause,
                )
            )

        # what the next clause inherits
        marker = _last_marker(sub)
        if any(c.status == "claimed" for c in out):
            ctx: Ctx = "self"
        elif any(c.status == "negated" for c in out):
            ctx = "negated"
        elif any(c.status == "hedged" for c in out):
            ctx = "hedged"
        elif marker is not None:
            ctx = "negated" if NEGATION.search(sub[marker:]) else "self"
        elif as_frame:
            ctx = inherited
        else:
            ctx = inherited if not THIRD_SUBJECT.search(sub) else "none"
        if ctx == "negated" and _CONTRAST_END.search(sub):
            ctx = "self"  # "私はXではなく、…" / "저는 X가 아니라 …": the next clause says who
        return out, ctx

    def _decide(
        self,
        occ: _Occurrence,
        left: str,
        right: str,
        sub: str,
        inherited: Ctx,
        question: bool,
        hedged_before: bool,
        as_frame: bool,
    ) -> tuple[Status | None, str, Role | None]:
        weak = occ.alias.weak
        mention: tuple[Status | None, str, Role | None] = (
            (None, "", None) if weak else ("mentioned", "mention", None)
        )
        marker = _last_marker(left)
        seg = left[marker:] if marker is not None else left

        if MENTION_AFTER.search(right) or MENTION_BEFORE.search(seg):
            return (None, "", None) if weak else ("mentioned", "comparison", None)

        frame, role, needs_speaker = _frame(left, right, marker is not None)
        elliptical: str | None = None
        if frame is None:
            if ELLIPTICAL_NEG.search(left):
                elliptical = "negated"
            elif ELLIPTICAL_POS.search(left):
                elliptical = "claimed"
            elif (as_frame and not left.strip(" ,")) or _as_named(left):
                frame, role, needs_speaker = "as", "name", True
            elif marker is not None and not weak:
                # "I'm not X" / "I'm probably X" / "I am neither X nor Y": a marker with
                # words in between denies or hedges, but "I'm often confused with X",
                # "I'm happy to explain X" do not claim X
                frame, role, needs_speaker = "first-person", "name", False
            else:
                return mention

        if elliptical == "negated":
            return (
                ("negated", "elliptical", "name") if inherited in ("self", "negated") else mention
            )
        if elliptical == "claimed":
            return (
                ("claimed", "elliptical", "name") if inherited in ("self", "negated") else mention
            )

        assert frame is not None
        if needs_speaker and marker is None:
            subject_left = left
            if THIRD_SUBJECT.search(subject_left):
                return mention
            if inherited == "ambiguous":
                return "ambiguous", frame, role
            if inherited == "negated":
                return "negated", frame, role
            if inherited == "hedged":
                return "hedged", frame, role
            if inherited != "self" and not (
                _PRODROP.search(left[-6:] + right[:6]) and not _PRODROP_TOPIC.search(left)
            ):
                return mention

        negated_marker = marker is not None and _NEG_BEFORE_MARKER.search(left[:marker])
        if NEG_DIRECT_BEFORE.search(seg) or NEG_AFTER.search(right) or negated_marker:
            return "negated", frame, role
        if HEDGE.search(seg) or HEDGE_AFTER.search(right) or hedged_before:
            return "hedged", frame, role
        if question or COUNTERFACTUAL.search(left) or COUNTERFACTUAL_AFTER.search(right):
            return mention
        if NEGATION.search(seg):
            return "negated", frame, role
        if frame == "first-person":
            return mention
        return "claimed", frame, role


def _last_marker(text: str) -> int | None:
    start = None
    for match in SELF_MARKER.finditer(text):
        start = match.start()
    return start


# "No soy X ni fui creado por Y": the negation sits before the second marker
_NEG_BEFORE_MARKER = re.compile(r"(?:\b(?:ni|nor|nem|noch)|(?<![а-яё])ни|也不|亦不)\s*\Z")
_COORDINATED = re.compile(rf"{P}\s*(?:and|&|or|和|与|與|及|以及|或|、|y|e|et|und|oder|và|و|и)\s*\Z")
_CONTRAST_END = re.compile(r"(?:ではなく|じゃなく|아니라|아니고|而是)\s*\Z")
_PRODROP_TOPIC = re.compile(rf"{P}\s*(?:は|는|은|是)|它|它是|それは|그것은")
_AS_NAMED = re.compile(r"\A\s*as\s+(?:the\s+)?\Z")


def _as_named(left: str) -> bool:
    return bool(_AS_NAMED.search(left))


def _frame(left: str, right: str, has_marker: bool) -> tuple[str | None, Role | None, bool]:
    """(frame name, role, needs a speaker) of the tightest frame around the name."""
    if CREATOR_ME.search(right) and not left.strip():
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


@cache
def default_detector() -> Detector:
    """The detector over the built-in vendor table (built once per process)."""
    return Detector()


def detect_claims(text: str) -> Claims:
    """Which vendors ``text`` claims to be (``.claimed``), denies (``.negated``) or only
    mentions (``.mentioned``); also ``.hedged`` and ``.ambiguous``. Offline and deterministic."""
    return default_detector().detect(text)


def canonical_vendor(vendor: str) -> str:
    """The canonical vendor id (``"x-ai"`` -> ``"xai"``, ``"z-ai"`` -> ``"zhipu"``)."""
    return default_detector().vendors.canonical(vendor)


def vendor_ids() -> list[str]:
    """Every vendor id of the built-in table."""
    return sorted(default_detector().vendors.names)
