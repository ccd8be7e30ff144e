"""A memory store filled by a flood keeps what load must never evict: convictions (a canary
reader let back in) and spent-challenge markers (a replayed answer earning a second cookie),
both reported pushed out of the LRU by a flood of new clients."""

from __future__ import annotations

from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from tests.browsers import CHROME

from .drive import answer, challenge, cookie_of, engine, get, solve

CANARY = {"protect": [{"route": "/users/{user_id}", "kind": "user"}],
          "enumeration": {"canaries": {"user": ["999"]}}}


def flood(e, n: int = 5_000) -> None:
    """``n`` new clients (addresses and user agents): 5 x the test store's cap."""
    for i in range(n):
        peer = f"10.{i // 65_536 % 256}.{i // 256 % 256}.{i % 256}"
        get(e, "/", {**CHROME, "user-agent": f"Mozilla/5.0 flood/{i}"}, peer=peer)


def test_a_full_store_keeps_convictions(clock: ManualClock):
    e, store = engine(clock, cap=1_000, **CANARY)
    crawler = {**CHROME, "accept": "application/json"}
    assert get(e, "/users/999", crawler, peer="192.0.2.50").action is Action.BLOCK
    assert get(e, "/users/1", crawler, peer="192.0.2.50").action is Action.BLOCK
    flood(e)
    assert store.evictions > 3_000
    assert get(e, "/users/1", crawler, peer="192.0.2.50").action is Action.BLOCK


def test_a_full_store_keeps_spent_markers(clock: ManualClock):
    e, store = engine(clock, cap=1_000)
    ch = challenge(e)
    nonce = solve(ch["seed"], ch["difficulty"])
    first = answer(e, ch["token"], nonce)
    assert first.reply is not None and first.reply.status == 303 and cookie_of(first)
    flood(e)
    assert store.evictions > 3_000
    again = answer(e, ch["token"], nonce)  # replayed after the flood: no second cookie
    assert again.reply is not None and again.reply.status == 403
    assert cookie_of(again) is None
