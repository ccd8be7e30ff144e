"""Starlette/FastAPI adapter: pure ASGI middleware around the engine.

It translates the ASGI scope into a :class:`RequestView` and the engine's :class:`Reply` into
ASGI messages; it decides nothing. Responses are never buffered: extra headers are added in
the ``send`` wrapper on ``http.response.start``, so streaming bodies keep streaming.

    app.add_middleware(AntiScrapeMiddleware, config="antiscrape.toml")
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

try:
    from starlette.routing import BaseRoute, Mount, Route, compile_path
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    from antiscrape.errors import MissingExtraError

    raise MissingExtraError("starlette", "starlette") from exc

from antiscrape import decisionlog
from antiscrape.cache import BoundedCache
from antiscrape.config import Config
from antiscrape.decision import Decision, Reply
from antiscrape.engine import Engine
from antiscrape.request import (
    EMPTY,
    PROTECT_ATTRIBUTE,
    Protect,
    RequestView,
    asgi_headers,
)

UserId = Callable[[Scope], "str | None"]

_ProtectedRoute = tuple[re.Pattern[str], str, Protect]
_RouteEntry = tuple[re.Pattern[str], str, "Protect | None"]


def default_user_id(scope: Scope) -> str | None:
    """The account id from Starlette's AuthenticationMiddleware (``scope["user"]``), or from
    ``scope["state"]["antiscrape_user"]`` set by the application's own login code."""
    state = scope.get("state")
    if state and state.get("antiscrape_user"):
        return str(state["antiscrape_user"])
    user = scope.get("user")
    if user is not None and getattr(user, "is_authenticated", False):
        ident = getattr(user, "identity", None) or getattr(user, "display_name", None)
        return str(ident) if ident else None
    return None


def route_templates(routes: Iterable[BaseRoute], prefix: str = "") -> list[_RouteEntry]:
    """Every route (mounts walked) in the router's order: its full-path regex, its template
    and the ``antiscrape.protect(...)`` spec its endpoint carries (None for most)."""
    found: list[_RouteEntry] = []
    for route in routes:
        if isinstance(route, Mount):
            found += route_templates(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            template = prefix + route.path
            regex, _, _ = compile_path(template)
            found.append((regex, template, getattr(route.endpoint, PROTECT_ATTRIBUTE, None)))
    return found


def protected_routes(routes: Iterable[BaseRoute], prefix: str = "") -> list[_ProtectedRoute]:
    """Routes whose endpoint carries ``antiscrape.protect(...)``, with full-path regexes.

    Collected once per application: the engine must know *which record* a request reads
    before the router runs, and matching only the few protected routes keeps that cheap.
    """
    return [(regex, template, spec) for regex, template, spec in route_templates(routes, prefix)
            if spec is not None]


class RouteNames:
    """The route template a path will match, for the decision log.

    Starlette's router runs after the middleware, so unlike Django and Flask nothing has
    named the route of a refused request yet. Matching every route on every request would
    tax the hot path for a line written only for refusals, so the log asks here, for the
    lines it writes; answers are remembered (a bounded table, dropped wholesale when full).
    """

    MAX_KEPT = 4_096

    def __init__(self, table: list[_RouteEntry]) -> None:
        self._table = [(regex, template) for regex, template, _ in table]
        self._kept: BoundedCache[str, str | None] = BoundedCache(self.MAX_KEPT)

    def __call__(self, path: str) -> str | None:
        if path in self._kept:
            return self._kept[path]
        return self._kept.put(path, next((t for regex, t in self._table if regex.match(path)),
                                         None))


class AntiScrapeMiddleware:
    """ASGI middleware: ``app.add_middleware(AntiScrapeMiddleware, config=...)``."""

    def __init__(self, app: ASGIApp, config: Config | dict[str, Any] | str | None = None, *,
                 engine: Engine | None = None, user_id: UserId = default_user_id,
                 **engine_options: Any) -> None:
        self.app = app
        self.engine = engine if engine is not None else Engine(config, **engine_options)
        self.user_id = user_id
        self._routes: list[_ProtectedRoute] | None = None

    def view(self, scope: Scope) -> RequestView:
        """Translate the scope. Only the socket peer is passed; the engine decides whether
        forwarding headers are believed."""
        raw_headers = scope["headers"]
        headers = asgi_headers(raw_headers)
        client = scope.get("client")
        route = params = protect = None
        if self._routes is None:
            table = route_templates(getattr(scope.get("app"), "routes", ()))
            self._routes = [(regex, t, spec) for regex, t, spec in table if spec is not None]
            decisionlog.name_routes(self.engine, RouteNames(table))
        if self._routes:
            path = scope["path"]
            for regex, template, spec in self._routes:
                match = regex.match(path)
                if match is not None:
                    route, params, protect = template, match.groupdict(), spec
                    break
        return RequestView(
            method=scope["method"], path=scope["path"], headers=headers,
            peer=client[0] if client else None,
            query=scope.get("query_string", b"").decode("latin-1"),
            scheme=scope.get("scheme", "http"), route=route, path_params=params or EMPTY,
            user_id=self.user_id(scope), protect=protect)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # websocket and lifespan pass through
            await self.app(scope, receive, send)
            return
        engine = self.engine
        view = self.view(scope)
        decision = await engine.ainspect(view)
        if decision.reply is not None:
            await send_reply(decision.reply, send)
            return
        extra = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in decision.headers] \
            if decision.headers else None
        if extra is None and decision.access is None:
            await self.app(scope, receive, send)  # nothing to add, nothing to record
            return
        status = 500  # what the record says if the app dies before answering

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_wrapper)
        if engine.counts_answer(decision, status):
            await engine.arecord_response(view, decision, status)


async def send_reply(reply: Reply, send: Send) -> None:
    await send({
        "type": "http.response.start",
        "status": reply.status,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers],
    })
    await send({"type": "http.response.body", "body": reply.body})


__all__ = ["AntiScrapeMiddleware", "Decision", "RouteNames", "default_user_id",
           "protected_routes", "route_templates"]
