"""A visitor's requests are counted per User-Agent (see ``antiscrape.people.SPREAD``), and the
worker remembers which it has counted: a flood of long, ever different User-Agent strings
from one cookie must not keep their text. (The first version kept the whole header in that
memo: a few thousand 8 KB strings held tens of megabytes per worker.)"""

from __future__ import annotations

import gc
import tracemalloc

from antiscrape.clock import ManualClock
from antiscrape.request import RequestView
from tests.browsers import CHROME
from tests.jar import jar_for, keep_decision, with_cookies
from tests.security.drive import engine

FLOOD = 4_000
LONG = 8_192


def test_long_user_agents_from_one_visitor_do_not_stay_in_memory() -> None:
    clock = ManualClock()
    e, _ = engine(clock, protect=[{"route": "/users/{user_id}", "kind": "profile"}])
    jar = jar_for(e, "flooder", "")
    keep_decision(jar, e.inspect(RequestView("GET", "/", with_cookies(CHROME, jar),
                                             "203.0.113.9")))
    clock.advance(3 * 86_400)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(FLOOD):
            agent = f"{n:08d}" + "x" * (LONG - 8)
            e.inspect(RequestView("GET", "/", with_cookies({**CHROME, "user-agent": agent}, jar),
                                  "203.0.113.9"))
            clock.advance(0.5)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # What stays is what the bounded caches keep of a string (at most its first kilobyte:
    # the user-agent classification, keyed hashes), about 10 MiB here, against 38 MiB when
    # the memo kept every header whole: the flood itself is 32 MiB.
    assert grown < FLOOD * LONG // 2, f"{grown / 2**20:.1f} MiB kept"
