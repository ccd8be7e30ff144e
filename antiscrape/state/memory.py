"""In-process state with a hard cap on entries (least recently used evicted first).

``limits``' own MemoryStorage keeps every key until it expires, so an attacker rotating
millions of IPs inside one window would grow it without bound; and calling a ``limits``
strategy per identity level costs a lock and several dict operations each. This backend
counts budgets with ``limits``' sliding-window-counter arithmetic, without its floor (see
:class:`~.ops.Hit`), and executes a request's whole batch in one pass over one bounded
``OrderedDict``.

Per process only: several workers do not share it (use Redis for that).

Convictions (``Put``) and spent-challenge markers (``PutIfAbsent``) live in a tier of their
own that load never evicts: a flood of new clients fills the LRU with budget counters, and
if those pushed out a week-long conviction or a replay marker, the flood would buy the
crawler its way back in or a second clearance for one answer. That tier is bounded too; when
it is full, expired entries are swept, and if none has expired the new entry is refused (a
refused spent marker reads as "already used": replay protection holds, the answer is asked
again). Writing to it costs a solved proof-of-work or a budgeted canary read each.

This module is also the readable reference of the storage operations: the Redis script is
held to it by ``tests/test_storage_conformance.py``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from .ops import (
    DistinctAddAll,
    Get,
    Hit,
    HitResult,
    Incr,
    Op,
    Pulse,
    PulseResult,
    Put,
    PutIfAbsent,
    Recent,
)
from .sketch import MASK64, DistinctSketch, hash_bytes


def window_reset(prev: float, cur: float, elapsed: float, window: int, limit: int,
                 cost: int) -> float:
    """Seconds until a sliding-window counter admits ``cost`` more under ``limit``.

    The weighted count is ``prev * (1 - elapsed/window) + cur``; it only falls as the previous
    bucket's weight shrinks, and jumps down when the current bucket becomes the previous one:

    * ``room = limit - cost - cur >= 0``: the previous bucket must shrink to ``room``, which
      happens when ``elapsed`` reaches ``(1 - room / prev) * window`` (0 if ``prev <= 0``);
    * else, past the bucket's end (``window - elapsed`` away) ``cur`` becomes the previous
      count and must shrink to ``limit - cost``: a further ``(1 - (limit - cost) / cur) *
      window`` (``inf`` when ``cost > limit``: never).
    """
    room = limit - cost - cur
    if room >= 0:
        if prev <= 0:
            return 0.0
        need = 1.0 - room / prev  # share of the window that must have elapsed
        return max(0.0, need * window - elapsed)
    # Not even dropping the previous bucket is enough: wait for the next bucket, in which the
    # current count becomes the previous one and decays from there.
    to_next = window - elapsed
    room_next = limit - cost
    if room_next < 0:
        return math.inf
    need = 1.0 - room_next / cur if cur > 0 else 0.0
    return to_next + max(0.0, need) * window


_PARTIAL = -2.0
"""A Pulse series' baseline while it is still in the bucket it began in, part of the way
through (see :func:`pulse_step`)."""


def pulse_step(state: tuple[float, ...] | None, op: Pulse, now: float
               ) -> tuple[tuple[float, ...], PulseResult]:
    """One :class:`~antiscrape.state.ops.Pulse` on a series' state, as a pure function.

    ``state`` is ``(bucket, current, previous, baseline, since, last_over)`` (None: never
    seen); ``baseline`` is -1 until the first whole bucket is complete (-2 before that,
    while the series is in the bucket it began in, part of the way through: that bucket's
    count is not learned, it holds only part of a bucket's events, or only those of whoever
    was there when the series began) and ``since`` 0 while not guarded. ``batch.lua``
    repeats these steps in the same order, on the same doubles.
    """
    size = op.bucket
    bucket = float(now // size)
    if state is None:
        begun = _PARTIAL if now > bucket * size else -1.0
        last, cur, prev, base, since, last_over = bucket, 0.0, 0.0, begun, 0.0, 0.0
    else:
        last, cur, prev, base, since, last_over = state
    if bucket > last:
        gap = bucket - last
        if base == _PARTIAL:
            base = -1.0
        elif since == 0.0 or op.learn_guarded:  # learn only from calm buckets, or monitored
            base = cur if base < 0 else base + op.alpha * (cur - base)
            if gap > 1 and base > 0:  # quiet buckets since then count as zero
                base = base * (1.0 - op.alpha) ** min(gap - 1, 100_000.0)
        prev = cur if gap == 1 else 0.0
        cur = 0.0
    cur += op.amount
    elapsed = now - bucket * size
    rate = prev * (1.0 - elapsed / size) + cur
    known = base if base > 0 else 0.0
    changed = 0
    if rate > max(op.floor, op.factor * known):
        if since == 0.0:
            since = now
            changed = 1
        last_over = now
    elif since != 0.0 and rate > max(op.floor, op.leave * known):
        last_over = now
    if since != 0.0 and changed == 0 and now - last_over >= op.cooldown:
        since = 0.0
        changed = -1
    return (bucket, cur, prev, base, since, last_over), PulseResult(rate, known, since, changed)


class MemoryStorage:
    """Bounded in-memory backend. Thread-safe; the async face needs no thread hop."""

    def __init__(self, cap: int = 200_000, kept_cap: int | None = None) -> None:
        self.cap = cap
        self.kept_cap = kept_cap if kept_cap is not None else max(1_000, cap // 4)
        """Most convictions and spent markers held (the tier load cannot evict)."""
        self._data: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._kept: dict[str, tuple[float, str]] = {}
        self._sweep_after = 0.0
        """No sweep of the kept tier before this instant: the earliest expiry the last sweep
        left (a full tier of live entries is not rescanned for every refused write)."""
        self._lock = threading.Lock()
        self.evictions = 0
        self.refusals = 0
        """Convictions or spent markers not stored because the kept tier was full of live
        entries."""

    def __len__(self) -> int:
        return len(self._data) + len(self._kept)

    # Entries are tuples, (expires_at, payload...), replaced whole on every change; the payload
    # depends on the op kind. A tuple of numbers and strings is dropped from the garbage
    # collector's lists after its first collection, where a list stays on them for good: a
    # full collection then visits each entry once instead of walking every list and the
    # numbers in it (benchmarks/RESULTS.md). Sketches stay objects the collector walks.

    def _entry(self, key: str, now: float) -> tuple[Any, ...] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry

    def _store(self, key: str, entry: tuple[Any, ...]) -> None:
        data = self._data
        data[key] = entry
        data.move_to_end(key)
        if len(data) > self.cap:
            data.popitem(last=False)
            self.evictions += 1

    def _hit(self, op: Hit, now: float) -> HitResult:
        window = op.window
        bucket = int(now // window)
        elapsed = now - bucket * window
        data = self._data
        key = op.key
        entry = data.get(key)
        if entry is None or entry[0] <= now:
            fresh = True
            prev = cur = 0.0
        else:
            fresh = False
            gap = bucket - entry[1]
            if gap == 0:
                prev = entry[2]
                cur = entry[3]
            else:
                prev = entry[3] if gap == 1 else 0.0
                cur = 0.0
        count = prev * (1.0 - elapsed / window) + cur
        cost = op.cost
        if count + cost <= op.limit:
            result = HitResult(count, 0.0, True)
            cur += cost
        else:
            result = HitResult(count, window_reset(prev, cur, elapsed, window, op.limit, cost),
                               False)
        # After (bucket + 2) * window both buckets are irrelevant: the entry expires then.
        entry = ((bucket + 2) * window, bucket, prev, cur)
        if fresh:
            self._store(key, entry)
        else:
            data[key] = entry
            data.move_to_end(key)
        return result

    def _incr(self, op: Incr, now: float) -> int:
        entry = self._entry(op.key, now)
        if entry is None:
            count = op.amount
            self._store(op.key, (now + op.ttl, count))
        else:
            count = entry[1] + op.amount
            self._data[op.key] = (entry[0], count)
        return int(count)

    def _get(self, op: Get, now: float) -> str | int | None:
        data = self._data
        key = op.key
        entry = data.get(key)
        if entry is None:  # the common case on the hot path: nothing stored
            return self._kept_value(key, now)
        if entry[0] <= now:
            del data[key]
            return None
        data.move_to_end(key)
        value = entry[1]
        # A str (Put) or an int (Incr) is (expires, value); a window has four fields.
        return value if len(entry) == 2 and type(value) in (str, int) else None

    def _kept_value(self, key: str, now: float) -> str | None:
        kept = self._kept
        entry = kept.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del kept[key]
            return None
        return entry[1]

    def _keep(self, key: str, entry: tuple[float, str], now: float) -> bool:
        """Store in the kept tier; False when it is full of live entries."""
        kept = self._kept
        if key not in kept and len(kept) >= self.kept_cap:
            if now < self._sweep_after:
                self.refusals += 1
                return False
            for k in [k for k, e in kept.items() if e[0] <= now]:
                del kept[k]
            if len(kept) >= self.kept_cap:
                self._sweep_after = min(e[0] for e in kept.values())
                self.refusals += 1
                return False
        kept[key] = entry
        return True

    # One key space, as on Redis: a Put replaces whatever the key held in the LRU, and a
    # PutIfAbsent finds a key present in either tier (the engine never mixes kinds on one
    # key; the conformance suite does).

    def _put(self, op: Put, now: float) -> None:
        if self._keep(op.key, (now + op.ttl, op.value), now):
            self._data.pop(op.key, None)

    def _put_if_absent(self, op: PutIfAbsent, now: float) -> bool:
        if self._kept_value(op.key, now) is not None or self._entry(op.key, now) is not None:
            return False
        return self._keep(op.key, (now + op.ttl, op.value), now)

    # The handlers below run on every protected read: they look entries up directly (one
    # dictionary read each) instead of through ``_entry`` and ``_store``, with the same
    # expiry, recency and eviction behaviour.

    def _distinct_add_all(self, op: DistinctAddAll, now: float) -> tuple[int, ...]:
        """Every counter of one protected read in one step: the member is hashed once and
        each counter costs two dictionary reads and one sketch call."""
        data = self._data
        move = data.move_to_end
        h = hash(op.member) & MASK64
        key_bytes = hash_bytes(h)  # what exact sketches keep: built once, like the hash
        t = op.now
        counts: list[int] = []
        for key, expires, older_key in op.counters:
            entry = data.get(key)
            if entry is None or entry[0] <= now:
                sketch = DistinctSketch()
                self._store(key, (now + (expires - t), sketch))
            else:
                move(key)
                sketch = entry[1]
            older = None
            e = data.get(older_key)
            if e is not None:
                if e[0] <= now:
                    del data[older_key]
                else:
                    move(older_key)
                    # a counter named as its own older bucket is counted alone
                    older = e[1] if e[1] is not sketch else None
            counts.append(sketch.add_count(h, older, key_bytes))
        return tuple(counts)

    def _recent(self, op: Recent, now: float) -> tuple[str, ...]:
        data = self._data
        key = op.key
        entry = data.get(key)
        if entry is None or entry[0] <= now:
            values: tuple[str, ...] = (op.value,)
            self._store(key, (now + op.ttl, values))
            return values
        values = (op.value, *entry[1][: op.size - 1])
        data[key] = (now + op.ttl, values)
        data.move_to_end(key)
        return values

    def _pulse(self, op: Pulse, now: float) -> PulseResult:
        entry = self._entry(op.key, now)
        state, result = pulse_step(entry[1:] if entry is not None else None, op, now)
        self._store(op.key, (now + op.ttl, *state))
        return result

    _HANDLERS: dict[type, Any] = {
        Hit: _hit, Incr: _incr, Get: _get, Put: _put, PutIfAbsent: _put_if_absent,
        DistinctAddAll: _distinct_add_all, Recent: _recent, Pulse: _pulse,
    }

    def execute(self, ops: Sequence[Op], now: float) -> list[Any]:
        handlers = self._HANDLERS  # an unknown op type is a KeyError naming it
        out: list[Any] = []
        append = out.append
        with self._lock:
            for op in ops:
                append(handlers[type(op)](self, op, now))
        return out

    def close(self) -> None:
        self._data.clear()
        self._kept.clear()


class AsyncMemoryStorage:
    """The async face of a :class:`MemoryStorage` (same object underneath, no thread hop:
    every operation is a few dictionary steps)."""

    def __init__(self, sync: MemoryStorage) -> None:
        self.sync = sync

    async def execute(self, ops: Sequence[Op], now: float) -> list[Any]:
        return self.sync.execute(ops, now)

    async def aclose(self) -> None:
        self.sync.close()
