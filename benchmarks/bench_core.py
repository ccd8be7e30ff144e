"""What antiscrape adds per request on Starlette, next to slowapi; and state under IP rotation.

    python -m benchmarks.bench_core [--rounds 20] [--batch 400] [--memory-ips 1000000]

Three ASGI apps are driven in-process (a prepared scope, no network, no HTTP client), in
interleaved rounds so machine noise hits every variant alike:

* bare Starlette;
* Starlette + antiscrape (default config, ``AntiScrapeMiddleware``);
* Starlette + slowapi (a limit that never triggers, its own middleware and decorator).

Traffic: browser headers (Chrome on Linux) from 500 client IPs on ``/`` - allowed traffic.
A second run repeats the comparison with a never-seen User-Agent on every request (the cost
of classifying a new string: parsing, the crawler list, the automation list).

Each request is timed alone (``perf_counter_ns`` around the ASGI call); the tables give
median and p99 per variant and the median added over the bare app.

Memory: ``--memory-ips`` distinct client IPs (default one million) go through the engine;
the memory backend must stay at its configured cap (``state_cap``) and the process's peak
resident size is reported, with what one full garbage collection costs with that full store
next to the same process without it (best of three each): a full collection walks every
object the collector tracks, so state it has to walk becomes a pause for whichever request
triggers one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from antiscrape.clock import ManualClock
from antiscrape.engine import Engine
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from antiscrape.request import RequestView
from tests.browsers import CHROME

SECRET = "bench-secret-0123456789abcdef-0123456789"
# The same Chrome request the tests use, as ASGI header pairs.
BROWSER = [(name.encode(), value.encode()) for name, value in CHROME.items()]


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


def bare_app() -> Any:
    return Starlette(routes=[Route("/", home)])


def antiscrape_app(clock: ManualClock) -> Any:
    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(AntiScrapeMiddleware, config={"secret_key": SECRET}, clock=clock)
    return app


def slowapi_app() -> Any:
    from slowapi import Limiter
    from slowapi.middleware import SlowAPIMiddleware
    from slowapi.util import get_remote_address

    limiter = Limiter(key_func=get_remote_address, default_limits=["1000000/minute"])

    async def limited_home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("home")

    app = Starlette(routes=[Route("/", limiter.limit("1000000/minute")(limited_home))])
    app.state.limiter = limiter
    app.add_middleware(SlowAPIMiddleware)
    return app


def scope_for(app: Any, ip: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": "/", "raw_path": b"/",
            "query_string": b"", "root_path": "", "headers": headers,
            "client": (ip, 50000), "server": ("shop.example", 80)}


async def call(app: Any, scope: dict[str, Any]) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def fresh_ua(i: int) -> bytes:
    return (f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{100 + i % 31}.0.{i}.{i % 97} Safari/537.36").encode()


HeadersFor = Callable[[int], list[tuple[bytes, bytes]]]


async def run_rounds(apps: dict[str, Any], clock: ManualClock, rounds: int, batch: int,
                     headers_for: HeadersFor) -> dict[str, list[int]]:
    ips = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(500)]
    times: dict[str, list[int]] = {name: [] for name in apps}
    counter = 0
    for _ in range(rounds):
        order = list(apps.items())
        random.shuffle(order)
        for name, app in order:
            gc.collect()
            for _ in range(batch):
                counter += 1
                clock.advance(0.05)
                scope = scope_for(app, ips[counter % len(ips)], headers_for(counter))
                t0 = time.perf_counter_ns()
                status = await call(app, scope)
                times[name].append(time.perf_counter_ns() - t0)
                if status != 200:
                    raise SystemExit(f"{name}: unexpected status {status}")
    return times


def table(title: str, times: dict[str, list[int]]) -> None:
    base = statistics.median(times["bare"]) / 1000
    print(f"\n{title}")
    print(f"{'variant':<14}{'median µs':>11}{'p99 µs':>10}{'added µs':>10}{'ratio':>8}")
    for name, values in times.items():
        values = sorted(values)
        med = statistics.median(values) / 1000
        p99 = values[int(len(values) * 0.99)] / 1000
        print(f"{name:<14}{med:>11.1f}{p99:>10.1f}{med - base:>10.1f}{med / base:>8.2f}")


def memory_run(n: int) -> None:
    clock = ManualClock()
    engine = Engine({"secret_key": SECRET, "state_cap": 200_000}, clock=clock)
    headers = {k.decode(): v.decode() for k, v in BROWSER}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    for i in range(n):
        clock.advance(0.001)
        ip = f"{10 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        engine.inspect(RequestView("GET", "/", headers, ip))
    elapsed = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    storage = engine.storage
    print(f"\nmemory: {n:,} distinct IPs in {elapsed:.1f} s; state entries {len(storage):,} "
          f"(cap {storage.cap:,}, evicted {storage.evictions:,}); "
          f"peak RSS {rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MiB")
    full = full_collection_ms()
    storage.close()  # the same process, the store emptied
    print(f"one full garbage collection: {full:.1f} ms with the store full, "
          f"{full_collection_ms():.1f} ms without it")


def full_collection_ms() -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        gc.collect()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--memory-ips", type=int, default=1_000_000)
    args = parser.parse_args()
    clock = ManualClock()
    apps = {"bare": bare_app(), "antiscrape": antiscrape_app(clock), "slowapi": slowapi_app()}
    for app in apps.values():  # warm caches and lazily built automata
        for i in range(200):
            await call(app, scope_for(app, f"192.0.2.{i % 200 + 1}", BROWSER))
    table("allowed traffic, browser headers, 500 client IPs",
          await run_rounds(apps, clock, args.rounds, args.batch, lambda i: BROWSER))
    table("every request with a never-seen User-Agent",
          await run_rounds(apps, clock, max(4, args.rounds // 2), args.batch,
                           lambda i: [BROWSER[0], (b"user-agent", fresh_ua(i)), *BROWSER[2:]]))
    if args.memory_ips:
        memory_run(args.memory_ips)


if __name__ == "__main__":
    asyncio.run(main())
