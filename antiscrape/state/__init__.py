"""State backends behind one small interface (see ``base`` and ``ops``)."""

from __future__ import annotations

from .base import AsyncStorage, Storage
from .memory import AsyncMemoryStorage, MemoryStorage
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

__all__ = [
    "AsyncMemoryStorage", "AsyncStorage", "DistinctAddAll", "Get", "Hit",
    "HitResult", "Incr", "MemoryStorage", "Op", "Pulse", "PulseResult", "Put", "PutIfAbsent",
    "Recent", "Storage", "check_storage", "open_storage", "storage_schemes",
]


def storage_schemes() -> tuple[str, ...]:
    """The URI schemes state can live in: ``memory`` and the Redis/Valkey family, spelled as
    ``limits`` spells them (plain, TLS, unix socket, cluster, sentinel).

    ``limits`` knows other backends (memcached, MongoDB), but the state operations here are
    Lua scripts a Redis-protocol server runs, so those cannot hold antiscrape's state."""
    from limits.storage import RedisClusterStorage, RedisSentinelStorage, RedisStorage

    return ("memory", *RedisStorage.STORAGE_SCHEME, *RedisClusterStorage.STORAGE_SCHEME,
            *RedisSentinelStorage.STORAGE_SCHEME)


def check_storage(uri: str, *, timeout: float, options: dict[str, object]) -> None:
    """What opening ``uri`` needs, checked without building a client or connecting (what
    ``antiscrape check`` runs): the client package is installed (else ``MissingExtraError``)
    and the options antiscrape itself reads are valid (else ``ConfigError``)."""
    if uri.startswith("memory://"):
        return
    from .redis import Target

    Target.resolve(uri, timeout, dict(options))


def open_storage(uri: str, *, cap: int, prefix: str, timeout: float,
                 options: dict[str, object] | None = None) -> tuple[Storage, AsyncStorage]:
    """Open the sync and async faces of the backend named by ``uri``.

    ``memory://`` is built in (per process, bounded); every other scheme is a ``limits``
    storage URI handled by the Redis/Valkey backend (needs the ``redis`` extra).
    """
    if uri.startswith("memory://"):
        mem = MemoryStorage(cap=cap)
        return mem, AsyncMemoryStorage(mem)
    from .redis import open_redis  # lazy: the core stays light without the extra

    return open_redis(uri, prefix=prefix, timeout=timeout, options=options or {})
