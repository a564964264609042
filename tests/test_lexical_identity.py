"""The lexical detector's identity covers all of its code, also the modules a replaying run
never imports, and a replaying run imports none of the counting and distance code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pytest_modelprov.calls import sources
from pytest_modelprov.lexical import replay

#: the modules that count and compare (what a replayed comparison must not load)
COUNTING = ("text", "counting", "distances", "deltaterms", "anchor")


def test_a_replaying_process_loads_no_counting_code_yet_its_identity_digests_it() -> None:
    code = (
        "import json, sys\n"
        "from pytest_modelprov import lexical\n"
        "from pytest_modelprov.lexical import baseline, checks, fingerprints, replay\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('pytest_modelprov.lexical.'))\n"
        "files = [p.name for p in replay.code_files()]\n"
        "identity = replay.identity()\n"
        "names = {n: type(getattr(lexical, n)).__name__ for n in lexical.__all__}\n"
        "from pytest_modelprov.lexical import distances, record, text\n"
        "home = {'Interval': distances.Interval, 'LexicalWarning': distances.LexicalWarning,\n"
        "        'FEW_SHARED': distances.FEW_SHARED, 'UNITS': distances.UNITS,\n"
        "        'tokenise': text.tokenise, 'distance': checks.distance,\n"
        "        'Fingerprint': fingerprints.Fingerprint, 'DETECTOR': record.DETECTOR,\n"
        "        'style_matrix': distances.style_matrix}\n"
        "same = [n for n, v in home.items() if getattr(lexical, n) is not v]\n"
        "print(json.dumps({'loaded': loaded, 'files': files, 'identity': identity,\n"
        "    'names': names, 'same': same, 'dir': sorted(set(lexical.__all__) - set(dir(lexical))),\n"
        "    'identity_after': replay.identity()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(done.stdout)
    loaded = {m.rpartition(".")[2] for m in found["loaded"]}
    assert not loaded & set(COUNTING), found["loaded"]
    assert {f"{name}.py" for name in COUNTING} <= set(found["files"])
    # known before the counting code is loaded, and the same once it is
    assert found["identity"] is not None
    assert found["identity"] == found["identity_after"]
    # the public API as when the package imported every submodule
    assert len(found["names"]) == len(set(found["names"])) > 30
    assert found["same"] == [] and found["dir"] == []


def test_the_identity_reads_every_module_the_lexical_code_imports() -> None:
    """:data:`replay.OUTSIDE` is exactly what the lexical modules import from the rest of
    the package (read off their import statements), and the identity digests at least the
    files the identity followed through the imported modules' globals before it was read
    without importing them."""
    own = sorted(p.stem for p in replay.FOLDER.glob("*.py"))
    # sampling (checks: the model handle) and the baseline store (baseline) are not followed
    shallow = ("pytest_modelprov.lexical.checks", "pytest_modelprov.lexical.baseline")
    roots = [
        f"pytest_modelprov.lexical.{name}"
        for name in own
        if name != "__init__" and f"pytest_modelprov.lexical.{name}" not in shallow
    ]
    static = sources.code_files(roots, shallow)
    assert static is not None
    package = replay.FOLDER.parent
    outside = {
        ".".join(("pytest_modelprov", *p.relative_to(package).with_suffix("").parts))
        for p in static
        if p.parent != replay.FOLDER
    }
    # calls.sources: the reader of the files, imported when a listed module is not loaded
    assert outside - {"pytest_modelprov.calls.sources"} == set(replay.OUTSIDE)

    files = replay.code_files()
    assert files is not None
    digested = {p.resolve() for p in files}
    assert {p.resolve() for p in static} - {Path(sources.__file__).resolve()} <= digested
    # what the identity digested when it followed the globals of the imported modules (in a
    # process of its own: inside a pytest run, the running test's recorder is a global of
    # reports.recording, and the globals lead from it to the whole plugin)
    code = (
        "import json, sys\n"
        "from pytest_modelprov.calls import verdicts\n"
        f"roots, shallow = {roots!r}, {list(shallow)!r}\n"
        "for name in roots + shallow:\n"
        "    __import__(name)\n"
        "print(json.dumps([str(p) for p in verdicts.code_files(*roots, shallow=shallow)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    followed = {Path(p).resolve() for p in json.loads(done.stdout)}
    assert len(followed) > 15
    assert followed - {Path(sources.__file__).resolve()} <= digested
