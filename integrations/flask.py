"""Flask extension: ``AntiScrape(app)`` or ``AntiScrape()`` + ``init_app(app)``.

It only translates. ``before_request`` runs after Flask matched the URL, so the route template
(``request.url_rule``), its parameters and the view's ``protect`` marker are known when the
engine inspects; an after-request step, asked for only when there is something to do, adds
the decision's headers and hands the status back for 404-probing counts. Per-app state lives
in ``app.extensions["antiscrape"]`` and per-request data on ``g``; the extension object
itself keeps no app, so one object serves many apps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

try:
    from flask import Flask, Request, Response, after_this_request, current_app, g, request
    from werkzeug.routing import Rule
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    from antiscrape.errors import MissingExtraError

    raise MissingExtraError("Flask", "flask") from exc

from antiscrape.config import Config, read_toml
from antiscrape.decision import Decision, Reply
from antiscrape.engine import Engine
from antiscrape.errors import ConfigError
from antiscrape.request import EMPTY, PROTECT_ATTRIBUTE, Protect, RequestView, protect

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


_RouteInfo = tuple[Rule, str, "Protect | None"]


class _AppGuard:
    """One app's state and its request hooks (``app.extensions["antiscrape"]``).

    The hooks are bound methods of this object: one Python frame per hook, with the app's
    engine at hand (no ``current_app`` look-up), and nothing for Flask's per-request
    sync/async check to unwrap but the method.
    """

    __slots__ = ("engine", "extension", "routes", "view_functions")

    def __init__(self, engine: Engine, extension: AntiScrape,
                 view_functions: dict[str, Any]) -> None:
        self.engine = engine
        self.extension = extension
        """Read per request for its account loader, which may be set after ``init_app``."""
        self.view_functions = view_functions
        """The app's endpoint table (the dict itself, not the app), for ``protect`` markers."""
        self.routes: dict[int, _RouteInfo] = {}
        """``id(rule)`` -> (rule, route template, marker), worked out on a rule's first request.

        Werkzeug rules are unhashable, hence the id, with the rule kept to rule out a reused
        id. A marker is read once per rule: Flask refuses new routes after the first request,
        and ``protect`` is declared where the view is defined."""

    def route(self, rule: Rule) -> _RouteInfo:
        marker = getattr(self.view_functions.get(rule.endpoint), PROTECT_ATTRIBUTE, None)
        info: _RouteInfo = (rule, angle_route(rule.rule), marker)
        self.routes[id(rule)] = info
        return info

    def before_request(self) -> Response | None:
        """Translate the request (all in this one frame: it runs on every request) and
        inspect it.

        Only this hook is registered for every request: most decisions are a plain allow
        with nothing to add and nothing to record, so the after step is asked for per
        request (``after_this_request``) when there is something to do (an app-wide
        ``after_request`` hook costs every request a call, Flask's sync/async check included).
        Flask runs such per-request steps before the app's ``after_request`` hooks, so the
        headers go on, and the status is read from, the response the view produced.
        """
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ
        rule = req.url_rule
        route: str | None = None
        marker: Protect | None = None
        if rule is not None:
            info = self.routes.get(id(rule))
            if info is None or info[0] is not rule:
                info = self.route(rule)
            route, marker = info[1], info[2]
        params = req.view_args
        loader = self.extension._account
        account = loader() if loader is not None else None
        # Werkzeug copied the peer and the scheme from the environ as they are; its query
        # string is bytes, the environ's text.
        view = RequestView(
            method=req.method, path=req.path, headers=environ_headers(environ),
            peer=req.remote_addr, query=environ.get("QUERY_STRING", ""), scheme=req.scheme,
            route=route, path_params=text_params(params) if params else EMPTY,
            user_id=None if account is None else str(account), protect=marker)
        decision = self.engine.inspect(view)
        per_request = g._get_current_object()  # type: ignore[attr-defined]
        per_request.antiscrape_decision = decision
        if decision.reply is not None:
            return _response(decision.reply)
        if decision.access is not None:  # a protected read: the status feeds miss probing
            per_request._antiscrape_view = view
            after_this_request(self.after_request)
        elif decision.headers:
            after_this_request(self.after_request)
        return None

    def after_request(self, response: Response) -> Response:
        """Add the decision's headers and hand the status back (the engine's own replies never
        come here: they carry their headers already)."""
        decision: Decision = g.antiscrape_decision
        if decision.headers:
            headers = response.headers
            for name, value in decision.headers:
                headers.add(name, value)
        if self.engine.counts_answer(decision, response.status_code):
            view: RequestView = g._antiscrape_view
            self.engine.record_response(view, decision, response.status_code)
        return response


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
        guard = _AppGuard(engine, self, app.view_functions)
        app.extensions[EXTENSION] = guard
        app.before_request(guard.before_request)

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
        guard: _AppGuard = target.extensions[EXTENSION]
        return guard.engine


def _response(reply: Reply) -> Response:
    return Response(reply.body, status=reply.status, headers=list(reply.headers))
