"""Challenges end to end through a real Starlette app and the engine (httpx's ASGI transport
chooses the peer address; the clock is a ManualClock, so nothing sleeps).

The challenged client is a headless Chromium *user agent*: the engine's own scoring puts it
at the challenge threshold, the very case the challenge exists for.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from antiscrape.challenge.tokens import ChallengeToken, ClearanceToken, Signer, leading_zero_bits_ok
from antiscrape.clock import ManualClock
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from tests.browsers import CHROME
from tests.conftest import SECRET

HEADLESS_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "HeadlessChrome/131.0.0.0 Safari/537.36")
BROWSER = {**CHROME, "user-agent": HEADLESS_UA}
API = {**BROWSER, "accept": "application/json"}
LADDER = [{"max_score": 100, "difficulty": 8, "wait": 2.0}]
"""Cheap proof-of-work for tests; the default ladder is measured in the benchmark."""


async def page(request):
    return PlainTextResponse(f"page {request.url.path}")


def make_app(clock: ManualClock, secret: str = SECRET, **config):
    challenge = {"ladder": LADDER, **config.pop("challenge", {})}
    app = Starlette(routes=[Route("/{rest:path}", page)])
    app.add_middleware(AntiScrapeMiddleware,
                       config={"secret_key": secret, "challenge": challenge, **config},
                       clock=clock)
    return app


def client(app, ip: str = "203.0.113.7", scheme: str = "http") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
                             base_url=f"{scheme}://shop.example")


def page_fields(body: str) -> dict[str, str]:
    """The data-* attributes of the challenge page's answer form."""
    form = re.search(r'<form id="as-answer"([^>]*)>', body)
    assert form, body
    return {k: html.unescape(v) for k, v in re.findall(r'data-([a-z]+)="([^"]*)"', form[1])}


def solve(seed: str, difficulty: int, *, start: int = 0) -> str:
    n = start
    while not leading_zero_bits_ok(seed, str(n), difficulty):
        n += 1
    return str(n)


def wrong_nonce(seed: str, difficulty: int) -> str:
    n = 0
    while leading_zero_bits_ok(seed, str(n), difficulty):
        n += 1
    return str(n)


def verify_url(token: str, nonce: str) -> str:
    return f"/.antiscrape/verify?t={quote(token, safe='')}&n={nonce}"


async def challenge_for(c: httpx.AsyncClient, path: str = "/articles/7",
                        headers: dict | None = None) -> dict[str, str]:
    response = await c.get(path, headers=headers or BROWSER)
    assert response.status_code == 403, response.text
    return page_fields(response.text)


def cookie_of(response: httpx.Response) -> str:
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


# -- the page ----------------------------------------------------------------------------


async def test_challenge_page_is_a_marked_403_with_a_strict_csp(clock):
    app = make_app(clock)
    async with client(app) as c:
        r = await c.get("/articles/7", headers=BROWSER)
    assert r.status_code == 403
    assert r.headers["x-antiscrape-challenge"] == "proof-of-work"
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe" not in csp and "http" not in csp
    # The one inline script and style are exactly the ones the policy names by hash.
    script = re.search(r"<script>(.*?)</script>", r.text, re.S)[1]
    style = re.search(r"<style>(.*?)</style>", r.text, re.S)[1]
    for text, directive in ((script, "script-src"), (style, "style-src")):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in csp
    # No third-party (or any absolute) resource, accessible structure.
    assert not re.search(r'(src|href|action)="(https?:)?//', r.text)
    assert '<html lang="en">' in r.text and 'role="status"' in r.text
    assert "<noscript>" in r.text


async def test_status_of_the_challenge_is_configurable_but_never_2xx(clock):
    app = make_app(clock, challenge={"status": 429})
    async with client(app) as c:
        assert (await c.get("/", headers=BROWSER)).status_code == 429
    with pytest.raises(Exception, match="4xx"):
        make_app(clock, challenge={"status": 200}).build_middleware_stack()


async def test_api_clients_get_problem_json_that_explains_how_to_clear(clock):
    app = make_app(clock)
    async with client(app) as c:
        r = await c.get("/articles/7", headers=API)
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        doc = r.json()
        assert doc["type"] == "urn:antiscrape:challenge-required" and doc["status"] == 403
        spec = doc["challenge"]
        assert spec["algorithm"] == "sha256-leading-zero-bits" and spec["difficulty"] == 8
        # Following the document's own instructions earns the cookie.
        nonce = solve(spec["seed"], spec["difficulty"])
        r = await c.post(spec["answer"]["url"],
                         params={"t": spec["answer"]["query"]["t"], "n": nonce}, headers=API)
        assert r.status_code == 303 and r.headers["location"] == "/articles/7"
        assert "antiscrape_clearance=" in r.headers["set-cookie"]


# -- solving -----------------------------------------------------------------------------


async def test_solved_challenge_returns_to_the_page_with_a_clearance_cookie(clock):
    app = make_app(clock)
    async with client(app) as c:
        fields = await challenge_for(c, "/articles/7?sort=new&page=2")
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        assert r.status_code == 303
        assert r.headers["location"] == "/articles/7?sort=new&page=2"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie and "Max-Age=86400" in cookie
        for path in ("/articles/7", "/articles/8", "/about"):  # keeps browsing unchallenged
            r = await c.get(path, headers=BROWSER)
            assert r.status_code == 200 and r.text == f"page {path}"


async def test_clearance_cookie_is_secure_over_https(clock):
    app = make_app(clock)
    async with client(app, scheme="https") as c:
        fields = await challenge_for(c)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        assert "; Secure" in r.headers["set-cookie"]


async def test_clearance_follows_the_network_prefix_not_the_exact_address(clock):
    app = make_app(clock)
    async with client(app, "203.0.113.7") as c:
        fields = await challenge_for(c)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        cookie = {"antiscrape_clearance": cookie_of(r)}
    same_net = {**BROWSER, "cookie": f"antiscrape_clearance={cookie['antiscrape_clearance']}"}
    async with client(app, "203.0.113.200") as c:   # carrier-grade NAT: another address
        assert (await c.get("/articles/7", headers=same_net)).status_code == 200
    async with client(app, "198.51.100.7") as c:    # another network: not cleared
        assert (await c.get("/articles/7", headers=same_net)).status_code == 403
    other_ua = {**same_net, "user-agent": HEADLESS_UA.replace("131.0.0.0", "132.0.0.0")}
    async with client(app, "203.0.113.7") as c:     # another browser: not cleared
        assert (await c.get("/articles/7", headers=other_ua)).status_code == 403


async def test_clearance_expires(clock):
    app = make_app(clock, challenge={"clearance_ttl": 600})
    async with client(app) as c:
        fields = await challenge_for(c)
        await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        assert (await c.get("/x", headers=BROWSER)).status_code == 200
        clock.advance(601)
        assert (await c.get("/x", headers=BROWSER)).status_code == 403


async def test_cookie_signed_with_an_old_key_is_honoured_only_while_listed(clock):
    old, new = "old-secret-0123456789abcdef", "new-secret-0123456789abcdef"
    before = make_app(clock, secret=old)
    async with client(before) as c:
        fields = await challenge_for(c)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
    headers = {**BROWSER, "cookie": f"antiscrape_clearance={cookie_of(r)}"}
    async with client(make_app(clock, secret=new, old_secret_keys=[old])) as c:
        assert (await c.get("/x", headers=headers)).status_code == 200
    async with client(make_app(clock, secret=new)) as c:
        assert (await c.get("/x", headers=headers)).status_code == 403


async def test_forged_and_tampered_cookies_are_ignored(clock):
    app = make_app(clock)
    signer = Signer([b"not-the-site-secret-0123456789"])
    forged = ClearanceToken("me", int(clock()), "whatever").encode(signer)
    async with client(app) as c:
        fields = await challenge_for(c)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        good = cookie_of(r)
    body, tag = good.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    cid, issued, rest = payload.split("|", 2)
    later = base64.urlsafe_b64encode(f"{cid}|{int(issued) + 10**6}|{rest}".encode())
    for value in (forged, good[:-3] + "abc", later.decode().rstrip("=") + "." + tag, "", "x.y"):
        headers = {**BROWSER, "cookie": f"antiscrape_clearance={value}"}
        async with client(app) as c:
            assert (await c.get("/x", headers=headers)).status_code == 403, value


# -- rejected answers --------------------------------------------------------------------


async def failures_then_block(app, answers: list[str]) -> list[int]:
    async with client(app) as c:
        return [(await c.post(url, headers=BROWSER)).status_code for url in answers]


async def test_wrong_answers_void_the_challenge_not_the_client(clock):
    app = make_app(clock, challenge={"max_failures": 3})
    async with client(app) as c:
        fields = await challenge_for(c)
        bad = verify_url(fields["token"], wrong_nonce(fields["seed"], 8))
        for _ in range(3):
            r = await c.post(bad, headers=BROWSER)
            assert r.status_code == 403 and r.headers["x-antiscrape-challenge"] == "failed"
            assert "Set-Cookie" not in r.headers
        # The challenge answered wrongly three times is void, even for the right answer ...
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        assert r.status_code == 403 and "wrongly too often" in r.text
        assert "set-cookie" not in r.headers
        # ... but answers are counted against the challenge, not the address and browser:
        # a fresh challenge is offered and can be solved.
        fields = await challenge_for(c)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        assert r.status_code == 303


async def test_tampered_challenge_token_is_rejected(clock):
    app = make_app(clock)
    async with client(app) as c:
        fields = await challenge_for(c)
        token = fields["token"]
        body, tag = token.split(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        parts = payload.split("|")
        parts[2] = "1"  # claim a 1-bit difficulty
        easier = base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")
        parts[2], parts[5] = "8", "https://evil.example/"
        elsewhere = base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")
        nonce = solve(fields["seed"], 8)
        for forged in (easier + "." + tag, elsewhere + "." + tag, token[:-2] + "AA", "junk"):
            r = await c.post(verify_url(forged, nonce), headers=BROWSER)
            assert r.status_code == 403 and "set-cookie" not in r.headers, forged
        r = await c.post(verify_url(token, nonce), headers=BROWSER)  # the real one still works
        assert r.status_code == 303


async def test_answer_below_the_signed_difficulty_is_rejected(clock):
    app = make_app(clock, challenge={"ladder": [{"max_score": 100, "difficulty": 12}]})
    async with client(app) as c:
        fields = await challenge_for(c)
        seed = fields["seed"]
        n = 0  # an answer good for 8 bits but not for 12
        while not (leading_zero_bits_ok(seed, str(n), 8)
                   and not leading_zero_bits_ok(seed, str(n), 12)):
            n += 1
        assert (await c.post(verify_url(fields["token"], str(n)), headers=BROWSER)
                ).status_code == 403
        assert (await c.post(verify_url(fields["token"], solve(seed, 12)), headers=BROWSER)
                ).status_code == 303


async def test_difficulty_climbs_the_ladder_with_risk(clock):
    ladder = [{"max_score": 50, "difficulty": 4}, {"max_score": 100, "difficulty": 9}]
    app = make_app(clock, challenge={"ladder": ladder}, scoring={"challenge_at": 30})
    # A Chrome user agent without language, encoding and fetch metadata scores 40 ...
    sloppy = {k: v for k, v in CHROME.items()
              if k not in ("accept-language", "accept-encoding", "sec-fetch-mode",
                           "sec-fetch-site", "sec-fetch-dest")}
    async with client(app) as c:
        assert (await challenge_for(c, headers=sloppy))["difficulty"] == "4"
        # ... a headless browser 60: more work.
        assert (await challenge_for(c, headers=BROWSER))["difficulty"] == "9"


async def test_expired_challenge_is_rejected(clock):
    app = make_app(clock)
    async with client(app) as c:
        fields = await challenge_for(c)
        clock.advance(301)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        assert r.status_code == 403 and "expired" in r.text


async def test_replayed_answer_is_rejected(clock):
    app = make_app(clock)
    async with client(app) as c:
        fields = await challenge_for(c)
        url = verify_url(fields["token"], solve(fields["seed"], 8))
        assert (await c.post(url, headers=BROWSER)).status_code == 303
        r = await c.post(url, headers=BROWSER)
        assert r.status_code == 403 and "already" in r.text and "set-cookie" not in r.headers
        # Another valid nonce for the same challenge is a replay too.
        other = solve(fields["seed"], 8, start=int(parse_qs(urlsplit(url).query)["n"][0]) + 1)
        assert (await c.post(verify_url(fields["token"], other), headers=BROWSER)
                ).status_code == 403


async def test_replayed_answers_earn_nothing(clock):
    app = make_app(clock, challenge={"max_failures": 3})
    async with client(app) as c:
        fields = await challenge_for(c)
        url = verify_url(fields["token"], solve(fields["seed"], 8))
        assert (await c.post(url, headers=BROWSER)).status_code == 303
    for _ in range(5):  # a scraper sharing one solved answer among its workers
        async with client(app) as worker:
            r = await worker.post(url, headers=BROWSER)
            assert r.status_code == 403 and "set-cookie" not in r.headers
            # no clearance: challenged (then blocked, for abandoning those challenges)
            assert (await worker.get("/articles/7", headers=BROWSER)).status_code == 403


async def test_abandoned_challenges_climb_the_ladder_but_never_block(clock):
    """Unanswered challenges are counted per address and browser, which a neighbour shares:
    they raise the rung, never to a block, and solving the hardest one still clears."""
    ladder = [{"max_score": 70, "difficulty": 4}, {"max_score": 100, "difficulty": 9}]
    app = make_app(clock, challenge={"max_failures": 3, "ladder": ladder})
    async with client(app) as c:
        assert (await challenge_for(c))["difficulty"] == "4"  # a headless browser scores 60
        for _ in range(5):  # shown more challenge pages, answered none
            fields = await challenge_for(c)
            assert fields["difficulty"] == "9"
        url = verify_url(fields["token"], solve(fields["seed"], 9))
        assert (await c.post(url, headers=BROWSER)).status_code == 303


async def test_answering_settles_the_challenges_shown(clock):
    app = make_app(clock, challenge={"max_failures": 3})
    async with client(app) as c:
        await challenge_for(c)
        fields = await challenge_for(c)  # two shown, both pending
        url = verify_url(fields["token"], solve(fields["seed"], 8))
        assert (await c.post(url, headers=BROWSER)).status_code == 303
    async with client(app) as fresh:  # same address, no cookie: challenged again
        for _ in range(2):
            r = await fresh.get("/articles/7", headers=BROWSER)
            assert r.headers["x-antiscrape-challenge"] == "proof-of-work"  # 2 < 3: not blocked


async def test_api_clients_are_not_counted_for_unanswered_challenges(clock):
    app = make_app(clock, challenge={"max_failures": 2})
    async with client(app) as c:
        for _ in range(4):  # a script polling an API it is challenged on stays challenged
            r = await c.get("/api/items", headers=API)
            assert r.status_code == 403
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "x-antiscrape-challenge" in r.headers  # still a challenge, not a block


async def test_answer_from_another_network_or_browser_is_rejected(clock):
    app = make_app(clock)
    async with client(app, "203.0.113.7") as c:
        fields = await challenge_for(c)
    url = verify_url(fields["token"], solve(fields["seed"], 8))
    async with client(app, "198.51.100.7") as c:
        assert (await c.post(url, headers=BROWSER)).status_code == 403
    async with client(app, "203.0.113.7") as c:
        other_ua = {**BROWSER, "user-agent": HEADLESS_UA + " extra"}
        assert (await c.post(url, headers=other_ua)).status_code == 403
    async with client(app, "203.0.113.99") as c:  # same /24 (dual stack, CGNAT): accepted
        assert (await c.post(url, headers=BROWSER)).status_code == 303


async def test_verify_needs_post_and_unknown_endpoints_are_404(clock):
    app = make_app(clock)
    async with client(app) as c:
        fields = await challenge_for(c)
        url = verify_url(fields["token"], solve(fields["seed"], 8))
        assert (await c.get(url, headers=BROWSER)).status_code == 405
        assert (await c.get("/.antiscrape/nothing", headers=BROWSER)).status_code == 404
        assert (await c.post(url, headers=BROWSER)).status_code == 303  # not spent by the GET


async def test_worker_script_is_served_as_javascript(clock):
    app = make_app(clock)
    async with client(app) as c:
        r = await c.get("/.antiscrape/worker.js", headers=BROWSER)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "crypto.subtle" in r.text and "sha256Words" in r.text


async def test_problem_json_for_rejections(clock):
    app = make_app(clock)
    async with client(app) as c:
        r = await c.post(verify_url("junk", "1"), headers=API)
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "urn:antiscrape:challenge-failed"


# -- the no-JavaScript fallback ----------------------------------------------------------


async def test_nojs_fallback_checks_that_the_wait_really_passed(clock):
    app = make_app(clock)
    async with client(app) as c:
        r = await c.get("/articles/7?a=1", headers=BROWSER)
        refresh = re.search(r'<meta http-equiv="refresh" content="(\d+);url=([^"]+)"', r.text)
        assert refresh and int(refresh[1]) >= 2
        url = html.unescape(refresh[2])
        clock.advance(1)
        early = await c.get(url, headers=BROWSER)
        assert early.status_code == 403 and "set-cookie" not in early.headers
        assert 'content="1;url=' in early.text  # told to wait the rest
        clock.advance(1)
        r = await c.get(url, headers=BROWSER)
        assert r.status_code == 303 and r.headers["location"] == "/articles/7?a=1"
        assert (await c.get("/articles/7?a=1", headers=BROWSER)).status_code == 200
        assert (await c.get(url, headers=BROWSER)).status_code == 403  # once only


async def test_nojs_fallback_can_be_disabled(clock):
    app = make_app(clock, challenge={"nojs_fallback": False})
    async with client(app) as c:
        r = await c.get("/articles/7", headers=BROWSER)
        assert "http-equiv" not in r.text and "needs JavaScript" in r.text
        token = page_fields(r.text)["token"]
        clock.advance(60)
        r = await c.get(f"/.antiscrape/nojs?t={quote(token, safe='')}", headers=BROWSER)
        assert r.status_code == 404


# -- hostile input ---------------------------------------------------------------------


RAW_PATHS = [b"//evil.example", b"/\\evil.example", b"/%2F%2Fevil.example",
             b"/%5Cevil.example", b"/%2F%5Cevil.example", b"/https://evil.example",
             b"/https:evil.example", b"/%09/evil.example", b"///evil.example/%2e%2e"]


@pytest.mark.parametrize("raw_path", RAW_PATHS)
async def test_open_redirect_payloads_never_leave_the_origin(clock, raw_path):
    app = make_app(clock)
    async with client(app) as c:
        url = httpx.URL("http://shop.example/", raw_path=raw_path + b"?next=//evil.example")
        r = await c.get(url, headers=BROWSER)
        assert r.status_code == 403
        fields = page_fields(r.text)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
        location = r.headers["location"]
        joined = urlsplit(urljoin("http://shop.example/", location))
        assert joined.netloc == "shop.example", location
        assert location.startswith("/") and location[1:2] not in ("/", "\\")


async def test_script_in_the_path_is_never_reflected_raw(clock):
    app = make_app(clock)
    payload = '/a"><script>alert(1)</script><img src=x onerror=alert(2)>'
    async with client(app) as c:
        url = httpx.URL("http://shop.example/", raw_path=quote(payload).encode() + b"?q=<b>")
        r = await c.get(url, headers=BROWSER)
        assert "<script>alert" not in r.text and "<img" not in r.text and "<b>" not in r.text
        assert r.text.count("<script>") == 1  # only our own, hash-listed one
        doc = (await c.get(url, headers=API)).json()
        assert "<script>" not in json.dumps(doc)  # json escaping aside, not reflected at all


async def test_challenge_tokens_carry_no_raw_address(clock):
    app = make_app(clock)
    async with client(app) as c:
        fields = await challenge_for(c)
    token = ChallengeToken.decode(Signer([SECRET.encode()]), fields["token"])
    assert token is not None and "203.0.113" not in fields["token"]
    assert "203.0.113" not in base64.urlsafe_b64decode(fields["token"].split(".")[0] + "==")\
        .decode()


# -- state on Redis, and Redis going away --------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("fail", ["open", "closed"])
async def test_answers_on_redis_and_when_redis_is_down(clock, own_redis, fail):
    app = make_app(clock, storage=own_redis.url, fail=fail, key_prefix=f"chtest-{fail}",
                   storage_timeout=0.5)
    async with client(app) as c:
        fields = await challenge_for(c)
        url = verify_url(fields["token"], solve(fields["seed"], 8))
        assert (await c.post(url, headers=BROWSER)).status_code == 303
        assert (await c.post(url, headers=BROWSER)).status_code == 403  # once only, on Redis
        fields = await challenge_for(c, headers={**BROWSER, "user-agent": HEADLESS_UA + " 2"})
        url = verify_url(fields["token"], solve(fields["seed"], 8))
        own_redis.stop()
        r = await c.post(url, headers={**BROWSER, "user-agent": HEADLESS_UA + " 2"})
    if fail == "open":  # the answer is verified; only the once-only check is skipped
        assert r.status_code == 303 and "antiscrape_clearance=" in r.headers["set-cookie"]
    else:
        assert r.status_code == 503 and "set-cookie" not in r.headers


async def test_garbage_answers_are_refused_not_crashed(clock):
    app = make_app(clock)
    async with client(app) as c:
        for query in ("", "t=&n=", "n=1", "t=a.b&n=-1", "&".join(f"k{i}=v" for i in range(50)),
                      "t=%ff%fe&n=%00", "t=" + "A" * 10_000 + "&n=1"):
            r = await c.post("/.antiscrape/verify?" + query, headers=BROWSER)
            assert r.status_code == 403 and r.headers["x-antiscrape-challenge"] == "failed"


async def test_a_cleared_client_is_still_counted_by_its_clearance_budget(clock):
    app = make_app(clock, decision_header=True,
                   budgets={"default": {"ip": "1000/minute", "network": "1000/minute",
                                        "clearance": "10/minute"}})
    async with client(app, "203.0.113.7") as c:
        fields = await challenge_for(c)
        r = await c.post(verify_url(fields["token"], solve(fields["seed"], 8)), headers=BROWSER)
    headers = {**BROWSER, "cookie": f"antiscrape_clearance={cookie_of(r)}"}
    got = []
    for n in range(12):  # one clearance, spread over a NAT pool's addresses
        async with client(app, f"203.0.113.{10 + n}") as c:
            got.append(await c.get("/articles/7", headers=headers))
    assert got[0].status_code == 200
    refused = [r for r in got if r.status_code == 429]
    assert refused and all("rule=budget:clearance" in r.headers["x-antiscrape-decision"]
                           for r in refused)
    assert len(refused) < len(got)
