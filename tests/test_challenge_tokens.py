"""Challenge tokens, clearance cookies and return paths, checked without any web framework."""

from __future__ import annotations

import hashlib
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antiscrape.challenge import Challenges
from antiscrape.challenge.return_path import is_safe_return_path, safe_return_path
from antiscrape.challenge.tokens import (
    CHALLENGE,
    CLEARANCE,
    ChallengeToken,
    ClearanceToken,
    Signer,
    leading_zero_bits_ok,
)
from antiscrape.clock import ManualClock
from antiscrape.config import Config
from antiscrape.decision import Identity
from antiscrape.keys import Keys
from antiscrape.request import RequestView
from tests.conftest import SECRET

ORIGIN = "http://shop.example/"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


def challenges(clock: ManualClock, **config) -> Challenges:
    cfg = Config.load({"secret_key": SECRET, **config})
    return Challenges(cfg, clock, Keys(cfg.key_prefix, cfg.signing_keys[0]))


def test_signer_round_trip_and_purpose_separation():
    signer = Signer([b"k" * 32])
    token = signer.sign(CHALLENGE, "abc|1|2")
    assert signer.unsign(CHALLENGE, token) == ("abc|1|2", 0)
    # A challenge token is never accepted as a clearance cookie, and the reverse.
    assert signer.unsign(CLEARANCE, token) is None


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),       # tag changed
    lambda t: ("B" if t[0] != "B" else "C") + t[1:],          # payload changed
    lambda t: t.replace(".", ""),                             # no separator
    lambda t: t + "." + t,                                    # extra parts
    lambda t: "",                                             # empty
    lambda t: "!!!." + t.split(".")[1],                       # not base64
    lambda t: t + "A" * 5000,                                 # oversized
])
def test_tampered_tokens_are_refused_without_raising(mangle):
    signer = Signer([b"k" * 32])
    token = signer.sign(CLEARANCE, "id|1700000000|bind")
    assert signer.unsign(CLEARANCE, mangle(token)) is None


def test_key_rotation_first_signs_all_verify():
    old, new = b"old-key" * 5, b"new-key" * 5
    issued_before = Signer([old]).sign(CLEARANCE, "x|1|b")
    rotated = Signer([new, old])
    assert rotated.unsign(CLEARANCE, issued_before) == ("x|1|b", 1)
    assert Signer([old]).unsign(CLEARANCE, rotated.sign(CLEARANCE, "y|1|b")) is None
    assert Signer([new]).unsign(CLEARANCE, issued_before) is None  # old key retired


def test_token_values_survive_encoding_including_pipes_in_the_return_path():
    signer = Signer([b"k" * 32])
    token = ChallengeToken("seed", 1_700_000_000_123, 17, 3.0, "bind", "/a?x=|y|")
    assert ChallengeToken.decode(signer, token.encode(signer)) == token
    clearance = ClearanceToken("cid", 1_700_000_000, "bind")
    assert signer.binding("203.0.113.0/24|UA") != Signer([b"j" * 32]).binding("203.0.113.0/24|UA")
    assert ClearanceToken.decode(signer, clearance.encode(signer)) == clearance
    assert ClearanceToken.decode(signer, token.encode(signer)) is None


def test_leading_zero_bits_matches_hashlib():
    seed = "s33d"
    for difficulty in (1, 4, 8, 12):
        nonce = next(n for n in range(1_000_000)
                     if leading_zero_bits_ok(seed, str(n), difficulty))
        digest = hashlib.sha256(f"{seed}:{nonce}".encode()).digest()
        bits = bin(int.from_bytes(digest, "big"))[2:].zfill(256)
        assert bits.startswith("0" * difficulty)
        # ...and the first smaller nonce that was skipped really fails.
        for earlier in range(nonce):
            digest = hashlib.sha256(f"{seed}:{earlier}".encode()).digest()
            assert not bin(int.from_bytes(digest, "big"))[2:].zfill(256).startswith(
                "0" * difficulty)
    assert leading_zero_bits_ok(seed, "0", 0)


OPEN_REDIRECTS = [
    "//evil.example", "///evil.example", "/\\evil.example", "/\\/evil.example",
    "\\\\evil.example", "/https://evil.example", "https://evil.example", "https:evil.example",
    "//evil.example/%2F..", "/%2F%2Fevil.example", "/%5Cevil.example", "/\t/evil.example",
    "/\n/evil.example", "/ /evil.example", "//evil.example@shop.example", "javascript:alert(1)",
    "/%09/evil.example", "//%65vil.example", "/.//evil.example",
]


@pytest.mark.parametrize("path", OPEN_REDIRECTS)
def test_open_redirect_payloads_stay_on_the_origin(path):
    target = safe_return_path(path, "next=//evil.example&u=https://evil.example")
    assert is_safe_return_path(target)
    joined = urlsplit(urljoin(ORIGIN, target))
    assert (joined.scheme, joined.netloc) == ("http", "shop.example")


@given(st.text(max_size=80), st.text(max_size=40))
def test_any_path_and_query_give_a_same_origin_return_path(path, query):
    target = safe_return_path(path, query)
    assert is_safe_return_path(target)
    joined = urlsplit(urljoin(ORIGIN, target))
    assert (joined.scheme, joined.netloc) == ("http", "shop.example")
    assert "\\" not in target and "<" not in target and '"' not in target


def test_return_path_round_trips_ordinary_urls():
    assert safe_return_path("/users/42", "page=2&sort=name") == "/users/42?page=2&sort=name"
    assert safe_return_path("/caf\u00e9 menu", "") == "/caf%C3%A9%20menu"
    assert safe_return_path("/a%2Fb", "") == "/a%252Fb"  # a decoded '%' is re-encoded
    assert safe_return_path("/x" * 1000, "") == "/"     # absurdly long: back to the root


def test_ladder_picks_difficulty_by_score(clock):
    ch = challenges(clock)
    ladder = ch.settings.ladder
    assert ch.rung(0) == ladder[0]
    assert ch.rung(ladder[0].max_score) == ladder[0]
    assert ch.rung(ladder[0].max_score + 1) == ladder[1]
    assert ch.rung(1000) == ladder[-1]
    difficulties = [r.difficulty for r in ladder]
    assert difficulties == sorted(difficulties)


def test_clearance_cookie_checks(clock):
    ch = challenges(clock)
    net, other_net = "203.0.113.0/24", "198.51.100.0/24"
    cookie = ClearanceToken("cid-1", int(clock()), ch.binding(net, UA)).encode(ch._signer)

    def view(value: str, ua: str = UA) -> RequestView:
        return RequestView("GET", "/", {"cookie": f"a=b; antiscrape_clearance={value}; c=d",
                                        "user-agent": ua})

    assert ch.read_clearance(view(cookie), net) == "cid-1"
    assert ch.read_clearance(view(cookie), other_net) is None
    assert ch.read_clearance(view(cookie, ua=UA + " Edg/131"), net) is None
    assert ch.read_clearance(view(cookie[:-2] + "xx"), net) is None
    assert ch.read_clearance(RequestView("GET", "/", {"user-agent": UA}), net) is None
    clock.advance(ch.settings.clearance_ttl - 1)
    assert ch.read_clearance(view(cookie), net) == "cid-1"
    clock.advance(1)
    assert ch.read_clearance(view(cookie), net) is None


def test_failure_key_is_per_address_and_browser_and_hides_both(clock):
    ch = challenges(clock)
    a = Identity("203.0.113.7", "203.0.113.0/24", "fp")
    b = Identity("203.0.113.8", "203.0.113.0/24", "fp")
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    assert ch.failure_key(a, ua) != ch.failure_key(b, ua)
    assert ch.failure_key(a, ua) != ch.failure_key(a, ua.replace("133", "132"))
    assert "203.0.113" not in ch.failure_key(a, ua) and "Firefox" not in ch.failure_key(a, ua)
