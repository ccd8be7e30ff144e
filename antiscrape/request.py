"""The framework-neutral request value every adapter builds and the engine reads.

Adapters translate; they never decide. Keeping the request a plain immutable value means the
engine, the log replayer and the tests all feed the very same decision code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, str] = MappingProxyType({})
"""The shared empty mapping: what a request without path parameters or extras holds."""


_ANGLE = re.compile(r"<(?:[^:>]+:)?([^>]+)>")
_BRACE_CONVERTER = re.compile(r"\{([^}:]+):[^}]*\}")


def route_template(rule: str) -> str:
    """A framework's route rule in the core's template form, with a leading slash:
    ``/users/<int:pk>`` (werkzeug, Django ``path()``) and ``/users/{pk:int}`` (Starlette)
    become ``/users/{pk}``. The one normaliser: adapters, config and the guard all use it, so
    one ``[[protect]]`` table serves all three frameworks."""
    route = _BRACE_CONVERTER.sub(r"{\1}", _ANGLE.sub(r"{\1}", rule))
    return route if route.startswith("/") else "/" + route


def _empty() -> Mapping[str, Any]:
    return EMPTY


@dataclass(frozen=True, slots=True)
class Protect:
    """A protected-resource declaration attached to a route (decorator or route option)."""

    kind: str
    id_param: str | None = None
    page_param: str | None = None


@dataclass(slots=True)
class RequestView:
    """What the engine knows about one request.

    ``headers`` has lower-case names; repeated headers are joined with ``", "`` (cookies with
    ``"; "``). ``peer`` is the socket peer address, never a forwarded value: the engine alone
    decides whether forwarding headers are to be believed. ``route`` is the matched route
    template when the framework knows it (``/users/{user_id}``), which lets budgets count
    records instead of URLs.

    Build it with keyword arguments; fields left out take their defaults.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    peer: str | None = None
    query: str = ""
    scheme: str = "http"
    route: str | None = None
    path_params: Mapping[str, str] = field(default_factory=_empty)
    user_id: str | None = None
    protect: Protect | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def headers_from_pairs(pairs: Iterable[tuple[bytes | str, bytes | str]]) -> dict[str, str]:
    """Fold raw header pairs (ASGI bytes or WSGI text) into one lower-cased dict.

    Never raises on odd bytes: latin-1 maps every byte, so a malformed header becomes an odd
    string the signals can score instead of an exception that turns into a 500.
    """
    out: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = _text(raw_name).lower()
        value = _text(raw_value)
        if name in out:
            out[name] = out[name] + ("; " if name == "cookie" else ", ") + value
        else:
            out[name] = value
    return out


def asgi_headers(pairs: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """An ASGI scope's header pairs as the engine reads them.

    ASGI servers send lower-cased names, so decoding them is the usual path; only a request
    that repeats a name pays for :func:`headers_from_pairs`' folding.
    """
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in pairs}
    return headers if len(headers) == len(pairs) else headers_from_pairs(pairs)


def cookie_value(cookie_header: str, name: str) -> str | None:
    """Return one cookie's value from a ``Cookie`` header, or None."""
    return cookie_values(cookie_header, (name,))[0]


def cookie_values(cookie_header: str, names: tuple[str, ...]) -> tuple[str | None, ...]:
    """The values of the cookies ``names`` in a ``Cookie`` header (None: absent; an empty
    name is never found), in one pass; the first of repeated names wins.

    Hand-rolled because ``http.cookies`` rejects a whole header on one malformed pair, and a
    client must not be able to hide its clearance (or crash us) with a stray character.
    """
    found: list[str | None] = [None] * len(names)
    if not cookie_header:
        return tuple(found)
    wanted = [name for name in names if name and name in cookie_header]
    if not wanted:
        return tuple(found)
    for part in cookie_header.split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if sep and key in wanted:
            wanted.remove(key)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            found[names.index(key)] = value
            if not wanted:
                break
    return tuple(found)


PROTECT_ATTRIBUTE = "__antiscrape_protect__"


def protect(kind: str, id_param: str | None = None, page_param: str | None = None) -> Any:
    """Mark a view/endpoint as a protected resource, next to the route it serves.

    Framework neutral: it only sets an attribute; each adapter reads it off the matched
    endpoint and puts it on ``RequestView.protect``.
    """
    spec = Protect(kind=kind, id_param=id_param, page_param=page_param)

    def mark(func: Any) -> Any:
        setattr(func, PROTECT_ATTRIBUTE, spec)
        return func

    return mark
