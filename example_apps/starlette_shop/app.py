"""The demo shop on Starlette, protected by antiscrape.

Run it:  ``uvicorn example_apps.starlette_shop.app:app`` (or ``make demo`` for the whole show).

The antiscrape part is three things, all in ``create_app``: the middleware with the config
file, the signed-in account handed to it (``scope["user"]``, set by ``DemoSessionMiddleware``
*before* antiscrape runs), and the protected routes declared in ``antiscrape.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from antiscrape.request import cookie_value

from ..shop_accounts import (
    SESSION_COOKIE,
    account_from_session,
    check_password,
    session_value,
)
from ..shop_config import SECRET_ENV, shop_config
from ..shop_ids import IdMode
from ..shop_pages import Answer, ShopSite

CONFIG_PATH = Path(__file__).with_name("antiscrape.toml")
MAX_FORM_BYTES = 4_096


class DemoSessionMiddleware:
    """Puts the signed-in account on ``scope["user"]``, where antiscrape's adapter reads it.

    Any authentication that sets ``scope["user"]`` works the same way (Starlette's
    ``AuthenticationMiddleware``, a JWT middleware...): it must run before antiscrape.
    """

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cookies = b"; ".join(v for k, v in scope["headers"] if k == b"cookie")
            account = account_from_session(
                self.secret, cookie_value(cookies.decode("latin-1"), SESSION_COOKIE))
            if account is not None:
                scope["user"] = SimpleUser(account)
        await self.app(scope, receive, send)


def _account(request: Request) -> str | None:
    user = request.scope.get("user")
    return user.username if isinstance(user, SimpleUser) else None


def _respond(answer: Answer) -> Response:
    if answer.json is not None:
        return JSONResponse(answer.json, status_code=answer.status)
    return HTMLResponse(answer.body, status_code=answer.status)


def _routes(site: ShopSite, secret: str) -> list[Route]:
    async def home(request: Request) -> Response:
        return _respond(site.home(_account(request)))

    async def item(request: Request) -> Response:
        return _respond(site.item(request.path_params["item_id"], _account(request)))

    async def comments(request: Request) -> Response:
        return _respond(site.comments(request.path_params["item_id"],
                                      request.query_params.get("page"), _account(request)))

    async def user(request: Request) -> Response:
        return _respond(site.user(request.path_params["user_id"], _account(request)))

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return _respond(site.login_form(_account(request)))
        body = await request.body()
        form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
        account = (form.get("account") or [""])[0]
        if not check_password(account, (form.get("password") or [""])[0]):
            return _respond(site.login_form(None, failed=True))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, session_value(secret, account), httponly=True,
                            samesite="lax")
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def api_items(request: Request) -> Response:
        return _respond(site.api_items())

    async def api_item(request: Request) -> Response:
        return _respond(site.api_item(request.path_params["item_id"]))

    async def api_comments(request: Request) -> Response:
        return _respond(site.api_comments(request.path_params["item_id"],
                                          request.query_params.get("page")))

    async def api_user(request: Request) -> Response:
        return _respond(site.api_user(request.path_params["user_id"]))

    return [
        Route("/", home),
        Route("/items/{item_id}", item),
        Route("/items/{item_id}/comments", comments),
        Route("/users/{user_id}", user),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout),
        Route("/api/items", api_items),
        Route("/api/items/{item_id}", api_item),
        Route("/api/items/{item_id}/comments", api_comments),
        Route("/api/users/{user_id}", api_user),
    ]


def create_app(config: str | os.PathLike[str] = CONFIG_PATH, *, ids: IdMode | None = None,
               overrides: dict[str, Any] | None = None, protected: bool = True,
               engine_options: dict[str, Any] | None = None) -> Starlette:
    """The shop. ``ids``: "sequential" (default, or ``SHOP_IDS``) or "opaque".

    ``overrides`` is merged into the config file (the demo and tests tighten budgets with
    it); ``protected=False`` builds the bare shop, for comparison; ``engine_options`` go to
    ``Engine`` (a test clock, a storage).
    """
    mode: IdMode = ids or os.environ.get("SHOP_IDS", "sequential")  # type: ignore[assignment]
    secret = os.environ.get(SECRET_ENV) or "example-shop-session-secret"
    site = ShopSite(mode, secret)
    middleware = [Middleware(DemoSessionMiddleware, secret=secret)]
    engine = None
    if protected:
        from antiscrape.engine import Engine
        from antiscrape.integrations.starlette import AntiScrapeMiddleware

        # Building the engine here (instead of passing config=) keeps a handle on it for the
        # demo's status page and counters; a project can simply pass config="antiscrape.toml".
        engine = Engine(shop_config(config, site, overrides), **(engine_options or {}))
        middleware.append(Middleware(AntiScrapeMiddleware, engine=engine))
    app = Starlette(routes=_routes(site, secret), middleware=middleware)
    app.state.site = site
    app.state.antiscrape = engine
    return app


_app: Starlette | None = None


def __getattr__(name: str) -> Any:
    # ``uvicorn example_apps.starlette_shop.app:app`` builds the app on first access only, so
    # importing this module (tests, the demo) never loads config as a side effect.
    if name == "app":
        global _app
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
