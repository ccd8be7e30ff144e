"""Request budgets per identity level and route class, scaled by risk.

Budgets are ``limits`` rate items; counting uses the sliding-window counter of ``limits``
without its floor (see :class:`~antiscrape.state.ops.Hit`), batched with the request's other
operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import limits

from .config import Config, parse_rate
from .paths import PathPrefixes

LEVELS = ("ip", "network", "fingerprint", "account", "clearance", "visitor")
LEVEL_NAMES = {
    "ip": "per IP", "network": "per network", "fingerprint": "per fingerprint",
    "account": "per account", "clearance": "per clearance", "visitor": "per visitor",
}
SHARED_BY_PEOPLE = frozenset({"ip", "network"})
"""Levels whose budgets are multiplied by the people seen behind them (``people``)."""
_UNIT = {1: "s", 60: "min", 3600: "h", 86400: "day"}


@dataclass(frozen=True, slots=True)
class Rate:
    level: str
    amount: int
    window: int  # seconds

    def scaled(self, factor: float) -> int:
        return max(1, int(self.amount * factor))

    def describe(self, amount: int) -> str:
        unit = _UNIT.get(self.window, f"{self.window}s")
        return f"{amount}/{unit}"


@dataclass(frozen=True, slots=True)
class RouteClass:
    name: str
    prefixes: PathPrefixes
    rates: tuple[Rate, ...]
    where: str
    """How reasons name the class: ``/api/*`` or ``all pages``."""


def _rate(item: limits.RateLimitItem, level: str) -> Rate:
    return Rate(level, item.amount, item.get_expiry())


def build_route_classes(config: Config) -> tuple[tuple[RouteClass, ...], RouteClass]:
    """(classes matched by prefix, the default class), each with its parsed rates."""
    def rates(name: str) -> tuple[Rate, ...]:
        budget = config.budgets[name]
        out = []
        for level in LEVELS:
            item = parse_rate(getattr(budget, level), f"budgets.{name}.{level}")
            if item is not None:
                out.append(_rate(item, level))
        return tuple(out)

    classes = tuple(
        RouteClass(name, PathPrefixes(prefixes), rates(name),
                   ", ".join(p + "*" for p in prefixes))
        for name, prefixes in config.route_classes.items()
    )
    return classes, RouteClass("default", PathPrefixes(()), rates("default"), "all pages")


def route_class(path: str, classes: tuple[RouteClass, ...], default: RouteClass) -> RouteClass:
    for cls in classes:
        if cls.prefixes.matches(path):
            return cls
    return default


def retry_after(seconds: float) -> int:
    """Whole seconds, at least 1 (a 0 or negative Retry-After invites a retry storm)."""
    if seconds == math.inf or seconds != seconds:
        return 3600
    return max(1, math.ceil(seconds))
