"""The Redis backend on a real redis-server: what only Redis has (key layout, the server
clock, the script cache, foreign values, configuration). Its answers to every op are held to
the memory reference by ``tests/test_storage_conformance.py``."""

from __future__ import annotations

import asyncio

import pytest
import redis

from antiscrape.errors import ConfigError
from antiscrape.state import (
    DistinctAddAll,
    Get,
    Hit,
    HitResult,
    Incr,
    MemoryStorage,
    Put,
    PutIfAbsent,
    Recent,
    open_storage,
)
from antiscrape.state.redis_batch import SCRIPT_SHA

pytestmark = pytest.mark.redis

START = 1_700_000_000.0


def open_caller_clock(url: str, prefix: str, **options: object):
    return open_storage(url, cap=1000, prefix=prefix, timeout=2.0,
                        options={"clock": "caller", **options})


# -- the same answers as the memory backend: see tests/test_storage_conformance.py ----------

def test_sliding_window_arithmetic_matches_memory_at_fractional_times(
        redis_url: str, redis_prefix: str) -> None:
    store, _ = open_caller_clock(redis_url, redis_prefix)
    memory = MemoryStorage(cap=10_000)
    key = f"{redis_prefix}:ip"
    now = START + 0.1
    for i in range(300):
        now += 0.37 + (i % 7) * 0.011
        op = Hit(key, 10, 20)
        assert store.execute([op], now) == memory.execute([op], now)


async def test_async_face_gives_the_same_answers(redis_url: str, redis_prefix: str) -> None:
    store, astore = open_caller_clock(redis_url, redis_prefix)
    ops = [Hit(f"{redis_prefix}:a", 60, 2), Incr(f"{redis_prefix}:b", 60),
           Recent(f"{redis_prefix}:c", "x", 2, 60)]
    first = await astore.execute(ops, START)
    second = store.execute(ops, START + 1)
    third = await astore.execute(ops, START + 2)
    assert first == [HitResult(0.0, 0.0, True), 1, ("x",)]
    assert second[1:] == [2, ("x", "x")]
    assert third[0].counted is False and third[0].count == 2.0
    await astore.aclose()


def test_async_face_survives_a_new_event_loop(redis_url: str, redis_prefix: str) -> None:
    """Test clients and some servers run a fresh loop; asyncio connections belong to one."""
    _, astore = open_caller_clock(redis_url, redis_prefix)
    op = Incr(f"{redis_prefix}:n", 60)
    assert asyncio.run(astore.execute([op], START)) == [1]
    assert asyncio.run(astore.execute([op], START)) == [2]


# -- redis-specific behaviour ---------------------------------------------------------------

def test_every_key_expires_and_lives_under_the_prefix(redis_url: str, redis_prefix: str) -> None:
    store, _ = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0)
    store.execute([Hit("h", 60, 5), Incr("i", 30), Put("p", "v", 30), PutIfAbsent("q", "v", 30),
                   DistinctAddAll("m", (("d:2", 300, "d:1"),), 0), Recent("r", "v", 3, 30),
                   Get("nothing")], 0.0)
    client = redis.Redis.from_url(redis_url)
    keys = sorted(client.scan_iter(match=f"{redis_prefix}*"))
    assert [k.decode() for k in keys] == sorted(
        f"{redis_prefix}:{k}" for k in ("h", "i", "p", "q", "d:2", "r"))
    assert all(client.pttl(k) > 0 for k in keys)
    client.close()


def test_server_clock_makes_skewed_hosts_share_one_window(redis_url: str,
                                                          redis_prefix: str) -> None:
    """With the default clock the caller's ``now`` is ignored: two hosts a day apart in their
    own clocks still count into the same window."""
    host_a, _ = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0)
    host_b, _ = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0)
    op = Hit(f"{redis_prefix}:ip", 3600, 3)
    results = [host_a.execute([op], START)[0], host_b.execute([op], START + 86_400)[0],
               host_a.execute([op], START - 86_400)[0], host_b.execute([op], 0.0)[0]]
    assert [r.counted for r in results] == [True, True, True, False]
    assert 0 < results[-1].reset <= 2 * 3600


def add(member: str, key: str, older: str, at: float = 0.0, ttl: int = 600) -> DistinctAddAll:
    """One member into one counter (with its older bucket), kept ``ttl`` from ``START + at``."""
    t = int(START + at)
    return DistinctAddAll(member, ((key, t + ttl, older),), t)


def test_distinct_count_unions_the_older_bucket(redis_url: str, redis_prefix: str) -> None:
    store, _ = open_caller_clock(redis_url, redis_prefix)
    p = redis_prefix
    for i in range(40):
        store.execute([add(f"id{i}", f"{p}:d:1", f"{p}:d:0")], START)
    counts = [store.execute([add(f"id{i}", f"{p}:d:2", f"{p}:d:1")], START)[0][0]
              for i in range(30, 60)]
    assert counts[-1] == 60  # 40 old + 20 new, overlap counted once
    later = store.execute([add("id0", f"{p}:d:2", f"{p}:d:1", 601)], START + 601)
    assert later == [(1,)]  # both buckets expired on the caller's clock; a fresh one started


@pytest.mark.parametrize("clock", ["caller", "server"])
def test_one_op_for_all_counters_answers_like_one_op_per_counter(
        redis_url: str, redis_prefix: str, clock: str) -> None:
    """The enumeration guard's shape: one record into several bucketed counters at once, a
    bucket boundary crossed on the way; Redis and memory agree with one op per counter."""
    store, _ = open_caller_clock(redis_url, redis_prefix, clock=clock)
    memory = MemoryStorage(cap=10_000)
    p = redis_prefix
    answers = []
    for step in range(90):
        now = START + step * 7.0
        t = int(now)
        counters = []
        for name, seconds in (("a", 60), ("b", 600), ("c", 600)):
            bucket = t // seconds
            counters.append((f"{p}:{name}:{bucket}", (bucket + 2) * seconds,
                             f"{p}:{name}:{bucket - 1}"))
        member = f"id{step % 45}"  # re-reads after 45 steps
        op = DistinctAddAll(member, tuple(counters), t)
        singles = [DistinctAddAll(member, ((f"{p}:one:{key}", expires, f"{p}:one:{older}"),), t)
                   for key, expires, older in counters]
        mine, *one_by_one = store.execute([op, *singles], now)
        assert mine == memory.execute([op], now)[0] == tuple(c for (c,) in one_by_one)
        answers.append(mine)
    assert answers[0] == (1, 1, 1)
    assert max(a[1] for a in answers) == 45  # the 600 s counter with its older bucket


def test_many_members_are_counted_within_hyperloglog_error(redis_url: str,
                                                           redis_prefix: str) -> None:
    store, _ = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0)
    ops = [DistinctAddAll(f"member-{i}", (("d:1", 60, "d:0"),), 0) for i in range(5000)]
    (count,) = store.execute(ops, 0.0)[-1]
    assert abs(count - 5000) < 5000 * 0.03  # Redis HLL: 0.81 % standard error


def test_lost_script_cache_is_reloaded_in_the_same_call(redis_url: str,
                                                        redis_prefix: str) -> None:
    store, _ = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0)
    client = redis.Redis.from_url(redis_url)
    client.script_flush()
    assert client.script_exists(SCRIPT_SHA) == [False]
    assert store.execute([Incr("n", 60)], 0.0) == [1]
    assert client.script_exists(SCRIPT_SHA) == [True]
    client.close()


def test_a_foreign_value_under_a_key_is_a_storage_error(redis_url: str,
                                                        redis_prefix: str) -> None:
    from antiscrape.errors import StorageError

    client = redis.Redis.from_url(redis_url)
    client.rpush(f"{redis_prefix}:h", "x")
    client.expire(f"{redis_prefix}:h", 60)
    store, astore = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0)
    with pytest.raises(StorageError, match="WRONGTYPE"):
        store.execute([Hit("h", 60, 5)], 0.0)
    with pytest.raises(StorageError, match="WRONGTYPE"):
        asyncio.run(astore.execute([Hit("h", 60, 5)], 0.0))
    client.close()


@pytest.mark.parametrize(("uri", "options", "path"), [
    ("redis+bogus://127.0.0.1", {}, "storage"),
    ("redis://127.0.0.1:6379", {"clock": "sundial"}, "storage_options.clock"),
])
def test_configuration_mistakes_are_config_errors(uri: str, options: dict, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_storage(uri, cap=1000, prefix="x", timeout=1.0, options=options)
    assert info.value.path == path


def test_valkey_scheme_works_with_the_redis_client(redis_url: str, redis_prefix: str) -> None:
    store, _ = open_storage(redis_url.replace("redis://", "valkey://"), cap=1000,
                            prefix=redis_prefix, timeout=2.0)
    assert store.execute([Incr("n", 60), Incr("n", 60)], 0.0) == [1, 2]
