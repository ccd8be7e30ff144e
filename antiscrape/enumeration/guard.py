"""The enumeration guard: budgets on how many *distinct* records an identity reads.

Per protected request it contributes a handful of storage operations to the engine's single
batch and judges their results; it never does I/O itself.

Counting scheme (shared by the memory and Redis backends)
---------------------------------------------------------
For a window of ``W`` seconds, records are added to a sketch for the current bucket
``floor(now / W)`` and counted together with the previous bucket (``PFADD`` + ``PFCOUNT cur
prev`` on Redis). The count therefore covers at least the last ``W`` and at most ``2 W``
seconds: nobody reads more than the budget in *any* window of ``W``, and a person's count
is at most the reads of two windows. Re-reading a record is free. Keys end with the bucket
number (the Redis cluster hash-tag convention).

Levels
------
account and clearance are personal; ip, fingerprint and network are shared, each with a budget
multiplier (``enumeration.levels``) and only the windows that matter for it
(``enumeration.level_windows``). The fingerprint level is what makes IP rotation pointless: a
crawler that keeps its browser fingerprint across many networks is counted as one. Because a
popular browser build is also shared by many real people, that level gets a larger budget (8x
by default) and, like every shared level, only *challenges*; a person then counts on their
own clearance. A crawler that keeps solving challenges is held by the clearance budget, and
one that drops its clearance to start afresh pays a new proof of work every 250 records.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from ..config import Config, parse_window
from ..decision import Action, Identity
from ..keys import Keys
from ..request import RequestView
from ..state.ops import DistinctAdd, Get, Incr, Op, Put, Recent
from .judgement import LEVEL_TEXT, Verdict, detect_walk, escalate, window_text
from .judgement import worst as strictest
from .matching import Access, RouteMatcher

alerts = logging.getLogger("antiscrape.alert")

LEVEL_ORDER = ("account", "clearance", "ip", "fingerprint", "network")
MISS_WINDOW = 3_600
DEPTH_WINDOW = 3_600
WALK_TTL = 3_600
WALK_PENALTY = 4
"""While a cleared client walks ids in order, its budgets count as a quarter."""
_CACHE_MAX = 65_536


class _Counter:
    """One (level, window) distinct counter of one kind: key prefix, budget, and the current
    bucket's key suffixes (recomputed only when the clock enters a new bucket)."""

    __slots__ = ("budget", "level", "prefix", "seconds", "state", "window")

    def __init__(self, keys: Keys, kind: str, level: str, window: str, seconds: int,
                 budget: int) -> None:
        self.level = level
        self.window = window
        self.seconds = seconds
        self.budget = budget
        self.prefix = keys("en", kind, level[:2], window) + ":"
        self.state: tuple[float, float, str, str] = (0.0, 0.0, "", "")
        """(bucket start, bucket end + one window, current suffix, previous suffix): one
        tuple, replaced whole, so threads never see half of a roll-over."""

    def current(self, now: float) -> tuple[float, float, str, str]:
        state = self.state
        if state[0] <= now < state[1] - self.seconds:
            return state
        bucket = int(now // self.seconds)
        state = (bucket * self.seconds, (bucket + 2) * self.seconds, f":{bucket}",
                 f":{bucket - 1}")
        self.state = state
        return state


class _KindPlan:
    """The counters of one kind, grouped by level in :data:`LEVEL_ORDER`."""

    __slots__ = ("kind", "levels", "walk_prefix")

    def __init__(self, kind: str, levels: list[tuple[str, list[_Counter]]], walk_prefix: str):
        self.kind = kind
        self.levels = levels
        self.walk_prefix = walk_prefix


class EnumerationGuard:
    """Counts distinct records read per identity level and window; judges the counts."""

    def __init__(self, config: Config, keys: Keys) -> None:
        self.config = config
        self.settings = s = config.enumeration
        self.keys = keys
        self.matcher = RouteMatcher(config.protect, s.canaries)
        self._plans: dict[str, _KindPlan] = {}
        self._identity_cache: dict[Identity, tuple[dict[str, str], tuple[str, str],
                                                   list[str], str, str]] = {}
        self._block_factor = s.block_factor
        self._walk = s.walk_length
        self._miss_prefix = keys("en", "miss") + ":"
        self._depth_prefix = keys("en", "deep") + ":"
        self._conviction_prefix = keys("cv") + ":"
        self._has_rules = bool(config.protect)
        self._convicts = bool(s.canaries)
        """Only canaries convict: without them there is nothing to look up per request."""

    # -- matching -----------------------------------------------------------------------------

    def match(self, view: RequestView) -> Access | None:
        """Which protected kind/id/page this request reads, or None."""
        matcher = self.matcher
        spec = view.protect
        if spec is not None:
            params = view.path_params
            id_param = spec.id_param
            if id_param is None and params:
                id_param = list(params)[-1]
                if id_param == spec.page_param and len(params) > 1:
                    id_param = list(params)[-2]
            return matcher.access(spec.kind, id_param, spec.page_param, params, view.query,
                                  view.route or view.path)
        if view.route is not None:
            compiled = matcher.by_route(view.route)
            if compiled is not None:
                params = view.path_params
                if not params:
                    found = matcher.by_path(view.path)
                    params = found[1] if found is not None else params
                return matcher.from_compiled(compiled, params, view.query)
        if not self._has_rules:
            return None
        found = matcher.by_path(view.path)
        if found is None:
            return None
        return matcher.from_compiled(found[0], found[1], view.query)

    # -- per-kind and per-identity preparation (cached) ---------------------------------------

    def _plan(self, kind: str) -> _KindPlan:
        plan = self._plans.get(kind)
        if plan is not None:
            return plan
        s = self.settings
        budget = s.budgets.get(kind, s.default_budget)
        windows = sorted(((parse_window(w, w), w, n) for w, n in budget.items()))
        levels: list[tuple[str, list[_Counter]]] = []
        for level in LEVEL_ORDER:
            factor = s.levels.get(level, 1.0)
            if factor <= 0:
                continue
            wanted = s.level_windows.get(level)
            if wanted is not None and not any(name in wanted for _, name, _ in windows):
                wanted = None  # the kind's budget has none of them: count what it has
            counters = [_Counter(self.keys, kind, level, name, seconds,
                                 max(1, round(n * factor)))
                        for seconds, name, n in windows if wanted is None or name in wanted]
            if counters:
                levels.append((level, counters))
        plan = _KindPlan(kind, levels, self.keys("en", kind, "walk") + ":")
        self._plans[kind] = plan
        return plan

    def _who(self, identity: Identity) -> tuple[dict[str, str], tuple[str, str], list[str],
                                                str, str]:
        """Hashed value per level, the walk level (most personal, fingerprint before IP),
        conviction keys, and the probe level and key suffix (misses, deep pages)."""
        cached = self._identity_cache.get(identity)
        if cached is not None:
            return cached
        h = self.keys.hashed
        hashed: dict[str, str] = {}
        for level in LEVEL_ORDER:
            value = getattr(identity, level)
            if value:
                hashed[level] = h(value)
        primary = next(((lv, hashed[lv]) for lv in ("account", "clearance", "fingerprint")
                        if lv in hashed), ("ip", hashed.get("ip", "")))
        # Misses and deep pages are counted once, on the most personal level that is not
        # shared by a whole browser build (an IP-rotating prober still spends distinct reads).
        probe = next(((lv, hashed[lv]) for lv in ("account", "clearance", "ip")
                      if lv in hashed), ("fingerprint", hashed.get("fingerprint", "")))
        probe_key = probe[0][:2] + ":" + probe[1]
        cv = self._conviction_prefix
        convictions: list[str] = []
        if "ip" in hashed:
            convictions.append(cv + "ip:" + hashed["ip"])
        if identity.fingerprint:
            convictions.append(cv + "fpn:" + h(identity.fingerprint + "|" + identity.network))
            if self.settings.fingerprint_conviction_ttl > 0:
                convictions.append(cv + "fp:" + hashed["fingerprint"])
        for level in ("clearance", "account"):
            if level in hashed:
                convictions.append(cv + level[:2] + ":" + hashed[level])
        cached = (hashed, primary, convictions, probe[0], probe_key)
        if len(self._identity_cache) >= _CACHE_MAX:
            self._identity_cache.clear()
        self._identity_cache[identity] = cached
        return cached

    def _walks(self, access: Access) -> bool:
        return self._walk > 0 and access.id.isascii() and access.id.isdigit()

    def _deep(self, access: Access) -> bool:
        return access.page is not None and access.page > self.settings.max_page

    # -- the engine's calls -------------------------------------------------------------------

    def ops(self, access: Access, identity: Identity, now: float) -> list[Op]:
        """The storage operations of one protected read (results go to :meth:`judge`)."""
        plan = self._plan(access.kind)
        hashed, primary, _, _, probe_key = self._who(identity)
        record = access.record
        out: list[Op] = []
        for level, counters in plan.levels:
            who = hashed.get(level)
            if who is None:
                continue
            for c in counters:
                _, end, cur, prev = c.current(now)
                base = c.prefix + who
                out.append(DistinctAdd(base + cur, record, math.ceil(end - now),
                                       (base + prev,)))
        if self._walks(access):
            out.append(Recent(plan.walk_prefix + primary[1], access.id, self._walk, WALK_TTL))
        out.append(Get(self._miss_prefix + probe_key))
        if self._deep(access):
            out.append(Incr(self._depth_prefix + probe_key, DEPTH_WINDOW))
        if access.canary:
            reason = self.canary_reason(access)
            out.extend(self.conviction_ops(access, identity, reason))
            alerts.warning("antiscrape alert: canary %s record read (route %s); convicted "
                           "ip=%s fingerprint=%s for %d s", access.kind, access.route,
                           hashed.get("ip", "-"), hashed.get("fingerprint", "-"),
                           self.settings.conviction_ttl)
        return out

    def judge(self, access: Access, identity: Identity, results: Sequence[Any], *,
              cleared: bool) -> Verdict | None:
        """Conclude from the results of exactly the ops :meth:`ops` returned."""
        if access.canary:
            return Verdict(Action.BLOCK, self.canary_reason(access), "enumeration:canary")
        plan = self._plan(access.kind)
        hashed, _, _, probe_level, _ = self._who(identity)
        # Fast path first (allowed traffic): which counters are over budget, if any.
        over: list[tuple[_Counter, int]] = []
        idx = 0
        for level, counters in plan.levels:
            if level not in hashed:
                continue
            for c in counters:
                count = results[idx]
                idx += 1
                if count * WALK_PENALTY > c.budget:  # over, or over while walking
                    over.append((c, int(count)))
        step = None
        if self._walks(access):
            recent = results[idx]
            idx += 1
            if recent:
                step = detect_walk(recent, self._walk, self.settings.walk_max_stride)
        misses = results[idx]
        idx += 1
        deep = results[idx] if self._deep(access) else None
        if not over and step is None and not misses and deep is None:
            return None
        return self._conclude(access, over, step, _as_int(misses), deep, probe_level, cleared)

    def _conclude(self, access: Access, over: list[tuple[_Counter, int]], step: int | None,
                  misses: int, deep: Any, probe_level: str, cleared: bool) -> Verdict | None:
        s = self.settings
        kind = access.kind
        block_factor = self._block_factor
        found: list[tuple[float, Verdict]] = []
        if step is not None and not cleared:
            order = "ascending" if step > 0 else "descending"
            found.append((float(self._walk), Verdict(
                Action.CHALLENGE,
                f"walked {self._walk} {kind} ids in {order} order (step {abs(step)})",
                "enumeration:walk")))
        penalty = WALK_PENALTY if step is not None else 1
        for c, count in over:
            ratio = count * penalty / c.budget
            action = escalate(ratio, c.level, cleared, block_factor)
            if action is None:
                continue
            budget_text = f"budget {c.budget}" if penalty == 1 else \
                f"budget {c.budget // penalty} while walking ids in order"
            found.append((ratio, Verdict(
                action,
                f"read {count} distinct {kind} records in {window_text(c.seconds)} "
                f"({budget_text} per {LEVEL_TEXT[c.level]})",
                f"enumeration:distinct:{c.level}",
                self._retry(c.seconds, action))))
        if misses:
            budget = max(1, round(s.miss_budget * (s.levels.get(probe_level, 1.0) or 1.0)))
            # ``misses`` were answered before this request: at the budget, this one is over.
            ratio = (misses + 1) / budget
            action = escalate(ratio, probe_level, cleared, block_factor)
            if action is not None:
                found.append((ratio, Verdict(
                    action, f"{misses} not-found answers on protected routes in 1 h "
                            f"(budget {budget} per {LEVEL_TEXT[probe_level]})",
                    "enumeration:misses", self._retry(MISS_WINDOW, action))))
        if deep is not None:
            count = _as_int(deep)
            ratio = count / s.deep_page_budget
            action = escalate(ratio, probe_level, cleared, block_factor)
            if action is not None:
                found.append((ratio, Verdict(
                    action, f"read {count} {kind} pages beyond page {s.max_page} in 1 h "
                            f"(budget {s.deep_page_budget})",
                    "enumeration:depth", self._retry(DEPTH_WINDOW, action))))
        return strictest(found)

    def conviction_ops(self, access: Access, identity: Identity, reason: str) -> list[Op]:
        """Puts that convict the identity, its fingerprint and its clearance."""
        keys = self._who(identity)[2]
        s = self.settings
        value = reason or "convicted of harvesting"
        out: list[Op] = []
        for key in keys:
            ttl = s.fingerprint_conviction_ttl if ":fp:" in key else s.conviction_ttl
            out.append(Put(key, value, ttl))
        return out

    def conviction_keys(self, identity: Identity) -> list[str]:
        """Keys the engine reads on every request; a stored value is the conviction reason."""
        if not self._convicts:
            return []
        return self._who(identity)[2]

    def response_ops(self, access: Access, identity: Identity, status: int,
                     now: float) -> list[Op]:
        """A 404/410 on a protected route counts toward miss probing (account, clearance or
        IP: the most personal level known)."""
        if status != 404 and status != 410:
            return []
        return [Incr(self._miss_prefix + self._who(identity)[4], MISS_WINDOW)]

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def canary_reason(access: Access) -> str:
        return f"read a canary {access.kind} record (a tripwire no page links to)"

    @staticmethod
    def _retry(seconds: int, action: Action) -> int | None:
        """Seconds to wait: one window, by when the older of the two counted buckets has
        dropped out (an upper bound; judging is pure and does not read the clock)."""
        if action is Action.CHALLENGE:
            return None
        return max(1, seconds)


def _as_int(value: Any) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
