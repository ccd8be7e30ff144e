"""A challenge earned stays a challenge when only the write that follows it fails.

Showing a challenge page records it as pending in a second, small batch. That batch used to
share one ``try`` with the main one: if storage failed just then, the engine treated the
whole request as a storage failure, and a walker who had just earned a challenge was let
through (failing open) or answered 503 (failing closed). An attacker who can make storage
flaky (a full Redis, a saturated link) would walk on unchallenged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.errors import StorageError
from antiscrape.request import RequestView
from antiscrape.state import AsyncMemoryStorage, Hit, MemoryStorage, Op
from tests.browsers import CHROME
from tests.conftest import SECRET
from tests.jar import keep_decision, with_cookies


class FollowUpFails(MemoryStorage):
    """A real memory store whose batches without a budget hit (the follow-up write of a
    challenge page; every request's main batch starts with its budget hits) fail."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = 0

    def execute(self, ops: Sequence[Op], now: float) -> list[Any]:
        if not any(type(op) is Hit for op in ops):
            self.failed += 1
            raise StorageError("connection reset while writing")
        return super().execute(ops, now)


@pytest.mark.parametrize("fail", ["open", "closed"])
@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_walk_stays_challenged_when_the_pending_write_fails(fail: str, face: str) -> None:
    store = FollowUpFails()
    clock = ManualClock()
    engine = Engine({"secret_key": SECRET, "fail": fail,
                     "protect": [{"route": "/users/{user_id}", "kind": "profile"}]},
                    clock=clock, storage=(store, AsyncMemoryStorage(store)))
    headers = {**CHROME, "accept": "text/html"}  # a page, so the challenge is recorded
    decisions = []
    jar: dict[str, str] = {}  # a browser: it keeps its visitor cookie
    for user in range(1_000, 1_008):  # eight ids in order: walk_length
        view = RequestView("GET", f"/users/{user}", headers=with_cookies(headers, jar),
                           peer="203.0.113.50")
        if face == "sync":
            decisions.append(engine.inspect(view))
        else:
            import asyncio

            decisions.append(asyncio.run(engine.ainspect(view)))
        keep_decision(jar, decisions[-1])
        clock.advance(30)
    *before, walked = decisions
    assert all(d.action is Action.ALLOW for d in before)
    assert store.failed == 1  # the one follow-up write, and it failed
    assert walked.action is Action.CHALLENGE and walked.rule == "enumeration:walk"
    assert walked.enforced and walked.reply is not None and walked.reply.status != 503
