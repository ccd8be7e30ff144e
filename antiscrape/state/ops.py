"""The few storage operations the engine needs, as values.

The engine gathers every operation one request needs into a list and a backend executes the
whole list at once: the memory backend in a loop, Redis in one round trip. Because operations
are values, the decision logic is written once and the sync and async paths differ only in how
the list is executed (``Storage.execute`` vs ``AsyncStorage.execute``).
"""

from __future__ import annotations

from dataclasses import dataclass

# Hot-path values are plain slotted dataclasses, not frozen ones: a frozen dataclass builds
# each field through object.__setattr__, which measured 3-4x slower to construct, and these
# are built on every request. Treat them as immutable all the same (``dataclasses.replace``).


@dataclass(slots=True, unsafe_hash=True)
class Hit:
    """Sliding-window-counter hit (the algorithm of ``limits``' SlidingWindowCounter).

    Result: :class:`HitResult`. ``count`` is the weighted count *before* this hit; the hit is
    recorded only while ``count + cost <= limit`` so a refused request does not push the
    window further away (a client that waits gets its budget back).
    """

    key: str
    window: int
    limit: int
    cost: int = 1


@dataclass(slots=True, unsafe_hash=True)
class HitResult:
    count: float
    """Weighted count before this hit."""
    reset: float
    """Seconds until the count has dropped enough for one more hit."""
    counted: bool
    """Whether this hit was recorded."""


@dataclass(slots=True, unsafe_hash=True)
class Incr:
    """Add ``amount`` to a counter that expires ``ttl`` seconds after it was created.

    Result: the new value (int).
    """

    key: str
    ttl: int
    amount: int = 1


@dataclass(slots=True, unsafe_hash=True)
class Get:
    """Result: the stored string or None."""

    key: str


@dataclass(slots=True, unsafe_hash=True)
class Put:
    """Store a string for ``ttl`` seconds. Result: None."""

    key: str
    value: str
    ttl: int


@dataclass(slots=True, unsafe_hash=True)
class PutIfAbsent:
    """Store only if the key does not exist (one-time tokens). Result: True if stored."""

    key: str
    value: str
    ttl: int


@dataclass(slots=True, unsafe_hash=True)
class DistinctAdd:
    """Add ``member`` to the distinct-count sketch ``key`` (kept ``ttl`` seconds) and return the
    approximate number of distinct members in the union of ``key`` and ``also`` (int).

    Callers split long windows into time buckets and pass the older buckets in ``also``.
    """

    key: str
    member: str
    ttl: int
    also: tuple[str, ...] = ()


@dataclass(slots=True, unsafe_hash=True)
class DistinctAddAll:
    """One member added to several distinct counters at once: a :class:`DistinctAdd` per
    counter, as one op. Result: the counts, a tuple of int in the order of ``counters``.

    A protected read adds the same record to every (level, window) counter of its reader;
    one op (built once per request, handled in one backend step, one script record on
    Redis) measured far cheaper than one op per counter.

    ``counters`` holds ``(key, expires, also)`` per counter: ``also`` as in
    :class:`DistinctAdd`, and a counter created by this op is kept ``expires - now``
    seconds (``now``: the caller's clock in whole seconds). Keeping the expiry absolute lets
    the caller build ``counters`` once per time bucket instead of once per request.
    """

    member: str
    counters: tuple[tuple[str, int, tuple[str, ...]], ...]
    now: int


@dataclass(slots=True, unsafe_hash=True)
class Recent:
    """Push ``value`` onto a short list (newest first, at most ``size`` long, kept ``ttl``
    seconds) and return the list after the push as a tuple of strings."""

    key: str
    value: str
    size: int
    ttl: int


@dataclass(slots=True, unsafe_hash=True)
class Pulse:
    """Count ``amount`` events on a site-wide series, learn its normal rate, and keep the
    guarded flag that every worker and host must agree on (see ``antiscrape.sitewatch``).

    The series is counted in buckets of ``bucket`` seconds; ``rate`` is the sliding count
    over the last bucket-length (the previous bucket weighted, as a :class:`Hit`). When a
    bucket is complete it is folded into an exponentially weighted baseline with weight
    ``alpha`` (the first bucket seeds it), except while guarded: an attack must not teach
    the site that attacks are normal. The series enters the guarded state when ``rate``
    exceeds ``max(floor, factor * baseline)`` and leaves it once it has stayed at or under
    ``max(floor, baseline)`` for ``cooldown`` seconds. An ``amount`` of 0 only reads.

    Result: :class:`PulseResult`. The state is kept ``ttl`` seconds after the last event.
    """

    key: str
    amount: int
    bucket: int
    alpha: float
    factor: float
    floor: float
    cooldown: int
    ttl: int


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


Op = Hit | Incr | Get | Put | PutIfAbsent | DistinctAdd | DistinctAddAll | Recent | Pulse
