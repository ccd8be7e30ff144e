"""User-agent classification: detection beside CrawlerDetect, its cost, and a flood of new UAs.

    python -m benchmarks.bench_useragent [--rounds 5] [--flood 2000]

1. Detection on the held-out corpora of tests/data/ua (never used to write a rule): the share
   of crawler strings called automated and of people's strings flagged, for antiscrape
   (``classify(ua).automated``) and CrawlerDetect (``crawlerdetect``, the Python port of the
   PHP list) on the same strings. Real agents circulate, so some held-out strings also appear
   in a training corpus: the last column gives antiscrape's rate on the held-out strings that
   no training corpus holds.
2. Cost: ``classify`` on every held-out string (uncached; median and p99 of the best round),
   and ``lookup`` on strings already cached (mean over many calls).
3. A flood of never-seen user agents on Starlette, in one run: the same app answers a
   returning browser (its user agent known, its visitor cookie sent back) and clients whose
   user agent it has never seen and that keep no cookie (browser-shaped strings with fresh
   versions, and made-up program names), interleaved, each request timed alone; the table
   gives the median added over the returning browser.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from collections.abc import Callable

from antiscrape.clock import ManualClock
from antiscrape.useragent import classify, lookup
from benchmarks.bench_core import BROWSER, antiscrape_app, call, fresh_ua, scope_for
from tests.ua_corpora import HELD_OUT, training_strings


def detection() -> None:
    from crawlerdetect import CrawlerDetect

    detector = CrawlerDetect()
    print("\ndetection on held-out corpora (crawlers: share automated; people: share flagged)")
    seen = training_strings()
    print(f"{'corpus':<30}{'strings':>9}{'kind':>10}{'antiscrape':>12}{'CrawlerDetect':>15}"
          f"{'unseen':>8}{'antiscrape':>12}")
    for corpus in HELD_OUT:
        strings = corpus.strings()
        ours = sum(classify(ua).automated for ua in strings) / len(strings)
        theirs = sum(bool(detector.isCrawler(ua)) for ua in strings) / len(strings)
        unseen = [ua for ua in strings if ua not in seen]
        ours_unseen = sum(classify(ua).automated for ua in unseen) / len(unseen)
        kind = "crawlers" if corpus.automated else "people"
        digits = 2 if corpus.automated else 3
        print(f"{corpus.name:<30}{len(strings):>9}{kind:>10}{ours:>12.{digits}%}"
              f"{theirs:>15.{digits}%}{len(unseen):>8}{ours_unseen:>12.{digits}%}")


def cost(rounds: int) -> None:
    strings = [ua for corpus in HELD_OUT for ua in corpus.strings()]
    classify(strings[0])  # build the rule set and the parser before timing
    best: list[int] | None = None
    for _ in range(rounds):
        times = []
        gc.collect()
        for ua in strings:
            t0 = time.perf_counter_ns()
            classify(ua)
            times.append(time.perf_counter_ns() - t0)
        times.sort()
        if best is None or statistics.median(times) < statistics.median(best):
            best = times
    assert best is not None
    hot = strings[:2000]
    for ua in hot:
        lookup(ua)
    calls = 0
    t0 = time.perf_counter_ns()
    for _ in range(50):
        for ua in hot:
            lookup(ua)
        calls += len(hot)
    cached = (time.perf_counter_ns() - t0) / calls
    print(f"\nclassification cost over {len(strings)} held-out strings (best of {rounds} rounds)")
    print(f"uncached classify: median {statistics.median(best) / 1000:.1f} µs, "
          f"p99 {best[int(len(best) * 0.99)] / 1000:.1f} µs; cached lookup: {cached:.0f} ns")


def program_ua(i: int) -> bytes:
    return f"Fetcher{i % 977}/{i % 13}.{i} (linux; {i})".encode()


async def visitor_cookie(app: object, ip: str) -> bytes:
    """The visitor cookie the app gives a browser (what a returning browser sends back)."""
    found = b""

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        nonlocal found
        if message["type"] == "http.response.start":
            for name, value in message["headers"]:  # type: ignore[union-attr]
                if name == b"set-cookie" and value.startswith(b"antiscrape_visitor="):
                    found = value.split(b";", 1)[0]

    await app(scope_for(app, ip, BROWSER), receive, send)  # type: ignore[operator]
    return found


async def flood(n: int) -> None:
    clock = ManualClock()
    app = antiscrape_app(clock)
    ips = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(500)]
    cookies = {}
    for ip in ips:
        cookies[ip] = await visitor_cookie(app, ip)
    clock.advance(60)  # the visitors are established: they came back, and not just now
    returning = {ip: [*BROWSER, (b"cookie", cookie)] if cookie else BROWSER
                 for ip, cookie in cookies.items()}
    for i in range(300):
        await call(app, scope_for(app, ips[i % 500], returning[ips[i % 500]]))
    kinds: dict[str, Callable[[int], list[tuple[bytes, bytes]]]] = {
        "returning browser": lambda i: returning[ips[i % len(ips)]],
        "new browser UA": lambda i: [BROWSER[0], (b"user-agent", fresh_ua(10**6 + i)),
                                     *BROWSER[2:]],
        "new program UA": lambda i: [BROWSER[0], (b"user-agent", program_ua(i)),
                                     *BROWSER[2:]],
    }
    times: dict[str, list[int]] = {name: [] for name in kinds}
    order = [name for name in kinds for _ in range(n)]
    random.Random(3).shuffle(order)
    gc.collect()
    for i, name in enumerate(order):
        clock.advance(0.05)
        scope = scope_for(app, ips[i % len(ips)], kinds[name](i))
        t0 = time.perf_counter_ns()
        await call(app, scope)
        times[name].append(time.perf_counter_ns() - t0)
    base = statistics.median(times["returning browser"]) / 1000
    print(f"\nStarlette + antiscrape, one run, {n} requests of each kind interleaved")
    print(f"{'client':<20}{'median µs':>11}{'p99 µs':>10}{'added µs':>10}")
    for name, values in times.items():
        values.sort()
        med = statistics.median(values) / 1000
        print(f"{name:<20}{med:>11.1f}{values[int(len(values) * 0.99)] / 1000:>10.1f}"
              f"{med - base:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--flood", type=int, default=2000)
    parser.add_argument("--skip-detection", action="store_true")
    args = parser.parse_args()
    if not args.skip_detection:
        detection()
    cost(args.rounds)
    asyncio.run(flood(args.flood))


if __name__ == "__main__":
    main()
