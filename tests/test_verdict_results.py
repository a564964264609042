"""Measurement results cached beside the verdicts (calls/verdicts.py, ``cached_result``):
replayed only for the same detector, settings and answers; anything else is computed again."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pytest_modelprov.calls import verdicts
from pytest_modelprov.calls.verdicts import VerdictStore, cached_result
from pytest_modelprov.util.safejson import loads as json_loads

ANSWERS = [
    ("key-a", "The ferry leaves at dawn, and the gulls follow it out past the breakwater."),
    ("key-b", "Rain again: the market stalls fold their awnings and wait."),
]


class Counter:
    """A computation whose result is distinguishable per call, so a replay shows."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"distance": 0.125, "call": self.calls, "words": ["ferry", "gulls"]}


def _decode(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or set(data) != {"distance", "call", "words"}:
        raise ValueError("not a result")
    return data


def _run(
    store: VerdictStore | None,
    compute: Counter,
    *,
    identity: str | None = "detector-1",
    settings: Any = None,
    answers: list[tuple[str, str]] = ANSWERS,
) -> dict[str, Any]:
    return cached_result(
        store,
        identity,
        {"method": "delta", "seed": 0} if settings is None else settings,
        answers,
        compute,
        dict,
        _decode,
    )


def test_a_result_is_computed_once_then_replayed_equal(tmp_path: Path) -> None:
    store, compute = VerdictStore(tmp_path), Counter()
    first = _run(store, compute)
    again = _run(VerdictStore(tmp_path), compute)  # another process: a new store object
    assert compute.calls == 1
    assert again == first
    assert (store.results_computed, store.results_replayed) == (1, 0)
    assert len(store) == 0  # results are not counted as per-answer verdicts


@pytest.mark.parametrize(
    "change",
    [
        {"identity": "detector-2"},
        {"settings": {"method": "delta", "seed": 1}},
        {"answers": list(reversed(ANSWERS))},  # the order is part of the key
        {"answers": [ANSWERS[0]]},
        # the same cache key holding another answer (a re-recording): the digest differs
        {"answers": [ANSWERS[0], ("key-b", "Sunshine: the stalls stay open late.")]},
    ],
)
def test_anything_that_moves_the_result_computes_it_again(tmp_path: Path, change: Any) -> None:
    store, compute = VerdictStore(tmp_path), Counter()
    _run(store, compute)
    result = _run(store, compute, **change)
    assert compute.calls == 2 and result["call"] == 2
    assert _run(store, compute, **change)["call"] == 2  # and that is stored in turn


def test_without_a_store_or_an_identity_nothing_is_cached(tmp_path: Path) -> None:
    compute = Counter()
    _run(None, compute)
    _run(None, compute)
    store = VerdictStore(tmp_path)
    _run(store, compute, identity=None)
    _run(store, compute, identity=None)
    assert compute.calls == 4
    assert not (tmp_path / verdicts.FILE_NAME).exists()


def _rows(tmp_path: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(tmp_path / verdicts.FILE_NAME) as db:
        return list(db.execute("SELECT key, value FROM results"))


def _put(tmp_path: Path, key: str, value: Any) -> None:
    db = sqlite3.connect(tmp_path / verdicts.FILE_NAME)
    with db:
        db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)", (key, value))
    db.close()


def _damaged(key: str, raw: bytes) -> list[Any]:
    head, body = raw.split(b"\n", 1)
    return [
        b"",
        raw[: len(raw) // 2],  # cut short
        head + b"\n" + body.replace(b"0.125", b"[[[["),  # not JSON
        head + b"\n" + b"[" * 100_000 + b"]" * 100_000,  # nested past any limit
        head + b'\n{"distance": 0.5}',  # JSON, but not a result
        head + b"\n" + body.replace(b"0.125", b"1e999"),  # parses as infinity
        head + b"\n" + body.replace(b"0.125", b"-1E+400"),
        head + b"\n" + body.replace(b'"call":1', b'"call":9223372036854775809'),  # 2**63 + 1
        head + b"\n" + body.replace(b'"call":1', b'"call":-92233720368547758090'),
        head.replace(b"modelprov-result/1", b"modelprov-result/0") + b"\n" + body,
        head.replace(key.encode(), b"0" * 64) + b"\n" + body,  # names another key
        head[:-64] + b"f" * 64 + b"\n" + body,  # made from other answers
        "not bytes but text",
        12345,
        b"\x80\x81" + raw,
    ]


def test_a_damaged_or_foreign_row_is_computed_again_and_overwritten(tmp_path: Path) -> None:
    store, compute = VerdictStore(tmp_path), Counter()
    _run(store, compute)
    [(key, raw)] = _rows(tmp_path)
    for bad in _damaged(key, raw):
        _put(tmp_path, key, bad)
        calls = compute.calls
        result = _run(VerdictStore(tmp_path), compute)
        assert compute.calls == calls + 1 and result["call"] == calls + 1, bad[:80]
        [(_, stored)] = _rows(tmp_path)
        assert stored.startswith(b"modelprov-result/1\t" + key.encode())


def test_a_row_copied_under_another_key_is_not_replayed(tmp_path: Path) -> None:
    store, compute = VerdictStore(tmp_path), Counter()
    _run(store, compute)
    [(_, raw)] = _rows(tmp_path)
    other = verdicts.result_key("detector-1", {"method": "delta", "seed": 7}, ["key-a", "key-b"])
    _put(tmp_path, other, raw)
    assert _run(store, compute, settings={"method": "delta", "seed": 7})["call"] == 2


def test_the_value_is_json_naming_its_key_and_no_path(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path)
    _run(store, Counter())
    [(key, raw)] = _rows(tmp_path)
    head, body = raw.decode().split("\n", 1)
    assert head.split("\t")[:2] == ["modelprov-result/1", key]
    assert body == '{"distance":0.125,"call":1,"words":["ferry","gulls"]}'
    assert str(tmp_path) not in raw.decode()


def test_a_result_that_is_not_json_is_returned_but_not_stored(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path)

    def compute() -> dict[str, Any]:
        return {"distance": float("nan"), "call": 1, "words": []}

    got = cached_result(store, "d", {}, ANSWERS, compute, dict, _decode)
    assert got["distance"] != got["distance"]
    assert _rows(tmp_path) == []


def test_an_unusable_store_warns_and_computes(tmp_path: Path) -> None:
    (tmp_path / verdicts.FILE_NAME).mkdir()
    compute = Counter()
    with pytest.warns(verdicts.VerdictCacheWarning, match=re.escape(verdicts.FILE_NAME)):
        first = _run(VerdictStore(tmp_path), compute)
    assert first["call"] == 1 and compute.calls == 1


def test_clear_deletes_results_too(tmp_path: Path) -> None:
    store = VerdictStore(tmp_path)
    _run(store, Counter())
    assert store.clear() == 1
    assert _rows(tmp_path) == []


def test_an_unknown_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="table"):
        VerdictStore(tmp_path).get_many(["k"], "elsewhere")


@pytest.mark.parametrize(
    "literal",
    [
        "0", "-0", "1", "123456789012345678", "999999999999999999", "-999999999999999999",
        "9223372036854775807", "9223372036854775808", "9223372036854775809",
        "-9223372036854775808", "-9223372036854775809", "00000000000000000001",
        "18446744073709551616", "1" + "0" * 400,
        "0.5", "1e308", "1.7976931348623157e308", "1.8e308", "1e309", "-1e309", "1e-999",
        "1E+400", "123456789012345678901234567890.5", "1" + "0" * 400 + ".0",
    ],
)  # fmt: skip
def test_numbers_are_refused_as_parsed_exactly_where_the_walk_refused_them(literal: str) -> None:
    """A result's numbers are checked as its JSON is parsed (safejson bounded_numbers), no
    longer by walking the parsed value: the same literals are refused."""
    text = f'{{"a": [{literal}, {{"b": {literal}}}]}}'
    try:
        verdicts._check_numbers(json.loads(text))
        walked = True
    except ValueError:
        walked = False
    try:
        json_loads(text, constants="reject", bounded_numbers=True)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed == walked
