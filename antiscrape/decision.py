"""Decisions are plain values: easy to log, count, test and replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    ALLOW = "allow"
    THROTTLE = "throttle"
    CHALLENGE = "challenge"
    BLOCK = "block"


#: Severity order, used to keep the strictest of several verdicts.
SEVERITY = {Action.ALLOW: 0, Action.THROTTLE: 1, Action.CHALLENGE: 2, Action.BLOCK: 3}

Headers = tuple[tuple[str, str], ...]


# Hot-path values are plain slotted dataclasses, not frozen ones: a frozen dataclass sets
# each field through object.__setattr__, and these are built on every request (figures in
# benchmarks/RESULTS.md). Treat them as immutable all the same (``dataclasses.replace``).


@dataclass(slots=True, unsafe_hash=True)
class Reply:
    """A complete answer the adapter sends instead of calling the application."""

    status: int
    headers: Headers
    body: bytes


@dataclass(slots=True, unsafe_hash=True)
class Identity:
    """Who a request is counted as, at every level budgets are kept for.

    ``ip`` and ``network`` are raw; storage keys and logs use hashes of them (see
    ``antiscrape.keys``).
    """

    ip: str
    network: str
    fingerprint: str
    account: str | None = None
    clearance: str | None = None
    visitor: str | None = None
    """The established visitor's id (antiscrape's visitor cookie); None for a new visitor."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One finding that calls for more than an allow (a budget exceeded, a conviction, a
    walk...): what to do, why in words, and the rule that fired. The engine keeps the
    strictest of a request's verdicts."""

    action: Action
    reason: str
    rule: str
    retry_after: int | None = None


@dataclass(slots=True, unsafe_hash=True)
class Decision:
    """The engine's verdict on one request.

    ``reply`` is what to send instead of the application (None: call the app). In monitor
    mode ``action`` still says what *would* happen, ``enforced`` is False and ``reply`` is None.
    ``headers`` are added to whatever goes out (rate-limit headers, Set-Cookie, debug).
    """

    action: Action
    reason: str
    score: int = 0
    rule: str = ""
    retry_after: int | None = None
    enforced: bool = True
    reply: Reply | None = None
    headers: Headers = ()
    identity: Identity | None = None
    signals: tuple[str, ...] = field(default=())
    kind: str | None = None
    """The protected-resource kind this request read, when it read one."""
    access: Any = None
    """The enumeration guard's record of what was read (handed back after the response)."""
