"""The Django side of the behaviour suite: settings, one URLconf, views and a login stand-in.

Settings are configured once per process, and only when nobody configured them before (a
``DJANGO_SETTINGS_MODULE`` from another suite wins). Everything a site needs is applied with
``override_settings`` around each test, so other suites' Django settings are left intact.
"""

from __future__ import annotations

import os
from typing import Any

import django
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import apps
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.test.utils import override_settings
from django.urls import path

from antiscrape.request import protect

from .site_pages import achunks, chunks, comments_text, home_text, items, user_text

MIDDLEWARE = [
    "tests.behaviour.django_project.TestLoginMiddleware",
    "django.middleware.common.CommonMiddleware",
    "antiscrape.integrations.django.AntiScrapeMiddleware",
]


def ensure_django() -> None:
    if not settings.configured and not os.environ.get("DJANGO_SETTINGS_MODULE"):
        settings.configure(
            DEBUG=False,
            SECRET_KEY="behaviour-suite-django-secret-0123456789",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            DATABASES={},
            USE_TZ=True,
        )
    if not apps.ready:
        django.setup()


def site_settings(engine: Any) -> override_settings:
    return override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, ANTISCRAPE=engine,
                             ALLOWED_HOSTS=["*"], DEBUG=False, APPEND_SLASH=True)


class _User:
    """What ``django.contrib.auth`` puts on ``request.user``, for a suite without a database."""

    def __init__(self, pk: str | None) -> None:
        self.pk = pk
        self.is_authenticated = pk is not None


class TestLoginMiddleware:
    """Signs the request in as the account named in ``x-test-account`` (``request.user`` and
    ``request.auser``, as AuthenticationMiddleware does)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def _login(self, request: Any) -> None:
        user = _User(request.headers.get("x-test-account"))
        request.user = user

        async def auser() -> _User:
            return user

        request.auser = auser

    def __call__(self, request: Any) -> Any:
        self._login(request)
        if self._async:
            return self.get_response(request)  # the awaitable, awaited by the caller
        return self.get_response(request)


def home(request: Any) -> HttpResponse:
    return HttpResponse(home_text())


def api_items(request: Any) -> JsonResponse:
    return JsonResponse(items())


@protect("profile", id_param="user_id")
def user(request: Any, user_id: int) -> HttpResponse:
    text = user_text(user_id)
    if text is None:
        raise Http404("no such user")
    return HttpResponse(text)


def comments(request: Any, item_id: int) -> HttpResponse:
    return HttpResponse(comments_text(item_id, request.GET.get("page")))


def stream(request: Any) -> StreamingHttpResponse:
    # Each server mode streams its own kind of iterator (Django warns otherwise).
    body = achunks() if isinstance(request, ASGIRequest) else chunks()
    return StreamingHttpResponse(body, content_type="text/plain")


def static(request: Any) -> HttpResponse:
    return HttpResponse("body{}", content_type="text/css")


urlpatterns = [
    path("", home),
    path("api/items", api_items),
    path("users/<int:user_id>", user),
    path("items/<int:item_id>/comments", comments),
    path("stream", stream),
    path("static/app.css", static),
]
