"""Review of the warm path of model calls (merge ddf0e5c): the plain SQLite reads of the
response cache must refuse what diskcache's open refused, and never hang on a hostile file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: diskcache's Cache columns, as a view whose recursive query never ends
FOREVER_VIEW = (
    "CREATE VIEW {name} (rowid, key, raw, store_time, expire_time, access_time, access_count, "
    "tag, size, mode, filename, value) AS WITH RECURSIVE c(x) AS "
    "(SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT x, CAST(x AS TEXT), 1, 0, NULL, 0, 0, NULL, 0, 1, NULL, x FROM c"
)


def _lookup_in_a_child(directory: Path) -> subprocess.CompletedProcess[str]:
    code = f"""
        from pathlib import Path
        from pytest_modelprov.calls.cache import ResponseCache
        from pytest_modelprov.errors import CacheError
        cache = ResponseCache(Path({str(directory)!r}))
        try:
            print(cache.lookup_many(["a" * 64, "b" * 64]))
        except CacheError as exc:
            print("CacheError", exc)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a warm lookup ran a hostile cache.db's SQL without end")


@pytest.mark.parametrize("name", ["Cache", "cache", "CACHE"])
def test_a_cache_db_whose_cache_table_is_a_never_ending_view_is_refused_not_run(
    tmp_path: Path, name: str
) -> None:
    # before the fix: the plain read SELECTed from the view forever (diskcache's open
    # refused it: "views may not be indexed")
    directory = tmp_path / "cache"
    directory.mkdir()
    db = sqlite3.connect(directory / "cache.db")
    db.execute(FOREVER_VIEW.format(name=name))
    db.commit()
    db.close()
    done = _lookup_in_a_child(directory)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CacheError"), done.stdout
    assert str(directory) in done.stdout and "--modelprov-cache-dir" in done.stdout


def test_a_symlinked_cache_db_is_neither_read_nor_written_through(tmp_path: Path) -> None:
    # a cache folder from elsewhere may link cache.db to any database of the user's: before
    # the fix diskcache's open created its tables and triggers in that database
    from pytest_modelprov.calls.cache import ResponseCache
    from pytest_modelprov.errors import CacheError

    other = tmp_path / "users.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE notes (x)")
    db.commit()
    db.close()
    before = other.read_bytes()
    directory = tmp_path / "cache"
    directory.mkdir()
    (directory / "cache.db").symlink_to(other)
    cache = ResponseCache(directory)
    try:
        with pytest.raises(CacheError, match="symbolic link") as caught:
            cache.lookup_many(["a" * 64, "b" * 64])
        assert str(directory / "cache.db") in str(caught.value)
        assert "--modelprov-cache-dir" in str(caught.value)
    finally:
        cache.close()
    assert other.read_bytes() == before


#: a query that never ends: what a hostile trigger runs
FOREVER = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c WHERE x < 0"
)


@pytest.mark.parametrize(
    "trigger",
    [
        # diskcache's open writes its Settings; every write of an answer inserts into Cache
        f"CREATE TRIGGER t AFTER INSERT ON Settings BEGIN INSERT INTO log {FOREVER}; END",
        f"CREATE TRIGGER t AFTER UPDATE ON Settings BEGIN INSERT INTO log {FOREVER}; END",
        f"CREATE TRIGGER t AFTER INSERT ON Cache BEGIN INSERT INTO log {FOREVER}; END",
        # under the name of one of diskcache's own
        "CREATE TRIGGER Settings_count_insert AFTER INSERT ON Cache FOR EACH ROW BEGIN "
        f"INSERT INTO log {FOREVER}; END",
    ],
)
def test_a_cache_db_with_a_never_ending_trigger_is_refused_before_anything_is_written(
    tmp_path: Path, trigger: str
) -> None:
    from pytest_modelprov.calls.cache import ResponseCache

    directory = tmp_path / "cache"
    made = ResponseCache(directory)
    made.lookup_many(["a" * 64])  # a miss: diskcache makes its database
    made.close()
    db = sqlite3.connect(directory / "cache.db")
    db.execute("CREATE TABLE log (x)")
    if "Settings_count_insert" in trigger:
        db.execute("DROP TRIGGER Settings_count_insert")
    db.execute(trigger)
    db.commit()
    db.close()
    # before the fix: the miss opened diskcache, whose writes ran the trigger forever
    done = _lookup_in_a_child(directory)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CacheError"), done.stdout
    assert str(directory / "cache.db") in done.stdout and "holds a trigger" in done.stdout
    assert "move that file away" in done.stdout


def test_the_written_out_triggers_are_diskcaches() -> None:
    from pytest_modelprov.calls import safedisk

    assert safedisk._own_triggers() == safedisk.KNOWN_TRIGGERS
