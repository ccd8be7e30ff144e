"""Redis Cluster: a batch whose keys live on several nodes still costs one pipeline and gives
the memory backend's answers; distinct counters and their older buckets share a slot."""

from __future__ import annotations

import asyncio

import pytest
from redis.crc import key_slot

from antiscrape.errors import StorageError
from antiscrape.state import (
    DistinctAddAll,
    Get,
    Hit,
    Incr,
    MemoryStorage,
    Put,
    Recent,
    open_storage,
)
from antiscrape.state.redis_batch import KeyNamer, assemble, plan

pytestmark = pytest.mark.redis


def _slot(key: str) -> int:
    return int(key_slot(key.encode()))


def test_plan_groups_ops_by_slot_and_keeps_batch_order() -> None:
    namer = KeyNamer("p", cluster=True)
    ops = [Incr(f"p:n{i}", 60) for i in range(20)]
    calls = plan(ops, "", namer, _slot)
    assert len(calls) > 1  # 20 random keys do not share one slot
    assert sorted(pos for c in calls for pos in c.positions) == list(range(20))
    for call in calls:
        assert len({_slot(k) for k in call.keys}) == 1


def test_distinct_buckets_get_one_hash_tag() -> None:
    namer = KeyNamer("p", cluster=True)
    op = DistinctAddAll("m", (("p:enum:ip:abc:101", 60, "p:enum:ip:abc:100"),), 0)
    keys = namer.keys_of(op)
    assert keys == ("{p:enum:ip:abc}:101", "{p:enum:ip:abc}:100")
    assert len({_slot(k) for k in keys}) == 1
    assert KeyNamer("p").keys_of(op)[0] == "p:enum:ip:abc:101"  # no tag outside a cluster


def test_distinct_keys_that_cannot_share_a_slot_are_refused() -> None:
    op = DistinctAddAll("m", (("p:a:1", 60, "p:b:1"),), 0)
    with pytest.raises(StorageError, match="hash slots"):
        plan([op], "", KeyNamer("p", cluster=True), _slot)


def _counters(t: int, names: str = "abcdef") -> tuple[tuple[str, int, str], ...]:
    """A DistinctAddAll's counters as the enumeration guard builds them at time ``t``: one per
    name, 10-minute buckets."""
    bucket = t // 600
    return tuple((f"c:en:{n}:{bucket}", 600 * (bucket + 2), f"c:en:{n}:{bucket - 1}")
                 for n in names)


def test_one_op_for_many_counters_is_split_per_slot_and_reassembled_in_order() -> None:
    namer = KeyNamer("c", cluster=True)
    op = DistinctAddAll("m", _counters(1_000), 1_000)
    ops = [Incr("c:n", 60), op, Get("c:g")]
    calls = plan(ops, "", namer, _slot)
    assert len({_slot(namer.counter_keys(c)[0]) for c in op.counters}) > 1
    for call in calls:
        assert len({_slot(k) for k in call.keys}) == 1
    parts = [(call, n) for call in calls for n in call.parts]
    assert sorted(j for call, n in parts for j in call.parts[n]) == list(range(6))
    # Each part answers its counters' counts: counter j answers 10 + j.
    replies = []
    for call in calls:
        reply = []
        for n in range(len(call.positions)):
            part = call.parts.get(n)
            reply.append([10 + j for j in part] if part is not None else 7)
        replies.append(reply)
    assert assemble(ops, calls, replies) == [7, tuple(range(10, 16)), 7]
    single = plan(ops, "", KeyNamer("c"))  # one server: one record, no parts
    assert len(single) == 1 and single[0].parts == {} and single[0].positions == [0, 1, 2]


@pytest.mark.slow
def test_cluster_gives_the_memory_backends_answers(redis_cluster: str) -> None:
    store, astore = open_storage(redis_cluster, cap=1000, prefix="c", timeout=2.0,
                                 options={"clock": "caller"})
    memory = MemoryStorage(cap=10_000)
    now = 1_700_000_000.0
    for step in range(12):
        now += 7.5
        ops = [Hit(f"c:ip:{step % 4}", 60, 5), Incr(f"c:n:{step % 3}", 120),
               Put(f"c:s:{step}", f"v{step}", 60), Get(f"c:s:{step - 1}"),
               Recent(f"c:r:{step % 2}", str(step), 3, 60),
               Hit(f"c:net:{step % 5}", 60, 8),
               DistinctAddAll(f"m{step % 5}", _counters(int(now)), int(now))]
        assert store.execute(ops, now) == memory.execute(ops, now), step
    ops = [Incr(f"c:async:{i}", 60) for i in range(10)]
    assert asyncio.run(astore.execute(ops, now)) == [1] * 10
    store.close()
