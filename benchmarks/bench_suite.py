"""The repository's example suite, warm, against pytest running as many empty tests.

Run: python benchmarks/bench_suite.py [--runs 3] [--before DIR]

A copy of ``examples/`` runs in subprocesses (``python -m pytest -p no:cacheprovider``, no
xdist) against the package's LocalServer serving ``examples/local_script.json`` in this
process, configured through MODELPROV_MODEL/MODELPROV_BASE_URL/MODELPROV_REFERENCES so that
every request the suite makes is counted here. Medians of ``--runs`` wall times:

- cold:  a fresh cache each run (record mode once; the server answers at once, so this is
         the plugin's own recording cost, not a model's latency);
- warm:  the cache recorded above, ``--modelprov-record-mode=replay``; the server must
         receive 0 requests, and the model calls replayed are read from the plugin's JSON
         report (``--modelprov-report-json``);
- empty: a generated directory with as many ``def test_i(): pass`` as the suite ran, same
         flags (plugin installed but unused), and the same with ``-p no:modelprov``;
- floor: the empty tests with a conftest importing the third-party modules a warm run of
         the suite imports and the empty tests do not (found by one untimed warm run that
         lists ``sys.modules``; today numpy, for the lexical fingerprints and their bootstrap,
         which are computed on every run, and diskcache): warm / floor is the plugin's own
         warm work, floor / empty what the plugin cannot remove without dropping a library.
         The warm run's list is printed, so a library that creeps onto the warm path shows.

Bytecode is cached (in a temporary PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE
is set) and each kind has an untimed first run, as on a developer's machine.

``--before DIR`` also times the warm suite and the empty tests with the plugin imported from
another source tree (a checkout of an earlier commit, e.g. ``git archive <rev> | tar -x -C
DIR``; put first on PYTHONPATH), interleaved with this tree's runs on the same recorded
cache, so a change is measured against its baseline in one run on one machine state. The
warm suite runs also with ``--modelprov-verdict-cache=off``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_modelprov.testing.script import Script
from pytest_modelprov.testing.server import LocalServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FLAGS = ["-p", "no:cacheprovider", "-q"]
CPU_TIMES: list[float] = []  # user + system CPU of each pytest run, in run order


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def with_source(env: dict[str, str], source: Path | None) -> dict[str, str]:
    """``env`` with the plugin imported from ``source`` (another checkout), if given."""
    if source is None:
        return env
    return dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")])))


def run_pytest(target: Path, env: dict[str, str], *extra: str) -> tuple[float, str, int]:
    """Wall time, output and passed count of one pytest run; its CPU goes to CPU_TIMES."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(target), *FLAGS, *extra],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - start
    CPU_TIMES.append(children_cpu() - cpu)
    passed = re.search(r"(\d+) passed", done.stdout)
    if done.returncode != 0 or passed is None:
        tail = "\n".join(done.stdout.splitlines()[-15:])
        raise RuntimeError(f"pytest {target} failed ({done.returncode}):\n{tail}\n{done.stderr}")
    return wall, done.stdout, int(passed.group(1))


#: a pytest plugin (``-p``) writing the names in sys.modules at the end of the run
MODULES_PLUGIN = """
import os
import sys

def pytest_unconfigure(config):
    with open(os.environ["MODELPROV_BENCH_MODULES"], "w", encoding="utf-8") as out:
        out.write("\\n".join(sorted(sys.modules)))
"""


def imported(target: Path, env: dict[str, str], root: Path, *extra: str) -> set[str]:
    """The modules (dotted names) one (untimed) pytest run of ``target`` has imported at
    its end."""
    probe = root / "modules-probe"
    probe.mkdir(exist_ok=True)
    (probe / "modelprov_bench_modules.py").write_text(MODULES_PLUGIN, encoding="utf-8")
    log = probe / "modules.txt"
    env = dict(
        env,
        MODELPROV_BENCH_MODULES=str(log),
        PYTHONPATH=os.pathsep.join(filter(None, [str(probe), env.get("PYTHONPATH")])),
    )
    run_pytest(target, env, "-p", "modelprov_bench_modules", *extra)
    CPU_TIMES.pop()  # not one of the timed runs
    return set(log.read_text(encoding="utf-8").split())


def third_party(names: set[str]) -> list[str]:
    """The names installed as distributions (site-packages), not the standard library, this
    package or the suite's own test modules."""
    found = []
    for name in sorted(names - set(sys.stdlib_module_names)):
        if name.startswith(("_", "pytest_modelprov")):
            continue
        spec = importlib.util.find_spec(name)
        origin = (spec.origin or "") if spec is not None else ""
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if any("-packages" in p for p in [origin, *locations]):
            found.append(name)
    return found


def base_env(server: LocalServer, cache: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MODELPROV_", "OPENAI_", "PYTEST_"))
        and k not in ("CI", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        # bytecode cached as on a developer's machine, but outside the source tree
        PYTHONPYCACHEPREFIX=str(cache.parent / "pycache"),
        MODELPROV_MODEL="demo-model",
        MODELPROV_BASE_URL=server.url,
        MODELPROV_CACHE_DIR=str(cache),
        MODELPROV_REFERENCES=(
            f"previous-release.model=demo-model-previous;previous-release.base_url={server.url}"
        ),
    )
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (median)")
    parser.add_argument(
        "--before", type=Path, help="source tree of an earlier version to compare with"
    )
    args = parser.parse_args()
    before_src: Path | None = args.before.resolve() if args.before else None
    if before_src is not None and not (before_src / "pytest_modelprov" / "plugin.py").is_file():
        print(f"--before {before_src}: no pytest_modelprov/plugin.py there")
        return 2
    if not (EXAMPLES / "local_script.json").is_file():
        print(f"SKIPPED: no example suite at {EXAMPLES}")
        return 0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    with (
        tempfile.TemporaryDirectory(prefix="modelprov-suite-") as tmp,
        LocalServer(Script.from_file(EXAMPLES / "local_script.json")) as server,
    ):
        root = Path(tmp)
        suite = root / "examples"
        shutil.copytree(EXAMPLES, suite, ignore=shutil.ignore_patterns(".modelprov", "__pycache__"))

        # untimed: fills the bytecode cache (and pytest's rewritten test modules)
        run_pytest(suite, base_env(server, root / "warmup-cache"))
        warmup_calls = server.request_count
        cold: list[float] = []
        cold_cpu = len(CPU_TIMES)
        for i in range(args.runs):
            env = base_env(server, root / f"cold-cache-{i}")
            report = root / f"cold-{i}.json"
            wall, _, tests = run_pytest(
                suite, env, "--modelprov-record-mode=once", f"--modelprov-report-json={report}"
            )
            cold.append(wall)
        cold_models = json.loads(report.read_text())["models"].values()
        calls_per_cold = (server.request_count - warmup_calls) // args.runs
        assert calls_per_cold == sum(m["calls"] for m in cold_models)
        cold_hits = sum(m["hits"] for m in cold_models)

        cold_cpu_times = CPU_TIMES[cold_cpu:]
        warm: list[float] = []
        replayed: list[int] = []
        warm_cpu_times: list[float] = []
        env = base_env(server, root / "cold-cache-0")
        before = server.request_count
        # other kinds of warm run, interleaved with the plain one: (label, env, flags)
        variants: list[tuple[str, dict[str, str], list[str]]] = [
            ("verdict cache off", env, ["--modelprov-verdict-cache=off"])
        ]
        if before_src is not None:
            variants.append(("--before source", with_source(env, before_src), []))
            run_pytest(suite, variants[-1][1], "--modelprov-record-mode=replay")  # its bytecode
        variant_times: dict[str, list[tuple[float, float]]] = {v[0]: [] for v in variants}
        for i in range(args.runs):
            report = root / f"warm-{i}.json"
            wall, _, warm_tests = run_pytest(
                suite, env, "--modelprov-record-mode=replay", f"--modelprov-report-json={report}"
            )
            warm.append(wall)
            warm_cpu_times.append(CPU_TIMES[-1])
            models = json.loads(report.read_text())["models"]
            replayed.append(sum(m["hits"] for m in models.values()))
            assert sum(m["calls"] for m in models.values()) == 0, "the warm run called a model"
            for label, variant_env, flags in variants:
                wall, _, n = run_pytest(
                    suite, variant_env, "--modelprov-record-mode=replay", *flags
                )
                assert n == tests
                variant_times[label].append((wall, CPU_TIMES[-1]))
        warm_requests = server.request_count - before
        assert warm_tests == tests

        empty_dir = root / "empty"
        empty_dir.mkdir()
        (empty_dir / "test_empty.py").write_text(
            "".join(f"def test_{i}():\n    pass\n\n\n" for i in range(tests))
        )
        (empty_dir / "pytest.ini").write_text("[pytest]\n")
        plain = {k: v for k, v in env.items() if not k.startswith("MODELPROV_")}
        run_pytest(empty_dir, plain)  # untimed: its bytecode
        mark = len(CPU_TIMES)
        empty = [run_pytest(empty_dir, plain)[0] for _ in range(args.runs)]
        empty_cpu_times = CPU_TIMES[mark:]
        mark = len(CPU_TIMES)
        bare = [run_pytest(empty_dir, plain, "-p", "no:modelprov")[0] for _ in range(args.runs)]
        bare_cpu_times = CPU_TIMES[mark:]
        # the floor: the same empty tests importing the libraries a warm run imports and
        # the empty tests do not, as found by listing sys.modules at the end of each
        warm_all = imported(suite, env, root, "--modelprov-record-mode=replay")
        empty_all = imported(empty_dir, plain, root)
        warm_modules = {m.split(".")[0] for m in warm_all}
        floor_libs = third_party(warm_modules - {m.split(".")[0] for m in empty_all})
        package_extra = sorted(
            m for m in warm_all - empty_all if m.split(".")[0] == "pytest_modelprov"
        )
        deps_dir = root / "empty-deps"
        shutil.copytree(empty_dir, deps_dir)
        (deps_dir / "conftest.py").write_text(
            "".join(f"import {name}  # noqa: F401\n" for name in floor_libs)
        )
        run_pytest(deps_dir, plain)  # untimed: its bytecode
        deps: list[float] = []
        deps_cpu_times: list[float] = []
        for _ in range(args.runs):
            # interleaved with the empty tests, which the floor is read against
            deps.append(run_pytest(deps_dir, plain)[0])
            deps_cpu_times.append(CPU_TIMES[-1])
            empty.append(run_pytest(empty_dir, plain)[0])
            empty_cpu_times.append(CPU_TIMES[-1])
        empty_before: list[tuple[float, float]] = []
        if before_src is not None:
            plain_before = with_source(plain, before_src)
            run_pytest(empty_dir, plain_before)  # untimed: its bytecode
            for _ in range(args.runs):
                # interleaved with this tree's: the machine's load moves between them alike
                empty_before.append((run_pytest(empty_dir, plain_before)[0], CPU_TIMES[-1]))
                empty_now = run_pytest(empty_dir, plain)[0]
                empty.append(empty_now)
                empty_cpu_times.append(CPU_TIMES[-1])

    c, w, e, b, d = (statistics.median(x) for x in (cold, warm, empty, bare, deps))
    cc, wc, ec, bc, dc = (
        statistics.median(x)
        for x in (cold_cpu_times, warm_cpu_times, empty_cpu_times, bare_cpu_times, deps_cpu_times)
    )
    print(f"example suite: {tests} tests, medians of {args.runs} runs, subprocess, no xdist")
    print("                                   wall     CPU (user+sys of the pytest process)")
    print(f"  warm (replay)                 : {w:6.2f} s {wc:6.2f} s")
    print(f"  empty tests                   : {e:6.2f} s {ec:6.2f} s   (plugin installed, unused)")
    print(f"  empty tests, no plugin        : {b:6.2f} s {bc:6.2f} s   (-p no:modelprov)")
    print(f"  cold (fresh cache, record)    : {c:6.2f} s {cc:6.2f} s   (server answers at once)")
    print(
        f"  warm - empty                  : {w - e:6.2f} s {wc - ec:6.2f} s   "
        f"({(w - e) / tests * 1e3:.0f} ms/test wall, {(wc - ec) / tests * 1e3:.0f} ms/test CPU)"
    )
    print(f"  warm / empty                  : {w / e:6.2f}x  {wc / ec:6.2f}x")
    print(
        f"  floor (empty + imports)       : {d:6.2f} s {dc:6.2f} s   (import "
        f"{', '.join(floor_libs) or 'nothing'}: the libraries the warm run imports beyond "
        "the empty tests)"
    )
    print(f"  floor / empty                 : {d / e:6.2f}x  {dc / ec:6.2f}x")
    print(
        f"  warm / floor                  : {w / d:6.2f}x  {wc / dc:6.2f}x   "
        "(the plugin's own warm work)"
    )
    print(
        f"  cold - warm                   : {c - w:6.2f} s {cc - wc:6.2f} s   (recording "
        f"{calls_per_cold} calls; {cold_hits} repeated keys hit)"
    )
    print(f"  plugin import (empty - bare)  : {e - b:6.2f} s {ec - bc:6.2f} s")
    for label, times in variant_times.items():
        vw = statistics.median(t[0] for t in times)
        vc = statistics.median(t[1] for t in times)
        print(
            f"  warm, {label:<23}: {vw:6.2f} s {vc:6.2f} s   "
            f"(this tree's warm is {vw / w:.2f}x faster wall, {vc / wc:.2f}x CPU; "
            f"{vw / e:.2f}x / {vc / ec:.2f}x empty)"
        )
    if empty_before:
        eb = statistics.median(t[0] for t in empty_before)
        ebc = statistics.median(t[1] for t in empty_before)
        print(
            f"  empty tests, --before plugin  : {eb:6.2f} s {ebc:6.2f} s   "
            f"(plugin import then {eb - b:.2f} s / {ebc - bc:.2f} s CPU)"
        )
    print(f"  model calls replayed warm     : {statistics.median(replayed):.0f} per run")
    shown = [
        m for m in ("numpy", "jsonschema", "diskcache", "openai", "httpx") if m in warm_modules
    ]
    print(
        f"  warm run imported             : {', '.join(shown)} (of numpy, jsonschema, "
        "diskcache, openai, httpx)"
    )
    print(
        f"  package modules warm imported : {len(package_extra)} beyond the empty tests' "
        f"({', '.join(m.removeprefix('pytest_modelprov.') for m in package_extra)})"
    )
    print(f"  requests the server got warm  : {warm_requests}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
