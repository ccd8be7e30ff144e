"""The visitor cookie: antiscrape's own signed, first-party identity of a browser.

Addresses and header fingerprints are shared by many people and rotated freely by crawlers,
so they cannot carry a person's budget. A browser that keeps cookies can: on an answer to a
client without a valid visitor cookie, antiscrape sets one holding a random id and its issue
time, signed with the configured keys (the first key signs, every key verifies, so rotating
keys keeps visitors). It names nobody, is sent to this site only (first-party, ``HttpOnly``,
``SameSite=Lax``, ``Path=/``, ``Secure`` on https) and tracks nothing across sites: a strictly
necessary security cookie.

A visitor is *established* once it comes back with its cookie (and, if configured, is old
enough); a cookie minted on this very request is *new*. Verification is pure (one HMAC, no
storage); what a visitor may do is the engine's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from .challenge.tokens import Signer, random_id
from .config import VisitorSettings
from .cookies import cookie_header

VISITOR = b"antiscrape-visitor-v1|"
"""The MAC's purpose label: a visitor cookie never passes as a clearance or a challenge."""

CLOCK_SKEW = 60
"""Seconds a cookie may claim to be from the future (another host's clock)."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """A visitor as its cookie says: id, issue time, and whether it was minted just now."""

    id: str
    issued: int
    new: bool = False
    """Minted on this request: not yet seen coming back."""

    def established(self, now: float, after: int) -> bool:
        """Came back with its cookie and is at least ``after`` seconds old."""
        return not self.new and now - self.issued >= after


class VisitorCookies:
    """Mints, signs and verifies visitor cookies (no I/O)."""

    __slots__ = ("_name", "_settings", "_signer")

    def __init__(self, settings: VisitorSettings, signer: Signer) -> None:
        self._settings = settings
        self._signer = signer
        self._name = settings.cookie_name

    @property
    def name(self) -> str:
        return self._name

    def read(self, raw: str | None, now: float) -> Visitor | None:
        """The visitor of a raw cookie value if it is validly signed and not expired."""
        if not raw:
            return None
        unsigned = self._signer.unsign(VISITOR, raw)
        if unsigned is None:
            return None
        vid, sep, issued_text = unsigned[0].partition("|")
        if not sep or not vid or not issued_text.isdigit() or len(issued_text) > 12:
            return None
        issued = int(issued_text)
        if not issued - CLOCK_SKEW <= now < issued + self._settings.lifetime:
            return None
        return Visitor(vid, issued)

    def mint(self, now: float) -> tuple[Visitor, str]:
        """A new visitor and its signed cookie value."""
        visitor = Visitor(random_id(), int(now), new=True)
        return visitor, self._signer.sign(VISITOR, f"{visitor.id}|{visitor.issued}")

    def set_cookie(self, value: str, secure: bool) -> tuple[str, str]:
        """The ``Set-Cookie`` header that hands ``value`` to the browser."""
        return ("set-cookie", cookie_header(self._name, value, self._settings.lifetime, secure))
