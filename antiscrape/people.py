"""Budgets that follow people: visitors, anonymous reads and their pool, the site-wide guard.

Addresses and fingerprints are shared by many people and rotated freely by crawlers; a
person is what carries a person-sized budget. A request comes from a *person* when it has an
account, a clearance, or an *established* visitor (see :mod:`antiscrape.visitor`). A read of a
protected record by anything else is *anonymous*, and anonymous reads share a small pool:

- per network and per fingerprint, an hourly free allowance (a person arriving from a search
  engine reads a page or two); per kind and site-wide, a daily one. It does not grow with
  the traffic on its own: a crawler that drops every cookie would be the traffic it learned
  from. Past an allowance, an anonymous read needs a clearance;
- a site-wide guard per kind (see :class:`~antiscrape.state.ops.Pulse`): when anonymous reads
  of a kind, or new visitors, come much faster than usual, anonymous reads of that kind need
  a clearance from the first, and visitors minted since the guard began are not trusted yet;
- minting visitors is budgeted per IP, network and fingerprint: a client that drops its
  cookie comes back as a new visitor every time, and many new visitors from one place is
  evidence of rotation (risk points with a reason);
- the IP and network budgets are multiplied by the people seen behind them in the last hour
  (up to a cap): an office of fifty gets about fifty people's worth, one cookie jar one.

This module plans the storage operations of all of it for the engine's single batch and
judges their results; it never does I/O itself. What each worker learns from results (people
counts, the guard's state, the learned rates) it keeps in bounded dictionaries, so the next
request's plan can use it without another round trip; every worker learns the same numbers
from the shared storage.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from .cache import BoundedCache
from .challenge.tokens import Signer
from .config import Config
from .cookies import CookiePolicy
from .decision import Action, Identity
from .keys import Keys
from .request import RequestView
from .state.ops import DistinctAddAll, Get, Hit, Incr, Op, Pulse, PulseResult, Put
from .visitor import Visitor, VisitorCookies

log = logging.getLogger("antiscrape")

HOUR = 3_600
DAY = 86_400
PEOPLE_WINDOW = HOUR
"""People behind an address are counted over the last one to two hours (two buckets)."""
VISITORS_SERIES = "*visitors"
"""The guard's series of new visitors (site-wide); the others are per protected kind: its
anonymous reads (named as the kind) and its reads by young visitors (see ``young``)."""
_CACHE_MAX = 16_384
_SERIES_TTL = 30 * DAY

Verdict = tuple[Action, str, str, int | None]
"""(action, rule, reason, retry after) as the engine's conclusion collects them."""
Transition = Callable[[str, bool, PulseResult], None]
"""Called with (series, entered, result) when a request sees the guard enter or leave."""


class Asker(Protocol):
    """What :meth:`People.plan` reads of who asks. The engine derives all of it once per
    client (``Engine._client``) and keeps it, so a returning client's plan derives nothing."""

    identity: Identity
    person: str | None
    """:meth:`People.person_key` of the identity."""
    visitor: Visitor | None
    """The verified visitor cookie (None: none presented, or not valid)."""
    addresses: tuple[str, str]
    """The hashed IP and network (what people are counted behind)."""
    people: tuple[int, int]
    """:meth:`People.factors` of the addresses, as this request's budgets were sent with."""
    agent: str
    """:meth:`People.agent_key` of its User-Agent."""
    suspect: bool
    """Its own risk score already asks for a challenge."""


READERS: dict[str, tuple[str, str, str]] = {
    "anonymous": ("", "anonymous reads", "min_reads"),
    "young": (":young", "reads by visitors new today", "min_young_reads"),
    "visitor": (":visitors", "reads by visitors without a clearance", "min_visitor_reads"),
}
"""Who reads a protected kind without an account or a clearance, as the guard tells them
apart: reader -> (its series' suffix after the kind, what its reads are called, the
setting of its series' floor)."""


DAILY = "@day"
"""What ends the name of a series counted in days rather than in ``guard.bucket`` (see
``DAY_FLOORS``)."""
DAY_FLOORS: dict[str, str] = {"young": "min_young_reads_per_day"}
"""Readers whose reads are also counted by the day: reader -> the setting of that series'
floor (0: not counted by the day). A crawler that starts a new cookie jar every few dozen
reads and paces itself just under the ten-minute floor would read that floor 144 times a
day; bursts of people arriving together need the ten-minute floor's headroom, a whole
day's newcomers do not."""


def series_of(kind: str, reader: str, *, daily: bool = False) -> str:
    """The guard's series of ``kind``'s reads by ``reader`` (see ``READERS``), counted in
    ``guard.bucket`` or, ``daily``, by the day."""
    return kind + READERS[reader][0] + (DAILY if daily else "")


def reader_of(series: str) -> tuple[str, str]:
    """(kind, reader) of a kind's series: the inverse of :func:`series_of`."""
    series = series.removesuffix(DAILY)
    for reader, (suffix, *_) in READERS.items():
        if suffix and series.endswith(suffix):
            return series.removesuffix(suffix), reader
    return series, "anonymous"


SPREAD: tuple[tuple[str, str, str], ...] = (
    ("networks", "max_networks",
     "came from {} networks since yesterday (replayed through a proxy pool?)"),
    ("agents", "max_agents",
     "came with {} User-Agents since yesterday (a crawler rotating them?)"),
)
"""What a visitor's cookie is counted over besides its reads, today and yesterday together:
(name, the ``visitor`` setting of its line, the reason's words). A person's browser comes
from a few networks and with one User-Agent; a cookie jar replayed through a proxy pool, or
by a crawler rotating User-Agents, from a new one on every read."""

_AGENT_KEPT = 512
"""Characters of a User-Agent that tell it apart in the count of a visitor's User-Agents
(no browser sends more; a flood of long strings must not cost their length in memory)."""

class _Shape(NamedTuple):
    """How one of the guard's series is counted: derived from its name once (see
    :meth:`People._shape`)."""

    key: str
    """Its storage key."""
    bucket: int
    """Seconds per counting bucket: ``guard.bucket``, or a day for a daily series."""
    alpha: float
    """The weight of one complete bucket in its learned rate."""
    floor: int
    setting: str
    """The ``guard`` setting of its floor (what the log line tells ops to raise)."""
    learns_guarded: bool
    """Whether it learns while guarded (see :meth:`People._shape`)."""


_TALLY = 8
"""Reads by visitors without a clearance a worker counts before it sends them, per series
(one guard operation per eight such reads: a visitor's read, young or regular, stays one
budget cheaper; the guard hears of a rush at most eight reads per worker late, against
floors of hundreds)."""


def people_factor(count: int, cap: int) -> int:
    """How many people's budget an address gets: those seen behind it, at least 1, at most
    ``cap``."""
    return max(1, min(cap, count))


class Ticket:
    """What :meth:`People.plan` decided for one request, for :meth:`People.judge`.

    The class attributes are the defaults: a person's read that has nothing to count or
    learn sets two of them, not a dozen.
    """

    visitor: Visitor | None = None
    cookie: tuple[str, str] | None = None
    """The Set-Cookie header of a visitor minted on this request."""
    kind: str | None = None
    anonymous = False
    unproven = False
    """A protected read by a visitor without a clearance or an account: counted (in tallies)
    in the guard's rate of such reads, and held while that rate is guarded."""
    guarded = False
    """Some guard was on as last seen, so an anonymous or unproven read must be judged."""
    young = False
    """An unproven read by a young visitor (see ``VisitorSettings.young_for``): also counted
    in the guard's rate of its kind's reads by newcomers, held by that and by many new
    visitors as anonymous reads are."""
    cleared = False
    """Holds a clearance or an account (a canary cool-down does not apply)."""
    mint: tuple[int, int] | None = None
    """(index of the first mint-budget hit, how many) in this ticket's ops."""
    people: tuple[int, str, str] | None = None
    """(index of the people count, hashed ip, hashed network)."""
    pool: tuple[int, tuple[tuple[str, int], ...]] | None = None
    """(index of the first pool hit, (level, allowance) per hit)."""
    pulse: tuple[tuple[int, str], ...] = ()
    """(index, series) of each Pulse."""
    watch: int | None = None
    """Index of the two canary reads (fingerprint cool-down, network evidence)."""
    spread: tuple[tuple[int | None, ...], float] | None = None
    """(index of each ``SPREAD`` count of the visitor, None where not counted; until when a
    count over its line holds): see :meth:`People._spread_ops`."""
    replayed = False
    """An unproven read by a visitor whose cookie came from more networks or with more
    User-Agents than a browser's (see :meth:`People._spread_ops`): counted as young whatever
    its age."""
    n_ops = 0
    visitor_counts = False
    """The request counts as its (established) visitor."""

    @property
    def reader(self) -> str | None:
        """Who reads, for the guard (see ``READERS``); None: a person, or not a read."""
        if self.anonymous:
            return "anonymous"
        if self.unproven:
            return "young" if self.young else "visitor"
        return None

    @property
    def learns(self) -> bool:
        """Whether the results hold anything for :meth:`People.judge` (the usual person's
        read holds nothing: no call, no verdict)."""
        return bool(self.pulse or self.mint or self.people or self.watch is not None or
                    self.anonymous or self.guarded)


class People:
    """Plans and judges the person-level part of each request (see the module docstring)."""

    def __init__(self, config: Config, keys: Keys, signer: Signer, started: float,
                 policy: CookiePolicy, fingerprint: Callable[[Mapping[str, str]], str]
                 ) -> None:
        self.config = config
        self.visitors = config.visitor
        self.anon = config.anonymous
        self.guard = g = config.guard
        self.keys = keys
        self.cookies = VisitorCookies(config.visitor, signer) if config.visitor.enabled \
            else None
        self._started = started
        self._policy = policy
        self._fingerprint = fingerprint
        self._guarded = g.mode == "on"
        """Whether any series may be guarded (a quick test for the usual, calm case)."""
        self._verified: BoundedCache[str, Visitor | None] = BoundedCache(_CACHE_MAX)
        self._counts: BoundedCache[str, tuple[int, int]] = BoundedCache(_CACHE_MAX)
        """Hashed IP or network -> (people seen behind it as storage last answered, the
        budget multiplier that gives): the multiplier is read on every request."""
        self._added: BoundedCache[tuple[str, str, str, int], None] = BoundedCache(_CACHE_MAX)
        """(person, hashed ip, hashed User-Agent, bucket) this worker already counted
        (sketches ignore repeats: sending the adds again would only cost time)."""
        self._replayed: BoundedCache[str, float] = BoundedCache(_CACHE_MAX)
        """Visitor id -> until when it counts as seen from more than ``max_networks``
        networks or with more than ``max_agents`` User-Agents (as the shared counts last
        answered this worker)."""
        self._refused: BoundedCache[str, float] = BoundedCache(_CACHE_MAX)
        """Young visitor id -> until when its reads do not count in the guard's rate: it
        was refused (a tool stopped by its own budgets keeps knocking, and its knocks must
        not make the guard hold the people arriving after it)."""
        self._tallies: dict[str, int] = {}
        """Series -> reads by unproven visitors this worker has not sent yet (two entries
        per configured kind: its visitors' and its young visitors' reads)."""
        self._series: BoundedCache[str, PulseResult] = BoundedCache(_CACHE_MAX)
        """Series -> its last Pulse result: the guard's state and learned rate as last seen."""
        self.transitions: list[Transition] = []
        self._shapes: dict[str, _Shape] = {}
        """Series -> how it is counted (see ``_shape``)."""
        self.replays: list[Callable[[str], None]] = []
        """Called with "networks" or "agents" once per worker for each visitor found over
        ``max_networks`` or ``max_agents``."""
        self._counted_in: dict[tuple[str, str], tuple[str, ...]] = {}
        """(kind, reader) -> the series its reads count in: in buckets, and by the day
        where counted so."""
        self._people_prefix = keys("pp") + ":"
        self._spread_prefixes = tuple(keys("pp", name) + ":" for name, *_ in SPREAD)
        self._mint_prefix = keys("vn") + ":"
        self._pool_prefix = keys("an") + ":"
        self._pulse_prefix = keys("gd") + ":"
        self._cool_prefix = keys("cv", "cool") + ":"
        self._evidence_prefix = keys("cv", "ev") + ":"
        self._canaries = bool(config.enumeration.canaries)
        self._challenges = config.challenge.enabled

    # -- what is known between requests ----------------------------------------------------

    def visitor(self, raw: str | None, now: float) -> Visitor | None:
        """The visitor of a raw cookie (verified once per cookie value, cached)."""
        if raw is None or self.cookies is None:
            return None
        cached = self._verified.get(raw, False)
        if cached is not False and (cached is None or
                                    now < cached.issued + self.visitors.lifetime):
            return cached  # type: ignore[return-value]
        found = self.cookies.read(raw, now)
        if len(raw) <= 512:
            self._verified.put(raw, found)
        return found

    def guarded_since(self, kind: str, reader: str = "anonymous") -> float:
        """When the guard began, as last seen, for reads of ``kind`` by ``reader``
        ("anonymous", "young": a visitor new today, "visitor": one older; none with a
        clearance); 0.0: not guarded. Many new visitors guard anonymous and young readers;
        many reads by unproven visitors guard both kinds of visitor. Forced on, the guard
        has held since the engine started; forced off, never."""
        mode = self.guard.mode
        if mode == "off" or not self._guarded:
            return 0.0
        if mode == "on":
            return self._started
        if reader == "visitor":
            return self._since(*self._series_of(kind, reader))
        if reader == "young":
            return self._since(*self._series_of(kind, reader),
                               *self._series_of(kind, "visitor"), VISITORS_SERIES)
        return self._since(*self._series_of(kind, reader), VISITORS_SERIES)

    def _series_of(self, kind: str, reader: str) -> tuple[str, ...]:
        """The series that count ``kind``'s reads by ``reader``: in ``guard.bucket``, and by
        the day for a reader counted so (see ``DAY_FLOORS``; its floor not 0)."""
        found = self._counted_in.get((kind, reader))
        if found is None:
            found = (series_of(kind, reader),)
            day_floor = DAY_FLOORS.get(reader)
            if day_floor is not None and getattr(self.guard, day_floor):
                found += (series_of(kind, reader, daily=True),)
            self._counted_in[(kind, reader)] = found
        return found

    def _since(self, *names: str) -> float:
        """The earliest start of a guard among the series ``names`` (0.0: none guarded)."""
        found = [r.since for r in map(self._series.get, names) if r is not None and r.since]
        return min(found) if found else 0.0

    def state(self) -> dict[str, dict[str, float | bool]]:
        """Each series as last seen (for the status page and the CLI)."""
        return {name: {"guarded": bool(r.since), "since": r.since, "rate": r.rate,
                       "usual": r.baseline}
                for name, r in sorted(self._series.items())}

    def people_behind(self, hashed_address: str) -> int:
        return self._counts.get(hashed_address, (0, 1))[0]

    def factors(self, addresses: tuple[str, str]) -> tuple[int, int]:
        """The budget multipliers of a hashed (IP, network) pair."""
        counts = self._counts
        if not counts:
            return 1, 1
        return (counts.get(addresses[0], (0, 1))[1], counts.get(addresses[1], (0, 1))[1])

    # -- plan --------------------------------------------------------------------------------

    def person_key(self, identity: Identity) -> str | None:
        """Whom a client's requests count as, if it is a person: its account, else its
        clearance, else its visitor (which counts only once established, see :meth:`plan`).
        Derived once per client."""
        hashed = self.keys.hashed
        if identity.account:
            return "ac:" + hashed(identity.account)
        if identity.clearance:
            return "cl:" + hashed(identity.clearance)
        if identity.visitor:
            return "vi:" + hashed(identity.visitor)
        return None

    def agent_key(self, headers: Mapping[str, str]) -> str:
        """What a visitor's User-Agents are counted by (see ``SPREAD``): a keyed hash of the
        header's first ``_AGENT_KEPT`` characters, so the worker's markers stay small however
        long the strings a flood sends. Derived once per client."""
        return self.keys.hashed(headers.get("user-agent", "")[:_AGENT_KEPT])

    def plan(self, asker: Asker, kind: str | None, view: RequestView, now: float,
             start: int) -> tuple[Ticket, list[Op]]:
        """The ops of one request (to be sent at batch index ``start``) and its ticket.

        ``kind`` is the protected kind read (None: not a protected read). Without a visitor
        cookie, one is minted if visitors are on. The reads of a suspect or recently refused
        young visitor are not counted in the rate of young visitors' reads: that rate stands
        for people arriving, and tools already stopped would otherwise make the guard hold
        the people arriving after them.
        """
        t = Ticket()
        ops: list[Op] = []
        hashed = self.keys.hashed
        identity, person, visitor = asker.identity, asker.person, asker.visitor
        ip, net = asker.addresses
        fp = identity.fingerprint
        cookies = self.cookies
        if visitor is None and cookies is not None:
            visitor, value = cookies.mint(now)
            t.cookie = cookies.set_cookie(value, self._policy.secure(view))
            fp = fp or self._fingerprint(view.headers)
            v = self.visitors
            mp = self._mint_prefix
            t.mint = (start, 3)
            ops += (Hit(mp + "ip:" + ip, HOUR, v.new_per_ip),
                    Hit(mp + "net:" + net, HOUR, v.new_per_network),
                    Hit(mp + "fp:" + hashed(fp), HOUR, v.new_per_fingerprint))
            t.pulse = ((start + len(ops), VISITORS_SERIES),)
            ops.append(self._pulse(VISITORS_SERIES, 1))
        if visitor is not None:
            t.visitor = visitor
            t.visitor_counts = not visitor.new and self._established(visitor, kind, now)
        if identity.clearance or identity.account:
            t.cleared = True
        elif not t.visitor_counts:
            person = None  # anonymous
        if person is not None:
            bucket = int(now // PEOPLE_WINDOW)
            marker = (person, ip, asker.agent, bucket)
            if marker not in self._added:
                self._added.put(marker, None)
                t.people = (start + len(ops), ip, net)
                pp = self._people_prefix
                expires = (bucket + 2) * PEOPLE_WINDOW
                ops.append(DistinctAddAll(person, (
                    (f"{pp}ip:{ip}:{bucket}", expires, f"{pp}ip:{ip}:{bucket - 1}"),
                    (f"{pp}net:{net}:{bucket}", expires, f"{pp}net:{net}:{bucket - 1}"),
                ), int(now)))
                if not t.cleared:  # the person is a visitor
                    ops += self._spread_ops(t, start + len(ops), person, net,
                                            asker.agent, now)
        if kind is not None:
            t.kind = kind
            fp = fp or self._fingerprint(view.headers)
            if person is None:
                t.anonymous = True
                a = self.anon
                allowances = (("network", a.network * asker.people[1]),
                              ("fingerprint", a.fingerprint), ("site", a.site))
                # While guarded the guard decides, and the pool is only read (cost 0): reads
                # it refuses must not use up what people arriving after the attack need.
                cost = 0 if self.guarded_since(kind) else 1
                pre = f"{self._pool_prefix}{kind}:"
                t.pool = (start + len(ops), allowances)
                ops += (Hit(pre + "net:" + net, HOUR, allowances[0][1], cost),
                        Hit(pre + "fp:" + hashed(fp), HOUR, allowances[1][1], cost),
                        Hit(pre + "site", DAY, allowances[2][1], cost))
            elif not t.cleared and visitor is not None:  # a cookie is all it has shown
                t.unproven = True
                t.guarded = self._guarded
                # a cookie replayed through a proxy pool or by a crawler rotating its
                # User-Agent is no older than the day it was caught: it is held with the
                # newcomers, as a fresh jar would be
                t.replayed = self._replayed.get(visitor.id, 0.0) > now
                t.young = t.replayed or now - visitor.issued < self.visitors.young_for
                if not (asker.suspect or self._refused.get(visitor.id, 0.0) > now):
                    for reader in ("visitor", "young") if t.young else ("visitor",):
                        for series in self._series_of(kind, reader):
                            ops += self._tallied(t, start + len(ops), series)
            if t.anonymous:  # people's reads need only its state
                t.pulse = (*t.pulse, (start + len(ops), kind))
                ops.append(self._pulse(kind, 1))
            if self._canaries:
                t.watch = start + len(ops)
                ops += (Get(self._cool_prefix + hashed(fp)), Get(self._evidence_prefix + net))
        if ops:
            t.n_ops = len(ops)
        return t, ops

    def _spread_ops(self, t: Ticket, index: int, person: str, net: str, agent: str,
                    now: float) -> list[Op]:
        """Count the (hashed) network a visitor came from and the (hashed) User-Agent it
        came with, today and yesterday together (see ``SPREAD``; to run from batch
        ``index``, noted in the ticket).

        Sent with the people count, so once per visitor, address, User-Agent and hour on
        each worker: a person's browser costs one such pair an hour, a cookie jar replayed
        through a proxy pool or by a crawler that rotates User-Agents one on every request,
        which is what gives it away."""
        day = int(now // DAY)
        until = (day + 2) * DAY  # a count over the line today still shows tomorrow
        ops: list[Op] = []
        at: list[int | None] = []
        for (_, setting, _), prefix, member in zip(SPREAD, self._spread_prefixes,
                                                    (net, agent), strict=True):
            if not getattr(self.visitors, setting):
                at.append(None)
                continue
            at.append(index + len(ops))
            key = f"{prefix}{person}:"
            ops.append(DistinctAddAll(member, ((f"{key}{day}", until, f"{key}{day - 1}"),),
                                      int(now)))
        t.spread = (tuple(at), float(until))
        return ops

    def refused(self, ticket: Ticket, now: float) -> None:
        """A read was refused: if by an unproven visitor, its reads stop counting in the
        guard's rates for a bucket (see :meth:`plan`)."""
        if ticket.unproven and ticket.visitor is not None:
            self._refused.put(ticket.visitor.id, now + self.guard.bucket)

    def _tallied(self, t: Ticket, index: int, series: str) -> tuple[Op, ...]:
        """Count one unproven visitor's read in ``series``; every ``_TALLY`` reads, the Pulse
        that sends them (to run at batch ``index``, noted in the ticket), else nothing.
        Threads may lose a count now and then: a rate, not a ledger."""
        tallies = self._tallies
        count = tallies.get(series, 0) + 1
        if count < _TALLY:
            tallies[series] = count
            return ()
        tallies[series] = 0
        t.pulse = (*t.pulse, (index, series))
        return (self._pulse(series, count),)

    def _established(self, visitor: Visitor, kind: str | None, now: float) -> bool:
        """Came back, old enough, and (on a protected read) not minted since the guard for
        that kind began: a crawler cannot mint its way past the guard."""
        if not visitor.established(now, self.visitors.established_after):
            return False
        if kind is not None and self._guarded:
            since = self._started if self.guard.mode == "on" else \
                self._since(*(name for reader in READERS
                              for name in self._series_of(kind, reader)), VISITORS_SERIES)
            # issue times are whole seconds: one minted in the second the guard began counts
            # as minted since (else a jar fetched in that second would pass as a person)
            if since and visitor.issued >= int(since):
                return False
        return True

    def _pulse(self, series: str, amount: int) -> Pulse:
        g = self.guard
        shape = self._shapes.get(series) or self._shape(series)
        return Pulse(shape.key, amount, shape.bucket, shape.alpha, g.factor, g.leave_factor,
                     float(shape.floor), g.cooldown, _SERIES_TTL, shape.learns_guarded)

    def _shape(self, series: str) -> _Shape:
        """How ``series`` is counted, derived from its name (and kept): a daily series in
        days, with the daily weight and floor; the new visitors' series, an anonymous
        kind's, a reader's, each with its floor's setting.

        It learns while guarded when what its guard holds is only monitored (``monitor``,
        or its ``guard:<kind>`` rule in ``monitor_rules``; the new visitors' series holds
        every kind's readers, so only ``guard`` itself): a monitor week then teaches a busy
        site its usual rates. Enforced, it must not: an attack would teach the site that
        attacks are normal."""
        g = self.guard
        kind, reader = reader_of(series)
        daily = series.endswith(DAILY)
        if series == VISITORS_SERIES:
            setting, rule = "min_new_visitors", "guard"
        else:
            setting = DAY_FLOORS[reader] if daily else READERS[reader][2]
            rule = "guard:" + kind
        shape = self._shapes[series] = _Shape(
            self._pulse_prefix + series, DAY if daily else g.bucket,
            g.day_alpha if daily else g.alpha, getattr(g, setting), setting,
            self.config.is_monitored(rule))
        return shape

    # -- judge -------------------------------------------------------------------------------

    def judge(self, t: Ticket, results: Sequence[Any], *, html: bool
              ) -> tuple[list[Verdict], int, tuple[str, ...]]:
        """Verdicts, risk points and reasons from the results of a ticket's ops; called for
        a ticket that :attr:`~Ticket.learns` (any other holds nothing to judge).

        ``html``: the client wants a page (a browser), which is challenged; other clients are
        told to sign in or retry later.
        """
        verdicts: list[Verdict] = []
        points = 0
        reasons: tuple[str, ...] = ()
        for index, series in t.pulse:
            self._learn(series, results[index])
        if t.mint is not None:
            first, n = t.mint
            v = self.visitors
            for (level, budget), hit in zip((("IP", v.new_per_ip),
                                             ("network", v.new_per_network),
                                             ("browser fingerprint", v.new_per_fingerprint)),
                                            results[first:first + n], strict=True):
                if not hit.counted:
                    points = v.rotation_score
                    reasons = (f"more than {budget} new visitors from this {level} in 1 h "
                               "(cookies dropped or rotated)",)
                    break
        if t.people is not None:
            index, ip, net = t.people
            ip_count, net_count = results[index]
            cap = self.visitors.people_cap
            self._counts.put(ip, (ip_count, people_factor(ip_count, cap)))
            self._counts.put(net, (net_count, people_factor(net_count, cap)))
        if t.spread is not None and t.visitor is not None:
            why = self._judge_spread(t.visitor.id, t.spread, results)
            if why:
                points = max(points, self.visitors.rotation_score)
                reasons = (*reasons, *why)
        if t.watch is not None and t.kind is not None:
            cooled, evidence = results[t.watch], results[t.watch + 1]
            if evidence:
                points += self.visitors.rotation_score
                reasons = (*reasons, "a canary record was read from this network")
            if cooled and not t.cleared:
                verdicts.append(self._need(
                    html, "canary:fingerprint",
                    "this browser fingerprint read a canary record recently: a clearance "
                    "is needed", self.config.enumeration.canary_cooldown))
        reader = t.reader
        if t.kind is not None and reader is not None:
            kind = t.kind
            since = self.guarded_since(kind, reader)
            if since:
                # the reader's own series that holds it (else the one in buckets: another
                # series holds it, the new visitors' or the regulars')
                own = self._series_of(kind, reader)
                shown = next((name for name in own
                              if (r := self._series.get(name)) is not None and r.since),
                             own[0])
                known = self._series.get(shown)
                usual = f", usually {known.baseline:.1f}" if known is not None else ""
                per = "day" if shown.endswith(DAILY) else f"{self.guard.bucket} s"
                who = READERS[reader][1]
                why = ("; this visitor's cookie came from more networks or with more "
                       "User-Agents since yesterday than a browser's, so it counts as new "
                       "today") if t.replayed else ""
                verdicts.append(self._need(
                    html, f"guard:{kind}",
                    f"site guarded for {kind} reads since {int(since)} ({who} need a "
                    f"clearance{usual} per {per}{why})",
                    self.guard.cooldown))
            elif t.pool is not None:
                first, allowances = t.pool
                for (level, allowance), hit in zip(allowances, results[first:first + 3],
                                                   strict=True):
                    if not hit.counted or hit.count + 1 > allowance:
                        per = "day" if level == "site" else "hour"
                        where = "site-wide" if level == "site" else f"from this {level}"
                        verdicts.append(self._need(
                            html, f"anonymous:{level}",
                            f"anonymous {kind} reads {where} over the free allowance "
                            f"({allowance} per {per}): sign in, or solve the challenge",
                            max(1, math.ceil(hit.reset))))
                        break
        return verdicts, points, reasons

    def _judge_spread(self, visitor_id: str, spread: tuple[tuple[int | None, ...], float],
                      results: Sequence[Any]) -> tuple[str, ...]:
        """Read the visitor's ``SPREAD`` counts: one over its line makes the visitor young
        until ``until`` (noted, and reported once per worker), and says why in a reason
        each time it is over."""
        indexes, until = spread
        why: list[str] = []
        for (name, setting, words), at in zip(SPREAD, indexes, strict=True):
            if at is None or results[at][0] <= getattr(self.visitors, setting):
                continue
            why.append(f"this visitor's cookie {words.format(results[at][0])}: counted as "
                       "new today")
            if self._replayed.get(visitor_id) != until:  # found just now
                self._replayed.put(visitor_id, until)
                for observer in self.replays:
                    observer(name)
        return tuple(why)

    def _need(self, html: bool, rule: str, reason: str, retry: int) -> Verdict:
        """A read that needs a clearance: a browser is challenged, an API client throttled
        with a Retry-After (it should sign in, or come back later)."""
        if html and self._challenges:
            return (Action.CHALLENGE, rule, reason, None)
        return (Action.THROTTLE, rule, reason + " later", retry)

    def _learn(self, series: str, result: PulseResult) -> None:
        self._series.put(series, result)
        if self.guard.mode == "auto":
            self._guarded = any(r.since for r in self._series.values()) \
                if result.since or result.changed else self._guarded
        if result.changed:
            entered = result.changed > 0
            kind, reader = reader_of(series)
            daily = series.endswith(DAILY)
            shape = self._shapes.get(series) or self._shape(series)
            if series == VISITORS_SERIES:
                name, held = "new visitors", "anonymous reads and visitors new today"
            elif reader == "anonymous":
                name, held = f"anonymous {kind} reads", "anonymous protected reads"
            else:
                name = f"{kind} {READERS[reader][1]}" + (" (by the day)" if daily else "")
                held = "such reads"
            if entered:
                # Nothing learned yet: only the floor stood in the way, and a guarded series
                # does not learn. Say so, or a busy site stays guarded without knowing why.
                hint = "" if result.baseline else (
                    "; no usual rate learned yet: monitored, it learns this traffic as the "
                    "usual" if shape.learns_guarded else
                    f"; no usual rate learned yet: if this is the site's ordinary traffic, "
                    f"raise guard.{shape.setting} above it, or learn it in a monitor week")
                log.warning("antiscrape: site guard ON for %s: %.0f in the last %d s, usually "
                            "%.1f (%s now need a clearance%s)", name, result.rate,
                            shape.bucket, result.baseline, held, hint)
            else:
                log.warning("antiscrape: site guard OFF for %s: calm for %d s", name,
                            self.guard.cooldown)
            for observer in self.transitions:
                observer(series, entered, result)

    # -- canaries ----------------------------------------------------------------------------

    def canary_ops(self, identity: Identity, ticket: Ticket, reason: str) -> list[Op]:
        """What a canary read adds to the enumeration guard's convictions (IP, fingerprint in
        its network, clearance, account, established visitor): a visitor minted on this very
        read, a cool-down of the fingerprint on every network (its requests then need a
        clearance), and evidence on the network (risk points for a while)."""
        hashed = self.keys.hashed
        s = self.config.enumeration
        ops: list[Op] = []
        visitor = ticket.visitor
        if visitor is not None and identity.visitor != visitor.id:
            ops.append(Put(self.keys("cv", "vi", hashed(visitor.id)), reason,
                           s.conviction_ttl))
        if identity.fingerprint:
            ops.append(Put(self._cool_prefix + hashed(identity.fingerprint), "1",
                           s.canary_cooldown))
        ops.append(Incr(self._evidence_prefix + hashed(identity.network), s.canary_cooldown))
        return ops
