"""The visitor cookie through every adapter: set on a client's first answer (a streamed one
too) and never again while the client presents it, carried back in, and a person's budgets
following it from address to address."""

from __future__ import annotations

import httpx

from tests.browsers import CHROME

from .conftest import MakeSite
from .test_enumeration import ROOMY, SCATTERED, refused

VISITOR = "antiscrape_visitor="


def visitor_cookies(response: httpx.Response) -> list[str]:
    return [v for v in response.headers.get_list("set-cookie") if v.startswith(VISITOR)]


def test_the_first_answer_sets_the_visitor_cookie_and_later_ones_do_not(make_site: MakeSite):
    site = make_site()
    first = site.get("/", CHROME)
    assert first.status_code == 200 and first.text == "home"
    (cookie,) = visitor_cookies(first)
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert {"Path=/", "HttpOnly", "SameSite=Lax"} <= attributes
    assert "Secure" not in attributes  # plain http here; https adds it (test_visitor_cookie)
    # the site's jar sends it back, as a browser does: no second cookie
    assert visitor_cookies(site.get("/", CHROME)) == []
    assert visitor_cookies(site.get("/users/5", CHROME)) == []
    # a client that drops cookies is a new visitor each time
    assert len(visitor_cookies(site.get("/", CHROME, cookies=False))) == 1


def test_a_streamed_first_answer_carries_the_cookie_and_still_streams(make_site: MakeSite):
    site = make_site()
    status, headers, parts = site.body_parts("/stream", CHROME)
    assert status == 200
    assert parts == [b"chunk0\n", b"chunk1\n", b"chunk2\n"]
    assert headers["set-cookie"].startswith(VISITOR)


def test_a_visitor_is_one_person_wherever_its_address_moves(make_site: MakeSite):
    """A browser keeping its cookie reads profiles from a new network every request: the
    visitor's own ten-minute budget stops it, which only works if the adapter hands the
    engine's cookie to the client and the client's cookie to the engine."""
    site = make_site(budgets=ROOMY, enumeration={"budgets": {"profile": {"10m": 4}}})
    (cookie,) = visitor_cookies(site.get("/", CHROME, peer="198.51.0.7"))
    pair = cookie.split(";", 1)[0]
    got = [site.get(f"/users/{uid}", {**CHROME, "cookie": pair},
                    peer=f"198.51.{n + 1}.7").status_code
           for n, uid in enumerate(SCATTERED[:6])]
    assert got[:4] == [200] * 4
    assert refused(got[-1]), got
    # the same reads without the cookie are not this person's: another client is unaffected
    assert site.get(f"/users/{SCATTERED[6]}", CHROME, peer="198.51.9.7").status_code == 200
