"""The demo login for Django: puts the signed-in account on ``request.user``.

antiscrape's Django middleware reads the account from ``request.user`` when it is
authenticated, exactly as with ``django.contrib.auth``; this stand-in only avoids a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..shop_accounts import SESSION_COOKIE, account_from_session


@dataclass(frozen=True)
class DemoUser:
    username: str
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> str:
        return self.username

    def get_username(self) -> str:
        return self.username


@dataclass(frozen=True)
class AnonymousDemoUser:
    username: str = ""
    is_authenticated: bool = False
    is_anonymous: bool = True
    pk: None = None


def _set_user(request: HttpRequest) -> None:
    account = account_from_session(settings.SECRET_KEY, request.COOKIES.get(SESSION_COOKIE))
    request.user = DemoUser(account) if account else AnonymousDemoUser()  # type: ignore[assignment]


class DemoSessionMiddleware:
    """Sync- and async-capable, so under ASGI the stack runs without thread hops."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        _set_user(request)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        _set_user(request)
        return await self.get_response(request)  # type: ignore[no-any-return]
