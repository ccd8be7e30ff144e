"""The demo login for Django: puts the signed-in account on ``request.user``.

antiscrape's Django middleware reads the account from ``request.user`` when it is
authenticated, exactly as with ``django.contrib.auth``; this stand-in only avoids a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


class DemoSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        account = account_from_session(settings.SECRET_KEY,
                                       request.COOKIES.get(SESSION_COOKIE))
        request.user = DemoUser(account) if account else AnonymousDemoUser()  # type: ignore[assignment]
        return self.get_response(request)
