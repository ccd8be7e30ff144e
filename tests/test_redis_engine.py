"""The engine decides the same on Redis as on the memory backend, request for request.

Two engines with the same configuration and the same manual clock, one per backend (Redis
with the caller's clock so the manual clock drives it), see the same traffic: a browsing
person, a curl loop that runs out of budget, a crawler walking profiles, a prober collecting
404s, over simulated minutes and hours. Every decision must match.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from antiscrape.clock import ManualClock
from antiscrape.decision import Decision
from antiscrape.engine import Engine
from antiscrape.request import RequestView
from antiscrape.state import open_storage
from tests.redis_worker_apps import BROWSER_HEADERS, has_enumeration

pytestmark = pytest.mark.redis

CURL = {"user-agent": "curl/8.5.0", "accept": "*/*"}


def _config(prefix: str) -> dict:
    cfg: dict = {
        "secret_key": "redis-engine-test-secret-0123456789",
        "key_prefix": prefix,
        "budgets": {"default": {"ip": "20/minute", "network": "60/minute"}},
        "route_classes": {},
    }
    if has_enumeration():
        cfg["protect"] = [{"route": "/users/{user_id}", "kind": "profile"}]
        cfg["enumeration"] = {"budgets": {"profile": {"10m": 15, "1h": 40}}, "miss_budget": 8,
                              "canaries": {"profile": ["4242"]}}
    return cfg


def _view(path: str, headers: dict[str, str], ip: str) -> RequestView:
    if path.startswith("/users/"):
        uid = path.rsplit("/", 1)[1]
        return RequestView("GET", path, headers=headers, peer=ip, route="/users/{user_id}",
                           path_params={"user_id": uid})
    return RequestView("GET", path, headers=headers, peer=ip, route=path)


def _traffic() -> Iterator[tuple[float, str, dict[str, str], str, int]]:
    """(seconds to wait, path, headers, ip, status the app answers)."""
    for i in range(30):  # a person: home and a few profiles, a few seconds apart
        yield 4.0, "/" if i % 3 else f"/users/{1 + i % 5}", BROWSER_HEADERS, "198.51.100.7", 200
    for _ in range(45):  # curl in a loop: runs out of its (risk-shrunk) budget
        yield 0.2, "/", CURL, "203.0.113.9", 200
    yield 90.0, "/", CURL, "203.0.113.9", 200  # waited: budget back
    for uid in range(100, 160):  # a crawler walking profiles from one /24, rotating IPs
        yield 1.5, f"/users/{uid}", BROWSER_HEADERS, f"192.0.2.{uid % 50}", 200
    for uid in range(5000, 5020):  # a prober collecting misses
        yield 0.5, f"/users/{uid}", BROWSER_HEADERS, "198.51.100.99", 404
    yield 3600.0, "/users/4242", BROWSER_HEADERS, "198.51.100.50", 200  # canary
    yield 5.0, "/users/1", BROWSER_HEADERS, "198.51.100.50", 200
    yield 7200.0, "/users/100", BROWSER_HEADERS, "192.0.2.1", 200  # hours later


def _summary(d: Decision) -> tuple:
    return (d.action, d.rule, d.reason, d.retry_after, d.score,
            tuple((k, v) for k, v in d.headers if k.lower() != "set-cookie"))


def test_same_decisions_as_memory_backend(redis_url: str, redis_prefix: str) -> None:
    clock = ManualClock()
    memory = Engine(_config(redis_prefix), clock=clock)
    storage = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0,
                           options={"clock": "caller"})
    shared = Engine(_config(redis_prefix), clock=clock, storage=storage)
    actions = set()
    for n, (wait, path, headers, ip, status) in enumerate(_traffic()):
        clock.advance(wait)
        view = _view(path, headers, ip)
        mine, theirs = shared.inspect(view), memory.inspect(view)
        assert _summary(mine) == _summary(theirs), (n, path, ip)
        actions.add(theirs.action)
        if theirs.reply is None:
            shared.record_response(view, mine, status)
            memory.record_response(view, theirs, status)
    assert len(actions) >= 2  # the traffic exercised more than "allow"


async def test_async_path_decides_like_the_sync_path(redis_url: str, redis_prefix: str) -> None:
    clock = ManualClock()
    storage = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0,
                           options={"clock": "caller"})
    engine = Engine(_config(redis_prefix), clock=clock, storage=storage)
    memory = Engine(_config(redis_prefix), clock=clock)
    for _ in range(40):
        clock.advance(0.2)
        view = _view("/", CURL, "203.0.113.77")
        assert _summary(await engine.ainspect(view)) == _summary(memory.inspect(view))
