"""Warm-run cost per cached call: the plugin against a bare diskcache get and vcrpy replay.

Run: python benchmarks/bench_warm_cache.py [--calls 200] [--rounds 41] [--vcr-rounds 3]

One run, the same N recorded chat calls (2 KB answers) measured four ways, medians over
rounds, in microseconds per call:

- floor:   ``diskcache.Cache.get`` of the stored entries (what any disk cache pays);
- plugin:  what a test pays per cached answer: key derivation (``plan_calls``), lookup,
           decoding, building the Response objects, and reading ``.answer`` of each;
- vcrpy:   the same N calls through the real openai SDK, replayed from a cassette recorded
           once against the local server (``record_mode="none"``); the cassette is loaded
           inside the timed region, as a test using it would; with the default matchers
           and with the body matched too (needs ``pip install 'vcrpy>=9.4'``, the first
           release known here to intercept httpx2; skipped with a message otherwise);
- live:    the same calls sent to the in-process loopback server, for context.

Targets (issue 7): plugin <= 2x the bare get, and >= 500x faster than cassette replay.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diskcache
import openai

import pytest_modelprov
from pytest_modelprov.calls.client import plan_calls
from pytest_modelprov.config import ModelSpec, Sources, resolve
from pytest_modelprov.session import ModelProvSession
from pytest_modelprov.testing.script import Script
from pytest_modelprov.testing.server import LocalServer

ANSWER = ("The keeper wound the clock, trimmed the wick and wrote the weather down. " * 28)[:2000]
TARGET_VS_BARE = 2.0
TARGET_VS_VCR = 500.0


def median_per_call(run: Callable[[], None], calls: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def sdk_calls(client: openai.OpenAI, prompts: list[str]) -> None:
    for prompt in prompts:
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": prompt}], temperature=0.7
        )
        assert completion.choices[0].message.content == ANSWER


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="recorded calls (default 200)")
    parser.add_argument("--rounds", type=int, default=41, help="rounds of bare/plugin timing")
    parser.add_argument("--vcr-rounds", type=int, default=3, help="rounds of vcrpy and live")
    args = parser.parse_args()
    n = args.calls
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    print(f"package: {Path(pytest_modelprov.__file__).parent}")

    with tempfile.TemporaryDirectory() as tmp, LocalServer(Script(default_answer=ANSWER)) as server:
        environ = {"MODELPROV_CACHE_DIR": str(Path(tmp) / "cache")}
        settings = resolve(
            Sources(cli=lambda o: None, ini=lambda o: None, environ=environ), Path(tmp)
        )
        session = ModelProvSession(settings, environ=environ)
        spec = ModelSpec(name="bench", model="m", base_url=server.url, params={"temperature": 0.7})
        prompts = [f"Tell me about the lighthouse, part {i}." for i in range(n)]
        session.sample(spec, plan_calls(spec, prompts, 1, {}), "bench")  # record
        assert server.request_count == n
        digests = [c.key.digest for c in plan_calls(spec, prompts, 1, {})]
        bare = diskcache.Cache(str(settings.cache_dir), eviction_policy="none")
        entry_bytes = len(bare.get(digests[0]))

        def run_bare() -> None:
            for d in digests:
                bare.get(d)

        def run_plugin() -> None:
            responses = session.sample(spec, plan_calls(spec, prompts, 1, {}), "bench")
            # what a test does with them; a lazily decoded Response pays here
            for r in responses:
                if r.answer is None:
                    raise AssertionError("no answer")

        planned = plan_calls(spec, prompts, 1, {})

        def run_plan() -> None:
            plan_calls(spec, prompts, 1, {})

        def run_sample() -> None:
            for r in session.sample(spec, planned, "bench"):
                if r.answer is None:
                    raise AssertionError("no answer")

        run_bare()  # warm both: sqlite pages, imports
        run_plugin()
        bare_t: list[float] = []
        plugin_t: list[float] = []
        plan_t: list[float] = []
        sample_t: list[float] = []
        for _ in range(args.rounds):  # interleaved: machine noise hits both sides alike
            bare_t.append(median_per_call(run_bare, n, 1))
            plugin_t.append(median_per_call(run_plugin, n, 1))
            plan_t.append(median_per_call(run_plan, n, 1))
            sample_t.append(median_per_call(run_sample, n, 1))
        assert server.request_count == n, "the warm path made HTTP requests"
        answers = [r.answer for r in session.sample(spec, plan_calls(spec, prompts, 1, {}), "b")]
        assert answers == [ANSWER] * n, "the warm path returned other answers"
        bare.close()
        session.close()
        b, p = statistics.median(bare_t), statistics.median(plugin_t)
        # each round's two sides ran back to back: their ratio is what load drift spares
        ratio = statistics.median(x / y for x, y in zip(plugin_t, bare_t, strict=True))
        plan, sample = statistics.median(plan_t), statistics.median(sample_t)

        client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
        sdk_calls(client, prompts[:5])  # connection and SDK warm-up
        before = server.request_count
        live = median_per_call(lambda: sdk_calls(client, prompts), n, args.vcr_rounds)
        assert server.request_count == before + n * args.vcr_rounds

        vcr = vcr_replay(client, server, prompts, Path(tmp), args.vcr_rounds)
        client.close()

    print(f"entries: {n}, entry size {entry_bytes} bytes, answer {len(ANSWER)} chars, medians")
    print(f"  bare diskcache get       : {b * 1e6:10.1f} us/call   ({args.rounds} rounds)")
    print(f"  plugin cached call       : {p * 1e6:10.1f} us/call   (plan + get + decode + .answer)")
    print(f"    of which plan_calls    : {plan * 1e6:10.1f} us/call   (key derivation alone)")
    print(
        f"    of which sample()      : {sample * 1e6:10.1f} us/call   "
        "(lookup, decode, Response, .answer)"
    )
    if vcr is not None:
        default, body = vcr
        print(f"  vcrpy replay (openai SDK): {default * 1e6:10.1f} us/call   (default match_on)")
        print(f"  vcrpy replay, match body : {body * 1e6:10.1f} us/call   (match_on += body)")
    print(f"  live loopback call       : {live * 1e6:10.1f} us/call   (in-process server)")
    print("ratios")
    print(
        f"  plugin / bare get        : {ratio:10.2f}x   target <= {TARGET_VS_BARE:g}x   "
        f"{verdict(ratio <= TARGET_VS_BARE)}"
    )
    if vcr is not None:
        print(
            f"  vcrpy / plugin           : {vcr[0] / p:10.0f}x   target >= {TARGET_VS_VCR:g}x  "
            f"{verdict(vcr[0] / p >= TARGET_VS_VCR)}   (against the faster vcrpy setting)"
        )
        print(
            f"  vcrpy body / plugin      : {vcr[1] / p:10.0f}x   target >= {TARGET_VS_VCR:g}x  "
            f"{verdict(vcr[1] / p >= TARGET_VS_VCR)}   (vcrpy matching what the plugin keys on)"
        )
        # the most any cache can reach: a plugin as cheap as the bare get itself
        print(f"  vcrpy / bare get         : {vcr[0] / b:10.0f}x   (ceiling of vcrpy / plugin)")
    else:
        print(
            "  vcrpy / plugin           : skipped (vcrpy not installed)   "
            f"target >= {TARGET_VS_VCR:g}x"
        )
    print(f"  live / plugin            : {live / p:10.0f}x")
    print("HTTP requests while warm or replaying cassettes: 0 (asserted)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def vcr_replay(
    client: openai.OpenAI, server: LocalServer, prompts: list[str], tmp: Path, rounds: int
) -> tuple[float, float] | None:
    """Median per-call replay time with default matchers and with body matching added."""
    try:
        vcr: Any = importlib.import_module("vcr")  # optional: pip install 'vcrpy>=9.4'
    except ImportError:
        print("vcrpy part SKIPPED: vcrpy is not installed (pip install 'vcrpy>=9.4' to compare)")
        return None
    results = []
    for name, match_on in (
        ("default", ("method", "scheme", "host", "port", "path", "query")),
        ("body", ("method", "scheme", "host", "port", "path", "query", "body")),
    ):
        cassette = tmp / f"{name}.yaml"
        recorder: Any = vcr.VCR(record_mode="once", match_on=match_on)
        with recorder.use_cassette(str(cassette)):
            sdk_calls(client, prompts)
        player: Any = vcr.VCR(record_mode="none", match_on=match_on)
        before = server.request_count

        def replay(player: Any = player, cassette: Path = cassette) -> None:
            with player.use_cassette(str(cassette)):  # loads the YAML, as each test would
                sdk_calls(client, prompts)

        results.append(median_per_call(replay, len(prompts), rounds))
        assert server.request_count == before, "a cassette replay reached the server"
    return results[0], results[1]


if __name__ == "__main__":
    raise SystemExit(main())
