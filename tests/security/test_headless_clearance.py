"""The attack: a real headless Chromium solves the proof-of-work and then reads protected
records on its clearance like a person would (it took 151 profiles in 46 s before the
challenge page looked at the browser). Now its clearance says it is automated, and its
protected reads stop at the automation budget. Chromium with its automation tells removed (a
desktop Chrome user agent and brands, ``navigator.webdriver`` hidden) solves the same
challenge and is counted as a person.

Same app and budgets for both: profiles are a protected kind and the site is guarded, so the
person is challenged too, and then reads on their own clearance.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from antiscrape.challenge.tokens import ClearanceToken, Signer, is_automated
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from tests.conftest import SECRET
from tests.fixtures.browser import Chromium, Page, live_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SOLVE_TIMEOUT = 30.0
PERSON_BUDGET = 20
"""Distinct profiles a day a person's clearance may read."""
AUTOMATION_SHARE = 0.16
"""budget_factor(headless_browser=60): the share an automated clearance gets."""


async def profile(request):
    return HTMLResponse(f"<!doctype html><title>profile</title><h1 id=h>User "
                        f"{int(request.path_params['user_id'])}</h1>")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    app = Starlette(routes=[Route("/users/{user_id:int}", profile)])
    app.add_middleware(AntiScrapeMiddleware, config={
        "secret_key": SECRET,
        "protect": [{"route": "/users/{user_id}", "kind": "profile"}],
        "enumeration": {"default_budget": {"1d": PERSON_BUDGET}},
        # Guarded: a protected read without a clearance needs one from the first, so the
        # person and the crawler alike solve the challenge and then read on their clearance.
        "guard": {"mode": "on"},
    })
    with live_server(app) as base:
        yield base


def clearance(page: Page) -> ClearanceToken:
    [cookie] = [c for c in page.cookies() if c["name"] == "antiscrape_clearance"]
    token = ClearanceToken.decode(Signer((SECRET.encode(),)), cookie["value"])
    assert token is not None
    return token


def users(first: int, count: int) -> list[int]:
    """Profile ids in no order (an ordered walk is a crawler's tell of its own)."""
    return [first + (i * 7) % count for i in range(count)]


def read_profiles(page: Page, site: str, ids: list[int]) -> list[int]:
    """Statuses of the profile documents, solving a challenge when one is shown."""
    out = []
    for user in ids:
        page.goto(f"{site}/users/{user}")
        status = page.documents()[-1][1]
        if status == 403:  # the challenge page: the browser solves it and comes back
            path = f"/users/{user}"
            page.wait_for_document(lambda url, s, path=path: url.endswith(path) and s != 403,
                                   SOLVE_TIMEOUT, f"profile {user} after the challenge")
            status = page.documents()[-1][1]
        out.append(status)
        if status == 429:
            break
    return out


def test_headless_chromium_clearance_is_automated_and_stops_at_the_automation_budget(
        chromium: Chromium, site: str):
    page = chromium.new_page()
    try:
        statuses = read_profiles(page, site, users(1, PERSON_BUDGET + 5))
        token = clearance(page)
    finally:
        page.close()
    assert is_automated(token.id)
    assert {"webdriver", "headless", "automation-ua"} <= set(token.traits.split("."))
    budget = round(PERSON_BUDGET * AUTOMATION_SHARE)
    # Reads on the automated clearance stop at its share of a person's budget (the throttle
    # lets a count reach the budget, and refuses the read past it).
    assert statuses[-1] == 429, statuses
    assert statuses.count(200) <= budget + 1, statuses
    print(f"\nheadless Chromium: {statuses.count(200)} profiles, then {statuses[-1]} "
          f"(automation budget {budget}, a person's {PERSON_BUDGET})")


def test_chromium_without_its_automation_tells_is_a_person(chromium: Chromium, site: str):
    page = chromium.new_page()
    try:
        page.as_desktop_chrome(hide_webdriver=True)
        statuses = read_profiles(page, site, users(101, PERSON_BUDGET - 2))
        documents = page.documents()
        assert page.evaluate("navigator.webdriver") is False
        token = clearance(page)
    finally:
        page.close()
    assert not is_automated(token.id) and token.traits == "", token
    assert statuses == [200] * (PERSON_BUDGET - 2), statuses
    assert sum(1 for url, s in documents if s == 403) == 1, documents  # one challenge, solved


def test_a_browser_user_agent_does_not_hide_webdriver(chromium: Chromium, site: str):
    """Chrome's user agent and brands, but navigator.webdriver still true: the user agent
    passes as a person's, the page sees the automation, the clearance keeps it."""
    page = chromium.new_page()
    try:
        page.as_desktop_chrome()
        statuses = read_profiles(page, site, users(201, PERSON_BUDGET))
        token = clearance(page)
    finally:
        page.close()
    assert is_automated(token.id) and token.traits == "webdriver", token
    assert statuses[-1] == 429, statuses
    assert statuses.count(200) <= round(PERSON_BUDGET * AUTOMATION_SHARE) + 1, statuses
