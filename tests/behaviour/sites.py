"""One small site built in each framework, and one client to drive any of them.

Every site has the same routes: ``/`` (HTML), ``/api/items`` (JSON), ``/users/<id>`` (a
profile protected with the ``protect`` marker next to the route; ids above 1000 answer 404),
``/items/<id>/comments`` (protected by config when a test says so), ``/stream`` (a streamed
body) and ``/static/app.css`` (exempt). The header ``x-test-account`` signs a request in the
framework's own way, so the account id travels the adapter's real path to the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from antiscrape.clock import ManualClock
from antiscrape.engine import Engine

from .site_pages import achunks, comments_text, home_text, items, user_text

PEER = "203.0.113.7"
BASE = "http://shop.example"


@dataclass
class Site:
    """A running app of one framework and the engine behind it."""

    name: str
    app: Any
    kind: str  # "wsgi" or "asgi"
    engine: Engine
    _loop: asyncio.AbstractEventLoop | None = None
    _cleanup: list[Callable[[], None]] = field(default_factory=list)
    _jars: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                peer: str = PEER, cookies: bool = True) -> httpx.Response:
        """One request of the browser at ``peer`` with these headers. Like a browser it
        keeps the cookies it is given (per address and user agent), unless the test sends
        a ``cookie`` header of its own or asks for none (``cookies=False``: a client that
        drops them)."""
        own = not cookies or (headers is not None and any(k.lower() == "cookie"
                                                          for k in headers))
        jar = None if own else self._jars.setdefault(
            (peer, (headers or {}).get("user-agent", "")), {})
        if jar:
            headers = {**(headers or {}),
                       "cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
        if self.kind == "wsgi":
            transport = httpx.WSGITransport(app=self.app, remote_addr=peer)
            with httpx.Client(transport=transport, base_url=BASE) as client:
                response = client.request(method, path, headers=headers)
        else:
            response = self._run(self._arequest(method, path, headers, peer))
        if jar is not None:
            for value in response.headers.get_list("set-cookie"):
                name, _, val = value.split(";", 1)[0].partition("=")
                jar[name.strip()] = val.strip()
        return response

    async def _arequest(self, method: str, path: str, headers: dict[str, str] | None,
                        peer: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.request(method, path, headers=headers)

    def get(self, path: str, headers: dict[str, str] | None = None,
            peer: str = PEER, cookies: bool = True) -> httpx.Response:
        return self.request("GET", path, headers=headers, peer=peer, cookies=cookies)

    def post(self, path: str, headers: dict[str, str] | None = None,
             peer: str = PEER, cookies: bool = True) -> httpx.Response:
        return self.request("POST", path, headers=headers, peer=peer, cookies=cookies)

    def body_parts(self, path: str, headers: Pairs, *, method: str = "GET", query: str = "",
                   peer: str = PEER) -> tuple[int, dict[str, str], list[bytes]]:
        """Status, headers and the body *as the server handed it out*, part by part, to
        see that a streamed body was not buffered into one piece by the middleware; the
        request is built below any HTTP client's validation (raw method, path, query,
        repeated or odd headers, any peer text)."""
        if self.kind == "wsgi":
            return _wsgi_parts(self.app, path, headers, method=method, query=query, peer=peer)
        return self._run(_asgi_parts(self.app, path, headers, method=method, query=query,
                                     peer=peer))

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        for undo in reversed(self._cleanup):
            undo()
        if self._loop is not None:
            self._loop.close()


Pairs = dict[str, str] | list[tuple[str, str]]


def _pairs(headers: Pairs) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, dict) else headers


def _wsgi_parts(app: Any, path: str, headers: Pairs, *, method: str = "GET",
                query: str = "", peer: str = PEER) -> tuple[int, dict[str, str], list[bytes]]:
    """Call a WSGI app with an environ built by hand (text as a server hands it over:
    latin-1 strings, repeated headers joined with ``,``)."""
    import io

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "shop.example", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": peer, "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(), "wsgi.version": (1, 0), "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    for name, value in _pairs(headers):
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = environ[key] + "," + value if key in environ else value
    started: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        started["status"] = int(status.split()[0])
        started["headers"] = {k.lower(): v for k, v in response_headers}
        return lambda data: None

    result = app(environ, start_response)
    try:
        parts = [bytes(part) for part in result]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return started["status"], started["headers"], parts


async def _asgi_parts(app: Any, path: str, headers: Pairs, *, method: str = "GET",
                      query: str = "", peer: str = PEER
                      ) -> tuple[int, dict[str, str], list[bytes]]:
    """Call an ASGI app with a scope built by hand (any bytes a server would pass on; the
    client stays until the answer is complete)."""
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    def raw(text: str) -> bytes:
        return text.encode("utf-8", "surrogateescape")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": raw(path),
             "query_string": raw(query), "root_path": "",
             "client": (peer, 40000) if peer else None, "server": ("shop.example", 80),
             "headers": [(raw(k), raw(v)) for k, v in _pairs(headers)]}
    await app(scope, receive, send)
    start = sent[0]
    parts = [m["body"] for m in sent[1:] if m.get("body")]
    return start["status"], {k.decode("latin-1").lower(): v.decode("latin-1")
                             for k, v in start["headers"]}, parts


# -- builders --------------------------------------------------------------------------------


def build_starlette(engine: Engine) -> Site:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route
    from starlette.types import ASGIApp, Receive, Scope, Send

    from antiscrape.integrations.starlette import AntiScrapeMiddleware
    from antiscrape.request import protect

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(home_text(), media_type="text/html")

    async def api_items(request: Request) -> JSONResponse:
        return JSONResponse(items())

    @protect("profile", id_param="user_id")
    async def user(request: Request) -> PlainTextResponse:
        text = user_text(request.path_params["user_id"])
        if text is None:
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse(text)

    async def comments(request: Request) -> PlainTextResponse:
        return PlainTextResponse(comments_text(request.path_params["item_id"],
                                               request.query_params.get("page")))

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(achunks(), media_type="text/plain")

    async def static(request: Request) -> PlainTextResponse:
        return PlainTextResponse("body{}", media_type="text/css")

    class TestLogin:
        """Outermost: puts the account where the adapter looks for the app's login."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                for name, value in scope["headers"]:
                    if name == b"x-test-account":
                        scope.setdefault("state", {})["antiscrape_user"] = value.decode()
            await self.app(scope, receive, send)

    app = Starlette(routes=[
        Route("/", home), Route("/api/items", api_items), Route("/users/{user_id:int}", user),
        Route("/items/{item_id:int}/comments", comments), Route("/stream", stream),
        Route("/static/app.css", static),
    ])
    app.add_middleware(AntiScrapeMiddleware, engine=engine)
    app.add_middleware(TestLogin)
    return Site("starlette", app, "asgi", engine)


def build_flask(engine: Engine) -> Site:
    from flask import Flask, Response, abort, request

    from antiscrape.integrations.flask import AntiScrape

    app = Flask(__name__)
    antiscrape = AntiScrape(app, engine=engine,
                            account=lambda: request.headers.get("x-test-account"))

    @app.route("/")
    def home() -> str:
        return home_text()

    @app.route("/api/items")
    def api_items() -> Any:
        return items()

    @app.route("/users/<int:user_id>")
    @antiscrape.protect(kind="profile", id_param="user_id")
    def user(user_id: int) -> str:
        text = user_text(user_id)
        if text is None:
            abort(404)
        return text

    @app.route("/items/<int:item_id>/comments")
    def comments(item_id: int) -> str:
        return comments_text(item_id, request.args.get("page"))

    @app.route("/stream")
    def stream() -> Response:
        from .site_pages import chunks

        return Response(chunks(), mimetype="text/plain")

    @app.route("/static/app.css")
    def static_css() -> Response:
        return Response("body{}", mimetype="text/css")

    return Site("flask", app, "wsgi", engine)


def build_django(engine: Engine, kind: str) -> Site:
    from .django_project import ensure_django, site_settings

    ensure_django()
    overrides = site_settings(engine)
    overrides.enable()
    if kind == "wsgi":
        from django.core.handlers.wsgi import WSGIHandler

        handler: Any = WSGIHandler()
    else:
        from django.core.handlers.asgi import ASGIHandler

        handler = ASGIHandler()
    site = Site(f"django-{kind}", handler, kind, engine)
    site._cleanup.append(overrides.disable)
    return site


FRAMEWORKS = ("starlette", "django-wsgi", "django-asgi", "flask")


def build(name: str, engine: Engine) -> Site:
    if name == "starlette":
        return build_starlette(engine)
    if name == "flask":
        return build_flask(engine)
    return build_django(engine, name.removeprefix("django-"))


def make_engine(config: dict[str, Any], clock: ManualClock) -> Engine:
    return Engine(config, clock=clock)
