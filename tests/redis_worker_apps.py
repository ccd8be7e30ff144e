"""Tiny Starlette and Flask apps for the multi-process Redis tests (run by uvicorn/gunicorn).

Each answers with its worker's pid so a test can tell that several processes served it. The
settings come from environment variables set by the test that starts the server.
"""

from __future__ import annotations

import os
from typing import Any

BROWSER_HEADERS = {
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/124.0.0.0 Safari/537.36",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept-language": "en-GB,en;q=0.9",
    "accept-encoding": "gzip, deflate",
    "sec-fetch-mode": "navigate",
    "sec-fetch-site": "none",
    "sec-fetch-dest": "document",
    "sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Linux"',
}
"""What a desktop browser sends, so the budget is not shrunk by risk."""

IP_BUDGET = 30
PROFILE_BUDGET = 25


def has_enumeration() -> bool:
    """Whether the enumeration guard (another work item) is in the tree yet."""
    try:
        from antiscrape.enumeration import EnumerationGuard  # noqa: F401
    except ImportError:
        return False
    return True


def settings(storage: str | None = None) -> dict[str, Any]:
    """The antiscrape config the worker apps run with (storage from the environment)."""
    cfg: dict[str, Any] = {
        "secret_key": "redis-worker-test-secret-0123456789",
        "storage": storage or os.environ.get("ANTISCRAPE_TEST_STORAGE", "memory://"),
        "key_prefix": os.environ.get("ANTISCRAPE_TEST_PREFIX", "antiscrape"),
        "storage_timeout": float(os.environ.get("ANTISCRAPE_TEST_TIMEOUT", "1.0")),
        "fail": os.environ.get("ANTISCRAPE_TEST_FAIL", "open"),
        "budgets": {"default": {"ip": f"{IP_BUDGET}/minute", "network": "10000/minute",
                                "account": "10000/minute", "clearance": "10000/minute"}},
        "route_classes": {},
    }
    if has_enumeration():
        cfg["protect"] = [{"route": "/users/{user_id}", "kind": "profile"}]
        cfg["enumeration"] = {"budgets": {"profile": {"10m": PROFILE_BUDGET}}}
    return cfg


def _starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(os.getpid()))

    app = Starlette(routes=[Route("/", page), Route("/health", page),
                            Route("/users/{user_id}", page)])
    app.add_middleware(AntiScrapeMiddleware, config=settings())
    return app


def _flask_app() -> Any:
    from flask import Flask

    from antiscrape.integrations.flask import AntiScrape

    app = Flask(__name__)
    app.config["ANTISCRAPE_CONFIG"] = settings()

    @app.get("/")
    @app.get("/health")
    def home() -> str:
        return str(os.getpid())

    @app.get("/users/<user_id>")
    def user(user_id: str) -> str:
        return str(os.getpid())

    AntiScrape(app)
    return app


def __getattr__(name: str) -> Any:
    # Built on first access so importing this module for its settings needs neither
    # framework; uvicorn and gunicorn look the attribute up by name.
    if name == "starlette_app":
        return _starlette_app()
    if name == "flask_app":
        return _flask_app()
    raise AttributeError(name)
