"""The storage interface: execute a batch of operations, sync or async."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from .ops import Op


@runtime_checkable
class Storage(Protocol):
    """Synchronous state backend (WSGI apps, tests, the log replayer)."""

    def execute(self, ops: Sequence[Op], now: float) -> list[Any]:
        """Run every op against the state as of ``now`` and return one result per op.

        Raises :class:`antiscrape.errors.StorageError` (and nothing else) when the backend
        cannot answer; the engine then applies the configured failure policy.
        """
        ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncStorage(Protocol):
    """Asynchronous twin of :class:`Storage` for ASGI apps: never blocks the event loop."""

    async def execute(self, ops: Sequence[Op], now: float) -> list[Any]: ...

    async def aclose(self) -> None: ...
