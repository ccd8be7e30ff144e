"""State backends behind one small interface (see ``base`` and ``ops``)."""

from __future__ import annotations

from .base import AsyncStorage, Storage
from .memory import AsyncMemoryStorage, MemoryStorage
from .ops import (
    DistinctAdd,
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

__all__ = [
    "AsyncMemoryStorage", "AsyncStorage", "DistinctAdd", "DistinctAddAll", "Get", "Hit",
    "HitResult", "Incr", "MemoryStorage", "Op", "Pulse", "PulseResult", "Put", "PutIfAbsent",
    "Recent", "Storage", "open_storage",
]


def open_storage(uri: str, *, cap: int, prefix: str, timeout: float,
                 options: dict[str, object] | None = None) -> tuple[Storage, AsyncStorage]:
    """Open the sync and async faces of the backend named by ``uri``.

    ``memory://`` is built in (the C store when it is built, see ``native``; else the Python
    one, which answers the same); every other scheme is a ``limits`` storage URI handled by
    the Redis/Valkey backend (needs the ``redis`` extra).
    """
    if uri.startswith("memory://"):
        from ..native import NativeMemoryStorage, native_wanted

        mem = NativeMemoryStorage(cap=cap) if native_wanted() else MemoryStorage(cap=cap)
        return mem, AsyncMemoryStorage(mem)
    from .redis import open_redis  # lazy: the core stays light without the extra

    return open_redis(uri, prefix=prefix, timeout=timeout, options=options or {})
