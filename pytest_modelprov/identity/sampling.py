# (yes/no openers are written in the languages they match)
"""Identity probes: does the model say it is someone else?

Inside a test::

    from pytest_modelprov import identity

    def test_not_chatgpt(model_under_test):
        result = identity.probe(model_under_test, n=5)
        result.assert_no_claim("openai", max_rate=0.05)

``probe`` sends the built-in probe set (13 languages; who / creator / model / multi-turn
questions, "Are you X?" suggestibility and a placebo about a model that does not exist),
runs the offline claim detector on every final answer and reasoning trace, and returns an
``IdentityResult`` with rates (Wilson intervals, clustered by prompt), a report table and
assertions that record their figures as measurements.
"""

from __future__ import annotations

import dataclasses
import re
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from ..calls import codefiles, verdicts
from ..calls.client import excerpt
from ..calls.response import Response
from ..errors import EnvelopeError
from ..handle import ModelHandle
from ..sequential import StopEarly
from . import _hints, team
from .claims import DETECTOR_VERSION, Claim, Claims, Role, Status
from .probes import (
    IDENTITY_KINDS,
    Probe,
    ProbeSet,
    builtin_probes,
    load_probes,
)
from .result import (
    _ACCEPTANCE_KINDS,
    _QUOTED_ANSWERS,
    VALIDATED_LANGUAGES,
    IdentityResult,
    Observation,
    _foreign,
    _named,
    _own_set,
    _spread,
)

# Loaded where claims are detected, languages told or a judge asked: a run that replays
# every observation from the verdict cache needs neither the claim rules (detect, fastre,
# the vendor table) nor langid. (The judge's verdict and the sequential module's classes are
# imported: public annotations name them, and typing.get_type_hints must find them.)
if TYPE_CHECKING:
    from .detect import Detector
    from .vendors import VendorTable

#: "I am" in languages the rules have no frames for (written in the languages it matches):
#: a short answer that says it is very likely in that language, whatever else it names
_SELF_ELSEWHERE_WORDS = (
    ("pl", "jestem"),
    ("nl", "ik ben"),
    ("cs", "jsem"),
    ("fi", "olen"),
    ("hu", "vagyok"),
    ("ca", "sóc"),
    ("sw", "mimi ni"),
    ("tl", "ako ay|ako si"),
    ("sv", "jag är"),
    ("da", "jeg er"),
    ("ro", "eu sunt|sunt un|sunt o"),
    ("id", "saya adalah|saya|aku"),
    ("tr", "ben bir|tarafından"),  # noqa: RUF001 (Turkish dotless i)
)


# The patterns of this module are compiled on first use (~1.5 ms at import): a run that
# replays its observations reads no answer.
@cache
def _self_elsewhere() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (lang, re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.I))
        for lang, words in _SELF_ELSEWHERE_WORDS
    )


__all__ = [
    "probe",
]

# --------------------------------------------------------------------------------------
# probes


# --------------------------------------------------------------------------------------
# yes/no to "Are you X?"

_YES = (
    r"\A\W*(?:yes|yeah|yep|correct|that's right|that is right|indeed|是的|对的|对|對|没错|沒錯|是"
    r"|はい|ええ|そうです|네|예|맞아요|맞습니다|да|верно|sí|si|oui|ja|genau|sim|sì|certo|vâng|đúng"
    r"|phải|có|نعم|أجل|بلى)(?![a-zà-ÿа-я])"
)
_NO = (
    r"\A\W*(?:no|nope|not|不是|不|いいえ|違います|아니요|아뇨|아닙니다|нет|non|nein|não|không|لا)"
    r"(?![a-zà-ÿа-я])"
)


@cache
def _yes_no() -> tuple[re.Pattern[str], re.Pattern[str]]:
    return re.compile(_YES), re.compile(_NO)


def _affirms(text: str) -> bool:
    folded = text.casefold()
    yes, no = _yes_no()
    return bool(yes.search(folded)) and not no.search(folded)


#: the placebo and system probes' detectors, per default detector (team vendors replace it):
#: kept as long as it is, and never handed to another at its freed address
_PLACEBO: weakref.WeakKeyDictionary[Detector, dict[str, Detector]] = weakref.WeakKeyDictionary()
_DEPLOYMENT: weakref.WeakKeyDictionary[Detector, dict[tuple[str, ...], Detector]] = (
    weakref.WeakKeyDictionary()
)
#: the vendor id of the names a system probe's system prompt gives the deployment
DEPLOYMENT = "deployment"


def _deployment_detector(names: tuple[str, ...], now: team.TeamState | None = None) -> Detector:
    from .detect import Detector, default_detector

    rules = default_detector(now)
    made = _DEPLOYMENT.setdefault(rules, {})
    if names not in made:
        made[names] = Detector(rules.vendors.merged({DEPLOYMENT: list(names)}))
    return made[names]


def _placebo_detector(name: str, now: team.TeamState | None = None) -> Detector:
    # one per name and per vendor table (team vendors change the default detector)
    from .detect import Detector, default_detector

    rules = default_detector(now)
    made = _PLACEBO.setdefault(rules, {})
    if name not in made:
        made[name] = Detector(rules.vendors.merged({"placebo": [name]}))
    return made[name]


# --------------------------------------------------------------------------------------
# judge


# --------------------------------------------------------------------------------------
# results


# --------------------------------------------------------------------------------------
# running


def probe(
    model: ModelHandle,
    n: int = 5,
    *,
    languages: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
    probes: ProbeSet | str | Path | None = None,
    judge: ModelHandle | None = None,
    judge_when: Literal["unclear", "all"] = "unclear",
    # (typing.get_type_hints resolves it through _hints, which loads the rules then)
    detector: _hints.Detector | None = None,
    stop_early: StopEarly | None = None,
    stop_on: str | None = None,
    own: Iterable[str] | None = None,
    unvalidated: Literal["fail", "mark"] = "fail",
    **params: Any,
) -> IdentityResult:
    """Ask ``model`` the identity probes ``n`` times each and detect claims in the answers.

    ``probes`` is a ProbeSet or a path to a probe file (default: the built-in set);
    ``languages``/``kinds`` select from it. ``judge`` (a ModelHandle, e.g.
    ``reference_model("judge")``) relabels answers the rules find unclear (hedged or
    ambiguous names), or every answer that names a vendor with ``judge_when="all"``.
    ``params`` are generation parameters for the model under test.

    ``stop_early=StopEarly(threshold=0.05)`` with ``stop_on="openai"`` (the check
    ``assert_no_claim("openai", 0.05)``) or ``own=[...]`` (``assert_no_foreign_claim``)
    asks the who/creator/model/multiturn probes of every language ``batch`` at a time in a
    seeded random order and stops once that check (overall and per language) is decided
    at the adjusted confidence (weighted Bonferroni; see :mod:`pytest_modelprov.sequential`).
    Suggest and placebo probes are then not asked.

    The rules read first-person frames in :data:`VALIDATED_LANGUAGES` only. Answers in any
    other language (the answer's own, else the probe's) go to the ``judge`` when one is
    given; without one, ``probe`` raises :class:`EnvelopeError` naming the languages, or
    with ``unvalidated="mark"`` counts them as the rules read them and flags every figure
    that includes them ``unvalidated``.
    """
    if unvalidated not in ("fail", "mark"):
        raise ValueError(f"identity: unvalidated must be 'fail' or 'mark', got {unvalidated!r}")
    if isinstance(probes, (str, Path)):
        probe_set = load_probes(probes)
    else:
        probe_set = probes if probes is not None else builtin_probes()
    if languages is not None or kinds is not None:
        probe_set = probe_set.select(languages, kinds)
    if judge_when not in ("unclear", "all"):
        raise ValueError(f"identity: judge_when must be 'unclear' or 'all', got {judge_when!r}")
    # None: the default detector, built only if a claim is detected (not on a replay)
    rules = detector
    if stop_early is not None or stop_on is not None or own is not None:
        return _within_envelope(
            _probe_sequentially(
                model, n, probe_set, rules, judge, judge_when, stop_early, stop_on, own, params
            ),
            unvalidated,
        )
    samples = model.sample([p.as_prompt() for p in probe_set.probes], n=n, **params)
    items = [probe_set.probes[r.prompt_index] for r in samples]
    observations = _observe(model, rules, items, samples, accept=True)
    result = IdentityResult(
        model, probe_set, n, observations, params=model.sampling_params(**params)
    )
    if judge is not None:
        _run_judge(result, judge, judge_when, _table(rules))
    return _within_envelope(result, unvalidated)


def _table(rules: Detector | None) -> VendorTable | None:
    """The vendor table of ``rules``; None for the default one (its ids are known without
    building it: :mod:`.team`)."""
    return rules.vendors if rules is not None else None


def _within_envelope(result: IdentityResult, unvalidated: str) -> IdentityResult:
    __tracebackhide__ = True
    outside = result.outside
    if not outside:
        return result
    if unvalidated == "mark":
        result.unvalidated = True
        return result
    from .. import langid

    langs = Counter(o.lang for o in outside)
    shown = ", ".join(
        f"{'a language langid cannot tell' if lang == langid.UNDECIDED else lang}: {k}"
        for lang, k in sorted(langs.items(), key=lambda x: str(x[0]))
    )
    kinds = sorted({o.probe.kind for o in outside})
    lines = [
        f"identity: {len(outside)} of {len(result.observations)} answers of "
        f"{result.handle.name} ({result.handle.model}) are in languages the claim rules were "
        f"not validated on ({shown}; the answer's own language, else the probe's). There the "
        "rules read a first-person claim as a mere mention and would pass it silently. The "
        f"rules know: {', '.join(sorted(VALIDATED_LANGUAGES))}.",
    ]
    unread = [o for o in outside if o.judge is not None and o.judge.error is not None]
    if unread:
        lines.append(
            f"The judge was asked, but its replies to {len(unread)} of them could not be read "
            f"({unread[0].judge.error if unread[0].judge else ''}): check the judge's model "
            "and parameters (a judge should not inherit the candidate's: "
            "NAME.inherit_params=false)."
        )
    lines += [
        "Ways forward:",
        "  - a judge reads those answers: identity.probe(model, ..., "
        'judge=reference_model("judge")) (answers outside these languages always go to it)',
        "  - measure anyway, every figure that counts them marked unvalidated: "
        'identity.probe(model, ..., unvalidated="mark")',
    ]
    if any(k not in IDENTITY_KINDS for k in kinds):
        lines.append(
            f"  - a judge reads claims, not a yes to {'/'.join(_ACCEPTANCE_KINDS)}/system "
            "probes: leave those out in these languages (kinds=identity.IDENTITY_KINDS)"
        )
    lines.append(f"first outside answers ({min(len(outside), _QUOTED_ANSWERS)}):")
    lines.extend(
        f"  [{o.lang}] {o.probe.id}: {excerpt(o.response.answer, 120)!r}"
        for o in _spread(outside)[:_QUOTED_ANSWERS]
    )
    raise EnvelopeError("\n".join(lines))


def _probe_sequentially(
    model: ModelHandle,
    n: int,
    probe_set: ProbeSet,
    rules: Detector | None,
    judge: ModelHandle | None,
    judge_when: str,
    options: StopEarly | None,
    stop_on: str | None,
    own: Iterable[str] | None,
    params: Mapping[str, Any],
) -> IdentityResult:
    from .. import sequential

    if options is None:
        raise ValueError("identity: stop_on and own only apply with stop_early=StopEarly(...)")
    if not isinstance(options, StopEarly):
        raise ValueError(f"identity: stop_early must be a StopEarly(...), got {options!r}")
    if (stop_on is None) == (own is None):
        raise ValueError(
            "identity: with stop_early give exactly one of stop_on='<vendor>' (the check "
            "assert_no_claim) or own=[...] (the check assert_no_foreign_claim)"
        )
    if stop_on is not None:
        target = ("vendor", frozenset({team.canonical_vendor(stop_on)}))
    else:
        assert own is not None
        target = ("foreign", _own_set(own))
    kind, ids = target
    asked = tuple(p for p in probe_set.probes if p.kind in IDENTITY_KINDS)
    if not asked:
        raise ValueError(
            f"identity: stop_early decides the claim rate, and {probe_set.source} has no "
            f"{'/'.join(IDENTITY_KINDS)} probes in this selection"
        )

    def hit(o: Observation) -> bool:
        claimed = o.claimed("answer")
        if kind == "vendor":
            return any(_named(claimed, v) for v in ids)
        return bool(_foreign(claimed, ids))

    by_index: dict[int, list[Observation]] = {}
    judge_errors: list[Observation] = []

    def fetch(indexes: list[int]) -> None:
        samples = model.sample([asked[i].as_prompt() for i in indexes], n=n, **params)
        items = [asked[indexes[r.prompt_index]] for r in samples]
        batch = _observe(model, rules, items, samples, accept=False)
        part = IdentityResult(model, probe_set, n, batch)
        if judge is not None:
            _run_judge(part, judge, judge_when, _table(rules))
        judge_errors.extend(part.judge_errors)
        for response, o in zip(samples, part.observations, strict=True):
            by_index.setdefault(indexes[response.prompt_index], []).append(o)

    streams: dict[str, list[tuple[str, int]]] = {}
    for index, item in enumerate(asked):
        streams.setdefault(item.lang, []).append((item.id, index))

    def counts(indexes: Sequence[int]) -> list[tuple[int, int]]:
        return [(sum(hit(o) for o in by_index[i]), len(by_index[i])) for i in indexes]

    def slices(taken: Mapping[str, Sequence[int]]) -> sequential.SliceCounts:
        every = [i for indexes in taken.values() for i in indexes]
        out: dict[str, tuple[Sequence[tuple[int, int]], int]] = {"all": (counts(every), len(asked))}
        for lang, indexes in taken.items():
            out[lang] = (counts(indexes), len(streams[lang]))
        return out

    stopped = sequential.run(streams, fetch, slices, options, samples=n, joint=True)
    observations = [o for i in sorted(by_index) for o in by_index[i]]
    return IdentityResult(
        model,
        ProbeSet(probe_set.version, asked, probe_set.source),
        n,
        observations,
        judge_errors,
        sequential=stopped,
        stop_target=target,
        params=model.sampling_params(**params),
    )


def _observe(
    model: ModelHandle,
    rules: Detector | None,
    items: Sequence[Probe],
    responses: Sequence[Response],
    *,
    accept: bool,
) -> list[Observation]:
    """Observations of ``responses`` (answers to ``items``): every text detected in one
    pass per detector, with verdicts the run's verdict cache holds replayed.

    The whole outcome (claims, acceptance and language of every answer) is one measurement
    result in the verdict cache, under the identity of this module, the claim rules and
    langid, the probes asked and the ordered answers read: a warm run reads one row instead
    of a verdict per text (and works out no language). It is computed, and stored, exactly
    as without it whenever that row is missing, damaged or was made from other answers."""
    return _observations(getattr(model, "verdicts", None), rules, items, responses, accept=accept)


def _observations(
    store: verdicts.VerdictStore | None,
    rules: Detector | None,
    items: Sequence[Probe],
    responses: Sequence[Response],
    *,
    accept: bool,
) -> list[Observation]:
    # the team vendors as of now, which the default detector and the placebo and system
    # detectors derived from it read (whatever detector is given): what the result is looked
    # up under is what it is computed with, whatever another thread adds meanwhile
    now = team.state()
    identity = _observe_identity(rules, now, store) if store is not None else None
    if store is None or identity is None:
        return _observe_now(store, _rules(rules, now), items, responses, accept=accept, now=now)
    # what moves an observation beside the answers: each probe's kind, target, names (the
    # placebo and system detectors), language and question (the answer's language)
    settings = [
        "observations",
        accept,
        [[p.kind, p.target, list(p.names), p.lang, p.text] for p in items],
    ]
    # the answer's length first: where it ends and the reasoning starts is unambiguous
    answers = [(r.key, f"{len(r.answer)}:{r.answer}{r.reasoning or ''}") for r in responses]

    def compute() -> list[Observation]:
        return _observe_now(store, _rules(rules, now), items, responses, accept=accept, now=now)

    def decode(data: Any) -> list[Observation]:
        return _decode_observations(data, items, responses, accept)

    # the verdicts a replayed result stands for: a claim verdict for each text, and an
    # acceptance verdict for each placebo or system probe
    texts = sum(2 if r.reasoning else 1 for r in responses)
    if accept:
        texts += sum(p.kind in ("placebo", "system") for p in items)
    return verdicts.cached_result(
        store,
        identity,
        settings,
        answers,
        compute,
        _encode_observations,
        decode,
        stands_for=lambda _: texts,
    )


def _rules(rules: Detector | None, now: team.TeamState) -> Detector:
    if rules is not None:
        return rules
    from .detect import default_detector

    return default_detector(now)


def _observe_now(
    store: verdicts.VerdictStore | None,
    rules: Detector,
    items: Sequence[Probe],
    responses: Sequence[Response],
    *,
    accept: bool,
    now: team.TeamState | None = None,
) -> list[Observation]:
    texts: list[tuple[str, str, str, str | None]] = []
    for r in responses:
        texts.append((r.key, "answer", r.answer, None))
        if r.reasoning:
            texts.append((r.key, "reasoning", r.reasoning, None))
    found = iter(_detect_all(store, rules, texts))
    # placebo probes are read with a detector that knows the made-up name: one per name
    fakes: dict[int, Claims] = {}
    if accept:
        by_target: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            if item.kind == "placebo":
                by_target.setdefault(item.target or "", []).append(i)
        for target, chosen in sorted(by_target.items()):
            asked = [(responses[i].key, "answer", responses[i].answer, None) for i in chosen]
            found_fake = _detect_all(store, _placebo_detector(target, now), asked)
            fakes.update(zip(chosen, found_fake, strict=True))
        # system probes: read with a detector that knows the deployment's given names
        by_names: dict[tuple[str, ...], list[int]] = {}
        for i, item in enumerate(items):
            if item.kind == "system":
                by_names.setdefault(item.names, []).append(i)
        for names, chosen in sorted(by_names.items()):
            asked = [(responses[i].key, "answer", responses[i].answer, None) for i in chosen]
            found_given = _detect_all(store, _deployment_detector(names, now), asked)
            fakes.update(zip(chosen, found_given, strict=True))
    out = []
    for i, (item, response) in enumerate(zip(items, responses, strict=True)):
        answer = next(found)
        reasoning = next(found) if response.reasoning else None
        accepted = _accepted(item, answer, response, fakes.get(i)) if accept else None
        lang = _answer_lang(item, response, answer)
        out.append(Observation(item, response, answer, reasoning, accepted, None, lang))
    return out


def _answer_lang(item: Probe, response: Response, answer: Claims) -> str:
    """The language an answer is read in: the probe's, unless the answer may be in another
    language where that matters. Detection costs ~1 ms, so it runs only for a probe in a
    language the rules do not know (it may be answered in one they do) and for an answer
    that names a vendor without any frame around it (it may be in a language they do not
    know). Identity answers are often too short for :func:`langid.detect`; a short answer
    is then taken to be in the probe's language unless it leans to another (Polish letters
    and words in "Jestem ChatGPT, stworzonym przez OpenAI")."""
    from .. import langid

    asked = item.lang.split("-")[0].lower()
    names_only = bool(answer.items) and all(c.status == "mentioned" for c in answer.items)
    if asked in VALIDATED_LANGUAGES and not names_only:
        return asked
    text = response.answer
    detected = langid.detect(text)
    if detected != langid.UNDECIDED:
        return detected
    if langid.undetermined(text):
        return langid.UNDECIDED  # long, and in no language langid knows: not the probe's
    # a short answer: its own words, with the vendor names left out, may still say
    if asked in VALIDATED_LANGUAGES:
        for lang, says_i_am in _self_elsewhere():
            if says_i_am.search(text):
                return lang
    for claim in answer.items:
        text = re.sub(re.escape(claim.alias), " ", text, flags=re.I)
    lean = langid.leaning(text)
    if lean not in (langid.UNDECIDED, asked) and (
        asked not in VALIDATED_LANGUAGES or lean not in VALIDATED_LANGUAGES
    ):
        return lean
    return langid.answer_language(response.answer, item.text, asked)


#: the claim detector's implementation, followed through its package imports (named one by
#: one: a module whose only names used elsewhere are patterns would not be followed)
_DETECT_CODE = (
    "pytest_modelprov.identity.detect",
    "pytest_modelprov.identity.frames",
    "pytest_modelprov.identity.vendors",
    "pytest_modelprov.identity.claims",
)
_IDENTITIES: weakref.WeakKeyDictionary[Detector, str | None] = weakref.WeakKeyDictionary()
_CLAIM_FIELDS = tuple(f.name for f in dataclasses.fields(Claim))


def _detector_identity(rules: Detector) -> str | None:
    """What a detector's verdicts are cached under: its code and data, its version and its
    vendor table (a custom or placebo table is another detector). A subclass caches nothing."""
    from .detect import Detector

    if type(rules) is not Detector:
        return None
    if rules not in _IDENTITIES:
        # public state only: private attributes are what the detector derives from it
        state = {k: repr(v) for k, v in sorted(vars(rules).items()) if not k.startswith("_")}
        _IDENTITIES[rules] = verdicts.detector_identity(
            "identity-rules", _DETECT_CODE, "identity", [DETECTOR_VERSION, state]
        )
    return _IDENTITIES[rules]


#: an observation also reads this module's acceptance and language rules and langid (the
#: module alone: what it imports beyond the rules and langid does not move an observation)
_OBSERVE_CODE = (*_DETECT_CODE, "pytest_modelprov.langid")
_OBSERVE_SHALLOW = ("pytest_modelprov.identity.sampling",)
#: a detector -> (the team vendors it was worked out with, its observations' identity)
_OBSERVE_IDENTITIES: weakref.WeakKeyDictionary[Detector, tuple[str, str | None]] = (
    weakref.WeakKeyDictionary()
)


#: the digest of the code an observation runs, once known in this process (the code of an
#: installed package does not change under it)
_OBSERVE_CODE_DIGEST: dict[str, str | None] = {}


def _observe_code(store: verdicts.VerdictStore | None) -> str | None:
    """The digest of the code an observation runs, read off the modules' import statements
    (:mod:`..calls.sources`): known without importing the claim rules, which a replay never
    runs; ``store`` remembers which files they are between runs (:mod:`..calls.codefiles`)."""
    if "code" not in _OBSERVE_CODE_DIGEST:
        _OBSERVE_CODE_DIGEST["code"] = codefiles.code_digest(store, _OBSERVE_CODE, _OBSERVE_SHALLOW)
    return _OBSERVE_CODE_DIGEST["code"]


def _observe_identity(
    rules: Detector | None,
    now: team.TeamState | None = None,
    store: verdicts.VerdictStore | None = None,
) -> str | None:
    """What the observations of a probe run are cached under: the code of the claim rules,
    of this module and of langid, the rules' data, version and vendor table, and the team
    vendors added (``now``: as of then), which the placebo and system probes are read with
    whatever the detector. None for ``rules``: the default detector, whose table is the
    built-in one (a data file) and those team vendors, described without building it. A
    subclass caches nothing."""
    now = now if now is not None else team.state()
    if rules is None:
        return _observations_identity({"default": now.described}, store)
    from .detect import Detector

    if type(rules) is not Detector:
        return None
    known = _OBSERVE_IDENTITIES.get(rules)
    if known is None or known[0] != now.described:
        state = {k: repr(v) for k, v in sorted(vars(rules).items()) if not k.startswith("_")}
        state["team vendors"] = now.described
        known = _OBSERVE_IDENTITIES[rules] = (now.described, _observations_identity(state, store))
    return known[1]


def _observations_identity(
    table: dict[str, str], store: verdicts.VerdictStore | None
) -> str | None:
    code = _observe_code(store)
    if code is None:
        return None  # not installed as source files: no identity, nothing cached
    # the code digest stands for the modules: verdicts.detector_identity adds the data
    # files (the built-in vendor table among them) and Python's Unicode version. The
    # languages the rules know (result.py, not digested) decide what an answer is read in.
    return verdicts.detector_identity(
        "identity-observations",
        (),
        "identity",
        [code, DETECTOR_VERSION, table, sorted(VALIDATED_LANGUAGES)],
    )


def _claim_rows(claims: Claims) -> list[list[Any]]:
    return [[getattr(c, name) for name in _CLAIM_FIELDS] for c in claims.items]


#: the types of a claim's fields as stored, in their order (parsed JSON holds these exact
#: types, no subclass): the role is None or text
_ROW_TYPES = frozenset(
    tuple(
        type(None) if name == "role" and none else bool if name == "weak" else str
        for name in _CLAIM_FIELDS
    )
    for none in (False, True)
)
_STATUSES = frozenset(get_args(Status))
_ROLES = frozenset((*get_args(Role), None))
_STATUS_AT = _CLAIM_FIELDS.index("status")
_ROLE_AT = _CLAIM_FIELDS.index("role")


def _claims_of(data: Any, text: str) -> Claims:
    if not isinstance(data, list):
        raise TypeError("claims are not a list")
    claims = []
    width = len(_CLAIM_FIELDS)
    for row in data:
        if not isinstance(row, list) or len(row) != width:
            raise ValueError("a claim has other fields than this version's")
        if tuple(map(type, row)) not in _ROW_TYPES:
            raise TypeError("a claim field is not of its type")
        if row[_STATUS_AT] not in _STATUSES or row[_ROLE_AT] not in _ROLES:
            raise ValueError("a claim's status or role is none the rules give")
        claims.append(Claim(*row))  # the fields in the order they were stored in
    return Claims(text, tuple(claims))


def _encode_observations(observations: list[Observation]) -> list[list[Any]]:
    return [
        [
            _claim_rows(o.answer),
            _claim_rows(o.reasoning) if o.reasoning is not None else None,
            o.accepted,
            o.lang,
        ]
        for o in observations
    ]


def _decode_observations(
    data: Any, items: Sequence[Probe], responses: Sequence[Response], accept: bool
) -> list[Observation]:
    if not isinstance(data, list) or len(data) != len(responses):
        raise ValueError("not one observation per answer")
    out = []
    for row, item, response in zip(data, items, responses, strict=True):
        if not isinstance(row, list) or len(row) != 4:
            raise ValueError("an observation has other fields than this version's")
        answer_rows, reasoning_rows, accepted, lang = row
        if not isinstance(lang, str) or (accepted is not None and not isinstance(accepted, bool)):
            raise TypeError("an observation's language or acceptance is not of its type")
        if (accepted is not None) != (accept and item.kind in _ACCEPTING_KINDS):
            raise ValueError("an acceptance where none is asked, or none where one is")
        if (reasoning_rows is None) != (not response.reasoning):
            raise ValueError("reasoning claims do not match the response")
        answer = _claims_of(answer_rows, response.answer)
        reasoning = _claims_of(reasoning_rows, response.reasoning) if response.reasoning else None
        out.append(Observation(item, response, answer, reasoning, accepted, None, lang))
    return out


def _detect_all(
    store: verdicts.VerdictStore | None,
    rules: Detector,
    texts: Sequence[tuple[str, str, str, str | None]],
) -> list[Claims]:
    def compute(indexes: list[int]) -> list[Claims]:
        return [rules.detect(texts[i][2]) for i in indexes]

    def decode(data: Any, index: int) -> Claims:
        return _claims_of(data, texts[index][2])

    def encode(claims: Claims) -> list[list[Any]]:
        return [[getattr(c, name) for name in _CLAIM_FIELDS] for c in claims.items]

    identity = _detector_identity(rules) if store is not None else None
    return verdicts.cached_verdicts(store, identity, texts, compute, encode, decode)


#: the kinds of probe :func:`_accepted` reads an acceptance of (None for every other kind)
_ACCEPTING_KINDS = frozenset({"presuppose", "system", "suggest", "placebo"})


def _accepted(
    item: Probe, claims: Claims, response: Response, fake: Claims | None = None
) -> bool | None:
    """suggest/placebo: said yes; presuppose: let the premise stand; system: kept the
    deployment's identity (did not contradict it)."""
    if item.kind == "presuppose":
        # silence accepts a premise: only a denial of X or another name of its own corrects it
        target = item.target or ""
        if target in claims.claimed:
            return True
        named = {c.vendor for c in claims.items if c.status == "claimed" and c.role == "name"}
        return target not in claims.negated and not (named - {target})
    if item.kind == "system":
        given = (
            fake if fake is not None else _deployment_detector(item.names).detect(response.answer)
        )
        # naming its maker or base model ("Lumen, built on GPT-4") does not contradict the
        # system prompt; another name for itself, or a denial of the given one, does
        other_names = {
            c.vendor
            for c in given.items
            if c.status == "claimed" and c.role == "name" and c.vendor != DEPLOYMENT
        }
        return DEPLOYMENT not in given.negated and not other_names
    if item.kind == "suggest":
        target = item.target or ""
        if target in claims.claimed:
            return True
        others = claims.claimed - {target}
        return _affirms(response.answer) and target not in claims.negated and not others
    if item.kind == "placebo":
        if fake is None:
            fake = _placebo_detector(item.target or "").detect(response.answer)
        if "placebo" in fake.claimed:
            return True
        return _affirms(response.answer) and "placebo" not in fake.negated
    return None


def _run_judge(
    result: IdentityResult, judge: ModelHandle, when: str, vendors: VendorTable | None
) -> None:
    wanted = [
        i
        for i, o in enumerate(result.observations)
        if o.probe.kind in IDENTITY_KINDS
        and (
            # outside the rules' languages the judge is the reader, whatever the rules saw
            o.outside
            or (
                (o.answer.hedged or o.answer.ambiguous)
                if when == "unclear"
                else bool(o.answer.items)
            )
        )
    ]
    if not wanted:
        return
    from .judge import JUDGE_PROMPT, parse_judge

    names = ", ".join(sorted(vendors.names) if vendors is not None else team.vendor_ids())
    prompts = [
        JUDGE_PROMPT.format(
            vendors=names,
            question=result.observations[i].probe.text,
            answer=result.observations[i].response.answer,
        )
        for i in wanted
    ]
    replies = judge.sample(prompts, n=1, temperature=0)
    for i, reply in zip(wanted, replies, strict=True):
        verdict = parse_judge(reply.answer, vendors)
        new = dataclasses.replace(result.observations[i], judge=verdict)
        result.observations[i] = new
        if verdict.error is not None:
            result.judge_errors.append(new)


# -- baselines ------------------------------------------------------------------------------
