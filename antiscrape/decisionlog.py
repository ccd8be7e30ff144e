"""The decision log: one JSON line per challenge, throttle and block (and a sample of allows).

It is an engine observer (``observer(view, decision, seconds)``): the engine hands it every
decision after the fact, so logging can never change a verdict. Lines go to the
``antiscrape`` logger, so the host application's logging config decides where they end up.

What is written is chosen so a leaked log reveals no visitor and no secret: identities appear as
keyed hashes (the same ones storage keys use, so an operator can still correlate), raw IPs only
when ``log.raw_ips`` is set, and never headers, cookies, query strings or tokens.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from typing import Any

from .config import Config, LogSettings
from .decision import Action, Decision
from .keys import Keys
from .request import RequestView

logger = logging.getLogger("antiscrape")

_MAX_PATH = 256


def record(view: RequestView, decision: Decision, seconds: float,
           hashed: Callable[[str], str], raw_ips: bool = False) -> dict[str, Any]:
    """The fields of one decision line (pure, so tests and replay can use it directly)."""
    line: dict[str, Any] = {
        "action": decision.action.value,
        "enforced": decision.enforced,
        "reason": decision.reason,
        "rule": decision.rule,
        "score": decision.score,
        "method": view.method,
        "path": view.path[:_MAX_PATH],
        "route": view.route,
        "kind": decision.kind,
        "ms": round(seconds * 1000.0, 3),
    }
    if decision.retry_after is not None:
        line["retry_after"] = decision.retry_after
    if decision.signals:
        line["signals"] = list(decision.signals)
    identity = decision.identity
    if identity is not None:
        line["ip_hash"] = hashed(identity.ip)
        line["network_hash"] = hashed(identity.network)
        line["fingerprint"] = identity.fingerprint
        if identity.account is not None:
            line["account_hash"] = hashed(identity.account)
        if raw_ips:
            line["ip"] = identity.ip
            line["network"] = identity.network
    elif raw_ips and view.peer:
        line["ip"] = view.peer
    return line


class DecisionLog:
    """Observer writing decision lines; allows are sampled at ``log.sample_allow``."""

    def __init__(self, settings: LogSettings, hashed: Callable[[str], str], *,
                 log: logging.Logger = logger,
                 sample: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._hashed = hashed
        self._log = log
        self._sample = sample
        self.route_of: Callable[[str], str | None] | None = None
        """Names the route of a path the adapter could not name before the engine ran
        (Starlette's router runs after the middleware): see :func:`name_routes`."""

    def wants(self, decision: Decision) -> bool:
        if decision.action is not Action.ALLOW:
            return True
        rate = self.settings.sample_allow
        return rate > 0.0 and self._sample() < rate

    def __call__(self, view: RequestView, decision: Decision, seconds: float) -> None:
        if not self.wants(decision):
            return
        level = logging.WARNING if decision.action is Action.BLOCK else logging.INFO
        if not self._log.isEnabledFor(level):  # building the line costs more than the check
            return
        line = record(view, decision, seconds, self._hashed, self.settings.raw_ips)
        if line["route"] is None and self.route_of is not None:
            line["route"] = self.route_of(view.path)
        self._log.log(level, json.dumps(line, separators=(",", ":"), ensure_ascii=True),
                      extra={"antiscrape": line})


def hasher_for(engine: Any, config: Config) -> Callable[[str], str]:
    """The engine's keyed hash when it has one, so log hashes match storage keys."""
    keys = getattr(engine, "keys", None)
    if isinstance(keys, Keys):
        return keys.hashed
    return Keys(config.key_prefix, config.state_hash_key or b"antiscrape-debug").hashed


def name_routes(engine: Any, route_of: Callable[[str], str | None]) -> None:
    """Let the engine's decision log name routes with ``route_of(path)`` (a template or
    None) where the request itself did not carry one, so every adapter's lines say which
    route a refusal was for."""
    for observer in (*engine.observers, *engine.refusal_observers):
        if isinstance(observer, DecisionLog):
            observer.route_of = route_of


def console(log: logging.Logger = logger) -> None:
    """Print the decision lines on stderr: one handler on the ``antiscrape`` logger at INFO
    (added once), not passed on to the root logger, so no line shows twice."""
    if not any(getattr(h, "antiscrape_console", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.antiscrape_console = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    log.propagate = False


def attach(engine: Any) -> DecisionLog | None:
    """Register a decision log on the engine when ``config.log.decisions`` is on: among the
    observers of every decision when allows are sampled, else among the observers of
    refusals only (``engine.refusal_observers``), so allowed traffic never calls it."""
    config: Config = engine.config
    if not config.log.decisions:
        return None
    if config.log.console:
        console()
    observer = DecisionLog(config.log, hasher_for(engine, config))
    # Idempotent, like metrics.attach: a second attach replaces the first.
    for observers in (engine.observers, engine.refusal_observers):
        observers[:] = [o for o in observers if not isinstance(o, DecisionLog)]
    (engine.observers if config.log.sample_allow > 0 else engine.refusal_observers).append(
        observer)
    return observer
