"""Open-redirect and XSS payloads through the challenge flow and every HTML page.

Each payload is put where a client controls text that reaches a page: the path, the query
string, the user agent. For each: the challenge page, the answer's redirect (``Location``),
the failure page (its "try again" link comes from the signed return path), the refusal pages
(with ``expose_reasons``, so the reason is shown) and the status page. A redirect must stay
on this site; no page may carry a payload's markup unescaped.

Lists are generated (bases x encodings x positions) and run through the engine directly,
where every page is built; a sample goes through the real adapters.
"""

from __future__ import annotations

import html
import itertools
import re
from urllib.parse import quote, urljoin, urlsplit

import pytest

from antiscrape.clock import ManualClock
from antiscrape.decision import Decision
from tests.behaviour.conftest import MakeSite
from tests.browsers import CHROME
from tests.test_challenge_flow import page_fields

from .drive import HEADLESS, engine, get, solve

ORIGIN = "http://shop.example/"
TOKEN = "status-token-0123456789"

REDIRECT_BASES = [
    "//evil.example", "///evil.example", "////evil.example", "/\\evil.example",
    "\\\\evil.example", "/\\/evil.example", "https://evil.example", "http:evil.example",
    "https:/\\evil.example", "//evil.example@shop.example", "/%09/evil.example",
    "/\t/evil.example", "/ /evil.example", "javascript:alert(1)", "data:text/html,x",
    "//%5cevil.example", "/%2F%2Fevil.example", "/%2f%2fevil.example", "@evil.example",
    "evil.example", "/\r\nLocation: //evil.example", "/..//evil.example",
    "/./\\evil.example", "\x00//evil.example", "/%00//evil.example", "//evil%E3%80%82example",
    "/\u3002/evil.example", "//evil.example/%2e%2e", "/\u2215\u2215evil.example",
]
XSS_BASES = [
    "<script>alert(1)</script>", '"><script>alert(1)</script>', "'><img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", '" onmouseover="alert(1)',
    "' onfocus='alert(1)' autofocus='", "javascript:alert(1)", "</title><script>x</script>",
    "</textarea><script>x</script>", "<iframe src=javascript:alert(1)>", "<body onload=x>",
    '"><a href="javascript:x">', "`><script>x</script>", "<math><mi xlink:href=x>",
    "{{7*7}}<b>b</b>", "${alert(1)}<i>", "<!--<script>-->", "<base href=//evil.example>",
    '<meta http-equiv="refresh" content="0;url=//evil.example">',
    "<style>@import'//evil.example'</style>", "\"'><x>", "<details open ontoggle=x>",
    "<a href=//evil.example>click</a>", "</script><script>alert(1)</script>",
    "\u003cscript\u003e", "<scr<script>ipt>", "<SCRIPT SRC=//evil.example/x.js>",
    '<form action="//evil.example"><input name=x></form>', "<object data=x>",
]


def encodings(text: str) -> list[str]:
    """The payload as sent, URL-encoded once and twice (servers hand the path decoded once)."""
    once = quote(text, safe="")
    return [text, once, quote(once, safe="")]


def positions(payload: str) -> list[tuple[str, str]]:
    """(path, query) pairs carrying the payload."""
    path = payload if payload.startswith("/") else "/" + payload
    return [(path, ""), ("/articles/7", "next=" + payload), ("/articles/7", payload)]


REDIRECTS = sorted({p for b in REDIRECT_BASES for p in encodings(b)})
XSS = sorted({p for b in XSS_BASES for p in encodings(b)})
MARKUP = re.compile(r"[<>\"'`]")


def unescaped(payload: str, body: str, baseline: str = "") -> bool:
    """Whether markup of the payload appears as is (escaped text is harmless), more often
    than in the same page built for a harmless request (the page's own ``<script>``)."""
    return bool(MARKUP.search(payload)) and body.count(payload) > baseline.count(payload)


def stays_on_site(location: str) -> bool:
    target = urlsplit(urljoin(ORIGIN, location))
    return (target.scheme, target.netloc) == ("http", "shop.example") and \
        location.startswith("/") and not location.startswith(("//", "/\\"))


def html_body(d: Decision) -> str:
    assert d.reply is not None, d
    return d.reply.body.decode("utf-8", "replace")


def run_flow(e, path: str, query: str, peer: str) -> tuple[str, str, str]:
    """Challenge page, failure page, and the solved answer's Location, for one request."""
    page = get(e, path, HEADLESS, peer, query)
    body = html_body(page)
    fields = page_fields(body)
    token = fields["token"]
    verify = f"t={quote(token, safe='')}&n="
    failed = get(e, "/.antiscrape/verify", HEADLESS, peer, verify + "x", method="POST")
    solved = get(e, "/.antiscrape/verify", HEADLESS, peer,
                 verify + solve(fields["seed"], int(fields["difficulty"])), method="POST")
    assert solved.reply is not None and solved.reply.status == 303, solved
    return body, html_body(failed), dict(solved.reply.headers)["location"]


@pytest.mark.parametrize("kind", ["redirect", "xss"])
def test_payloads_through_the_challenge_flow(clock: ManualClock, kind: str) -> None:
    payloads = REDIRECTS if kind == "redirect" else XSS
    e, _ = engine(clock, challenge={"answers_per_ip": "1000000/minute",
                                    "answers_per_network": "1000000/minute",
                                    "max_failures": 1000})
    base_page, base_failed, _ = run_flow(e, "/articles/7", "", "10.250.0.1")
    checked = 0
    for i, payload in enumerate(payloads):
        for j, (path, query) in enumerate(positions(payload)):
            peer = f"10.{i % 200}.{j}.{i // 200}"
            page, failed, location = run_flow(e, path, query, peer)
            assert stays_on_site(location), (payload, location)
            again = re.search(r'href="([^"]*)"', failed)
            assert again and stays_on_site(html.unescape(again[1])), (payload, failed)
            assert not unescaped(payload, page, base_page), (payload, page)
            assert not unescaped(payload, failed, base_failed), (payload, failed)
            checked += 1
    assert checked == 3 * len(payloads)


def test_payloads_in_refusal_and_status_pages(clock: ManualClock) -> None:
    e, _ = engine(clock, budgets={"default": {"ip": "1/minute"}}, expose_reasons=True,
                  deny={"user_agents": ["EvilBot"]},
                  status_page={"enabled": True, "token": TOKEN, "mask": False})
    for i, payload in enumerate(itertools.chain(XSS, REDIRECTS)):
        peer = f"10.1.{i // 250}.{i % 250}"
        ua = {**CHROME, "user-agent": "Mozilla/5.0 " + payload}
        get(e, "/" + payload.lstrip("/"), ua, peer)
        throttled = get(e, "/" + payload.lstrip("/"), ua, peer)
        denied = get(e, "/x", {**CHROME, "user-agent": "EvilBot " + payload}, "10.2.0.1")
        for d in (throttled, denied):
            assert d.reply is not None and d.reply.status in (403, 429)
            assert not unescaped(payload, html_body(d)), payload
    status = get(e, "/_antiscrape/", {**CHROME, "authorization": f"Bearer {TOKEN}"},
                 "10.3.0.1")
    body = html_body(status)
    for payload in XSS:
        assert not unescaped(payload, body), payload


SAMPLE = ["//evil.example", "/\\evil.example", "/%2F%2Fevil.example",
          '"><script>alert(1)</script>', "<img src=x onerror=alert(1)>"]


def test_a_sample_through_every_adapter(make_site: MakeSite) -> None:
    site = make_site(challenge={"ladder": [{"max_score": 100, "difficulty": 4}]})
    # A cookie header of its own: the site's jar would carry the clearance earned for one
    # payload into the next, and every payload must meet a challenge of its own.
    headless = {**HEADLESS, "cookie": ""}
    baseline = site.get("/", headless).text
    for payload in SAMPLE:
        for path in ("/" + quote(payload.lstrip("/"), safe="/%"),
                     "/?next=" + quote(payload, safe="")):
            r = site.get(path, headless)
            assert r.status_code == 403 and not unescaped(payload, r.text, baseline), payload
            fields = page_fields(r.text)
            url = (f"/.antiscrape/verify?t={quote(fields['token'], safe='')}"
                   f"&n={solve(fields['seed'], int(fields['difficulty']))}")
            answered = site.post(url, headless)
            assert answered.status_code == 303, answered.text
            assert stays_on_site(answered.headers["location"]), answered.headers["location"]
