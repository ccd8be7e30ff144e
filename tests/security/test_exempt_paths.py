"""Exempt paths and route classes match on path-segment boundaries.

Reported: exempt paths matched as bare prefixes, so ``/health`` exempted
``/healthcare/users/1`` and ``/robots.txt`` exempted ``/robots.txt.bak``: any route whose
name begins like an exempt one escaped every budget and guard.
"""

from __future__ import annotations

import pytest

from antiscrape.clock import ManualClock
from antiscrape.paths import PathPrefixes
from tests.behaviour.conftest import MakeSite
from tests.browsers import CHROME

from .drive import engine, get

DEFAULT = ("/static/", "/favicon.ico", "/robots.txt", "/health")


@pytest.mark.parametrize(("path", "exempt"), [
    ("/health", True), ("/health/live", True), ("/healthcare/users/1", False),
    ("/healthz", False), ("/robots.txt", True), ("/robots.txt.bak", False),
    ("/static/app.css", True), ("/static", False), ("/staticfiles/x", False),
    ("/favicon.ico", True), ("/favicon.ico.php", False), ("/", False), ("", False),
])
def test_segment_boundaries(path: str, exempt: bool) -> None:
    assert PathPrefixes(DEFAULT).matches(path) is exempt


def test_a_route_named_like_an_exempt_path_is_inspected(clock: ManualClock) -> None:
    e, _ = engine(clock, budgets={"default": {"ip": "2/minute"}})
    got = [get(e, "/healthcare/users/1", CHROME).reply for _ in range(3)]
    assert got[2] is not None and got[2].status == 429
    assert all(get(e, "/health", CHROME).rule == "exempt" for _ in range(5))
    assert get(e, "/robots.txt.bak", CHROME).reply.status == 429


def test_route_classes_match_on_boundaries(clock: ManualClock) -> None:
    e, _ = engine(clock, route_classes={"api": ("/api",)},
                  budgets={"default": {"ip": "100/minute"}, "api": {"ip": "1/minute"}})
    assert get(e, "/apiary", CHROME).action.value == "allow"
    assert get(e, "/apiary", CHROME).action.value == "allow"  # default class: 100/minute
    assert get(e, "/api/items", CHROME).action.value == "allow"
    assert get(e, "/api/items", CHROME).action.value == "throttle"


def test_through_every_adapter(make_site: MakeSite) -> None:
    site = make_site(exempt_paths=["/user"], budgets={"default": {"ip": "2/minute"}})
    assert [site.get("/users/5", CHROME).status_code for _ in range(3)] == [200, 200, 429]
