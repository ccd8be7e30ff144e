"""Several real worker processes share one budget through Redis, and survive its outage.

uvicorn ``--workers 2`` serves the Starlette app, gunicorn ``-w 4`` the Flask app
(``tests/redis_worker_apps.py``). The expected number of allowed requests comes from the same
configuration run in-process on the memory backend, so the tests do not hard-code the policy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.request import RequestView
from tests import redis_worker_apps as apps
from tests.fixtures.processes import stop
from tests.fixtures.redis_server import RedisServer, delete_prefix, free_port

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [str(BIN / "uvicorn"), "tests.redis_worker_apps:starlette_app", "--workers",
                "2", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return [str(BIN / "gunicorn"), "-w", "4", "-b", f"127.0.0.1:{port}", "--log-level",
            "warning", "tests.redis_worker_apps:flask_app"]


@contextmanager
def workers(server: str, storage: str, prefix: str, **env: str) -> Iterator[str]:
    port = free_port()
    environ = {**os.environ, "ANTISCRAPE_TEST_STORAGE": storage,
               "ANTISCRAPE_TEST_PREFIX": prefix, "PYTHONPATH": str(ROOT),
               **{f"ANTISCRAPE_TEST_{k.upper()}": v for k, v in env.items()}}
    proc = subprocess.Popen(_command(server, port), cwd=ROOT, env=environ,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        # Ready when two different workers answered /health (exempt from inspection, so
        # readiness costs no budget): a burst sent earlier could all land on one worker.
        deadline = time.monotonic() + 30
        seen: set[str] = set()
        while len(seen) < 2 and time.monotonic() < deadline:
            status, text = _get(base + "/health", timeout=2)
            if status == 200:
                seen.add(text)
                continue
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server} did not start: "
                                   f"{proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        stop(proc)


def _get(url: str, timeout: float = 10) -> tuple[int, str]:
    """One request on a fresh connection, so the OS spreads them over the workers."""
    try:
        r = requests.get(url, headers={**apps.BROWSER_HEADERS, "connection": "close"},
                         timeout=timeout)
        return r.status_code, r.text
    except requests.RequestException as exc:
        return -1, repr(exc)  # the application failed to answer: counted as an error


def _burst(urls: list[str]) -> list[tuple[int, str]]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(_get, urls))


def _allowed_in_process(paths: list[str]) -> int:
    """How many of these requests one process with the memory backend allows."""
    engine = Engine(apps.settings("memory://"))
    allowed = 0
    for path in paths:
        route, params = (("/users/{user_id}", {"user_id": path.rsplit("/", 1)[1]})
                         if path.startswith("/users/") else ("/", {}))
        view = RequestView("GET", path, headers=apps.BROWSER_HEADERS, peer="127.0.0.1",
                           route=route, path_params=params)
        allowed += engine.inspect(view).action is Action.ALLOW
    return allowed


ATTEMPTS = 3
"""The kernel, not the test, spreads connections over the workers: a run in which one worker
happened to serve every allowed request proves nothing about sharing, so it is run again
(with fresh keys) up to this many times before the test fails."""


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    name = f"t6w-{uuid.uuid4().hex[:8]}"
    yield name
    delete_prefix(redis_url, name)  # every attempt's keys start with this prefix


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_workers_share_one_request_budget(server: str, redis_url: str, prefix: str) -> None:
    paths = ["/"] * (3 * apps.IP_BUDGET)
    expected = _allowed_in_process(paths)
    assert 0 < expected < len(paths)
    for attempt in range(ATTEMPTS):
        with workers(server, redis_url, f"{prefix}-{attempt}") as base:
            answers = _burst([base + p for p in paths])
        pids = {text for s, text in answers if s == 200}
        if len(pids) >= 2:
            break
    statuses = [s for s, _ in answers]
    assert set(statuses) <= {200, 429}, answers
    assert len(pids) >= 2, "all requests went to one worker: nothing was shared"
    # Per-process memory would allow ~workers x expected; one shared budget allows expected.
    assert abs(statuses.count(200) - expected) <= 2, (expected, answers)


@pytest.mark.skipif(not apps.has_enumeration(), reason="enumeration guard not merged yet")
def test_workers_share_one_enumeration_budget(redis_url: str, prefix: str) -> None:
    paths = [f"/users/{i}" for i in range(1, 3 * apps.PROFILE_BUDGET)]
    expected = _allowed_in_process(paths)
    assert 0 < expected < len(paths)
    for attempt in range(ATTEMPTS):
        # gunicorn's four sync workers compete for each connection, which spreads requests
        # sent one after another better than uvicorn's two event loops do.
        with workers("gunicorn", redis_url, f"{prefix}-{attempt}") as base:
            # in order, as the in-process run: walking ids in order is itself a signal
            answers = [_get(base + p) for p in paths]
        if len({text for s, text in answers if s == 200}) >= 2:
            break
    statuses = [s for s, _ in answers]
    assert -1 not in statuses and 500 not in statuses, answers
    assert len({text for s, text in answers if s == 200}) >= 2, "served by one worker only"
    assert abs(statuses.count(200) - expected) <= 2, (expected, answers)


@pytest.mark.parametrize("fail", ["open", "closed"])
def test_redis_outage_mid_load(fail: str, own_redis: RedisServer) -> None:
    """Stop Redis under load: no application error, the failure policy decides; start it
    again: the budget is enforced again within 5 seconds."""
    with workers("uvicorn", own_redis.url, "outage", fail=fail, timeout="0.5") as base:
        url = base + "/"
        before = _burst([url] * 10)
        assert {s for s, _ in before} == {200}

        own_redis.stop()
        during = _burst([url] * 20)
        statuses = {s for s, _ in during}
        assert statuses == ({200} if fail == "open" else {503}), during

        own_redis.start()  # empty: the budget starts again from zero
        restarted = time.monotonic()
        while True:
            answers = _burst([url] * apps.IP_BUDGET)
            codes = {s for s, _ in answers}
            assert codes <= {200, 429, 503}, answers
            if 429 in codes:
                break
            assert time.monotonic() - restarted < 5, "budget not enforced 5 s after restart"
