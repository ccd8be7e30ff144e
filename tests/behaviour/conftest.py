"""The behaviour suite: every test here runs against Starlette, Django under WSGI, Django
under ASGI and Flask, so one behaviour cannot drift between adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from antiscrape.clock import ManualClock
from tests.conftest import SECRET

from .sites import FRAMEWORKS, Site, build, make_engine

MakeSite = Callable[..., Site]


@pytest.fixture(params=FRAMEWORKS)
def make_site(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[MakeSite]:
    """``make_site(**config)``: the framework's test site, its engine built from ``config``
    (plus the test secret) on the shared manual clock."""
    built: list[Site] = []

    def factory(**config: Any) -> Site:
        site = build(request.param, make_engine({"secret_key": SECRET, **config}, clock))
        built.append(site)
        return site

    yield factory
    for site in built:
        site.close()
