"""The few storage operations the engine needs, as values, and what each one answers.

The engine gathers every operation one request needs into a list and a backend executes the
whole list at once: the memory backend in a loop, Redis in one round trip. Because operations
are values, the decision logic is written once and the sync and async paths differ only in how
the list is executed (``Storage.execute`` vs ``AsyncStorage.execute``).

Each op's docstring is its specification; ``docs/storage-operations.md`` gathers them with the
arithmetic spelled out. ``state/memory.py`` is the readable reference implementation, the
Redis script (``state/lua/batch.lua``) is held to it by ``tests/test_storage_conformance.py``.
Every op runs at the batch's ``now`` (seconds, a float); a key whose expiry is ``<= now`` is
absent. Kinds of state never share a key: an op on a live key holding another kind of state
is undefined (the engine never does it).
"""

from __future__ import annotations

from dataclasses import dataclass

# Plain slotted dataclasses, for the reason given in ``antiscrape/decision.py``.


@dataclass(slots=True, unsafe_hash=True)
class Hit:
    """One hit on a sliding-window counter (``limits``' SlidingWindowCounter, unfloored).

    With ``bucket = floor(now / window)``, ``elapsed = now - bucket * window``, ``cur`` the
    cost counted in this bucket and ``prev`` in the bucket before (0 when older or absent)::

        count = prev * (1 - elapsed / window) + cur      # before this hit
        counted = count + cost <= limit                   # then cur += cost

    Unlike ``limits``, which compares ``floor(count) + cost``, the weighted count is not
    floored: a client may be refused up to one request earlier than ``limits`` would. A
    refused hit is not recorded, so a client that waits gets its budget back. The state
    expires at ``(bucket + 2) * window``, when neither bucket can weigh any more.

    Result: :class:`HitResult`.
    """

    key: str
    window: int
    limit: int
    cost: int = 1


@dataclass(slots=True, unsafe_hash=True)
class HitResult:
    """What every backend answers a :class:`Hit` (equal and hashable by value)."""

    count: float
    """Weighted count before this hit."""
    reset: float
    """0.0 when counted; else seconds until the weighted count has fallen enough for
    ``cost`` more (``inf`` when ``cost > limit``), see ``memory.window_reset``."""
    counted: bool
    """Whether this hit was recorded."""


@dataclass(slots=True, unsafe_hash=True)
class Incr:
    """Add ``amount`` (may be negative) to a counter; an absent counter starts at 0 and
    expires ``ttl`` seconds after this op created it (later increments keep that expiry).

    Result: the new value (int).
    """

    key: str
    ttl: int
    amount: int = 1


@dataclass(slots=True, unsafe_hash=True)
class Get:
    """Read a value stored by :class:`Put`, :class:`PutIfAbsent` (a str) or :class:`Incr`
    (an int). Result: that value, or None when the key is absent or holds another kind of
    state (a window, a list, a distinct counter)."""

    key: str


@dataclass(slots=True, unsafe_hash=True)
class Put:
    """Store a string for ``ttl`` seconds, replacing whatever the key held. Result: None."""

    key: str
    value: str
    ttl: int


@dataclass(slots=True, unsafe_hash=True)
class PutIfAbsent:
    """Store a string for ``ttl`` seconds only if the key is absent (one-time tokens).
    Result: True if stored, False if the key held anything."""

    key: str
    value: str
    ttl: int


@dataclass(slots=True, unsafe_hash=True)
class DistinctAddAll:
    """Add one member to several distinct counters, each counted with its older bucket.

    ``counters`` holds ``(key, expires, older)`` per counter: ``key`` is the counter of the
    current time bucket, ``older`` the one of the bucket before (read, never written; absent
    counts as empty, and a counter named as its own older bucket is counted alone). A counter
    this op creates is kept ``expires - now`` seconds (``now``: the caller's clock in whole
    seconds), so the caller can build ``counters`` once per time bucket. On Redis a counter's
    key and older key must differ only in their last ``:`` part (one cluster hash slot).

    Result: a tuple of int, per counter the number of distinct members in ``key`` and
    ``older`` together, this member included. Exact up to 64 members in the reference (then a
    4096-register HyperLogLog, about 1.6 % standard error); Redis counts with its own
    HyperLogLog (about 0.8 %), so backends agree within those errors, not to the unit.

    A protected read adds the same record to every (level, window) counter of its reader: one
    op, built once per request and handled in one backend step.
    """

    member: str
    counters: tuple[tuple[str, int, str], ...]
    now: int


@dataclass(slots=True, unsafe_hash=True)
class Recent:
    """Push ``value`` onto a short list (newest first, at most ``size`` long) and keep the
    list ``ttl`` seconds from this op. Result: the list after the push, a tuple of str."""

    key: str
    value: str
    size: int
    ttl: int


@dataclass(slots=True, unsafe_hash=True)
class Pulse:
    """Count ``amount`` events on a site-wide series, learn its normal rate, and keep the
    guarded flag that every worker and host must agree on (see ``antiscrape.people``).

    The series is counted in buckets of ``bucket`` seconds; ``rate`` is the sliding count
    over the last bucket-length (the previous bucket weighted, as a :class:`Hit`). When a
    bucket is complete it is folded into an exponentially weighted baseline with weight
    ``alpha`` (the first whole bucket seeds it: the one the series began in, part of the
    way through, is not learned), except while guarded: an attack must not teach
    the site that attacks are normal (unless ``learn_guarded``, see below). The series
    enters the guarded state when ``rate`` exceeds ``max(floor, factor * baseline)`` and
    leaves it once it has stayed at or under ``max(floor, leave * baseline)`` for
    ``cooldown`` seconds (``1 <= leave <= factor``: a rate back at its usual level hovers
    around the baseline, half the time above it, so ``leave`` = 1 would keep a busy series
    guarded for hours after a short spike). An ``amount`` of 0 only reads.
    ``learn_guarded``: fold complete buckets in while guarded too, for a guard that is only
    monitored (nothing is held, so the traffic is the site's own: a monitor week is how a
    busy site learns its usual rates).

    Result: :class:`PulseResult`. The state is kept ``ttl`` seconds after the last event.
    """

    key: str
    amount: int
    bucket: int
    alpha: float
    factor: float
    leave: float
    floor: float
    cooldown: int
    ttl: int
    learn_guarded: bool = False


@dataclass(slots=True, unsafe_hash=True)
class PulseResult:
    rate: float
    """Events in the last bucket-length, this one included."""
    baseline: float
    """The learned events per bucket (0 until the first bucket is complete)."""
    since: float
    """When the guarded state began (0.0: not guarded)."""
    changed: int
    """+1 when this very op entered the guarded state, -1 when it left it, else 0: exactly
    one request sees each transition, so it is logged and counted once across workers."""


Op = Hit | Incr | Get | Put | PutIfAbsent | DistinctAddAll | Recent | Pulse
