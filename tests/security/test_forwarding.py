"""Forged forwarding headers: a client must never choose the address it is counted under.

Each proxy style (one header the operator names) is tried with the client's own forged
headers of every kind present next to it: the proxy appends to or overwrites only its own
header and passes the others through, so they carry whatever the client wrote. The engine
must read the named header alone, from the right, and never fall back to another one.
"""

from __future__ import annotations

import itertools

import pytest

from antiscrape.engine import Engine
from antiscrape.identity import ClientAddressing
from antiscrape.request import RequestView
from tests.behaviour.conftest import MakeSite
from tests.browsers import CHROME
from tests.conftest import SECRET

PROXY_V4 = "10.0.0.2"
PROXY_V6 = "fd00::2"
TRUSTED = ["10.0.0.0/8", "fd00::/8"]

# The real client, as each proxy style writes it, and the key it must be counted under
# (IPv6 clients are their /64).
CLIENTS = {
    "198.51.100.23": "198.51.100.23",
    "2001:db8:1:2::17": "2001:db8:1:2::/64",
}

# What a client forges: every header kind, a single address and a whole chain.
FORGED = {
    "x-forwarded-for": ["66.249.66.1", "1.2.3.4, 5.6.7.8", "2001:db8:ffff::1"],
    "forwarded": ["for=66.249.66.1", 'for="[2001:db8:ffff::1]:443";proto=https',
                  "for=1.2.3.4, for=5.6.7.8"],
    "x-real-ip": ["66.249.66.1", "2001:db8:ffff::1"],
}


def proxied(style: str, client: str, forged: dict[str, str]) -> dict[str, str]:
    """The headers a proxy of ``style`` passes on: the client's forged ones untouched, its
    own header appended to (X-Forwarded-For, Forwarded) or overwritten (X-Real-IP)."""
    headers = dict(forged)
    if style == "x-forwarded-for":
        prior = forged.get("x-forwarded-for")
        headers[style] = f"{prior}, {client}" if prior else client
    elif style == "forwarded":
        prior = forged.get("forwarded")
        node = f'"[{client}]"' if ":" in client else client
        headers[style] = f"{prior}, for={node}" if prior else f"for={node}"
    else:
        headers[style] = client
    return headers


def forged_sets() -> list[dict[str, str]]:
    """Every combination of forged headers: none, one kind, two kinds, all three."""
    sets: list[dict[str, str]] = [{}]
    kinds = list(FORGED)
    for n in (1, 2, 3):
        for chosen in itertools.combinations(kinds, n):
            for values in itertools.product(*(FORGED[k] for k in chosen)):
                sets.append(dict(zip(chosen, values, strict=True)))
    return sets


def addressing(style: str) -> ClientAddressing:
    from antiscrape.config import parse_networks

    return ClientAddressing(parse_networks(tuple(TRUSTED), "t"), header=style)


@pytest.mark.parametrize("style", ["x-forwarded-for", "forwarded", "x-real-ip"])
@pytest.mark.parametrize("peer", [PROXY_V4, PROXY_V6])
def test_each_proxy_style_reads_only_its_own_header(style: str, peer: str) -> None:
    addr = addressing(style)
    checked = 0
    for client, key in CLIENTS.items():
        for forged in forged_sets():
            headers = proxied(style, client, forged)
            ip = addr.client_ip(peer, headers)
            assert addr.keys(ip)[0] == key, (style, forged)
            checked += 1
    assert checked == 2 * len(forged_sets()) == 96


@pytest.mark.parametrize("style", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_no_fallback_when_the_named_header_is_missing(style: str) -> None:
    """A proxy that did not write its header (a health check, a misrouted request): the
    request is the proxy's own, never the address another header claims."""
    addr = addressing(style)
    for forged in forged_sets():
        forged.pop(style, None)
        assert addr.client_ip(PROXY_V4, forged) == PROXY_V4, forged


@pytest.mark.parametrize("style", ["x-forwarded-for", "forwarded", "x-real-ip"])
def test_untrusted_peers_are_their_socket_address(style: str) -> None:
    addr = addressing(style)
    for forged in forged_sets():
        for client in CLIENTS:
            headers = proxied(style, client, forged)
            assert addr.client_ip("203.0.113.9", headers) == "203.0.113.9"
            assert addr.client_ip("2001:db8:9::9", headers) == "2001:db8:9::9"


MALFORMED = [
    # (header value as the proxy passes it, expected client)
    ("not-an-ip, 198.51.100.23", "198.51.100.23"),       # garbage left of the client
    ("198.51.100.23, ::::", PROXY_V4),                    # garbage where the proxy wrote
    ("198.51.100.23, 999.1.1.1", PROXY_V4),
    ("198.51.100.23, 10.0.0.9", "198.51.100.23"),        # a trusted hop is skipped
    ("198.51.100.23,10.0.0.9,   10.0.0.8", "198.51.100.23"),
    (",,,", PROXY_V4),
    ("[2001:db8::1]:443", "2001:db8::1"),
    ("198.51.100.23:8080", "198.51.100.23"),
    ("::ffff:198.51.100.23", "198.51.100.23"),            # IPv4-mapped IPv6
    ("x" * 10_000, PROXY_V4),
    ("\x00\xff, 198.51.100.23", "198.51.100.23"),
]


@pytest.mark.parametrize(("value", "expected"), MALFORMED)
def test_malformed_x_forwarded_for_chains(value: str, expected: str) -> None:
    addr = addressing("x-forwarded-for")
    assert addr.client_ip(PROXY_V4, {"x-forwarded-for": value}) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ('for="[::1', PROXY_V4),
    ("for=unknown", PROXY_V4),
    ("for=_hidden, for=198.51.100.23", "198.51.100.23"),
    ('for=198.51.100.23;proto=https;by=10.0.0.2, for="10.0.0.7"', "198.51.100.23"),
    ("FOR=198.51.100.23", "198.51.100.23"),
    ("proto=https", PROXY_V4),
    ("for", PROXY_V4),
])
def test_malformed_forwarded_chains(value: str, expected: str) -> None:
    addr = addressing("forwarded")
    assert addr.client_ip(PROXY_V4, {"forwarded": value}) == expected


def test_an_unknown_forwarding_header_is_refused_at_start_up() -> None:
    from antiscrape.errors import ConfigError

    with pytest.raises(ConfigError, match="forwarded_header"):
        Engine({"secret_key": SECRET, "forwarded_header": "x-client-ip"})


def test_check_names_the_header_believed_and_the_ones_ignored() -> None:
    from antiscrape.identity import describe_client_ip

    text = describe_client_ip(("10.0.0.0/8",), "x-forwarded-for")
    assert "'x-forwarded-for'" in text and "forwarded, x-real-ip are ignored" in text
    assert "no fallback" in text
    assert "socket peer" in describe_client_ip((), "x-forwarded-for")


def test_a_forged_forwarded_header_does_not_make_a_verified_googlebot() -> None:
    """The reported attack: ``Forwarded: for=66.249.66.1`` plus a Googlebot user agent, sent
    through a proxy that appends X-Forwarded-For, was waved through as Google."""
    engine = Engine({"secret_key": SECRET, "trusted_proxies": TRUSTED,
                     "good_bots": {"reverse_dns": False}})
    googlebot = {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; "
                               "+http://www.google.com/bot.html)",
                 "accept": "*/*", "accept-encoding": "gzip"}
    forged = {**googlebot, "forwarded": "for=66.249.66.1", "x-real-ip": "66.249.66.1",
              "x-forwarded-for": "66.249.66.1, 198.51.100.23"}
    decision = engine.inspect(RequestView("GET", "/", forged, PROXY_V4))
    assert decision.rule != "goodbot"
    # The same engine does verify Google itself (the range check is not simply off).
    real = {**googlebot, "x-forwarded-for": "66.249.66.1"}
    assert engine.inspect(RequestView("GET", "/", real, PROXY_V4)).rule == "goodbot"


def test_rotating_forged_forwarded_does_not_buy_budget(make_site: MakeSite) -> None:
    """Through each real adapter: a crawler behind an X-Forwarded-For proxy rotates a forged
    ``Forwarded: for=`` per request; it is one client all the same."""
    site = make_site(trusted_proxies=TRUSTED,
                     budgets={"default": {"ip": "5/minute", "network": "1000/minute"}})
    got = [site.get("/", {**CHROME, "forwarded": f"for=192.0.2.{i}",
                          "x-real-ip": f"192.0.2.{i}",
                          "x-forwarded-for": "198.51.100.23"}, peer=PROXY_V4).status_code
           for i in range(7)]
    assert got == [200] * 5 + [429] * 2
