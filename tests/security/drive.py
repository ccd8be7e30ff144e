"""Driving an engine directly, the way every adapter does (``inspect`` on a RequestView), for
attacks whose real part is the engine and the store: thousands of requests cost
milliseconds, not an HTTP stack each."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from antiscrape.clock import ManualClock
from antiscrape.decision import Decision
from antiscrape.engine import Engine
from antiscrape.request import RequestView
from antiscrape.state import AsyncMemoryStorage, MemoryStorage
from tests.browsers import CHROME
from tests.conftest import SECRET
from tests.test_challenge_flow import solve, wrong_nonce

__all__ = ["solve", "wrong_nonce"]  # the proof-of-work helpers, shared with the flow tests

HEADLESS_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "HeadlessChrome/131.0.0.0 Safari/537.36")
HEADLESS = {**CHROME, "user-agent": HEADLESS_UA}
"""Scores at the challenge line: the client a challenge is for."""
HEADLESS_API = {**HEADLESS, "accept": "application/json"}
LADDER = [{"max_score": 100, "difficulty": 4, "wait": 0.0}]


def engine(clock: ManualClock, cap: int = 200_000, **config: Any) -> tuple[Engine, MemoryStorage]:
    """An engine on the Python memory store (the reference; see state/memory.py)."""
    challenge = {"ladder": LADDER, **config.pop("challenge", {})}
    store = MemoryStorage(cap=cap)
    built = Engine({"secret_key": SECRET, "challenge": challenge, **config}, clock=clock,
                   storage=(store, AsyncMemoryStorage(store)))
    return built, store


def get(e: Engine, path: str, headers: dict[str, str], peer: str = "203.0.113.7",
        query: str = "", method: str = "GET", scheme: str = "http") -> Decision:
    return e.inspect(RequestView(method, path, headers, peer, query, scheme))


def challenge(e: Engine, peer: str = "203.0.113.7",
              headers: dict[str, str] = HEADLESS_API) -> dict[str, Any]:
    """The problem+json challenge an API client is given: seed, difficulty, token."""
    decision = get(e, "/articles/7", headers, peer)
    assert decision.reply is not None and decision.reply.status == 403, decision
    body = json.loads(decision.reply.body)
    ch = body["challenge"]
    return {"seed": ch["seed"], "difficulty": ch["difficulty"],
            "token": ch["answer"]["query"]["t"]}


def answer(e: Engine, token: str, nonce: str, peer: str = "203.0.113.7",
           headers: dict[str, str] = HEADLESS_API) -> Decision:
    return get(e, "/.antiscrape/verify", headers, peer,
               f"t={quote(token, safe='')}&n={nonce}", method="POST")


def cookie_of(decision: Decision) -> str | None:
    """The clearance cookie a passed challenge sets, as a Cookie header value."""
    if decision.reply is None:
        return None
    for name, value in decision.reply.headers:
        if name == "set-cookie":
            return value.split(";", 1)[0]
    return None
