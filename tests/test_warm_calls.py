"""The warm path of model calls: replayed answers read without diskcache's open (issue 19)."""

from __future__ import annotations

import os
import sqlite3

import diskcache
import pytest

from pytest_modelprov.calls import cache as cache_module
from pytest_modelprov.calls.cache import ResponseCache
from pytest_modelprov.errors import CacheCorruptError

SAMPLED = """
def test_sampled(model_under_test):
    answers = model_under_test.sample(["Which bird nests on the old tower?", "Name a river."], n=2)
    assert len(answers) == 4
"""

# a pytest plugin (``-p``) writing whether diskcache was imported and opened by the run
PROBE = """
import os
import sys

def pytest_unconfigure(config):
    with open(os.environ["PROBE_OUT"], "w", encoding="utf-8") as out:
        out.write("diskcache imported" if "diskcache" in sys.modules else "no diskcache")
"""


def test_the_written_out_diskcache_constants_are_diskcaches() -> None:
    assert cache_module.DBNAME == diskcache.core.DBNAME
    assert cache_module.MODE_RAW == diskcache.core.MODE_RAW


def test_a_warm_replay_neither_imports_nor_opens_diskcache(
    pytester: pytest.Pytester, env, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(SAMPLED)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)
    pytester.makepyfile(modelprov_probe=PROBE)
    out = pytester.path / "probe.txt"
    monkeypatch.setenv("PROBE_OUT", str(out))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(pytester.path), os.environ.get("PYTHONPATH", "")])
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-p", "modelprov_probe", "--modelprov-record-mode=replay"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*every answer came from the cache*"])
    assert env.server.request_count == 4
    assert out.read_text(encoding="utf-8") == "no diskcache"


def _recorded(pytester: pytest.Pytester, env) -> list[str]:
    pytester.makepyfile(SAMPLED)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)
    cache = ResponseCache(env.cache)
    keys = sorted(cache.digests())
    cache.close()
    return keys


def test_warm_lookups_read_what_diskcache_reads(pytester: pytest.Pytester, env) -> None:
    keys = _recorded(pytester, env)
    plain, stock = ResponseCache(env.cache), ResponseCache(env.cache)
    try:
        hits = plain.lookup_many(keys)
        assert plain._cache is None  # read on the plain connection, diskcache never opened
        assert [h and h[:8] for h in hits] == [
            stock.lookup(k) and stock.lookup(k)[:8] for k in keys
        ]  # type: ignore[index]
        assert [dict(h.body) for h in hits if h] == [dict(stock.get(k).response) for k in keys]  # type: ignore[union-attr]
    finally:
        plain.close()
        stock.close()


def test_a_warm_lookup_of_a_row_naming_a_file_outside_the_cache_reads_nothing(
    pytester: pytest.Pytester, env, tmp_path
) -> None:
    """Rows whose value is not in the row go through SafeDisk on the plain path too."""
    keys = _recorded(pytester, env)
    victim = tmp_path / "victim.txt"
    victim.write_text("the victim's private text", encoding="utf-8")
    with sqlite3.connect(env.cache / "cache.db") as db:
        db.execute(
            "UPDATE Cache SET mode = 2, value = NULL, filename = ? WHERE key = ?",
            (str(victim), keys[0]),
        )
    db.close()
    cache = ResponseCache(env.cache)
    try:
        with pytest.raises(CacheCorruptError, match="outside the cache directory") as caught:
            cache.lookup_many(keys)
        assert "private text" not in str(caught.value)
    finally:
        cache.close()


def test_a_cache_without_a_database_yet_is_created_as_before(tmp_path) -> None:
    cache = ResponseCache(tmp_path / "fresh")
    try:
        assert cache.lookup_many(["a" * 64, "b" * 64]) == [None, None]
        assert (tmp_path / "fresh" / "cache.db").is_file()
        assert cache._cache is not None  # the misses opened diskcache, which made the tables
    finally:
        cache.close()


# -- measurement results: counted on xdist workers, summed and shown by the controller --------

RESULTS = """
import pytest
from pytest_modelprov.calls.verdicts import cached_result

@pytest.mark.parametrize("i", range(4))
def test_measured(model_under_test, i):
    answers = model_under_test.sample([f"Name river number {i}."], n=3)
    result = cached_result(
        model_under_test.verdicts,
        "counting-detector/1",
        {"i": i},
        [(r.key, r.answer) for r in answers],
        lambda: {"words": sum(len(r.answer.split()) for r in answers)},
        dict,
        lambda data: {"words": int(data["words"])},
        stands_for=lambda result: 3,
    )
    assert result["words"] > 0
"""


def test_measurement_results_are_summed_over_workers_and_shown(
    pytester: pytest.Pytester, env, xdist_args: list[str]
) -> None:
    pytester.makepyfile(test_results=RESULTS)
    cold = pytester.runpytest("-p", "no:randomly", *xdist_args)
    cold.assert_outcomes(passed=4)
    cold.stdout.fnmatch_lines(["measurement results: 0 replayed, 4 computed"])
    warm = pytester.runpytest("-p", "no:randomly", "--modelprov-record-mode=replay", *xdist_args)
    warm.assert_outcomes(passed=4)
    # each replayed result stands for its three verdicts in the verdict line
    warm.stdout.fnmatch_lines(
        [
            "detector verdicts: 12 replayed, 0 computed (cache verdicts.sqlite3)",
            "measurement results: 4 replayed, 0 computed",
        ]
    )
    off = pytester.runpytest("-p", "no:randomly", "--modelprov-verdict-cache=off", *xdist_args)
    off.assert_outcomes(passed=4)
    assert "measurement results:" not in off.stdout.str()


# -- the plugin's import on every pytest start --------------------------------------------------

IMPORTED = """
import os
import sys

def pytest_unconfigure(config):
    with open(os.environ["PROBE_OUT"], "w", encoding="utf-8") as out:
        out.write(" ".join(sorted(m for m in sys.modules if m.startswith("pytest_modelprov"))))
"""


def test_a_run_that_samples_no_model_imports_no_model_client(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    pytester.makepyfile(modelprov_probe=IMPORTED)
    out = pytester.path / "imported.txt"
    monkeypatch.setenv("PROBE_OUT", str(out))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(pytester.path), os.environ.get("PYTHONPATH", "")])
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "modelprov_probe")
    result.assert_outcomes(passed=1)
    imported = out.read_text(encoding="utf-8").split()
    assert "pytest_modelprov.plugin" in imported  # the plugin was loaded, and configured
    assert "pytest_modelprov.calls.client" not in imported
    assert "pytest_modelprov.calls.deadline" not in imported
