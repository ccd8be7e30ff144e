"""The cookies antiscrape sets (clearance, visitor): their attributes in one place.

``Secure`` keeps a cookie off plain-HTTP requests, where anyone on the path could read it.
Behind a TLS-terminating proxy the application itself speaks plain HTTP, so the request's
own scheme says ``http`` even though the browser used HTTPS; the proxy says so in
``X-Forwarded-Proto`` (or ``Forwarded: proto=``), which is believed only from a proxy the
operator trusts (``trusted_proxies``), like the client address. Framework settings that
already did this (Django's ``SECURE_PROXY_SSL_HEADER``, werkzeug's ``ProxyFix``, uvicorn's
proxy headers) arrive as an ``https`` scheme and count as well.
"""

from __future__ import annotations

from typing import Any, Literal

from .identity import parse_ip
from .request import RequestView

CookieSecure = bool | Literal["auto"]


def forwarded_proto(view: RequestView, forwarded_header: str) -> str:
    """The scheme the nearest proxy reports: the last ``X-Forwarded-Proto`` value, or the
    last ``proto=`` of ``Forwarded`` when that is the proxy's header; lower case, or ''."""
    if forwarded_header == "forwarded":
        value = view.headers.get("forwarded", "")
        for element in reversed(value.split(",")):
            for pair in element.split(";"):
                key, sep, proto = pair.partition("=")
                if sep and key.strip().lower() == "proto":
                    return proto.strip().strip('"').lower()
        return ""
    value = view.headers.get("x-forwarded-proto", "")
    return value.rsplit(",", 1)[-1].strip().lower()


class CookiePolicy:
    """Decides the attributes of every cookie antiscrape sets, from ``cookie_secure``."""

    __slots__ = ("forwarded_header", "setting", "trusted")

    def __init__(self, setting: CookieSecure, trusted: tuple[Any, ...],
                 forwarded_header: str = "x-forwarded-for") -> None:
        self.setting = setting
        self.trusted = trusted
        self.forwarded_header = forwarded_header

    def is_secure(self, view: RequestView) -> bool:
        """Whether the browser reached us over HTTPS, as far as we may believe."""
        if view.scheme == "https":
            return True
        if not self.trusted or not view.peer:
            return False
        peer = parse_ip(view.peer)
        if peer is None or not any(peer in net for net in self.trusted):
            return False
        return forwarded_proto(view, self.forwarded_header) == "https"

    def secure(self, view: RequestView) -> bool:
        if self.setting == "auto":
            return self.is_secure(view)
        return bool(self.setting)

    def set_cookie(self, view: RequestView, name: str, value: str, max_age: int) -> str:
        """A ``Set-Cookie`` value: host-only, whole site, HttpOnly, SameSite=Lax, and
        ``Secure`` as decided above."""
        return cookie_header(name, value, max_age, self.secure(view))


def cookie_header(name: str, value: str, max_age: int, secure: bool) -> str:
    """The ``Set-Cookie`` value of every cookie antiscrape sets (see ``set_cookie``)."""
    header = f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return header + "; Secure" if secure else header
