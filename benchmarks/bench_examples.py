"""What the example apps' parts cost: seeding the shop, and the live status page.

    python -m benchmarks.bench_examples [--rounds 9] [--batch 2000]

1. ``build_shop()`` from a cold cache (5,000 users, 500 items, 20,000 comments): the promise
   is "well under a second", since every example and the demo build it at start.
2. ``Engine.inspect`` on allowed browser traffic (300 clients on 30 networks, half home
   page, half protected profiles), with the status page off and on, in interleaved rounds so
   machine noise hits both alike (the difference is what the status board adds per request),
   and the observer call alone (a deque append or two and a dict update under a lock).
3. Rendering the page from a full board (200 recent decisions, 5,000 identities).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from antiscrape.clock import ManualClock
from antiscrape.config import StatusPageSettings
from antiscrape.decision import Action, Decision, Identity
from antiscrape.engine import Engine
from antiscrape.request import RequestView
from antiscrape.status import StatusBoard
from example_apps.shop_data import build_shop

SECRET = "bench-secret-0123456789abcdef-0123456789"
TOKEN = "bench-status-token-0123"
HEADERS = {
    "host": "shop.example",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-language": "en-GB,en;q=0.7", "accept-encoding": "gzip, deflate, br",
    "sec-fetch-mode": "navigate", "sec-fetch-site": "same-origin", "sec-fetch-dest": "document",
}


def engine(status: bool, clock: ManualClock) -> Engine:
    return Engine({
        "secret_key": SECRET,
        "protect": [{"route": "/users/{user_id}", "kind": "profile"}],
        "status_page": {"enabled": status, "token": TOKEN},
    }, clock=clock)


def traffic(n: int, seed: int) -> list[RequestView]:
    rng = random.Random(seed)
    views = []
    for i in range(n):
        ip = f"10.{rng.randrange(30)}.0.{rng.randrange(1, 11)}"
        path = "/" if i % 2 else f"/users/{rng.randrange(1, 5001)}"
        views.append(RequestView("GET", path, headers=HEADERS, peer=ip))
    return views


def time_inspect(eng: Engine, views: list[RequestView], clock: ManualClock) -> list[float]:
    out = []
    for view in views:
        clock.advance(0.5)  # budgets are never reached: allowed traffic only
        start = time.perf_counter()
        eng.inspect(view)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()

    builds = []
    for _ in range(5):
        build_shop.cache_clear()
        start = time.perf_counter()
        build_shop()
        builds.append(time.perf_counter() - start)
    print(f"build_shop (cold), median of 5: {statistics.median(builds) * 1000:.1f} ms "
          f"(min {min(builds) * 1000:.1f}, max {max(builds) * 1000:.1f})")

    clocks = {"off": ManualClock(), "on": ManualClock()}
    engines = {name: engine(name == "on", clocks[name]) for name in clocks}
    warm = traffic(500, 0)
    for name, eng in engines.items():
        time_inspect(eng, warm, clocks[name])
    medians: dict[str, list[float]] = {"off": [], "on": []}
    for r in range(args.rounds):
        views = traffic(args.batch, r + 1)
        order = ["off", "on"] if r % 2 == 0 else ["on", "off"]
        for name in order:
            medians[name].append(statistics.median(time_inspect(engines[name], views,
                                                                clocks[name])) * 1e6)
    off = statistics.median(medians["off"])
    on = statistics.median(medians["on"])
    print(f"inspect median, status page off: {off:.1f} µs; on: {on:.1f} µs; "
          f"added: {on - off:+.1f} µs (ratio {on / off:.3f})")
    print("  per-round medians off:", " / ".join(f"{m:.1f}" for m in medians["off"]))
    print("  per-round medians on: ", " / ".join(f"{m:.1f}" for m in medians["on"]))

    board = StatusBoard(StatusPageSettings(enabled=True, token=TOKEN), clock=ManualClock())
    view = RequestView("GET", "/users/1", headers=HEADERS, peer="10.0.0.1")
    calls = []
    for i in range(50_000):
        ident = Identity(f"10.{i % 30}.0.{i % 250}", "10.0.0.0/24", "f" * 16)
        decision = Decision(Action.ALLOW, "ok", identity=ident)
        start = time.perf_counter()
        board(view, decision, 1e-5)
        calls.append(time.perf_counter() - start)
    print(f"observer call alone (50,000 calls, 7,500 identities): "
          f"{statistics.median(calls) * 1e6:.2f} µs median")
    for i in range(20_000):
        ident = Identity(f"10.{i % 50}.{i // 250 % 250}.{i % 250}", "10.0.0.0/24", "f" * 16)
        board(view, Decision(Action.ALLOW if i % 3 else Action.CHALLENGE, score=i % 100,
                             reason="read 31 distinct profile records", identity=ident), 1e-5)
    renders = []
    for _ in range(20):
        start = time.perf_counter()
        page = board.render()
        renders.append(time.perf_counter() - start)
    print(f"render (200 recent, {len(board._identities)} identities, top 25): "
          f"{statistics.median(renders) * 1000:.2f} ms median, {len(page) // 1024} KB")


if __name__ == "__main__":
    main()
