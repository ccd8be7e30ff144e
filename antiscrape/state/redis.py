"""Redis/Valkey backend: state shared by every worker and every host.

Users write the ``limits`` storage URIs they already know (``redis://``, ``rediss://``,
``redis+unix://``, ``redis+sentinel://``, ``redis+cluster://``, ``valkey://``, ...): the client
is built by ``limits``' own storage classes and taken from them, so every option ``limits``
documents for a scheme works here too (``storage_options`` are passed through).

Design choices, and why:

- **One round trip per request.** A request's whole batch of ops runs inside one server-side
  script (``lua/batch.lua``) called with EVALSHA; after a server restart or SCRIPT FLUSH the
  first call gets NOSCRIPT and resends the script once with EVAL. On a cluster the keys of
  one script call must share a hash slot, so the batch is split per slot: the sync face sends
  one pipeline per node involved, the async face one call per slot, in turn (see
  ``AsyncRedisStorage._run``). Budgets of one identity share a slot only by chance, so a
  cluster costs a few round trips per request where a single server costs one.
- **One clock.** By default the script reads the time with Redis ``TIME``, so hosts whose
  clocks disagree still share one sliding window; the ``now`` argument of ``execute`` is then
  ignored. ``storage_options = {clock = "caller"}`` makes the script use ``now`` instead (tests
  with a manual clock; replaying logs); values carry their logical expiry so the answers match
  the memory backend exactly, while Redis TTLs still bound memory in real time.
- **Failures wrapped once.** Every backend error (refused connection, timeout, protocol or
  script error, a reply of the wrong shape) becomes :class:`~antiscrape.errors.StorageError`
  in :func:`_storage_errors`; the engine applies the failure policy. Socket connect/read
  timeouts are ``timeout``; redis-py's own retries (3, with back-off of up to seconds) are
  switched off so no call waits longer than that; the async face also caps the whole call
  with ``asyncio.timeout``. Broken pooled connections are replaced on the next call, so
  service resumes by itself as soon as the server answers again.
- **Async never blocks the loop.** The async face uses ``redis.asyncio``; it keeps one client
  per event loop because asyncio connections belong to the loop that opened them.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..errors import ConfigError, StorageError
from .ops import Op
from .redis_batch import SCRIPT, SCRIPT_SHA, Call, KeyNamer, assemble, plan

OUR_OPTIONS = ("clock",)
"""``storage_options`` keys this backend reads itself; all others go to the client."""

REBUILD_PAUSE = 1.0
"""Seconds between attempts to build a client whose construction failed (a cluster client
contacts its nodes while being built); in between, calls fail at once."""


@dataclass(frozen=True)
class Target:
    """What the URI and options ask for, resolved once."""

    uri: str
    """The URI handed to ``limits`` (``valkey`` schemes become ``redis`` when the ``valkey``
    package is absent: Valkey speaks the Redis protocol and redis-py talks to it)."""
    module: ModuleType
    """``redis`` or ``valkey``: the client package in use."""
    cluster: bool
    sentinel: bool
    server_clock: bool
    timeout: float
    options: dict[str, Any]

    @classmethod
    def resolve(cls, uri: str, timeout: float, options: dict[str, Any]) -> Target:
        clock = options.get("clock", "server")
        if clock not in ("server", "caller"):
            raise ConfigError("storage_options.clock", f"'server' or 'caller', got {clock!r}")
        scheme = uri.split("://", 1)[0].lower()
        valkey = scheme.startswith("valkey")
        if valkey and importlib.util.find_spec("valkey") is None:
            uri = "redis" + uri[len("valkey"):]
            valkey = False
        try:
            module = importlib.import_module("valkey" if valkey else "redis")
        except ImportError as exc:  # pragma: no cover - the extra pulls redis in
            from ..errors import MissingExtraError

            raise MissingExtraError("the redis client", "redis") from exc
        rest = {k: v for k, v in options.items() if k not in OUR_OPTIONS}
        return cls(uri=uri, module=module, cluster="+cluster" in scheme,
                   sentinel="+sentinel" in scheme, server_clock=clock == "server",
                   timeout=timeout, options=rest)

    def client_options(self, *, is_async: bool) -> dict[str, Any]:
        """Options for the ``limits`` storage class: short timeouts and no hidden retries
        unless the user set them explicitly."""
        mod = self.module
        retry_mod = mod.asyncio.retry if is_async else mod.retry
        opts: dict[str, Any] = {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
        }
        if not (is_async and self.cluster):
            opts["retry"] = retry_mod.Retry(mod.backoff.NoBackoff(), 0)
        # else: the asyncio cluster client needs its retries to recover connections that
        # concurrent first calls share (with none it fails); asyncio.timeout caps the wait.
        if self.sentinel:
            opts["sentinel_kwargs"] = {"socket_timeout": self.timeout,
                                       "socket_connect_timeout": self.timeout}
        opts.update(self.options)
        if is_async:
            opts["implementation"] = "valkey" if mod.__name__ == "valkey" else "redispy"
        return opts

    @property
    def exceptions(self) -> tuple[type[BaseException], ...]:
        exc = self.module.exceptions
        base = exc.RedisError if self.module.__name__ == "redis" else exc.ValkeyError
        return (base, exc.RedisClusterException, OSError, TimeoutError)

    @property
    def no_script(self) -> type[BaseException]:
        return self.module.exceptions.NoScriptError  # type: ignore[no-any-return]

    def slot_of(self) -> Callable[[str], int] | None:
        if not self.cluster:
            return None
        key_slot = self.module.crc.key_slot
        return lambda key: int(key_slot(key.encode("utf-8", "surrogateescape")))


@contextmanager
def _storage_errors(target: Target) -> Iterator[None]:
    """The one place where backend errors become :class:`StorageError`."""
    try:
        yield
    except StorageError:
        raise
    except target.exceptions as exc:
        raise StorageError(f"redis: {type(exc).__name__}: {exc}") from exc


def _build(target: Target, *, is_async: bool, prefix: str) -> Any:
    """A client built by ``limits``' storage class for the URI (config errors: ConfigError)."""
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    uri = ("async+" + target.uri) if is_async else target.uri
    try:
        storage = storage_from_string(uri, key_prefix=prefix,
                                      **target.client_options(is_async=is_async))
    except (ConfigurationError, ValueError) as exc:
        raise ConfigError("storage", f"{target.uri!r}: {exc}") from exc
    getter = storage.bridge.get_connection if is_async else storage.get_connection
    return getter()


class _Lazy:
    """Holds a sync client, building it on first use and again after a failed build (at
    most once per :data:`REBUILD_PAUSE`, so an unreachable cluster fails calls at once)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None
        self._failed_at = -REBUILD_PAUSE
        self._lock = threading.Lock()

    def get(self) -> Any:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                if time.monotonic() - self._failed_at < REBUILD_PAUSE:
                    raise StorageError("redis: client unavailable (last connection attempt "
                                       "failed less than a second ago)")
                try:
                    self._client = self._build()
                except ConfigError:
                    raise
                except BaseException:
                    self._failed_at = time.monotonic()
                    raise
            return self._client

    def take(self) -> Any:
        client, self._client = self._client, None
        return client


def _redirected(reply: Any) -> bool:
    return isinstance(reply, Exception) and str(reply).startswith(("MOVED", "ASK"))


def _now_arg(target: Target, now: float) -> str:
    return "" if target.server_clock else repr(float(now))


class RedisStorage:
    """Sync face (WSGI apps, tests, the log replayer): one script call per ``execute``."""

    def __init__(self, target: Target, prefix: str) -> None:
        self.target = target
        self.namer = KeyNamer(prefix, cluster=target.cluster)
        self._slot_of = target.slot_of()
        self._client = _Lazy(lambda: _build(target, is_async=False, prefix=prefix))

    def execute(self, ops: Sequence[Op], now: float) -> list[Any]:
        if not ops:
            return []
        target = self.target
        with _storage_errors(target):
            calls = plan(ops, _now_arg(target, now), self.namer, self._slot_of)
            replies = self._run(self._client.get(), calls)
        return assemble(ops, calls, replies)

    def _call(self, client: Any, c: Call) -> Any:
        try:
            return client.evalsha(SCRIPT_SHA, len(c.keys), *c.keys, *c.argv())
        except self.target.no_script:
            return client.eval(SCRIPT, len(c.keys), *c.keys, *c.argv())

    def _run(self, client: Any, calls: list[Call]) -> list[Any]:
        if len(calls) == 1:
            return [self._call(client, calls[0])]
        return self._run_per_node(client, calls)

    def _run_per_node(self, client: Any, calls: list[Call]) -> list[Any]:
        """Cluster: one pipeline per node holding some of the batch's slots (redis-py's
        cluster pipeline refuses EVALSHA). A reply that is NOSCRIPT, or MOVED/ASK after a
        resharding, is redone through the cluster client, which follows redirections and
        refreshes its slot map."""
        by_node: dict[str, tuple[Any, list[int]]] = {}
        for i, c in enumerate(calls):
            node = client.get_node_from_key(c.keys[0])
            by_node.setdefault(node.name, (node, []))[1].append(i)
        replies: list[Any] = [None] * len(calls)
        for node, idxs in by_node.values():
            pipe = client.get_redis_connection(node).pipeline(transaction=False)
            for i in idxs:
                c = calls[i]
                pipe.evalsha(SCRIPT_SHA, len(c.keys), *c.keys, *c.argv())
            for i, r in zip(idxs, pipe.execute(raise_on_error=False), strict=True):
                replies[i] = r
        for i, r in enumerate(replies):
            if isinstance(r, self.target.no_script) or _redirected(r):
                replies[i] = self._call(client, calls[i])
            elif isinstance(r, BaseException):
                raise r
        return replies

    def close(self) -> None:
        client = self._client.take()
        if client is not None:
            with _storage_errors(self.target):
                client.close()


class AsyncRedisStorage:
    """Async face (ASGI apps): ``redis.asyncio``, one client per event loop, and the whole
    call capped at ``timeout`` so a request never waits longer."""

    def __init__(self, target: Target, prefix: str) -> None:
        self.target = target
        self.prefix = prefix
        self.namer = KeyNamer(prefix, cluster=target.cluster)
        self._slot_of = target.slot_of()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary())
        _build(target, is_async=True, prefix=prefix)  # configuration errors surface at start

    def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = _build(self.target, is_async=True,
                                                  prefix=self.prefix)
        return client

    async def execute(self, ops: Sequence[Op], now: float) -> list[Any]:
        if not ops:
            return []
        target = self.target
        with _storage_errors(target):
            calls = plan(ops, _now_arg(target, now), self.namer, self._slot_of)
            async with asyncio.timeout(target.timeout):
                replies = await self._run(self._client(), calls)
        return assemble(ops, calls, replies)

    async def _call(self, client: Any, c: Call) -> Any:
        try:
            return await client.evalsha(SCRIPT_SHA, len(c.keys), *c.keys, *c.argv())
        except self.target.no_script:
            return await client.eval(SCRIPT, len(c.keys), *c.keys, *c.argv())

    async def _run(self, client: Any, calls: list[Call]) -> list[Any]:
        if len(calls) == 1:
            return [await self._call(client, calls[0])]
        # Cluster: one call per slot, one after the other. (Concurrent calls on a fresh
        # redis.asyncio cluster client race while its connections open: redis-py 7.4 then
        # fails with AttributeError; sequential calls are correct, at one round trip each.)
        return [await self._call(client, c) for c in calls]

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        self._clients.clear()  # clients of other (finished) loops cannot be awaited here
        if client is not None:
            with _storage_errors(self.target):
                await client.aclose()


def open_redis(uri: str, *, prefix: str, timeout: float,
               options: dict[str, Any]) -> tuple[RedisStorage, AsyncRedisStorage]:
    """Both faces of the backend for ``uri`` (a ``limits`` storage URI).

    Nothing is sent to the server here: a server that is down at start-up only makes the
    first calls fail (and the failure policy apply), it never stops the application.
    """
    target = Target.resolve(uri, timeout, options)
    sync = RedisStorage(target, prefix)
    with suppress(*target.exceptions):  # a cluster that cannot be reached yet: retried on use
        sync._client.get()
    return sync, AsyncRedisStorage(target, prefix)
