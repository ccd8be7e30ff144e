"""The enumeration guard: budgets on how many *distinct* records an identity reads.

Per protected request it contributes two or three storage operations to the engine's single
batch (one :class:`~antiscrape.state.ops.DistinctAddAll` for every distinct counter, the walk
list, the miss counter) and judges their results; it never does I/O itself.

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
A clearance earned by an automated browser (see ``challenge.traits``) keeps the automation
budget: its personal budgets are the share of a person's that a headless browser's score gets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from operator import le
from typing import Any

from ..cache import BoundedCache
from ..challenge.tokens import is_automated
from ..config import Config, parse_window
from ..decision import Action, Identity
from ..keys import Keys
from ..request import RequestView
from ..signals import budget_factor
from ..state.ops import DistinctAddAll, Get, Incr, Op, Put, Recent
from .judgement import LEVEL_TEXT, Verdict, detect_walk, escalate, window_text
from .judgement import worst as strictest
from .matching import Access, RouteMatcher

alerts = logging.getLogger("antiscrape.alert")

LEVEL_ORDER = ("account", "clearance", "visitor", "ip", "fingerprint", "network")
MISS_WINDOW = 3_600
MISS_STATUSES = frozenset((404, 410))
"""Answers that say a record does not exist: what an id prober collects."""
DEPTH_WINDOW = 3_600
WALK_TTL = 3_600
WALK_PENALTY = 4
"""While a cleared client walks ids in order, its budgets count as a quarter."""
_CACHE_MAX = 16_384
"""Identities whose keys are kept ready: an IP-rotating crawler must not
grow the cache without bound, and an active visitor's keys come back on its next request."""


class _Counter:
    """One (level, window) distinct counter of one kind: key prefix and budget."""

    __slots__ = ("budget", "level", "prefix", "seconds", "window")

    def __init__(self, keys: Keys, kind: str, level: str, window: str, seconds: int,
                 budget: int) -> None:
        self.level = level
        self.window = window
        self.seconds = seconds
        self.budget = budget
        self.prefix = keys("en", kind, level[:2], window) + ":"


class _Layout:
    """The counters one kind needs for one combination of known identity levels, in the
    order their operations are sent, with their budgets side by side for the fast path."""

    __slots__ = ("budgets", "counters", "levels")

    def __init__(self, counters: list[tuple[str, _Counter]]) -> None:
        self.levels = tuple(level for level, _ in counters)
        self.counters = tuple(c for _, c in counters)
        self.budgets = tuple(c.budget for c in self.counters)


_NEVER = float("inf")


class _Bound:
    """One identity's ready-made keys for one kind, valid while no window enters a new time
    bucket: a protected read then only fills in the record and the clock."""

    __slots__ = ("counters", "layout", "since", "until", "walk_key")

    def __init__(self, layout: _Layout, counters: tuple[tuple[str, int, str], ...],
                 since: float, until: float, walk_key: str) -> None:
        self.layout = layout
        self.counters = counters
        """(current bucket's key, its expiry time, previous bucket's key) per counter: the
        ``counters`` of :class:`~antiscrape.state.ops.DistinctAddAll` as they are."""
        self.since = since
        self.until = until
        self.walk_key = walk_key


class _Who:
    """What the guard derives once per identity (hashed values, keys), cached."""

    __slots__ = ("bound", "convictions", "depth_key", "hashed", "mask", "miss_get",
                 "miss_key", "primary", "probe_level")

    def __init__(self, hashed: dict[str, str], primary: str, probe_level: str,
                 miss_key: str, depth_key: str, convictions: list[str],
                 automated: bool = False) -> None:
        self.hashed = hashed
        self.mask = (*(level in hashed for level in LEVEL_ORDER), automated)
        """The levels present, then whether the clearance is an automated one."""
        self.primary = primary
        """Hashed id of the walk level: the most personal one, fingerprint before IP."""
        self.probe_level = probe_level
        self.miss_key = miss_key
        self.miss_get = Get(miss_key)
        """Ops are values nobody changes: the same read serves every request."""
        self.depth_key = depth_key
        self.convictions = convictions
        self.bound: dict[str, _Bound] = {}


class EnumerationGuard:
    """Counts distinct records read per identity level and window; judges the counts."""

    def __init__(self, config: Config, keys: Keys) -> None:
        self.config = config
        self.settings = s = config.enumeration
        self.keys = keys
        self.matcher = RouteMatcher(config.protect, s.canaries)
        self._windows: dict[str, list[tuple[int, str, int]]] = {}
        self._layouts: dict[tuple[str, tuple[bool, ...]], _Layout] = {}
        self._walk_prefixes: dict[str, str] = {}
        self._identities: BoundedCache[
            tuple[str, str, str, str | None, str | None, str | None], _Who] = \
            BoundedCache(_CACHE_MAX)
        self._objects: BoundedCache[int, tuple[Identity, _Who]] = BoundedCache(_CACHE_MAX)
        """The same, by identity object: the engine keeps one Identity per client, so a
        returning client is found by ``id()`` without hashing five fields (the entry keeps
        the object, so its id cannot be reused while cached)."""
        self._spec_ids: BoundedCache[tuple[str | None, str | None, tuple[str, ...]],
                                     str | None] = BoundedCache(4_096)
        self._block_factor = s.block_factor
        self._automation_share = budget_factor(config.scoring.headless_browser,
                                               config.scoring.budget_floor)
        """An automated clearance's share of a person's budget: the request-budget share its
        score gives a headless browser (the engine scores such a clearance so)."""
        self._walk = s.walk_length
        self._max_stride = s.walk_max_stride
        self._max_page = s.max_page
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
                id_param = self._spec_id(spec, view.route, params)
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

    def _spec_id(self, spec: Any, route: str | None, params: Any) -> str | None:
        """A decorated route's id parameter: its last path parameter that is not the page
        (resolved once per route, not per request)."""
        # The answer depends on the parameter names (fixed per route) and the page parameter:
        # a key of plain strings hashes in C (a frozen dataclass hashes in Python).
        page_param = spec.page_param
        key = (page_param, route, ()) if route is not None else \
            (page_param, None, tuple(params))
        found = self._spec_ids.get(key, "")
        if found != "":
            return found
        names = list(params)
        id_param = names[-1]
        if id_param == page_param and len(names) > 1:
            id_param = names[-2]
        return self._spec_ids.put(key, id_param)

    # -- per-kind and per-identity preparation (cached) ---------------------------------------

    def _kind_windows(self, kind: str) -> list[tuple[int, str, int]]:
        windows = self._windows.get(kind)
        if windows is None:
            s = self.settings
            budget = s.budgets.get(kind, s.default_budget)
            windows = sorted((parse_window(w, w), w, n) for w, n in budget.items())
            self._windows[kind] = windows
        return windows

    def _layout(self, kind: str, who: _Who) -> _Layout:
        layout = self._layouts.get((kind, who.mask))
        if layout is not None:
            return layout
        s = self.settings
        windows = self._kind_windows(kind)
        counters: list[tuple[str, _Counter]] = []
        for level in LEVEL_ORDER:
            factor = s.levels.get(level, 1.0)
            if factor <= 0 or level not in who.hashed:
                continue
            if level == "clearance" and who.mask[-1]:
                factor *= self._automation_share
            if level == "ip" and "visitor" in who.hashed:
                continue  # the person is counted as itself; its address's budget is theirs
            wanted = s.level_windows.get(level)
            if wanted is not None and not any(name in wanted for _, name, _ in windows):
                wanted = None  # the kind's budget has none of them: count what it has
            counters += [(level, _Counter(self.keys, kind, level, name, seconds,
                                          max(1, round(n * factor))))
                         for seconds, name, n in windows if wanted is None or name in wanted]
        layout = _Layout(counters)
        self._layouts[(kind, who.mask)] = layout
        return layout

    def _bind(self, who: _Who, kind: str, now: float, old: _Bound | None = None) -> _Bound:
        """Build the identity's keys for the buckets ``now`` falls in (keys end with the
        bucket number, the Redis cluster hash-tag convention). From ``old``, the binding
        that just ran out, the counters still in their bucket are kept as they are: when a
        visitor's ten-minute window turns over, its day and week keys do not."""
        layout = self._layout(kind, who)
        kept = old.counters if old is not None and old.layout is layout else None
        hashed = who.hashed
        counters: list[tuple[str, int, str]] = []
        since = 0
        until = _NEVER
        for i, (level, c) in enumerate(zip(layout.levels, layout.counters, strict=True)):
            seconds = c.seconds
            bucket = int(now // seconds)
            start = bucket * seconds
            expires = start + 2 * seconds
            if kept is not None and kept[i][1] == expires:
                counters.append(kept[i])
            else:
                base = c.prefix + hashed[level]
                counters.append((f"{base}:{bucket}", expires, f"{base}:{bucket - 1}"))
            # valid while every window stays in its bucket
            if start > since:
                since = start
            if start + seconds < until:
                until = start + seconds
        walk_prefix = self._walk_prefixes.get(kind)
        if walk_prefix is None:
            walk_prefix = self._walk_prefixes[kind] = self.keys("en", kind, "walk") + ":"
        bound = _Bound(layout, tuple(counters), since, until, walk_prefix + who.primary)
        who.bound[kind] = bound
        return bound

    def _who(self, identity: Identity) -> _Who:
        """What the guard derives from an identity (see ``_derive_who``), cached."""
        found = self._objects.get(id(identity))
        if found is not None and found[0] is identity:
            return found[1]
        # a tuple hashes and compares in C, a dataclass does not
        key = (identity.ip, identity.network, identity.fingerprint, identity.account,
               identity.clearance, identity.visitor)
        who = self._identities.get(key)
        if who is None:
            who = self._identities.put(key, self._derive_who(identity))
        self._objects.put(id(identity), (identity, who))
        return who

    def _derive_who(self, identity: Identity) -> _Who:
        """Hashed value per level, the walk level (most personal, fingerprint before IP),
        conviction keys, and the probe level and its keys (misses, deep pages)."""
        h = self.keys.hashed
        hashed: dict[str, str] = {}
        for level in LEVEL_ORDER:
            value = getattr(identity, level)
            if value:
                hashed[level] = h(value)
        primary = next((hashed[lv] for lv in ("account", "clearance", "fingerprint")
                        if lv in hashed), hashed.get("ip", ""))
        # Misses and deep pages are counted once, on the most personal level that is not
        # shared by a whole browser build (an IP-rotating prober still spends distinct reads).
        probe = next(((lv, hashed[lv]) for lv in ("account", "clearance", "ip")
                      if lv in hashed), ("fingerprint", hashed.get("fingerprint", "")))
        probe_key = probe[0][:2] + ":" + probe[1]
        # Conviction keys cost another keyed hash: only built where canaries can convict.
        convictions = self._conviction_keys(identity, hashed) if self._convicts else []
        return _Who(hashed, primary, probe[0], self._miss_prefix + probe_key,
                    self._depth_prefix + probe_key, convictions,
                    identity.clearance is not None and is_automated(identity.clearance))

    def _conviction_keys(self, identity: Identity, hashed: dict[str, str]) -> list[str]:
        """IP, fingerprint within its network (and everywhere, when configured), clearance
        and account: what a canary read convicts and what every request then looks up."""
        h = self.keys.hashed
        cv = self._conviction_prefix
        convictions: list[str] = []
        if "ip" in hashed:
            convictions.append(cv + "ip:" + hashed["ip"])
        if identity.fingerprint:
            convictions.append(cv + "fpn:" + h(identity.fingerprint + "|" + identity.network))
            if self.settings.fingerprint_conviction_ttl > 0:
                convictions.append(cv + "fp:" + hashed["fingerprint"])
        for level in ("clearance", "visitor", "account"):
            if level in hashed:
                convictions.append(cv + level[:2] + ":" + hashed[level])
        return convictions

    # -- the engine's calls -------------------------------------------------------------------

    def ops(self, access: Access, identity: Identity, now: float) -> list[Op]:
        """The storage operations of one protected read (results go to :meth:`judge`).

        In order: one :class:`~antiscrape.state.ops.DistinctAddAll` for every (level, window)
        counter of the layout, the walk list (numeric ids only), the miss counter, the
        deep-page counter (deep pages only), then the convictions of a canary read.
        """
        who = self._who(identity)
        kind = access.kind
        bound = who.bound.get(kind)
        if bound is None or not bound.since <= now < bound.until:
            bound = self._bind(who, kind, now, bound)
        record_id = access.id
        page = access.page
        record = record_id if page is None or page <= 1 else f"{record_id}#{page}"
        # int(now): expiry - floor(now) == ceil(expiry - now), the new keys' time to live
        out: list[Op] = [DistinctAddAll(record, bound.counters, int(now))]
        walk = self._walks(access)
        if walk:
            out.append(Recent(bound.walk_key, record_id, self._walk, WALK_TTL))
        out.append(who.miss_get)
        if page is not None and page > self._max_page:
            out.append(Incr(who.depth_key, DEPTH_WINDOW))
        if access.canary:
            reason = self.canary_reason(access)
            out.extend(self.conviction_ops(access, identity, reason))
            alerts.warning("antiscrape alert: canary %s record read (route %s); convicted "
                           "ip=%s fingerprint=%s for %d s", access.kind, access.route,
                           who.hashed.get("ip", "-"), who.hashed.get("fingerprint", "-"),
                           self.settings.conviction_ttl)
        return out

    def judge(self, access: Access, identity: Identity, results: Sequence[Any], *,
              cleared: bool, people: tuple[int, int] = (1, 1)) -> Verdict | None:
        """Conclude from the results of exactly the ops :meth:`ops` returned.

        ``people``: how many people's budget the IP and the network get (see
        ``antiscrape.people``): an office's address reads for all of its people.
        """
        if access.canary:
            return Verdict(Action.BLOCK, self.canary_reason(access), "enumeration:canary")
        who = self._who(identity)  # what ops() derived: cached, found by the identity object
        bound = who.bound.get(access.kind)
        layout = bound.layout if bound is not None else self._layout(access.kind, who)
        walk = self._walks(access)
        counts = results[0]
        step = None
        if walk:
            recent = results[1]
            misses = results[2]
            if len(recent) >= self._walk and recent[1].isdecimal():
                # Random reading ends at the first step, checked here without a call.
                first = int(recent[0]) - int(recent[1])
                if first and -self._max_stride <= first <= self._max_stride:
                    step = detect_walk(recent, self._walk, self._max_stride)
        else:
            misses = results[1]
        page = access.page
        deep = results[3 if walk else 2] if page is not None and page > self._max_page \
            else None
        # Fast path (allowed traffic): every count within its budget, nothing else to say.
        if step is None and not misses and deep is None and \
                all(map(le, counts, layout.budgets)):
            return None
        penalty = WALK_PENALTY if step is not None else 1
        scale = {"ip": people[0], "network": people[1]}
        over = [(c, int(count), c.budget * scale.get(c.level, 1))
                for c, count in zip(layout.counters, counts, strict=True)
                if count * penalty > c.budget * scale.get(c.level, 1)]
        return self._conclude(access, over, step, _as_int(misses), deep, who.probe_level,
                              cleared)

    def _conclude(self, access: Access, over: list[tuple[_Counter, int, int]], step: int | None,
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
        for c, count, budget in over:
            ratio = count * penalty / budget
            action = escalate(ratio, c.level, cleared, block_factor)
            if action is None:
                continue
            budget_text = f"budget {budget}" if penalty == 1 else \
                f"budget {budget // penalty} while walking ids in order"
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
        who = self._who(identity)
        keys = who.convictions or self._conviction_keys(identity, who.hashed)
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
        return self._who(identity).convictions

    recorded_statuses = MISS_STATUSES
    """Response statuses :meth:`response_ops` counts; the engine skips the call for others."""

    def response_ops(self, access: Access, identity: Identity, status: int,
                     now: float) -> list[Op]:
        """A 404/410 on a protected route counts toward miss probing (account, clearance or
        IP: the most personal level known)."""
        if status not in MISS_STATUSES:
            return []
        return [Incr(self._who(identity).miss_key, MISS_WINDOW)]

    # -- helpers ------------------------------------------------------------------------------

    def _walks(self, access: Access) -> bool:
        """Whether this read's id joins the walk list (numeric ids only, when walks count)."""
        record_id = access.id
        return self._walk > 0 and record_id.isdigit() and record_id.isascii()

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
