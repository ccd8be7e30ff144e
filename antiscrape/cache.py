"""One bounded cache for every memo of derived values on the request path.

Clients choose user agents, addresses and header texts, so any cache keyed by them must stay
bounded or a crawler rotating them grows memory without limit. When full, the cache is
emptied whole: cheaper than least-recently-used bookkeeping on every hit, and the few hot
keys of real traffic come straight back while a flood of one-off keys cannot grow it.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict of at most ``maxsize`` entries: read it like a dict, fill it with :meth:`put`."""

    __slots__ = ("maxsize",)

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        if maxsize < 1:
            raise ValueError("a bounded cache holds at least one entry")
        self.maxsize = maxsize

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key`` (emptying the cache first when it is full); returns
        ``value``, so a miss reads ``return cache.put(key, derive(key))``."""
        if len(self) >= self.maxsize and key not in self:
            self.clear()
        self[key] = value
        return value
