"""Translation shared by the WSGI-shaped adapters (Flask, and Django under WSGI *and* ASGI).

Django's ``request.META`` is a WSGI environ under WSGI and an environ-shaped dict under ASGI,
and Flask's ``request.environ`` is the environ itself, so both adapters read the same keys.
Everything here only translates; decisions stay in the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from antiscrape.decision import Headers
from antiscrape.request import EMPTY, route_template

_NAME_CACHE_MAX = 512
_names: dict[str, str | None] = {}
"""``HTTP_USER_AGENT`` -> ``user-agent``, ``wsgi.input`` -> None. Bounded: a client can
invent header names."""

_CONTENT_KEYS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def _header_name(key: str) -> str | None:
    """The header name an environ key carries, or None for the server's own keys."""
    if key.startswith("HTTP_"):
        name: str | None = key[5:].replace("_", "-").lower()
    else:
        name = _CONTENT_KEYS.get(key)
    if len(_names) < _NAME_CACHE_MAX:
        _names[key] = name
    return name


def environ_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """Request headers of a WSGI environ (or Django ``META``) with lower-case names.

    The server has already folded repeated headers into one environ key (PEP 3333), so this
    is ``headers_from_pairs`` without the folding: one pass over the environ, on every
    request, with one dictionary look-up per key (the server's own keys are remembered as
    None). The look-up is a subscript, not ``.get`` with a sentinel: after the first few
    requests every key is known, and a plain subscript is the cheapest dict access Python
    has; only a never-seen key pays for the KeyError.
    Underscores in header names cannot be told from dashes in an environ; that is the
    server's choice (most drop such headers) and the same for every WSGI app.
    """
    names = _names
    out: dict[str, str] = {}
    for key, value in environ.items():
        try:
            name = names[key]
        except KeyError:
            name = _header_name(key)
        # An empty CONTENT_TYPE / CONTENT_LENGTH is the server's placeholder, not a header.
        if name is not None and (value or key[0] == "H"):
            out[name] = value
    return out


@lru_cache(maxsize=1024)
def angle_route(rule: str) -> str:
    """:func:`~antiscrape.request.route_template` of a werkzeug or Django ``path()`` rule,
    cached: an app has a fixed, small set of rules."""
    return route_template(rule)


def text_params(params: Mapping[str, Any] | None) -> Mapping[str, str]:
    """Path parameters as text (frameworks hand back converted ints, UUIDs...).

    No parameters is the shared read-only ``EMPTY``: nothing to allocate for most routes.
    """
    if not params:
        return EMPTY
    return {name: value if value.__class__ is str else str(value)
            for name, value in params.items()}


def merge_header(existing: str | None, value: str) -> str:
    """Add one more value to a list-valued header (RFC 9110 section 5.3)."""
    return value if not existing else existing + ", " + value


def split_set_cookie(headers: Headers) -> tuple[list[tuple[str, str]], list[str]]:
    """Separate ``Set-Cookie`` (never folded into one line) from the other headers."""
    plain: list[tuple[str, str]] = []
    cookies: list[str] = []
    for name, value in headers:
        if name.lower() == "set-cookie":
            cookies.append(value)
        else:
            plain.append((name, value))
    return plain, cookies
