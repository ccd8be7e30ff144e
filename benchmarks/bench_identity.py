"""What the visitor identity costs on a protected read, and how many round trips it takes.

    python -m benchmarks.bench_identity [--rounds 15] [--batch 400] [--redis URL]

Two engines, in interleaved rounds so machine noise hits both alike, on the same traffic:
allowed browser reads of random profiles (``/users/{user_id}`` protected) by 300 clients
(IPs on 30 networks, 50 browser builds), the engine's clock moving 0.5 s a request so no
budget is reached:

* ``today``: visitors off (``visitor.enabled = false``): the protected read as it was before
  the visitor identity (address, fingerprint and network levels);
* ``visitor``: visitors on, every client a regular, established visitor presenting its
  cookie (minted two days before: the visitor level counted instead of its IP, the people
  behind its address);
* ``young``: the same with cookies minted an hour before, visitors new today
  (``visitor.young_for``): their reads also count in the site guard's rate of newcomers'
  reads.

Every visitor's reads also count in the guard's rate of reads by visitors without a
clearance (and a young one's in the rate of newcomers' reads), each worker sending them
eight at a time. The guard's floors for visitors' reads are raised out of reach here (a
run sends thousands of reads in simulated minutes, which a guard rightly holds), so that the
reads are timed being served, not held; the counting is timed all the same.

The clock starts just before a week boundary (see ``START``): the warm-up crosses it, so the
timed rounds see every window in its steady state. Each request is ``Engine.inspect`` alone
(no framework), timed one by one; the table gives
medians and ``visitor / today``. With ``--redis`` the same runs against Redis, and each
request's storage calls are counted: one ``execute`` is one script call, one round trip.

Then the same traffic through Starlette (``bench_hotpath``'s app, the real middleware, a
bare app beside it, in-memory state): what a protected read costs the application is its
time over the bare app's, and the table gives that added time for both engines and their
ratio. The engine-alone ratio is the stricter one (it leaves out the adapter's work, which
both variants share); both are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Sequence
from typing import Any

from antiscrape.clock import ManualClock
from antiscrape.engine import Engine
from antiscrape.request import RequestView
from antiscrape.state import AsyncMemoryStorage, MemoryStorage, open_storage

from .traffic import SERVED_GUARD, visitor_cookie

STEP = 0.5
SECRET = "bench-identity-secret-key-0123456789"
PROTECT = [{"route": "/users/{user_id}", "kind": "profile"}]
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.{}.0 Safari/537.36")


class Counting:
    """A storage wrapper counting ``execute`` calls (round trips on Redis)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def execute(self, ops: Sequence[Any], now: float) -> list[Any]:
        self.calls += 1
        return self.inner.execute(ops, now)

    def close(self) -> None:
        self.inner.close()


WEEK = 604_800
START = 2_813 * WEEK - 1_200
"""20 minutes before a week boundary (every day and 10-minute bucket turns over there too):
the warm-up crosses it, so every distinct counter of both variants is then counted together
with its previous bucket, as on a site that has run for more than a week. (Started anywhere
else, the run would compare a visitor's 10-minute windows, which turn over, with address
windows of a day or a week that never reach their second bucket.)"""


VARIANTS: dict[str, dict[str, Any]] = {
    "today": {"visitor": {"enabled": False}},
    "visitor": {"guard": SERVED_GUARD},
    "young": {"guard": SERVED_GUARD},
}
"""Each variant's config beside the shared one."""
AGE = {"visitor": 2 * 86_400, "young": 3_600}
"""How old each variant's visitor cookies are when the run starts (seconds)."""


def build(variant: str, storage: str | None) -> tuple[Engine, Counting, ManualClock]:
    clock = ManualClock(START)
    if storage is None:
        inner: Any = MemoryStorage(cap=200_000)
        astore: Any = AsyncMemoryStorage(inner)
    else:
        inner, astore = open_storage(storage, cap=200_000, prefix=f"bench-id-{variant}",
                                     timeout=1.0, options={"clock": "caller"})
    store = Counting(inner)
    engine = Engine({"secret_key": SECRET, "protect": PROTECT, **VARIANTS[variant]},
                    clock=clock, storage=(store, astore))
    return engine, store, clock


def clients(engine: Engine | None, variant: str) -> list[tuple[str, dict[str, str]]]:
    """300 (peer, headers); with visitors each presents its own established cookie (minted
    by ``engine``; a variant without visitors needs none)."""
    out = []
    for n in range(300):
        headers = {"user-agent": CHROME.format(6000 + n % 50), "accept": "text/html",
                   "accept-language": "en", "accept-encoding": "gzip",
                   "sec-fetch-mode": "navigate", "host": "shop.example"}
        if variant in AGE:
            assert engine is not None
            headers["cookie"] = visitor_cookie(engine, engine.clock() - AGE[variant])
        out.append((f"198.51.{n % 30}.{n // 30 + 1}", headers))
    return out


def run_round(engine: Engine, clock: ManualClock, who: list[tuple[str, dict[str, str]]],
              batch: int, rng: random.Random) -> list[float]:
    times = []
    for _ in range(batch):
        peer, headers = rng.choice(who)
        view = RequestView("GET", f"/users/{rng.randrange(1, 1_000_000)}", headers, peer,
                           route="/users/{user_id}")
        started = time.perf_counter()
        decision = engine.inspect(view)
        times.append(time.perf_counter() - started)
        assert decision.action.value == "allow", decision.reason
        clock.advance(STEP)
    return times


def measure(storage: str | None, rounds: int, batch: int) -> dict[str, Any]:
    variants = {}
    for name in VARIANTS:
        engine, store, clock = build(name, storage)
        variants[name] = (engine, store, clock, clients(engine, name), [])
    rng = random.Random(5)
    for engine, _, clock, who, _ in variants.values():  # warm caches, not timed
        while clock() < START + 1_800:  # past the week boundary, see START
            run_round(engine, clock, who, batch, rng)
    calls_per_request = {}
    for _ in range(rounds):
        for name, (engine, store, clock, who, times) in variants.items():
            before = store.calls
            times += run_round(engine, clock, who, batch, rng)
            calls_per_request[name] = (store.calls - before) / batch
    out = {name: statistics.median(v[4]) * 1e6 for name, v in variants.items()}
    out["ratio"] = out["visitor"] / out["today"]
    out["young ratio"] = out["young"] / out["today"]
    out["calls"] = calls_per_request
    for _engine, store, *_ in variants.values():
        store.close()
    return out


def scope(peer: str, headers: dict[str, str], path: str) -> dict[str, Any]:
    """An ASGI scope of one protected read."""
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": b"",
            "query_string": b"", "root_path": "", "client": (peer, 40000),
            "server": ("shop.example", 80),
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}


def starlette_variant(variant: str) -> tuple[Any, ManualClock, list[tuple[str, dict[str, str]]]]:
    """(the Starlette shop app, its clock, its clients) of a variant, or of the bare app
    (``"bare"``: no middleware, today's cookieless clients)."""
    from .bench_hotpath import starlette_app

    if variant == "bare":
        return starlette_app(None, True), ManualClock(START), clients(None, "today")
    engine, _, clock = build(variant, None)
    return starlette_app(engine, True), clock, clients(engine, variant)


def reads(n: int, rng: random.Random) -> list[tuple[int, str]]:
    """``n`` protected reads: (client number, path), the same for every variant."""
    return [(rng.randrange(300), f"/users/{rng.randrange(1, 1_000_000)}") for _ in range(n)]


async def play(setup: tuple[Any, ManualClock, list[tuple[str, dict[str, str]]]],
               requests: list[tuple[int, str]], out: list[int]) -> None:
    """Send ``requests`` through one variant's app, timing each (every answer must be 200)."""
    from .bench_enumeration import run_batch

    app, clock, who = setup
    await run_batch(app, [scope(*who[c], path) for c, path in requests], clock, out)


async def warm_up(setup: tuple[Any, ManualClock, list[tuple[str, dict[str, str]]]],
                  batch: int, rng: random.Random) -> None:
    """Past the week boundary (see ``START``), caches warm, nothing timed."""
    clock = setup[1]
    while clock() < START + 1_800:
        await play(setup, reads(batch, rng), [])


async def through_starlette(rounds: int, batch: int) -> dict[str, float]:
    """Median time of a protected read through Starlette: bare app and every variant."""
    from .bench_enumeration import interleaved

    variants = {name: starlette_variant(name) for name in ("bare", *VARIANTS)}
    rng = random.Random(9)
    for setup in variants.values():
        await warm_up(setup, batch, rng)
    times = await interleaved(
        list(variants), rounds, rng, lambda: reads(batch, rng),
        lambda name, requests, out: play(variants[name], requests, out))
    return {name: statistics.median(t) / 1_000 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=400)
    parser.add_argument("--redis", default="", help="also run against this Redis URL")
    args = parser.parse_args()
    print("Engine.inspect alone, median µs per protected read:\n")
    print("| storage | today | visitor (regular) | young visitor | visitor / today | "
          "young / today | round trips per request (today, visitor, young) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, uri in (("memory", None), *((("redis", args.redis),) if args.redis else ())):
        r = measure(uri, args.rounds, args.batch)
        calls = ", ".join(f"{r['calls'][name]:.0f}" for name in VARIANTS)
        print(f"| {label} | {r['today']:.1f} | {r['visitor']:.1f} | {r['young']:.1f} | "
              f"{r['ratio']:.2f} | {r['young ratio']:.2f} | {calls} |")
    m = asyncio.run(through_starlette(args.rounds, args.batch))
    added = {name: m[name] - m["bare"] for name in VARIANTS}
    print("\nThrough Starlette (memory://), median µs per protected read, and what each adds "
          "over the bare app:\n")
    print("| bare app | today | visitor (regular) | young visitor | visitor / today (added) | "
          "young / today (added) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {m['bare']:.1f} | {m['today']:.1f} (+{added['today']:.1f}) | "
          f"{m['visitor']:.1f} (+{added['visitor']:.1f}) | "
          f"{m['young']:.1f} (+{added['young']:.1f}) | "
          f"{added['visitor'] / added['today']:.2f} | {added['young'] / added['today']:.2f} |")

if __name__ == "__main__":
    main()
