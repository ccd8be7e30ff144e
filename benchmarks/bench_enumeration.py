"""What the enumeration guard adds on a protected route, and its memory for one heavy reader.

    python -m benchmarks.bench_enumeration [--rounds 15] [--batch 400] [--million]

Part 1 drives three Starlette apps in-process (a prepared ASGI scope, no network), in
interleaved rounds so machine noise hits every variant alike:

* ``bare``: Starlette alone;
* ``engine``: antiscrape's middleware, ``/users/{user_id}`` *not* protected;
* ``guarded``: the same with ``/users/{user_id}`` protected (``@protect("profile")``).

Traffic is allowed browser traffic: 300 clients (IPs on 30 networks, 50 browser builds),
each reading random profiles; the engine's clock moves 0.5 s per request so budgets are
never reached. Each request is timed alone; the table gives medians, and
``guarded - bare`` is the whole engine's added cost on a protected route,
``guarded - engine`` the guard's share.

Part 2 measures the guard's pure steps (match, ops, judge) and the memory backend executing
its ops, per request.

Part 3 (``--million``) lets one identity read one million distinct profiles through the
guard and the memory backend and reports the entries and the traced heap afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
import tracemalloc
from typing import Any

from antiscrape.clock import ManualClock
from antiscrape.config import Config
from antiscrape.decision import Identity
from antiscrape.engine import Engine
from antiscrape.enumeration import EnumerationGuard
from antiscrape.keys import Keys
from antiscrape.request import RequestView, protect
from antiscrape.state.memory import MemoryStorage

SECRET = "bench-secret-0123456789abcdef-0123456789"
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")
HEADERS = [
    (b"host", b"shop.example"), (b"user-agent", UA.encode()),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"accept-language", b"en-GB,en;q=0.9"), (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"sec-fetch-mode", b"navigate"), (b"sec-fetch-site", b"none"),
    (b"sec-fetch-dest", b"document"), (b"upgrade-insecure-requests", b"1"),
]
VARIANTS = ("bare", "engine", "guarded")


def build(variant: str, clock: ManualClock) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def user(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"user {request.path_params['user_id']}")

    endpoint = protect("profile")(user) if variant == "guarded" else user
    routes = [Route("/users/{user_id:int}", endpoint)]
    if variant == "bare":
        return Starlette(routes=routes)
    from starlette.middleware import Middleware

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    engine = Engine({"secret_key": SECRET}, clock=clock)
    return Starlette(routes=routes, middleware=[Middleware(AntiScrapeMiddleware, engine=engine)])


def browser(n: int) -> list[tuple[bytes, bytes]]:
    """Client n's headers: one of 50 browser builds (so 50 fingerprints)."""
    ua = UA.replace("Chrome/131.0.0.0", f"Chrome/131.0.{6700 + n % 50}.0").encode()
    return [(k, ua if k == b"user-agent" else v) for k, v in HEADERS]


BROWSERS = [browser(n) for n in range(300)]


def scopes(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        client = rng.randrange(300)
        ip = f"198.51.{client % 30}.{client // 30}"
        out.append({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                    "method": "GET", "scheme": "http", "path": f"/users/{rng.randrange(10**6)}",
                    "raw_path": b"", "query_string": b"", "root_path": "",
                    "headers": BROWSERS[client], "client": (ip, 40000),
                    "server": ("shop", 80)})
    return out


async def run_batch(app: Any, batch: list[dict[str, Any]], clock: ManualClock | None,
                    out: list[int]) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    perf = time.perf_counter_ns
    for scope in batch:
        if clock is not None:
            clock.now += 0.5
        start = perf()
        await app(dict(scope), receive, send)
        out.append(perf() - start)
    if any(s != 200 for s in statuses):
        raise SystemExit(f"unexpected statuses: {sorted(set(statuses))}")


async def part1(rounds: int, batch: int) -> dict[str, float]:
    rng = random.Random(7)
    clocks = {v: ManualClock() for v in VARIANTS}
    apps = {v: build(v, clocks[v]) for v in VARIANTS}
    times: dict[str, list[int]] = {v: [] for v in VARIANTS}
    for v in VARIANTS:  # warm up caches (UA parsing, routes) outside the measurement
        await run_batch(apps[v], scopes(200, rng), clocks[v], [])
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            work = scopes(batch, rng)
            for v in VARIANTS:
                await run_batch(apps[v], work, clocks[v] if v != "bare" else None, times[v])
    finally:
        gc.enable()
    return {v: statistics.median(t) / 1000 for v, t in times.items()}


def guard_and_storage() -> tuple[EnumerationGuard, MemoryStorage]:
    cfg = Config.load({"secret_key": SECRET,
                       "protect": [{"route": "/users/{user_id}", "kind": "profile"}]})
    return EnumerationGuard(cfg, Keys(cfg.key_prefix, cfg.signing_keys[0])), MemoryStorage()


def part2(n: int = 50_000) -> dict[str, float]:
    guard, storage = guard_and_storage()
    rng = random.Random(8)
    views = [RequestView("GET", f"/users/{rng.randrange(10**6)}") for _ in range(n)]
    who = [Identity(f"198.51.{i % 30}.{i % 10}", f"198.51.{i % 30}.0/24", f"fp{i % 50}")
           for i in range(n)]
    perf = time.perf_counter_ns
    now = 1_700_000_000.0
    t_match, t_ops, t_exec, t_judge, n_ops = [], [], [], [], []
    for view, ident in zip(views, who, strict=True):
        now += 0.5
        a = perf()
        access = guard.match(view)
        b = perf()
        ops = guard.ops(access, ident, now)  # type: ignore[arg-type]
        c = perf()
        results = storage.execute(ops, now)
        d = perf()
        guard.judge(access, ident, results, cleared=False)  # type: ignore[arg-type]
        e = perf()
        t_match.append(b - a)
        t_ops.append(c - b)
        t_exec.append(d - c)
        t_judge.append(e - d)
        n_ops.append(len(ops))
    med = statistics.median
    return {"match": med(t_match) / 1000, "ops": med(t_ops) / 1000,
            "execute": med(t_exec) / 1000, "judge": med(t_judge) / 1000,
            "ops per request": med(n_ops)}


def part3(n: int = 1_000_000) -> dict[str, float]:
    guard, storage = guard_and_storage()
    who = Identity("203.0.113.80", "203.0.113.0/24", "fp")
    access = guard.match(RequestView("GET", "/users/1"))
    assert access is not None
    kind, route = access.kind, access.route
    now = 1_700_000_000.0
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    for i in range(n):
        a = type(access)(kind, str(i * 7 + 3), None, route)
        storage.execute(guard.ops(a, who, now), now)
        now += 0.05  # one million reads over 14 hours
    elapsed = time.perf_counter() - started
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"reads": n, "entries": len(storage), "heap KiB": current / 1024,
            "peak KiB": peak / 1024, "µs per read (traced)": elapsed / n * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--million", action="store_true", help="run part 3 (slow)")
    args = parser.parse_args()
    med = asyncio.run(part1(args.rounds, args.batch))
    n = args.rounds * args.batch
    print(f"Part 1: Starlette, {n} allowed requests per variant, median µs per request")
    for v in VARIANTS:
        print(f"  {v:8} {med[v]:7.1f}")
    print(f"  added by the whole engine on a protected route: {med['guarded'] - med['bare']:.1f}")
    print(f"  of which the enumeration guard: {med['guarded'] - med['engine']:.1f}")
    print("Part 2: the guard's steps, median µs per request")
    for k, v in part2().items():
        print(f"  {k:16} {v:6.2f}")
    if args.million:
        print("Part 3: one identity reads one million distinct profiles")
        for k, v in part3().items():
            print(f"  {k:22} {v:10.1f}")


if __name__ == "__main__":
    main()
