"""Flask extension: ``AntiScrape(app)`` or ``AntiScrape()`` + ``init_app(app)``.

It only translates. ``before_request`` runs after Flask matched the URL, so the route template
(``request.url_rule``), its parameters and the view's ``protect`` marker are known when the
engine inspects; ``after_request`` adds the decision's headers and hands the status back for
404-probing counts. Per-app state lives in ``app.extensions["antiscrape"]`` and per-request
data on ``g``; the extension object itself keeps no app, so one object serves many apps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

try:
    from flask import Flask, Request, Response, current_app, g, request
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    from antiscrape.errors import MissingExtraError

    raise MissingExtraError("Flask", "flask") from exc

from antiscrape.config import Config, read_toml
from antiscrape.decision import Decision, Reply
from antiscrape.engine import Engine
from antiscrape.errors import ConfigError
from antiscrape.request import PROTECT_ATTRIBUTE, Protect, RequestView, protect

from ._wsgi import angle_route, environ_headers, text_params

__all__ = ["AntiScrape", "config_from_flask"]

EXTENSION = "antiscrape"
PREFIX = "ANTISCRAPE_"
_CONFIG_KEY = PREFIX + "CONFIG"
_FIELDS = frozenset(f.name for f in fields(Config))

AccountLoader = Callable[[], "str | int | None"]


def config_from_flask(app_config: Mapping[str, Any]) -> dict[str, Any]:
    """The antiscrape settings of a Flask config, as one dict for ``Config.load``.

    ``ANTISCRAPE_CONFIG`` (a TOML path or a dict) is the base; each ``ANTISCRAPE_<KEY>`` sets
    the top-level key ``<key>`` over it. A misspelt ``ANTISCRAPE_`` key fails at start-up
    instead of being silently ignored.
    """
    base = app_config.get(_CONFIG_KEY)
    if isinstance(base, Config):
        from antiscrape.typed_loader import dump

        data: dict[str, Any] = dump(base)
    elif isinstance(base, Mapping):
        data = dict(base)
    elif base:
        data = read_toml(base)
    else:
        data = {}
    for key, value in app_config.items():
        if not key.startswith(PREFIX) or key == _CONFIG_KEY:
            continue
        name = key[len(PREFIX):].lower()
        if name not in _FIELDS:
            raise ConfigError(key, "not an antiscrape setting (ANTISCRAPE_<key> for a "
                                   "top-level key, or ANTISCRAPE_CONFIG for the file)")
        data[name] = value
    return data


@dataclass(slots=True)
class _AppState:
    engine: Engine
    view_functions: dict[str, Any]
    """The app's endpoint table (the dict itself, not the app), read for ``protect`` markers."""


class AntiScrape:
    """The Flask extension. ``engine`` (optional) replaces the one built from app config,
    e.g. to share one engine, or to inject a clock in tests; ``account`` returns the signed-in
    account id (or None) so budgets follow the account across IPs."""

    def __init__(self, app: Flask | None = None, *, engine: Engine | None = None,
                 account: AccountLoader | None = None) -> None:
        self._engine = engine
        self._account = account
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        engine = self._engine or Engine(config_from_flask(app.config))
        state = _AppState(engine, app.view_functions)
        app.extensions[EXTENSION] = state
        # Plain closures with this app's state bound in: no current_app look-up per request,
        # and Flask's per-request sync/async check stays cheap (no partial to unwrap).
        before, after = self._before_request, self._after_request

        def antiscrape_before_request() -> Response | None:
            return before(state)

        def antiscrape_after_request(response: Response) -> Response:
            return after(state, response)

        app.before_request(antiscrape_before_request)
        app.after_request(antiscrape_after_request)

    # -- app-facing helpers -----------------------------------------------------------------

    def account_loader(self, func: AccountLoader) -> AccountLoader:
        """Decorator form of ``account=``, e.g. with flask-login::

            @antiscrape.account_loader
            def account():
                return current_user.get_id() if current_user.is_authenticated else None
        """
        self._account = func
        return func

    @staticmethod
    def protect(kind: str, id_param: str | None = None,
                page_param: str | None = None) -> Callable[[Any], Any]:
        """Declare the decorated view a protected resource (see the enumeration guard)."""
        return protect(kind, id_param, page_param)

    @staticmethod
    def engine(app: Flask | None = None) -> Engine:
        """The engine serving ``app`` (default: the current app)."""
        target = app if app is not None else current_app
        state: _AppState = target.extensions[EXTENSION]
        return state.engine

    # -- request hooks ----------------------------------------------------------------------

    def _view(self, state: _AppState, req: Request) -> RequestView:
        environ = req.environ
        rule = req.url_rule
        route: str | None = None
        marker: Protect | None = None
        if rule is not None:
            route = angle_route(rule.rule)
            marker = getattr(state.view_functions.get(rule.endpoint), PROTECT_ATTRIBUTE, None)
        account = self._account() if self._account is not None else None
        return RequestView(
            method=req.method,
            path=req.path,
            headers=environ_headers(environ),
            peer=environ.get("REMOTE_ADDR"),
            query=environ.get("QUERY_STRING", ""),
            scheme=environ.get("wsgi.url_scheme", "http"),
            route=route,
            path_params=text_params(req.view_args),
            user_id=None if account is None else str(account),
            protect=marker,
        )

    def _before_request(self, state: _AppState) -> Response | None:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        view = self._view(state, req)
        decision = state.engine.inspect(view)
        per_request = g._get_current_object()  # type: ignore[attr-defined]
        per_request._antiscrape_view = view
        per_request.antiscrape_decision = decision
        if decision.reply is not None:
            return _response(decision.reply)
        return None

    def _after_request(self, state: _AppState, response: Response) -> Response:
        per_request = g._get_current_object()  # type: ignore[attr-defined]
        decision: Decision | None = getattr(per_request, "antiscrape_decision", None)
        view: RequestView | None = getattr(per_request, "_antiscrape_view", None)
        if decision is None or view is None or decision.reply is not None:
            # An earlier before_request answered first, or this is the engine's own reply
            # (which already carries the decision's headers).
            return response
        headers = response.headers
        for name, value in decision.headers:
            headers.add(name, value)
        if decision.access is not None:  # a protected read: the status feeds miss probing
            state.engine.record_response(view, decision, response.status_code)
        return response


def _response(reply: Reply) -> Response:
    return Response(reply.body, status=reply.status, headers=list(reply.headers))
