"""Server-level proxy rewriting: uvicorn (``--proxy-headers`` on by default, 127.0.0.1
trusted) replaces the socket peer with X-Forwarded-For's last address before any middleware
runs. Reported: with ``trusted_proxies = []``, 200 of 200 forged values were believed.

antiscrape cannot undo what the server did (the real peer is gone), so it notices the mark
the rewrite leaves and warns once; the documented server flag turns the rewrite off.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from antiscrape.engine import Engine
from antiscrape.request import RequestView
from antiscrape.server_rewrite import rewritten_from
from tests.browsers import CHROME
from tests.conftest import SECRET
from tests.fixtures.processes import stop, wait_for_http
from tests.fixtures.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(("peer", "headers", "expected"), [
    ("198.51.100.7", {}, None),
    ("198.51.100.7", {"x-forwarded-for": "198.51.100.7"}, "x-forwarded-for"),
    ("198.51.100.7", {"x-forwarded-for": "1.2.3.4, 198.51.100.7"}, "x-forwarded-for"),
    ("10.0.0.2", {"x-forwarded-for": "198.51.100.7"}, None),  # a proxy, not rewritten
    ("2001:db8::7", {"forwarded": 'for="[2001:db8::7]:443"'}, "forwarded"),
    ("198.51.100.7", {"x-forwarded-for": "garbage, ::::"}, None),
    (None, {"x-forwarded-for": "198.51.100.7"}, None),
])
def test_the_mark_a_rewrite_leaves(peer, headers, expected) -> None:
    assert rewritten_from(peer, headers) == expected


def test_the_engine_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine({"secret_key": SECRET})
    with caplog.at_level(logging.WARNING, logger="antiscrape"):
        for i in range(5):
            peer = f"192.0.2.{i}"
            engine.inspect(RequestView("GET", "/", {**CHROME, "x-forwarded-for": peer}, peer))
    warnings = [r for r in caplog.records if "replaced the socket peer" in r.getMessage()]
    assert len(warnings) == 1
    assert "--no-proxy-headers" in warnings[0].getMessage()


@contextmanager
def uvicorn(*flags: str) -> Iterator[tuple[str, Path]]:
    with server(["uvicorn", "tests.security.server_apps:starlette_app", "--log-level",
                 "warning", "--no-access-log", *flags], "--port") as running:
        yield running


@contextmanager
def server(command: list[str], port_flag: str) -> Iterator[tuple[str, Path]]:
    """A real server on a free local port; its log (stdout and stderr) in a file."""
    port = free_port()
    log = ROOT / ".pytest_cache" / f"server-{port}.log"
    log.parent.mkdir(exist_ok=True)
    bind = str(port) if port_flag == "--port" else f"127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / command[0]), *command[1:], port_flag, bind],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(base + "/health", proc, lambda: log.read_text()[-2000:])
            yield base, log
        finally:
            stop(proc)
            log.unlink(missing_ok=True)


def forged_burst(base: str, n: int = 8) -> list[int]:
    return [requests.get(base + "/", headers={**CHROME, "x-forwarded-for": f"192.0.2.{i}"},
                         timeout=10).status_code for i in range(n)]


@pytest.mark.slow
def test_uvicorn_default_rewrite_is_reported() -> None:
    with uvicorn() as (base, log):
        statuses = forged_burst(base)
        time.sleep(0.2)
        text = log.read_text()
    assert statuses == [200] * 8  # the server believed every forged value ...
    assert text.count("replaced the socket peer") == 1  # ... and the operator is told, once


@pytest.mark.slow
def test_gunicorn_sync_workers_keep_the_socket_peer() -> None:
    """gunicorn's own workers never rewrite REMOTE_ADDR (forwarded_allow_ips only decides
    the scheme): forged values buy nothing and nothing is reported."""
    with server(["gunicorn", "-w", "1", "--log-level", "warning",
                 "tests.security.server_apps:flask_app"], "-b") as (base, log):
        statuses = forged_burst(base)
        time.sleep(0.2)
        text = log.read_text()
    assert statuses == [200] * 5 + [429] * 3
    assert "replaced the socket peer" not in text


@pytest.mark.slow
def test_uvicorn_without_proxy_headers_counts_the_real_peer() -> None:
    with uvicorn("--no-proxy-headers") as (base, log):
        statuses = forged_burst(base)
        time.sleep(0.2)
        text = log.read_text()
    assert statuses == [200] * 5 + [429] * 3
    assert "replaced the socket peer" not in text


def test_django_system_checks_name_a_proxy_antiscrape_does_not_trust(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.behaviour.django_project import ensure_django

    ensure_django()
    from django.test.utils import override_settings

    from antiscrape.integrations import django as adapter

    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    strong = {"secret_key": SECRET + "-with-more-entropy-XYZ"}
    proxy_ssl = ("HTTP_X_FORWARDED_PROTO", "https")
    with override_settings(ANTISCRAPE=strong, DEBUG=True, SECURE_PROXY_SSL_HEADER=proxy_ssl):
        assert [m.id for m in adapter.check_settings()] == ["antiscrape.W006"]
    with override_settings(ANTISCRAPE={**strong, "trusted_proxies": ["10.0.0.0/8"]},
                           DEBUG=True, SECURE_PROXY_SSL_HEADER=proxy_ssl):
        assert adapter.check_settings() == []
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    with override_settings(ANTISCRAPE=strong, DEBUG=True):
        assert [m.id for m in adapter.check_settings()] == ["antiscrape.W007"]
