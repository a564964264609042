"""Review of the result cache (calls/verdicts.py, lexical/replay.py): a cache folder from
elsewhere must not hang, crash or write outside the folder, and a replayed result must be
the one this run would compute."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from pytest_modelprov.calls import verdicts
from pytest_modelprov.calls.verdicts import VerdictStore, cached_result

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID"
#: a query that never ends: what a hostile trigger or view runs
FOREVER = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x < 0"
)
ANSWERS = [
    ("key-a", "The tram bell rang twice before the bridge opened for the barges."),
    ("key-b", "Snow on the quay; the night watchman's lamp swung in the wind."),
]


def _hostile(directory: Path, tables: tuple[str, ...], extra: str) -> None:
    """A verdict cache file with the package's ``tables`` (as it makes them) and ``extra``."""
    directory.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(directory / verdicts.FILE_NAME)
    for table in tables:
        db.execute(f"CREATE TABLE {table} {SCHEMA}")
    db.execute("CREATE TABLE log (x)")
    db.executescript(extra)
    db.commit()
    db.close()


BOTH = ("verdicts", "results")


@pytest.mark.parametrize(
    ("tables", "extra"),
    [
        # a trigger whose body never finishes, on either table the store writes
        (BOTH, f"CREATE TRIGGER t AFTER INSERT ON results BEGIN INSERT INTO log {FOREVER}; END;"),
        (BOTH, f"CREATE TRIGGER t AFTER INSERT ON verdicts BEGIN INSERT INTO log {FOREVER}; END;"),
        # a view in place of a table: every read of it runs its query
        (
            ("verdicts",),
            "CREATE VIEW results (key, value) AS WITH RECURSIVE c(x) AS "
            "(SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT CAST(x AS TEXT), x FROM c;",
        ),
    ],
)
def test_a_hostile_schema_in_the_cache_file_does_not_hang_the_run(
    tmp_path: Path, tables: tuple[str, ...], extra: str
) -> None:
    # run in a child with a deadline: before the fix the store ran the hostile SQL forever
    _hostile(tmp_path, tables, extra)
    code = f"""
        import warnings
        from pathlib import Path
        from pytest_modelprov.calls import verdicts
        store = verdicts.VerdictStore(Path({str(tmp_path)!r}))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = verdicts.cached_result(
                store, "d", {{}}, [("k", "text")], lambda: {{"x": 1}}, dict, dict
            )
            got = verdicts.cached_verdicts(
                store, "d", [("k", "answer", "text", None)], lambda ix: ["ok"] * len(ix),
                str, lambda data, i: str(data),
            )
        print(value, got, [type(w.message).__name__ for w in caught])
        print(str(caught[0].message) if caught else "")
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the verdict store ran a hostile cache file's SQL without end")
    assert done.returncode == 0, done.stderr
    first, message = done.stdout.splitlines()
    assert first == "{'x': 1} ['ok'] ['VerdictCacheWarning']"
    assert verdicts.FILE_NAME in message and "Delete the file" in message


def test_a_symlinked_cache_file_is_not_written_through(tmp_path: Path) -> None:
    # a cache folder copied from elsewhere may link its file to any database of the user's
    other = tmp_path / "elsewhere.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    before = other.read_bytes()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / verdicts.FILE_NAME).symlink_to(other)
    store = VerdictStore(cache)
    with pytest.warns(verdicts.VerdictCacheWarning, match="symbolic link"):
        assert cached_result(store, "d", {}, ANSWERS, lambda: {"x": 1}, dict, dict) == {"x": 1}
    store.put_many([("k", b"v")])
    store.close()
    assert other.read_bytes() == before
    with sqlite3.connect(other) as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]


def test_an_oversized_row_is_not_read_into_memory(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path)
    store.put_many([("small", b"ok")], "results")
    huge = verdicts.MAX_VALUE_BYTES * 48
    with sqlite3.connect(tmp_path / verdicts.FILE_NAME) as db:
        db.execute("INSERT INTO results VALUES (?, zeroblob(?))", ("big", huge))
        db.execute("INSERT INTO results VALUES (?, ?)", ("text", "x" * huge))
    tracemalloc.start()
    try:
        found = store.get_many(["small", "big", "text"], "results")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        store.close()
    assert found == {"small": b"ok"}
    assert peak < 4 * verdicts.MAX_VALUE_BYTES, f"{peak:,} bytes held to skip the row"


def _decode(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != {"value", "call"}:
        raise ValueError("not a result")
    return data


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
def test_a_stored_result_with_a_number_json_cannot_hold_is_computed_again(
    tmp_path: Path, number: bytes
) -> None:
    # results are written with allow_nan=False: a row holding NaN or an infinity (1e999
    # parses as one) was not written by this package, and reports refuse such figures
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"value": 0.25, "call": len(calls)}

    store = VerdictStore(tmp_path)
    assert cached_result(store, "d", {}, ANSWERS, compute, dict, _decode)["call"] == 1
    with sqlite3.connect(tmp_path / verdicts.FILE_NAME) as db:
        [(raw,)] = db.execute("SELECT value FROM results").fetchall()
        db.execute("UPDATE results SET value = ?", (raw.replace(b"0.25", number),))
    again = cached_result(VerdictStore(tmp_path), "d", {}, ANSWERS, compute, dict, _decode)
    assert again == {"value": 0.25, "call": 2}


def test_a_stored_result_with_an_integer_beyond_64_bits_is_computed_again(
    tmp_path: Path,
) -> None:
    # a float() of it overflows (OverflowError, not a ValueError the decoders expect)
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"value": 7, "call": len(calls)}

    def decode(data: Any) -> dict[str, Any]:
        out = _decode(data)
        float(out["value"])
        return out

    store = VerdictStore(tmp_path)
    cached_result(store, "d", {}, ANSWERS, compute, dict, decode)
    with sqlite3.connect(tmp_path / verdicts.FILE_NAME) as db:
        [(raw,)] = db.execute("SELECT value FROM results").fetchall()
        db.execute(
            "UPDATE results SET value = ?", (raw.replace(b":7,", b":1" + b"0" * 400 + b","),)
        )
    again = cached_result(VerdictStore(tmp_path), "d", {}, ANSWERS, compute, dict, decode)
    assert again == {"value": 7, "call": 2}


# -- lexical replay: what a comparison is keyed on --------------------------------------------

TEXTS = [
    "The lighthouse keeper counted gulls every morning before the ferry came in at seven.",
    "Gulls circled the ferry; the keeper wrote their number in a blue notebook by the window.",
    "By noon the harbour was quiet and the notebook lay open on the sill beside the gulls.",
]


def _key(fps: list[Any]) -> tuple[str, str]:
    """The row a comparison of ``fps`` is stored under and the digest it must carry, as
    ``lexical.replay.replayed`` makes them."""
    sides = [fp.replay_side() for fp in fps]
    answers = [pair for side in sides for pair in side[1]]
    key = verdicts.result_key("lexical", {"sides": [s[0] for s in sides]}, [k for k, _ in answers])
    return key, verdicts._answers_digest(answers)


def test_fingerprints_that_split_the_same_answers_differently_are_keyed_apart() -> None:
    # prompt ids joined with NUL: ["x\0y"] and ["x", "y"] hashed alike, so the answers of
    # one pair of fingerprints, split between them otherwise, made the same key and digest
    from pytest_modelprov import lexical
    from pytest_modelprov.lexical import distances

    fp = lexical.Fingerprint.deferred
    first = [
        fp(TEXTS[:1], ["x\0y"], answers=["k1"]),
        fp(TEXTS[1:], ["z", "w"], answers=["k2", "k3"]),
    ]
    second = [
        fp(TEXTS[:2], ["x", "y"], answers=["k1", "k2"]),
        fp(TEXTS[2:], ["z\0w"], answers=["k3"]),
    ]
    # different fingerprints: a result replayed for one would be wrong for the other
    assert distances.distance(*first, "profile", "spread") != distances.distance(
        *second, "profile", "spread"
    )
    assert _key(first) != _key(second)


def test_the_lexical_identity_names_the_unicode_tables_the_tokeniser_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The tokeniser's classes come from str.isalnum/isdecimal, casefold and NFKC: Python's
    # Unicode database. A cache folder shared with a machine on another Python (CI, a
    # colleague) holds results counted on other tables, e.g. U+31350 (CJK extension H,
    # Unicode 15.0) is a letter on Python 3.12 and not on 3.11: replaying them is not what
    # this run would compute. numpy's version was keyed for the same reason.
    import unicodedata

    from pytest_modelprov.lexical import replay

    before = replay.identity()
    assert before is not None
    monkeypatch.setattr(unicodedata, "unidata_version", "0.0.0")
    assert replay.identity() != before


@pytest.mark.parametrize(
    "edit",
    [
        "counts",  # a count changed in place: every distance moves
        "tokens",
        "prompt_ids",  # a prompt renamed in place: which prompts two fingerprints share
        "features",
        "examples",  # an answer quoted in failure messages replaced
    ],
)
def test_a_fingerprint_edited_in_place_after_sampling_is_not_replayed(edit: str) -> None:
    # Reassigning a field was noticed (the objects are compared by identity); editing one
    # in place was not, so a comparison replayed the result of the fingerprint as sampled.
    from pytest_modelprov import lexical

    texts = [*TEXTS, "The keeper's notebook filled with gulls, ferries and the weather."]
    fp = lexical.Fingerprint.deferred(texts, ["p1", "p2", "p1", "p2"], answers=list("abcd"))
    assert fp.n_tokens > 0  # counted, as a comparison computed on a cold run counts it
    assert fp.replay_side() is not None
    if edit in ("counts", "tokens"):
        getattr(fp, edit)[0, ...] += 1
    elif edit == "examples":
        fp.examples[0] = (fp.examples[0][0], "Another answer altogether.")
    else:
        getattr(fp, edit)[0] = "renamed"
    assert fp.replay_side() is None


def test_a_setting_json_cannot_hold_is_keyed_by_its_type_and_value() -> None:
    # default=str keyed np.float32(0.3) as "0.3", the text of the float 0.3, though it is
    # another number (0.30000001192...): a threshold check of a distance between the two
    # passes with one and fails with the other, yet would have replayed the other's result
    import numpy as np

    threshold = np.float32(0.3)
    assert float(threshold) != 0.3
    keys = ["key-a", "key-b"]
    assert verdicts.result_key("d", {"threshold": threshold}, keys) != verdicts.result_key(
        "d", {"threshold": 0.3}, keys
    )
    assert verdicts.result_key("d", {"k": np.int64(3)}, keys) != verdicts.result_key(
        "d", {"k": "3"}, keys
    )
    # numbers JSON holds are keyed as before: np.float64 is a float
    assert verdicts.result_key("d", {"t": np.float64(0.3)}, keys) == verdicts.result_key(
        "d", {"t": 0.3}, keys
    )
