"""When Redis is down, slow or restarted: one error type, bounded waits, automatic recovery.

Every test here runs its own redis-server (or a fake that never answers) on a free port; the
machine's server on 6379 is never stopped.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from antiscrape.errors import StorageError
from antiscrape.state import Hit, Incr, open_storage
from tests.fixtures.redis_server import RedisServer, free_port

pytestmark = pytest.mark.redis


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung or overloaded server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_refused_connection_is_a_storage_error() -> None:
    store, astore = open_storage(f"redis://127.0.0.1:{free_port()}/0", cap=1000, prefix="x",
                                 timeout=0.2)
    with pytest.raises(StorageError, match="ConnectionError"):
        store.execute([Incr("x:n", 60)], 0.0)
    with pytest.raises(StorageError, match="ConnectionError"):
        asyncio.run(astore.execute([Incr("x:n", 60)], 0.0))


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_server_that_never_answers_costs_at_most_the_timeout(silent_port: int,
                                                               face: str) -> None:
    """redis-py would retry 3 times with back-off by default; we must give up after one
    timeout. (Generous slack: this checks that no retry happens, it is not a benchmark.)"""
    timeout = 0.3
    store, astore = open_storage(f"redis://127.0.0.1:{silent_port}/0", cap=1000, prefix="x",
                                 timeout=timeout)
    started = time.monotonic()
    with pytest.raises(StorageError, match="Timeout"):
        if face == "sync":
            store.execute([Hit("x:ip", 60, 5)], 0.0)
        else:
            asyncio.run(astore.execute([Hit("x:ip", 60, 5)], 0.0))
    assert time.monotonic() - started < 2 * timeout + 0.5


def _until_answers(call, limit: float = 5.0) -> float:
    """Seconds until ``call`` stops raising StorageError (fails the test after ``limit``)."""
    started = time.monotonic()
    while True:
        try:
            call()
            return time.monotonic() - started
        except StorageError:
            if time.monotonic() - started > limit:
                raise
            time.sleep(0.05)


def test_stop_and_restart_sync_and_async(own_redis: RedisServer) -> None:
    store, astore = open_storage(own_redis.url, cap=1000, prefix="r", timeout=0.5)
    loop = asyncio.new_event_loop()
    try:
        op = [Incr("r:n", 600)]
        assert store.execute(op, 0.0) == [1]
        assert loop.run_until_complete(astore.execute(op, 0.0)) == [2]

        own_redis.stop()
        with pytest.raises(StorageError):
            store.execute(op, 0.0)
        with pytest.raises(StorageError):
            loop.run_until_complete(astore.execute(op, 0.0))

        own_redis.start()  # same port, empty data (no persistence), script cache gone
        assert _until_answers(lambda: store.execute(op, 0.0)) < 5
        assert _until_answers(lambda: loop.run_until_complete(astore.execute(op, 0.0))) < 5
        assert store.execute(op, 0.0)[0] >= 2  # counting again on the fresh server
        loop.run_until_complete(astore.aclose())
    finally:
        loop.close()
        store.close()


def test_server_down_at_start_up_does_not_stop_the_application() -> None:
    server = RedisServer()
    store, _ = open_storage(server.url, cap=1000, prefix="s", timeout=0.3)
    with pytest.raises(StorageError):
        store.execute([Incr("s:n", 60)], 0.0)
    server.start()
    try:
        assert _until_answers(lambda: store.execute([Incr("s:n", 60)], 0.0)) < 5
    finally:
        server.stop()
