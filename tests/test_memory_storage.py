"""The in-memory backend on its own: counting, its entry cap, and what it costs the collector.

Its answers are also checked against a real Redis, op for op, in ``test_redis_storage``.
"""

from __future__ import annotations

import gc

from antiscrape.state.memory import MemoryStorage
from antiscrape.state.ops import Get, Hit, Incr, Put, PutIfAbsent, Recent


def test_budget_hits_count_up_to_the_limit_then_refuse() -> None:
    storage = MemoryStorage()
    results = [storage.execute([Hit("k", 60, 2)], 10.0)[0] for _ in range(3)]
    assert [r.counted for r in results] == [True, True, False]
    assert [r.count for r in results] == [0.0, 1.0, 2.0]
    assert results[2].reset > 0


def test_counters_and_recent_lists_keep_their_values_across_updates() -> None:
    storage = MemoryStorage()
    assert [storage.execute([Incr("n", 60, 2)], 1.0)[0] for _ in range(3)] == [2, 4, 6]
    for value in ("1", "2", "3", "4"):
        recent = storage.execute([Recent("walk", value, 3, 60)], 1.0)[0]
    assert recent == ("4", "3", "2")
    assert storage.execute([Incr("n", 60)], 62.0)[0] == 1  # expired: starts again


def test_the_least_recently_used_entry_is_evicted_at_the_cap() -> None:
    storage = MemoryStorage(cap=3)
    storage.execute([Incr("a", 60, 5), Hit("b", 60, 10), Incr("c", 60)], 1.0)
    storage.execute([Hit("b", 60, 10), Incr("c", 60), Get("a")], 2.0)  # a is now the newest
    storage.execute([Incr("d", 60, 4)], 3.0)  # evicts b, the least recently used
    assert len(storage) == 3 and storage.evictions == 1
    assert storage.execute([Get("a"), Get("d")], 4.0) == [5, 4]
    assert storage.execute([Hit("b", 60, 10)], 4.0)[0].count == 0.0  # b started afresh


def test_convictions_and_spent_markers_are_kept_apart_from_the_lru() -> None:
    """Put and PutIfAbsent go to the tier load cannot evict (tests/security/test_full_store.py
    floods a whole engine)."""
    storage = MemoryStorage(cap=3, kept_cap=2)
    storage.execute([Put("cv", "canary", 600), PutIfAbsent("spent", "1", 60)], 1.0)
    storage.execute([Incr(f"n{i}", 60) for i in range(50)], 2.0)  # 47 evictions
    assert storage.evictions == 47
    assert storage.execute([Get("cv"), PutIfAbsent("spent", "1", 60)], 3.0) == ["canary", False]
    # Full of live entries: a new one is refused, never one of the old pushed out.
    assert storage.execute([PutIfAbsent("other", "1", 60)], 4.0) == [False]
    assert storage.refusals == 1
    # Once the spent marker has expired its room is reused.
    assert storage.execute([PutIfAbsent("other", "1", 60)], 62.0) == [True]
    assert storage.execute([Get("cv"), Get("spent")], 63.0) == ["canary", None]


def test_budget_state_adds_nothing_for_the_collector_to_walk() -> None:
    """A full store must not make every full collection walk it: a default store holds up to
    200 000 entries, and each one the collector visits costs the whole process a pause (the
    store's tuples drop off the collector's lists)."""
    storage = MemoryStorage(cap=100_000)
    gc.collect()
    before = len(gc.get_objects())
    for i in range(20_000):
        storage.execute([Hit(f"rl:{i}", 60, 100), Incr(f"miss:{i}", 60),
                         Recent(f"walk:{i}", str(i), 8, 60)], 1.0 + i / 1000)
    gc.collect()
    assert len(storage) == 60_000
    assert len(gc.get_objects()) - before < 1_000  # lists were one object per entry: 60 000
