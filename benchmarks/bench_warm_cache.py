"""Warm-run cost: the plugin's per-cached-call cost against a bare diskcache get.

Run: python benchmarks/bench_warm_cache.py [--calls 200] [--rounds 15]

Both sides read the same entries from the same cache directory in the same run. The
plugin side is what a test pays per cached answer: planning (key derivation), the lookup,
decoding the JSON entry and building the Response. The bare side is diskcache's `get` of
the stored bytes: the floor.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import diskcache

from pytest_modelprov.client import plan_calls
from pytest_modelprov.config import ModelSpec, Sources, resolve
from pytest_modelprov.server import LocalServer, Script
from pytest_modelprov.session import ModelProvSession

ANSWER = ("The keeper wound the clock, trimmed the wick and wrote the weather down. " * 28)[:2000]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalServer(Script(default_answer=ANSWER)) as server:
        environ = {"MODELPROV_CACHE_DIR": str(Path(tmp) / "cache")}
        settings = resolve(
            Sources(cli=lambda o: None, ini=lambda o: None, environ=environ), Path(tmp)
        )
        session = ModelProvSession(settings, environ=environ)
        spec = ModelSpec(name="bench", model="m", base_url=server.url, params={"temperature": 0.7})
        prompts = [f"Tell me about the lighthouse, part {i}." for i in range(args.calls)]
        session.sample(spec, plan_calls(spec, prompts, 1, {}), "bench")  # record
        assert server.request_count == args.calls
        digests = [c.key.digest for c in plan_calls(spec, prompts, 1, {})]
        bare = diskcache.Cache(settings.cache_dir, eviction_policy="none")
        entry_bytes = len(bare.get(digests[0]))

        def time_bare() -> float:
            start = time.perf_counter()
            for d in digests:
                bare.get(d)
            return (time.perf_counter() - start) / len(digests)

        def time_plugin() -> float:
            start = time.perf_counter()
            session.sample(spec, plan_calls(spec, prompts, 1, {}), "bench")
            return (time.perf_counter() - start) / len(prompts)

        time_bare(), time_plugin()  # warm both
        bare_t, plugin_t = [], []
        for _ in range(args.rounds):
            bare_t.append(time_bare())
            plugin_t.append(time_plugin())
        assert server.request_count == args.calls, "the warm path made HTTP requests"
        b, p = statistics.median(bare_t), statistics.median(plugin_t)
        print(
            f"entries: {args.calls}, entry size {entry_bytes} bytes, rounds {args.rounds} (medians)"
        )
        print(f"bare diskcache get      : {b * 1e6:8.1f} us/call")
        print(f"plugin cached call      : {p * 1e6:8.1f} us/call")
        print(f"ratio plugin / bare get : {p / b:8.2f}x")
        print(f"HTTP requests while warm: {server.request_count - args.calls}")
        bare.close()
        session.close()


if __name__ == "__main__":
    main()
