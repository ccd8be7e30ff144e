"""The apps real servers run in the server-rewriting tests (uvicorn: Starlette; gunicorn:
Flask): every answer says which peer the framework was handed, so a test can see whether a
forged X-Forwarded-For was believed."""

from __future__ import annotations

from typing import Any

CONFIG: dict[str, Any] = {
    "secret_key": "server-rewrite-test-secret-0123456789",
    "trusted_proxies": [],
    "decision_header": True,
    "budgets": {"default": {"ip": "5/minute", "network": "10000/minute"}},
}


def _starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    async def home(request: Request) -> PlainTextResponse:
        client = request.client.host if request.client else "-"
        return PlainTextResponse(client)

    app = Starlette(routes=[Route("/", home), Route("/health", home)])
    app.add_middleware(AntiScrapeMiddleware, config=CONFIG)
    return app


starlette_app = _starlette_app()


def _flask_app() -> Any:
    from flask import Flask, request

    from antiscrape.engine import Engine
    from antiscrape.integrations.flask import AntiScrape

    app = Flask(__name__)
    AntiScrape(app, engine=Engine(CONFIG))

    @app.route("/")
    def home() -> str:
        return request.remote_addr or "-"

    @app.route("/health")
    def health() -> str:  # exempt: readiness costs no budget
        return "ok"

    return app


flask_app = _flask_app()
