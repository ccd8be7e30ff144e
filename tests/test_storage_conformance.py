"""Every backend answers the storage operations exactly like the reference.

``MemoryStorage`` (``antiscrape/state/memory.py``) is the readable reference of every op's
arithmetic. The same random op streams, at the same caller clock, go through the reference
and through each other backend (Redis, Redis Cluster), and every result must be equal.
Distinct counts are the one approximation: the reference is exact up to a few dozen members
and Redis counts with HyperLogLog, so those are compared within HyperLogLog's error.

Before the streams, :data:`CASES` pins each op's specification (``state/ops.py``,
``docs/storage-operations.md``) with answers worked out by hand, on every backend, the
reference included.

Adding an op: one case in :data:`CASES`, a branch in :func:`draw_batch` (the generator knows
which keys each kind of state may use) and, if its result is approximate, one in :func:`same`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antiscrape.state import Storage, open_storage
from antiscrape.state.memory import MemoryStorage
from antiscrape.state.ops import (
    DistinctAddAll,
    Get,
    Hit,
    HitResult,
    Incr,
    Pulse,
    PulseResult,
    Put,
    PutIfAbsent,
    Recent,
)

START = 1_700_000_000.0


# -- the backends -----------------------------------------------------------------------------

Opener = Callable[[], Storage]
"""Opens a fresh, empty store of one backend (a new key prefix on a shared server)."""


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[Opener]:
    from tests.fixtures.redis_server import delete_prefix

    opened: list[tuple[Storage, str]] = []

    def fresh() -> Storage:
        prefix = f"conf-{uuid.uuid4().hex[:10]}"
        store, _ = open_storage(redis_url, cap=1000, prefix=prefix, timeout=5.0,
                                options={"clock": "caller"})
        opened.append((store, prefix))
        return store

    yield fresh
    for store, prefix in opened:
        store.close()
        delete_prefix(redis_url, prefix)


@pytest.fixture
def cluster_store(redis_cluster: str) -> Iterator[Opener]:
    opened: list[Storage] = []

    def fresh() -> Storage:
        store, _ = open_storage(redis_cluster, cap=1000, prefix=f"c{uuid.uuid4().hex[:8]}",
                                timeout=5.0, options={"clock": "caller"})
        opened.append(store)
        return store

    yield fresh
    for store in opened:
        store.close()


@pytest.fixture(params=["memory", "redis", pytest.param("cluster", marks=pytest.mark.slow)])
def any_store(request: pytest.FixtureRequest) -> Opener:
    """Every backend, the reference included."""
    if request.param == "memory":
        return lambda: MemoryStorage(cap=1_000)
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


# -- each op's specification, by hand -----------------------------------------------------------

T = 1_700_000_040.0
"""A clock at a whole minute (a 60 s window's bucket starts here)."""

def pulse(amount: int, learn_guarded: bool = False) -> Pulse:
    """One op on the series of the hand-worked Pulse cases below."""
    return Pulse("p", amount, 60, 0.5, 4.0, 2.0, 2.0, 30, 3_600, learn_guarded)


CASES: dict[str, list[tuple[float, list[Any], list[Any]]]] = {
    # (now, batch, answers) in order, on one fresh store.
    # Refused at 2 of 2: the count only falls once this bucket becomes the previous one
    # (60 s), then must shrink to 1 = 2 * (1 - 30/60): 30 s into the next bucket.
    "hit: counts up to the limit, then refuses without recording": [
        (T, [Hit("h", 60, 2)] * 3, [HitResult(0.0, 0.0, True), HitResult(1.0, 0.0, True),
                                    HitResult(2.0, 90.0, False)]),
    ],
    "hit: the previous bucket weighs by the share of the window left, unfloored": [
        (T + 30, [Hit("h", 60, 4)] * 4, [HitResult(float(n), 0.0, True) for n in range(4)]),
        # 15 s into the next bucket: 4 * 45/60 = 3.0 before, then 4.0 (refused: 4 + 1 > 4,
        # where limits would floor and compare 4 too); at 30 s 2.0 + 1 fits.
        (T + 75, [Hit("h", 60, 4)] * 2, [HitResult(3.0, 0.0, True), HitResult(4.0, 15.0, False)]),
        (T + 90, [Hit("h", 60, 4)], [HitResult(3.0, 0.0, True)]),
    ],
    "hit: a cost above the limit never fits": [
        (T, [Hit("h", 60, 2, 3)], [HitResult(0.0, float("inf"), False)]),
    ],
    "incr: starts at 0, keeps its first expiry, may go down": [
        (T, [Incr("n", 10), Incr("n", 10, 4), Incr("n", 10, -6)], [1, 5, -1]),
        (T + 9.5, [Incr("n", 100)], [0]),
        (T + 10, [Incr("n", 100)], [1]),
    ],
    "get: a str or an int; None for absent, expired, windows, lists and distinct counters": [
        (T, [Put("s", "v", 5), Incr("n", 5, 7), Hit("h", 60, 3), Recent("r", "a", 3, 5),
             DistinctAddAll("m", (("d", int(T) + 5, "d0"),), int(T)),
             Get("s"), Get("n"), Get("h"), Get("r"), Get("d"), Get("absent")],
         [None, 7, HitResult(0.0, 0.0, True), ("a",), (1,), "v", 7, None, None, None, None]),
        (T + 5, [Get("s"), Get("n")], [None, None]),
    ],
    "put replaces; put-if-absent stores only into an absent key": [
        (T, [PutIfAbsent("s", "a", 5), PutIfAbsent("s", "b", 5), Put("s", "c", 5), Get("s")],
         [True, False, None, "c"]),
        (T + 5, [PutIfAbsent("s", "d", 5), Get("s")], [True, "d"]),
    ],
    "recent: newest first, at most size, kept ttl from the last push": [
        (T, [Recent("r", v, 3, 10) for v in "abcd"],
         [("a",), ("b", "a"), ("c", "b", "a"), ("d", "c", "b")]),
        (T + 9, [Recent("r", "e", 3, 10)], [("e", "d", "c")]),
        (T + 19, [Recent("r", "f", 3, 10)], [("f",)]),
    ],
    "distinct: the union with the older bucket, each member once; expired buckets drop out": [
        (T, [DistinctAddAll(m, (("d1", int(T) + 10, "d0"),), int(T)) for m in "abca"],
         [(1,), (2,), (3,), (3,)]),
        (T + 1, [DistinctAddAll(m, (("d2", int(T) + 100, "d1"), ("d2", int(T) + 100, "d2")),
                                int(T) + 1) for m in "cd"],
         [(3, 1), (4, 2)]),
        (T + 10, [DistinctAddAll("e", (("d2", int(T) + 100, "d1"),), int(T) + 10)], [(3,)]),
    ],
    # 60 s buckets (T is a bucket boundary), alpha 0.5, factor 4, leave 2, floor 2, cooldown
    # 30 s. A calm first bucket seeds the usual rate (2); 8 more half-way through the second
    # make 2 * 0.5 + 8 = 9 > 4 * 2: guarded, and that bucket is not learned. It stays guarded
    # while the rate is over 2 * 2, and leaves once it has been at or under that for 30 s (at
    # 37.5 s into the third bucket the rate is 8 * 0.375 = 3: under leave x usual, though
    # over the usual rate itself). Learning resumes with the next complete bucket.
    "pulse: learns calm buckets, enters over factor x usual, leaves at leave x usual": [
        (T, [pulse(1), pulse(1)], [PulseResult(1.0, 0.0, 0.0, 0), PulseResult(2.0, 0.0, 0.0, 0)]),
        (T + 60, [pulse(0)], [PulseResult(2.0, 2.0, 0.0, 0)]),
        (T + 90, [pulse(8)], [PulseResult(9.0, 2.0, T + 90, 1)]),
        (T + 120, [pulse(0)], [PulseResult(8.0, 2.0, T + 90, 0)]),
        (T + 157.5, [pulse(0)], [PulseResult(3.0, 2.0, 0.0, -1)]),
        (T + 180, [pulse(0)], [PulseResult(0.0, 1.0, 0.0, 0)]),
    ],
    # The same series, monitored (learn_guarded): 8 events over the floor of 2 with nothing
    # learned guard it at once, and that bucket is learned all the same (the first complete
    # bucket seeds the usual rate: 8). A minute later the rate, 8, is under 2 x 8, and has
    # been since the last event 60 s ago, past the 30 s cool-down: it leaves. Without
    # learn_guarded the usual rate would still be 0 and the series guarded.
    "pulse: a monitored series learns its guarded buckets": [
        (T, [pulse(8, True)], [PulseResult(8.0, 0.0, T, 1)]),
        (T + 60, [pulse(0, True)], [PulseResult(8.0, 8.0, 0.0, -1)]),
    ],
    # Begun 30 s into a bucket: that bucket's 2 events are not learned (part of a bucket,
    # or whoever was there when the series began), the next, whole one's 1 seeds the usual
    # rate. Learned from the first (2, then 1.5), 4 events at T + 150 would stay under it.
    "pulse: the bucket a series began in part of the way through is not learned": [
        (T + 30, [pulse(2)], [PulseResult(2.0, 0.0, 0.0, 0)]),
        (T + 60, [pulse(0)], [PulseResult(2.0, 0.0, 0.0, 0)]),
        (T + 90, [pulse(1)], [PulseResult(2.0, 0.0, 0.0, 0)]),
        (T + 120, [pulse(0)], [PulseResult(1.0, 1.0, 0.0, 0)]),
        (T + 150, [pulse(4)], [PulseResult(4.5, 1.0, T + 150, 1)]),
    ],
}


@pytest.mark.redis
@pytest.mark.parametrize("case", CASES)
def test_each_op_answers_its_specification(any_store: Opener, case: str) -> None:
    store = any_store()
    for now, batch, answers in CASES[case]:
        got = store.execute(batch, now)
        assert [plain(g) for g in got] == [plain(a) for a in answers], (case, now)
        # Named results compare and hash by value, whichever backend built them.
        assert all(hash(g) == hash(a) for g, a in zip(got, answers, strict=True)
                   if isinstance(a, HitResult))


# -- comparing answers ------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """``value`` with every type spelled out, so that ``1``, ``1.0`` and ``True`` cannot pass
    for one another."""
    if hasattr(value, "counted"):
        return ("hit", plain(value.count), plain(value.reset), plain(value.counted))
    if isinstance(value, tuple | list):
        return (type(value).__name__, *(plain(v) for v in value))
    return (type(value).__name__, value)


def close(mine: int, reference: int) -> bool:
    """Within the two estimates' error: past 64 members the reference counts with 4 096
    registers (standard error about 1.6 %), Redis with 16 384 (about 0.8 %); four standard
    errors of their difference."""
    return abs(mine - reference) <= max(1, 0.08 * reference)


def same(op: Any, got: Any, want: Any) -> bool:
    if isinstance(op, DistinctAddAll):
        return type(got) is tuple and len(got) == len(want) and all(
            type(g) is int and close(g, w) for g, w in zip(got, want, strict=True))
    return plain(got) == plain(want)


class Pair:
    """The reference and one other backend, fed the same batches at the same clock."""

    def __init__(self, other: Storage) -> None:
        self.reference = MemoryStorage(cap=1_000_000)  # no evictions: Redis has no cap
        self.other = other

    def run(self, ops: Sequence[Any], now: float) -> list[Any]:
        want = self.reference.execute(list(ops), now)
        got = self.other.execute(list(ops), now)
        assert type(got) is list and len(got) == len(ops)
        wrong = [f"  {op!r}: reference {plain(w)}, backend {plain(g)}"
                 for op, w, g in zip(ops, want, got, strict=True) if not same(op, g, w)]
        assert not wrong, f"at now={now!r}:\n" + "\n".join(wrong)
        return got


# -- random op streams ------------------------------------------------------------------------

WINDOW, COUNTER, TEXT, LIST, SKETCH = "window", "counter", "text", "list", "sketch"
MIXED = "mixed"
"""A key that may hold one kind or another (see ``draw_batch``)."""

SHARED = ("x0", "x1", "x2")
"""Keys that windows, counters, texts and lists may use, one kind at a time."""
OWN = {
    WINDOW: ("h0", "h1", "h2"),
    COUNTER: ("n0", "n1", "n2"),
    TEXT: ("s0", "s1", "s2"),
    LIST: ("r0", "r1"),
    SKETCH: ("d0", "d1", "d2", "d3"),
}
SERIES = ("u0", "u1")
"""Keys of site-wide series (``Pulse``): one bucket size each, as the engine has."""
BUCKET_OF = {"u0": 5, "u1": 60}
ALL_KEYS = SHARED + tuple(key for keys in OWN.values() for key in keys)
WINDOWS = st.sampled_from([1, 2, 3, 7, 60])
WINDOW_OF = {"h0": 1, "h1": 3, "h2": 7}
"""One window per budget key, as the engine has, so counts carry over into the next bucket;
the shared keys take any."""
TTLS = st.sampled_from([1, 2, 5, 30, 300])
EXPIRES_IN = st.sampled_from([1, 2, 5, 30, 300])
"""``expires - now`` of a DistinctAddAll counter."""
MEMBERS = st.one_of(st.sampled_from("abcdefgh"), st.integers(0, 300).map("b{}".format))
"""A few members, and some of those the bulk adds use (``b0``..``b399``)."""
VALUES = st.text(max_size=4)
STEPS = st.one_of(
    st.just(0.0),
    st.floats(0.0, 2.0),
    st.sampled_from([0.25, 0.5, 1.0, 2.0, 5.0, 30.0, 59.999, 60.0, 61.0, 120.0, 300.0, 1e4]),
)
"""Clock steps: none, fractions, every ttl and window, and jumps past all of them."""


def later(now: float) -> st.SearchStrategy[float]:
    """The next batch's clock: a step, or a bucket edge of some window (exactly on it, or the
    float just below it), where the windows' arithmetic turns over."""
    def edge(window: int, ahead: int, below: bool) -> float:
        at = (now // window + ahead) * window
        return max(now, math.nextafter(at, -math.inf) if below else at)

    return st.one_of(STEPS.map(lambda step: now + step),
                     st.builds(edge, WINDOWS, st.integers(1, 3), st.booleans()))


def live_kinds(reference: MemoryStorage, now: float) -> dict[str, str | None]:
    """What each shared key holds at ``now`` (None: nothing live)."""
    kinds: dict[str, str | None] = {}
    for key in SHARED:
        # Puts live in the reference's kept tier (never evicted), the rest in its LRU.
        entry = reference._data.get(key) or reference._kept.get(key)
        kinds[key] = None if entry is None or entry[0] <= now else entry_kind(entry)
    return kinds


def entry_kind(entry: tuple[Any, ...]) -> str:
    """What a reference entry holds: a window is ``(expires, bucket, prev, cur)``, the others
    ``(expires, payload)``."""
    if len(entry) == 4:
        return WINDOW
    value = entry[1]
    if isinstance(value, tuple):
        return LIST
    return TEXT if isinstance(value, str) else COUNTER


def draw_batch(data: st.DataObject, kinds: dict[str, str | None], now: float) -> list[Any]:
    """One batch of every op kind over a few keys per kind and the shared ones.

    Kinds never meet on a live key: the engine never does it, and what the reference answers
    then (a Hit reading a counter) is no specification. ``kinds`` says what each shared key
    may hold, updated op by op: an op of kind K takes a key that is empty or holds K, ``Put``
    takes any key (it replaces whatever was there), ``PutIfAbsent`` too (a key it may or may
    not have written is then MIXED, which only these two and ``Get`` touch). A key that holds
    something expired counts as empty: every op replaces expired entries. Distinct counters
    keep their own keys (on Redis they are HyperLogLogs, which no other op may overwrite);
    ``Get`` reads every key, so its answer on a window, a list or a counter (None) is checked.
    """
    def key_for(kind: str) -> str:
        usable = OWN[kind] + (() if kind == SKETCH else
                              tuple(k for k, held in kinds.items() if held in (None, kind)))
        key = data.draw(st.sampled_from(usable))
        if key in kinds:
            kinds[key] = kind
        return key

    def older() -> str:  # sometimes the counter itself: then it is counted alone
        return data.draw(st.sampled_from(OWN[SKETCH]))

    ops: list[Any] = []
    for _ in range(data.draw(st.integers(0, 8))):
        what = data.draw(st.sampled_from(
            ["hit", "incr", "get", "put", "put_if_absent", "recent", "add", "bulk", "pulse"]))
        if what == "hit":  # a burst, so that budgets run out and windows carry counts over
            key = key_for(WINDOW)
            window = WINDOW_OF.get(key) or data.draw(WINDOWS)
            hit = Hit(key, window, data.draw(st.integers(0, 8)), data.draw(st.integers(0, 3)))
            ops.extend([hit] * data.draw(st.integers(1, 6)))
        elif what == "incr":
            key = key_for(COUNTER)
            ops.append(Incr(key, data.draw(TTLS), data.draw(st.integers(-3, 5))))
        elif what == "get":
            ops.append(Get(data.draw(st.sampled_from(ALL_KEYS))))
        elif what in ("put", "put_if_absent"):
            key = data.draw(st.sampled_from(OWN[TEXT] + SHARED))
            if what == "put":
                ops.append(Put(key, data.draw(VALUES), data.draw(TTLS)))
                if key in kinds:
                    kinds[key] = TEXT
            else:
                ops.append(PutIfAbsent(key, data.draw(VALUES), data.draw(TTLS)))
                if key in kinds:
                    kinds[key] = TEXT if kinds[key] in (None, TEXT) else MIXED
        elif what == "recent":
            key = key_for(LIST)
            ops.append(Recent(key, data.draw(VALUES), data.draw(st.integers(1, 4)),
                              data.draw(TTLS)))
        elif what == "add":
            t = int(now)
            counters = tuple((key_for(SKETCH), t + data.draw(EXPIRES_IN), older())
                             for _ in range(data.draw(st.integers(1, 3))))
            ops.append(DistinctAddAll(data.draw(MEMBERS), counters, t))
        elif what == "pulse":  # a burst, so that series enter (and later leave) the guard
            key = data.draw(st.sampled_from(SERIES))
            pulse = Pulse(key, data.draw(st.integers(0, 3)), BUCKET_OF[key],
                          data.draw(st.sampled_from([0.1, 0.25, 1 / 3])),
                          data.draw(st.sampled_from([2.0, 3.5])),
                          data.draw(st.sampled_from([1.0, 1.5])),
                          data.draw(st.sampled_from([0.0, 2.0, 4.5])),
                          data.draw(st.sampled_from([0, 7, 60])), data.draw(TTLS),
                          data.draw(st.booleans()))
            ops.extend([pulse] * data.draw(st.integers(1, 6)))
        else:  # enough members for one counter to pass the exact limit in a single batch
            t = int(now)
            counter = (key_for(SKETCH), t + data.draw(EXPIRES_IN), older())
            first = data.draw(st.integers(0, 300))
            ops.extend(DistinctAddAll(f"b{i}", (counter,), t)
                       for i in range(first, first + data.draw(st.integers(20, 100))))
    return ops


def run_stream(data: st.DataObject, pair: Pair, start: float) -> None:
    now = start
    for _ in range(data.draw(st.integers(1, 12))):
        now = data.draw(later(now))
        pair.run(draw_batch(data, live_kinds(pair.reference, now), now), now)


STARTS = st.sampled_from([START, START + 0.123])


@pytest.mark.redis
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), start=STARTS)
def test_redis_gives_the_references_answers(redis_store: Opener, data: st.DataObject,
                                            start: float) -> None:
    """Every op kind, a clock that stands, creeps and jumps: every answer agrees."""
    run_stream(data, Pair(redis_store()), start)


@pytest.mark.redis
@pytest.mark.slow
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), start=STARTS)
def test_redis_cluster_gives_the_references_answers(cluster_store: Opener,
                                                    data: st.DataObject, start: float) -> None:
    """The same streams on a three-node cluster: batches split per hash slot, a
    DistinctAddAll split per counter, the answers put back in order."""
    run_stream(data, Pair(cluster_store()), start)


BUDGETS = st.sampled_from([("b1", 1), ("b3", 3), ("b7", 7), ("b60", 60)])


@pytest.mark.redis
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.sampled_from([START, START + 0.123]),
       batches=st.lists(st.tuples(
           st.one_of(st.floats(0.0, 9.0), st.sampled_from([0.0, 1.0, 3.0, 7.0, 60.0])),
           st.lists(st.tuples(BUDGETS, st.integers(0, 8), st.integers(0, 3),
                              st.integers(1, 5)), min_size=1, max_size=4)),
           min_size=1, max_size=30))
def test_budget_windows_weigh_and_reset_like_the_reference(
        redis_store: Opener, start: float,
        batches: list[tuple[float, list[tuple[tuple[str, int], int, int, int]]]]) -> None:
    """The float arithmetic of the sliding window, where mixed streams rarely go: counts
    carried into the next bucket at a fractional point of it, refusals and their resets."""
    pair = Pair(redis_store())
    now = start
    for step, hits in batches:
        now += step
        pair.run([Hit(key, window, limit, cost)
                  for (key, window), limit, cost, times in hits for _ in range(times)], now)
