"""A browser's cookie jar for tests that call the engine directly: what ``Set-Cookie``
headers hand out (the visitor cookie, a clearance) is sent back, as a browser would."""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from antiscrape.decision import Decision

_JARS: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], dict[str, str]]] = \
    weakref.WeakKeyDictionary()


def jar_for(engine: Any, peer: str, user_agent: str) -> dict[str, str]:
    """The jar of one browser (address + user agent) on one engine."""
    return _JARS.setdefault(engine, {}).setdefault((peer, user_agent), {})


def with_cookies(headers: dict[str, str], jar: dict[str, str]) -> dict[str, str]:
    if not jar:
        return headers
    sent = "; ".join(f"{k}={v}" for k, v in jar.items())
    own = headers.get("cookie")
    return {**headers, "cookie": f"{own}; {sent}" if own else sent}


def keep(jar: dict[str, str], pairs: Iterable[tuple[str, str]]) -> None:
    for name, value in pairs:
        if name.lower() == "set-cookie":
            key, _, val = value.split(";", 1)[0].partition("=")
            jar[key.strip()] = val.strip()


def keep_decision(jar: dict[str, str], decision: Decision) -> None:
    keep(jar, decision.headers)
    if decision.reply is not None:
        keep(jar, decision.reply.headers)
