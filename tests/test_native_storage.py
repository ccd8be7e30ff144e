"""The C state backend answers exactly like the Python one it stands in for.

``MemoryStorage`` (``antiscrape/state/memory.py`` with ``sketch.py``) is the specification:
most tests here feed the same batches at the same clock to both stores and compare every
result, the number of entries, the evictions and the bytes the distinct counters hold. What
differs on purpose (see ``antiscrape/native.py``): a ``Get`` on a budget window or a
distinct counter answers None, keys and members must be ``str``, input the Python store would
answer with nonsense is refused, and a budget hit answers a small C object with the fields of
``HitResult``.

The extension is always built on this project's machines, so its absence fails these tests
instead of skipping them: a silent fallback would leave the C code untested.
"""

from __future__ import annotations

import importlib
import math
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antiscrape.state import AsyncMemoryStorage, open_storage
from antiscrape.state.memory import MemoryStorage
from antiscrape.state.ops import (
    DistinctAdd,
    DistinctAddAll,
    Get,
    Hit,
    HitResult,
    Incr,
    Put,
    PutIfAbsent,
    Recent,
)
from antiscrape.state.sketch import _ALPHA_MM, _M_SIGMA, EXACT_LIMIT, DistinctSketch

START = 1_700_000_000.0
REBUILD = "rebuild it with `make install` (or `.venv/bin/pip install -e . --no-deps`)"


# -- the two stores ---------------------------------------------------------------------------

def native_class() -> Any:
    """The C store's class. Every native test goes through here: the one place to point the
    suite at another implementation, and the one place that fails when it is missing."""
    try:
        from antiscrape.native import NativeMemoryStorage, native_available
    except ImportError as exc:
        pytest.fail(f"antiscrape.native does not import ({exc}); {REBUILD}")
    if not native_available() or NativeMemoryStorage is None:
        pytest.fail(f"the C store behind antiscrape.native is not built; {REBUILD}")
    return NativeMemoryStorage


def native_store(cap: int = 200_000) -> Any:
    return native_class()(cap=cap)


WINDOW, COUNTER, TEXT, LIST, SKETCH = "window", "counter", "text", "list", "sketch"
MIXED = "mixed"
"""A key that may hold one kind or another (see ``draw_batch``)."""


def entry_kind(entry: tuple[Any, ...]) -> str:
    """What a Python entry holds: a window is ``(expires, bucket, prev, cur)``, the others
    ``(expires, payload)``."""
    if len(entry) == 4:
        return WINDOW
    value = entry[1]
    if isinstance(value, DistinctSketch):
        return SKETCH
    if isinstance(value, tuple):
        return LIST
    return TEXT if isinstance(value, str) else COUNTER


def plain(value: Any) -> Any:
    """``value`` with every type spelled out, so that ``1``, ``1.0`` and ``True`` cannot pass
    for one another, and a Python ``HitResult`` compares with the C one."""
    if hasattr(value, "counted"):
        return ("hit", plain(value.count), plain(value.reset), plain(value.counted))
    if isinstance(value, tuple | list):
        return (type(value).__name__, *(plain(v) for v in value))
    return (type(value).__name__, value)


def python_sketch_bytes(storage: MemoryStorage) -> int:
    """What ``sketch_bytes()`` must answer for the same state."""
    return sum(entry[1].nbytes for entry in storage._data.values()
               if isinstance(entry[1], DistinctSketch))


class Twin:
    """The Python reference and the C store, fed the same batches at the same clock."""

    def __init__(self, cap: int = 200_000) -> None:
        self.python = MemoryStorage(cap=cap)
        self.native = native_store(cap)
        assert self.native.cap == cap

    def run(self, ops: Sequence[Any], now: float) -> list[Any]:
        """Execute ``ops`` on both, check every result and the stores' shape afterwards, and
        return the C store's results."""
        want = [self._python_one(op, now) for op in ops]
        got = self.native.execute(list(ops), now)
        assert type(got) is list and len(got) == len(ops)
        wrong = [f"  {op!r}: python {w}, native {plain(g)}"
                 for op, w, g in zip(ops, want, got, strict=True) if plain(g) != w]
        assert not wrong, f"at now={now!r}:\n" + "\n".join(wrong)
        self.check()
        return got

    def _python_one(self, op: Any, now: float) -> Any:
        # One op at a time (``execute`` is a plain loop, so the answers are the batch's), to
        # see what a Get reads: the C store answers None for a window or a sketch.
        opaque = False
        if type(op) is Get:
            entry = self.python._data.get(op.key)
            opaque = entry is not None and entry_kind(entry) in (WINDOW, SKETCH)
        result = self.python.execute([op], now)[0]
        return plain(None if opaque else result)

    def check(self) -> None:
        assert len(self.native) == len(self.python), "entries"
        assert self.native.evictions == self.python.evictions, "evictions"
        assert self.native.sketch_bytes() == python_sketch_bytes(self.python), "sketch bytes"


# -- random op streams ------------------------------------------------------------------------

SHARED = ("x0", "x1", "x2")
"""Keys any op kind may use, one kind at a time (see ``draw_batch``)."""
OWN = {
    WINDOW: ("h0", "h1", "h2"),
    COUNTER: ("n0", "n1", "n2"),
    TEXT: ("s0", "s1", "s2"),
    LIST: ("r0", "r1"),
    SKETCH: ("d0", "d1", "d2", "d3"),
}
ALL_KEYS = SHARED + tuple(key for keys in OWN.values() for key in keys)
WINDOWS = st.sampled_from([1, 2, 3, 7, 60])
WINDOW_OF = {"h0": 1, "h1": 3, "h2": 7}
"""One window per budget key, as the engine has, so counts carry over into the next bucket;
the shared keys take any."""
TTLS = st.sampled_from([1, 2, 5, 30, 300])
EXPIRES_IN = st.sampled_from([-3, 0, 1, 2, 5, 30, 300])
"""``expires - now`` of a DistinctAddAll counter: an expired one included."""
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


def live_kinds(python: MemoryStorage, now: float) -> dict[str, str | None]:
    """What each shared key holds at ``now`` (None: nothing live)."""
    kinds: dict[str, str | None] = {}
    for key in SHARED:
        entry = python._data.get(key)
        kinds[key] = None if entry is None or entry[0] <= now else entry_kind(entry)
    return kinds


def draw_batch(data: st.DataObject, kinds: dict[str, str | None], now: float) -> list[Any]:
    """One batch of every op kind over a few keys per kind and the shared ones.

    Kinds never meet on a live key: the Python reference raises or answers nonsense there
    (a Hit reading a counter), and the engine never does it. ``kinds`` says what each shared
    key may hold, updated op by op: an op of kind K takes a key that is empty or holds K,
    ``Put`` takes any key (it replaces whatever was there), ``PutIfAbsent`` too (a key it
    may or may not have written is then MIXED, which only these two and ``Get`` touch). A
    key that holds something expired counts as empty: every op replaces expired entries.
    """
    def key_for(kind: str) -> str:
        usable = OWN[kind] + tuple(k for k, held in kinds.items() if held in (None, kind))
        key = data.draw(st.sampled_from(usable))
        if key in kinds:
            kinds[key] = kind
        return key

    def older() -> tuple[str, ...]:
        usable = OWN[SKETCH] + tuple(k for k, held in kinds.items() if held in (None, SKETCH))
        return tuple(data.draw(st.lists(st.sampled_from(usable), max_size=3)))

    ops: list[Any] = []
    for _ in range(data.draw(st.integers(0, 8))):
        what = data.draw(st.sampled_from(
            ["hit", "incr", "get", "put", "put_if_absent", "recent", "add", "add_all", "bulk"]))
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
            key = key_for(SKETCH)
            ops.append(DistinctAdd(key, data.draw(MEMBERS), data.draw(TTLS), older()))
        elif what == "add_all":
            t = int(now) + data.draw(st.sampled_from([0, 0, -1, 1]))
            counters = []
            for _ in range(data.draw(st.integers(1, 3))):
                key = key_for(SKETCH)
                counters.append((key, t + data.draw(EXPIRES_IN), older()))
            ops.append(DistinctAddAll(data.draw(MEMBERS), tuple(counters), t))
        else:  # enough members for one counter to pass the exact limit in a single batch
            key = key_for(SKETCH)
            first = data.draw(st.integers(0, 300))
            ttl, also = data.draw(TTLS), older()
            ops.extend(DistinctAdd(key, f"b{i}", ttl, also)
                       for i in range(first, first + data.draw(st.integers(20, 100))))
    return ops


@settings(max_examples=250, deadline=None)
@given(data=st.data(), cap=st.sampled_from([*range(1, 9), 10_000]),
       start=st.sampled_from([0.0, 0.5, START, START + 0.123]))
def test_random_streams_give_the_same_answers(data: st.DataObject, cap: int,
                                              start: float) -> None:
    """Every op kind, small and big caps, a clock that stands, creeps and jumps: every answer,
    the entry count, the evictions and the sketches' bytes agree after every batch."""
    twin = Twin(cap)
    now = start
    for _ in range(data.draw(st.integers(1, 20))):
        now = data.draw(later(now))
        twin.run(draw_batch(data, live_kinds(twin.python, now), now), now)


BUDGETS = st.sampled_from([("b1", 1), ("b3", 3), ("b7", 7), ("b60", 60)])


@settings(max_examples=300, deadline=None)
@given(start=st.sampled_from([0.0, 0.3, START, START + 0.123]),
       batches=st.lists(st.tuples(
           st.one_of(st.floats(0.0, 9.0), st.sampled_from([0.0, 1.0, 3.0, 7.0, 60.0])),
           st.lists(st.tuples(BUDGETS, st.integers(0, 8), st.integers(0, 3),
                              st.integers(1, 5)), min_size=1, max_size=4)),
           min_size=1, max_size=30))
def test_budget_windows_weigh_and_reset_like_python(
        start: float, batches: list[tuple[float, list[tuple[tuple[str, int], int, int, int]]]],
) -> None:
    """The float arithmetic of the sliding window, where mixed streams rarely go: counts
    carried into the next bucket at a fractional point of it, refusals and their resets."""
    twin = Twin(cap=3)
    now = start
    for step, hits in batches:
        now += step
        twin.run([Hit(key, window, limit, cost)
                  for (key, window), limit, cost, times in hits for _ in range(times)], now)


# -- distinct counters ------------------------------------------------------------------------

def add_members(twin: Twin, key: str, members: Sequence[str], now: float, ttl: int = 3600,
                also: tuple[str, ...] = (), batch: int = 16) -> list[int]:
    """Add ``members`` one op each, a few ops per batch, comparing every count."""
    counts: list[int] = []
    for at in range(0, len(members), batch):
        ops = [DistinctAdd(key, m, ttl, also) for m in members[at:at + batch]]
        counts.extend(twin.run(ops, now))
    return counts


@pytest.mark.parametrize("older", ["none", "one", "several"])
@pytest.mark.parametrize("n", [60, 64, 65, 66, 200, 1_000, 5_000])
def test_counts_through_the_switch_to_registers(n: int, older: str) -> None:
    """Every count on the way from exact to HyperLogLog, alone or with older buckets (an
    exact one, one of registers, an expired one and a missing one), equals Python's."""
    twin = Twin()
    buckets = {"o1": range(-20, 20), "o2": range(-100, 200), "o3": range(50, 80)}
    for key, members in buckets.items():
        add_members(twin, key, [f"u{i}" for i in members], 0.0, ttl=5 if key == "o3" else 1000)
    also = {"none": (), "one": ("o1",), "several": ("o1", "o2", "o3", "missing")}[older]
    counts = add_members(twin, "cur", [f"u{i}" for i in range(n)], 5.0, also=also)
    if older == "none":
        assert counts[:64] == list(range(1, min(n, 64) + 1))
        assert all(c > 64 for c in counts[64:])
    else:
        assert len(twin.native) == (3 if "o3" in also else 4)  # o3: expired, looked up
    live = set(range(n)).union(*(buckets[k] for k in also if k in ("o1", "o2")))
    assert abs(counts[-1] - len(live)) <= max(1, 0.05 * len(live))


def test_a_counter_just_past_the_exact_limit_never_reports_fewer() -> None:
    """Right after the switch, two of the 65 members may share a register and the estimate
    drop to 64; both stores must floor it at 65. Hashes are seeded per process, so the test
    looks for such a set of members first."""
    for attempt in range(500):
        members = [f"s{attempt}-{i}" for i in range(EXACT_LIMIT + 1)]
        sketch = DistinctSketch()
        for m in members:
            sketch.add(m)
        if round(_ALPHA_MM / (_M_SIGMA[sketch._zeros] + sketch._sum)) <= EXACT_LIMIT:
            break
    else:
        pytest.fail("no 65 members with an estimate of 64 or less in 500 tries")
    twin = Twin()
    assert add_members(twin, "d", members, 1.0)[-1] == EXACT_LIMIT + 1


def test_an_older_bucket_that_changes_after_the_join_is_joined_afresh() -> None:
    """The kept join follows the newer bucket; when the older one grows (even into
    registers), the join must be rebuilt, not answered stale, and its bytes counted."""
    twin = Twin()
    members = [f"m{i}" for i in range(300)]
    add_members(twin, "old", members[:40], 1.0)
    counts = add_members(twin, "new", members[20:50], 2.0, also=("old",))
    assert counts == [40] * 20 + list(range(41, 51))  # kept while both sides are exact
    assert twin.native.sketch_bytes() == (40 * 8 + 64) + (30 * 8 + 64)
    add_members(twin, "old", members[100:140], 3.0)  # 80 members: registers now
    counts = add_members(twin, "new", members[50:60], 4.0, also=("old",))
    assert twin.native.sketch_bytes() == 4096 + (40 * 8 + 64) + 4096  # merged union kept
    add_members(twin, "new", members[20:60], 4.0, also=("old",))  # re-reads: no change
    add_members(twin, "new", members[150:200], 5.0, also=("old",))  # new passes 64 itself
    add_members(twin, "old", members[200:300], 6.0)  # the older side changes again
    assert twin.native.sketch_bytes() == 3 * 4096  # nothing dropped while nobody adds
    add_members(twin, "new", [f"z{i}" for i in range(5)], 6.5)  # counted alone: one raises
    assert twin.native.sketch_bytes() == 2 * 4096  # a register, and the stale join goes
    add_members(twin, "new", members[:10], 7.0, also=("old",))
    assert twin.native.sketch_bytes() == 3 * 4096


def test_expired_older_buckets_drop_out_of_the_union() -> None:
    """An older bucket counts until the instant it expires; then it is dropped and removed,
    whether it is the only older bucket or one of several."""
    twin = Twin()
    add_members(twin, "old1", [f"a{i}" for i in range(30)], 0.0, ttl=10)
    add_members(twin, "old2", [f"b{i}" for i in range(100)], 0.0, ttl=20)
    add_members(twin, "cur", ["c0"], 5.0, ttl=100, also=("old1",))
    assert twin.run([DistinctAdd("cur", "c1", 100, ("old1",))], math.nextafter(10.0, 0))[0] == 32
    assert twin.run([DistinctAdd("cur", "c2", 100, ("old1",))], 10.0) == [3]
    assert len(twin.native) == 2
    several = ("old2", "old1", "cur")
    assert twin.run([DistinctAdd("new", "c0", 100, several)], 15.0)[0] > 100
    twin.run([DistinctAdd("new", "c1", 100, several)], 20.0)
    assert twin.run([DistinctAdd("new", "c3", 100, several)], 20.0) == [4]
    assert len(twin.native) == 2


@pytest.mark.parametrize("how", ["evicted", "expired"])
def test_an_older_bucket_dropped_and_created_again_is_a_new_bucket(how: str) -> None:
    """A join kept with an older bucket that then leaves the store must not be mistaken for a
    join with a new bucket under the same key (same size, same number of changes)."""
    twin = Twin(cap=3)
    ttl = 100 if how == "evicted" else 10
    twin.run([DistinctAdd("old", "a1", ttl), DistinctAdd("cur", "a1", 100, ("old",))], 1.0)
    twin.run([DistinctAdd("cur", "a2", 100, ("old",))], 2.0)  # the join follows: 2
    now = 3.0
    if how == "evicted":
        twin.run([Get("cur"), Put("p1", "v", 100), Put("p2", "v", 100)], now)
        assert twin.native.evictions == 1
    else:
        now = 11.0
        twin.run([Get("old")], now)
    twin.run([DistinctAdd("cur", "a3", 100, ("old",))], now)
    twin.run([DistinctAdd("old", "y", 100)], now)
    assert twin.run([DistinctAdd("cur", "a3", 100, ("old",))], now) == [4]


def test_a_million_members_stay_one_entry_of_four_kibibytes() -> None:
    """A scraper reading a million records keeps one counter of 4 KiB, and its estimate is
    the very one Python's sketch gives."""
    store = native_store(cap=10)
    reference = DistinctSketch()
    counts: list[int] = []
    for first in range(0, 1_000_000, 50_000):
        members = [f"record-{i}" for i in range(first, first + 50_000)]
        counts = store.execute([DistinctAdd("reads", m, 3600) for m in members], 1.0)
        for m in members:
            reference.add(m)
    assert counts[-1] == reference.count()
    assert abs(counts[-1] - 1_000_000) < 50_000
    assert len(store) == 1 and store.evictions == 0
    assert store.sketch_bytes() == 4096


# -- eviction, expiry and the semantics of each op ----------------------------------------------

def test_the_least_recently_used_entry_is_evicted_at_the_cap() -> None:
    """An insert past the cap evicts the least recently used entry and counts it; an update
    of a key already there evicts nothing."""
    twin = Twin(cap=3)
    twin.run([Put("a", "1", 60), Hit("b", 60, 10), Incr("c", 60)], 1.0)
    twin.run([Hit("b", 60, 10), Incr("c", 60), Get("a")], 2.0)  # order now: b c a
    twin.run([Put("d", "4", 60)], 3.0)  # evicts b
    assert twin.native.evictions == 1
    assert twin.run([Get("a"), Get("d"), Get("c")], 4.0) == ["1", "4", 2]  # order: a d c
    twin.run([Put("a", "one", 60), PutIfAbsent("d", "x", 60)], 5.0)  # updates: order c a d
    assert twin.native.evictions == 1
    twin.run([DistinctAdd("e", "m1", 60)], 6.0)  # evicts c: order a d e
    # The counter is stored before its older buckets are looked up: "a" is gone by then.
    twin.run([DistinctAdd("f", "m1", 60, ("a", "e"))], 7.0)  # evicts a: order d f e
    twin.run([Recent("g", "v", 3, 60)], 8.0)  # evicts d: order f e g
    assert twin.native.evictions == 4
    assert twin.run([Get("c"), Get("a"), Get("d")], 9.0) == [None, None, None]
    assert twin.run([DistinctAdd("e", "m2", 60), DistinctAdd("f", "m2", 60)], 9.0) == [2, 2]
    assert twin.native.evictions == 4 and len(twin.native) == 3


TOUCHES: dict[str, tuple[list[Any], Any]] = {
    # setup (the first entry created is "k", the least recently used) and the op on "k"
    "hit": ([Hit("k", 60, 9), Put("p1", "1", 60), Put("p2", "2", 60)], Hit("k", 60, 9)),
    "incr": ([Incr("k", 60), Put("p1", "1", 60), Put("p2", "2", 60)], Incr("k", 60)),
    "get": ([Put("k", "v", 60), Put("p1", "1", 60), Put("p2", "2", 60)], Get("k")),
    "put": ([Put("k", "v", 60), Put("p1", "1", 60), Put("p2", "2", 60)], Put("k", "w", 60)),
    "put_if_absent": ([Put("k", "v", 60), Put("p1", "1", 60), Put("p2", "2", 60)],
                      PutIfAbsent("k", "w", 60)),
    "recent": ([Recent("k", "v", 3, 60), Put("p1", "1", 60), Put("p2", "2", 60)],
               Recent("k", "w", 3, 60)),
    "add": ([DistinctAdd("k", "m", 60), Put("p1", "1", 60), Put("p2", "2", 60)],
            DistinctAdd("k", "n", 60)),
    "add again": ([DistinctAdd("k", "m", 60), Put("p1", "1", 60), Put("p2", "2", 60)],
                  DistinctAdd("k", "m", 60)),
    "add_all": ([DistinctAdd("k", "m", 60), Put("p1", "1", 60), Put("p2", "2", 60)],
                DistinctAddAll("n", (("k", 60, ()),), 0)),
    "older": ([DistinctAdd("k", "m", 60), DistinctAdd("cur", "m", 60), Put("p1", "1", 60)],
              DistinctAdd("cur", "n", 60, ("k",))),
    "older of several": ([DistinctAdd("k", "m", 60), DistinctAdd("cur", "m", 60),
                          Put("p1", "1", 60)], DistinctAdd("cur", "n", 60, ("gone", "k"))),
}


@pytest.mark.parametrize(("setup", "touch"), list(TOUCHES.values()), ids=list(TOUCHES))
def test_every_op_on_a_key_makes_it_the_most_recent(setup: list[Any], touch: Any) -> None:
    """Whatever reads or writes the least recent entry saves it from the next eviction."""
    twin = Twin(cap=3)
    twin.run(setup, 1.0)
    twin.run([touch], 2.0)
    twin.run([Put("new", "3", 60)], 3.0)
    assert twin.native.evictions == 1
    assert twin.run([PutIfAbsent("k", "z", 60)], 4.0) == [False]  # "k" is still there


def test_expired_entries_keep_their_place_until_touched() -> None:
    """Expiry is lazy: an expired entry counts towards the cap and is evicted like a live one,
    and reading it removes it without counting an eviction."""
    twin = Twin(cap=3)
    twin.run([Put("a", "1", 5), Put("b", "2", 100), Put("c", "3", 100)], 0.0)
    assert len(twin.native) == 3  # "a" expired at 5.0 but is still there
    twin.run([Put("d", "4", 100)], 50.0)  # "a" (expired) evicted: one eviction
    assert twin.native.evictions == 1
    twin.run([Put("e", "5", 1)], 51.0)  # evicts b
    assert twin.run([Get("e")], 52.0) == [None]
    assert len(twin.native) == 2 and twin.native.evictions == 2


def test_every_kind_expires_at_its_instant() -> None:
    """Alive until the float just below its expiry, gone at it: counters and values ``ttl``
    after creation, short lists ``ttl`` after the last push, windows two buckets on."""
    twin = Twin()
    twin.run([Incr("n", 5), Put("s", "v", 5), PutIfAbsent("p", "v", 5), Recent("r", "1", 3, 5),
              DistinctAdd("d", "m1", 5), Hit("h", 5, 10)], 10.0)
    got = twin.run([Incr("n", 5), PutIfAbsent("p", "w", 5), Recent("r", "2", 3, 5),
                    DistinctAdd("d", "m2", 5), Get("s")], math.nextafter(15.0, 0))
    assert got == [2, False, ("2", "1"), 2, "v"]
    got = twin.run([Incr("n", 5), PutIfAbsent("p", "w", 5), DistinctAdd("d", "m3", 5),
                    Get("s"), Recent("r", "3", 3, 5)], 15.0)
    assert got == [1, True, 1, None, ("3", "2", "1")]  # the list's ttl ran from its last push
    assert twin.run([Recent("r", "4", 3, 5)], 20.0) == [("4",)]
    # The window of bucket [10, 15) expires at 20: just before, it still weighs a hair.
    hit = twin.run([Hit("h", 5, 10)], math.nextafter(20.0, 0))[0]
    assert 0.0 < hit.count < 1e-9
    size = len(twin.native)  # that hit moved the expiry to 25: a Get shows when it goes
    twin.run([Get("h")], math.nextafter(25.0, 0))
    assert len(twin.native) == size
    twin.run([Get("h")], 25.0)
    assert len(twin.native) == size - 1


def test_budget_hits_count_weigh_and_refuse_like_python() -> None:
    """The sliding window: counted while ``count + cost <= limit``, the previous bucket
    weighed by what is left of it, and a reset that says when the next hit fits."""
    twin = Twin()
    got = twin.run([Hit("k", 10, 3)] * 4, 100.0)
    assert [(r.count, r.counted) for r in got] == [(0.0, True), (1.0, True), (2.0, True),
                                                   (3.0, False)]
    assert got[3].reset == pytest.approx(10 + 10 * (1 - 2 / 3))  # into the next bucket
    hit = twin.run([Hit("k", 10, 3)], 112.5)[0]
    assert (hit.count, hit.counted) == (2.25, False)
    assert hit.reset == pytest.approx(10 / 3 - 2.5)
    assert twin.run([Hit("k", 10, 3, cost=4)], 113.0)[0].reset == math.inf
    assert twin.run([Hit("k", 10, 3, cost=0)], 119.0)[0].counted
    assert not isinstance(hit, HitResult) and type(hit.count) is float
    assert repr(hit) == f"HitResult(count={hit.count!r}, reset={hit.reset!r}, counted=False)"
    again = twin.native.execute([Hit("k", 10, 3)], 112.5)[0]
    assert again == hit and hit != got[3]  # both operators are the C type's own


def test_values_counters_and_short_lists_behave_like_python() -> None:
    """Put overwrites value and ttl; PutIfAbsent changes neither while the key lives; Incr
    keeps its first ttl and takes negative amounts; Recent keeps the newest ``size``."""
    twin = Twin()
    assert twin.run([Put("s", "a", 10), Put("s", "b", 20), Get("s")], 0.0) == [None, None, "b"]
    assert twin.run([PutIfAbsent("s", "c", 100), Get("s")], 15.0) == [False, "b"]
    assert twin.run([Get("s"), PutIfAbsent("s", "c", 100)], 20.0) == [None, True]
    assert twin.run([Incr("n", 10, 5), Incr("n", 100, -7), Incr("n", 100, 0)], 0.0) == [5, -2, -2]
    assert twin.run([Incr("n", 100)], 10.0) == [1]
    for value in "abcde":
        got = twin.run([Recent("r", value, 3, 60)], 1.0)[0]
    assert got == ("e", "d", "c")
    assert twin.run([Recent("r", "f", 2, 60), Recent("r", "g", 1, 60), Get("r")], 2.0) == [
        ("f", "e"), ("g",), ("g",)]


def test_get_on_a_window_or_a_distinct_counter_answers_none() -> None:
    """The documented difference: the C store has no Python value to hand out for these
    (a plain counter still reads as its number)."""
    store = native_store()
    store.execute([Hit("h", 60, 5), DistinctAdd("d", "m", 60), Incr("n", 60)], 1.0)
    assert store.execute([Get("h"), Get("d"), Get("n")], 2.0) == [None, None, 1]


def test_unusual_strings_are_keys_and_members_like_any_other() -> None:
    """Keys are exact strings: empty, with a NUL, outside the BMP, a lone surrogate (no UTF-8
    form), very long; none may collide with another or fail to store."""
    twin = Twin()
    keys = ["", "a", "a\x00b", "a\x00c", "é", "e\u0301", "\U0001f600", "\ud800", "k" * 10_000]
    twin.run([Put(k, f"v{i}", 60) for i, k in enumerate(keys)], 1.0)
    assert twin.run([Get(k) for k in keys], 2.0) == [f"v{i}" for i in range(len(keys))]
    assert twin.run([DistinctAdd("d", m, 60) for m in keys], 3.0) == list(range(1, len(keys) + 1))
    assert twin.run([Recent("r", k, 20, 60) for k in keys], 4.0)[-1] == tuple(reversed(keys))


def test_close_drops_everything_and_the_store_stays_usable() -> None:
    """``close`` runs at shutdown and in tests between cases: it empties the store but keeps
    the eviction count, like Python's."""
    twin = Twin(cap=4)
    twin.run([Put("s", "v", 60), Incr("n", 60), DistinctAdd("d", "m", 60),
              Hit("h", 60, 5), Recent("r", "v", 3, 60)], 1.0)
    twin.python.close()
    twin.native.close()
    twin.check()
    assert len(twin.native) == 0 and twin.native.evictions == 1
    assert twin.run([Get("s"), Incr("n", 60), DistinctAdd("d", "x", 60)], 2.0) == [None, 1, 1]


def test_a_counter_named_as_its_own_older_bucket_is_counted_alone() -> None:
    """Both stores once answered 0 here past 64 members (the join with itself dropped the
    union it had just built); the guard never builds such an op, but a count must not
    collapse whatever a caller names."""
    twin = Twin()
    twin.run([DistinctAdd("d", f"m{i}", 60) for i in range(100)], 1.0)
    counts = twin.run([DistinctAdd("d", "x", 60, ("d",)), DistinctAdd("e", "y", 60, ("e",))],
                      1.0)
    assert counts[0] > 90 and counts[1] == 1


def test_a_counter_past_the_largest_int64_raises_instead_of_wrapping() -> None:
    store = native_store()
    store.execute([Incr("n", 60, 2**62)], 1.0)
    with pytest.raises(OverflowError):
        store.execute([Incr("n", 60, 2**62)], 1.0)
    assert store.execute([Get("n")], 1.0) == [2**62]  # unchanged


def test_a_cap_below_one_is_refused() -> None:
    """The documented difference: Python's store would evict every entry it takes."""
    with pytest.raises(ValueError):
        native_store(cap=0)


# -- bad input ----------------------------------------------------------------------------------

BAD_OPS = {
    "hit key int": Hit(1, 60, 5),  # type: ignore[arg-type]
    "incr key bytes": Incr(b"n", 60),  # type: ignore[arg-type]
    "get key none": Get(None),  # type: ignore[arg-type]
    "put key tuple": Put(("s",), "v", 60),  # type: ignore[arg-type]
    "put_if_absent key float": PutIfAbsent(1.5, "v", 60),  # type: ignore[arg-type]
    "recent key int": Recent(7, "v", 3, 60),  # type: ignore[arg-type]
    "add key int": DistinctAdd(1, "m", 60),  # type: ignore[arg-type]
    "add member int": DistinctAdd("d", 1, 60),  # type: ignore[arg-type]
    "add member bytes": DistinctAdd("d", b"m", 60),  # type: ignore[arg-type]
    "add older key int": DistinctAdd("d", "m", 60, (1,)),  # type: ignore[arg-type]
    "add_all member int": DistinctAddAll(1, (("d", 60, ()),), 0),  # type: ignore[arg-type]
    "add_all key int": DistinctAddAll("m", ((1, 60, ()),), 0),  # type: ignore[arg-type]
    "add_all older key bytes": DistinctAddAll(
        "m", (("d", 60, (b"old",)),), 0),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("bad", list(BAD_OPS.values()), ids=list(BAD_OPS))
def test_keys_and_members_that_are_not_str_raise_type_error(bad: Any) -> None:
    """A TypeError, not a crash or a silent miss; what was stored before stays, and the store
    goes on answering."""
    store = native_store(cap=100)
    store.execute([Put("s", "v", 60), Incr("n", 60), DistinctAdd("d", "m0", 60)], 1.0)
    with pytest.raises(TypeError):
        store.execute([bad], 2.0)
    assert store.execute([Get("s"), Incr("n", 60), DistinctAdd("d", "m1", 60)], 3.0) == [
        "v", 2, 2]
    assert len(store) == 3


class HitSubclass(Hit):
    """Not a Hit as far as the stores go: ops are dispatched on their exact type."""


@pytest.mark.parametrize("unknown", [object(), None, "Get", HitSubclass("h", 60, 5),
                                     HitResult(0.0, 0.0, True)],
                         ids=["object", "None", "str", "Hit subclass", "HitResult"])
def test_an_unknown_op_raises_key_error_like_python(unknown: Any) -> None:
    """The KeyError names the type, as Python's handler table does; the ops before it in the
    batch took effect in both stores, and both go on alike."""
    twin = Twin(cap=10)
    batch = [Incr("n", 60), Put("s", "v", 60), unknown, Incr("n", 60)]
    for store in (twin.python, twin.native):
        with pytest.raises(KeyError) as raised:
            store.execute(batch, 1.0)
        assert raised.value.args == (type(unknown),)
    twin.check()
    assert twin.run([Incr("n", 60), Get("s")], 2.0) == [2, "v"]


# -- threads and the collector --------------------------------------------------------------------

def test_threads_hammering_shared_keys_end_with_exact_totals() -> None:
    """Each batch is atomic: every increment lands once, exactly ``limit`` hits are counted
    however the threads interleave, and a shared distinct counter misses no member."""
    store = native_store(cap=1000)
    threads, rounds, limit = 8, 2000, 5000
    barrier = threading.Barrier(threads)
    seen: list[list[int]] = [[] for _ in range(threads)]
    counted = [0] * threads
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            for j in range(rounds):
                hit, n, _ = store.execute([Hit("h", 3600, limit), Incr("n", 3600),
                                           DistinctAdd("d", f"{i}-{j % 8}", 3600)], 100.0)
                counted[i] += hit.counted
                seen[i].append(n)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            failures.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(switch)
    assert not failures
    assert sorted(n for values in seen for n in values) == list(range(1, threads * rounds + 1))
    assert sum(counted) == limit
    hit, n, distinct = store.execute([Hit("h", 3600, limit, 0), Incr("n", 3600, 0),
                                      DistinctAdd("d", "0-0", 3600)], 100.0)
    assert (hit.count, n, distinct) == (float(limit), threads * rounds, threads * 8)


# -- the build and the wiring ---------------------------------------------------------------------

def test_the_built_extension_is_not_older_than_its_source() -> None:
    """An editable install builds the module next to ``_native.c``; a later edit of the
    source does not rebuild it, and every other test here would check stale code."""
    module = importlib.import_module(native_class().__module__)
    built = Path(module.__file__ or "")
    source = built.with_name("_native.c")
    if not source.exists():
        pytest.skip(f"no _native.c beside {built}: installed from a wheel, nothing to compare")
    assert built.stat().st_mtime >= source.stat().st_mtime, (
        f"{built.name} is older than {source.name}: the tests would run stale C code; "
        "run `make install`")


async def test_memory_uri_opens_the_native_store_by_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both faces share the one C store."""
    cls = native_class()
    monkeypatch.delenv("ANTISCRAPE_PURE_PYTHON", raising=False)
    sync, async_ = open_storage("memory://", cap=7, prefix="x", timeout=1.0)
    assert type(sync) is cls and sync.cap == 7
    assert await async_.execute([Incr("n", 60)], 1.0) == [1]
    assert sync.execute([Incr("n", 60)], 1.0) == [2]
    await async_.aclose()
    assert len(sync) == 0


def test_pure_python_env_opens_the_python_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switch to rule the C code out while chasing a problem."""
    native_class()
    monkeypatch.setenv("ANTISCRAPE_PURE_PYTHON", "1")
    sync, async_ = open_storage("memory://", cap=7, prefix="x", timeout=1.0)
    assert type(sync) is MemoryStorage and sync.cap == 7
    assert isinstance(async_, AsyncMemoryStorage) and async_.sync is sync
