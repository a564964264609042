"""The modelprov command: manage the response cache, explain cache keys, run the local
server, render the HTML report, compare saved fingerprints and check a refusal classifier."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .cache import CacheEntry, ResponseCache
from .client import plan_calls
from .config import DEFAULT_CACHE_DIR, ModelSpec, parse_json_value, validate_params
from .errors import CacheCorruptError, ModelprovError
from .response import Usage
from .safejson import loads as json_loads
from .verdicts import VerdictStore


def pytest_setup(
    rootdir: str | None, config_file: str | None, cwd: Path | None = None
) -> tuple[Path, Path | None, dict[str, Any]]:
    """The rootdir, ini file and ini values pytest would use when started in ``cwd``.

    pytest's own function, so the answer is pytest's; its signature changed between
    pytest 8 and 9, hence only the parameters it takes are passed.
    """
    import inspect

    from _pytest.config.findpaths import determine_setup

    here = cwd or Path.cwd()
    wanted: dict[str, Any] = {
        "inifile": config_file,
        "override_ini": None,
        "args": [],
        "rootdir_cmd_arg": rootdir,
        "invocation_dir": here,
    }
    accepted = inspect.signature(determine_setup).parameters
    try:
        found = determine_setup(**{k: v for k, v in wanted.items() if k in accepted})
    except Exception as exc:  # pytest.UsageError: a missing -c file or --rootdir
        raise ModelprovError(f"modelprov: {exc}") from None
    root, inipath, values = found[0], found[1], found[2]
    # pytest 9 wraps each value (ConfigValue); pytest 8 gives the plain value
    plain = {str(k): getattr(v, "value", v) for k, v in dict(values).items()}
    return Path(root), Path(inipath) if inipath else None, plain


def find_cache(args: argparse.Namespace) -> tuple[Path, str]:
    """The cache directory the plugin would use, and how it was found.

    The plugin's precedence: --cache-dir (this command's), MODELPROV_CACHE_DIR, the ini
    key modelprov_cache_dir, then .modelprov/cache; relative paths from the environment
    and ini are taken from pytest's rootdir, as the plugin takes them.
    """
    if getattr(args, "cache_dir", None):
        return Path(args.cache_dir).expanduser(), "from --cache-dir"
    rootdir, inipath, ini = pytest_setup(
        getattr(args, "rootdir", None), getattr(args, "config_file", None)
    )
    where = f"rootdir {rootdir}" + (f", ini file {inipath}" if inipath else ", no ini file")
    env = os.environ.get("MODELPROV_CACHE_DIR")
    if env:
        path, how = Path(env).expanduser(), "from MODELPROV_CACHE_DIR"
    elif ini.get("modelprov_cache_dir"):
        path, how = (
            Path(str(ini["modelprov_cache_dir"]).strip()).expanduser(),
            ("from the ini key modelprov_cache_dir"),
        )
    else:
        path, how = Path(DEFAULT_CACHE_DIR), "the default"
    return (path if path.is_absolute() else rootdir / path), f"{how}; {where}"


def _open(args: argparse.Namespace, *, must_exist: bool = True) -> ResponseCache:
    directory, how = find_cache(args)
    if must_exist and not directory.is_dir():
        raise ModelprovError(
            f"modelprov: no cache at {directory} ({how}). Run the command where you run "
            "pytest (or give it pytest's --rootdir / -c), or pass --cache-dir DIR."
        )
    # stderr: stdout stays the command's data (--json)
    print(f"modelprov: cache {directory} ({how})", file=sys.stderr)
    return ResponseCache(directory)


def cmd_stats(args: argparse.Namespace) -> int:
    cache = _open(args)
    per_model: Counter[str] = Counter()
    resolved: dict[str, Counter[str]] = {}
    tokens: Counter[str] = Counter()
    corrupt = 0
    for _, entry in cache.entries():
        if not isinstance(entry, CacheEntry):
            corrupt += 1
            continue
        label = f"{entry.request['model']} @ {entry.request['endpoint']}"
        per_model[label] += 1
        resolved.setdefault(label, Counter())[entry.resolved_model or "?"] += 1
        # whole numbers only: a stored usage may hold anything (NaN, text) if edited
        tokens[label] += Usage.from_body(entry.usage).total_tokens
    if args.json:
        _print_json(
            {
                "cache": str(cache.directory),
                "entries": sum(per_model.values()),
                "unreadable": corrupt,
                "models": [
                    {
                        "model": label.partition(" @ ")[0],
                        "endpoint": label.partition(" @ ")[2],
                        "answers": count,
                        "tokens": tokens[label],
                        "snapshots": dict(sorted(resolved[label].items())),
                    }
                    for label, count in sorted(per_model.items())
                ],
            }
        )
        return 1 if corrupt else 0
    print(f"cache: {cache.directory}")
    print(f"entries: {sum(per_model.values())}" + (f" ({corrupt} unreadable)" if corrupt else ""))
    for label, count in sorted(per_model.items()):
        snaps = ", ".join(f"{k} ({v})" for k, v in sorted(resolved[label].items()))
        print(f"  {label}: {count} answers, {tokens[label]:,} tokens; snapshots: {snaps}")
    return 1 if corrupt else 0


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def cmd_export(args: argparse.Namespace) -> int:
    count, unreadable = _open(args).export(Path(args.file), model=args.model)
    if args.json:
        _print_json({"file": args.file, "exported": count, "unreadable": list(unreadable)})
        return 1 if unreadable else 0
    print(f"exported {count} entries to {args.file}")
    if unreadable:
        print(
            f"left out {len(unreadable)} unreadable entries (see `modelprov cache show KEY`): "
            + ", ".join(k[:16] for k in unreadable[:10]),
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    result = _open(args, must_exist=False).import_(Path(args.file), overwrite=args.overwrite)
    if args.json:
        _print_json(
            {
                "cache": str(find_cache(args)[0]),
                "added": result.added,
                "identical": result.identical,
                "replaced": result.replaced,
                "kept": result.kept,
            }
        )
        return 0
    print(
        f"imported into {find_cache(args)[0]}: {result.added} added, {result.identical} already "
        f"present, {result.replaced} replaced, {result.kept} differing entries kept"
        + (" (pass --overwrite to replace them)" if result.kept else "")
    )
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    cache = _open(args)
    what = f"entries of model {args.model!r}" if args.model else "all entries"
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"refusing to delete {what} in {cache.directory} without --yes", file=sys.stderr)
            return 2
        answer = input(f"delete {what} in {cache.directory}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    removed = cache.clear(args.model)
    verdicts = 0
    if not args.model:  # verdicts are not filed by model; all of them go with all entries
        store = VerdictStore(cache.directory)
        verdicts = store.clear()
        store.close()
    if args.json:
        _print_json({"cache": str(cache.directory), "deleted": removed, "verdicts": verdicts})
        return 0
    also = f" and {verdicts} cached detector verdicts" if verdicts else ""
    print(f"deleted {removed} entries{also} from {cache.directory}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    cache = _open(args)
    matches = [k for k in cache.digests() if k.startswith(args.key)]
    if len(matches) != 1:
        print(
            f"{len(matches)} entries match {args.key!r}; give more of the key",
            file=sys.stderr,
        )
        return 2
    try:
        entry = cache.get(matches[0])
    except CacheCorruptError as exc:
        print(str(exc), file=sys.stderr)
        print(repr(cache.raw(matches[0])))  # what is stored, for a human to judge
        return 1
    assert entry is not None
    print(json.dumps(entry.to_dict(), indent=2, ensure_ascii=False))
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    """Print the key components and digest a call would use (to debug unexpected misses)."""
    spec = ModelSpec(
        name="cli", model=args.model, base_url=args.base_url, endpoint_id=args.endpoint_id
    )
    try:
        prompt: Any = json_loads(args.messages) if args.messages else args.prompt
    except ValueError as exc:
        raise ModelprovError(f"modelprov: --messages is not JSON ({exc})") from None
    if args.replicate < 0:
        raise ModelprovError(f"modelprov: --replicate must be 0 or more, got {args.replicate}")
    params = validate_params(dict(_assignment(p) for p in args.param or []), "--param")
    calls = plan_calls(spec, prompt, args.replicate + 1, params)
    key = calls[args.replicate].key
    if args.json:
        _print_json({"components": key.components, "key": key.digest})
        return 0
    print(json.dumps(key.components, indent=2, ensure_ascii=False, sort_keys=True))
    print(key.digest)
    return 0


def _assignment(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep:
        raise ModelprovError(f"modelprov: --param {text!r} is not KEY=VALUE")
    return key.strip(), parse_json_value(value)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import main as serve_main

    argv = ["--port", str(args.port)]
    if args.script:
        argv += ["--script", args.script]
    if args.latency:
        argv += ["--latency", str(args.latency)]
    return serve_main(argv)


def cmd_report(args: argparse.Namespace) -> int:
    """Render the HTML report of a JSON report (``--modelprov-report-json``)."""
    from . import htmlreport, jsonreport

    source = Path(args.report)
    target = Path(args.output) if args.output else source.with_suffix(".html")
    if target.resolve() == source.resolve():
        raise ModelprovError(f"modelprov report: the output {target} would overwrite the report")
    _expect_json_report(source)
    data = jsonreport.load(source)
    htmlreport.write_html(data, target)
    print(f"wrote {target} ({len(data['measurements'])} measurements)")
    return 0


def _same_params(fps: Sequence[Any], names: Sequence[str], allow: bool) -> None:
    """Fingerprints sampled with different generation parameters are not comparable."""
    from .comparable import describe, differences

    first = next((i for i, fp in enumerate(fps) if fp.params is not None), None)
    if first is None or allow:
        return
    odd = [i for i, fp in enumerate(fps) if differences(fps[first].params, fp.params)]
    if odd:
        shown = "\n".join(f"  {names[i]}: {describe(fps[i].params)}" for i in sorted({first, *odd}))
        raise ModelprovError(
            "modelprov compare: the fingerprints were sampled with different generation "
            f"parameters, so their distances are not comparable:\n{shown}\n"
            "Sample them alike, or pass --allow-param-difference if the difference is intended."
        )


def _expect_json_report(path: Path) -> None:
    """A readable error for a file of another kind (a JUnit XML, an HTML report)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise ModelprovError(f"modelprov report: cannot read {path}: {exc.strerror}") from None
    if head.startswith(b"{"):
        return
    kind = "an empty file"
    if head.startswith(b"<"):
        lower = head.lower()
        kind = (
            "XML (a JUnit file?)" if b"<testsuite" in lower or b"<?xml" in lower else "HTML or XML"
        )
    elif head:
        kind = "not JSON"
    raise ModelprovError(
        f"modelprov report: {path} is {kind}, not a JSON report. Give it the file written by "
        "pytest --modelprov-report-json FILE"
    )


def cmd_compare(args: argparse.Namespace) -> int:
    """Print the pairwise distances between saved fingerprints and the tree they form."""
    from . import lexical_anchor, lexical_distance
    from .cluster import upgma
    from .lexical_distance import distance_matrix
    from .lexical_fingerprint import Fingerprint

    if len(args.fingerprints) < 2:
        raise ModelprovError("modelprov compare: give at least two fingerprint files")
    fps = [Fingerprint.load(path) for path in args.fingerprints]
    if args.names is not None:
        names = [n.strip() for n in args.names.split(",")]
        if len(names) != len(fps) or not all(names):
            raise ModelprovError(
                f"modelprov compare: --names gives {len(names)} names for {len(fps)} "
                "fingerprint files; give one non-empty name per file, comma-separated"
            )
    else:
        names = [fp.label for fp in fps]
    if len(set(names)) != len(names):
        # two files of one model (e.g. two releases): the file names tell them apart
        stems = [f"{n} ({Path(p).stem})" for n, p in zip(names, args.fingerprints, strict=True)]
        unique = len(set(stems)) == len(stems)
        names = stems if unique else [f"{n} #{i}" for i, n in enumerate(names, start=1)]
    parts = {fp.part for fp in fps}
    _same_params(fps, names, args.allow_param_difference)
    try:
        matrix = distance_matrix(fps, args.method, args.unit)
    except ValueError as exc:
        raise ModelprovError(f"modelprov compare: {exc}") from None
    if args.json:
        _print_json(
            {
                "method": args.method,
                "unit": args.unit if args.method == "delta" else None,
                "names": names,
                "files": list(args.fingerprints),
                "parts": [fp.part for fp in fps],
                "params": [fp.params for fp in fps],
                "distances": [[float(x) for x in row] for row in matrix],
                "nearest": {
                    name: names[
                        min(
                            (j for j in range(len(names)) if j != i),
                            key=lambda j, i=i: matrix[i, j],  # type: ignore[misc]
                        )
                    ]
                    for i, name in enumerate(names)
                },
            }
        )
        return 0
    width = max(max(len(n) for n in names), 6)
    zero = "no difference beyond sampling noise" if args.method == "delta" else "same profile"
    if args.method == "delta" and args.unit == "frequency":
        # uncapped: unrelated vendors measured 0.31-0.98, a threshold of 0.17 (README)
        print(f"delta distance in frequency units (0 = {zero}; not capped at 1)")
    else:
        scale = " in spread units" if args.method == "delta" else ""
        print(f"{args.method} distance{scale} (0 = {zero}, 1 = nothing in common)")
    print(" " * width + "".join(f"  {n[:8]:>8}" for n in names))
    for name, row in zip(names, matrix, strict=True):
        print(f"{name:<{width}}" + "".join(f"  {x:8.3f}" for x in row))
    if len(parts) > 1:
        print(f"note: the files fingerprint different parts ({', '.join(sorted(parts))})")
    if args.method == "jaccard":
        print(f"note: {lexical_anchor.SCALES[lexical_anchor.scale()]}")
    few = [
        f"{names[i]}/{names[j]}"
        for i in range(len(fps))
        for j in range(i + 1, len(fps))
        if lexical_distance.few_shared(fps[i], fps[j]) and args.method != "style"
    ]
    if few and args.method == "delta" and args.unit == "frequency":
        print(
            f"note: unvalidated: {', '.join(few)} share few prompts; the frequency unit was "
            "calibrated only on fingerprints of the same prompts (README: Thresholds)"
        )
    elif few and args.method == "delta":
        print(
            f"note: across-prompt-sets: {', '.join(few)} share few prompts; delta was validated "
            "across prompt sets on stories and is weaker on essays (README: Thresholds)"
        )
    elif few:
        print(
            f"note: few-shared-prompts: {', '.join(few)} share too few prompts for a "
            f"{args.method} distance to compare style rather than topic; use --method delta"
        )
    outside = [
        n for n, fp in zip(names, fps, strict=True) if lexical_distance.outside_calibration(fp, fp)
    ]
    if outside and args.method == "delta" and args.unit == "frequency":
        print(
            f"note: outside-calibration: {', '.join(outside)} have more answers or a different "
            "length per prompt than the frequency unit was calibrated on (one answer, ~780-1450 "
            "words per prompt; more text raises the figure)"
        )
    for i, name in enumerate(names):
        others = [j for j in range(len(names)) if j != i]
        nearest = min(others, key=lambda j: matrix[i, j])
        if i == 0 or args.all_nearest:
            print(f"nearest to {name}: {names[nearest]} ({matrix[i, nearest]:.3f})")
    print()
    print("average-linkage tree (UPGMA):")
    print(upgma(matrix, names).ascii(args.width, unicode=not args.ascii))
    return 0


def cmd_refusal_eval(args: argparse.Namespace) -> int:
    """Agreement of a refusal classifier with labelled answers, per group (model)."""
    from .refusal import Classifier
    from .refusal_eval import assert_agrees, evaluate

    # paths typed in a shell are the working directory's (in code they are the file's)
    classifier = Classifier.load(Path(args.weights).absolute()) if args.weights else None
    if args.envelope:
        chosen = classifier or Classifier.default()
        if args.json:
            _print_json({"classifier": chosen.detector, **chosen.envelope.to_dict()})
            return 0
        return _print_envelope(chosen)
    if args.labels is None:
        print("modelprov refusal-eval: give a LABELS file, or --envelope", file=sys.stderr)
        return 2
    agreement = evaluate(Path(args.labels).absolute(), classifier)
    if args.json:
        verdict: str | None = None
        if args.max_rate_error is not None:
            try:
                assert_agrees(agreement, args.max_rate_error)
                verdict = "pass"
            except AssertionError:
                verdict = "fail"
        _print_json(
            {
                "classifier": agreement.classifier,
                "source": agreement.source,
                "confidence": agreement.confidence,
                "max_rate_error": args.max_rate_error,
                "verdict": verdict,
                "groups": [_group_json(g) for g in (*agreement.groups, agreement.overall)],
            }
        )
        return 1 if verdict == "fail" else 0
    print(f"classifier {agreement.classifier} on {agreement.source}")
    print("non-compliance (refusal + evasion) rates; error = estimated - labelled")
    print(agreement.table())
    if args.max_rate_error is None:
        return 0
    try:
        assert_agrees(agreement, args.max_rate_error)
    except AssertionError as exc:
        print(exc)
        return 1
    print(f"no group's error is significantly {args.max_rate_error:g} or more")
    return 0


def _num(info: Any, key: str) -> str:
    value = info.get(key)
    return "-" if value is None else f"{value:.3f}"


def _print_envelope(classifier: Any) -> int:
    """Where the classifier was validated, language by language, scored on held-out models."""
    env = classifier.envelope
    print(f"classifier {classifier.detector}: validated for {', '.join(env.validated) or 'none'}")
    if env.held_out:
        print(f"figures scored on {env.held_out}")
    print(
        f"{'lang':6} {'validated':>9} {'accuracy':>8} {'answers':>7} {'models':>6} "
        f"{'max err':>7} {'median':>6}  sources"
    )
    for lang, info in sorted(env.langs.items()):
        print(
            f"{lang:6} {'yes' if info.get('validated') else 'no':>9} "
            f"{_num(info, 'accuracy'):>8} {info.get('answers', 0):7d} "
            f"{info.get('models', 0):6d} {_num(info, 'max_rate_error'):>7} "
            f"{_num(info, 'median_rate_error'):>6}  {', '.join(info.get('sources', []))}"
        )
    print("outside these languages refusal.measure fails unless audited (audit=...) or marked")
    return 0


def _json_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout (for scripts)"
    )


def _cache_location_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="the cache directory; default: the one pytest's plugin uses when started here "
        "(MODELPROV_CACHE_DIR, else the ini key modelprov_cache_dir, else "
        f"{DEFAULT_CACHE_DIR}, relative to pytest's rootdir)",
    )
    sub.add_argument(
        "--rootdir",
        metavar="DIR",
        help="pytest's --rootdir, when the tests are run with one",
    )
    sub.add_argument(
        "-c",
        "--config-file",
        metavar="FILE",
        help="pytest's -c/--config-file, when the tests are run with one",
    )


def _rate_json(rate: Any) -> dict[str, Any]:
    return {"k": rate.k, "n": rate.n, "value": rate.value, "low": rate.low, "high": rate.high}


def _group_json(g: Any) -> dict[str, Any]:
    return {
        "group": g.group,
        "n": g.n,
        "labelled": _rate_json(g.labelled),
        "estimated": _rate_json(g.estimated),
        "error": g.error,
        "error_low": g.error_low,
        "error_high": g.error_high,
        "p": g.p,
        "accuracy": _rate_json(g.accuracy),
        "false_positives": g.table[1],
        "false_negatives": g.table[2],
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelprov", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"modelprov (pytest-modelprov) {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cache = commands.add_parser(
        "cache",
        help="manage the response cache",
        description="Manage the response cache pytest's plugin uses (found as the plugin "
        "finds it when pytest is started in the current directory).",
    )
    cache_cmds = cache.add_subparsers(dest="cache_command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        sub = cache_cmds.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        if name != "key":
            _cache_location_options(sub)
        _json_option(sub)
        sub.set_defaults(func=func)
        return sub

    add("stats", cmd_stats, "entries per model, tokens and resolved snapshots")
    export = add("export", cmd_export, "write the cache as a portable JSON Lines file")
    export.add_argument("file", help="the JSON Lines file to write")
    export.add_argument("--model", metavar="ID", help="only entries of this model id")
    imp = add("import", cmd_import, "add the entries of an export file (validated first)")
    imp.add_argument("file", help="a file written by modelprov cache export")
    imp.add_argument(
        "--overwrite", action="store_true", help="replace differing entries already present"
    )
    clear = add("clear", cmd_clear, "delete entries")
    clear.add_argument("--model", metavar="ID", help="only entries of this model id")
    clear.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    show = add("show", cmd_show, "print one entry, by key or key prefix")
    show.add_argument("key", help="the entry's key, or enough of its start to be unique")
    key = add("key", cmd_key, "print what goes into the cache key of a call")
    key.add_argument("--model", required=True, metavar="ID", help="the requested model id")
    key.add_argument(
        "--base-url",
        default="https://api.openai.com/v1",
        metavar="URL",
        help="the endpoint's base URL (default https://api.openai.com/v1)",
    )
    key.add_argument("--endpoint-id", metavar="ID", help="the endpoint id, if the tests set one")
    what = key.add_mutually_exclusive_group(required=True)
    what.add_argument("--prompt", metavar="TEXT", help="a user prompt")
    what.add_argument("--messages", metavar="JSON", help="a JSON list of messages")
    key.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a generation parameter, VALUE in JSON (repeatable), as in --modelprov-param",
    )
    key.add_argument(
        "--replicate",
        type=int,
        default=0,
        metavar="I",
        help="which sample of the prompt, from 0 (default 0)",
    )

    serve = commands.add_parser(
        "serve",
        help="run the local OpenAI-compatible server",
        description="Serve scripted OpenAI-compatible chat completions on 127.0.0.1 until "
        "Ctrl-C; prints the base URL.",
    )
    serve.add_argument(
        "--script", metavar="FILE", help="JSON script of answers (schema: server_script)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="TCP port; 0 picks a free one (default 8000)"
    )
    serve.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds to wait before each answer (default 0)",
    )
    serve.set_defaults(func=cmd_serve)

    report = commands.add_parser(
        "report",
        help="render the HTML report of a JSON report (--modelprov-report-json)",
        description="Render the HTML report of a JSON report written by pytest "
        "--modelprov-report-json FILE.",
    )
    report.add_argument("report", help="the JSON report of a run")
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="HTML file to write (default: the report's name with .html)",
    )
    report.set_defaults(func=cmd_report)

    compare = commands.add_parser(
        "compare",
        help="distances and tree between saved lexical fingerprints",
        description="Pairwise distances between saved lexical fingerprints "
        "(Fingerprint.save) and the average-linkage tree they form.",
    )
    compare.add_argument(
        "fingerprints", nargs="+", help="fingerprint JSON files (Fingerprint.save)"
    )
    compare.add_argument(
        "--method",
        choices=["delta", "profile", "jaccard", "style"],
        default="delta",
        help="distance: delta (default; compares across prompt sets), profile, jaccard "
        "(slop-profile measure; the published scale with the wordfreq extra), or style "
        "(pooled; needs 3+ fingerprints of the same prompts)",
    )
    compare.add_argument(
        "--unit",
        choices=["spread", "frequency"],
        default="spread",
        help="unit of the delta distance: spread (default) or frequency (the scale of the "
        "README's 0.17 threshold, calibrated on fingerprints of the same prompts)",
    )
    compare.add_argument(
        "--names", metavar="A,B,...", help="comma-separated names, one per file, in order"
    )
    compare.add_argument(
        "--all-nearest",
        action="store_true",
        help="print the nearest of every file, not only the first",
    )
    compare.add_argument(
        "--width", type=int, default=40, metavar="N", help="width of the tree drawing"
    )
    compare.add_argument("--ascii", action="store_true", help="draw the tree with ASCII only")
    compare.add_argument(
        "--allow-param-difference",
        action="store_true",
        help="compare fingerprints sampled with different generation parameters",
    )
    _json_option(compare)
    compare.set_defaults(func=cmd_compare)

    evaluate = commands.add_parser(
        "refusal-eval",
        help="check a refusal classifier against your labelled answers",
        description="Compare a refusal classifier's non-compliance rate with your labels, "
        "per model.",
    )
    evaluate.add_argument(
        "labels", nargs="?", help="JSON Lines of labelled answers (refusal.fit format)"
    )
    evaluate.add_argument(
        "--envelope",
        action="store_true",
        help="print where the classifier was validated, per language, and exit",
    )
    evaluate.add_argument(
        "--weights", metavar="FILE", help="weights from refusal.fit (default: the shipped)"
    )
    evaluate.add_argument(
        "--max-rate-error",
        type=float,
        metavar="E",
        help="exit 1 when a group's rate error is significantly this large (e.g. 0.05)",
    )
    _json_option(evaluate)
    evaluate.set_defaults(func=cmd_refusal_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = _exit_on_sigterm()
    try:
        result: int = args.func(args)
    except (ModelprovError, OSError) as exc:
        print(f"modelprov: {exc}" if isinstance(exc, OSError) else str(exc), file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return result


def _exit_on_sigterm() -> Any:
    """SIGTERM as SystemExit while a command runs: an export removes its temporary file.

    (SIGKILL cannot be caught; the next export removes what a killed one left.)
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, stop)


if __name__ == "__main__":
    raise SystemExit(main())
