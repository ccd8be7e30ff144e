"""The demo's clients against the real Starlette shop (uvicorn on a free 127.0.0.1 port), with
the demo's settings: every scraper is stopped within the profile budget, the person browsing
is never refused, and the status page tells them apart."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import requests

from example_apps import demo
from example_apps.attacks import (
    browsing_session,
    naive_enumerator,
    scrapy_crawler,
    stealth_enumerator,
)
from example_apps.attacks.common import CHROME_NAVIGATION, Outcome, require_local
from example_apps.starlette_shop.app import create_app
from tests.fixtures.browser import live_server

pytestmark = pytest.mark.slow

TOKEN = "attack-tests-status-token"
BUDGET = demo.DEMO_PROFILE_BUDGET


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with live_server(create_app(overrides=demo.demo_overrides(TOKEN))) as url:
        yield url


def assert_stopped(outcome: Outcome) -> None:
    assert outcome.refused_at is not None, f"{outcome.name} was never refused: {outcome}"
    assert len(outcome.profiles) <= BUDGET, (outcome.name, len(outcome.profiles))
    assert outcome.stopped.startswith("gave up"), outcome.stopped


def status(shop: str) -> dict[str, dict[str, int]]:
    """Per identity (simulated address): requests and refusals, from the status page."""
    data = requests.get(shop + "/_antiscrape/", params={"format": "json"}, timeout=5,
                        headers={**CHROME_NAVIGATION, "Authorization": f"Bearer {TOKEN}",
                                 "X-Forwarded-For": "192.0.2.200"}).json()
    return {row["who"]: row for row in data["top"]}


def test_scripts_refuse_remote_targets() -> None:
    for url in ("http://example.com", "http://10.0.0.1:8000", "ftp://127.0.0.1"):
        with pytest.raises(ValueError):
            require_local(url)
    assert require_local("http://localhost:8000/") == "http://localhost:8000"


def test_browsing_session_is_served(shop: str) -> None:
    outcome = browsing_session.run(shop, client_ip=demo.BROWSER_IP, items=3,
                                   profiles_per_item=4)
    assert outcome.refused == 0 and set(outcome.statuses) == {200}
    assert len(outcome.profiles) >= 8


def test_naive_enumerator_is_stopped(shop: str) -> None:
    outcome = naive_enumerator.run(shop, client_ip=demo.NAIVE_IP, max_requests=200)
    assert_stopped(outcome)


def test_stealthy_enumerator_rotating_addresses_is_stopped(shop: str) -> None:
    outcome = stealth_enumerator.run(shop, client_ips=demo.ROTATING_IPS, max_requests=200,
                                     jitter=(0.0, 0.002))
    assert_stopped(outcome)


def test_scrapy_spider_is_stopped(shop: str) -> None:
    outcome = scrapy_crawler.run(shop, client_ip=demo.SCRAPY_IP, max_requests=200)
    assert_stopped(outcome)


def test_canary_read_stops_a_client_at_once(shop: str) -> None:
    """A fresh, clean-looking client reads one profile no page links to: its next reads fail."""
    headers = {**CHROME_NAVIGATION, "X-Forwarded-For": "192.0.2.77",
               "User-Agent": CHROME_NAVIGATION["User-Agent"].replace("126.0.0.0", "125.0.0.0")}
    with requests.Session() as session:
        session.headers.update(headers)
        assert session.get(shop + "/users/12", timeout=5).status_code == 200
        session.get(shop + "/users/1337", timeout=5)
        after = [session.get(f"{shop}/users/{n}", timeout=5).status_code for n in (13, 14)]
    assert all(code in (403, 429) for code in after), after


def test_signed_in_account_is_budgeted_across_addresses_and_browsers(shop: str) -> None:
    """A scraper signed in as carol changes address and user agent on every request: the
    account is what it cannot change, and the account budget stops it."""
    with requests.Session() as session:
        session.headers.update(CHROME_NAVIGATION)
        login = session.post(shop + "/login", data={"account": "carol",
                                                    "password": "carol-demo"},
                             headers={"X-Forwarded-For": "203.0.113.1"}, timeout=5)
        assert login.status_code == 200 and "signed in as <b>carol</b>" in login.text
        read = 0
        codes = []
        ids = random.Random(5).sample(range(1, 4_000), 60)  # no order to detect: budget only
        for n, number in enumerate(ids):
            ua = CHROME_NAVIGATION["User-Agent"].replace("126.0.0.0", f"{90 + n}.0.0.0")
            response = session.get(f"{shop}/users/{number}", timeout=5, headers={
                "X-Forwarded-For": f"203.0.{113 + n % 10}.{n + 2}", "User-Agent": ua})
            codes.append(response.status_code)
            read += response.status_code == 200
            if response.status_code != 200:
                break
    assert codes[-1] in (403, 429), codes
    assert read <= BUDGET
    # Counted as the account, and stopped for it; the status page shows accounts as keyed
    # hashes (status_page.mask), never "carol".
    accounts = [row for who, row in status(shop).items() if who.startswith("account:")]
    assert len(accounts) == 1 and "carol" not in accounts[0]["who"]
    carol = accounts[0]
    assert carol["refused"] >= 1
    assert "per account" in carol["last_reason"], carol["last_reason"]


def test_person_still_served_after_the_attacks_and_status_page_agrees(shop: str) -> None:
    outcome = browsing_session.run(shop, client_ip=demo.BROWSER_IP, items=2, seed=11)
    assert outcome.refused == 0
    table = status(shop)
    assert table[demo.BROWSER_IP]["refused"] == 0
    assert table[demo.NAIVE_IP]["refused"] > 0
    assert table[demo.SCRAPY_IP]["refused"] > 0
    assert table[demo.BROWSER_IP]["max_score"] < table[demo.NAIVE_IP]["max_score"]
