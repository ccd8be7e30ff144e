"""Issue 2 behaviour through real Starlette and FastAPI apps (httpx's ASGI transport lets
each test choose the socket peer address)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from antiscrape.clock import ManualClock
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from tests.browsers import CHROME, CURL, FIREFOX
from tests.conftest import SECRET


async def page(request):
    return PlainTextResponse("page")


async def api(request):
    return JSONResponse({"ok": True})


async def stream(request):
    async def chunks():
        for i in range(3):
            yield f"chunk{i}\n".encode()
            await asyncio.sleep(0)

    return StreamingResponse(chunks(), media_type="text/plain")


async def ws(websocket):
    await websocket.accept()
    await websocket.send_text("hello")
    await websocket.close()


def starlette_app(clock: ManualClock, **config):
    app = Starlette(routes=[Route("/", page), Route("/items", page), Route("/api/items", api),
                            Route("/stream", stream), Route("/static/app.css", page),
                            WebSocketRoute("/ws", ws)])
    app.add_middleware(AntiScrapeMiddleware, config={"secret_key": SECRET, **config},
                       clock=clock)
    return app


def client(app, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)),
                             base_url="http://shop.example")


async def burst(app, ip: str, headers: dict, n: int, path: str = "/") -> list[httpx.Response]:
    async with client(app, ip) as c:
        return [await c.get(path, headers=headers) for _ in range(n)]


def statuses(responses) -> list[int]:
    return [r.status_code for r in responses]


async def test_burst_from_one_ip_gets_429_with_retry_after(clock):
    app = starlette_app(clock, budgets={"default": {"ip": "20/minute"}}, expose_reasons=True)
    responses = await burst(app, "203.0.113.7", CHROME, 25)
    assert statuses(responses)[:20] == [200] * 20
    refused = responses[20]
    assert refused.status_code == 429
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 60
    assert "budget 20/min per IP exceeded" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    # Waiting the announced time gives the budget back.
    clock.advance(retry + 60)
    assert statuses(await burst(app, "203.0.113.7", CHROME, 1)) == [200]


async def test_other_network_is_unaffected(clock):
    app = starlette_app(clock, budgets={"default": {"ip": "10/minute", "network": "100/minute"}})
    assert 429 in statuses(await burst(app, "203.0.113.7", CHROME, 15))
    assert statuses(await burst(app, "198.51.100.9", FIREFOX, 10)) == [200] * 10


async def test_network_budget_catches_rotation_inside_one_slash24(clock):
    app = starlette_app(clock, budgets={"default": {"ip": "100/minute", "network": "30/minute"}})
    got = []
    for i in range(40):
        got += statuses(await burst(app, f"203.0.113.{i + 1}", CHROME, 1))
    assert got[:30] == [200] * 30 and set(got[30:]) == {429}


async def test_curl_is_cut_off_long_before_a_browser(clock):
    app = starlette_app(clock)
    curl = statuses(await burst(app, "203.0.113.7", CURL, 120, "/api/items"))
    browser = statuses(await burst(app, "198.51.100.9", {**CHROME, "accept": "application/json"},
                                   120, "/api/items"))
    first_curl_refusal = curl.index(429)
    assert 429 not in browser  # the full API budget is 120/min
    assert first_curl_refusal < 60  # a small fraction of it


async def test_api_clients_get_problem_json(clock):
    app = starlette_app(clock, budgets={"default": {"ip": "1/minute"},
                                        "api": {"ip": "1/minute"}}, expose_reasons=True)
    responses = await burst(app, "203.0.113.7", CURL, 2, "/api/items")
    refused = responses[1]
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["status"] == 429 and "curl-like client" in body["detail"]
    assert body["retry_after"] == int(refused.headers["retry-after"]) >= 1


async def test_forged_forwarded_for_from_untrusted_peer_is_ignored(clock):
    app = starlette_app(clock, budgets={"default": {"ip": "5/minute"}})
    got = []
    for i in range(8):  # a new forged address every request: same peer, same budget
        got += statuses(await burst(app, "203.0.113.7",
                                    {**CHROME, "x-forwarded-for": f"10.9.{i}.1"}, 1))
    assert got.count(429) == 3


async def test_forwarded_for_from_trusted_proxy_is_honoured(clock):
    app = starlette_app(clock, trusted_proxies=["10.0.0.0/8"],
                        budgets={"default": {"ip": "5/minute", "network": "1000/minute"}})
    # Two clients behind the same proxy keep separate budgets; a client-written left-most
    # value is skipped because the right-most untrusted hop is the real client.
    a = await burst(app, "10.0.0.2", {**CHROME, "x-forwarded-for": "1.1.1.1, 198.51.100.1"}, 6)
    b = await burst(app, "10.0.0.2", {**CHROME, "x-forwarded-for": "198.51.100.2"}, 5)
    assert statuses(a) == [200] * 5 + [429]
    assert statuses(b) == [200] * 5
    c = await burst(app, "10.0.0.2",
                    {**CHROME, "forwarded": 'for="[2001:db8::1]:443";proto=https, for=10.0.0.3'},
                    5)
    assert statuses(c) == [200] * 5


async def test_monitor_mode_never_blocks_but_still_decides(clock):
    app = starlette_app(clock, monitor=True, decision_header=True,
                        budgets={"default": {"ip": "2/minute"}})
    responses = await burst(app, "203.0.113.7", CURL, 6)
    assert statuses(responses) == [200] * 6
    assert responses[-1].headers["x-antiscrape-decision"].startswith("throttle")
    assert "monitor" in responses[-1].headers["x-antiscrape-decision"]


async def test_monitor_per_rule(clock):
    app = starlette_app(clock, monitor_rules=["budget:ip"],
                        budgets={"default": {"ip": "2/minute", "network": "4/minute"}})
    got = statuses(await burst(app, "203.0.113.7", CHROME, 6))
    assert got == [200] * 4 + [429] * 2  # the network budget is still enforced


async def asgi_get(app, path: str, headers: dict, ip: str = "203.0.113.7") -> list[dict]:
    """Call the ASGI app directly and return every message it sent, unbuffered."""
    sent: list[dict] = []
    requested = False
    finished = asyncio.Event()

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # like a server: nothing more until the client goes away
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    raw = [(k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
           for k, v in headers.items()]
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": raw, "client": (ip, 1),
             "server": ("shop.example", 80), "scheme": "http", "http_version": "1.1",
             "root_path": "", "app": None}
    await app(scope, receive, send)
    return sent


async def test_streaming_response_still_streams(clock):
    app = starlette_app(clock, rate_limit_headers=True)
    sent = await asgi_get(app, "/stream", CHROME)
    start, *bodies = sent
    assert start["status"] == 200
    chunks = [m["body"] for m in bodies if m["body"]]
    assert chunks == [b"chunk0\n", b"chunk1\n", b"chunk2\n"]  # three messages, not buffered
    assert all(m.get("more_body") for m in bodies[:3])
    names = dict(start["headers"])
    assert int(names[b"ratelimit-remaining"]) >= 1


async def test_exempt_paths_are_not_counted(clock):
    app = starlette_app(clock, budgets={"default": {"ip": "2/minute"}})
    assert statuses(await burst(app, "203.0.113.7", CURL, 10, "/static/app.css")) == [200] * 10


@pytest.mark.parametrize("headers", [
    {"user-agent": "\udcff" * 3},
    {"x-forwarded-for": "not-an-ip, ::::, 999.1.1.1"},
    {"forwarded": 'for="[::1'},
    {"cookie": "=;;;antiscrape_clearance=%%%; a"},
    {"user-agent": "x" * 100_000},
    {"accept": "\x00\x01", "sec-ch-ua": '"Chromium";v="abc"'},
    {"host": ""},
])
async def test_malformed_headers_never_cause_a_500(clock, headers):
    app = starlette_app(clock, trusted_proxies=["203.0.113.0/24"])
    sent = await asgi_get(app, "/", headers)
    assert sent[0]["status"] in (200, 403, 429)


def test_websocket_and_lifespan_pass_through(clock):
    app = starlette_app(clock)
    with TestClient(app) as tc, tc.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "hello"


async def test_fastapi_app(clock):
    api_app = FastAPI()

    @api_app.get("/api/items/{item_id}")
    async def item(item_id: int):
        return {"id": item_id}

    api_app.add_middleware(AntiScrapeMiddleware, config={"secret_key": SECRET,
                                                         "budgets": {"api": {"ip": "3/minute"},
                                                                     "default": {}}},
                           clock=clock)
    responses = await burst(api_app, "203.0.113.7", {**CHROME, "accept": "application/json"},
                            4, "/api/items/5")
    assert statuses(responses) == [200, 200, 200, 429]
    assert responses[0].json() == {"id": 5}
    assert json.loads(responses[3].text)["status"] == 429


async def test_missing_secret_key_is_a_start_up_error():
    from antiscrape.errors import ConfigError

    with pytest.raises(ConfigError, match="secret_key"):
        AntiScrapeMiddleware(Starlette(), config={})


@pytest.mark.parametrize("fail", ["open", "closed"])
async def test_unreachable_storage_follows_the_failure_policy_never_500(clock, fail):
    import socket

    with socket.socket() as s:  # a port nobody listens on: a real, refused Redis
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = starlette_app(clock, storage=f"redis://127.0.0.1:{port}/0", fail=fail,
                        storage_timeout=0.2)
    page = (await burst(app, "203.0.113.7", CHROME, 1))[0]
    api = (await burst(app, "203.0.113.7", {**CHROME, "accept": "application/json"}, 1,
                       "/api/items"))[0]
    if fail == "open":
        assert page.status_code == api.status_code == 200
    else:
        assert page.status_code == api.status_code == 503
        assert page.headers["content-type"].startswith("text/html")
        assert api.headers["content-type"] == "application/problem+json"
        assert int(page.headers["retry-after"]) >= 1
