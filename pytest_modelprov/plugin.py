"""The pytest plugin: options, markers, fixtures and hooks.

Hooks only delegate to the ModelProvSession stored on the config; nothing here holds
state of its own.

Over 800 lines: pytest finds the hooks and fixtures by their names in the one module the
``pytest11`` entry point names, so all of them are here; what they do is in ``session``,
``config``, ``calls`` and ``reports``.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _pytest.pathlib import bestrelpath

from . import comparable
from ._version import __version__
from .baseline import PROPERTY as BASELINE_PROPERTY
from .baseline import Baseline, BaselineEvent, Options, Store, find_unused
from .calls.planning import Planner
from .calls.progress import CallProgress, ProgressLine
from .calls.verdicts import FILE_NAME
from .calls.watchdog import watch_parent
from .config import (
    ENV_NAMES,
    INI_NAMES,
    OPTIONS,
    Inconclusive,
    ModelSpec,
    Option,
    Progress,
    Settings,
    Sources,
    Unconfigured,
    UnusedBaselines,
    resolve,
    resolve_references,
    shadowed,
)
from .drift import Rule, parse_rules
from .errors import ConfigError, UnusedSettingWarning
from .handle import ModelHandle
from .reports import jsonreport, recording
from .reports.measurement import PROPERTY, Measurement, format_value, property_text, safe_text
from .reports.terminal import baseline_lines, measurement_lines, summary_lines
from .session import ModelProvSession

SESSION_KEY: pytest.StashKey[ModelProvSession] = pytest.StashKey()
#: the team vendor ids this run added to the identity detector (removed at unconfigure)
TEAM_VENDORS_KEY: pytest.StashKey[list[str]] = pytest.StashKey()
#: the JUnit property that names a test's inconclusive checks (fail or warn)
INCONCLUSIVE_PROPERTY = "modelprov.inconclusive"
MODEL_FIXTURES = frozenset({"model_under_test", "reference_model"})
MARKER_KWARGS = frozenset({"unconfigured"})
DRIFT_MARKER_HELP = (
    "modelprov_drift(*rules): drift rules QUANTITY:[+|-]MARGIN[@ALPHA] for the baseline "
    "checks of this test, e.g. modelprov_drift('refusal.rate:+0.05')"
)
MARKER_HELP = (
    "provenance(unconfigured='fail'|'skip'): a model-behaviour provenance test. Tests that "
    "use the model_under_test or reference_model fixtures get this marker automatically."
)


PARAMS_MARKER_HELP = (
    f"{comparable.MARKER}(reason=...): this test compares results sampled with different "
    "generation parameters on purpose; without it such a comparison fails as not comparable"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("modelprov", "model provenance tests (pytest-modelprov)")
    for option in OPTIONS:
        env = ENV_NAMES.get(option.name, option.env)
        ini = INI_NAMES.get(option.name, option.ini)
        group.addoption(
            option.flag,
            dest=option.dest,
            action="append" if option.multiple else "store",
            default=None,
            metavar=option.metavar,
            help=f"{option.help}. Env {env}, ini {ini}.",
        )
        ini_help = f"pytest-modelprov: {option.help}"
        if option.multiple:
            parser.addini(ini, help=ini_help, type="linelist", default=[])
        else:
            parser.addini(ini, help=ini_help, type="string", default="")
    # command line only: a committed ini or a CI variable must never rewrite baselines
    group.addoption(
        "--modelprov-update-baselines",
        dest="modelprov_update_baselines",
        action="store_true",
        default=False,
        help="write the measured results as the new baselines (for the tests that ran) "
        "instead of comparing with them; review and commit the files",
    )
    group.addoption(
        "--modelprov-plan",
        dest="modelprov_plan",
        action="store_true",
        default=False,
        help="dry run: run the selected tests against the cache only and print, per model, "
        "the calls they would make, how many are cached, estimated tokens and cost; "
        "nothing is called and no test result is reported",
    )
    group.addoption(
        "--modelprov-batch",
        dest="modelprov_batch",
        action="store_true",
        default=False,
        help="before the tests run, work out the calls they would make (as --modelprov-plan) "
        "and send the missing ones through the provider's Batch API (about half the price), "
        "wait for the results and fill the cache; an interrupted run resumes its batches",
    )


def _sources(config: pytest.Config) -> Sources:
    def cli(option: Option) -> Any:
        return config.getoption(option.dest)

    def ini(option: Option) -> Any:
        return config.getini(INI_NAMES.get(option.name, option.ini))

    return Sources(cli=cli, ini=ini, environ=os.environ)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", DRIFT_MARKER_HELP)
    config.addinivalue_line("markers", PARAMS_MARKER_HELP)
    try:
        settings = resolve(_sources(config), Path(str(config.rootpath)))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if config.getoption("modelprov_update_baselines", False):
        settings = replace(settings, update_baselines=True)
    plan = bool(config.getoption("modelprov_plan", False))
    batch = bool(config.getoption("modelprov_batch", False))
    if plan or batch:
        _check_dry_run(config, settings, "--modelprov-plan" if plan else "--modelprov-batch")
        if plan and batch:
            raise pytest.UsageError(
                "modelprov: --modelprov-plan prints what --modelprov-batch would submit; use "
                "one of them"
            )
        settings = replace(settings, plan=plan, batch=batch)
    if _is_worker(config):
        watch_parent()  # a SIGKILLed controller must not leave workers calling the model
    if settings.identity_vendors is not None:
        config.stash[TEAM_VENDORS_KEY] = _add_team_vendors(settings.identity_vendors)
    run_id = getattr(config, "workerinput", {}).get("modelprov_run_id")
    config.stash[SESSION_KEY] = ModelProvSession(settings, run_id=run_id)
    dry = settings.plan or config.option.collectonly
    if settings.transcript is not None and not _is_worker(config) and not dry:
        settings.transcript.parent.mkdir(parents=True, exist_ok=True)
        settings.transcript.write_text("", encoding="utf-8")
    if not _is_worker(config):
        config.pluginmanager.register(
            MeasurementCollector(config.stash[SESSION_KEY]), "modelprov-measurements"
        )
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(config), "modelprov-xdist")


def _add_team_vendors(path: Path) -> list[str]:
    # here: a run without identity tests need not load it. Only the ids and the checks a
    # bad file fails: the detector's table is built when a claim is first detected.
    from .identity import team as identity_team

    # the ids this run adds, to remove at its end: not those the process held before (an
    # inline pytester run inside a session that added the same vendors)
    before = identity_team.team_vendors()
    try:
        return [vid for vid in identity_team.add_vendors(path) if vid not in before]
    except ConfigError as exc:
        raise pytest.UsageError(f"modelprov_identity_vendors: {exc}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    # an inline pytester run shares the process: its team vendors must not outlive it
    added = config.stash.get(TEAM_VENDORS_KEY, None)
    if added:
        from .identity import team as identity_team

        identity_team.remove_vendors(added)


def _check_dry_run(config: pytest.Config, settings: Settings, flag: str) -> None:
    workers = config.getoption("numprocesses", None)
    if workers and config.getoption("dist", "no") != "no":
        raise pytest.UsageError(
            f"modelprov: {flag} works out the calls in one process; run it without -n "
            f"(e.g. `pytest {flag} -p no:xdist`), then the suite with -n"
        )
    if settings.update_baselines:
        raise pytest.UsageError(
            f"modelprov: {flag} runs the tests on placeholder answers first; update "
            "baselines in a separate run with --modelprov-update-baselines"
        )
    if flag == "--modelprov-batch" and settings.record_mode.value in ("replay", "off", "refresh"):
        raise pytest.UsageError(
            f"modelprov: --modelprov-batch fills the cache, but the record mode is "
            f"{settings.record_mode} (from {settings.record_mode_source}); add "
            "--modelprov-record-mode=once"
        )


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    mp = config.stash.get(SESSION_KEY, None)
    if mp is None or _is_worker(config):
        return  # a worker has no terminal: its progress would go nowhere
    mode = mp.settings.progress
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is None or mode is Progress.OFF:
        return
    if mode is Progress.AUTO and (config.get_verbosity() < 0 or not tr.isatty()):
        return
    mp.set_progress(TerminalProgress(config, tr))


class TerminalProgress:
    """Draws the progress line in place, between pytest's own output.

    Drawn with capturing suspended (as pytest's live logging does), on a line of its own;
    the final state stays as a record of the calls, and pytest starts its next line anew.
    """

    def __init__(self, config: pytest.Config, tr: Any) -> None:
        self.tr = tr
        self.capman = config.pluginmanager.get_plugin("capturemanager")
        self.line = ProgressLine(self._draw)
        self._open = False
        self._resume: Any = None

    def __call__(self, state: CallProgress) -> None:
        self.line(state)

    def _draw(self, text: str, final: bool) -> None:
        tw = self.tr._tw
        width = max(20, tw.fullwidth - 1)
        text = text[:width]
        suspended = (
            self.capman.global_and_fixture_disabled()
            if self.capman is not None
            else contextlib.nullcontext()
        )
        with suspended:
            if not self._open:
                self._open = True
                self._resume = self.tr.currentfspath
                self.tr.ensure_newline()
            tw.write("\r" + text + " " * (width - len(text)), flush=True)
            if final:
                self._open = False
                tw.line()
                resume = self._resume
                if isinstance(resume, Path):
                    # pytest writes the next result letter after the file name it printed
                    # before the test started: print the name again on a line of its own
                    tw.write(bestrelpath(self.tr.startpath, resume) + " ", flush=True)
                    self.tr.currentfspath = resume
                else:  # -v: pytest prints the test's location again before its outcome
                    self.tr.currentfspath = -2


class XdistHooks:
    """Registered only when xdist is loaded, so its hook names never look unknown."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["modelprov_run_id"] = self.config.stash[SESSION_KEY].run_id

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get("modelprov")
        if data:
            self.config.stash[SESSION_KEY].merge_worker_output(data)


def _session(config: pytest.Config) -> ModelProvSession:
    return config.stash[SESSION_KEY]


def modelprov_settings(config: pytest.Config) -> Settings:
    """The resolved settings of this run (for conftest.py hooks that need them)."""
    return _session(config).settings


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = _session(config).settings
    if settings.model is None and not settings.references:
        return []
    parts = []
    if settings.model is not None:
        parts.append(f"model under test {settings.model.model} at {settings.model.display_url}")
    if settings.references:
        parts.append("references " + ", ".join(sorted(settings.references)))
    return [safe_text(f"modelprov: {'; '.join(parts)}; record mode {settings.record_mode}", 1000)]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the automatic marker must exist before `-m provenance` deselects, and the
    # unused-baseline report needs every collected test, deselected ones included
    mp = config.stash.get(SESSION_KEY, None)
    if mp is not None:
        mp.collected.update(item.nodeid for item in items)
    for item in items:
        for mark in item.iter_markers("modelprov_drift"):
            try:
                parse_rules([str(a) for a in mark.args], f"{item.nodeid}: modelprov_drift marker")
            except ConfigError as exc:
                raise pytest.UsageError(str(exc)) from None
            if mark.kwargs:
                raise pytest.UsageError(
                    f"modelprov: {item.nodeid}: modelprov_drift takes rules as arguments, "
                    f"e.g. modelprov_drift('refusal.rate:+0.05'), not {sorted(mark.kwargs)}"
                )
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.provenance)
        for mark in item.iter_markers("provenance"):
            unknown = set(mark.kwargs) - MARKER_KWARGS
            if unknown or mark.args:
                raise pytest.UsageError(
                    f"modelprov: {item.nodeid}: the provenance marker takes only "
                    f"unconfigured='fail' or 'skip', got {mark.args or ''}{sorted(unknown) or ''}"
                )
            value = mark.kwargs.get("unconfigured")
            if value is not None and value not in {u.value for u in Unconfigured}:
                raise pytest.UsageError(
                    f"modelprov: {item.nodeid}: provenance(unconfigured={value!r}) is not "
                    "valid; valid values: fail, skip"
                )


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> bool | None:
    mp = session.config.stash.get(SESSION_KEY, None)
    if mp is None or not (mp.settings.plan or mp.settings.batch):
        return None
    if session.config.option.collectonly:
        return None  # --collect-only runs nothing, not even a dry run
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return None  # pytest's own loop reports the collection errors
    if mp.settings.plan:
        _plan_pass(session, mp)
        return True  # nothing more runs: the summary prints the plan
    from .calls.batch import FillReport
    from .calls.batchfill import MAX_ROUNDS, fill_round

    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    write = None
    if tr is not None and session.config.get_verbosity() >= 0:
        write = tr.write_line
    # calls that follow an answer not recorded yet (a follow-up turn, the next look of a
    # stop_early set) are known only once that answer is: plan and fill in rounds
    report = mp.batch_report = FillReport()
    for round_ in range(1, MAX_ROUNDS + 2):
        planner = _plan_pass(session, mp)
        if not planner.missing_calls():
            if round_ == 1:
                report.lines.append(
                    "modelprov batch: every call the tests make is cached; nothing to submit."
                )
            break
        if round_ > MAX_ROUNDS:
            report.complete = False
            report.lines.append(
                f"modelprov batch: after {MAX_ROUNDS} rounds the tests still make calls that "
                "are not recorded (each round's calls depend on the last one's answers)."
            )
            break
        fill_round(mp, planner, report, write, round_)
        if not report.complete:
            break
    if not report.complete:
        report.lines.append(
            "modelprov batch: not every call has its answer yet, so the tests did not run "
            "(they would call the missing ones at the full price). Run the same command "
            "again: it resumes the batches still running and resubmits what failed."
        )
        return True  # the summary says what is missing; the next run resumes
    return None  # the tests now run on a filled cache


def _plan_pass(session: pytest.Session, mp: ModelProvSession) -> Planner:
    """Run every test on cache hits and placeholder answers, noting the misses."""
    from _pytest.runner import runtestprotocol

    planner = mp.start_plan()
    mp.plan_measurements.clear()
    try:
        for i, item in enumerate(session.items):
            nextitem = session.items[i + 1] if i + 1 < len(session.items) else None
            kept = list(item.user_properties), list(item._report_sections)
            runtestprotocol(item, nextitem=nextitem, log=False)
            # what each check would need, for the plan's sample-size lines (n is real even
            # though the answers are placeholders)
            mp.plan_measurements.extend(
                (item.nodeid, Measurement.from_json(str(v)))
                for name, v in item.user_properties[len(kept[0]) :]
                if name == PROPERTY
            )
            # placeholder measurements and output must not reach the real run's reports
            item.user_properties[:], item._report_sections[:] = kept
    finally:
        mp.stop_plan()
    planner.finish()
    mp.last_plan = planner
    return planner


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    with contextlib.ExitStack() as stack:
        # measurements of fingerprints built from texts (no model handle) land on this test
        mp = item.config.stash.get(SESSION_KEY, None)
        if mp is not None:
            nodeid = item.nodeid

            def record(m: Measurement) -> None:
                mp.record(nodeid, m)

            stack.enter_context(recording.recording(record))
        mark = item.get_closest_marker(comparable.MARKER)
        if mark is not None:
            reason = str(mark.kwargs.get("reason") or (mark.args[0] if mark.args else "intended"))
            stack.enter_context(comparable.allow_param_difference(reason))
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # attached before the report is built, so junitxml writes them as properties and
    # xdist carries them to the controller with the report
    mp = item.config.stash.get(SESSION_KEY, None)
    taken: list[Measurement] = []
    if mp is not None:
        taken = mp.take_pending(item.nodeid)
        for m in taken:
            item.user_properties.append((PROPERTY, m.to_json()))
            # a readable twin of each figure, for CI systems that show JUnit properties
            item.user_properties.append((m.name, property_text(m)))
        for event in mp.take_baseline_events(item.nodeid):
            item.user_properties.append((BASELINE_PROPERTY, event.to_json()))
    report: pytest.TestReport = yield
    undecided = [m for m in taken if m.verdict == "inconclusive"]
    if mp is not None and undecided and report.passed and mp.planner is None:
        _inconclusive(item, report, undecided, mp)
    return report


def _evidence_of(m: Measurement) -> list[Mapping[str, Any]]:
    found = m.details.get("evidence")
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def _inconclusive(
    item: pytest.Item,
    report: pytest.TestReport,
    undecided: list[Measurement],
    mp: ModelProvSession,
) -> None:
    """A test whose checks passed except for some its sample could not decide: a failure
    or a warning, per --modelprov-inconclusive, never a plain pass."""
    policy = mp.settings.inconclusive
    checks = "; ".join(
        safe_text(m.name)
        + f" = {format_value(m)}, n={m.n}"
        + (f", needs n>={m.needed_n}" if m.needed_n is not None else "")
        for m in undecided[:8]
    )
    more = f" and {len(undecided) - 8} more" if len(undecided) > 8 else ""
    text = (
        f"modelprov: inconclusive: {len(undecided)} check(s) of this test cannot be decided "
        f"with the answers it has: {checks}{more}. It takes the answers named to decide "
        "each; sample more (see pytest_modelprov."
        "samplesize or --modelprov-plan), or loosen the bound"
    )
    quotes = [
        f"  [{safe_text(str(e.get('lang', '')))}] {safe_text(str(e.get('prompt', '')), 60)!r} "
        f"-> {safe_text(str(e.get('decided_by') or e.get('answer', '')), 160)!r}"
        for m in undecided
        for e in _evidence_of(m)[:3]
    ]
    if quotes:
        text += "\nanswers that count against it (too few to decide):\n" + "\n".join(quotes[:6])
    # a JUnit property of its own: a CI page shows it even when the test passed (warn)
    # (on the item: the teardown report, which junitxml reads, carries the item's list)
    item.user_properties.append((INCONCLUSIVE_PROPERTY, text))
    if policy is Inconclusive.FAIL:
        report.outcome = "failed"
        report.longrepr = text + " (--modelprov-inconclusive=fail, the default)"
    else:
        mp.ledger.warn(f"{report.nodeid}: {text} (passed with --modelprov-inconclusive=warn)")


def _failure_text(report: pytest.TestReport) -> str:
    """The failure's message, not its traceback: an assertion's text (which quotes the
    answers), without the locals a long traceback would carry into a report."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text[:MAX_FAILURE_TEXT]


#: characters of a failure's message kept in the reports
MAX_FAILURE_TEXT = 4000


class MeasurementCollector:
    """On the controller (or a plain run): gathers measurements from test reports."""

    def __init__(self, session: ModelProvSession) -> None:
        self.session = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed:
            self.session.passed.add(report.nodeid)
        if report.failed:
            self.session.failures.append(
                {"test": report.nodeid, "when": report.when, "message": _failure_text(report)}
            )
        # the teardown report carries every property the test gathered, once
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == PROPERTY:
                self.session.measurements.append((report.nodeid, Measurement.from_json(str(value))))
            elif name == BASELINE_PROPERTY:
                self.session.baseline_events.append(BaselineEvent.from_json(str(value)))

    def pytest_warning_recorded(
        self, warning_message: Any, when: str, nodeid: str, location: Any
    ) -> None:
        # the plugin's own warnings (an underpowered gate, a baseline note) belong in every
        # report, not only in pytest's warnings summary; xdist replays workers' ones here
        category = getattr(warning_message, "category", None)
        if category is not None and category.__module__.startswith("pytest_modelprov"):
            text = f"{category.__name__}: {warning_message.message}"
            self.session.test_warnings.append(f"{nodeid}: {text}" if nodeid else text)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    mp = config.stash.get(SESSION_KEY, None)
    if mp is None:
        return
    lost = mp.unreported()
    if lost:
        mp.ledger.warn(
            f"{lost} measurement(s) were recorded outside a test (e.g. while a shared fixture "
            "was torn down) and are missing from the table and reports; record them in a test"
        )
    if _is_worker(config):
        config.workeroutput["modelprov"] = mp.worker_output()  # type: ignore[attr-defined]
        mp.close()
        return
    settings = mp.settings
    if settings.plan:  # no test ran for real: nothing to report or to call unused
        mp.close()
        return
    if mp.batch_report is not None and not mp.batch_report.complete:
        session.exitstatus = int(session.exitstatus) | int(pytest.ExitCode.TESTS_FAILED)
        mp.close()
        return
    mp.unused_baselines = find_unused(
        Store(settings.baseline_dir),
        [settings.baseline_label, *(e.label for e in mp.baseline_events)],
        mp.baseline_events,
        mp.collected,
        mp.passed,
        session.config.rootpath,
    )
    if mp.unused_baselines and settings.unused_baselines is UnusedBaselines.FAIL:
        # OR-ed, as syrupy does: a run whose tests passed still fails on unused baselines
        session.exitstatus = int(session.exitstatus) | int(pytest.ExitCode.TESTS_FAILED)
    _write_reports(session, mp)
    mp.close()


def _write_reports(session: pytest.Session, mp: ModelProvSession) -> None:
    settings = mp.settings
    if not (settings.report_json or settings.report_md or settings.report_html):
        return
    data = jsonreport.build(
        mp.measurements,
        mp.ledger,
        record_mode=str(settings.record_mode),
        exit_status=int(session.exitstatus),
        version=__version__,
        baselines=jsonreport.baselines_section(settings, mp.baseline_events, mp.unused_baselines),
        failures=mp.failures,
        test_warnings=mp.test_warnings,
        inconclusive=str(settings.inconclusive),
    )
    writers: list[tuple[Path | None, str, Callable[[Path, dict[str, Any]], None]]] = [
        (settings.report_json, "JSON report", jsonreport.write),
        (settings.report_md, "Markdown summary", jsonreport.append_markdown),
        (settings.report_html, "HTML report", _write_html),
    ]
    for path, what, write in writers:
        if path is None:
            continue
        try:
            write(path, data)
        except (OSError, ConfigError) as exc:
            # a CI job that publishes the report must not pass without it
            mp.ledger.warn(f"the {what} was not written: {exc}")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def _write_html(path: Path, data: dict[str, Any]) -> None:
    from .reports.htmlreport import write_html

    write_html(data, path)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _is_worker(config):
        return
    mp = config.stash.get(SESSION_KEY, None)
    if mp is None:
        return
    if mp.last_plan is not None and mp.settings.plan:
        # here, not at the top: samplesize needs numpy, which a run without checks never loads
        from .samplesize import plan_lines

        terminalreporter.write_sep("-", "modelprov plan (dry run)")
        for line in mp.last_plan.lines():
            terminalreporter.write_line(line)
        for line in plan_lines(mp.plan_measurements):
            terminalreporter.write_line(line)
        for warning in mp.ledger.warnings:
            terminalreporter.write_line(f"warning: {safe_text(warning, 2000)}")
        return
    if mp.batch_report is not None:
        terminalreporter.write_sep("-", "modelprov batch")
        for line in mp.batch_report.lines:
            terminalreporter.write_line(line)
    # fitted to a terminal, or to COLUMNS; a log file keeps whole lines (nothing wraps)
    width = None
    if os.environ.get("COLUMNS") or terminalreporter.isatty():
        width = getattr(getattr(terminalreporter, "_tw", None), "fullwidth", None)
    lines = summary_lines(mp.ledger, mp.settings, width)
    lines += [f"budget: {line}" for line in mp.spending.status()]
    replayed, computed = mp.verdict_counts()
    if replayed or computed:
        lines.append(
            f"detector verdicts: {replayed} replayed, {computed} computed (cache {FILE_NAME})"
        )
    replayed, computed = mp.result_counts()
    if replayed or computed:
        # whole measurements replayed at once; the verdict line above counts what they hold
        lines.append(f"measurement results: {replayed} replayed, {computed} computed")
    if lines:
        terminalreporter.write_sep("-", "modelprov")
        for line in lines:
            terminalreporter.write_line(line)
    if mp.measurements and config.get_verbosity() >= 0:
        terminalreporter.write_sep("-", "modelprov measurements")
        for line in measurement_lines(mp.measurements, width):
            terminalreporter.write_line(line)
    lines = baseline_lines(
        mp.baseline_events,
        mp.unused_baselines if mp.settings.unused_baselines is not UnusedBaselines.IGNORE else [],
        directory=mp.settings.baseline_dir,
        update=mp.settings.update_baselines,
    )
    if lines:
        terminalreporter.write_sep("-", "modelprov baselines")
        for line in lines:
            terminalreporter.write_line(line)


# -- fixtures: the configuration API --------------------------------------------------------


@pytest.fixture(scope="session")
def modelprov_session(pytestconfig: pytest.Config) -> ModelProvSession:
    """The run's ModelProvSession (settings, cache, tallies)."""
    return _session(pytestconfig)


@pytest.fixture(scope="session")
def modelprov_model_spec(modelprov_session: ModelProvSession) -> ModelSpec | None:
    """The model under test as configured; override in conftest.py to set it in code."""
    return modelprov_session.settings.model


@pytest.fixture(scope="session")
def modelprov_references(
    modelprov_session: ModelProvSession, modelprov_model_spec: ModelSpec | None
) -> dict[str, ModelSpec]:
    """Named reference models as configured; override in conftest.py to add or change some.

    Resolved against the model under test in use, so a reference without ``base_url``
    goes to the endpoint of a model under test that a fixture supplies, and inherits its
    generation parameters, exactly as it would from the configured one.
    """
    return resolve_references(
        modelprov_session.settings.reference_fields,
        modelprov_model_spec,
        modelprov_session.environ,
    )


@pytest.fixture(scope="session")
def _modelprov_unused_settings(
    modelprov_session: ModelProvSession,
    modelprov_model_spec: ModelSpec | None,
    modelprov_references: dict[str, ModelSpec],
) -> None:
    """Warn, once, about CLI/env/ini settings a conftest.py fixture override shadows."""
    for message in shadowed(
        modelprov_model_spec,
        modelprov_references,
        modelprov_session.settings,
        modelprov_session.environ,
    ):
        text = "modelprov: " + message + "; set it in the fixture instead"
        modelprov_session.ledger.warn(message)
        if modelprov_session.planner is None:  # a dry run's summary shows the ledger's
            warnings.warn(UnusedSettingWarning(text), stacklevel=1)


def _unconfigured(request: pytest.FixtureRequest, message: str) -> None:
    settings = _session(request.config).settings
    action = settings.unconfigured
    if not settings.unconfigured_from_cli:
        # the closest marker that says something: the automatic one carries no arguments
        for mark in request.node.iter_markers("provenance"):
            if mark.kwargs.get("unconfigured"):
                action = Unconfigured(mark.kwargs["unconfigured"])
                break
    if action is Unconfigured.SKIP:
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture
def model_under_test(
    request: pytest.FixtureRequest,
    modelprov_session: ModelProvSession,
    modelprov_model_spec: ModelSpec | None,
    _modelprov_unused_settings: None,
) -> ModelHandle:
    """The model under test, ready to sample."""
    if modelprov_model_spec is None:
        _unconfigured(
            request,
            "modelprov: no model under test is configured. Set its id with "
            "--modelprov-model ID, the environment variable MODELPROV_MODEL or the ini key "
            "modelprov_model, and its endpoint with --modelprov-base-url (default "
            "OPENAI_BASE_URL, then the OpenAI API).",
        )
    assert modelprov_model_spec is not None
    return ModelHandle(modelprov_session, modelprov_model_spec, request.node.nodeid)


@pytest.fixture
def reference_model(
    request: pytest.FixtureRequest,
    modelprov_session: ModelProvSession,
    modelprov_references: dict[str, ModelSpec],
    _modelprov_unused_settings: None,
) -> Callable[[str], ModelHandle]:
    """A function that returns the named reference model, ready to sample."""

    def get(name: str) -> ModelHandle:
        spec = modelprov_references.get(name)
        if spec is None:
            configured = ", ".join(sorted(modelprov_references)) or "none"
            _unconfigured(
                request,
                f"modelprov: reference model {name!r} is not configured (configured: "
                f"{configured}). Add it to the ini key modelprov_references, one field a "
                f"line: {name}.model=ID, {name}.base_url=URL, {name}.api_key_env=VAR; or pass "
                f"--modelprov-reference {name}.model=ID, or set MODELPROV_REFERENCES.",
            )
        assert spec is not None
        return ModelHandle(modelprov_session, spec, request.node.nodeid)

    return get


@pytest.fixture
def modelprov_baseline(
    request: pytest.FixtureRequest, modelprov_session: ModelProvSession
) -> Baseline:
    """Compare a detector's result with its stored baseline: ``modelprov_baseline.check(r)``.

    Drift rules: --modelprov-drift > check(rule=...) > the closest modelprov_drift marker >
    MODELPROV_DRIFT > ini modelprov_drift > the built-in defaults.
    """
    settings = modelprov_session.settings
    marker_rules: dict[str, Rule] = {}
    # farthest first, so the closest marker (the test's own) wins
    for mark in reversed(list(request.node.iter_markers("modelprov_drift"))):
        marker_rules.update(
            parse_rules([str(a) for a in mark.args], f"{request.node.nodeid}: modelprov_drift")
        )
    nodeid = request.node.nodeid

    def record(measurement: Measurement) -> None:
        modelprov_session.record(nodeid, measurement)

    return Baseline(
        Options(
            Store(settings.baseline_dir),
            settings.baseline_label,
            # a plan or batch pass runs on placeholder answers: it must never write them
            update=settings.update_baselines and modelprov_session.planner is None,
            cli_rules=settings.drift_cli,
            config_rules=settings.drift_config,
        ),
        nodeid,
        record=record,
        event=modelprov_session.record_baseline,
        marker_rules=marker_rules,
    )


@pytest.fixture
def modelprov_server() -> Iterator[Any]:
    """A started LocalServer (OpenAI-compatible, 127.0.0.1) with an empty script."""
    from .testing.server import LocalServer

    with LocalServer() as server:
        yield server
