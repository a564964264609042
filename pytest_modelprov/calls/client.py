"""The model client: cache lookups, concurrent calls, bounded retries.

A warm call never reaches this module's HTTP half: the key is computed and looked up in the
calling thread, and the openai SDK client is built only when a first miss needs it.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import importlib
import ipaddress
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future
from concurrent.futures import wait as wait_for
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..config import ModelSpec, RecordMode, Settings, redact_url, validate_params
from ..errors import CacheError, ConfigError, ModelCallError, ModelprovError, ReplayMissError
from ..util.safejson import JSONLimitError
from ..util.safejson import loads as json_loads
from .budget import BudgetExceeded, Spending
from .cache import Hit, ResponseCache
from .deadline import deadline
from .deadline import install as install_deadline
from .entries import entry_from_response
from .keys import KeyBuilder
from .ledger import Ledger
from .pacing import MAX_BACKOFF, Pacer, estimate_prompt_tokens
from .planning import Call, Planner
from .progress import CallProgress
from .response import InvalidResponse, Response, Usage, check_completion, unusable_answer
from .watchdog import HALTED

if TYPE_CHECKING:
    import openai

Messages = list[dict[str, Any]]
Prompt = str | Sequence[Mapping[str, Any]]

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


_COUNT_EMPTY: ContextVar[bool] = ContextVar("modelprov_count_empty", default=False)


@contextmanager
def counting_empty_answers() -> Iterator[None]:
    """Within the block, empty answers are answers (as with ``modelprov_allow_empty``).

    For a detector to which an empty answer is itself a finding: the refusal measurement
    counts it as a refusal (some providers answer censored prompts with nothing), visibly,
    in its counts. Never cached either way.
    """
    token = _COUNT_EMPTY.set(True)
    try:
        yield
    finally:
        _COUNT_EMPTY.reset(token)


def _check_text(text: str) -> None:
    """A prompt the HTTP request can carry: no lone surrogates (not encodable as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise ConfigError(
            f"modelprov: the prompt {excerpt(text.encode('utf-8', 'backslashreplace').decode())!r}"
            f" holds a lone surrogate ({bad.encode('unicode_escape').decode()} at character "
            f"{exc.start}), which cannot be sent as UTF-8; it usually comes from decoding "
            "bytes with errors='surrogateescape'. Fix the text (e.g. decode with "
            "errors='replace')."
        ) from None


def to_messages(prompt: Prompt) -> Messages:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            _check_text(content)
    if not messages or not all(isinstance(m.get("role"), str) for m in messages):
        raise ConfigError(
            "modelprov: a prompt must be a string or a non-empty list of messages like "
            '{"role": "user", "content": "..."}'
        )
    return messages


def normalise_prompts(prompts: Prompt | Sequence[Prompt]) -> list[Messages]:
    """One string, one conversation (a list of message dicts) or a list of either."""
    if isinstance(prompts, str):
        _check_text(prompts)
        return [to_messages(prompts)]
    items = list(prompts)
    if not items:
        # answers to no prompts would make every assertion over them pass vacuously
        raise ConfigError(
            "modelprov: sample() was given no prompts; pass at least one string or "
            "conversation (an empty list would make the test pass without asking anything)"
        )
    if all(type(p) is str for p in items):  # the usual list of questions, without ABC checks
        for p in items:
            _check_text(p)  # type: ignore[arg-type]
        return [[{"role": "user", "content": p}] for p in items]
    if items and all(isinstance(p, Mapping) for p in items):
        return [to_messages(items)]  # type: ignore[arg-type]
    return [to_messages(p) for p in items]  # type: ignore[arg-type]


def excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without user:password, and those as the Basic auth header httpx would send.

    httpx logs every request URL (INFO on the "httpx" logger); a URL that still held the
    password would put it in captured logs, log files and CI output.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), (
        f"Basic {token}"
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from retry-after-ms or Retry-After."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class _Fetched:
    """What fetching one missing key gave."""

    response: Response
    stored: bool = False
    shared: bool = False  # found in the cache under the lock: someone else paid for it
    store_error: ModelprovError | None = None


@dataclass(frozen=True)
class CallContext:
    """Who is asking, for error messages."""

    nodeid: str
    record_mode: RecordMode
    record_mode_source: str


def plan_calls(
    spec: ModelSpec, prompts: Prompt | Sequence[Prompt], n: int, params: Mapping[str, Any]
) -> list[Call]:
    """The calls (with their keys) that sampling ``prompts`` ``n`` times makes."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"modelprov: n must be a whole number >= 1, got {n!r}")
    merged = (
        {**spec.params, **validate_params(params, "sample() arguments")} if params else spec.params
    )
    endpoint = spec.cache_endpoint
    seed = merged.get("seed")
    seeded = isinstance(seed, int) and not isinstance(seed, bool)
    first_seed = int(seed) if seeded else 0  # type: ignore[arg-type]
    calls: list[Call] = []
    try:
        # the parameters of each replicate are the same for every prompt: normalise and
        # serialise them once, not once per call
        variants = []
        for replicate in range(n):
            sent = dict(merged)
            if seeded:
                # one seed for all replicates would make every sample the same answer
                sent["seed"] = first_seed + replicate
            variants.append((replicate, sent, KeyBuilder.params_part(sent)))
        for index, messages in enumerate(normalise_prompts(prompts)):
            keys = KeyBuilder(endpoint, spec.model, messages)
            frozen = tuple(messages)
            for replicate, sent, part in variants:
                key = keys.key_of(part, replicate)
                # tuple.__new__: the NamedTuple's own __new__ is a Python function
                calls.append(_new_tuple(Call, (key, messages, sent, index, replicate, n, frozen)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"modelprov: cannot send this request: {exc}. Prompts and parameters must be "
            "plain JSON values (str, int, float, bool, None, lists and dicts)."
        ) from None
    return calls


_new_tuple: Any = tuple.__new__


def request_body(spec: ModelSpec, call: Call) -> dict[str, Any]:
    """The chat-completions request body of ``call``, as sent live or in a batch file."""
    params = dict(call.params)
    extra = params.pop("extra_body", None) or {}
    return {"model": spec.model, "messages": call.messages, **params, **extra}


class ModelClient:
    """Samples one configured model through the cache. Thread-safe."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        cache: ResponseCache,
        settings: Settings,
        ledger: Ledger,
        executor: Executor,
        run_id: str,
        environ: Mapping[str, str],
        pacer: Pacer | None = None,
        spending: Spending | None = None,
    ) -> None:
        self.spec = spec
        self.pacer = pacer or Pacer()
        self.spending = spending
        #: set by the session in a --modelprov-plan dry run: misses are noted, not called
        self.planner: Planner | None = None
        #: called with the state of a batch of calls while it runs (the progress line)
        self.progress: Callable[[CallProgress], None] | None = None
        self.cache = cache
        self.settings = settings
        self.ledger = ledger
        self.executor = executor
        self.run_id = run_id
        self._environ = environ
        self._sdk: openai.OpenAI | None = None
        self._sdk_lock = threading.Lock()
        self._snap_lock = threading.Lock()
        self._resolved_cached: set[str] = set()
        self._resolved_fresh: set[str] = set()

    def plan(
        self, prompts: Prompt | Sequence[Prompt], n: int, params: Mapping[str, Any]
    ) -> list[Call]:
        return plan_calls(self.spec, prompts, n, params)

    # -- running -------------------------------------------------------------------------

    def run(self, calls: Sequence[Call], context: CallContext) -> list[Response]:
        mode = context.record_mode
        name, model, endpoint = self.spec.name, self.spec.model, self.spec.display_url
        if self.planner is None:  # a dry run's lookups are not part of the run's tallies
            self.ledger.touch(name, model, endpoint)
        results: list[Response | None] = [None] * len(calls)
        missing: list[int] = []
        if mode is RecordMode.OFF:
            found: list[Hit | None] = [None] * len(calls)
        else:
            # refresh: an unreadable entry is one more to call again, not a failure
            found = self.cache.lookup_many(
                [c.key.digest for c in calls], skip_unreadable=mode is RecordMode.REFRESH
            )
        for i, (call, hit) in enumerate(zip(calls, found, strict=True)):
            if hit is None or (mode is RecordMode.REFRESH and hit.run != self.run_id):
                missing.append(i)  # REFRESH: recorded before this run, so call again
                continue
            results[i] = self._replayed(call, hit)
        hits = [r for r in results if r is not None]
        if self.planner is not None:  # a dry run: note what would be called, call nothing
            self.planner.note(self.spec, calls, missing, context.nodeid)
            self.planner.note_hit_usage(
                self.spec, sum(r.usage.completion_tokens for r in hits), len(hits)
            )
            for i in missing:
                results[i] = self._placeholder(calls[i])
            return [r for r in results if r is not None]
        if hits:  # one ledger update per batch: warm runs are this loop and nothing else
            for resolved in {r.model for r in hits}:
                self._note_resolved(resolved, cached=True)
            self.ledger.record_many(name, model, endpoint, hits, price=self.spec.price)
        if missing and mode is RecordMode.REPLAY:
            raise ReplayMissError(self._replay_message(calls, missing, context))
        # read here, in the caller's thread: the calls run on the pool's threads
        allow_empty = self.settings.allow_empty or _COUNT_EMPTY.get()
        pending: dict[Future[_Fetched], int] = {
            self.executor.submit(self._fetch, calls[i], mode, allow_empty): i for i in missing
        }
        failures: list[ModelprovError] = []
        started = time.monotonic()
        while pending:
            done, _ = wait_for(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                try:
                    fetched = future.result()
                except ModelprovError as exc:
                    failures.append(exc)
                    self.ledger.add(name, model, endpoint, errors=1)
                    continue
                self._tally(fetched, failures, results, i)
            if self.progress is not None:
                self.progress(
                    CallProgress(
                        name=name,
                        model=model,
                        done=len(missing) - len(pending),
                        total=len(missing),
                        hits=len(hits),
                        errors=len(failures),
                        elapsed=time.monotonic() - started,
                        finished=not pending,
                    )
                )
        if failures:
            first = next((f for f in failures if isinstance(f, BudgetExceeded)), failures[0])
            done_count = len(missing) - len(failures)
            what = "could not be stored" if isinstance(first, CacheError) else "failed"
            raise ModelCallError(
                f"{first} ({len(failures)} of {len(missing)} calls {what}; the {done_count} "
                "answers that arrived are cached, a re-run calls only the missing ones)",
                status=getattr(first, "status", None),
                attempts=getattr(first, "attempts", 1),
            )
        return [r for r in results if r is not None]

    def _tally(
        self,
        fetched: _Fetched,
        failures: list[ModelprovError],
        results: list[Response | None],
        i: int,
    ) -> None:
        name, model, endpoint = self.spec.name, self.spec.model, self.spec.display_url
        response = fetched.response
        if fetched.shared:  # another thread or process recorded it while we waited
            self._note_resolved(response.model, cached=True)
            self.ledger.record_many(name, model, endpoint, [response], price=self.spec.price)
        else:
            self._note_resolved(response.model, cached=False)
            self.ledger.record_call(
                name, model, endpoint, usage=response.usage, resolved=response.model,
                stored=fetched.stored, price=self.spec.price,
            )  # fmt: skip
        if fetched.store_error is not None:  # keep storing the others: they are paid for
            failures.append(fetched.store_error)
            return
        results[i] = response

    def _placeholder(self, call: Call) -> Response:
        body = {
            "choices": [{"message": {"role": "assistant", "content": ""}, "finish_reason": "plan"}],
            "model": self.spec.model,
        }
        return self._response(call, body, cached=False)

    def _lookup(self, call: Call, mode: RecordMode) -> Hit | None:
        hit = self.cache.lookup(call.key.digest, skip_unreadable=mode is RecordMode.REFRESH)
        if mode is RecordMode.REFRESH and hit is not None and hit.run != self.run_id:
            return None  # recorded before this run: refresh it
        return hit

    def _replayed(self, call: Call, hit: Hit) -> Response:
        return Response.replayed(
            answer=hit.answer,
            reasoning=hit.reasoning,
            messages=call.messages_tuple or tuple(call.messages),
            prompt_index=call.prompt_index,
            replicate=call.replicate,
            finish_reason=hit.finish_reason,
            model=hit.model,
            requested_model=self.spec.model,
            system_fingerprint=hit.system_fingerprint,
            usage=hit.usage,
            key=call.key.digest,
            body=hit.body,
        )

    def _fetch(self, call: Call, mode: RecordMode, allow_empty: bool = False) -> _Fetched:
        """Call the model for one missing key, at most once across threads and processes.

        Under the key's lock the cache is read again: whoever held the lock before us may
        have recorded the answer, and then it is used instead of a second call. The warm path
        never gets here, so it takes no lock.
        """
        if mode is RecordMode.OFF:
            body, _ = self._call_with_retries(call, allow_empty)
            return _Fetched(self._response(call, body, cached=False))
        with self.cache.locks.hold(call.key.digest, self._lock_timeout()):
            hit = self._lookup(call, mode)
            if hit is not None:
                return _Fetched(self._replayed(call, hit), shared=True)
            if self.cache.write_error is not None:
                raise CacheError(
                    f"{self.cache.write_error} The model was not called: its answer could not "
                    "be stored."
                )
            body, _ = self._call_with_retries(call, allow_empty)
            response = self._response(call, body, cached=False)
            if not response.cacheable:
                return _Fetched(response)
            try:
                entry = self.cache.put(
                    entry_from_response(call.key, body, self.run_id),
                    overwrite=mode is RecordMode.REFRESH,
                )
            except ModelprovError as exc:
                return _Fetched(response, store_error=exc)
            if entry.response is not body:  # stored by a process that took no lock
                response = self._response(call, entry.response, cached=False)
            return _Fetched(response, stored=True)

    def _lock_timeout(self) -> float:
        # the longest a holder can legitimately take: every attempt timing out after the
        # longest Retry-After we accept, plus slack for the cache write
        s = self.settings
        return (s.timeout + s.max_retry_wait) * (s.max_retries + 1) + 60.0

    def _response(self, call: Call, body: Mapping[str, Any], *, cached: bool) -> Response:
        return Response.from_body(
            body,
            messages=call.messages_tuple or tuple(call.messages),
            prompt_index=call.prompt_index,
            replicate=call.replicate,
            requested_model=self.spec.model,
            cached=cached,
            key=call.key.digest,
        )

    def _replay_message(
        self, calls: Sequence[Call], missing: Sequence[int], context: CallContext
    ) -> str:
        first = calls[missing[0]]
        prompt = next(
            (m.get("content") for m in reversed(first.messages) if m.get("role") == "user"), ""
        )
        text = prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False)
        return (
            f"modelprov: no recorded answer, and record mode is replay "
            f"(from {context.record_mode_source}), so no model is called.\n"
            f"  test:    {context.nodeid}\n"
            f"  model:   {self.spec.model} at {self.spec.display_url} ({self.spec.name})\n"
            f"  prompt:  {excerpt(text)!r} (replicate {first.replicate + 1} of {first.n})\n"
            f"  missing: {len(missing)} of {len(calls)} answers this call needs\n"
            f"  cache:   {self.cache.directory}\n"
            f"Record them with:\n"
            f"  pytest --modelprov-record-mode=once '{context.nodeid}'\n"
            f"or import a cache export with `modelprov cache import FILE`."
        )

    def _note_resolved(self, resolved: str | None, *, cached: bool) -> None:
        if not resolved:
            return
        with self._snap_lock:
            (self._resolved_cached if cached else self._resolved_fresh).add(resolved)
            old, new = self._resolved_cached, self._resolved_fresh
            changed = bool(old and new and (new - old))
            if not changed:
                return
            message = (
                f"model {self.spec.model!r} at {self.spec.display_url} ({self.spec.name}) "
                f"now resolves to {', '.join(sorted(new - old))}; cached answers came from "
                f"{', '.join(sorted(old))}. Mixing snapshots makes comparisons unreliable: pin "
                "the snapshot id, or re-record with --modelprov-record-mode=refresh."
            )
        self.ledger.warn(message)

    # -- HTTP ----------------------------------------------------------------------------

    def sdk(self) -> openai.OpenAI:
        """The openai SDK client of this model (built on first use; the key stays in memory)."""
        return self._sdk_client()

    def _sdk_client(self) -> openai.OpenAI:
        # pytest leaves frames with __tracebackhide__ out of tracebacks, and so out of
        # --tb=long/-l output and JUnit XML: the frames below handle the key
        __tracebackhide__ = True
        if self._sdk is None:
            with self._sdk_lock:
                if self._sdk is None:
                    self._sdk = self._new_sdk()
        return self._sdk

    def _new_sdk(self) -> openai.OpenAI:
        """The SDK client; the key is passed straight through, never held in a local."""
        __tracebackhide__ = True
        import openai

        if self.spec.api_key(self._environ) is None and not is_loopback(self.spec.base_url):
            what = (
                f"the environment variable {self.spec.api_key_env} is not set"
                if self.spec.api_key_env
                else "no variable is named for its key (OPENAI_API_KEY is sent "
                "only to the OpenAI API or OPENAI_BASE_URL)"
            )
            raise ModelCallError(
                f"modelprov: no API key for {self.spec.name} "
                f"({self.spec.model} at {self.spec.display_url}): {what}. Name "
                "the variable with --modelprov-api-key-env, MODELPROV_API_KEY_ENV "
                "or modelprov_api_key_env (references: NAME.api_key_env=VAR)."
            )
        base_url, basic = split_credentials(self.spec.base_url)
        try:
            return openai.OpenAI(
                # the SDK insists on some key, even for a local server that needs none
                api_key=self.spec.api_key(self._environ) or "modelprov-local-no-key",
                base_url=base_url,
                default_headers={"Authorization": basic} if basic else None,
                # our own loop retries; SDK retries would multiply the attempts
                max_retries=0,
                timeout=self.settings.timeout,
                # a redirect to another host would take the key there, and its answer
                # would be cached under this endpoint: redirects are errors (see _attempt)
                http_client=_http_client(self.settings.timeout),
            )
        except Exception as exc:
            # the SDK's frames hold the key as a local: cut them off (from None) and keep
            # only the message, redacted
            del basic
            raise ModelCallError(
                self._redact(
                    f"modelprov: cannot set up the openai client for {self.spec.name} "
                    f"({self.spec.model} at {self.spec.display_url}): "
                    f"{type(exc).__name__}: {exc}"
                )
            ) from None

    def _attempt(self, call: Call, allow_empty: bool = False) -> dict[str, Any]:
        sdk = self._sdk_client()
        # the SDK's generic post, not chat.completions.create: the typed method converts the
        # request and wraps the response (a millisecond of CPU a call, which at 64 calls in
        # flight is what keeps a cold run from its latency bound); auth, base URL, headers
        # and the status errors are the same
        with deadline(self.settings.timeout):  # the whole call, not each read
            response = sdk.post(
                "/chat/completions",
                body=request_body(self.spec, call),
                cast_to=_http_response(sdk),
            )
        content = response.content
        try:
            # strict: a body that is not UTF-8 is a broken response, not an answer to keep;
            # NaN or Infinity (in usage counts, say) become null: the answer is still good
            parsed = json_loads(content.decode("utf-8"), constants="null")
        except UnicodeDecodeError as exc:
            raise InvalidResponse(f"the response body is not valid UTF-8 ({exc})") from None
        except JSONLimitError as exc:
            raise InvalidResponse(
                f"unusable JSON in a {response.status_code} response: {exc}"
            ) from None
        except ValueError:
            raise InvalidResponse(
                f"malformed JSON in a {response.status_code} response: "
                f"{excerpt(content.decode('utf-8', errors='replace'), 120)!r}"
            ) from None
        check_completion(parsed)
        if not allow_empty:
            why = unusable_answer(parsed)
            if why is not None:
                raise InvalidResponse(
                    f"{why} (set modelprov_allow_empty=true to count empty answers)"
                )
        result: dict[str, Any] = parsed
        return result

    def _call_with_retries(
        self, call: Call, allow_empty: bool = False
    ) -> tuple[dict[str, Any], int]:
        import openai

        settings = self.settings
        last = "no attempt made"
        status: int | None = None
        attempts = 0
        prompt_estimate = estimate_prompt_tokens(call.messages)
        for attempt in range(settings.max_retries + 1):
            if HALTED.is_set():
                raise ModelCallError(
                    "modelprov: the pytest-xdist controller is gone; this worker makes no "
                    "more calls"
                )
            attempts = attempt + 1
            wait: float | None = None
            completion_estimate = self.pacer.expected_completion(call.params)
            estimate = prompt_estimate + completion_estimate
            price = self.spec.price
            reserved = price.cost(prompt_estimate, completion_estimate) if price else 0.0
            if self.spending is not None:
                # BudgetExceeded: no retry can help
                self.spending.reserve(self.spec, cost=reserved)
            waited = self.pacer.acquire(estimate)
            if waited:
                self.ledger.add(self.spec.name, self.spec.model, self.spec.display_url,
                                paced=waited)  # fmt: skip
            throttled = False
            answered = False
            try:
                body = self._attempt(call, allow_empty)
                answered = True
            except openai.APIStatusError as exc:
                status = exc.status_code
                last = f"HTTP {status}: {server_message(exc)}"
                throttled = status == 429
                if not throttled:
                    self.pacer.release(estimate)
                if 300 <= status < 400:
                    where = exc.response.headers.get("location", "elsewhere")
                    last = (
                        f"HTTP {status}: the endpoint redirects to {redact_url(where)!r}. "
                        "Redirects are not followed: the API key would go with them and the "
                        "answer would be cached under the configured endpoint. Set the base "
                        "URL to the address the server redirects to."
                    )
                    break
                if not (status in (408, 409, 429) or status >= 500):
                    break
                wait = retry_after_seconds(exc.response.headers)
                if wait is not None and wait > settings.max_retry_wait:
                    last += (
                        f" (the server asked to retry after {wait:g} s, longer than "
                        f"modelprov_max_retry_wait={settings.max_retry_wait:g} s)"
                    )
                    break
            except openai.APITimeoutError:
                self.pacer.release(estimate)
                status, last = None, f"timed out after {settings.timeout:g} s"
            except openai.APIConnectionError as exc:
                self.pacer.release(estimate)
                status, last = None, f"connection failed: {exc.__cause__ or exc}"
            except InvalidResponse as exc:
                self.pacer.release(estimate)
                status, last = 200, str(exc)
            except ModelprovError:
                self.pacer.release(estimate)
                raise
            except Exception as exc:
                # anything else from inside the SDK: its frames hold the key and the
                # request headers as locals, which --tb=long -l and JUnit would print; keep
                # only the message (redacted), never the traceback
                self.pacer.release(estimate)
                last = self._redact(f"{type(exc).__name__}: {excerpt(str(exc), 300)}")
                raise ModelCallError(
                    f"modelprov: call to {self.spec.model} at {self.spec.display_url} "
                    f"({self.spec.name}) failed: {last}",
                    attempts=attempt + 1,
                ) from None
            else:
                usage = Usage.from_body(body.get("usage"))
                self.pacer.settle(estimate, usage.prompt_tokens, usage.completion_tokens)
                return body, attempt
            finally:
                if self.spending is not None:
                    usage = Usage.from_body(body.get("usage")) if answered else Usage()
                    spent = price.cost(usage.prompt_tokens, usage.completion_tokens) if price else 0
                    self.spending.settle(self.spec, reserved, spent)
            if wait is None:
                wait = min(MAX_BACKOFF, settings.retry_backoff * 2**attempt) * (
                    0.5 + random.random() / 2
                )
            if throttled:
                # everyone pauses, not just this thread: the limit is the endpoint's; the
                # next acquire() sleeps through the pause, so this thread does not sleep
                self.pacer.throttled(wait)
                self.ledger.add(self.spec.name, self.spec.model, self.spec.display_url,
                                throttled=1)  # fmt: skip
            if attempt == settings.max_retries:
                break
            self.ledger.add(self.spec.name, self.spec.model, self.spec.display_url, retries=1)
            if not throttled:
                time.sleep(wait)
        message = (
            f"modelprov: call to {self.spec.model} at {self.spec.display_url} "
            f"({self.spec.name}) failed after {attempts} attempt{'s' * (attempts != 1)}: {last}"
        )
        raise ModelCallError(self._redact(message), status=status, attempts=attempts)

    def _redact(self, text: str) -> str:
        __tracebackhide__ = True
        return redact_secrets(text, self.spec, self._environ)


def redact_secrets(text: str, spec: ModelSpec, environ: Mapping[str, str]) -> str:
    """``text`` without the spec's API key, URL password or the Basic token made of them."""
    __tracebackhide__ = True
    for secret in _secrets_of(spec, environ):
        text = text.replace(secret, "***")
    return text


def _secrets_of(spec: ModelSpec, environ: Mapping[str, str]) -> list[str]:
    __tracebackhide__ = True
    found = [spec.api_key(environ) or ""]
    try:
        parts = urlsplit(spec.base_url)
        found += [parts.password or "", unquote(parts.password or "")]
    except ValueError:
        pass
    basic = split_credentials(spec.base_url)[1] if found[1:] and found[1] else None
    if basic:
        found.append(basic.split()[1])
    # a short "secret" (a one-letter password) would blank out ordinary words
    return [s for s in found if len(s) >= 4]


def _http_client(timeout: float) -> Any:
    """The SDK's default HTTP client, without redirects, with a deadline over each call."""
    import openai

    client = openai.DefaultHttpxClient(timeout=timeout, follow_redirects=False)
    install_deadline(client)
    return client


@functools.cache
def _response_class(module: str) -> Any:
    return importlib.import_module(module.partition(".")[0]).Response


def _http_response(sdk: Any) -> Any:
    """The Response class of the HTTP library the SDK runs on (httpx, or httpx2 in newer
    releases): with it as ``cast_to`` the SDK hands back the raw response."""
    # the SDK's client is its own subclass of the library's Client
    for klass in type(sdk._client).__mro__:
        top = klass.__module__.partition(".")[0]
        if top not in ("openai", "builtins"):
            return _response_class(top)
    raise ModelCallError("modelprov: cannot tell which HTTP library the openai SDK uses")


def server_message(exc: Any) -> str:
    """The server's own error message from an SDK status error, cut to 500 characters."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping) and err.get("message"):
            # a proxy may put a whole HTML page here: the failure message quotes, never floods
            return excerpt(str(err["message"]), 500)
    text = ""
    try:
        text = exc.response.text
    except Exception:  # the body may be unreadable; the status line still helps
        text = str(exc)
    return excerpt(text or str(exc), 200)
