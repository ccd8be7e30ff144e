"""Bounded distinct counting for the in-memory backend.

Placeholder: an exact set that stops growing at ``CAP`` members (the count saturates). The
enumeration guard replaces it with a proper sketch whose error is documented.
"""

from __future__ import annotations


class DistinctSketch:
    CAP = 4096

    __slots__ = ("members",)

    def __init__(self) -> None:
        self.members: set[str] = set()

    def add(self, member: str) -> None:
        if len(self.members) < self.CAP:
            self.members.add(member)

    def count(self) -> int:
        return len(self.members)

    @classmethod
    def union_count(cls, sketches: list[DistinctSketch]) -> int:
        if len(sketches) == 1:
            return sketches[0].count()
        out: set[str] = set()
        for s in sketches:
            out |= s.members
        return len(out)
