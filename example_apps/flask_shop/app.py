"""The demo shop on Flask, protected by antiscrape.

Run it:  ``flask --app example_apps.flask_shop.app run`` (port 5000).

The antiscrape part, all in ``create_app``: ``ANTISCRAPE_CONFIG`` (the dict built from
``antiscrape.toml``), ``AntiScrape(app, account=...)`` with a function returning the signed-in
account, and the protected routes declared in ``antiscrape.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, redirect, request

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


def _respond(answer: Answer) -> Response:
    if answer.json is not None:
        response = jsonify(answer.json)
        response.status_code = answer.status
        return response
    return Response(answer.body, status=answer.status, content_type=answer.content_type)


def create_app(config: str | os.PathLike[str] = CONFIG_PATH, *, ids: IdMode | None = None,
               overrides: dict[str, Any] | None = None, protected: bool = True) -> Flask:
    """The shop. ``ids``: "sequential" (default, or ``SHOP_IDS``) or "opaque"."""
    mode: IdMode = ids or os.environ.get("SHOP_IDS", "sequential")  # type: ignore[assignment]
    secret = os.environ.get(SECRET_ENV) or "example-shop-session-secret"
    site = ShopSite(mode, secret)
    app = Flask(__name__)

    def account() -> str | None:
        return account_from_session(secret, request.cookies.get(SESSION_COOKIE))

    if protected:
        from antiscrape.integrations.flask import AntiScrape

        app.config["ANTISCRAPE_CONFIG"] = shop_config(config, site, overrides)
        AntiScrape(app, account=account)

    @app.get("/")
    def home() -> Response:
        return _respond(site.home(account()))

    @app.get("/items/<item_id>")
    def item(item_id: str) -> Response:
        return _respond(site.item(item_id, account()))

    @app.get("/items/<item_id>/comments")
    def comments(item_id: str) -> Response:
        return _respond(site.comments(item_id, request.args.get("page"), account()))

    @app.get("/users/<user_id>")
    def user(user_id: str) -> Response:
        return _respond(site.user(user_id, account()))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Response:
        if request.method == "GET":
            return _respond(site.login_form(account()))
        name = request.form.get("account", "")
        if not check_password(name, request.form.get("password", "")):
            return _respond(site.login_form(None, failed=True))
        response = redirect("/", code=303)
        response.set_cookie(SESSION_COOKIE, session_value(secret, name), httponly=True,
                            samesite="Lax")
        return response

    @app.get("/logout")
    def logout() -> Response:
        response = redirect("/", code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/api/items")
    def api_items() -> Response:
        return _respond(site.api_items())

    @app.get("/api/items/<item_id>")
    def api_item(item_id: str) -> Response:
        return _respond(site.api_item(item_id))

    @app.get("/api/items/<item_id>/comments")
    def api_comments(item_id: str) -> Response:
        return _respond(site.api_comments(item_id, request.args.get("page")))

    @app.get("/api/users/<user_id>")
    def api_user(user_id: str) -> Response:
        return _respond(site.api_user(user_id))

    app.extensions["shop_site"] = site
    return app
