"""Redis Cluster: a batch whose keys live on several nodes still costs one pipeline and gives
the memory backend's answers; distinct counters and their older buckets share a slot."""

from __future__ import annotations

import asyncio

import pytest
from redis.crc import key_slot

from antiscrape.errors import StorageError
from antiscrape.state import DistinctAdd, Get, Hit, Incr, MemoryStorage, Put, Recent, open_storage
from antiscrape.state.redis_batch import KeyNamer, plan

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
    op = DistinctAdd("p:enum:ip:abc:101", "m", 60, ("p:enum:ip:abc:100", "p:enum:ip:abc:99"))
    keys = namer.keys_of(op)
    assert keys[0] == "{p:enum:ip:abc}:101"
    assert len({_slot(k) for k in keys}) == 1
    assert KeyNamer("p").keys_of(op)[0] == "p:enum:ip:abc:101"  # no tag outside a cluster


def test_distinct_keys_that_cannot_share_a_slot_are_refused() -> None:
    op = DistinctAdd("p:a:1", "m", 60, ("p:b:1",))
    with pytest.raises(StorageError, match="hash slots"):
        plan([op], "", KeyNamer("p", cluster=True), _slot)


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
               DistinctAdd(f"c:d:x:{step // 4}", f"m{step}", 600,
                           tuple(f"c:d:x:{b}" for b in range(step // 4))),
               Hit(f"c:net:{step % 5}", 60, 8)]
        assert store.execute(ops, now) == memory.execute(ops, now), step
    ops = [Incr(f"c:async:{i}", 60) for i in range(10)]
    assert asyncio.run(astore.execute(ops, now)) == [1] * 10
    store.close()
