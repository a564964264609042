"""The ``modelprov`` command: manage the response cache, explain keys, run the local server,
render the HTML report and compare saved fingerprints."""

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

from .cache import CacheEntry, ResponseCache
from .client import plan_calls
from .config import DEFAULT_CACHE_DIR, ModelSpec, parse_json_value
from .errors import CacheCorruptError, ModelprovError
from .response import Usage
from .safejson import loads as json_loads


def _cache_dir(args: argparse.Namespace) -> Path:
    return Path(args.cache_dir or os.environ.get("MODELPROV_CACHE_DIR") or DEFAULT_CACHE_DIR)


def _open(args: argparse.Namespace, *, must_exist: bool = True) -> ResponseCache:
    directory = _cache_dir(args)
    if must_exist and not directory.is_dir():
        raise ModelprovError(
            f"modelprov: no cache at {directory}. Pass --cache-dir DIR or set "
            "MODELPROV_CACHE_DIR to the directory your tests use."
        )
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
    print(f"cache: {cache.directory}")
    print(f"entries: {sum(per_model.values())}" + (f" ({corrupt} unreadable)" if corrupt else ""))
    for label, count in sorted(per_model.items()):
        snaps = ", ".join(f"{k} ({v})" for k, v in sorted(resolved[label].items()))
        print(f"  {label}: {count} answers, {tokens[label]:,} tokens; snapshots: {snaps}")
    return 1 if corrupt else 0


def cmd_export(args: argparse.Namespace) -> int:
    count, unreadable = _open(args).export(Path(args.file), model=args.model)
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
    print(
        f"imported into {_cache_dir(args)}: {result.added} added, {result.identical} already "
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
    print(f"deleted {removed} entries from {cache.directory}")
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
    prompt: Any = json_loads(args.messages) if args.messages else args.prompt
    params = dict(_assignment(p) for p in args.param or [])
    calls = plan_calls(spec, prompt, args.replicate + 1, params)
    key = calls[args.replicate].key
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
    data = jsonreport.load(source)
    htmlreport.write_html(data, target)
    print(f"wrote {target} ({len(data['measurements'])} measurements)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Print the pairwise distances between saved fingerprints and the tree they form."""
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
    try:
        matrix = distance_matrix(fps, args.method)
    except ValueError as exc:
        raise ModelprovError(f"modelprov compare: {exc}") from None
    width = max(max(len(n) for n in names), 6)
    print(f"{args.method} distance (0 = same profile, 1 = nothing in common)")
    print(" " * width + "".join(f"  {n[:8]:>8}" for n in names))
    for name, row in zip(names, matrix, strict=True):
        print(f"{name:<{width}}" + "".join(f"  {x:8.3f}" for x in row))
    if len(parts) > 1:
        print(f"note: the files fingerprint different parts ({', '.join(sorted(parts))})")
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

    classifier = Classifier.load(args.weights) if args.weights else None
    agreement = evaluate(args.labels, classifier)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelprov", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    cache = commands.add_parser("cache", help="manage the response cache")
    cache_cmds = cache.add_subparsers(dest="cache_command", required=True)

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        sub = cache_cmds.add_parser(name, help=help)
        sub.add_argument(
            "--cache-dir",
            help=f"cache directory (default: $MODELPROV_CACHE_DIR, else {DEFAULT_CACHE_DIR})",
        )
        sub.set_defaults(func=func)
        return sub

    add("stats", cmd_stats, "entries per model, tokens and resolved snapshots")
    export = add("export", cmd_export, "write the cache as a portable JSON Lines file")
    export.add_argument("file")
    export.add_argument("--model", help="only entries of this model id")
    imp = add("import", cmd_import, "add the entries of an export file (validated first)")
    imp.add_argument("file")
    imp.add_argument(
        "--overwrite", action="store_true", help="replace differing entries already present"
    )
    clear = add("clear", cmd_clear, "delete entries")
    clear.add_argument("--model", help="only entries of this model id")
    clear.add_argument("--yes", action="store_true", help="do not ask")
    show = add("show", cmd_show, "print one entry, by key or key prefix")
    show.add_argument("key")
    key = add("key", cmd_key, "print what goes into the cache key of a call")
    key.add_argument("--model", required=True)
    key.add_argument("--base-url", default="https://api.openai.com/v1")
    key.add_argument("--endpoint-id")
    what = key.add_mutually_exclusive_group(required=True)
    what.add_argument("--prompt", help="a user prompt")
    what.add_argument("--messages", help="a JSON list of messages")
    key.add_argument("--param", action="append", help="KEY=VALUE (JSON value), repeatable")
    key.add_argument("--replicate", type=int, default=0)

    serve = commands.add_parser("serve", help="run the local OpenAI-compatible server")
    serve.add_argument("--script", help="JSON script of answers (see the README)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--latency", type=float, default=0.0)
    serve.set_defaults(func=cmd_serve)

    report = commands.add_parser(
        "report", help="render the HTML report of a JSON report (--modelprov-report-json)"
    )
    report.add_argument("report", help="the JSON report of a run")
    report.add_argument(
        "-o", "--output", help="HTML file to write (default: the report's name with .html)"
    )
    report.set_defaults(func=cmd_report)

    compare = commands.add_parser(
        "compare", help="distances and tree between saved lexical fingerprints"
    )
    compare.add_argument(
        "fingerprints", nargs="+", help="fingerprint JSON files (Fingerprint.save)"
    )
    compare.add_argument(
        "--method",
        choices=["profile", "jaccard", "style"],
        default="profile",
        help="distance: profile (default), jaccard (published slop-profile measure), or style "
        "(pooled; needs 3+ fingerprints of the same prompts)",
    )
    compare.add_argument("--names", help="comma-separated names, one per file, in order")
    compare.add_argument(
        "--all-nearest",
        action="store_true",
        help="print the nearest of every file, not only the first",
    )
    compare.add_argument("--width", type=int, default=40, help="width of the tree drawing")
    compare.add_argument("--ascii", action="store_true", help="draw the tree with ASCII only")
    compare.set_defaults(func=cmd_compare)

    evaluate = commands.add_parser(
        "refusal-eval", help="check a refusal classifier against your labelled answers"
    )
    evaluate.add_argument("labels", help="JSON Lines of labelled answers (refusal.fit format)")
    evaluate.add_argument("--weights", help="weights from refusal.fit (default: the shipped)")
    evaluate.add_argument(
        "--max-rate-error",
        type=float,
        help="exit 1 when a group's rate error is significantly this large (e.g. 0.05)",
    )
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
