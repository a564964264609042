"""A cache, a baseline or an answer from elsewhere is untrusted input (issue 16).

Each test plays an attacker or an unlucky user: a cache restored from a CI artifact with
hand-edited rows, a proxy that answers with nonsense, settings with absurd values. The
package must refuse clearly, run nothing, read and delete nothing outside its folders, and
never pass a test on an answer that is not there.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_modelprov.calls.budget import Spending
from pytest_modelprov.calls.cache import ResponseCache
from pytest_modelprov.cli import main as cli
from pytest_modelprov.config import Budget, ModelSpec
from pytest_modelprov.errors import CacheError
from pytest_modelprov.testing.script import Fault
from pytest_modelprov.testing.server import LocalServer

ONE_TEST = """
def test_one(model_under_test):
    assert model_under_test.ask("Which bird nests on the old tower?").answer
"""


class Payload:
    """Unpickling this writes a marker file: proof that code ran from the cache."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "code ran from the cache"))  # type: ignore[return-value]


def record_one(pytester: pytest.Pytester, env) -> str:
    """Record the one answer of ONE_TEST; its digest."""
    pytester.makepyfile(ONE_TEST)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)
    cache = ResponseCache(env.cache)
    (digest,) = cache.digests()
    cache.close()
    return digest


def tamper(cache_dir: Path, sql: str, args: tuple[object, ...]) -> None:
    with sqlite3.connect(cache_dir / "cache.db") as db:
        assert db.execute(sql, args).rowcount >= 1
    db.close()


# -- the cache ------------------------------------------------------------------------------


def test_a_pickled_row_is_never_unpickled(pytester, env, tmp_path, monkeypatch, capsys):
    digest = record_one(pytester, env)
    marker = tmp_path / "pwned.txt"
    # the row of an existing key set to a pickled object with a __reduce__: diskcache's own
    # Disk unpickles mode 4 on the next read
    tamper(
        env.cache,
        "UPDATE Cache SET mode = 4, value = ? WHERE key = ?",
        (pickle.dumps(Payload(marker)), digest),
    )
    monkeypatch.setenv("CI", "true")  # replay: no network, only the cache
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unreadable: its value is pickled*so it was not loaded*"])
    for command in (["stats"], ["show", digest[:16]], ["export", str(tmp_path / "x.jsonl")]):
        cli(["cache", *command, "--cache-dir", str(env.cache)])
    out = "".join(capsys.readouterr())
    assert "its value is pickled" in out
    assert not marker.exists(), "code ran from the cache"
    assert env.server.request_count == 1
    # refresh records it again, in the package's own form
    monkeypatch.delenv("CI")
    pytester.runpytest_inprocess("-p", "no:randomly", "--modelprov-record-mode=refresh")
    assert ResponseCache(env.cache).get(digest) is not None
    assert not marker.exists()


def test_a_pickled_key_is_never_unpickled(pytester, env, tmp_path, capsys):
    record_one(pytester, env)
    marker = tmp_path / "pwned.txt"
    tamper(
        env.cache,
        "UPDATE Cache SET raw = 0, key = ?",
        (pickle.dumps(Payload(marker)),),
    )
    for command in (["stats"], ["export", str(tmp_path / "x.jsonl")], ["clear", "--yes"]):
        cli(["cache", *command, "--cache-dir", str(env.cache)])
    capsys.readouterr()
    assert not marker.exists(), "code ran from the cache"


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
def test_a_row_naming_a_file_outside_the_cache_is_never_read_or_deleted(
    pytester, env, tmp_path, capsys, where
):
    digest = record_one(pytester, env)
    victim = tmp_path / "victim.txt"
    victim.write_text("the victim's private text", encoding="utf-8")
    if where == "parent":
        filename = os.path.relpath(victim, env.cache)
    elif where == "absolute":
        filename = str(victim)
    else:  # a file inside the cache that is a link to one outside
        (env.cache / "ab").mkdir()
        (env.cache / "ab" / "link.val").symlink_to(victim)
        filename = "ab/link.val"
    tamper(
        env.cache,
        "UPDATE Cache SET mode = 2, value = NULL, filename = ? WHERE key = ?",
        (filename, digest),
    )
    assert cli(["cache", "show", digest[:16], "--cache-dir", str(env.cache)]) != 0
    assert cli(["cache", "stats", "--cache-dir", str(env.cache)]) != 0
    out = "".join(capsys.readouterr())
    assert "outside the cache directory" in out
    assert "private text" not in out
    assert cli(["cache", "clear", "--yes", "--cache-dir", str(env.cache)]) == 0
    capsys.readouterr()
    assert victim.read_text(encoding="utf-8") == "the victim's private text"
    assert ResponseCache(env.cache).digests() == []


def test_foreign_settings_rows_run_no_pragma(pytester, env):
    """diskcache runs every "sqlite_*" row of its Settings table as a PRAGMA on open."""
    digest = record_one(pytester, env)
    with sqlite3.connect(env.cache / "cache.db") as db:
        db.execute("INSERT INTO Settings VALUES ('sqlite_user_version', 4242)")
        db.execute("UPDATE Settings SET value = 'delete' WHERE key = 'sqlite_journal_mode'")
    db.close()
    cache = ResponseCache(env.cache)
    assert cache.get(digest) is not None
    cache.close()
    with sqlite3.connect(env.cache / "cache.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


BUDGETED = """
def test_budgeted(model_under_test):
    assert model_under_test.ask({prompt!r}).answer
"""


def test_a_budget_store_from_elsewhere_deletes_nothing_outside_and_runs_no_pragma(
    pytester, env, tmp_path
):
    """The budget counters sit in the cache folder too (``<cache>/budget``): a restored
    folder's rows there are as untrusted as the responses'."""
    pytester.makepyfile(BUDGETED.format(prompt="Which bird nests on the old tower?"))
    pytester.runpytest_inprocess("-p", "no:randomly", "--modelprov-budget=calls=5")
    store = env.cache / "budget" / "cache.db"
    assert store.is_file()
    victims = [tmp_path / "victim-relative.txt", tmp_path / "victim-absolute.txt"]
    for victim in victims:
        victim.write_text("the victim's private text", encoding="utf-8")
    with sqlite3.connect(store) as db:
        # expired rows naming a file: diskcache's cull deletes the files of expired rows
        # on the next write, whatever key the write is for
        for i, name in enumerate([os.path.relpath(victims[0], store.parent), str(victims[1])]):
            db.execute(
                "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, mode,"
                " filename, value) VALUES (?, 1, 0, 1, 0, 2, ?, NULL)",
                (f"old:{i}", name),
            )
        db.execute("INSERT INTO Settings VALUES ('sqlite_user_version', 4242)")
    db.close()
    pytester.makepyfile(BUDGETED.format(prompt="How many stones are in the wall?"))
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--modelprov-budget=calls=5")
    result.assert_outcomes(passed=1)
    assert env.server.request_count == 2  # the second run did call, so it wrote a counter
    result.stdout.fnmatch_lines(["*budget: whole run: 1 of 5 requests*"])
    for victim in victims:
        assert victim.read_text(encoding="utf-8") == "the victim's private text"
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
        # the expired rows were dropped all the same: only their files were kept
        assert db.execute("SELECT count(*) FROM Cache WHERE key LIKE 'old:%'").fetchone() == (0,)
    db.close()


@pytest.mark.parametrize("planted", ["pickled", "text"])
def test_a_budget_counter_that_is_not_a_count_is_a_clear_error(tmp_path, planted):
    directory = tmp_path / "cache" / "budget"
    marker = tmp_path / "pwned.txt"
    spending = Spending(Budget(calls=5, source="the test"), directory, "run1")
    spec = ModelSpec(name="model under test", model="m")
    spending.reserve(spec)  # a real counter, written by the package
    spending.close()
    value = pickle.dumps(Payload(marker)) if planted == "pickled" else "three"
    mode = 4 if planted == "pickled" else 3
    with sqlite3.connect(directory / "cache.db") as db:
        assert (
            db.execute(
                "UPDATE Cache SET mode = ?, value = ? WHERE key = 'run1:all:calls'", (mode, value)
            ).rowcount
            == 1
        )
    db.close()
    spending = Spending(Budget(calls=5, source="the test"), directory, "run1")
    for attempt in (spending.status, lambda: spending.reserve(spec)):
        with pytest.raises(CacheError) as caught:
            attempt()
        message = str(caught.value)
        assert "budget counter 'run1:all:calls'" in message
        assert str(directory / "cache.db") in message
        assert f"Delete {directory}" in message
    spending.close()
    assert not marker.exists(), "code ran from the budget store"


def strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in an export")

    return json.loads(text, parse_constant=refuse)


def test_nan_in_usage_is_never_cached_and_exports_are_strict_json(pytester, env, tmp_path, capsys):
    env.server.inject(Fault("nan_usage"))
    digest = record_one(pytester, env)
    # an older entry stored with NaN (written before this fix, or by hand)
    second = ResponseCache(env.cache)
    raw = second.raw(digest)
    second.close()
    assert b"NaN" not in raw and b"Infinity" not in raw
    cache = ResponseCache(env.cache)
    entry = cache.get(digest)
    cache.close()
    assert entry is not None and entry.usage["prompt_tokens"] is None
    # an entry stored with NaN (by an older version, or by hand): json.dumps writes bare NaN
    entry.response["usage"].update(prompt_tokens=math.nan, completion_tokens=math.inf)
    old = entry.to_bytes()
    assert b"NaN" in old
    tamper(env.cache, "UPDATE Cache SET value = ? WHERE key = ?", (old, digest))
    assert cli(["cache", "stats", "--cache-dir", str(env.cache)]) == 0
    export = tmp_path / "export.jsonl"
    assert cli(["cache", "export", str(export), "--cache-dir", str(env.cache)]) == 0
    capsys.readouterr()
    lines = export.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    for line in lines:
        strict(line)


DEEP = "[" * 100_000 + "]" * 100_000


def test_deep_json_from_the_server_is_retried_then_a_clear_failure(pytester, env, monkeypatch):
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "1")
    env.server.set_fault_rate(1.0, [Fault("deep_json")])
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*failed after 2 attempts: unusable JSON*nested more than*"])
    assert "RecursionError" not in result.stdout.str()
    assert env.server.request_count == 2
    assert not env.cache.exists() or ResponseCache(env.cache).digests() == []


def test_deep_json_in_a_cache_entry_and_an_import_is_a_clear_error(pytester, env, tmp_path, capsys):
    digest = record_one(pytester, env)
    # the one-JSON-object form older versions stored, nested 100 000 deep
    tamper(env.cache, "UPDATE Cache SET value = ? WHERE key = ?", (DEEP.encode(), digest))
    assert cli(["cache", "stats", "--cache-dir", str(env.cache)]) == 1
    assert cli(["cache", "show", digest[:16], "--cache-dir", str(env.cache)]) != 0
    assert "nested more than" in capsys.readouterr().err
    export = tmp_path / "deep.jsonl"
    header = {"format": "pytest-modelprov-cache", "version": 1, "entries": 1}
    export.write_text(json.dumps(header) + "\n" + DEEP + "\n", encoding="utf-8")
    assert cli(["cache", "import", str(export), "--cache-dir", str(tmp_path / "c2")]) == 2
    err = capsys.readouterr().err
    assert f"{export} line 2" in err and "nested more than" in err
    assert "RecursionError" not in err


def test_a_number_too_large_for_a_float_in_an_import_is_a_clear_error(
    pytester, env, tmp_path, capsys
):
    """JSON has no Infinity, but Python reads 1e400 as inf whatever parse_constant says:
    in a request field it cannot be hashed into a key, which must name the line, not crash."""
    record_one(pytester, env)
    export = tmp_path / "export.jsonl"
    assert cli(["cache", "export", str(export), "--cache-dir", str(env.cache)]) == 0
    header, line = export.read_text(encoding="utf-8").splitlines()
    entry = json.loads(line)
    entry["request"]["params"]["temperature"] = 0.25
    edited = json.dumps(entry).replace('"temperature": 0.25', '"temperature": 1e400')
    assert "1e400" in edited
    export.write_text(header + "\n" + edited + "\n", encoding="utf-8")
    capsys.readouterr()
    assert cli(["cache", "import", str(export), "--cache-dir", str(tmp_path / "c2")]) == 2
    err = capsys.readouterr().err
    assert f"{export} line 2" in err and "nothing was imported" in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "c2").exists() or not ResponseCache(tmp_path / "c2").digests()


def test_an_unusable_baseline_does_not_crash_the_session_end(pytester, env, tmp_path):
    """An unused baseline file nested 100 000 deep: the reports are still written."""
    pytester.makepyfile(ONE_TEST)
    baseline = pytester.path / "modelprov-baselines" / "default" / "test_x" / "deep.json"
    baseline.parent.mkdir(parents=True)
    baseline.write_text(DEEP, encoding="utf-8")
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = pytester.runpytest_inprocess(
        "-p", "no:randomly", f"--junitxml={junit}", f"--modelprov-report-json={report}"
    )
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert junit.exists() and report.exists()


def test_a_deep_baseline_used_by_a_check_names_the_file(pytester, env):
    pytester.makepyfile(
        """
        from pytest_modelprov import identity

        def test_ok(model_under_test, modelprov_baseline):
            found = identity.probe(model_under_test, n=1, languages=["en"], kinds=["who"])
            modelprov_baseline.check(found, underpowered="ignore")
        """
    )
    pytester.runpytest_inprocess("-p", "no:randomly", "--modelprov-update-baselines")
    (written,) = (pytester.path / "modelprov-baselines").rglob("*.json")
    written.write_text(DEEP, encoding="utf-8")
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{written.name}*not valid JSON*nested more than*"])
    assert "RecursionError" not in result.stdout.str()


# -- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "why"),
    [("", "the answer is empty"), (None, "the answer is empty"), (7, "the answer is int")],
    ids=["empty", "null", "integer"],
)
def test_empty_and_non_text_answers_are_retried_then_fail(pytester, env, monkeypatch, content, why):
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "2")
    env.server.set_fault_rate(1.0, [Fault("content", content=content)])
    pytester.makepyfile(
        """
        def test_counts_nothing(model_under_test):
            model_under_test.sample(["Who made you?"])
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*failed after 3 attempts: {why}*modelprov_allow_empty*"])
    assert env.server.request_count == 3
    assert not env.cache.exists() or ResponseCache(env.cache).digests() == []
    # opted in, the empty answer is counted: returned, still never cached
    monkeypatch.setenv("MODELPROV_ALLOW_EMPTY", "true")
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)
    assert ResponseCache(env.cache).digests() == []


def test_one_empty_answer_is_retried_and_the_good_one_kept(pytester, env):
    env.server.inject(Fault("content", content=""))
    pytester.makepyfile(ONE_TEST)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)
    assert env.server.request_count == 2
    (entry,) = [e for _, e in ResponseCache(env.cache).entries()]
    assert not isinstance(entry, Exception)
    assert entry.response["choices"][0]["message"]["content"].startswith("Scripted answer")


def test_an_empty_answer_in_a_cache_from_elsewhere_never_passes(
    pytester, env, tmp_path, monkeypatch, capsys
):
    digest = record_one(pytester, env)
    cache = ResponseCache(env.cache)
    entry = cache.get(digest)
    cache.close()
    assert entry is not None
    entry.response["choices"][0]["message"]["content"] = "  "
    tamper(env.cache, "UPDATE Cache SET value = ? WHERE key = ?", (entry.to_bytes(), digest))
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unreadable (the answer is empty, which is never stored)*"])
    # nor through an export made elsewhere
    export = tmp_path / "empty.jsonl"
    header = {"format": "pytest-modelprov-cache", "version": 1, "entries": 1}
    line = json.dumps(entry.to_dict())
    export.write_text(json.dumps(header) + "\n" + line + "\n", encoding="utf-8")
    assert cli(["cache", "import", str(export), "--cache-dir", str(tmp_path / "other")]) == 2
    assert "the answer is empty; such answers are never cached" in capsys.readouterr().err


def test_a_trickling_server_cannot_hold_a_call_past_its_timeout(pytester, env, monkeypatch):
    monkeypatch.setenv("MODELPROV_TIMEOUT", "0.5")
    monkeypatch.setenv("MODELPROV_MAX_RETRIES", "0")
    env.server.inject(Fault("trickle", delay=0.1))
    pytester.makepyfile(ONE_TEST)
    start = time.monotonic()
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    took = time.monotonic() - start
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*timed out after 0.5 s*"])
    # each read came within 0.1 s; the trickle lasts 30 s; the call ended at its deadline
    assert took < 10, took
    assert not env.cache.exists() or ResponseCache(env.cache).digests() == []


def test_a_redirect_to_another_host_is_not_followed(pytester, env):
    with LocalServer() as other:
        env.server.set_fault_rate(1.0, [Fault("redirect", message=other.url + "/chat/completions")])
        pytester.makepyfile(ONE_TEST)
        result = pytester.runpytest_inprocess("-p", "no:randomly")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*HTTP 307: the endpoint redirects to*not followed*"])
        assert other.request_count == 0
    assert env.server.request_count == 1  # not retried: the redirect will not go away
    assert not env.cache.exists() or ResponseCache(env.cache).digests() == []


# -- settings and prompts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("MODELPROV_TIMEOUT", "1e10", "timeout '1e10' from MODELPROV_TIMEOUT is not valid"),
        ("MODELPROV_MAX_RETRY_WAIT", "1e10", "max_retry_wait '1e10' from MODELPROV_MAX_RETRY_WAIT"),
        ("MODELPROV_MAX_RETRIES", "1000000000000", "max_retries '1000000000000' from"),
        ("MODELPROV_CONCURRENCY", "nan", "concurrency 'nan' from MODELPROV_CONCURRENCY"),
        ("MODELPROV_RPM", "inf", "rpm 'inf' from MODELPROV_RPM"),
        ("MODELPROV_BASE_URL", "http://[::1/v1", "base URL '<unparsable URL>' from"),
        ("MODELPROV_BASE_URL", "http://127.0.0.1:abc/v1", "it cannot be parsed (Port could"),
        ("MODELPROV_BASE_URL", "http://127.0.0.1:99999/v1", "it cannot be parsed (Port out"),
        ("MODELPROV_TRANSCRIPT", ".", "transcript '"),
        ("MODELPROV_ALLOW_EMPTY", "maybe", "allow_empty 'maybe' from MODELPROV_ALLOW_EMPTY"),
    ],
)
def test_settings_that_would_crash_are_usage_errors(
    pytester, env, monkeypatch, name, value, needle
):
    monkeypatch.setenv(name, value)
    pytester.makepyfile(ONE_TEST)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert needle in text, text
    assert "INTERNALERROR" not in text and "Traceback" not in text
    assert env.server.request_count == 0


def test_a_pause_file_in_the_far_future_is_ignored_with_a_note(pytester, env):
    endpoint = env.server.url.rstrip("/")
    name = hashlib.sha256(f"{endpoint}\ntest-model".encode()).hexdigest()[:24]
    pause = env.cache / "pauses" / name
    pause.parent.mkdir(parents=True)
    pause.write_text(repr(time.time() + 30 * 86400), encoding="ascii")
    pytester.makepyfile(ONE_TEST)
    start = time.monotonic()
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert time.monotonic() - start < 30
    result.stdout.fnmatch_lines(["*ignored the shared pause*longer than any pause*"])
    assert env.server.request_count == 1


def test_bad_prompts_are_clear_errors(pytester, env):
    pytester.makepyfile(
        """
        def test_surrogate(model_under_test):
            model_under_test.ask("broken \\udcff text")

        def test_nothing(model_under_test):
            samples = model_under_test.sample([])
            assert all(r.answer == "anything" for r in samples)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*holds a lone surrogate (\\udcff at character 7)*", "*sample() was given no prompts*"]
    )
    assert "UnicodeEncodeError" not in result.stdout.str()
    assert env.server.request_count == 0


# -- processes -------------------------------------------------------------------------------


def test_a_killed_export_leaves_no_temporary_file_behind(tmp_path):
    from pytest_modelprov.calls.export import remove_stale_temporaries

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".modelprov-export-{dead.pid}-abc123"
    stale.write_bytes(b"x" * 1_000_000)
    mine = tmp_path / f".modelprov-export-{os.getpid()}-def456"
    mine.write_bytes(b"in progress")
    assert remove_stale_temporaries(tmp_path, ".modelprov-export-") == 1
    assert not stale.exists() and mine.exists()
    # and through the command, with a cache to export
    stale.write_bytes(b"x")
    cache_dir = tmp_path / "cache"
    cache = ResponseCache(cache_dir)
    assert len(cache) == 0  # opens (creates) it
    cache.close()
    assert cli(["cache", "export", str(tmp_path / "out.jsonl"), "--cache-dir", str(cache_dir)]) == 0
    assert not stale.exists()


CONTROLLER_SUITE = """
import os

def test_slow(model_under_test, worker_id):
    with open(f"pid-{worker_id}", "w") as out:
        out.write(str(os.getpid()))
    model_under_test.sample([f"Question {i}" for i in range(400)])
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) has stopped calling
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_workers_stop_when_the_xdist_controller_is_killed(pytester, env, monkeypatch):
    env.server.script.latency = 0.05
    monkeypatch.setenv("MODELPROV_CONCURRENCY", "2")
    pytester.makepyfile(test_a=CONTROLLER_SUITE, test_b=CONTROLLER_SUITE)
    controller = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-n", "2", "-q"],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list(pytester.path.glob("pid-gw*"))) < 2 or env.server.request_count < 10:
            assert time.monotonic() < deadline, "workers never started calling"
            time.sleep(0.05)
        workers = [int(p.read_text()) for p in pytester.path.glob("pid-gw*")]
    finally:
        controller.kill()
        controller.wait()
    stopped_by = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < stopped_by:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)
    after = env.server.request_count
    time.sleep(1.0)
    assert env.server.request_count == after
    assert after < 400  # far from the 800 calls the suite would make


def test_the_bounds_keep_every_wait_within_what_the_os_accepts():
    """The lock wait is (timeout + max_retry_wait) x (max_retries + 1) + 60 s."""
    import threading

    from pytest_modelprov.config import BOUNDS

    worst = (BOUNDS["timeout"][1] + BOUNDS["max_retry_wait"][1]) * (BOUNDS["max_retries"][1] + 1)
    assert worst + 60 < threading.TIMEOUT_MAX


def test_a_deep_topic_set_is_a_clear_error(tmp_path):
    from pytest_modelprov import refusal
    from pytest_modelprov.errors import ConfigError

    path = tmp_path / "topics.json"
    path.write_text(DEEP, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"topics\.json is not usable JSON: .*nested more than"):
        refusal.topics(str(path))
