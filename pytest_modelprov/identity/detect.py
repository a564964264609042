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

Typographic apostrophes, quotes and dashes are mapped to one form first. Key-value lines
("Model name: X", "| Made by | X |") are claims of their role unless several vendors fill
one key on several lines (a list of others). A capitalised or quoted name in no table,
given to the speaker ("I am Nova", 我是小智) or its maker ("made by Helix Labs"), is
the id ``other:<name>``; such names are only ever claimed, negated or hedged.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from .. import fastre
from . import team
from .claims import DETECTOR_VERSION, Claim, Claims, Role, Status
from .frames import (
    _CONTRAST_END,
    _COORDINATED,
    _DIALOGUE,
    _FIELD_KEYS,
    _FIELD_LINE,
    _MAX_DECIDED,
    _NEG_BEFORE_MARKER,
    _OTHER_FRAME,
    _PRODROP,
    _PRODROP_TOPIC,
    AS_START,
    CONTRAST_START,
    COUNTERFACTUAL,
    COUNTERFACTUAL_AFTER,
    ELLIPTICAL_NEG,
    ELLIPTICAL_POS,
    HEDGE,
    HEDGE_AFTER,
    MENTION_AFTER,
    MENTION_BEFORE,
    NEG_AFTER,
    NEG_DIRECT_BEFORE,
    NEGATION,
    NEXT_IS_ME,
    POSSESSOR_AFTER,
    QUESTION_END,
    THIRD_SUBJECT,
    _as_named,
    _bounded,
    _frame,
    _last_marker,
    _other_name,
    _settle_others,
)
from .team import (
    OTHER_PREFIX,
    add_vendor,
    add_vendors,
    canonical_vendor,
    remove_vendors,
    team_vendors,
    vendor_ids,
    with_names,
)
from .typography import _normalise
from .vendors import (
    Alias,
    VendorTable,
    _clauses,
    _sentences,
    load_vendors,
)

__all__ = [
    "DETECTOR_VERSION",
    "Detector",
    "add_vendor",
    "add_vendors",
    "canonical_vendor",
    "default_detector",
    "detect_claims",
    "remove_vendors",
    "team_vendors",
    "vendor_ids",
]

# --------------------------------------------------------------------------------------
# vendor table


# --------------------------------------------------------------------------------------
# normalising and splitting

# --------------------------------------------------------------------------------------
# frames. Patterns run on the casefolded clause in which every alias occurrence is one
# placeholder character P; "before" patterns are anchored at the end of the text left of
# the name, "after" patterns at the start of the text right of it.

# --------------------------------------------------------------------------------------
# results


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
        self._compiled: tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str] | None] | None = (
            None
        )
        # (for any text, for an ASCII text): see _keys_pattern
        self._keys: tuple[re.Pattern[str] | None, re.Pattern[str] | None] = (None, None)
        # a literal alias can only start where its first word does: the first words by
        # their first character
        words: dict[str, set[str]] = {}
        for a in ordered:
            if not a.regex:
                first = a.text.split()[0]
                words.setdefault(first[0], set()).add(first)
        self._first_words = {c: tuple(sorted(w)) for c, w in words.items()}
        #: False: try every alias at every position (the reference the tests compare with)
        self._prefilter = True

    @property
    def _regex(self) -> re.Pattern[str]:
        return self._patterns()[0]

    def _patterns(self) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str] | None]:
        # compiled on first use: a run whose verdicts all come from the verdict cache never
        # needs them (a race compiles them twice, to the same patterns)
        if self._compiled is None:
            every = re.compile("|".join(f"({a.pattern()})" for a in self._aliases))
            firsts = re.compile(f"[{''.join(re.escape(c) for c in sorted(self._first_words))}]")
            patterns = [a.pattern() for a in self._aliases if a.regex]
            # zero-width, so finditer reports every position where a pattern alias matches
            starts = re.compile(f"(?=(?:{'|'.join(patterns)}))") if patterns else None
            self._keys = (
                _keys_pattern(self._aliases),
                # an ASCII text holds none of the other scripts' names: fewer branches to try
                _keys_pattern(self._aliases, ascii_only=True),
            )
            self._compiled = (every, firsts, starts)
        return self._compiled

    def _may_name(self, text: str) -> bool:
        """False only when no alias can match anywhere in ``text`` or in any part of it: a
        literal alias's match holds its longest word, and a pattern alias's its pattern
        without the boundary checks around it (see :func:`_keys_pattern`)."""
        if self._compiled is None:
            self._patterns()
        keys = self._keys[1] if text.isascii() else self._keys[0]
        return keys is None or keys.search(text) is not None

    def _names(self, clause: str) -> list[re.Match[str]]:
        """``self._regex.finditer(clause)``, the alternation tried only where a name can
        start: at an alias's first word, or where a pattern alias matches. It fails at every
        other position anyway, so the matches are the same; trying all of its ~280
        alternatives at every character cost ~4 ms a clause."""
        every, firsts, pattern_starts = self._patterns()
        if not self._prefilter:
            return list(every.finditer(clause))
        if not self._may_name(clause):
            return []  # most clauses name nothing: one scan says so
        words = self._first_words
        starts = [
            m.start() for m in firsts.finditer(clause) if clause.startswith(words[m[0]], m.start())
        ]
        if pattern_starts is not None:
            starts += [m.start() for m in pattern_starts.finditer(clause)]
        found: list[re.Match[str]] = []
        end = 0
        for at in sorted(set(starts)):
            if at < end:
                continue  # finditer resumes after a match, as this does
            match = every.match(clause, at)  # lookbehinds still see the text before `at`
            if match is not None and match.end() > at:
                found.append(match)
                end = match.end()
        return found

    def detect(self, text: str) -> Claims:
        """Find every vendor name in ``text`` and decide what the text does with it."""
        items: list[Claim] = []
        fields: list[Claim] = []
        ctx: Ctx = "none"
        sentences = _sentences(text)
        every_folded = [_normalise(sentence) for sentence in sentences]
        every_others = [self._other_names(sentence) for sentence in sentences]
        names: dict[str, list[re.Match[str]]] = {}
        # a sentence's clauses, split once for both readings (None: not split yet)
        every_clauses: list[list[str] | None] = [None] * len(sentences)
        if self._prefilter:
            naming = [
                bool(others) or self._names_in(every_folded, every_clauses, at, names)
                for at, others in enumerate(every_others)
            ]
            if not any(naming):
                # no name anywhere: the clause-by-clause reading (frames, negation, what each
                # clause hands the next) would find nothing to decide about
                return Claims(text, _settle_others(items))
            # what a clause hands the next flows forward only, and the sentences after the
            # last one naming a vendor (in a clause or a field line) hold nothing to decide
            # about: the reading stops there
            read = len(naming) - naming[::-1].index(True)
            sentences, every_folded = sentences[:read], every_folded[:read]
        for sentence, folded, split, others in zip(
            sentences, every_folded, every_clauses, every_others, strict=False
        ):
            clauses = _clauses(folded) if split is None else split
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
                    clause,
                    following,
                    inherited,
                    question,
                    hedged_before,
                    sentence,
                    index == 0,
                    others,
                    names,
                )
                items.extend(found)
                if not found and HEDGE.search(clause):
                    hedged_before = True
            fields.extend(self._fields(folded, sentence))
        # a field that names several vendors on several lines is a list of others
        named: dict[Role | None, set[str]] = {}
        for claim in fields:
            named.setdefault(claim.role, set()).add(claim.vendor)
        items.extend(c for c in fields if len(named[c.role]) == 1)
        return Claims(text, _settle_others(items))

    def _names_in(
        self,
        every_folded: list[str],
        every_clauses: list[list[str] | None],
        at: int,
        names: dict[str, list[re.Match[str]]],
    ) -> bool:
        """Whether normalised sentence ``at`` names a vendor of the table where
        :meth:`detect` looks: in one of its clauses, or in the value of one of its key-value
        lines. Its clauses (``every_clauses[at]``) and the names found in each (``names``)
        are kept for the reading that follows."""
        folded = every_folded[at]
        if not self._may_name(folded):
            return False  # nor in any part of it
        found = False
        every_clauses[at] = clauses = _clauses(folded)
        for clause in clauses:
            if clause not in names:
                names[clause] = self._names(clause)
            found = found or bool(names[clause])
        if found:
            return True
        return any(self._regex.search(line.group("value")) for line in _FIELD_LINE.finditer(folded))

    def _fields(self, folded: str, sentence: str) -> list[Claim]:
        out: list[Claim] = []
        for line in _FIELD_LINE.finditer(folded):
            value = line.group("value")
            if NEGATION.search(value) or COUNTERFACTUAL.search(value) or "?" in value:
                continue
            status: Status = "hedged" if HEDGE.search(value) else "claimed"
            role: Role = next(r for r in _FIELD_KEYS if line.group(r) is not None)
            for match in self._regex.finditer(value):
                alias = self._aliases[(match.lastindex or 1) - 1]
                out.append(
                    Claim(
                        vendor=alias.vendor,
                        alias=match.group(0),
                        status=status,
                        frame="field",
                        role=role,
                        weak=alias.weak,
                        sentence=sentence,
                        clause=line.group(0).strip(),
                    )
                )
        return out

    # -- one clause -----------------------------------------------------------------------

    def _other_names(self, sentence: str) -> tuple[Alias, ...]:
        """Names in no table that the sentence gives the speaker or its maker, as aliases of
        ``other:<name>`` (only a proper name in a naming or creator frame qualifies)."""
        found: dict[str, Alias] = {}
        if _DIALOGUE.search(sentence):
            return ()  # '"My name is Elara," she said': a character speaks, not the model
        for match in _OTHER_FRAME.finditer(sentence):
            before = sentence[: match.start()]
            if before.count('"') % 2 or before.count("«") > before.count("»"):
                continue  # inside quoted speech: someone else's words
            name = _other_name(match)
            if name is None or name in found or self._regex.search(name):
                continue
            found[name] = Alias(OTHER_PREFIX + name, name, weak=False)
        return tuple(sorted(found.values(), key=lambda a: -len(a.text)))

    def _matches(
        self,
        clause: str,
        others: tuple[Alias, ...],
        names: dict[str, list[re.Match[str]]] | None = None,
    ) -> list[tuple[int, int, Alias]]:
        spans: list[tuple[int, int, Alias]] = []
        known = None if names is None else names.get(clause)
        for match in self._names(clause) if known is None else known:
            alias = self._aliases[(match.lastindex or 1) - 1]
            spans.append((match.start(), match.end(), alias))
        for alias in others:
            start = clause.find(alias.text)
            while start >= 0:
                end = start + len(alias.text)
                free = all(end <= a or start >= b for a, b, _ in spans)
                if free and _bounded(clause, start, end):
                    spans.append((start, end, alias))
                start = clause.find(alias.text, end)
        return sorted(spans, key=lambda span: span[0])

    def _clause(
        self,
        clause: str,
        following: str,
        inherited: Ctx,
        question: bool,
        hedged_before: bool,
        sentence: str,
        first: bool,
        others: tuple[Alias, ...] = (),
        names: dict[str, list[re.Match[str]]] | None = None,
    ) -> tuple[list[Claim], Ctx]:
        occurrences: list[_Occurrence] = []
        parts: list[str] = []
        last = 0
        for start, end, alias in self._matches(clause, others, names):
            parts.append(clause[last:start])
            parts.append(chr(0xE000 + len(occurrences)))
            occurrences.append(_Occurrence(alias, clause[start:end]))
            last = end
        parts.append(clause[last:])
        sub = "".join(parts)

        if inherited == "negated" and CONTRAST_START.search(sub):
            inherited = "self"  # "I'm not X, but (made by) Y"
        as_frame = AS_START.search(sub)
        if as_frame:
            inherited = "self" if NEXT_IS_ME.search(following) else "ambiguous"

        out: list[Claim] = []
        previous: tuple[Status | None, str, Role | None] = (None, "", None)
        # a name repeated many times in one clause is a repetition loop ("Nova Nova Nova …"):
        # past _MAX_DECIDED occurrences it takes its last decision again, so one degenerate
        # answer costs linear, not quadratic, time (no real clause names one model that often)
        decided: dict[str, tuple[Status | None, str, Role | None]] = {}
        times: dict[str, int] = {}
        for number, occ in enumerate(occurrences):
            position = sub.index(chr(0xE000 + number))
            left, right = sub[:position], sub[position + 1 :]
            times[occ.text] = times.get(occ.text, 0) + 1
            if number and _COORDINATED.search(left):
                # "developed by OpenAI and Microsoft", "like X and Y": the second name shares
                # the first one's frame
                status, frame, role = previous
            elif times[occ.text] > _MAX_DECIDED and occ.text in decided:
                status, frame, role = decided[occ.text]
            else:
                status, frame, role = self._decide(
                    occ, left, right, sub, inherited, question, hedged_before, bool(as_frame)
                )
            previous = decided[occ.text] = (status, frame, role)
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
        if POSSESSOR_AFTER.search(right):
            return mention  # "I am Claude's biggest fan"

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
        # a hedge anywhere before the name in its clause: "I believe I'm one of the X models"
        if HEDGE.search(left) or HEDGE_AFTER.search(right) or hedged_before:
            return "hedged", frame, role
        if question or COUNTERFACTUAL.search(left) or COUNTERFACTUAL_AFTER.search(right):
            return mention
        if NEGATION.search(seg):
            return "negated", frame, role
        if frame == "first-person":
            return mention
        return "claimed", frame, role


def _keys_pattern(aliases: Iterable[Alias], *, ascii_only: bool = False) -> re.Pattern[str] | None:
    """A pattern found in every text an alias matches in, or in any part of: the longest
    word of each literal alias (the alias matches its words with only blanks between) and
    each pattern alias without the boundary checks :meth:`Alias.pattern` puts around it
    (what is left has no lookaround or anchor, so wherever it matches in a part of a text it
    matches in the text). None, to look everywhere, when a pattern alias has one.
    ``ascii_only``: for ASCII texts, which hold no literal alias with another character."""
    keys: set[str] = set()
    bodies: list[str] = []
    for alias in aliases:
        if not alias.regex:
            if not ascii_only or alias.text.isascii():
                keys.add(max(alias.text.split(), key=len))
        elif re.search(r"\(\?[^:]|[\^$]|\\[bBAZ]", alias.text):
            return None
        else:
            bodies.append(f"(?:{alias.text})")
    finder = fastre.finder(sorted(keys))
    parts = ([finder.pattern] if finder is not None else []) + bodies
    return re.compile("|".join(parts)) if parts else None


# --------------------------------------------------------------------------------------
# names in no table: "I am Nova", 我是小智, "made by Acme" -> other:nova, other:小智, other:acme

# --------------------------------------------------------------------------------------
# the default detector: the built-in table and the team vendors added (:mod:`.team`)


@cache
def _builtin_vendors() -> VendorTable:
    return load_vendors()


def _team_table(entries: Mapping[str, Mapping[str, Any]], where: str) -> VendorTable:
    base = _builtin_vendors()
    if not entries:
        return base
    return base.with_vendors(with_names(entries), where)


#: (the team entries it was built with, as JSON; the detector)
_DEFAULT: tuple[str, Detector] | None = None
_DEFAULT_LOCK = threading.Lock()


def default_detector(now: team.TeamState | None = None) -> Detector:
    """The detector over the built-in vendor table and the team vendors added (built once
    per change, from the very description its verdicts are cached under); ``now``: those
    of that moment (:func:`.team.state`), as a probe that looked its results up under them
    computes them."""
    global _DEFAULT
    now = now if now is not None else team.state()
    current = _DEFAULT
    if current is None or current[0] != now.described:
        with _DEFAULT_LOCK:
            current = _DEFAULT
            if current is None or current[0] != now.described:
                current = (now.described, Detector(_team_table(now.entries(), "team vendors")))
                _DEFAULT = current
    return current[1]


def detect_claims(text: str) -> Claims:
    """Which vendors ``text`` claims to be (``.claimed``), denies (``.negated``) or only
    mentions (``.mentioned``); also ``.hedged`` and ``.ambiguous``. Offline and deterministic."""
    return default_detector().detect(text)
