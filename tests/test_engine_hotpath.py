"""What the engine keeps per client to spare work on the hot path must never mix clients up."""

from __future__ import annotations

from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.request import RequestView
from tests.conftest import SECRET

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
SLOPPY = {"accept": "text/html"}  # a Chrome claim missing the headers Chrome always sends


def test_two_browsers_behind_one_address_keep_their_own_challenge_counts():
    """The failure-count read cached with a client follows its user agent: a neighbour on
    the same address with the same score (so the same cached budget ops), alternating with
    the other browser, sees only its own pending challenges."""
    engine = Engine({"secret_key": SECRET, "scoring": {"challenge_at": 40}},
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
    """A crawler rotating addresses, sec-ch-ua values and cookie texts must not grow the
    engine's per-client, per-traits and per-cookie-header caches without bound."""
    engine = Engine({"secret_key": SECRET})
    bound = engine.cache_sizes()["clients"][1]
    for n in range(bound + 2_000):
        headers = {"user-agent": CHROME, "accept": "*/*", "sec-ch-ua": f'"Chromium";v="{n}"',
                   "cookie": f"session={n}; antiscrape_visitor=junk{n}"}
        engine.inspect(RequestView("GET", "/", headers,
                                   f"10.{n // 60_000}.{n // 250 % 240}.{n % 250}"))
    sizes = engine.cache_sizes()
    for name in ("clients", "budget hits", "scores", "cookie headers"):
        entries, limit = sizes[name]
        assert 0 < entries <= limit, name
    assert sizes["clients"][0] < 2_500  # emptied once at the bound, refilled since


def test_an_allow_carries_who_was_counted_and_what_was_read():
    """An allowed protected read hands the adapter everything it hands back after the
    response (identity with its fingerprint, the access), and an allowed odd client its
    reasons; the reused allow of a returning client is the same value."""
    from antiscrape.request import Protect

    engine = Engine({"secret_key": SECRET}, clock=ManualClock())
    headers = {"user-agent": CHROME, "accept": "text/html", "accept-language": "en",
               "accept-encoding": "gzip", "sec-fetch-mode": "navigate"}
    view = RequestView("GET", "/users/7", headers, "198.51.100.4", route="/users/{user_id}",
                       path_params={"user_id": "7"}, protect=Protect("profile"))
    first = engine.inspect(view)  # a new visitor: its cookie is set
    assert [name for name, _ in first.headers] == ["set-cookie"]
    cookie = first.headers[0][1].split(";")[0]
    view = RequestView("GET", "/users/7", {**headers, "cookie": cookie}, "198.51.100.4",
                       route="/users/{user_id}", path_params={"user_id": "7"},
                       protect=Protect("profile"))
    decision = engine.inspect(view)  # the visitor came back: nothing to add
    assert decision.action is Action.ALLOW and decision.enforced is True
    assert (decision.reason, decision.score, decision.rule) == ("ok", 0, "")
    assert (decision.retry_after, decision.reply, decision.headers) == (None, None, ())
    assert decision.identity is not None and decision.identity.ip == "198.51.100.4"
    assert decision.identity.fingerprint  # a protected read hashes the fingerprint
    assert decision.signals == () and decision.kind == "profile"
    assert decision.access is not None and decision.access.id == "7"

    odd = engine.inspect(RequestView("GET", "/", {"user-agent": "curl/8.5.0"}, "198.51.100.5"))
    assert odd.action is Action.ALLOW and odd.score > 0 and odd.signals
    assert odd.reason == "; ".join(odd.signals) and odd.kind is None and odd.access is None
    kept = {"user-agent": "curl/8.5.0", "cookie": odd.headers[0][1].split(";")[0]}
    again = engine.inspect(RequestView("GET", "/", kept, "198.51.100.5"))
    assert again.headers == () and again.signals == odd.signals  # came back with its cookie
    assert engine.inspect(RequestView("GET", "/", kept, "198.51.100.5")) == again


def test_oversized_client_text_is_scored_and_counted_but_not_kept():
    """A client choosing huge sec-ch-ua or user-agent values gets the same decisions, but
    nothing of that size stays in the engine's per-client caches."""
    from antiscrape.signals import score_request, score_traits
    from antiscrape.useragent import lookup

    engine = Engine({"secret_key": SECRET, "scoring": {"challenge_at": 40}},
                    clock=ManualClock())
    huge_hints = '"Chromium";v="99", ' + "x" * 5_000
    huge_agent = CHROME + " " + "y" * 5_000
    for n, headers in enumerate([{"user-agent": CHROME, "sec-ch-ua": huge_hints},
                                 {**SLOPPY, "user-agent": huge_agent}]):
        for repeat in range(2):
            view = RequestView("GET", "/", dict(headers), f"198.51.100.{n}", scheme="https")
            decision = engine.inspect(view)
            expected, _ = score_request(lookup(headers["user-agent"]),
                                        score_traits(headers, True), engine.config.scoring)
            # The sloppy one is challenged each time: its page shown before counts once.
            pending = engine.config.scoring.challenge_failures * repeat if n == 1 else 0
            assert decision.score == min(100, expected + pending)
    sizes = engine.cache_sizes()
    assert sizes["clients"][0] == 0  # neither client was kept: both sent an oversized text
    assert sizes["scores"][0] == 0  # nor scored for keeps


def test_a_kept_client_is_keyed_by_what_it_was_derived_from():
    """What is kept per client is keyed by everything it was derived from: a changed header
    the score reads, another address or account derives afresh; nothing else leaks across."""
    clock = ManualClock()
    engine = Engine({"secret_key": SECRET, "scoring": {"challenge_at": 40}}, clock=clock)
    browser = {"user-agent": CHROME, "accept": "text/html", "accept-language": "en",
               "accept-encoding": "gzip", "sec-fetch-mode": "navigate"}
    first = engine.inspect(RequestView("GET", "/", dict(browser), "198.51.100.7"))
    again = engine.inspect(RequestView("GET", "/", dict(browser), "198.51.100.7"))
    assert first.action is again.action is Action.ALLOW and first.score == again.score == 0
    assert engine.cache_sizes()["clients"][0] == 1
    sloppy = engine.inspect(RequestView("GET", "/", {**SLOPPY, "user-agent": CHROME},
                                        "198.51.100.7", scheme="https"))
    assert sloppy.score > 0 and sloppy.action is Action.CHALLENGE
    other = engine.inspect(RequestView("GET", "/", dict(browser), "198.51.100.8",
                                       user_id="alice"))
    assert other.identity is not None and other.identity.account == "alice"
    assert other.identity.ip == "198.51.100.8"
    assert engine.cache_sizes()["clients"][0] == 3


def test_an_oversized_user_agent_is_classified_once_not_on_every_request():
    """Cut to 1 024 characters and kept under the cut text: the next request with the same
    oversized agent must find it (it used to miss and pay a full classification each time)."""
    from antiscrape.useragent import classify, lookup

    oversized = CHROME + " " + "q" * 2_000
    first = lookup(oversized)
    assert lookup(oversized) is first
    assert first.raw == oversized[:1_024] and first == classify(oversized[:1_024])


def test_hashed_values_cache_is_bounded_in_characters_not_only_entries():
    """Failure keys hash the client's whole user agent: a client sending huge ones must not
    fill memory through the hash cache (digests stay the same whether cached or not)."""
    from antiscrape.keys import Keys

    keys = Keys("as", b"k" * 32)
    first = keys.hashed("v0" + "x" * 16_000)
    for n in range(1, 1_200):  # about 19 million characters offered
        keys.hashed(f"v{n}" + "x" * 16_000)
    assert sum(len(v) for v in keys._cache) <= Keys._CACHE_CHARS + 16_010
    assert keys.hashed("v0" + "x" * 16_000) == first


def test_a_client_behind_a_trusted_proxy_is_kept_by_its_forwarding_headers():
    """Forwarding headers pick the client behind a trusted proxy, so they are part of what a
    client is kept under: two clients behind one proxy stay two, and an oversized chain from
    the client side is decided on but never kept."""
    engine = Engine({"secret_key": SECRET, "trusted_proxies": ["10.0.0.0/8"]},
                    clock=ManualClock())
    browser = {"user-agent": CHROME, "accept": "text/html", "accept-language": "en",
               "accept-encoding": "gzip", "sec-fetch-mode": "navigate"}
    seen = set()
    for client in ("198.51.100.20", "198.51.100.21", "198.51.100.20"):
        decision = engine.inspect(RequestView("GET", "/", {**browser, "x-forwarded-for": client},
                                              "10.0.0.1"))
        assert decision.identity is not None and decision.identity.ip == client
        seen.add(decision.identity.ip)
    assert seen == {"198.51.100.20", "198.51.100.21"} and engine.cache_sizes()["clients"][0] == 2
    chain = ", ".join(f"203.0.113.{n % 250}" for n in range(400)) + ", 198.51.100.22"
    decision = engine.inspect(RequestView("GET", "/", {**browser, "x-forwarded-for": chain},
                                          "10.0.0.1"))
    assert decision.identity is not None and decision.identity.ip == "198.51.100.22"
    assert engine.cache_sizes()["clients"][0] == 2


def test_building_an_engine_builds_the_user_agent_parser() -> None:
    """The parser and the rule set are built with the engine, at start-up, not by the first
    request (a fresh process: in this one they were built long ago)."""
    import subprocess
    import sys

    code = ("from antiscrape import uarules as r, useragent as u\n"
            "before = (u._families.cache_info().currsize, r.rules.cache_info().currsize)\n"
            "from antiscrape.engine import Engine\n"
            "Engine({'secret_key': 'test-secret-key-0123456789abcdef'})\n"
            "print(before, (u._families.cache_info().currsize, r.rules.cache_info().currsize))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["(0,", "0)", "(1,", "1)"]
