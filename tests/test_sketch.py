"""The distinct-count sketch: exact while small, HyperLogLog after, unions like PFCOUNT."""

from __future__ import annotations

import gc

import pytest

from antiscrape.state.memory import MemoryStorage
from antiscrape.state.ops import DistinctAddAll
from antiscrape.state.sketch import EXACT_LIMIT, DistinctSketch, M

# 1.04/sqrt(4096) = 1.6 % standard error; four of them keeps these tests from flaking on
# the per-process hash seed while still catching a broken estimator (which is off by 10 %+).
TOLERANCE = 0.065


def filled(members) -> DistinctSketch:
    sketch = DistinctSketch()
    for m in members:
        sketch.add(m)
    return sketch


def test_small_counts_are_exact_and_rereads_are_free():
    sketch = filled(str(i) for i in range(EXACT_LIMIT))
    for i in range(EXACT_LIMIT):
        sketch.add(str(i))
    assert sketch.count() == EXACT_LIMIT
    assert sketch.registers is None


def test_switching_to_registers_never_reports_fewer_than_were_counted_exactly():
    sketch = filled(str(i) for i in range(EXACT_LIMIT + 1))
    assert sketch.registers is not None
    assert sketch.count() >= EXACT_LIMIT + 1


def collector_visits(obj: object) -> int:
    """How many objects a full garbage collection visits through ``obj``."""
    visits = 0
    seen = {id(obj)}
    stack = [obj]
    while stack:
        for ref in gc.get_referents(stack.pop()):
            if isinstance(ref, type):
                continue  # the class: shared by every sketch, walked once per collection
            visits += 1
            if gc.is_tracked(ref) and id(ref) not in seen:
                seen.add(id(ref))
                stack.append(ref)
    return visits


def test_what_the_collector_walks_does_not_grow_with_the_members():
    """Every live sketch is walked by each full collection: its members must not be objects
    the collector visits one by one (a busy site holds one sketch per identity, kind and
    time bucket)."""
    one = filled(["a"])
    full = filled(str(i) for i in range(EXACT_LIMIT))
    assert full.count() == EXACT_LIMIT and full.registers is None
    assert collector_visits(full) == collector_visits(one) < 20


def test_exact_members_are_whole_hashes_not_bytes_across_two():
    """A member is found only where its eight bytes start a stored hash: the same bytes
    straddling two stored hashes are not a match."""
    sketch = DistinctSketch()
    first, second = 0x1122334455667788, 0x99AABBCCDDEEFF00
    sketch.add_count(first, None)
    sketch.add_count(second, None)
    stored = bytes(sketch.exact)  # type: ignore[arg-type]
    straddling = int.from_bytes(stored[4:12], "little" if stored[:1] == b"\x88" else "big")
    assert sketch.add_count(straddling, None) == 3
    assert sketch.add_count(first, None) == 3 and sketch.add_count(second, None) == 3


@pytest.mark.parametrize("n", [250, 1_000, 10_000, 100_000])
def test_estimates_stay_within_the_documented_error(n):
    sketch = filled(f"user-{i}" for i in range(n))
    assert abs(sketch.count() - n) <= TOLERANCE * n


def test_one_million_members_take_four_kibibytes():
    sketch = DistinctSketch()
    add = sketch.add
    for i in range(1_000_000):
        add(str(i))
    assert abs(sketch.count() - 1_000_000) <= TOLERANCE * 1_000_000
    assert sketch.nbytes == M == 4096


@pytest.mark.parametrize("sizes", [(30, 30), (30, 5_000), (5_000, 8_000)])
def test_union_counts_overlapping_members_once(sizes):
    a_n, b_n = sizes
    a = filled(str(i) for i in range(a_n))
    b = filled(str(i) for i in range(a_n // 2, a_n // 2 + b_n))
    truth = len(set(range(a_n)) | set(range(a_n // 2, a_n // 2 + b_n)))
    assert abs(a.count_with(b) - truth) <= max(1, TOLERANCE * truth)


def test_cached_union_follows_both_sides():
    current = filled(str(i) for i in range(2_000))
    previous = filled(str(i) for i in range(1_000, 4_000))
    first = current.count_with(previous)
    for i in range(4_000, 6_000):  # the current bucket grows: the cached union must follow
        current.add(str(i))
    grown = current.count_with(previous)
    assert abs(grown - 6_000) <= TOLERANCE * 6_000 and grown > first
    for i in range(6_000, 9_000):  # an older bucket changed (not in the guard's scheme): rebuild
        previous.add(str(i))
    assert abs(current.count_with(previous) - 9_000) <= TOLERANCE * 9_000


def test_memory_backend_distinct_add_counts_the_union_of_buckets():
    storage = MemoryStorage(cap=1_000)
    for i in range(40):
        storage.execute([DistinctAddAll(str(i), (("b1", 100, "b0"),), 0)], 0.0)
    results = [storage.execute([DistinctAddAll(str(i), (("b2", 101, "b1"),), 1)], 1.0)[0][0]
               for i in range(20, 60)]
    assert results[0] == 40  # "20" was already read in the older bucket: free
    assert results[-1] == 60


@pytest.mark.parametrize(("head_n", "older_n"), [(10, 5_000), (70, 60), (3_000, 200), (64, 0)])
def test_union_is_never_below_either_side_while_the_head_grows(head_n, older_n):
    older = filled(f"o{i}" for i in range(older_n))
    head = DistinctSketch()
    for i in range(head_n):
        head.add(f"h{i}")
        union = head.count_with(older)
        assert union >= head.count() and union >= older.count()


@pytest.mark.parametrize(("head_n", "older_n"), [(40, 30), (200, 60), (3_000, 5_000)])
def test_the_kept_join_answers_what_a_fresh_union_answers(head_n, older_n):
    """The union kept with one older bucket answers what a union built afresh from the same
    members answers, while the head grows, re-reads, switches to registers and the older one
    changes underneath (a bucket reopened after a restart of the clock, say)."""
    older_members = [f"o{i}" for i in range(older_n)]
    older = filled(older_members)
    head, members = DistinctSketch(), []
    for i in range(head_n):
        member = f"o{i}" if i % 3 == 0 else f"h{i}"  # a third were read in the older bucket
        head.add(member)
        members.append(member)
        if i == head_n // 2:
            older.add("late")
            older_members.append("late")
        if i % 25 == 0 or i == head_n - 1:
            fresh = filled(members).count_with(filled(older_members))
            assert head.count_with(older) == fresh, i


def test_one_op_for_all_counters_counts_like_one_op_per_counter():
    """A DistinctAddAll of several counters counts like one op per counter (the member is
    hashed once): same counts, exact and estimated, across a bucket boundary (the older
    bucket joins the count)."""
    storage = MemoryStorage(cap=10_000)
    for step in range(400):
        now = 1_000.0 + step * 2.5
        t = int(now)
        counters = tuple((f"{name}:{t // window}", (t // window + 2) * window,
                          f"{name}:{t // window - 1}")
                         for name, window in (("a", 300), ("b", 3_600)))
        member = str(step % 250)
        together = storage.execute([DistinctAddAll(member, counters, t)], now)[0]
        apart = storage.execute([DistinctAddAll(member, (("one-" + key, expires, "one-" + old),),
                                                t) for key, expires, old in counters], now)
        assert together == tuple(count for (count,) in apart), step


def test_a_closed_bucket_lets_go_of_the_bucket_before_it():
    """Counting a bucket with its older one keeps their union; once that older one is itself
    counted as the older of a newer bucket it needs no union of its own, so a long chain of
    buckets never stays alive through it."""
    buckets = [filled(f"{b}:{i}" for i in range(200)) for b in range(3)]
    assert buckets[1].count_with(buckets[0]) > 0
    assert buckets[1].nbytes > M  # its registers and the kept union
    assert buckets[2].count_with(buckets[1]) > 0
    assert buckets[1].nbytes == M  # just its registers: the union and bucket 0 are let go
