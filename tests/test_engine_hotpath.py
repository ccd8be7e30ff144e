"""What the engine keeps per client to spare work on the hot path must never mix clients up."""

from __future__ import annotations

from antiscrape import engine as engine_module
from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.request import RequestView

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
SLOPPY = {"accept": "text/html"}  # a Chrome claim missing the headers Chrome always sends


def test_two_browsers_behind_one_address_keep_their_own_challenge_counts():
    """The failure-count read cached with a client follows its user agent: a neighbour on
    the same address with the same score (so the same cached budget ops), alternating with
    the other browser, sees only its own pending challenges."""
    engine = Engine({"secret_key": "s" * 32, "scoring": {"challenge_at": 40}},
                    clock=ManualClock())
    ip = "203.0.113.5"
    browsers = (CHROME, CHROME.replace("Chrome/131", "Chrome/130"))
    for shown in range(3):  # a fourth would reach the block line
        for ua in browsers:
            view = RequestView("GET", "/", {**SLOPPY, "user-agent": ua}, ip, scheme="https")
            decision = engine.inspect(view)
            assert decision.action is Action.CHALLENGE
            counted = [s for s in decision.signals if "unanswered or failed" in s]
            assert counted == ([f"{shown} unanswered or failed challenges"] if shown else [])


def test_per_client_caches_stay_bounded_when_addresses_and_hints_rotate():
    """A crawler rotating addresses and sec-ch-ua values must not grow the engine's
    per-client and per-traits caches without bound."""
    engine = Engine({"secret_key": "s" * 32})
    for n in range(engine_module._CLIENT_CACHE_MAX + 2_000):
        headers = {"user-agent": CHROME, "accept": "*/*", "sec-ch-ua": f'"Chromium";v="{n}"'}
        engine.inspect(RequestView("GET", "/", headers,
                                   f"10.{n // 60_000}.{n // 250 % 240}.{n % 250}"))
    assert 0 < len(engine._client_ops) <= engine_module._CLIENT_CACHE_MAX
    assert 0 < len(engine._scores) <= engine_module._SCORE_CACHE_MAX
