"""The Redis backend answers exactly like the memory backend, on a real redis-server."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antiscrape.errors import ConfigError
from antiscrape.state import (
    DistinctAdd,
    DistinctAddAll,
    Get,
    Hit,
    HitResult,
    Incr,
    MemoryStorage,
    Pulse,
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


# -- same answers as the memory backend -----------------------------------------------------

def _names(kind: str) -> st.SearchStrategy[str]:
    return st.sampled_from([f"{kind}{i}" for i in range(3)])


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8)

_op = st.one_of(
    st.builds(Hit, _names("h"), st.sampled_from([1, 10, 60, 3600]), st.integers(0, 6),
              st.integers(1, 3)),
    st.builds(Incr, _names("i"), st.integers(1, 120), st.integers(-2, 5)),
    st.builds(Get, st.one_of(_names("s"), _names("i"), _names("r"), _names("h"))),
    st.builds(Put, _names("s"), _text, st.integers(1, 120)),
    st.builds(PutIfAbsent, _names("s"), _text, st.integers(1, 120)),
    st.builds(Recent, _names("r"), _text, st.integers(1, 4), st.integers(1, 120)),
    st.builds(DistinctAdd, _names("d"), st.sampled_from("abcdefgh"), st.integers(1, 120),
              st.lists(_names("d"), max_size=2).map(tuple)),
    st.builds(Pulse, _names("u"), st.integers(0, 3), st.sampled_from([5, 20, 60]),
              st.sampled_from([0.1, 0.25, 1 / 3]), st.sampled_from([2.0, 3.5]),
              st.sampled_from([0.0, 2.0, 4.5]), st.integers(0, 40), st.integers(60, 600)),
    st.integers(0, 30).flatmap(lambda now: st.builds(
        DistinctAddAll, st.sampled_from("abcdefgh"),
        st.lists(st.tuples(_names("d"), st.integers(now + 1, now + 120),  # ttl 1..120
                           st.lists(_names("d"), max_size=2).map(tuple)),
                 max_size=3).map(tuple),
        st.just(now))),
)
_steps = st.lists(
    st.tuples(st.floats(0, 90, allow_nan=False), st.lists(_op, min_size=1, max_size=6)),
    min_size=1, max_size=12)


def _scoped(op, prefix: str):
    """The same op with its keys moved under ``prefix`` (one fresh namespace per example)."""
    kwargs = {f: getattr(op, f) for f in op.__dataclass_fields__}
    kwargs["key"] = f"{prefix}:{op.key}"
    if isinstance(op, DistinctAdd):
        kwargs["also"] = tuple(f"{prefix}:{k}" for k in op.also if k != op.key)
    return type(op)(**kwargs)


def _scoped_all(op: DistinctAddAll, prefix: str) -> DistinctAddAll:
    """``_scoped`` for every counter of a DistinctAddAll."""
    return DistinctAddAll(op.member, tuple(
        (f"{prefix}:{key}", expires, tuple(f"{prefix}:{k}" for k in also if k != key))
        for key, expires, also in op.counters), op.now)


def _close(mine: int, theirs: int) -> bool:
    return abs(mine - theirs) <= max(1, 0.05 * theirs)


def _same(op, mine, theirs) -> bool:
    if isinstance(op, DistinctAdd):  # sketches: both exact for a handful of members
        return _close(mine, theirs)
    if isinstance(op, DistinctAddAll):
        return type(mine) is tuple and len(mine) == len(theirs) and all(
            _close(m, t) for m, t in zip(mine, theirs, strict=True))
    return mine == theirs


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps)
def test_same_results_as_memory_backend(redis_url: str, redis_prefix: str, steps) -> None:
    prefix = f"{redis_prefix}:{uuid.uuid4().hex[:8]}"
    store, _ = open_caller_clock(redis_url, prefix)
    memory = MemoryStorage(cap=10_000)
    now = START
    try:
        for advance, raw_ops in steps:
            now += advance
            ops = [_scoped_all(op, prefix) if isinstance(op, DistinctAddAll)
                   else _scoped(op, prefix) for op in raw_ops]
            mine = store.execute(ops, now)
            theirs = memory.execute(ops, now)
            for op, m, t in zip(ops, mine, theirs, strict=True):
                assert _same(op, m, t), (op, m, t, now)
    finally:
        store.close()


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
                   DistinctAdd("d:2", "m", 300, ("d:1",)), Recent("r", "v", 3, 30),
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


def test_distinct_count_unions_older_buckets(redis_url: str, redis_prefix: str) -> None:
    store, _ = open_caller_clock(redis_url, redis_prefix)
    p = redis_prefix
    for i in range(40):
        store.execute([DistinctAdd(f"{p}:d:1", f"id{i}", 600)], START)
    counts = [store.execute([DistinctAdd(f"{p}:d:2", f"id{i}", 600, (f"{p}:d:1",))], START)[0]
              for i in range(30, 60)]
    assert counts[-1] == 60  # 40 old + 20 new, overlap counted once
    later = store.execute([DistinctAdd(f"{p}:d:2", "id0", 600, (f"{p}:d:1",))], START + 601)
    assert later == [1]  # both buckets expired on the caller's clock; a fresh one started


@pytest.mark.parametrize("clock", ["caller", "server"])
def test_one_op_for_all_counters_answers_like_one_op_per_counter(
        redis_url: str, redis_prefix: str, clock: str) -> None:
    """The enumeration guard's shape: one record into several bucketed counters at once, a
    bucket boundary crossed on the way; Redis and memory agree with per-counter DistinctAdds."""
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
                             (f"{p}:{name}:{bucket - 1}",)))
        member = f"id{step % 45}"  # re-reads after 45 steps
        op = DistinctAddAll(member, tuple(counters), t)
        singles = [DistinctAdd(f"{p}:one:{key}", member, expires - t, (f"{p}:one:{also[0]}",))
                   for key, expires, also in counters]
        mine, *one_by_one = store.execute([op, *singles], now)
        assert mine == memory.execute([op], now)[0] == tuple(one_by_one)
        answers.append(mine)
    assert answers[0] == (1, 1, 1)
    assert max(a[1] for a in answers) == 45  # the 600 s counter with its older bucket


def test_many_members_are_counted_within_hyperloglog_error(redis_url: str,
                                                           redis_prefix: str) -> None:
    store, _ = open_storage(redis_url, cap=1000, prefix=redis_prefix, timeout=2.0)
    ops = [DistinctAdd("d", f"member-{i}", 60) for i in range(5000)]
    count = store.execute(ops, 0.0)[-1]
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
