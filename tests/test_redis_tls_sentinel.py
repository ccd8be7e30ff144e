"""The other ``limits`` storage URIs users already write: ``rediss://`` (TLS) and
``redis+sentinel://``, each against real servers this test starts (a TLS-only redis-server
with a throw-away self-signed certificate; a master watched by a redis sentinel).

A budget of 2 per minute must throttle the third request on the sync and the async path: a
throttle can only come from state the backend really stored (failing open would allow all)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.request import RequestView
from tests.browsers import CHROME
from tests.conftest import SECRET
from tests.fixtures.processes import stop
from tests.fixtures.redis_server import RedisServer, _answers, free_port

pytestmark = [pytest.mark.redis]


def _wait(proc: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    binary, openssl = shutil.which("redis-server"), shutil.which("openssl")
    if binary is None or openssl is None:
        pytest.skip("redis-server and openssl are needed for the TLS test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    port = free_port()
    proc = subprocess.Popen([binary, "--port", "0", "--tls-port", str(port), "--bind",
                             "127.0.0.1", "--tls-cert-file", str(cert), "--tls-key-file",
                             str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients",
                             "no", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready() -> bool:
        context = ssl.create_default_context(cafile=str(cert))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3) as raw, \
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"PING\r\n")
                return tls.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        _wait(proc, ready, "TLS redis-server")
    except RuntimeError as exc:
        stop(proc, grace=5)
        pytest.skip(f"this redis-server cannot serve TLS: {exc}")
    try:
        yield f"rediss://127.0.0.1:{port}/0", {"ssl_ca_certs": str(cert)}
    finally:
        stop(proc, grace=5)


@pytest.fixture
def sentinel_redis(tmp_path: Path) -> Iterator[str]:
    master = RedisServer()
    try:
        master.start()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    port = free_port()
    conf = tmp_path / "sentinel.conf"  # a sentinel rewrites its own file: one per test
    conf.write_text(f"port {port}\nbind 127.0.0.1\n"
                    f"sentinel monitor shop 127.0.0.1 {master.port} 1\n"
                    "sentinel down-after-milliseconds shop 5000\n")
    proc = subprocess.Popen([master.binary, str(conf), "--sentinel"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(proc, lambda: _answers(port), "redis sentinel")
        yield f"redis+sentinel://127.0.0.1:{port}/shop"
    finally:
        stop(proc, grace=5)
        master.stop()


def _decisions(storage: str, options: dict[str, str]) -> tuple[list[Action], list[Action]]:
    config = {"secret_key": SECRET, "storage": storage, "storage_options": options,
              "storage_timeout": 2.0, "budgets": {"default": {"ip": "2/minute"}}}
    engine = Engine(config)
    sync = [engine.inspect(RequestView("GET", "/", CHROME, "203.0.113.7")).action
            for _ in range(3)]

    async def run() -> list[Action]:
        return [(await engine.ainspect(RequestView("GET", "/", CHROME, "198.51.100.7"))).action
                for _ in range(3)]

    return sync, asyncio.run(run())


def test_tls_uri_keeps_budgets(tls_redis: tuple[str, dict[str, str]]) -> None:
    uri, options = tls_redis
    sync, async_ = _decisions(uri, options)
    assert sync == async_ == [Action.ALLOW, Action.ALLOW, Action.THROTTLE]


def test_sentinel_uri_keeps_budgets(sentinel_redis: str) -> None:
    sync, async_ = _decisions(sentinel_redis, {})
    assert sync == async_ == [Action.ALLOW, Action.ALLOW, Action.THROTTLE]
