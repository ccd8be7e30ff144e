"""Where a solved challenge sends the browser back to: a same-origin relative path, always.

The path a challenged request asked for is the only source of the return address (it is then
sealed inside the signed challenge token, so nobody can swap it later). Still, that path is
attacker-chosen: ``//evil.example`` or ``/\\evil`` would be read by browsers as another host,
and ASGI servers hand us the *decoded* path, so ``/%2F%2Fevil.example`` arrives as
``//evil.example``. Re-encoding every character outside a small safe set and collapsing
leading slashes leaves nothing a browser could read as an authority or a scheme.
"""

from __future__ import annotations

from urllib.parse import quote

MAX_RETURN_CHARS = 1_024
"""Longer return paths are cut back to ``/`` rather than bloating tokens and cookies."""

_PATH_SAFE = "/:@!$&'()*+,;=-._~"
"""The path arrives decoded (ASGI/WSGI), so a literal ``%`` is re-encoded to round-trip."""
_QUERY_SAFE = "/?:@!$&'()*+,;=-._~%"
"""The query string arrives raw, so existing escapes (``%xx``) are kept as they are."""


def _requote(text: str, safe: str) -> str:
    return quote(text, safe=safe, encoding="utf-8", errors="surrogateescape")


def safe_return_path(path: str, query: str = "") -> str:
    """A relative URL on this origin that leads back to ``path?query``.

    Backslashes, control characters, spaces, quotes and angle brackets are percent-encoded;
    several leading slashes become one. The result always starts with exactly one ``/``
    followed by something other than ``/`` or ``\\``.
    """
    clean = _requote(path or "/", _PATH_SAFE)
    clean = "/" + clean.lstrip("/")
    if query:
        clean += "?" + _requote(query, _QUERY_SAFE)
    if len(clean) > MAX_RETURN_CHARS:
        return "/"
    return clean if is_safe_return_path(clean) else "/"


def is_safe_return_path(value: str) -> bool:
    """Last check before a ``Location`` header: relative, same origin, printable ASCII only."""
    if not value.startswith("/") or value.startswith("//") or value.startswith("/\\"):
        return False
    return all(0x21 <= ord(ch) <= 0x7E and ch not in "\\<>\"`" for ch in value)
