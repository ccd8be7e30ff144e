"""Bounded distinct counting for the in-memory backend: exact while small, HyperLogLog after.

Why this shape
--------------
The enumeration guard asks "how many *different* records has this identity read?" for every
protected request, so the answer must be cheap and its memory must not grow with what an
attacker reads.

* Up to :data:`EXACT_LIMIT` (64) members the sketch keeps the members' 64-bit hashes, eight
  bytes each, in a ``bytearray``: counts are exact, which covers every ordinary visitor (tens
  of records a day); a look-up is one C-speed ``find`` over at most 512 bytes, and adding is
  an append. Not a ``set``: the garbage collector walks every member of a set on each full
  collection, and a busy site holds a sketch per identity, kind and time bucket (the
  collection pauses and memory of both are in ``benchmarks/RESULTS.md``).
* Beyond that it turns into a HyperLogLog with ``2**P`` = 4096 one-byte registers (P = 12):
  4 KiB however many members follow. The estimate uses Ertl's improved estimator (the one
  Redis also uses), which is unbiased from small to huge counts without empirical bias tables.
  Relative standard error: ``1.04 / sqrt(4096)`` = **1.6 %** (measured in
  ``tests/test_sketch.py``: within 5 % at 1 000, 10 000 and 1 000 000 distinct members).
* Largest footprint of one sketch: about 4.2 KiB (the registers; 512 bytes of exact hashes
  before that). The memory backend caps the number of entries, so the total stays bounded.

Agreement with Redis
--------------------
The Redis backend runs each counter of a ``DistinctAddAll`` (the enumeration guard's one op
per protected read) as ``PFADD key member`` then ``PFCOUNT key older`` (a union), over the same
time-bucket keys the enumeration guard builds; the memory backend hashes the member once for
all the counters of one op and keeps the union with the older bucket (:meth:`count_with`). Redis'
HyperLogLog has 16 384 registers (standard error 0.81 %) and counts small sets approximately
rather than exactly, so the two backends may differ by a few percent on large counts and by at
most one or two on small ones; the bucket scheme and union semantics are identical.

Hashing uses Python's built-in ``hash`` of the member string (SipHash, keyed per process):
fast, well mixed, and an attacker cannot choose ids that collide on purpose. Sketches are
therefore only meaningful inside one process, which is exactly the memory backend's scope.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable

P = 12
"""Register index bits."""
M = 1 << P
"""Number of registers (4096)."""
Q = 64 - P
"""Hash bits left for the rank; ranks run 1..Q+1."""
EXACT_LIMIT = 64
"""Members counted exactly before the sketch switches to registers."""

MASK64 = (1 << 64) - 1
"""A member's hash is ``hash(member) & MASK64`` (callers that add one member to several
sketches hash it once)."""
_HASH_BYTES = 8
_ORDER = sys.byteorder  # what ``array("Q")`` reads back (see _hashes)


def hash_bytes(h: int) -> bytes:
    """The eight bytes an exact sketch keeps for the hash ``h`` (callers adding one member to
    several sketches build them once, like the hash)."""
    return h.to_bytes(_HASH_BYTES, _ORDER)


def _holds(exact: bytearray, key: bytes) -> bool:
    """Whether the exact hashes contain ``key`` (a match must start on an 8-byte boundary:
    one straddling two hashes is not a member)."""
    at = exact.find(key)
    while at > 0 and at & 7:
        at = exact.find(key, at + 1)
    return at >= 0


def _hashes(exact: bytearray) -> array[int]:
    """The exact hashes as integers."""
    return array("Q", bytes(exact))


_FEW = 8
"""Members of the smaller exact side up to which a union is counted by look-ups in the
larger one rather than by building a set of both."""
_INDEX_MASK = M - 1
_ALPHA_INF = 1.0 / (2.0 * math.log(2.0))
_ALPHA_MM = _ALPHA_INF * M * M
# Lane constants for merging 4096 one-byte registers at once as big integers (see _max_bytes).
_HIGH_BITS = int.from_bytes(b"\x80" * M, "big")
_ALL_BITS = (1 << (8 * M)) - 1


def _sigma(x: float) -> float:
    # Ertl (2017), used for the share of empty registers.
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


_RANK_TOP = Q + 1
_WEIGHT = [2.0 ** -r for r in range(_RANK_TOP + 1)]
"""What a register holding ``r`` adds to the sum: ``2**-r``. Sums are floats, which keep them
exact while every register is below 43 (the sum is below 2**11, so 53 bits reach 2**-42; a
register gets there with probability 2**-42 per member). Integer sums scaled by 2**53 were
exact always but cost several big-integer allocations on every register change."""


_M_SIGMA = [M * _sigma(zeros / M) for zeros in range(M)]
"""``M * sigma(zeros / M)`` for every possible number of empty registers but all (32 KiB,
once): a sketch with registers has taken a hash, and every hash fills one register."""


def _summary(registers: bytes | bytearray) -> tuple[int, float]:
    """(empty registers, sum of ``2**-r`` over the others) of a register array, via a C-speed
    histogram."""
    top = max(registers)
    zeros = registers.count(0)
    total = 0.0
    for k in range(1, top + 1):
        total += registers.count(k) * _WEIGHT[k]
    return zeros, total


def _max_bytes(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    """Lane-wise maximum of two register arrays, computed on big integers.

    Registers hold at most 53, so every byte's top bit is free: ``(a | 0x80) - b`` cannot
    borrow across lanes, and its top bit says where ``a >= b``. A pure-Python loop over 4096
    registers would cost a hundred times more.
    """
    x = int.from_bytes(a, "big")
    y = int.from_bytes(b, "big")
    ge = ((x | _HIGH_BITS) - y) & _HIGH_BITS
    mask = (ge >> 7) * 0xFF
    return ((x & mask) | (y & (_ALL_BITS ^ mask))).to_bytes(M, "big")


class DistinctSketch:
    """Approximate distinct counter: exact up to 64 members, then a 4 KiB HyperLogLog.

    A sketch that is counted together with one older bucket keeps that union (the *join*):
    a running count while both are exact, merged registers otherwise. It follows every hash
    the sketch takes, so a request pays for the union once per bucket, not once per read.
    """

    __slots__ = ("_count", "_older", "_older_version", "_sum", "_union", "_union_count",
                 "_zeros", "exact", "registers", "version")

    def __init__(self) -> None:
        self.exact: bytearray | None = bytearray()
        """The member hashes while exact (see ``hash_bytes``); None once registers count."""
        self.registers: bytearray | None = None
        self._zeros = M
        self._sum = 0.0
        self._count = 0
        self.version = 0
        """Bumped on every change, so a join with this sketch as the older side is stale."""
        self._older: DistinctSketch | None = None
        """The older bucket of the kept join (None: no join kept)."""
        self._older_version = 0
        self._union_count = 0
        """The join's count while both sides are exact."""
        self._union: DistinctSketch | None = None
        """The join's merged registers once either side is not exact."""

    # -- adding ------------------------------------------------------------------------------

    def add(self, member: str) -> None:
        self.add_count(hash(member) & MASK64, None)

    def add_count(self, h: int, older: DistinctSketch | None, key: bytes | None = None) -> int:
        """Take the 64-bit hash ``h`` (``hash(member) & MASK64``) and return the count:
        :meth:`count`, or :meth:`count_with` ``older`` when given. ``key`` is
        ``hash_bytes(h)``, built by the caller once for several sketches (or here).

        The memory backend's step for each counter of a protected read, so the common cases
        are inline: a re-read of an exact sketch is one look-up, a new member one append
        (plus one look-up in an exact older bucket), and a register that holds costs no
        estimate.
        """
        exact = self.exact
        if exact is not None:
            if key is None:
                key = hash_bytes(h)
            at = exact.find(key)  # _holds, inline: runs for every counter of a read
            while at > 0 and at & 7:
                at = exact.find(key, at + 1)
            if at >= 0:  # a re-read: nothing changes, not even the kept join
                if older is None:
                    return len(exact) >> 3
            else:
                exact += key
                self.version += 1
                if len(exact) > EXACT_LIMIT * _HASH_BYTES:
                    self._to_registers(_hashes(exact))  # drops the join: rebuilt if needed
                elif self._older is not None:
                    self._follow(h, key)
                if older is None:
                    return self.count()
        elif self._add_hash(h) and self._older is not None:
            self._follow(h, key)
        if older is None:
            count = self._count
            return count if count >= 0 else self.count()
        if self._older is not older or older.version != self._older_version:
            self._join(older)
        union = self._union
        if union is None:
            return self._union_count
        count = union._count
        return count if count >= 0 else union.count()

    @classmethod
    def _dense(cls, registers: bytes | bytearray) -> DistinctSketch:
        sketch = cls()
        sketch.exact = None
        sketch.registers = bytearray(registers)
        sketch._zeros, sketch._sum = _summary(registers)
        sketch._count = -1
        return sketch

    def _to_registers(self, hashes: Iterable[int]) -> None:
        self.exact = None
        self.registers = bytearray(M)
        self._zeros = M
        self._sum = 0.0
        self._count = -1
        self._drop_join()  # an exact union count cannot follow registers: rebuilt on demand
        for h in hashes:
            self._add_hash(h)

    def _add_hash(self, h: int) -> bool:
        """Raise one register if ``h`` ranks higher there; True when something changed."""
        registers: bytearray = self.registers  # type: ignore[assignment]
        index = h & _INDEX_MASK
        # The position of the first 1-bit in the Q rank bits, from the top (1..Q+1).
        rank = _RANK_TOP - (h >> P).bit_length()
        old = registers[index]
        if rank <= old:
            return False  # the register (and so the union's, at least as high) holds
        registers[index] = rank
        if old:
            self._sum += _WEIGHT[rank] - _WEIGHT[old]
        else:
            self._zeros -= 1
            self._sum += _WEIGHT[rank]
        self._count = -1  # estimate is stale
        self.version += 1
        return True

    # -- the join with one older bucket ------------------------------------------------------

    def _follow(self, h: int, key: bytes | None) -> None:
        """This sketch took a hash it did not hold before: so does the kept join."""
        older = self._older
        assert older is not None
        if older.version != self._older_version:
            self._drop_join()  # the older side changed: rebuilt when next counted
            return
        union = self._union
        if union is not None:
            union._add_hash(h)
        elif not _holds(older.exact, key or hash_bytes(h)):  # type: ignore[arg-type]
            self._union_count += 1

    def _join(self, older: DistinctSketch) -> None:
        """Build the union with ``older`` from scratch and keep it."""
        self._older = older
        self._older_version = older.version
        self._union_count, self._union = _union_of([self, older])
        # The older bucket is closed: its own join with the bucket before it is no longer
        # needed, and dropping it keeps a chain of ever older buckets from staying alive.
        older._drop_join()

    def _drop_join(self) -> None:
        self._older = None
        self._union = None

    # -- counting ----------------------------------------------------------------------------

    def count(self) -> int:
        """Exact while small; then Ertl's estimate from the number of empty registers and the
        sum of ``2**-r`` over the others.

        With no saturated register (value Q+1, probability 2**-52 per register) Ertl's loop
        ``z = (z + C_k) / 2`` is exactly the sum of ``2**-r`` over non-empty registers, which
        is kept up to date on every change: estimating is O(1), and cached until the next.
        """
        exact = self.exact
        if exact is not None:
            return len(exact) >> 3
        count = self._count
        if count < 0:
            count = round(_ALPHA_MM / (_M_SIGMA[self._zeros] + self._sum))
            if count <= EXACT_LIMIT:  # more than EXACT_LIMIT were seen: never report fewer
                count = EXACT_LIMIT + 1
            self._count = count
        return count

    @property
    def nbytes(self) -> int:
        """Approximate payload size in bytes (for the memory-bound test and benchmark)."""
        size = M if self.exact is None else len(self.exact) + 64  # bytearray: data + header
        if self._union is not None:
            size += M
        return size

    def count_with(self, older: DistinctSketch) -> int:
        """Distinct members of this sketch and ``older`` together (what ``PFCOUNT key older``
        answers in Redis), from the kept join while it is fresh.

        No member's own count can exceed the union's: the merged registers are at least each
        sketch's, the estimate only grows with any register, and every count past the exact
        limit is floored at ``EXACT_LIMIT + 1`` (which exceeds any exact sketch).
        """
        if self._older is not older or older.version != self._older_version:
            self._join(older)
        union = self._union
        return self._union_count if union is None else union.count()


def _union_of(sketches: list[DistinctSketch]) -> tuple[int, DistinctSketch | None]:
    """The union of ``sketches``: (its exact count, None) while every one is exact, else
    (0, a dense sketch of the merged registers and every exact hash)."""
    exacts = [s.exact for s in sketches]
    if all(e is not None for e in exacts):
        if len(exacts) == 2:
            small, big = sorted(exacts, key=len)  # type: ignore[arg-type]
            if len(small) <= _FEW * _HASH_BYTES:  # a bucket just begun: a few look-ups
                return (len(big) >> 3) + sum(
                    not _holds(big, small[at:at + _HASH_BYTES])  # type: ignore[arg-type]
                    for at in range(0, len(small), _HASH_BYTES)), None
        return len(set().union(*(_hashes(e) for e in exacts))), None  # type: ignore[arg-type]
    dense = [s.registers for s in sketches if s.registers is not None]
    merged: bytes | bytearray = dense[0]
    for other in dense[1:]:
        merged = _max_bytes(merged, other)
    union = DistinctSketch._dense(merged)
    for e in exacts:
        if e is not None:
            for h in _hashes(e):
                union._add_hash(h)
    return 0, union
