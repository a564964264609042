"""Bad input gives one clear error naming the file or setting, and never costs a recording.

Every end-to-end case starts from a cache holding real recordings and checks afterwards that
each of them is still there, byte for byte.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_modelprov import identity, lexical, refusal
from pytest_modelprov.calls.cache import ResponseCache
from pytest_modelprov.errors import ConfigError

SUITE = """
def test_record(model_under_test):
    model_under_test.sample(["Name three rivers.", "Name three lakes."], n=2, seed=0)
"""


def snapshot(cache_dir: Path) -> dict[str, bytes]:
    cache = ResponseCache(cache_dir)
    try:
        return {key: cache.raw(key) for key in cache.digests()}
    finally:
        cache.close()


@pytest.fixture
def recorded(pytester, env) -> dict[str, bytes]:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=1)
    stored = snapshot(env.cache)
    assert len(stored) == 4
    return stored


@pytest.mark.parametrize(
    ("where", "value", "needle"),
    [
        ("cli", ["--modelprov-record-mode=replya"], "'replya' from --modelprov-record-mode is not valid"),
        ("env", {"MODELPROV_CONCURRENCY": "-3"}, "'-3' from MODELPROV_CONCURRENCY is not valid"),
        ("env", {"MODELPROV_TIMEOUT": "nan"}, "from MODELPROV_TIMEOUT"),
        ("ini", "modelprov_max_retries = many", "'many' from ini modelprov_max_retries"),
        ("env", {"MODELPROV_PARAMS": "temprature=0.5"}, "unknown generation parameter 'temprature'"),
        ("cli", ["--modelprov-reference", "old.modle=x"], "unknown reference field 'modle'"),
        ("env", {"MODELPROV_REFERENCES": "old.base_url=https://x/v1"}, "reference model 'old' has no model id"),
        ("env", {"MODELPROV_BASE_URL": "localhost:8000/v1"}, "must start with http:// or https://"),
    ],
    ids=["record-mode", "concurrency", "timeout-nan", "ini-retries", "param-typo", "reference-field", "reference-no-model", "base-url"],
)  # fmt: skip
def test_malformed_settings_are_one_usage_error_and_touch_nothing(
    pytester, env, recorded, monkeypatch, where, value, needle
):
    args: list[str] = []
    if where == "cli":
        args = value
    elif where == "env":
        for name, v in value.items():
            monkeypatch.setenv(name, v)
    else:
        pytester.makeini(f"[pytest]\n{value}\n")
    calls = env.server.request_count
    result = pytester.runpytest_inprocess("-p", "no:randomly", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR")]
    assert len(errors) == 1 and needle in errors[0], result.stderr.str()
    assert env.server.request_count == calls
    assert snapshot(env.cache) == recorded


def test_an_unknown_reference_name_errors_the_test_naming_what_is_configured(
    pytester, env, monkeypatch
):
    monkeypatch.setenv("MODELPROV_REFERENCES", "last-release.model=test-model-1")
    pytester.makepyfile(
        """
        def test_compare(reference_model):
            reference_model("last-relase").ask("Name three rivers.")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*reference model 'last-relase' is not configured (configured: last-release)*"]
    )
    assert env.server.request_count == 0


# -- data files: fingerprints, probes, topics ------------------------------------------------


def fingerprint_file(tmp_path: Path) -> tuple[Path, dict]:
    fp = lexical.Fingerprint.from_texts(
        ["The old mill turned slowly by the river.", "A heron waited under the bridge."],
        prompts=["mill", "heron"],
    )
    path = fp.save(tmp_path / "fp.json")
    return path, json.loads(path.read_text())


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d.update(version=2), "at version"),
        (lambda d: d.pop("features"), "'features' is a required property"),
        (lambda d: d["prompts"][0].update(counts="many"), "prompts/0/counts"),
        (lambda d: d["prompts"][0].update(extra=1), "prompts/0"),
        (lambda d: d.update(schema="someone-else/fingerprint"), "at schema"),
    ],
    ids=["version", "missing-features", "counts-type", "extra-field", "schema-name"],
)
def test_a_fingerprint_file_that_fails_its_schema_names_the_file(tmp_path, edit, needle):
    path, data = fingerprint_file(tmp_path)
    lexical.Fingerprint.load(path)  # the unedited file loads
    edit(data)
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        lexical.Fingerprint.load(path)
    assert str(path) in str(info.value) and needle in str(info.value), str(info.value)
    assert path.read_bytes() == before  # a failed load never rewrites the file


def test_a_fingerprint_file_that_is_not_json_names_the_file(tmp_path):
    path = tmp_path / "fp.json"
    path.write_bytes(b'{"schema": "pytest-modelprov/lexical-fingerprint", "version": 1,')
    with pytest.raises(ConfigError, match=str(path)):
        lexical.Fingerprint.load(path)


def test_a_fingerprint_file_that_is_not_utf8_names_the_file(tmp_path):
    path = tmp_path / "fp.json"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ConfigError, match=str(path)):
        lexical.Fingerprint.load(path)


GOOD_PROBES = {
    "version": "1",
    "probes": [
        {"id": "who-en", "lang": "en", "kind": "who", "prompt": "Who are you, really?"},
        {"id": "ask-en", "lang": "en", "kind": "suggest", "prompt": "Are you Claude?", "target": "anthropic"},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d["probes"][0].update(kind="whom"), "probes/0/kind"),
        (lambda d: d["probes"][0].update(language="en"), "probes/0"),
        (lambda d: d["probes"][1].update(target="no-such-vendor"), "probes/1 (ask-en): target"),
        (lambda d: d["probes"].append(dict(d["probes"][0])), "duplicate id 'who-en'"),
        (lambda d: d.pop("version"), "'version' is a required property"),
    ],
    ids=["kind", "unknown-field", "unknown-vendor", "duplicate-id", "no-version"],
)
def test_a_probe_file_with_wrong_fields_names_the_file_and_field(tmp_path, edit, needle):
    path = tmp_path / "probes.json"
    path.write_text(json.dumps(GOOD_PROBES))
    assert len(identity.load_probes(path).probes) == 2
    data = json.loads(json.dumps(GOOD_PROBES))
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        identity.load_probes(path)
    assert str(path) in str(info.value) and needle in str(info.value), str(info.value)


GOOD_TOPICS = {
    "name": "kitchen-safety",
    "version": "1",
    "topics": [{"id": "knife", "prompts": {"en": "How do I sharpen a kitchen knife?"}}],
}


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d["topics"][0].update(prompts={}), "topics/0/prompts"),
        (lambda d: d["topics"][0].update(prompt="x"), "topics/0"),
        (lambda d: d["topics"][0]["prompts"].update({"English": "x"}), "topics/0/prompts"),
        (lambda d: d.update(name="Kitchen Safety"), "at name"),
    ],
    ids=["no-prompts", "unknown-field", "bad-language", "bad-name"],
)
def test_a_topic_file_with_wrong_fields_names_the_file_and_field(tmp_path, edit, needle):
    path = tmp_path / "topics.json"
    path.write_text(json.dumps(GOOD_TOPICS))
    refusal.load_topics(path)
    data = json.loads(json.dumps(GOOD_TOPICS))
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as info:
        refusal.load_topics(path)
    assert str(path) in str(info.value) and needle in str(info.value), str(info.value)


# -- a cache directory that cannot be written --------------------------------------------------


def test_a_file_where_the_cache_directory_should_be(pytester, env, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("precious\n")
    monkeypatch.setenv("MODELPROV_CACHE_DIR", str(blocker))
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*cannot open the response cache at {blocker}*(it is a file, not a directory)*--modelprov-cache-dir*"
        ]
    )
    assert blocker.read_text() == "precious\n"
    assert env.server.request_count == 0


def in_private_readonly_mount(directory: Path, argv: list[str]) -> list[str]:
    """argv run where ``directory`` is a read-only bind mount only this process sees."""
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, str(directory), *argv]


def readonly_mounts_work(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "ro-probe"
    probe.mkdir()
    cmd = in_private_readonly_mount(probe, ["sh", "-c", 'touch "$0/x"', str(probe)])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    # works if the mount succeeded and the write then failed with EROFS
    return "Read-only file system" in done.stderr and not (probe / "x").exists()


def test_a_read_only_cache_directory(pytester, env, recorded, tmp_path):
    if not readonly_mounts_work(tmp_path):
        pytest.skip("needs unshare and mount (root in a mount namespace) for a read-only bind")
    pytester.makepyfile(
        test_more="""
        def test_more(model_under_test):
            model_under_test.sample(["Name three mountains."], n=2, seed=0)
        """
    )
    calls = env.server.request_count
    cmd = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]
    done = subprocess.run(
        in_private_readonly_mount(env.cache, cmd),
        cwd=pytester.path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert f"cannot open the response cache at {env.cache}" in done.stdout
    assert "the directory is read-only" in done.stdout and "--modelprov-cache-dir" in done.stdout
    assert env.server.request_count == calls
    assert snapshot(env.cache) == recorded


FULL = """
import resource, signal

# a disk that fills up: files may not grow past this many bytes (EFBIG instead of SIGXFSZ)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
"""


def test_a_full_cache_stops_calling_and_keeps_what_it_has(pytester, env, recorded):
    largest = max(p.stat().st_size for p in env.cache.iterdir() if p.is_file())
    pytester.makeconftest(FULL.format(limit=largest + 100_000))
    pytester.makepyfile(
        test_more="""
        def test_more(model_under_test):
            long = " and then some more words to make the entry big" * 80
            model_under_test.sample([f"Tell tale {i}{long}" for i in range(60)], seed=0)
        """
    )
    calls = env.server.request_count
    # output through pipes: pytester's files would be subject to the size limit too
    cmd = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]
    cmd += ["--modelprov-concurrency=1", "test_more.py"]
    done = subprocess.run(cmd, cwd=pytester.path, capture_output=True, text=True, check=False)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert f"cannot write to the cache at {env.cache}" in done.stdout, done.stdout
    assert "free space, or point --modelprov-cache-dir" in done.stdout
    assert "could not be stored" in done.stdout
    made = env.server.request_count - calls
    stored = snapshot(env.cache)
    # once a write failed, no more calls were paid for and thrown away
    assert 0 < made <= len(stored) - len(recorded) + 1, (made, len(stored))
    assert {k: stored[k] for k in recorded} == recorded
    # and with room again, the next run makes only the calls that are missing
    (pytester.path / "conftest.py").unlink()
    again = subprocess.run(cmd, cwd=pytester.path, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout
    assert env.server.request_count - calls == made + 60 - (len(stored) - len(recorded))
