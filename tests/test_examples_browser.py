"""A real headless Chromium browses the protected Starlette shop the way a person does (home,
an item, its comments, a few of the people who commented) and is never blocked."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from example_apps import demo
from example_apps.starlette_shop.app import create_app
from tests.fixtures.browser import Page, live_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PROFILES = 4


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    # The demo's settings (tight budgets), without trusting X-Forwarded-For: the browser is
    # counted as 127.0.0.1, its real address.
    overrides = {**demo.demo_overrides("browser-tests-status-token"), "trusted_proxies": []}
    with live_server(create_app(overrides=overrides)) as url:
        yield url


def on_shop_page(page: Page) -> None:
    """Wait until the tab shows a shop page (after a challenge, once the browser solved it)."""
    page.wait(lambda: bool(page.evaluate("document.readyState === 'complete' && "
                                         "document.title.endsWith('Demo shop')")),
              30, "a shop page")


def click(page: Page, selector: str) -> str:
    """Click the first link matching ``selector`` (a real DOM click: Referer and
    Sec-Fetch-Site: same-origin, as for a person) and wait for the next page to finish."""
    loads = len(page._events("Page.loadEventFired"))
    href = page.evaluate(f"(() => {{ const a = document.querySelector({selector!r}); "
                         "a.click(); return a.getAttribute('href'); })()")
    page.wait(lambda: len(page._events("Page.loadEventFired")) > loads
              and page.evaluate("document.readyState") == "complete", 30, f"click on {href}")
    on_shop_page(page)
    return str(href)


def browse(page: Page, shop: str) -> list[str]:
    """Home -> an item -> its comments -> a few authors (back to the comments in between)."""
    page.goto(shop + "/")
    on_shop_page(page)
    click(page, 'a[href^="/items/"]')
    comments = click(page, 'a[href$="/comments"]')
    assert page.url().endswith(comments)
    authors = page.evaluate("[...new Set([...document.querySelectorAll('a[href^=\"/users/\"]')]"
                            ".map(a => a.getAttribute('href')))]")
    visited = []
    for href in authors[:PROFILES]:
        visited.append(click(page, f'a[href="{href}"]'))
        assert "****" in page.html()  # the profile, masked phone and all
        page.evaluate("history.back()")
        page.wait_for_document(lambda url, status: url.endswith(comments), 30, "back")
        on_shop_page(page)
    return visited


def test_chromium_as_people_run_it_is_never_refused(browser_page: Page, shop: str) -> None:
    """Chromium with the user agent a desktop Chrome sends (headless mode announces itself,
    which no person's browser does): every document it gets is a 200."""
    browser_page.as_desktop_chrome()
    visited = browse(browser_page, shop)
    assert len(visited) == PROFILES
    statuses = [status for _, status in browser_page.documents()]
    assert statuses and set(statuses) == {200}, browser_page.documents()


def test_plain_headless_chromium_reaches_every_page(browser_page: Page, shop: str) -> None:
    """Unmodified headless Chromium says "HeadlessChrome": antiscrape may challenge it, and the
    browser passes the challenge by itself; it is never blocked."""
    visited = browse(browser_page, shop)
    assert len(visited) == PROFILES
    documents = browser_page.documents()
    profile_answers = [s for url, s in documents if re.search(r"/users/\d+$", url)]
    assert profile_answers.count(200) == PROFILES, documents  # each profile, in the end, served
