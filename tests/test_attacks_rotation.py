"""Crawlers that look like many visitors, against the real Starlette shop with its shipped
``antiscrape.toml`` (only ``trusted_proxies`` set, so one machine can play a proxy pool):
rotating /24s, User-Agents and cookies no longer buys a clean slate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from antiscrape.clock import ManualClock
from example_apps.attacks import rotating_crawler
from example_apps.attacks.common import CHROME_NAVIGATION, Outcome
from example_apps.starlette_shop.app import create_app
from tests.fixtures.browser import live_server

pytestmark = pytest.mark.slow

SHIPPED = {"trusted_proxies": ["127.0.0.1", "::1"], "decision_header": True}
"""The shipped file plus what lets one machine play many clients (and a header to read)."""
FAST = (0.0, 0.002)


@pytest.fixture
def shop() -> Iterator[tuple[str, ManualClock]]:
    clock = ManualClock()
    with live_server(create_app(overrides=SHIPPED, engine_options={"clock": clock})) as url:
        yield url, clock


def stopped_within(outcome: Outcome, profiles: int) -> None:
    assert outcome.refused_at is not None, f"never refused: {outcome.summary()}"
    assert len(outcome.profiles) <= profiles, outcome.summary()


def all_day(url: str, clock: ManualClock, **crawler: object) -> Outcome:
    """A persistent rotating crawler (User-Agents too) kept at it for a simulated day: after
    ten refusals in a row it backs off ten minutes and tries again."""
    start = clock()
    outcome = rotating_crawler.run(url, rotate_user_agents=True, persistent=True,
                                   back_off=600, duration=86_400, sleep=clock.advance,
                                   clock=clock, **crawler)  # type: ignore[arg-type]
    assert clock() - start >= 86_400, outcome.summary()  # it really kept at it all day
    return outcome


def test_rotating_24s_with_cookies_kept_reads_at_most_40_then_is_refused(shop) -> None:
    url, clock = shop
    outcome = rotating_crawler.run(url, max_requests=600, jitter=FAST, sleep=clock.advance,
                                   clock=clock)
    stopped_within(outcome, 40)
    assert outcome.stopped.startswith("gave up"), outcome.stopped


def test_rotating_24s_and_user_agents_dropping_cookies_gets_at_most_100_in_a_day(shop) -> None:
    """Nothing is ever seen twice: no address, no fingerprint, no cookie. The anonymous pool
    and the site guard still stop it, within minutes, and hold it all day."""
    url, clock = shop
    outcome = all_day(url, clock, max_requests=5_000, jitter=(0.05, 0.3), keep_cookies=False)
    stopped_within(outcome, 100)
    assert outcome.refused_after is not None and outcome.refused_after <= 5 * 60


def test_a_new_cookie_jar_every_40_reads_is_held_by_the_guard_all_day(shop) -> None:
    """Cookies kept, but a fresh jar after every 40 reads (just under a person's 10-minute
    budget), from rotating /24s and User-Agents: every jar is a new person. Reads by
    visitors new that day have their own rate in the site guard, and while it holds them,
    jars started since are anonymous (the pool's small allowances): the crawler is
    stopped within minutes and held all day (measured: 173 profiles in the day; before
    young visitors counted, 2,198 in its first 19 simulated minutes, never refused)."""
    url, clock = shop
    outcome = all_day(url, clock, max_requests=8_000, jitter=(0.05, 0.3), new_jar_every=40)
    stopped_within(outcome, 250)
    assert outcome.refused_after is not None and outcome.refused_after <= 5 * 60


def test_one_ip_with_cookies_kept_reads_at_most_40(shop) -> None:
    url, clock = shop
    outcome = rotating_crawler.run(url, max_requests=400, jitter=FAST, sleep=clock.advance,
                                   clock=clock, one_address="203.0.113.44")
    stopped_within(outcome, 40)


def test_a_first_visit_straight_to_a_profile_is_served_without_a_challenge(shop) -> None:
    url, _clock = shop
    response = requests.get(url + "/users/321", timeout=5,
                            headers={**CHROME_NAVIGATION, "X-Forwarded-For": "198.51.100.61"})
    assert response.status_code == 200
    assert "antiscrape_visitor=" in response.headers.get("set-cookie", "")
    assert "x-antiscrape-challenge" not in response.headers
