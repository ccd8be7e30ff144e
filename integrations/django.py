"""Django middleware, app config and system checks.

::

    INSTALLED_APPS = [..., "antiscrape.integrations.django.AntiScrapeConfig"]
    MIDDLEWARE = [..., "antiscrape.integrations.django.AntiScrapeMiddleware", ...]
    ANTISCRAPE = {"secret_key": "...", "trusted_proxies": ["10.0.0.0/8"]}   # or a TOML path

Where it inspects: in ``process_view``, because only then has Django matched the URL, so the
route template, its captured parameters and the view's ``protect`` marker are known without
resolving the URL a second time (resolving costs more than the whole engine). A request that
never reaches ``process_view`` (no URL matched, or a middleware answered first, e.g. a cache
hit) is inspected when the response comes back, and the engine's answer replaces it if it
says so; so every request is inspected exactly once.

Sync and async: the middleware takes the mode of the stack it is placed in. Under ASGI both
``__acall__`` and ``process_view`` are coroutines calling ``engine.ainspect``: no thread hop.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from functools import lru_cache
from typing import Any

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.apps import AppConfig
    from django.conf import settings
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured
    from django.core.signals import setting_changed
    from django.http import HttpRequest, HttpResponse, HttpResponseBase
    from django.template import TemplateDoesNotExist
    from django.template.loader import select_template
    from django.utils.safestring import mark_safe
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    from antiscrape.errors import MissingExtraError

    raise MissingExtraError("Django", "django") from exc

from antiscrape.config import Config, read_toml, secrets_from_environment
from antiscrape.decision import Decision, Headers
from antiscrape.engine import Engine
from antiscrape.errors import ConfigError
from antiscrape.keystrength import key_weakness
from antiscrape.replies import public_reason
from antiscrape.request import EMPTY, PROTECT_ATTRIBUTE, RequestView, protect
from antiscrape.server_rewrite import environment_warnings

from ._wsgi import angle_route, environ_headers, merge_header, split_set_cookie, text_params

__all__ = ["AntiScrapeConfig", "AntiScrapeMiddleware", "get_engine", "protect"]

SETTING = "ANTISCRAPE"
MIDDLEWARE_PATH = "antiscrape.integrations.django.AntiScrapeMiddleware"
_VIEW_ATTR = "_antiscrape_view"
DECISION_ATTR = "antiscrape"
"""``request.antiscrape`` holds the Decision for the view and templates to read."""

Response = HttpResponseBase
GetResponse = Callable[[HttpRequest], Any]


# -- the engine, built once from settings ----------------------------------------------------


def engine_from_settings() -> Engine:
    """Build the engine from ``settings.ANTISCRAPE`` (dict, TOML path, Config or Engine).

    An ``Engine`` instance is taken as is: the way to share one engine or inject a clock.
    Nothing is written back into ``settings``.
    """
    value = getattr(settings, SETTING, None)
    if isinstance(value, Engine):
        return value
    return Engine(value if value is not None else {})


class _EngineSlot:
    """The process's engine, built on first use and dropped when the setting changes."""

    __slots__ = ("engine",)

    def __init__(self) -> None:
        self.engine: Engine | None = None

    def get(self) -> Engine:
        engine = self.engine
        if engine is None:
            engine = self.engine = engine_from_settings()
        return engine


_slot = _EngineSlot()
_templates: dict[str, Any] = {}
"""Action -> override template (or None when the project has none), looked up once."""


def get_engine() -> Engine:
    """The engine the middleware uses (e.g. for a status view or a management command)."""
    return _slot.get()


def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting == SETTING:
        _slot.engine = None
    if setting in (SETTING, "TEMPLATES"):
        _templates.clear()


setting_changed.connect(_on_setting_changed, dispatch_uid="antiscrape-settings")


# -- request -> RequestView ------------------------------------------------------------------

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>")
_REGEX_LEFTOVER = re.compile(r"[\\()\[\]{}*+?|^$]")


def _skip_group(pattern: str, start: int) -> int:
    """Index just past the group opened at ``start`` (balanced, escapes honoured)."""
    depth, i = 0, start
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(pattern)


def _regex_route(pattern: str) -> str | None:
    """``^users/(?P<pk>[0-9]+)/$`` -> ``/users/{pk}/``; None when it is no plain template."""
    pattern = pattern.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        match = _NAMED_GROUP.match(pattern, i)
        if match:
            out.append("{" + match.group(1) + "}")
            i = _skip_group(pattern, i)
            continue
        if pattern[i] == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "./-_":
            out.append(pattern[i + 1])
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    route = "".join(out)
    without_params = re.sub(r"\{\w+\}", "", route)
    if _REGEX_LEFTOVER.search(without_params):
        return None
    return route if route.startswith("/") else "/" + route


@lru_cache(maxsize=1024)
def django_route(route: str | None) -> str | None:
    """Django's ``resolver_match.route`` in the core's ``/users/{user_id}`` form."""
    if route is None:
        return None
    if "(?P<" in route or route.startswith("^") or route.endswith("$"):
        return _regex_route(route)
    return angle_route(route)


def _scheme(request: HttpRequest) -> str:
    """``https`` when Django says the request is secure: the server's own scheme (WSGI
    ``wsgi.url_scheme``, the ASGI scope's), or ``SECURE_PROXY_SSL_HEADER``, which the
    operator sets only behind a proxy that overwrites that header."""
    return "https" if request.is_secure() else "http"


def _view(request: HttpRequest, view_func: Any, account: str | None) -> RequestView:
    """The RequestView of a Django request; ``view_func`` is None when no view was matched.

    Shared by the sync and async paths, which differ only in how the account is read.
    """
    meta = request.META
    route: str | None = None
    params: Any = EMPTY
    if view_func is not None:
        match = request.resolver_match
        if match is not None:
            route = django_route(match.route)
            captured = match.captured_kwargs
            if captured:
                params = text_params(captured)
    return RequestView(
        method=request.method or "GET", path=request.path, headers=environ_headers(meta),
        peer=meta.get("REMOTE_ADDR"), query=meta.get("QUERY_STRING", ""),
        scheme=_scheme(request), route=route, path_params=params, user_id=account,
        protect=getattr(view_func, PROTECT_ATTRIBUTE, None))


def _account(user: Any) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return str(user.pk)


def _account_sync(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)  # None without AuthenticationMiddleware
    return None if user is None else _account(user)


async def _account_async(request: HttpRequest) -> str | None:
    # request.user is lazy and may query the database: auser() is its async form.
    auser = getattr(request, "auser", None)
    user = await auser() if auser is not None else getattr(request, "user", None)
    return _account(user)


# -- Decision -> response --------------------------------------------------------------------


def _template_for(action: str) -> Any:
    if action not in _templates:
        try:
            _templates[action] = select_template(
                [f"antiscrape/{action}.html", "antiscrape/reply.html"])
        except (TemplateDoesNotExist, ImproperlyConfigured):
            _templates[action] = None
    return _templates[action]


def _header(headers: Headers, name: str) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value
    return ""


def reply_response(decision: Decision) -> HttpResponse:
    """The engine's reply as a Django response.

    HTML replies can be restyled by the project: a template ``antiscrape/<action>.html``
    (``throttle``, ``block``, ``challenge``) or ``antiscrape/reply.html`` gets the core's page
    as ``body`` plus ``status``, ``reason`` (the exact rule only with ``expose_reasons``, as
    on the core's page), ``retry_after``, ``action`` and ``decision``. JSON replies stay as
    the core wrote them.
    """
    reply = decision.reply
    assert reply is not None
    body: bytes | str = reply.body
    if _header(reply.headers, "content-type").startswith("text/html"):
        template = _template_for(decision.action.value)
        if template is not None:
            body = template.render({
                "body": mark_safe(reply.body.decode("utf-8", "replace")),  # core-built
                "status": reply.status,
                "reason": public_reason(reply.status, decision.reason,
                                        (_slot.engine or _slot.get()).config.expose_reasons),
                "retry_after": decision.retry_after,
                "action": decision.action.value,
                "decision": decision,
            })
    response = HttpResponse(body, status=reply.status)
    plain, cookies = split_set_cookie(reply.headers)
    for name, value in plain:
        if name.lower() != "content-length":  # the template may have changed the body
            response.headers[name] = value
    response.headers["Content-Length"] = str(len(response.content))
    _add_cookies(response, cookies)
    return response


def _add_cookies(response: Response, cookies: list[str]) -> None:
    for value in cookies:
        if "Set-Cookie" not in response.headers:
            response.headers["Set-Cookie"] = value
        else:  # a second raw Set-Cookie line can only travel through response.cookies
            response.cookies.load(value)


def add_headers(response: Response, headers: Headers) -> None:
    """Add the decision's headers to the response without clobbering the app's own."""
    if not headers:
        return
    plain, cookies = split_set_cookie(headers)
    for name, value in plain:
        response.headers[name] = merge_header(response.headers.get(name), value)
    _add_cookies(response, cookies)


# -- the middleware --------------------------------------------------------------------------


class AntiScrapeMiddleware:
    """New-style middleware, sync- and async-capable (not ``MiddlewareMixin``)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self._is_async = iscoroutinefunction(get_response)
        # Django adapts process_view to the stack's mode; giving it the matching flavour
        # means no sync_to_async wrapper (thread hop) under ASGI.
        self.process_view: Callable[..., Any]
        if self._is_async:
            markcoroutinefunction(self)
            self.process_view = self._aprocess_view
        else:
            self.process_view = self._process_view
        _slot.get()  # a bad ANTISCRAPE setting fails at start-up, not on the first request

    # sync -------------------------------------------------------------------------------

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self.__acall__(request)
        response = self.get_response(request)
        decision: Decision | None = getattr(request, DECISION_ATTR, None)
        view: RequestView | None = None
        if decision is None:  # no view was matched, or an inner middleware answered first
            view = _view(request, None, _account_sync(request))
            decision = _slot.get().inspect(view)
            setattr(request, DECISION_ATTR, decision)
            if decision.reply is not None:
                return reply_response(decision)
        elif decision.reply is not None:
            return response  # the engine's own reply carries its headers already
        engine = _slot.engine or _slot.get()
        if engine.counts_answer(decision, response.status_code):
            engine.record_response(view or getattr(request, _VIEW_ATTR), decision,
                                   response.status_code)
        if decision.headers:
            add_headers(response, decision.headers)
        return response

    def _process_view(self, request: HttpRequest, view_func: Any, view_args: Any,
                      view_kwargs: Any) -> Response | None:
        # Every request comes here: the account and the engine are read in line, not through
        # _account_sync and _slot.get (a Python call each).
        user = getattr(request, "user", None)  # None without AuthenticationMiddleware
        view = _view(request, view_func, None if user is None else _account(user))
        decision = (_slot.engine or _slot.get()).inspect(view)
        setattr(request, DECISION_ATTR, decision)
        if decision.reply is not None:
            return reply_response(decision)
        if decision.access is not None:  # only a protected read needs the view afterwards
            setattr(request, _VIEW_ATTR, view)
        return None

    # async ------------------------------------------------------------------------------

    async def __acall__(self, request: HttpRequest) -> Any:
        response = await self.get_response(request)
        decision: Decision | None = getattr(request, DECISION_ATTR, None)
        view: RequestView | None = None
        if decision is None:
            view = _view(request, None, await _account_async(request))
            decision = await _slot.get().ainspect(view)
            setattr(request, DECISION_ATTR, decision)
            if decision.reply is not None:
                return reply_response(decision)
        elif decision.reply is not None:
            return response
        engine = _slot.engine or _slot.get()
        if engine.counts_answer(decision, response.status_code):
            await engine.arecord_response(view or getattr(request, _VIEW_ATTR), decision,
                                          response.status_code)
        if decision.headers:
            add_headers(response, decision.headers)
        return response

    async def _aprocess_view(self, request: HttpRequest, view_func: Any, view_args: Any,
                             view_kwargs: Any) -> Response | None:
        view = _view(request, view_func, await _account_async(request))
        decision = await _slot.get().ainspect(view)
        setattr(request, DECISION_ATTR, decision)
        if decision.reply is not None:
            return reply_response(decision)
        if decision.access is not None:
            setattr(request, _VIEW_ATTR, view)
        return None


# -- app config and system checks ------------------------------------------------------------


def _raw_settings() -> dict[str, Any]:
    value = getattr(settings, SETTING, None)
    if value is None:
        return {}
    if isinstance(value, Engine):
        value = value.config
    if isinstance(value, Config):
        from antiscrape.typed_loader import dump

        return dump(value)
    if isinstance(value, dict):
        return dict(value)
    return read_toml(value)


def _workers() -> int:
    """Worker processes the environment announces (gunicorn, most PaaS), 1 when unknown."""
    count = os.environ.get("WEB_CONCURRENCY", "")
    if count.strip().isdigit():
        return int(count)
    try:
        args = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
    except ValueError:
        return 1
    for i, arg in enumerate(args):
        if arg in ("-w", "--workers") and i + 1 < len(args) and args[i + 1].isdigit():
            return int(args[i + 1])
        if arg.startswith("--workers=") and arg[10:].isdigit():
            return int(arg[10:])
    return 1


_STRONG_PLACEHOLDER = "check-placeholder-0123456789abcdef"


def check_settings(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    """The ``ANTISCRAPE`` setting: secret key, validity, storage fit for the deployment."""
    errors: list[checks.CheckMessage] = []
    try:
        data = secrets_from_environment(_raw_settings(), os.environ)
    except ConfigError as exc:
        return [checks.Error(str(exc), id="antiscrape.E002",
                             hint="settings.ANTISCRAPE is a dict or a path to a TOML file")]
    secret = data.get("secret_key") or ""
    debug = bool(data.get("debug", False))
    if not isinstance(secret, str):
        secret = ""
    weakness = key_weakness(secret) if secret and not debug else None
    if (not secret and not debug) or weakness:
        errors.append(checks.Error(
            f"ANTISCRAPE['secret_key'] is {weakness or 'missing'}",
            hint="set ANTISCRAPE_SECRET_KEY in the environment (or ANTISCRAPE['secret_key']) "
                 "to a long random secret (python -c 'import secrets; "
                 "print(secrets.token_urlsafe(48))'); it signs challenges and clearance cookies",
            id="antiscrape.E001"))
        data = {**data, "secret_key": _STRONG_PLACEHOLDER}
    elif secret and _weak(secret):
        errors.append(checks.Warning(
            "ANTISCRAPE['secret_key'] looks weak (shorter than 32 characters, few distinct "
            "characters, or the same as SECRET_KEY)",
            hint="use a separate random secret of 32+ characters", id="antiscrape.W001"))
    try:
        config = Config.load(data)
    except ConfigError as exc:
        errors.append(checks.Error(f"ANTISCRAPE: {exc}", id="antiscrape.E002"))
        return errors
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not config.trusted_proxies:
        errors.append(checks.Warning(
            "SECURE_PROXY_SSL_HEADER says Django runs behind a proxy, but "
            "ANTISCRAPE['trusted_proxies'] is empty: every visitor would be counted as the "
            "proxy's address",
            hint="list the proxy's address in ANTISCRAPE['trusted_proxies'] and name the "
                 "header it writes in ANTISCRAPE['forwarded_header'] (see "
                 "docs/deploying-behind-a-proxy.md)", id="antiscrape.W006"))
    errors += [checks.Warning(text, id="antiscrape.W007")
               for text in environment_warnings(os.environ)]
    if config.storage.startswith("memory://"):
        workers = _workers()
        if workers > 1 or not settings.DEBUG:
            errors.append(checks.Warning(
                "antiscrape keeps its state in memory, per process"
                + (f", and {workers} workers are configured" if workers > 1 else "")
                + ": several workers or hosts will not share budgets",
                hint="set ANTISCRAPE['storage'] = 'redis://...' when running more than one "
                     "worker (silence antiscrape.W002 if you run exactly one)",
                id="antiscrape.W002"))
    return errors


def _weak(secret: str) -> bool:
    return (len(secret) < 32 or len(set(secret)) < 10
            or secret.startswith("django-insecure")
            or secret == getattr(settings, "SECRET_KEY", None))


_CACHE_FETCH = "django.middleware.cache.FetchFromCacheMiddleware"


def check_middleware(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    """Where the middleware sits in ``MIDDLEWARE``."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    positions = [i for i, path in enumerate(middleware) if path == MIDDLEWARE_PATH]
    if not positions:
        return [checks.Warning(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: nothing is protected",
            hint="add it to MIDDLEWARE (after SessionMiddleware/AuthenticationMiddleware is "
                 "fine, before FetchFromCacheMiddleware)", id="antiscrape.W003")]
    errors: list[checks.CheckMessage] = []
    if len(positions) > 1:
        errors.append(checks.Warning(
            f"{MIDDLEWARE_PATH} is listed {len(positions)} times: each request would be "
            "counted more than once", id="antiscrape.W004"))
    if _CACHE_FETCH in middleware and middleware.index(_CACHE_FETCH) < positions[0]:
        errors.append(checks.Warning(
            f"{MIDDLEWARE_PATH} comes after {_CACHE_FETCH}: pages served from the cache never "
            "reach antiscrape, and cached pages are what scrapers want",
            hint="list AntiScrapeMiddleware before FetchFromCacheMiddleware",
            id="antiscrape.W005"))
    return errors


class AntiScrapeConfig(AppConfig):
    """Registers the system checks (``manage.py check``)."""

    name = "antiscrape.integrations.django"
    label = "antiscrape"
    verbose_name = "antiscrape"

    def ready(self) -> None:
        checks.register(check_settings, checks.Tags.security)
        checks.register(check_middleware, checks.Tags.security)


