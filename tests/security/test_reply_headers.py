"""Every page antiscrape answers with is unframeable and says what it varies by, and a refused
client is not told which rule caught it.

Reported: refusal pages (403/429) and the status page lacked frame protection, no reply set
``Vary``, and 429/403 bodies named the exact budget hit ("budget 1/min per IP"), which tells
a scraper what to change. The detail stays in logs and on the status page; clients get it
only with ``expose_reasons = true``.
"""

from __future__ import annotations

import pytest

from antiscrape.clock import ManualClock
from antiscrape.decision import Reply
from antiscrape.errors import StorageError
from tests.behaviour.conftest import MakeSite
from tests.browsers import CHROME, CURL

from .drive import HEADLESS, HEADLESS_API, answer, challenge, engine, get

TOKEN = "status-token-0123456789"


def pages(clock: ManualClock) -> dict[str, Reply]:
    """One of every reply the engine builds, in HTML and in JSON where both exist."""
    e, _ = engine(clock, budgets={"default": {"ip": "1/minute"}},
                      deny={"user_agents": ["EvilBot"]},
                      status_page={"enabled": True, "token": TOKEN})
    out: dict[str, Reply | None] = {}
    get(e, "/", CHROME, peer="198.51.100.1")
    out["429 html"] = get(e, "/", CHROME, peer="198.51.100.1").reply
    get(e, "/", CURL, peer="198.51.100.2")
    out["429 json"] = get(e, "/", CURL, peer="198.51.100.2").reply
    out["403 html"] = get(e, "/", {**CHROME, "user-agent": "EvilBot/1"}, "198.51.100.3").reply
    out["403 json"] = get(e, "/", {**CURL, "user-agent": "EvilBot/1"}, "198.51.100.4").reply
    out["challenge html"] = get(e, "/x", HEADLESS, peer="198.51.100.5").reply
    out["challenge json"] = get(e, "/x", HEADLESS_API, peer="198.51.100.6").reply
    out["failed html"] = answer(e, "x.y", "1", "198.51.100.7", HEADLESS).reply
    out["failed json"] = answer(e, "x.y", "1", "198.51.100.7").reply
    out["status 401"] = get(e, "/_antiscrape/", CURL, peer="198.51.100.8").reply
    out["status 200"] = get(e, "/_antiscrape/", {**CURL, "authorization": f"Bearer {TOKEN}"},
                            peer="198.51.100.9").reply
    ch = challenge(e, "198.51.100.10")
    assert ch
    closed, _ = engine(clock, fail="closed")

    def broken(ops, now):
        raise StorageError("down")

    closed.storage.execute = broken  # the store answering nothing at all
    out["503"] = get(closed, "/", CHROME).reply
    assert all(r is not None for r in out.values()), out
    return out  # type: ignore[return-value]


def test_every_page_is_unframeable_and_declares_vary(clock: ManualClock) -> None:
    for name, reply in pages(clock).items():
        headers = dict(reply.headers)
        assert headers.get("x-frame-options") == "DENY", name
        assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), name
        assert headers.get("vary"), name
        assert headers.get("cache-control") == "no-store", name


def test_refusals_name_no_budget_or_signal(clock: ManualClock) -> None:
    for name, reply in pages(clock).items():
        if name.startswith(("429", "403", "503")):
            body = reply.body.decode()
            for detail in ("/min", "per IP", "budget 1", "deny list", "EvilBot"):
                assert detail not in body, (name, detail)


def test_expose_reasons_tells_the_client(clock: ManualClock) -> None:
    e, _ = engine(clock, budgets={"default": {"ip": "1/minute"}}, expose_reasons=True)
    get(e, "/", CHROME)
    assert "1/min per IP" in get(e, "/", CHROME).reply.body.decode()


@pytest.mark.parametrize("expose", [False, True])
def test_through_every_adapter(make_site: MakeSite, expose: bool) -> None:
    site = make_site(budgets={"default": {"ip": "1/minute"}}, expose_reasons=expose)
    site.get("/", CHROME)
    r = site.get("/", CHROME)
    assert r.status_code == 429
    assert r.headers["x-frame-options"] == "DENY" and r.headers["vary"] == "Accept"
    assert ("1/min per IP" in r.text) is expose
