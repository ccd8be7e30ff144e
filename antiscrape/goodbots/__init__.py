"""Good bots: tell the crawlers an operator wants (search engines) from clients that only say so.

``GoodBots(config).assess(ip, user_agent)`` answers on the hot path with dictionary look-ups:

* ``None`` when the user agent claims no catalogued bot (the common case, cached per UA);
* ``BotClaim(name, category, verified)`` otherwise, where ``verified`` is ``True`` when the IP
  lies in the vendor's published ranges or its forward-confirmed reverse DNS ends in the
  vendor's domain, ``False`` when the claim failed those checks, and ``None`` when nothing was
  checked yet (a background DNS lookup is pending) or the bot is not in ``good_bots.verify``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..cache import BoundedCache
from ..config import Config
from .catalog import ALL_BOTS, BOT_NAMES, CATEGORIES, BotSpec, UserAgentMatcher
from .ranges import Intervals, RangeData, load_ranges, shipped_path
from .rdns import ReverseDNSCache, matches_suffix, system_forward, system_ptr

__all__ = ["ALL_BOTS", "BOT_NAMES", "CATEGORIES", "BotClaim", "BotSpec", "GoodBots",
           "load_ranges", "shipped_path"]


@dataclass(frozen=True, slots=True)
class BotClaim:
    """What a request claims to be and whether the claim holds (None: not known yet)."""

    name: str
    category: str
    verified: bool | None


_CACHE_MAX = 20_000


class GoodBots:
    """Classifies claimed crawlers and verifies the claims, never blocking a request."""

    def __init__(self, config: Config | None = None, *,
                 bots: tuple[BotSpec, ...] = ALL_BOTS,
                 ranges: RangeData | None = None,
                 ptr: Callable[[str], str] = system_ptr,
                 forward: Callable[[str], list[str]] = system_forward,
                 offline: bool = False) -> None:
        """``offline`` (log replay): no DNS at all, and a claim the ranges do not confirm is
        unknown (None) rather than failed when the vendor verifies by reverse DNS, because
        an old log's crawler may have used addresses no longer in today's published lists."""
        settings = (config or Config.load({"debug": True})).good_bots
        self._offline = offline
        self._verify = frozenset(settings.verify)
        self._reverse_dns = settings.reverse_dns
        self._matcher = UserAgentMatcher(bots)
        data = ranges if ranges is not None else load_ranges(settings.ranges_file or None)
        self._tables: dict[str, Intervals] = data.tables()
        self._dns = ReverseDNSCache(ttl=settings.dns_cache_ttl, ptr=ptr, forward=forward)
        self._ua_cache: BoundedCache[str, BotSpec | None] = BoundedCache(_CACHE_MAX)
        self._verdicts: BoundedCache[tuple[str, str], bool] = BoundedCache(_CACHE_MAX)

    def claimed(self, user_agent: str) -> BotSpec | None:
        """The catalogued bot this user agent names, if any (cached; pure)."""
        try:
            return self._ua_cache[user_agent]
        except KeyError:
            pass
        return self._ua_cache.put(user_agent,
                                  self._matcher.match(user_agent) if user_agent else None)

    def assess(self, ip: str, user_agent: str) -> BotClaim | None:
        spec = self.claimed(user_agent)
        if spec is None:
            return None
        if spec.name not in self._verify:
            return BotClaim(spec.name, spec.category, None)
        return BotClaim(spec.name, spec.category, self._verified(spec, ip))

    def _verified(self, spec: BotSpec, ip: str) -> bool | None:
        key = (spec.name, ip)
        known = self._verdicts.get(key)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return self._remember(key, False)
        table = self._tables.get(spec.name)
        if table is not None and address in table:
            return self._remember(key, True)
        if self._offline and spec.rdns_suffixes:
            return None
        if not (self._reverse_dns and spec.rdns_suffixes):
            # Nothing else could confirm it: the vendor's ranges are the whole truth.
            return self._remember(key, False)
        hostname = self._dns.hostname(str(address))
        if hostname is None:
            return None  # looked up in the background; the next request reads the cache
        return matches_suffix(hostname, spec.rdns_suffixes)

    def _remember(self, key: tuple[str, str], verdict: bool) -> bool:
        return self._verdicts.put(key, verdict)

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for pending reverse-DNS lookups (tests and offline replay)."""
        self._dns.wait(timeout)

    def close(self) -> None:
        self._dns.close()


def default_ranges_path() -> Path:
    return shipped_path()
