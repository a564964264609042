"""One object per pytest session that owns the cache, the clients and the tallies.

The plugin's hooks and fixtures only delegate here (syrupy's layout), so everything that
lives for the whole run is in one place and can be built without pytest in a test.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .baseline import BaselineEvent
from .calls.budget import Spending
from .calls.cache import ResponseCache
from .calls.export import json_line
from .calls.ledger import Ledger
from .calls.pacing import MAX_BACKOFF, PAUSE_SLACK, Pacer, SharedPause, worker_share
from .calls.planning import Call, Planner
from .calls.progress import CallProgress
from .calls.response import Response
from .calls.verdicts import VerdictStore
from .config import ModelSpec, RecordMode, Settings
from .reports.measurement import Measurement

if TYPE_CHECKING:
    from .calls.batch import FillReport
    from .calls.client import CallContext, ModelClient


class ModelProvSession:
    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.cache = ResponseCache(settings.cache_dir)
        self.ledger = Ledger()
        # keyed by repr: a spec holds a params dict, so it is not hashable
        self._clients: dict[str, ModelClient] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        # shared by xdist workers (the controller hands its id down), so that refresh
        # re-records each key once per run, not once per worker
        self.run_id = run_id or uuid.uuid4().hex
        self._transcript_lock = threading.Lock()
        # measured in this process, per test, until the plugin attaches them to its report
        self._pending: dict[str, list[Measurement]] = {}
        # every measurement reported in the run (on the controller: from all workers)
        self.measurements: list[tuple[str, Measurement]] = []
        # baseline files checks used, per test, until attached to its report; then all of them
        self._pending_baselines: dict[str, list[BaselineEvent]] = {}
        self.baseline_events: list[BaselineEvent] = []
        # node ids collected (before deselection) and passed: what "unused baseline" needs
        self.collected: set[str] = set()
        self.passed: set[str] = set()
        # on the controller: failed tests with their message, and the plugin's warnings
        self.failures: list[dict[str, str]] = []
        self.test_warnings: list[str] = []
        # measurements of the dry run (placeholder answers, real sample sizes)
        self.plan_measurements: list[tuple[str, Measurement]] = []
        self.unused_baselines: list[Path] = []
        # one pacer per model at an endpoint: two names for one model share its limits
        self._pacers: dict[tuple[str, str], Pacer] = {}
        self.spending = Spending(settings.budget, settings.cache_dir / "budget", self.run_id)
        self.planner: Planner | None = None
        self.last_plan: Planner | None = None  # the dry run's result, for the summary
        self.batch_report: FillReport | None = None
        self.progress: Callable[[CallProgress], None] | None = None
        self._verdicts: VerdictStore | None = None
        # replayed and computed verdicts, and measurement results, of xdist workers, summed
        # on the controller
        self.worker_verdicts = [0, 0]
        self.worker_results = [0, 0]

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.settings.concurrency, thread_name_prefix="modelprov"
                )
            return self._executor

    def client(self, spec: ModelSpec) -> ModelClient:
        with self._lock:
            client = self._clients.get(_client_key(spec))
        if client is not None:
            return client
        # here: a run whose tests sample no model need not import the client and its retries
        from .calls.client import ModelClient

        client = ModelClient(
            spec,
            cache=self.cache,
            settings=self.settings,
            ledger=self.ledger,
            executor=self._pool(),
            run_id=self.run_id,
            environ=self.environ,
            pacer=self._pacer(spec),
            spending=self.spending,
        )
        with self._lock:
            client = self._clients.setdefault(_client_key(spec), client)
        client.planner, client.progress = self.planner, self.progress
        return client

    def _pacer(self, spec: ModelSpec) -> Pacer:
        share = worker_share(self.environ)  # xdist workers each keep to 1/N of the limits
        with self._lock:
            key = (spec.cache_endpoint, spec.model)
            if key not in self._pacers:
                name = hashlib.sha256(f"{key[0]}\n{key[1]}".encode()).hexdigest()[:24]
                self._pacers[key] = Pacer(
                    spec.rpm / share if spec.rpm else None,
                    spec.tpm / share if spec.tpm else None,
                    # a 429 seen by one xdist worker pauses the others too
                    shared=SharedPause(self.settings.cache_dir / "pauses" / name),
                    # no process publishes a pause longer than this (a longer Retry-After
                    # fails the call instead): a longer one is clock skew or an edited file
                    max_pause=max(self.settings.max_retry_wait, MAX_BACKOFF) + PAUSE_SLACK,
                    note=self.ledger.warn,
                )
            return self._pacers[key]

    def verdict_store(self) -> VerdictStore | None:
        """Where detectors keep their verdicts; None when the cache is off for them (the
        setting, record mode off, or a dry run's placeholder answers)."""
        settings = self.settings
        if not settings.verdict_cache or settings.record_mode is RecordMode.OFF or self.planner:
            return None
        with self._lock:
            if self._verdicts is None:
                self._verdicts = VerdictStore(settings.cache_dir)
            return self._verdicts

    def verdict_counts(self) -> tuple[int, int]:
        """(replayed, computed) verdicts of the run so far, with those of xdist workers."""
        own = self._verdicts
        replayed, computed = self.worker_verdicts
        if own is not None:
            replayed, computed = replayed + own.replayed, computed + own.computed
        return replayed, computed

    def result_counts(self) -> tuple[int, int]:
        """(replayed, computed) measurement results of the run so far (``cached_result``),
        with those of xdist workers: each is also counted in :meth:`verdict_counts` as the
        verdicts it stands for."""
        own = self._verdicts
        replayed, computed = self.worker_results
        if own is not None:
            replayed, computed = replayed + own.results_replayed, computed + own.results_computed
        return replayed, computed

    def start_plan(self) -> Planner:
        """From now on, clients note misses instead of calling (a dry run)."""
        self.planner = Planner()
        with self._lock:
            for client in self._clients.values():
                client.planner = self.planner
        return self.planner

    def stop_plan(self) -> None:
        self.planner = None
        with self._lock:
            for client in self._clients.values():
                client.planner = None

    def set_progress(self, progress: Callable[[CallProgress], None] | None) -> None:
        self.progress = progress
        with self._lock:
            for client in self._clients.values():
                client.progress = progress

    def pacing_stats(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                f"{model} at {endpoint}": {
                    "waited": p.stats.waited,
                    "throttled": p.stats.throttled,
                    "paused": p.stats.paused,
                    "factor": p.factor,
                }
                for (endpoint, model), p in self._pacers.items()
            }

    def sample(self, spec: ModelSpec, calls: Sequence[Call], nodeid: str) -> list[Response]:
        if self.planner is not None:  # a dry run: no transcript of placeholder answers
            return self.client(spec).run(calls, self._context(nodeid))
        responses = self.client(spec).run(calls, self._context(nodeid))
        if self.settings.transcript is not None:
            self._transcribe(spec, nodeid, responses)
        return responses

    def _context(self, nodeid: str) -> CallContext:
        from .calls.client import CallContext

        return CallContext(
            nodeid=nodeid,
            record_mode=self.settings.record_mode,
            record_mode_source=self.settings.record_mode_source,
        )

    def _transcribe(self, spec: ModelSpec, nodeid: str, responses: Sequence[Response]) -> None:
        assert self.settings.transcript is not None
        # the cache's line writer: U+2028/U+0085 in an answer would split a line for readers
        # that use str.splitlines
        lines = "".join(
            json_line(
                {
                    "test": nodeid,
                    "model_name": spec.name,
                    "model": spec.model,
                    "resolved_model": r.model,
                    "key": r.key,
                    "prompt_index": r.prompt_index,
                    "replicate": r.replicate,
                    "prompt": r.prompt,
                    "answer": r.answer,
                    "reasoning": r.reasoning,
                    "finish_reason": r.finish_reason,
                    "cached": r.cached,
                }
            )
            for r in responses
        )
        path = self.settings.transcript
        with self._transcript_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            # one O_APPEND write per batch, so xdist workers' lines do not interleave
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, lines.encode("utf-8"))
            finally:
                os.close(fd)

    def record(self, nodeid: str, measurement: Measurement) -> None:
        with self._lock:
            self._pending.setdefault(nodeid, []).append(measurement)

    def take_pending(self, nodeid: str) -> list[Measurement]:
        with self._lock:
            return self._pending.pop(nodeid, [])

    def record_baseline(self, event: BaselineEvent) -> None:
        with self._lock:
            self._pending_baselines.setdefault(event.test, []).append(event)

    def take_baseline_events(self, nodeid: str) -> list[BaselineEvent]:
        with self._lock:
            return self._pending_baselines.pop(nodeid, [])

    def unreported(self) -> int:
        """Measurements whose test never made a report (recorded outside any test)."""
        with self._lock:
            return sum(len(v) for v in self._pending.values())

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        self.cache.close()
        if self._verdicts is not None:
            self._verdicts.close()
        self.spending.close()

    def worker_output(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger.to_dict(),
            "collected": sorted(self.collected),
            "verdicts": list(self.verdict_counts()),
            "results": list(self.result_counts()),
        }

    def merge_worker_output(self, data: Mapping[str, Any]) -> None:
        self.ledger.merge(data["ledger"])
        for name, total in (("verdicts", self.worker_verdicts), ("results", self.worker_results)):
            counts = data.get(name)
            if (
                isinstance(counts, list)
                and len(counts) == 2
                and all(type(c) is int for c in counts)
            ):
                total[0] += counts[0]
                total[1] += counts[1]
        self.collected.update(data.get("collected", ()))


def _client_key(spec: ModelSpec) -> str:
    # the repr leaves the URL's password out; two specs differing only there are two clients
    return f"{spec.base_url}\n{spec!r}"
