"""What the enumeration guard adds on a protected route, and its memory for one heavy reader.

    python -m benchmarks.bench_enumeration [--rounds 15] [--batch 400] [--before REV]
                                           [--million]

Part 1 drives Starlette apps in-process (a prepared ASGI scope, no network), in interleaved
rounds so machine noise hits every variant alike:

* ``bare``: Starlette alone;
* ``engine``: antiscrape's middleware, ``/users/{user_id}`` *not* protected;
* ``matched``: the route protected, but the guard only matches (no storage operations, no
  judging): what the engine and the adapter spend on a protected route besides the guard's
  counting (the fingerprint is hashed only for protected routes, the adapter matches them);
* ``guarded``: the same with ``/users/{user_id}`` protected (``@protect("profile")``), state
  in the memory store (what ``memory://`` opens);
* ``slowapi``: Starlette with slowapi's middleware and a limit on ``/users/{user_id}`` that
  never triggers (``bench_core``'s configuration): the usual rate limiter's cost on the same
  route, for scale;
* ``before`` (with ``--before REV``): ``guarded`` with the enumeration guard, the distinct
  sketch and the memory backend as they were at git revision REV (loaded from ``git show``
  under other module names), so an optimisation is measured side by side with what it
  replaces, in one run. REV's memory backend runs today's op values, so REV must have
  today's ops (from #18 on: no ``DistinctAdd``, one older bucket per counter); for older
  revisions time the whole engine with ``bench_hotpath --before``.

Traffic is allowed browser traffic: 300 clients (IPs on 30 networks, 50 browser builds),
each reading random profiles; the engine's clock moves 0.5 s per request so budgets are
never reached. Each request is timed alone; the table gives medians, and
``guarded - bare`` is the whole engine's added cost on a protected route,
``guarded - engine`` the guard's share.

Part 2 measures the guard's pure steps (match, ops, judge) and the memory backend executing
its ops, per request (and REV's when given).

Part 3 (``--million``) lets one identity read one million distinct profiles through the
guard's ops and the memory backend (no engine, no tracing: the figure is the process's
resident memory, read from ``/proc/self/statm``, and ``sys.getallocatedblocks()`` after read
5 000 and at the end) and reports the storage entries, the sketches' bytes and both growths.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from antiscrape.clock import ManualClock
from antiscrape.config import Config
from antiscrape.decision import Identity
from antiscrape.engine import Engine
from antiscrape.enumeration import EnumerationGuard
from antiscrape.keys import Keys
from antiscrape.request import RequestView, protect
from antiscrape.state.memory import AsyncMemoryStorage, MemoryStorage
from antiscrape.state.sketch import DistinctSketch

from .traffic import cookieless

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
VARIANTS = ("bare", "engine", "matched", "guarded", "slowapi")
ROOT = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path, package_dir: Path | None = None) -> Any:
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(package_dir)] if package_dir else None)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_before(rev: str) -> tuple[type, type]:
    """The guard class and the memory backend class with its sketch, as of git revision
    ``rev`` (the backend calls into the sketch, so both come from the same revision; the
    engine and the op values are today's)."""
    tmp = Path(tempfile.mkdtemp(prefix="antiscrape-before-"))
    atexit.register(shutil.rmtree, tmp, True)  # kept until exit: modules may load lazily
    files = ["enumeration/__init__.py", "enumeration/guard.py", "enumeration/judgement.py",
             "enumeration/matching.py", "state/sketch.py", "state/memory.py"]
    for name in files:
        text = subprocess.run(["git", "show", f"{rev}:antiscrape/{name}"], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text, "utf-8")
    package = _load("antiscrape._enumeration_before", tmp / "enumeration/__init__.py",
                    tmp / "enumeration")
    sketch = _load("antiscrape.state._sketch_before", tmp / "state/sketch.py")
    memory = _load("antiscrape.state._memory_before", tmp / "state/memory.py")
    memory.DistinctSketch = sketch.DistinctSketch  # the backend's one use of the sketch
    return package.EnumerationGuard, memory.MemoryStorage


BEFORE: tuple[type, type] | None = None


class MatchOnly(EnumerationGuard):
    """The guard minus its counting: matches protected reads, asks and concludes nothing."""

    def ops(self, access: Any, identity: Identity, now: float) -> list[Any]:
        return []

    def judge(self, access: Any, identity: Identity, results: Any, *, cleared: bool,
              **_: Any) -> None:
        return None


def build(variant: str, clock: ManualClock) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def user(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"user {request.path_params['user_id']}")

    if variant == "slowapi":
        return slowapi_app(user)
    endpoint = protect("profile")(user) if variant not in ("bare", "engine") else user
    routes = [Route("/users/{user_id:int}", endpoint)]
    if variant == "bare":
        return Starlette(routes=routes)
    from starlette.middleware import Middleware

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    if variant == "before":
        assert BEFORE is not None
        guard_cls, storage_cls = BEFORE
        sync = storage_cls()
        engine = Engine(cookieless({"secret_key": SECRET}), clock=clock, enumeration=None,
                        storage=(sync, AsyncMemoryStorage(sync)))
        engine.enumeration = guard = guard_cls(engine.config, engine.keys)
        if not hasattr(guard, "recorded_statuses"):  # older guards were asked about every status
            guard.recorded_statuses = range(1000)
    elif variant == "matched":
        engine = Engine(cookieless({"secret_key": SECRET}), clock=clock, enumeration=None)
        engine.enumeration = MatchOnly(engine.config, engine.keys)
    else:
        engine = Engine(cookieless({"secret_key": SECRET}), clock=clock)
    return Starlette(routes=routes, middleware=[Middleware(AntiScrapeMiddleware, engine=engine)])


def slowapi_app(user: Any) -> Any:
    """``/users/{user_id}`` limited by slowapi (a limit that never triggers)."""
    from slowapi import Limiter
    from slowapi.middleware import SlowAPIMiddleware
    from slowapi.util import get_remote_address
    from starlette.applications import Starlette
    from starlette.routing import Route

    limiter = Limiter(key_func=get_remote_address, default_limits=["1000000/minute"])

    async def limited_user(request: Any) -> Any:
        return await user(request)

    app = Starlette(routes=[Route("/users/{user_id:int}",
                                  limiter.limit("1000000/minute")(limited_user))])
    app.state.limiter = limiter
    app.add_middleware(SlowAPIMiddleware)
    return app


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


W = TypeVar("W")


async def interleaved(names: Sequence[str], rounds: int, rng: random.Random,
                      work: Callable[[], W],
                      play: Callable[[str, W, list[int]], Awaitable[None]]
                      ) -> dict[str, list[int]]:
    """Time variants side by side: each round makes fresh ``work`` and every variant plays
    it, in a new random order, with the collector off while it plays (a collection would
    land on whichever variant runs then). ``play(name, work, out)`` appends its times."""
    times: dict[str, list[int]] = {name: [] for name in names}
    order = list(names)
    for _ in range(rounds):
        batch = work()
        rng.shuffle(order)
        for name in order:
            gc.collect()
            gc.disable()
            try:
                await play(name, batch, times[name])
            finally:
                gc.enable()
    return times


async def part1(rounds: int, batch: int, variants: tuple[str, ...]) -> dict[str, float]:
    rng = random.Random(7)
    clocks = {v: ManualClock() for v in variants}
    apps = {v: build(v, clocks[v]) for v in variants}
    times: dict[str, list[int]] = {v: [] for v in variants}
    for v in variants:  # warm up caches (UA parsing, routes) outside the measurement
        await run_batch(apps[v], scopes(200, rng), clocks[v], [])
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            work = scopes(batch, rng)
            for v in variants:
                await run_batch(apps[v], work, clocks[v] if v != "bare" else None, times[v])
    finally:
        gc.enable()
    return {v: statistics.median(t) / 1000 for v, t in times.items()}


def guard_and_storage(guard_cls: type = EnumerationGuard,
                      storage_cls: type = MemoryStorage) -> tuple[Any, Any]:
    cfg = Config.load({"secret_key": SECRET,
                       "protect": [{"route": "/users/{user_id}", "kind": "profile"}]})
    return guard_cls(cfg, Keys(cfg.key_prefix, cfg.signing_keys[0])), storage_cls()


STEPS = ("match", "ops", "execute", "judge")


def part2(variants: dict[str, tuple[type, type]], n: int = 50_000,
          chunk: int = 500) -> dict[str, dict[str, float]]:
    """Allowed traffic: 300 IPs (10 on each of 30 networks), 50 fingerprints, random ids.

    Every variant reads the same requests, in interleaved chunks of ``chunk``.
    """
    rng = random.Random(8)
    views = [RequestView("GET", f"/users/{rng.randrange(10**6)}") for _ in range(n)]
    who = [Identity(f"198.51.{i % 30}.{i // 30 % 10}", f"198.51.{i % 30}.0/24", f"fp{i % 50}")
           for i in range(n)]
    built = {name: guard_and_storage(*classes) for name, classes in variants.items()}
    times: dict[str, dict[str, list[int]]] = {name: {k: [] for k in (*STEPS, "ops per request")}
                                              for name in variants}
    perf = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for start in range(0, n, chunk):
            for name, (guard, storage) in built.items():
                t = times[name]
                now = 1_700_000_000.0 + start * 0.5
                for view, ident in zip(views[start:start + chunk], who[start:start + chunk],
                                       strict=True):
                    now += 0.5
                    a = perf()
                    access = guard.match(view)
                    b = perf()
                    ops = guard.ops(access, ident, now)
                    c = perf()
                    results = storage.execute(ops, now)
                    d = perf()
                    verdict = guard.judge(access, ident, results, cleared=False)
                    e = perf()
                    if verdict is not None:
                        raise SystemExit(f"part 2 is meant to be allowed traffic: {verdict}")
                    t["match"].append(b - a)
                    t["ops"].append(c - b)
                    t["execute"].append(d - c)
                    t["judge"].append(e - d)
                    t["ops per request"].append(len(ops) * 1000)
    finally:
        gc.enable()
    return {name: {k: statistics.median(v) / 1000 for k, v in t.items()}
            for name, t in times.items()}


def resident_bytes() -> int:
    """The process's resident memory (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sketch_bytes(storage: Any) -> int:
    """What the distinct counters of a memory store hold (``DistinctSketch.nbytes`` summed)."""
    return sum(e[1].nbytes for e in storage._data.values() if isinstance(e[1], DistinctSketch))


def part3(storage_cls: type, n: int = 1_000_000) -> dict[str, float]:
    """One identity reads ``n`` distinct profiles; memory after the first 5 000 and at the end."""
    guard, storage = guard_and_storage(storage_cls=storage_cls)
    who = Identity("203.0.113.80", "203.0.113.0/24", "fp")
    access = guard.match(RequestView("GET", "/users/1"))
    assert access is not None
    kind, route = access.kind, access.route
    now = 1_700_000_000.0
    make, ops, execute = type(access), guard.ops, storage.execute
    started = time.perf_counter()
    baseline = blocks = 0
    for i in range(n):
        if i == 5_000:
            gc.collect()
            baseline, blocks = resident_bytes(), sys.getallocatedblocks()
        execute(ops(make(kind, str(i * 7 + 3), None, route), who, now), now)
        now += 0.05  # one million reads over 14 hours
    elapsed = time.perf_counter() - started
    gc.collect()
    grown = resident_bytes() - baseline
    blocks = sys.getallocatedblocks() - blocks
    sketches = sketch_bytes(storage)
    return {"reads": n, "storage entries": len(storage), "sketch KiB": sketches / 1024,
            "RSS growth KiB": grown / 1024, "Python blocks gained": blocks,
            "µs per read": elapsed / n * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--before", metavar="REV",
                        help="also measure the guard, sketch and memory backend of this git "
                             "revision")
    parser.add_argument("--million", action="store_true", help="run part 3 (slow)")
    parser.add_argument("--reads", type=int, default=50_000,
                        help="protected reads timed step by step in part 2")
    args = parser.parse_args()
    global BEFORE
    variants = VARIANTS
    if args.before:
        BEFORE = load_before(args.before)
        variants = (*VARIANTS, "before")
    med = asyncio.run(part1(args.rounds, args.batch, variants))
    n = args.rounds * args.batch
    print(f"Part 1: Starlette, {n} allowed requests per variant, median µs per request")
    for v in variants:
        print(f"  {v:8} {med[v]:7.1f}")
    print(f"  added by the whole engine on a protected route: {med['guarded'] - med['bare']:.1f}")
    print(f"  of which the enumeration guard: {med['guarded'] - med['engine']:.1f}")
    print(f"    matching and the engine's extra work: {med['matched'] - med['engine']:.1f}")
    print(f"    counting and judging: {med['guarded'] - med['matched']:.1f}")
    print(f"  added by slowapi on the same route: {med['slowapi'] - med['bare']:.1f}")
    if BEFORE is not None:
        print(f"  the guard at {args.before}: {med['before'] - med['engine']:.1f} "
              f"(counting and judging {med['before'] - med['matched']:.1f})")
    print("Part 2: the guard's steps, median µs per request")
    classes = {"today": (EnumerationGuard, MemoryStorage)}
    if BEFORE is not None:
        classes[args.before] = BEFORE
    steps = part2(classes, n=args.reads, chunk=min(500, args.reads))
    print("  " + " " * 16 + "".join(f"{name:>10}" for name in steps))
    for k in (*STEPS, "ops per request"):
        print(f"  {k:16}" + "".join(f"{steps[name][k]:10.2f}" for name in steps))
    print(f"  {'sum of steps':16}" + "".join(
        f"{sum(steps[name][k] for k in STEPS):10.2f}" for name in steps))
    if args.million:
        print("Part 3: one identity reads one million distinct profiles")
        figures = {"today": part3(MemoryStorage)}
        print("  " + " " * 22 + "".join(f"{name:>11}" for name in figures))
        for k in figures["today"]:
            print(f"  {k:22}" + "".join(f"{figures[name][k]:11.1f}" for name in figures))


if __name__ == "__main__":
    main()
