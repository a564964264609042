"""The modelprov command finds the cache where pytest's plugin would, and says which."""

from __future__ import annotations

import json

import pytest

from pytest_modelprov import cli
from pytest_modelprov.testing.server import LocalServer


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmodelprov_cache_dir = "var/answers"\n', encoding="utf-8"
    )
    deep = tmp_path / "tests" / "provenance"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    return tmp_path


def _recorded(pytester, server, cwd):
    """Record one answer with pytest started in ``cwd`` (the plugin's choice of cache)."""
    pytester.makepyfile(
        test_one="""
        def test_one(model_under_test):
            model_under_test.ask("hello")
        """
    )
    result = pytester.runpytest_subprocess(
        "--modelprov-model=m", f"--modelprov-base-url={server.url}", str(pytester.path)
    )
    result.assert_outcomes(passed=1)


def test_from_a_subfolder_the_ini_of_the_rootdir_is_used(project, capsys):
    assert cli.main(["cache", "import", "/dev/null"]) == 2
    err = capsys.readouterr().err
    expected = project / "var" / "answers"
    assert (
        f"cache {expected} (from the ini key modelprov_cache_dir; rootdir {project}, ini file "
        f"{project / 'pyproject.toml'})" in err
    )


def test_the_environment_is_relative_to_the_rootdir_as_in_the_plugin(project, monkeypatch):
    monkeypatch.setenv("MODELPROV_CACHE_DIR", "elsewhere")
    directory, how = cli.find_cache(cli.build_parser().parse_args(["cache", "stats"]))
    assert directory == project / "elsewhere" and how.startswith("from MODELPROV_CACHE_DIR")


def test_rootdir_and_config_file_are_pytests(project, tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    (other / "pytest.ini").write_text("[pytest]\nmodelprov_cache_dir = c2\n", encoding="utf-8")
    args = cli.build_parser().parse_args(["cache", "stats", "-c", str(other / "pytest.ini")])
    assert cli.find_cache(args)[0] == other / "c2"
    args = cli.build_parser().parse_args(["cache", "stats", "--rootdir", str(other)])
    # --rootdir alone does not pick the ini (pytest still finds pyproject.toml from here)
    assert cli.find_cache(args)[0] == other / "var" / "answers"


def test_the_command_and_the_plugin_agree(pytester, monkeypatch, capsys):
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nmodelprov_cache_dir = "kept"\n')
    sub = pytester.path / "sub"
    sub.mkdir()
    with LocalServer() as server:
        monkeypatch.chdir(sub)
        _recorded(pytester, server, sub)
    capsys.readouterr()
    assert cli.main(["cache", "stats", "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["cache"] == str(pytester.path / "kept")
    assert data["entries"] == 1
