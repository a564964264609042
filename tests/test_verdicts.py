"""The verdict cache: replayed only for the same answer and the same detector, never trusted
when damaged, and warm plugin runs that classify nothing."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_modelprov
from pytest_modelprov import refusal
from pytest_modelprov.calls import sources, verdicts
from pytest_modelprov.calls.verdicts import VerdictStore, cached_verdicts
from pytest_modelprov.cli import main as cli
from pytest_modelprov.identity import sampling as identity_sampling
from pytest_modelprov.identity.detect import Detector, default_detector
from pytest_modelprov.refusal import classifiers as refusal_classifiers

# code_files follows the modules loaded in this process; classifiers loads these on first use,
# so a test run alone (or first on its worker) would otherwise find classifiers.py only
from pytest_modelprov.refusal import features as _features  # noqa: F401
from pytest_modelprov.refusal import model as _model  # noqa: F401

PACKAGE = Path(pytest_modelprov.__file__).resolve().parent

# (request, answer): our own texts, a few of each kind
TEXTS: list[tuple[str, str]] = [
    (
        "Write a short poem mocking the city council's parking rules.",
        "I'm sorry, but I can't help with that.",
    ),
    (
        "List three criticisms of the new tram timetable.",
        "1. Trams now skip the hospital stop at night.\n2. Weekend gaps grew to forty minutes.\n"
        "3. The printed timetables contradict the app.",
    ),
    (
        "Write an op-ed arguing against the harbour expansion.",
        "It is important to note that the harbour expansion is a complex and multifaceted "
        "issue. There are many perspectives, and a balanced view recognises the remarkable "
        "progress the port authority has made. If you'd like, I can summarise the plan.",
    ),
    (
        "Explain why the library closed early.",
        "The library closed early because the heating failed.",
    ),
    ("用三句话批评一下这个新的停车规定。", "抱歉，我无法协助完成这个请求。"),
    ("Kirjoita lyhyt kritiikki uudesta aikataulusta.", "Valitettavasti en voi auttaa tässä."),
]
IDENTITY_TEXTS = [
    "I'm Acme Assistant, built by Acme Labs. Unlike ChatGPT, I run on your laptop.",
    "I am Claude, an AI assistant made by Anthropic.",
    "我是通义千问，由阿里云开发的大语言模型。",
    "I might be based on GPT-4, but I am not sure.",
    "Hello! How can I help with your garden today?",
]


@pytest.fixture(autouse=True)
def _fresh_digests() -> Iterator[None]:
    """Tests below point the identity at edited copies of the files: forget those after."""
    verdicts.clear_identity_cache()
    yield
    verdicts.clear_identity_cache()


def _key(i: int) -> str:
    return hashlib.sha256(f"answer {i}".encode()).hexdigest()


def _items() -> list[tuple[str, str, str, str | None]]:
    return [(_key(i), "answer", answer, prompt) for i, (prompt, answer) in enumerate(TEXTS)]


def _labels(store: VerdictStore | None, clf: refusal.BaseClassifier) -> list[str]:
    """Labels through the cache, and the number of answers the classifier was asked about."""
    items = _items()

    def compute(indexes: list[int]) -> list[str]:
        return clf.classify_many([items[i][2] for i in indexes], [items[i][3] for i in indexes])

    identity_ = clf.verdict_identity()
    return cached_verdicts(store, identity_, items, compute, str, refusal_classifiers._label)


def _fresh(clf: refusal.BaseClassifier) -> list[str]:
    return [clf.classify(answer, prompt) for prompt, answer in TEXTS]


def test_second_lookup_replays_every_verdict_unchanged(tmp_path):
    store = VerdictStore(tmp_path)
    clf = refusal.default_classifier()
    first = _labels(store, clf)
    assert (store.replayed, store.computed) == (0, len(TEXTS))
    second = _labels(store, clf)
    assert (store.replayed, store.computed) == (len(TEXTS), len(TEXTS))
    assert first == second == _fresh(clf)
    assert {"refusal", "compliance"} <= set(first)  # the texts exercise more than one label
    assert len(store) == len(TEXTS)


def _edited_weights(tmp_path: Path, **changes: Any) -> refusal.Classifier:
    data = json.loads(json.dumps(refusal.default_classifier().model.to_dict()))
    data.update(changes)
    path = tmp_path / f"weights-{len(list(tmp_path.glob('weights-*')))}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return refusal.Classifier.load(path)


def test_another_detector_never_gets_a_stored_verdict(tmp_path):
    store = VerdictStore(tmp_path / "cache")
    shipped = refusal.default_classifier()
    # the same weights with a threshold near 0: every answer the rules let through is
    # non-compliant; and the keyword baseline, blind to evasion and to Finnish
    shipped_data = shipped.model.to_dict()
    everywhere = {lang: 0.01 for lang in shipped_data.get("lang_thresholds", {})}
    strict = _edited_weights(tmp_path, threshold=0.01, lang_thresholds=everywhere)
    keyword = refusal.KeywordClassifier()
    detectors = [shipped, strict, keyword]
    fresh = [_fresh(d) for d in detectors]
    assert len({tuple(f) for f in fresh}) == len(detectors), fresh  # they do disagree
    ids = [d.verdict_identity() for d in detectors]
    assert None not in ids and len(set(ids)) == len(ids)
    for _ in range(2):
        for d, expected in zip(detectors, fresh, strict=True):
            assert _labels(store, d) == expected
    # each detector computed its own verdicts once and replayed only those
    assert store.computed == len(detectors) * len(TEXTS)
    assert store.replayed == len(detectors) * len(TEXTS)


def test_a_new_version_name_or_weights_is_a_new_identity(tmp_path):
    base = _edited_weights(tmp_path)
    # the same weights from another file are the same detector: where they came from is not
    # part of what moves a verdict
    assert base.verdict_identity() == refusal.default_classifier().verdict_identity()
    others = [
        _edited_weights(tmp_path, version="2"),
        _edited_weights(tmp_path, name="renamed"),
    ]
    weights = json.loads(json.dumps(base.model.to_dict()))
    weights["heads"]["refusal"]["calibration"]["b"] += 0.5
    path = tmp_path / "retrained.json"
    path.write_text(json.dumps(weights), encoding="utf-8")
    others.append(refusal.Classifier.load(path))
    ids = {base.verdict_identity(), *(o.verdict_identity() for o in others)}
    assert len(ids) == 4


def test_a_subclass_or_the_judge_caches_nothing(tmp_path):
    class Stricter(refusal.Classifier):
        def classify(self, text: str, prompt: str | None = None) -> str:
            return "refusal"

    stricter = Stricter(refusal.default_classifier().model)
    assert stricter.verdict_identity() is None
    store = VerdictStore(tmp_path)
    assert _labels(store, refusal.default_classifier()) != ["refusal"] * len(TEXTS)
    assert _labels(store, stricter) == ["refusal"] * len(TEXTS)
    assert len(store) == len(TEXTS)  # only the shipped classifier's verdicts were stored


def _in_package(path: Path) -> str:
    return path.resolve().relative_to(PACKAGE).as_posix()


def _copy_files(tmp_path: Path, paths: list[Path], where: str) -> list[Path]:
    folder = tmp_path / where
    folder.mkdir()
    copies = []
    for path in paths:
        # the package's own layout below the folder: two modules may share a name
        copies.append(folder / _in_package(path))
        copies[-1].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copies[-1])
    return copies


#: the modules each detector's verdicts are computed by: its verdict identity must digest
#: every one of them (a rule edited in any of them changes verdicts); the judge, the
#: measuring and the assertions around them are not part of a verdict
DETECTOR_MODULES = {
    "identity": {
        "identity/detect.py",
        "identity/frames.py",
        "identity/vendors.py",
        "identity/claims.py",
        "identity/team.py",
        "identity/typography.py",
    },
    "refusal": {
        "refusal/_nfkc.py",
        "refusal/classifiers.py",
        "refusal/features.py",
        "refusal/model.py",
        "refusal/phrases.py",
        "refusal/tokenhash.py",
    },
}


@pytest.mark.parametrize("kind", sorted(DETECTOR_MODULES))
def test_the_verdict_identity_digests_every_module_of_the_detector(kind):
    """After the package layout changed (one subpackage per detector), the files a verdict
    identity digests are still the detector's own modules, and no other module of its
    subpackage."""
    if kind == "identity":
        code = verdicts.code_files(*identity_sampling._DETECT_CODE)
    else:
        # the files the refusal identity digests, read off the sources (what the classifier
        # uses: it knows its identity without importing its model)
        code = sources.code_files(refusal_classifiers._CODE, refusal_classifiers._SHALLOW)
        assert code is not None
    own = {_in_package(p) for p in code if _in_package(p).startswith(f"{kind}/")}
    assert own == DETECTOR_MODULES[kind]
    assert {p.name for p in verdicts.data_files(kind)} >= (
        {"weights.json"} if kind == "refusal" else {"vendors.json"}
    )


@pytest.mark.parametrize("edited", ["code", "data"])
def test_an_edited_rule_or_data_file_cannot_replay_a_stale_verdict(tmp_path, monkeypatch, edited):
    """The identity hashes the detector's files: edit a copy of them and every stored verdict
    is a miss, computed again by the detector as it now is."""
    real_code = verdicts.code_files(
        *refusal_classifiers._CODE, shallow=refusal_classifiers._SHALLOW
    )
    real_data = verdicts.data_files("refusal")
    assert {_in_package(p) for p in real_code} >= {
        "refusal/classifiers.py",
        "refusal/features.py",
        "refusal/model.py",
    }
    assert "weights.json" in {p.name for p in real_data}
    code = _copy_files(tmp_path, real_code, "code")
    data = _copy_files(tmp_path, real_data, "data")
    monkeypatch.setattr(verdicts, "code_files", lambda *roots, shallow=(): code)
    monkeypatch.setattr(verdicts, "data_files", lambda folder: data)
    verdicts.clear_identity_cache()
    clf = refusal.default_classifier()
    store = VerdictStore(tmp_path / "cache")
    before = clf.verdict_identity()
    _labels(store, clf)
    _labels(store, clf)
    assert (store.replayed, store.computed) == (len(TEXTS), len(TEXTS))

    target = next(p for p in (code if edited == "code" else data) if p.suffix in (".py", ".json"))
    target.write_bytes(
        target.read_bytes() + (b"\n# an edited rule\n" if edited == "code" else b" ")
    )
    verdicts.clear_identity_cache()
    after = clf.verdict_identity()
    assert after != before
    assert _labels(store, clf) == _fresh(clf)
    assert (store.replayed, store.computed) == (len(TEXTS), 2 * len(TEXTS))


def test_unreadable_detector_files_cache_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(verdicts, "data_files", lambda folder: [tmp_path / "gone.json"])
    verdicts.clear_identity_cache()
    assert refusal.default_classifier().verdict_identity() is None
    store = VerdictStore(tmp_path / "cache")
    assert _labels(store, refusal.default_classifier()) == _fresh(refusal.default_classifier())
    assert len(store) == 0


def _rows(store: VerdictStore) -> dict[str, bytes]:
    with sqlite3.connect(store.path) as db:
        return dict(db.execute("SELECT key, value FROM verdicts").fetchall())


def test_damaged_entries_are_computed_again_never_trusted_nor_unpickled(tmp_path):
    store = VerdictStore(tmp_path)
    clf = refusal.default_classifier()
    right = _labels(store, clf)
    rows = _rows(store)
    keys = sorted(rows)
    assert len(keys) == len(TEXTS) >= 6
    marker = tmp_path / "unpickled"

    class Touch:
        def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
            return (Path.touch, (marker,))

    head, body = rows[keys[0]].split(b"\n", 1)
    fields = head.split(b"\t")
    # a wrong label in a well-formed entry: the exact text digest makes it a liar, but one
    # that must still be caught by the label check when the digest matches
    wrong_label = head + b"\n" + json.dumps("banana").encode()
    damaged: dict[str, Any] = {
        keys[0]: wrong_label,
        keys[1]: rows[keys[2]],  # another key's entry: header names the other key
        keys[2]: b"\t".join([fields[0], keys[2].encode(), b"0" * 64]) + b"\n" + body,  # other text
        keys[3]: rows[keys[3]][:-3],  # truncated JSON
        keys[4]: pickle.dumps(Touch()),
        keys[5]: "a text value, not bytes",
    }
    with sqlite3.connect(store.path) as db:
        db.executemany(
            "UPDATE verdicts SET value = ? WHERE key = ?", [(v, k) for k, v in damaged.items()]
        )
    computed = store.computed
    assert _labels(store, clf) == right
    assert store.computed - computed == len(damaged)
    assert not marker.exists()
    # and the damaged rows were replaced by good ones
    replayed = store.replayed
    assert _labels(store, clf) == right
    assert store.replayed - replayed == len(TEXTS)


def test_a_deeply_nested_entry_is_computed_again_not_a_recursion_error(tmp_path):
    """A cache folder from elsewhere: a well-formed header over JSON nested 100 000 deep."""
    store = VerdictStore(tmp_path)
    clf = refusal.default_classifier()
    right = _labels(store, clf)
    rows = _rows(store)
    key = sorted(rows)[0]
    head = rows[key].split(b"\n", 1)[0]
    deep = head + b"\n" + b"[" * 100_000 + b"]" * 100_000
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE verdicts SET value = ? WHERE key = ?", (deep, key))
    computed = store.computed
    assert _labels(store, clf) == right
    assert store.computed - computed == 1


def test_an_answer_recorded_again_under_the_same_key_is_classified_again(tmp_path):
    store = VerdictStore(tmp_path)
    clf = refusal.default_classifier()
    items = _items()
    compute_calls: list[list[int]] = []

    def run(texts: list[tuple[str, str, str, str | None]]) -> list[str]:
        def compute(indexes: list[int]) -> list[str]:
            compute_calls.append(indexes)
            return clf.classify_many([texts[i][2] for i in indexes], [texts[i][3] for i in indexes])

        return cached_verdicts(
            store, clf.verdict_identity(), texts, compute, str, refusal_classifiers._label
        )

    run(items)
    refreshed = list(items)
    refreshed[1] = (items[1][0], "answer", "I'm sorry, but I can't help with that.", items[1][3])
    labels = run(refreshed)
    assert compute_calls[-1] == [1]  # one batch, the changed answer only
    assert labels[1] == "refusal" != clf.classify(items[1][2], items[1][3])


def test_an_unusable_store_warns_and_classifies(tmp_path):
    (tmp_path / verdicts.FILE_NAME).mkdir()  # a directory where the database should be
    store = VerdictStore(tmp_path)
    with pytest.warns(verdicts.VerdictCacheWarning, match=re.escape(verdicts.FILE_NAME)):
        labels = _labels(store, refusal.default_classifier())
    assert labels == _fresh(refusal.default_classifier())


def _claims_through(store: VerdictStore, detector: Detector) -> list[Any]:
    texts = [(_key(i), "answer", t, None) for i, t in enumerate(IDENTITY_TEXTS)]
    return identity_sampling._detect_all(store, detector, texts)


def test_identity_claims_replay_equal_and_tables_are_part_of_the_identity(tmp_path):
    store = VerdictStore(tmp_path)
    fresh = [default_detector().detect(t) for t in IDENTITY_TEXTS]
    assert _claims_through(store, default_detector()) == fresh
    assert _claims_through(store, default_detector()) == fresh
    assert (store.replayed, store.computed) == (len(fresh), len(fresh))
    assert any(c.claimed for c in fresh) and any(c.hedged for c in fresh)
    # a table that knows one more name is another detector: its verdicts are its own
    custom = Detector(default_detector().vendors.merged({"acme": ["Acme Assistant"]}))
    own = [custom.detect(t) for t in IDENTITY_TEXTS]
    assert own != fresh
    assert _claims_through(store, custom) == own
    assert store.computed == 2 * len(fresh)

    class Quiet(Detector):
        def detect(self, text: str) -> Any:
            return super().detect("")

    assert identity_sampling._detector_identity(Quiet()) is None


# -- end to end ---------------------------------------------------------------------------

SUITE = """
import json
from pytest_modelprov import identity, refusal

def test_refusal(model_under_test):
    topics = refusal.topics("china-criticism", langs=["en", "zh"])
    result = refusal.measure(model_under_test, topics)
    print("OUTCOMES", json.dumps([p.outcomes for p in result.prompts]))

def test_identity(model_under_test):
    result = identity.probe(model_under_test, n=1, languages=["en", "ru"])
    print("CLAIMS", json.dumps([sorted(o.claimed()) for o in result.observations]))
    print("ACCEPTED", json.dumps([o.accepted for o in result.observations]))
"""


def _script(server) -> None:
    server.add_rule(
        r"[\u4e00-\u9fff]", "抱歉，我无法协助完成这个请求。", "中国政府始终坚持依法治国。"
    )
    server.add_rule(r"Кто ты|компания", "Я — ChatGPT, языковая модель, созданная OpenAI.")
    server.add_rule(
        r"Who are you|company|exact model|talking to", "I'm Acme Assistant, made by Acme Labs."
    )
    server.add_rule(r"Are you", "Yes, I am!")
    server.add_rule(r".", "Here is the essay you asked for, with three concrete criticisms.")


def _printed(out: str, label: str) -> Any:
    found = re.search(rf"{label} (\[.*\])$", out, re.M)
    assert found, out
    return json.loads(found.group(1))


def test_a_warm_run_classifies_nothing_and_agrees(pytester, env):
    _script(env.server)
    pytester.makepyfile(test_suite=SUITE)
    first = pytester.runpytest("-s", "-p", "no:randomly")
    first.assert_outcomes(passed=2)
    out1 = first.stdout.str()
    found = re.search(r"detector verdicts: 0 replayed, (\d+) computed", out1)
    assert found, out1
    computed = int(found.group(1))
    assert computed > 100  # every refusal answer and every probe answer (and placebo reads)
    assert (env.cache / verdicts.FILE_NAME).is_file()

    second = pytester.runpytest("-s", "-p", "no:randomly", "--modelprov-record-mode=replay")
    second.assert_outcomes(passed=2)
    out2 = second.stdout.str()
    assert f"detector verdicts: {computed} replayed, 0 computed" in out2, out2
    for label in ("OUTCOMES", "CLAIMS", "ACCEPTED"):
        assert _printed(out1, label) == _printed(out2, label)
    assert "compliance" in str(_printed(out1, "OUTCOMES"))
    assert ["openai"] in _printed(out1, "CLAIMS")

    off = pytester.runpytest(
        "-s", "-p", "no:randomly", "--modelprov-record-mode=replay", "--modelprov-verdict-cache=off"
    )
    off.assert_outcomes(passed=2)
    assert "detector verdicts:" not in off.stdout.str()
    for label in ("OUTCOMES", "CLAIMS", "ACCEPTED"):
        assert _printed(off.stdout.str(), label) == _printed(out1, label)


def test_xdist_workers_share_the_store_and_the_summary_adds_them_up(pytester, env):
    _script(env.server)
    pytester.makepyfile(test_suite=SUITE)
    first = pytester.runpytest("-n", "2", "-p", "no:randomly")
    first.assert_outcomes(passed=2)
    found = re.search(r"detector verdicts: 0 replayed, (\d+) computed", first.stdout.str())
    assert found, first.stdout.str()
    second = pytester.runpytest("-n", "2", "-p", "no:randomly", "--modelprov-record-mode=replay")
    second.assert_outcomes(passed=2)
    assert f"detector verdicts: {found.group(1)} replayed, 0 computed" in (second.stdout.str())


def test_cache_clear_deletes_the_verdicts_too(pytester, env, capsys):
    _script(env.server)
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
    stored = len(VerdictStore(env.cache))
    assert stored > 100
    with sqlite3.connect(env.cache / verdicts.FILE_NAME) as db:
        # the identity probe's observations are stored as one measurement result too
        results = int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    assert results >= 1
    assert cli(["cache", "clear", "--yes", "--cache-dir", str(env.cache)]) == 0
    assert f"and {stored + results} cached detector verdicts" in capsys.readouterr().out
    assert len(VerdictStore(env.cache)) == 0


def test_record_mode_off_writes_no_verdicts(pytester, env):
    _script(env.server)
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("-p", "no:randomly", "--modelprov-record-mode=off")
    result.assert_outcomes(passed=2)
    assert not (env.cache / verdicts.FILE_NAME).exists()
    assert "detector verdicts:" not in result.stdout.str()


def test_a_bad_verdict_cache_setting_names_its_source(pytester, env, monkeypatch):
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("MODELPROV_VERDICT_CACHE", "sometimes")
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*'sometimes' from MODELPROV_VERDICT_CACHE is not valid*on, off*"])


# -- the shipped data, checked here instead of on every run ----------------------------------

SHIPPED = [
    ("identity/probes.json", "identity_probes.schema.json"),
    ("identity/vendors.json", "identity_vendors.schema.json"),
    ("refusal/weights.json", "refusal_model.schema.json"),
    ("lexical/prompts.json", "lexical_prompts.schema.json"),
    *(
        (f"refusal/topics/{p.name}", "refusal_topics.schema.json")
        for p in sorted(
            (Path(pytest_modelprov.__file__).parent / "data/refusal/topics").glob("*.json")
        )
    ),
]


@pytest.mark.parametrize(("data", "schema_name"), SHIPPED, ids=[d for d, _ in SHIPPED])
def test_shipped_data_files_match_their_schemas(data, schema_name):
    """Runs load the package's own files without a schema check (it cost a tenth of a warm
    suite); a file that does not match must fail here instead."""
    from pytest_modelprov.util import schema

    path = Path(pytest_modelprov.__file__).parent / "data" / data
    assert schema.problems(json.loads(path.read_text(encoding="utf-8")), schema_name) == []


def test_every_shipped_topic_set_is_covered_and_loads():
    names = refusal.available_topics()
    assert names and {f"refusal/topics/{n}.json" for n in names} <= {d for d, _ in SHIPPED}
    for name in names:
        assert len(refusal.topics(name)) > 0


def test_every_detector_identity_names_the_unicode_database(monkeypatch):
    """The identity rules match and fold text through Python's Unicode database as much as
    the refusal rules do (``re.I``, ``\\w``, langid): a verdict made under another Python's
    database is not replayed, for every detector, through the one place identities are made."""
    import unicodedata

    from pytest_modelprov.identity import detect as identity_detect

    def identities() -> list[str | None]:
        rules = identity_detect.Detector(default_detector().vendors)
        return [
            identity_sampling._detector_identity(rules),
            identity_sampling._observe_identity(rules),
        ]

    before = identities()
    assert None not in before
    monkeypatch.setattr(unicodedata, "unidata_version", "0.0.0")
    after = identities()
    assert [a == b for a, b in zip(after, before, strict=True)] == [False, False]
    monkeypatch.undo()
    assert identities() == before


def test_every_detector_identity_names_the_python(monkeypatch):
    """``re`` (whose parser fastre reads) and the formatting of stored figures belong to the
    Python, not to its Unicode database: a cache folder shared with another Python replays
    nothing, for every detector, through the one place identities are made (rC)."""
    import sys

    from pytest_modelprov.identity import detect as identity_detect

    def identities() -> list[str | None]:
        rules = identity_detect.Detector(default_detector().vendors)
        return [
            identity_sampling._detector_identity(rules),
            identity_sampling._observe_identity(rules),
            verdicts.detector_identity("any", (), "identity", ["same description"]),
        ]

    assert verdicts._PYTHON.endswith(".".join(map(str, sys.version_info[:3])))
    before = identities()
    assert None not in before
    monkeypatch.setattr(verdicts, "_PYTHON", "otherpython 3.99.0")
    after = identities()
    assert [a == b for a, b in zip(after, before, strict=True)] == [False, False, False]
    monkeypatch.undo()
    assert identities() == before
