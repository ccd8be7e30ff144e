"""Everything the engine builds from a config, built without connecting anywhere.

``Config.load`` checks types, ranges and key names; starting the engine needs more: the
storage backend's client package, the metrics extra, the protected routes and patterns
compiled, the challenge, enumeration and good-bot parts built. ``antiscrape check`` runs this
so that a config it passes also starts, and a config that would not start is refused with the
key path to fix rather than a traceback at deploy time.
"""

from __future__ import annotations

from .config import Config
from .errors import ConfigError, MissingExtraError


def preflight(config: Config) -> None:
    """Raise :class:`ConfigError` (key path first) for whatever would stop an engine built
    from ``config`` from starting. Nothing connects: the engine is built on a memory store,
    after the configured backend's own needs were checked without a client."""
    from . import metrics
    from .engine import Engine
    from .state import AsyncMemoryStorage, MemoryStorage, check_storage

    try:
        check_storage(config.storage, timeout=config.storage_timeout,
                      options=config.storage_options)
    except MissingExtraError as exc:
        raise ConfigError("storage", str(exc)) from exc
    if config.metrics.enabled:
        try:
            metrics.require_prometheus()
        except MissingExtraError as exc:
            raise ConfigError("metrics.enabled", str(exc)) from exc
    memory = MemoryStorage(cap=config.state_cap)
    try:
        Engine(config, storage=(memory, AsyncMemoryStorage(memory)))
    except MissingExtraError as exc:
        raise ConfigError("", str(exc)) from exc
