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


@pytest.fixture(params=(*FRAMEWORKS, "starlette+redis"))
def make_site(request: pytest.FixtureRequest, clock: ManualClock) -> Iterator[MakeSite]:
    """``make_site(**config)``: the framework's test site, its engine built from ``config``
    (plus the test secret) on the shared manual clock.

    ``starlette+redis`` runs the same cases on the Redis backend (real redis-server, the
    caller's clock so the manual clock drives it): the decisions must match the memory
    backend's, case by case.
    """
    built: list[Site] = []
    framework = request.param
    storage: dict[str, Any] = {}
    if framework == "starlette+redis":
        framework = "starlette"
        storage = {"storage": request.getfixturevalue("redis_url"),
                   "key_prefix": request.getfixturevalue("redis_prefix"),
                   "storage_options": {"clock": "caller"}, "storage_timeout": 2.0}

    def factory(**config: Any) -> Site:
        site = build(framework, make_engine({"secret_key": SECRET, **config, **storage}, clock))
        built.append(site)
        return site

    yield factory
    for site in built:
        site.close()
