"""The engine: one decision path for every framework, sync or async.

``inspect`` (and ``ainspect``) turn a :class:`RequestView` into a :class:`Decision` in three
steps, in this order in this file:

1. **plan**: who asks (identity, user agent, risk score, kept per client) and the storage
   operations the request needs (budget hits, reputation reads, the enumeration guard's
   counters), as one :class:`~antiscrape.plan.Plan`. No storage I/O, but not pure: it reads
   the clock and fills the engine's bounded caches;
2. **batch**: the plan's operations in one batch against the storage, the only step that
   differs between the sync and the async path (one round trip on Redis), then the rare
   follow-up batch;
3. **conclude** (pure): one :class:`Verdict` per finding (budgets, stored failures and
   convictions, the guard, lists, score, bots); the strictest wins, monitor mode is honoured
   and the reply rendered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from . import decisionlog, metrics, useragent
from .cache import BoundedCache
from .challenge.tokens import is_automated
from .clock import Clock, system_clock
from .config import Config, compile_patterns, parse_networks
from .cookies import CookiePolicy
from .decision import SEVERITY, Action, Decision, Headers, Identity, Reply, Verdict
from .errors import StorageError
from .identity import ClientAddressing, fingerprint_material, parse_ip
from .keys import Keys
from .logonce import LogOnce
from .paths import PathPrefixes
from .people import People, Ticket
from .plan import Plan
from .replies import public_reason, refusal, wants_html
from .request import RequestView, cookie_values
from .server_rewrite import ServerRewriteCheck
from .signals import ScoreTraits, budget_factor, score_request, score_traits
from .state import AsyncMemoryStorage, AsyncStorage, Get, Hit, HitResult, Op, Storage, open_storage
from .status import StatusBoard
from .throttle import (
    LEVEL_NAMES,
    SHARED_BY_PEOPLE,
    Rate,
    RouteClass,
    build_route_classes,
    retry_after,
    route_class,
)
from .useragent import UAInfo, lookup
from .visitor import Visitor

log = logging.getLogger("antiscrape")

Observer = Callable[[RequestView, Decision, float], None]

_DEFAULT: Any = object()
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")
_CLIENT_CACHE_MAX = 8_192
"""Clients whose derivation is kept, and identities whose budget reads are kept (the memory
a kept client costs is in benchmarks/RESULTS.md)."""
_SCORE_CACHE_MAX = 4_096
"""Combinations of score traits kept scored (the client chooses its sec-ch-ua value)."""
_LISTED_CACHE_MAX = 50_000
"""(address, user agent) pairs whose allow/deny-list answer is kept."""
_KEPT_TEXT_MAX = 1_024
"""Longer header texts (a user agent, sec-ch-ua, the clearance cookie, a forwarding chain) are
not kept with a client: the caches' memory stays bounded in bytes, not only in entries (no
browser sends one this long)."""
_KEPT_MATERIAL_MAX = 2_048
"""Longest fingerprint material (selected header values and the header-name order) kept as
part of a client's key."""
_NEVER = float("inf")


@dataclass(frozen=True, slots=True)
class Slots:
    """Where each part of a client's batch answers in the results: budget hits, the
    challenge-failure read (None without challenges), conviction reads, then the enumeration
    guard's operations to the end."""

    hits: slice
    failures: int | None
    convictions: slice
    guard: int

    @staticmethod
    def of(hits: int, failures: bool, convictions: int) -> Slots:
        after = hits + failures
        return Slots(slice(0, hits), hits if failures else None,
                     slice(after, after + convictions), after + convictions)


class _Client:
    """What plan derives from who asks (see ``Engine._client``), kept per client: identity,
    user agent, risk score, and the operations every request of this client sends."""

    __slots__ = ("addresses", "agent", "allowed", "base_score", "bot", "bot_allowed", "cls",
                 "identity", "keep", "limits", "listed", "ops", "people", "person", "plain",
                 "quiet", "reasons", "score", "slots", "suspect", "ua", "until", "visitor")

    def __init__(self, identity: Identity, ua: UAInfo, base_score: int,
                 reasons: tuple[str, ...], listed: str | None, until: float | None,
                 cls: RouteClass) -> None:
        self.cls = cls
        self.identity = identity
        self.ua = ua
        self.base_score = base_score
        """The score from the request alone (what challenge endpoints are given)."""
        self.score = base_score
        """After good-bot and clearance adjustments: what budgets and verdicts use."""
        self.reasons = reasons
        self.listed = listed
        """"deny" when on a deny list ("allow" never gets this far)."""
        self.until = until
        """When the clearance this was derived with expires (None: no clearance)."""
        self.allowed: Plan | None = None
        """On the allow list: decided before anything else."""
        self.bot_allowed: Plan | None = None
        """A verified search engine: decided after the challenge endpoints."""
        self.bot: Any = None
        self.keep = True
        self.limits: tuple[tuple[Rate, int, int], ...] = ()
        """Each budget hit's rate, the limit it was sent with and the people multiplier in
        that limit, in the order of the hits."""
        self.visitor: Visitor | None = None
        """The visitor of a valid visitor cookie (None: none presented, or not valid)."""
        self.addresses = ("", "")
        """Hashed IP and network: what people are counted behind."""
        self.people = (1, 1)
        """The people multipliers of the IP and network budgets the hits were sent with."""
        self.person: str | None = None
        """Whom the requests count as if a person (``People.person_key``)."""
        self.agent = ""
        """Its User-Agent as a visitor's User-Agents are counted (``People.agent_key``)."""
        self.ops: tuple[Op, ...] = ()
        self.slots = Slots.of(0, False, 0)
        self.plain: Decision | None = None
        """The allow of an unprotected request that found nothing (one object, reused; built
        when first needed)."""
        self.suspect = False
        """Its risk score alone asks for a challenge (its reads are not people's, for the
        site guard's rates)."""
        self.quiet = False
        """Nothing about the client itself calls for a verdict or a header (score below the
        challenge line, on no list, no bot, no headers configured): when nothing stored
        does either, conclude can answer the allow straight away."""


class Engine:
    """Decides, for each request, whether to allow, throttle, challenge or block it.

    Build one per application (adapters do) and share it across requests and threads.
    """

    def __init__(
        self,
        config: Config | dict[str, Any] | str | None = None,
        *,
        clock: Clock = system_clock,
        storage: tuple[Storage, AsyncStorage] | None = None,
        challenges: Any = _DEFAULT,
        enumeration: Any = _DEFAULT,
        goodbots: Any = _DEFAULT,
    ) -> None:
        self.config = cfg = Config.load(config)
        self.clock = clock
        self.keys = Keys(cfg.key_prefix, cfg.state_hash_key or _random_key())
        if storage is None:
            storage = open_storage(cfg.storage, cap=cfg.state_cap, prefix=cfg.key_prefix,
                                   timeout=cfg.storage_timeout, options=cfg.storage_options)
        self.storage, self.astorage = storage
        self.addressing = ClientAddressing(
            parse_networks(cfg.trusted_proxies, "trusted_proxies"), cfg.ipv4_prefix,
            cfg.ipv6_prefix, cfg.ipv6_client_prefix, header=cfg.forwarded_header)
        self.server_rewrite = ServerRewriteCheck(bool(cfg.trusted_proxies))
        self._classes, self._default_class = build_route_classes(cfg)
        # Budget keys are "<prefix>:rl:<class>:<level>:" + hashed identity: build the constant
        # part once, not per request.
        self._rate_keys = {
            cls.name: tuple((rate, self.keys("rl", cls.name, rate.level, ""))
                            for rate in cls.rates)
            for cls in (*self._classes, self._default_class)
        }
        self._fingerprint_always = bool(
            cfg.tls_fingerprint_header or cfg.enumeration.canaries or
            any(b.fingerprint for b in cfg.budgets.values()))
        self._exempt = PathPrefixes(cfg.uninspected_paths)
        self._allow_nets = parse_networks(cfg.allow.ips, "allow.ips")
        self._deny_nets = parse_networks(cfg.deny.ips, "deny.ips")
        self._allow_ua = compile_patterns(cfg.allow.user_agents, "allow.user_agents")
        self._deny_ua = compile_patterns(cfg.deny.user_agents, "deny.user_agents")
        self._has_lists = bool(self._allow_nets or self._deny_nets or self._allow_ua or
                               self._deny_ua)
        self._listed_cache: BoundedCache[tuple[str, str], str | None] = \
            BoundedCache(_LISTED_CACHE_MAX)
        self._scores: BoundedCache[ScoreTraits, tuple[int, tuple[str, ...]]] = \
            BoundedCache(_SCORE_CACHE_MAX)
        self._clients: BoundedCache[tuple[Any, ...], _Client] = BoundedCache(_CLIENT_CACHE_MAX)
        self._cookie_texts: BoundedCache[str, tuple[str | None, ...]] = \
            BoundedCache(_CLIENT_CACHE_MAX)
        """Cookie header -> (clearance, visitor cookie) in it: a browser sends the same text
        request after request, so it is parsed once."""
        self._hits: BoundedCache[tuple[Any, ...], tuple[tuple[tuple[Rate, int, int], ...],
                                                        tuple[Hit, ...]]] = \
            BoundedCache(_CLIENT_CACHE_MAX)
        self._tls_header = cfg.tls_fingerprint_header
        self.challenges = _build_challenges(cfg, clock, self.keys) if challenges is _DEFAULT \
            else challenges
        self.enumeration = _build_enumeration(cfg, self.keys) if enumeration is _DEFAULT \
            else enumeration
        self.goodbots = _build_goodbots(cfg) if goodbots is _DEFAULT else goodbots
        self.people: People | None = None
        """Visitors, anonymous reads and the site guard (off with ``visitor.enabled = false``)."""
        if cfg.visitor.enabled:
            from .challenge.tokens import Signer

            self.people = People(cfg, self.keys, Signer(cfg.signing_keys or (_random_key(),)),
                                 clock(), CookiePolicy(cfg.cookie_secure,
                                                       self.addressing.trusted,
                                                       cfg.forwarded_header),
                                 self._fingerprint)
        self._cookie_names = (
            self.challenges.settings.cookie_name if self.challenges is not None else "",
            cfg.visitor.cookie_name if self.people is not None else "")
        """The clearance and visitor cookies' names ("": not looked for), read in one pass."""
        self.observers: list[Observer] = []
        self.refusal_observers: list[Observer] = []
        """Observers of every decision but an allow (the default decision log, which samples
        no allows): allowed traffic does not even call them."""
        self.status_board: StatusBoard | None = None
        if cfg.status_page.enabled:  # the live status page: an observer that also answers
            self.status_board = StatusBoard.from_config(cfg, clock=clock)
            self.observers.append(self.status_board)
        if self.status_board is not None:
            self.status_board.guard = self.people
        self.storage_errors = LogOnce(log)
        self.internal_errors = LogOnce(log)
        self.metrics: Any = None
        decisionlog.attach(self)  # each is a no-op unless its config section turns it on
        metrics.attach(self)
        useragent.warm()  # at start-up: the first request must not pay for building it
        self._exempt_plan = Plan.decided(Decision(Action.ALLOW, "exempt path", rule="exempt"))
        # Where an allow carries headers, or no stored failure count is needed to block, no
        # client is quiet (see _Client.quiet).
        self._quiet_possible = not (cfg.rate_limit_headers or cfg.decision_header or
                                    cfg.challenge.max_failures <= 0)

    # -- public API: the three steps, sync and async ----------------------------------------

    def inspect(self, view: RequestView) -> Decision:
        """Decide on one request (sync apps). Never raises: faults fail open and are logged."""
        started = time.perf_counter() if self.observers or self.refusal_observers else 0.0
        try:
            plan = self.plan(view)
            try:
                results = self.storage.execute(plan.ops, self.clock()) if plan.ops else ()
            except StorageError as exc:
                decision = self._storage_failed(view, plan, exc)
            else:
                decision = plan.finish(results)
                if plan.then is not None and (more := plan.then(results, decision)):
                    try:
                        self.storage.execute(more, self.clock())
                    except StorageError as exc:
                        self._follow_up_failed(exc)
            if self.observers or self.status_board is not None or \
                    (self.refusal_observers and decision.action is not Action.ALLOW):
                decision = self._observed(view, decision, started)
            return decision
        except Exception as exc:  # our fault must never become the application's 500
            return self._internal_error(exc)

    async def ainspect(self, view: RequestView) -> Decision:
        """Decide on one request (async apps): same steps, storage awaited."""
        started = time.perf_counter() if self.observers or self.refusal_observers else 0.0
        try:
            plan = self.plan(view)
            astorage = self.astorage
            try:
                if not plan.ops:
                    results: Sequence[Any] = ()
                elif type(astorage) is AsyncMemoryStorage:  # a few dict steps: no coroutine
                    results = astorage.sync.execute(plan.ops, self.clock())
                else:
                    results = await astorage.execute(plan.ops, self.clock())
            except StorageError as exc:
                decision = self._storage_failed(view, plan, exc)
            else:
                decision = plan.finish(results)
                if plan.then is not None and (more := plan.then(results, decision)):
                    try:
                        await astorage.execute(more, self.clock())
                    except StorageError as exc:
                        self._follow_up_failed(exc)
            if self.observers or self.status_board is not None or \
                    (self.refusal_observers and decision.action is not Action.ALLOW):
                decision = self._observed(view, decision, started)
            return decision
        except Exception as exc:
            return self._internal_error(exc)

    @property
    def recorded_statuses(self) -> Container[int]:
        """The response statuses :meth:`record_response` counts (a protected read answered
        404 or 410): adapters skip the call for every other status, so the usual answer to a
        protected read, a 200, costs no call (on ASGI, no coroutine)."""
        enumeration = self.enumeration
        return enumeration.recorded_statuses if enumeration is not None else ()

    def counts_answer(self, decision: Decision, status: int) -> bool:
        """Whether the application's answer to this request feeds the engine: a protected
        read answered 404 or 410 (miss probing). The one check every adapter makes before
        :meth:`record_response`, so the usual answer, a 200, costs no call (on ASGI, no
        coroutine)."""
        return decision.access is not None and status in self.recorded_statuses

    def record_response(self, view: RequestView, decision: Decision, status: int) -> None:
        """Tell the engine how the application answered (misses on protected routes count)."""
        ops = self._response_ops(decision, status)
        if ops:
            try:
                self.storage.execute(ops, self.clock())
            except StorageError as exc:
                self.storage_errors("storage", "antiscrape: storage unreachable: %s", exc)
            except Exception as exc:
                self._internal_error(exc)

    async def arecord_response(self, view: RequestView, decision: Decision, status: int) -> None:
        ops = self._response_ops(decision, status)
        if ops:
            try:
                await self.astorage.execute(ops, self.clock())
            except StorageError as exc:
                self.storage_errors("storage", "antiscrape: storage unreachable: %s", exc)
            except Exception as exc:
                self._internal_error(exc)

    def cache_sizes(self) -> dict[str, tuple[int, int]]:
        """``{name: (entries, bound)}`` of the engine's per-client caches: what a capacity
        check or a status page reads to see that rotating addresses or headers cannot grow
        them (each empties itself at its bound; oversized header texts are never kept)."""
        caches = {"clients": self._clients, "budget hits": self._hits, "scores": self._scores,
                  "lists": self._listed_cache, "cookie headers": self._cookie_texts}
        return {name: (len(cache), cache.maxsize) for name, cache in caches.items()}

    def add_observer(self, observer: Observer, *, allows: bool = True) -> None:
        """Call ``observer(view, decision, seconds)`` after every decision (logs, metrics);
        with ``allows=False`` only after decisions that are not an allow."""
        (self.observers if allows else self.refusal_observers).append(observer)

    # -- step 1: plan ----------------------------------------------------------------------

    def plan(self, view: RequestView) -> Plan:
        """What the request needs from storage, and how to conclude from the answers.

        No storage I/O, but not pure: it reads the clock (clearance expiry, the guard's time
        buckets), fills the engine's bounded caches (clients, scores, budget keys, list
        answers), and for a crawler claiming to be a verifiable bot it may start a
        reverse-DNS look-up in the background (the answer serves a later request). Exempt
        paths, allow-listed clients, challenge endpoints and verified search engines get a
        plan of their own; every other request the one that ends in :meth:`conclude`.
        """
        path = view.path
        if self._exempt.matches(path):
            return self._exempt_plan
        board = self.status_board
        if board is not None and board.matches(path):  # the operator's page: see status.py
            visit = board.operator_visit(view)
            if visit is not None:
                return Plan.decided(visit)
            view = board.without_token(view)
        enumeration = self.enumeration
        access = enumeration.match(view) if enumeration is not None else None
        cls = route_class(path, self._classes, self._default_class)
        client = self._client(view, cls, access is not None or self._fingerprint_always)
        if client.allowed is not None:
            return client.allowed
        challenges = self.challenges
        if challenges is not None and challenges.is_endpoint(path):
            people = self.people.factors(client.addresses) if self.people is not None \
                else (1, 1)
            return challenges.endpoint(view, client.identity, client.base_score, people)
        if client.bot_allowed is not None:
            return client.bot_allowed
        ops: Sequence[Op] = client.ops
        identity = client.identity
        ticket: Ticket | None = None
        now = self.clock()
        people = self.people
        if people is not None:
            counts = people.factors(client.addresses)
            if counts != client.people:  # more (or fewer) people behind the address than before
                self._rebuild_hits(client, counts)
                ops = client.ops
            ticket, people_ops = people.plan(
                client, access.kind if access is not None else None, view, now, len(ops))
            if identity.visitor is not None and not ticket.visitor_counts:
                identity = replace(identity, visitor=None)  # not (yet) a person: not counted
            if people_ops:
                ops = [*ops, *people_ops]
        if access is not None:
            ops = [*ops, *enumeration.ops(access, identity, now)]
            if access.canary and people is not None and ticket is not None:
                # after the guard's ops: its judge reads them by position
                ops += people.canary_ops(identity, ticket, enumeration.canary_reason(access))
        return Plan(ops,
                    lambda results: self.conclude(view, client, access, results, ticket,
                                                  identity),
                    lambda: self.conclude(view, client, access, None, ticket, identity),
                    lambda results, decision: self._challenge_follow_up(view, decision))

    def _client(self, view: RequestView, cls: RouteClass, with_fingerprint: bool) -> _Client:
        """What plan derives from who asks: kept per client, keyed by everything it reads.

        Address, the score's traits (or the fingerprint material, which holds them), the raw
        clearance cookie and the account make the key, so a returning client costs one
        look-up instead of a dozen small derivations. A clearance is kept only until it
        expires; crawlers that good-bot verification may still be checking, oversized
        headers and evictions simply derive again (same answer, no cache).
        """
        headers = view.headers
        secure = view.scheme == "https" or headers.get("host", "").startswith(_LOCAL_HOSTS)
        traits: ScoreTraits | None = None
        if with_fingerprint:
            material: str | None = fingerprint_material(headers, self._tls_header)
            shape: object = material
            kept = len(material) <= _KEPT_MATERIAL_MAX
        else:
            material = None
            shape = traits = score_traits(headers, secure)
            kept = _keepable(traits)
        forwarded = None
        if self.addressing.trusted:
            forwarded = headers.get(self.addressing.header, "")
            kept = kept and len(forwarded) <= _KEPT_TEXT_MAX
        # Most requests carry no cookie at all: then there is no clearance to look for.
        cookie = visitor_cookie = None
        text = headers.get("cookie")
        if text is not None:
            found = self._cookie_texts.get(text)
            if found is None:
                found = cookie_values(text, self._cookie_names)
                if len(text) <= _KEPT_TEXT_MAX:
                    self._cookie_texts.put(text, found)
            cookie, visitor_cookie = found
        key = (view.peer, forwarded, shape, secure, view.user_id, cookie, visitor_cookie,
               cls.name)
        client = self._clients.get(key)
        if client is not None and (client.until is None or self.clock() < client.until):
            return client
        client = self._derive(view, cls, traits or score_traits(headers, secure), material,
                              cookie, visitor_cookie)
        if kept and client.keep and (cookie is None or len(cookie) <= _KEPT_TEXT_MAX) and \
                (visitor_cookie is None or len(visitor_cookie) <= _KEPT_TEXT_MAX):
            self._clients.put(key, client)
        return client

    def _derive(self, view: RequestView, cls: RouteClass, traits: ScoreTraits,
                material: str | None, cookie: str | None,
                visitor_cookie: str | None = None) -> _Client:
        """Identity, user agent, risk score and the operations of one client (see _client)."""
        cfg = self.config
        headers = view.headers
        if not self.server_rewrite.warned:
            self.server_rewrite(view.peer, headers)
        ip = self.addressing.client_ip(view.peer, headers)
        client_key, network = self.addressing.keys(ip)
        user_agent = traits[0]
        ua = lookup(user_agent)
        listed = self._listed(ip, ua.raw) if self._has_lists else None
        base_score, reasons = self._score(ua, traits)
        score = base_score
        # Hashing the fingerprint traits costs more than the rest of identity together: do it
        # only when a budget, a protected read or a conviction needs it (conclude fills it in
        # for anything that is not an allow, so logs always carry it).
        fingerprint = self.keys.hashed(material) if material is not None else ""
        challenges = self.challenges
        clearance, until = challenges.clearance(cookie, network, user_agent) \
            if challenges is not None else (None, _NEVER)
        people = self.people
        visitor = people.visitor(visitor_cookie, self.clock()) \
            if people is not None and visitor_cookie is not None else None
        identity = Identity(client_key, network, fingerprint, view.user_id, clearance,
                            visitor.id if visitor is not None else None)
        if visitor is not None:  # kept no longer than the visitor cookie is valid
            expires = visitor.issued + cfg.visitor.lifetime
            until = min(until, expires) if clearance is not None else expires
        client = _Client(identity, ua, base_score, reasons, listed,
                         until if clearance is not None or visitor is not None else None, cls)
        client.visitor = visitor
        if people is not None:
            client.addresses = (self.keys.hashed(client_key), self.keys.hashed(network))
            client.people = people.factors(client.addresses)
            client.person = people.person_key(identity)
            client.agent = people.agent_key(headers)
        if listed == "allow":
            client.allowed = Plan.decided(Decision(Action.ALLOW, "on the allow list",
                                                   rule="allow"))
            return client
        if ua.crawler and self.goodbots is not None:
            client.keep = False  # verification may still be under way: assess every time
            bot = self.goodbots.assess(ip, ua.raw)
            if bot is not None:
                if bot.verified and bot.category == "search" and listed != "deny":
                    client.bot_allowed = Plan.decided(Decision(
                        Action.ALLOW, f"verified {bot.name}", rule="goodbot", identity=identity))
                    return client
                if bot.verified is False:
                    score = min(100, score + cfg.scoring.unverified_good_bot)
                    reasons = (*reasons, f"claims to be {bot.name} but is not")
                client.bot = bot
        if clearance is not None:
            if is_automated(clearance):
                # Solving the challenge does not turn automation into a person: the clearance
                # keeps the headless browser's score (its budget share follows from it).
                score = max(score, cfg.scoring.headless_browser)
                reasons = (*reasons, "clearance earned by an automated browser")
            else:
                score = max(0, score - cfg.scoring.clearance_bonus)
        client.score = score
        client.reasons = reasons
        # Budget hits depend only on who asks, under which budget share: ops are values
        # nobody changes, so every request of this client sends the same ones.
        limits, hit_ops = self._budget_hits(cls, self._share(score), identity, client.people)
        ops: list[Op] = [*hit_ops]
        if challenges is not None:
            ops.append(Get(challenges.failure_key(identity, user_agent)))
        conviction_keys = self.enumeration.conviction_keys(identity) \
            if self.enumeration is not None else []
        ops += [Get(k) for k in conviction_keys]
        client.limits = limits
        client.ops = tuple(ops)
        client.suspect = score >= cfg.scoring.challenge_at
        client.quiet = self._quiet_possible and not client.suspect and listed is None and \
            client.bot is None
        client.slots = Slots.of(len(hit_ops), challenges is not None, len(conviction_keys))
        return client

    def _score(self, ua: UAInfo, traits: ScoreTraits) -> tuple[int, tuple[str, ...]]:
        """The request's risk score and reasons, scored once per combination of traits."""
        scored = self._scores.get(traits)
        if scored is None:
            scored = score_request(ua, traits, self.config.scoring)
            if _keepable(traits):
                self._scores.put(traits, scored)
        return scored

    def _rebuild_hits(self, client: _Client, people: tuple[int, int]) -> None:
        """New budget hits for a client whose address now has more (or fewer) people behind
        it: the hits lead its ops, the rest stays."""
        limits, hit_ops = self._budget_hits(client.cls, self._share(client.score),
                                            client.identity, people)
        client.ops = (*hit_ops, *client.ops[len(client.limits):])
        client.limits = limits
        client.people = people
        client.plain = None

    def _share(self, score: int) -> float:
        """The share of its budgets a client with this risk score gets."""
        return budget_factor(score, self.config.scoring.budget_floor) if score else 1.0

    def _budget_hits(self, cls: RouteClass, factor: float, identity: Identity,
                     people: tuple[int, int] = (1, 1)
                     ) -> tuple[tuple[tuple[Rate, int, int], ...], tuple[Hit, ...]]:
        """The budget hits of an identity under a budget share, and their limits (IP and
        network limits times the people seen behind them, see ``antiscrape.people``).

        Kept per identity, apart from the per-client derivations: a crawler that sends a new
        user agent with every request is a new client each time, but its address's budget
        reads are the same values and are built once.
        """
        key = (cls.name, factor, identity.ip, identity.network, identity.fingerprint,
               identity.account, identity.clearance, identity.visitor, people)
        cached = self._hits.get(key)
        if cached is not None:
            return cached
        hashed = self.keys.hashed
        ops: list[Hit] = []
        limits: list[tuple[Rate, int, int]] = []
        for rate, prefix in self._rate_keys[cls.name]:
            who = getattr(identity, rate.level)
            if not who:
                continue
            mult = 1 if rate.level not in SHARED_BY_PEOPLE else \
                people[0] if rate.level == "ip" else people[1]
            limit = (rate.amount if factor == 1.0 else rate.scaled(factor)) * mult
            ops.append(Hit(prefix + hashed(who), rate.window, limit))
            limits.append((rate, limit, mult))
        return self._hits.put(key, (tuple(limits), tuple(ops)))

    def _fingerprint(self, headers: Mapping[str, str]) -> str:
        return self.keys.hashed(fingerprint_material(headers, self._tls_header))

    def _listed(self, ip: str, ua: str) -> str | None:
        """"allow", "deny" or None, for an (ip, user agent) pair; cached."""
        key = (ip, ua)
        cached = self._listed_cache.get(key, _DEFAULT)
        if cached is not _DEFAULT:
            return cached  # type: ignore[no-any-return]
        result = None
        addr = parse_ip(ip)
        if (addr is not None and any(addr in n for n in self._allow_nets)) or \
                (self._allow_ua is not None and self._allow_ua.search(ua)):
            result = "allow"
        elif (addr is not None and any(addr in n for n in self._deny_nets)) or \
                (self._deny_ua is not None and self._deny_ua.search(ua)):
            result = "deny"
        return self._listed_cache.put(key, result)

    # -- step 2: the batch (run by inspect / ainspect), and its follow-up ---------------------

    def _challenge_follow_up(self, view: RequestView, decision: Decision) -> Sequence[Op]:
        """A challenge page shown counts as pending until answered (see Challenges): the one
        decision of :meth:`conclude` with a second batch."""
        challenges = self.challenges
        if decision.action is not Action.CHALLENGE or not decision.enforced or \
                challenges is None or decision.identity is None or \
                not wants_html(view.headers.get("accept", "")):
            return ()
        return (challenges.pending_op(decision.identity, view),)

    def _follow_up_failed(self, exc: StorageError) -> None:
        """The follow-up batch failed alone: the decision already made stands (a challenge
        earned stays a challenge; only its pending count is lost)."""
        self.storage_errors("storage", "antiscrape: storage unreachable for a follow-up "
                            "write, decision kept: %s", exc)

    # -- step 3: conclude ------------------------------------------------------------------

    def conclude(self, view: RequestView, client: _Client, access: Any,
                 results: Sequence[Any] | None, ticket: Ticket | None = None,
                 identity: Identity | None = None) -> Decision:
        """Every verdict the stored answers and the client call for; the strictest wins.

        ``results`` answer ``client.ops``, then the person-level operations of ``ticket``
        (see ``antiscrape.people``), then the guard's operations for a protected read, read
        by their named :class:`Slots`; None when storage could not be reached and the
        engine fails open: verdicts that need no state still apply. ``identity``: the
        client's, without its visitor when the visitor does not count as a person yet.
        """
        score, reasons = client.score, client.reasons
        identity = identity or client.identity
        verdicts: list[Verdict] = []
        cookie: Headers = ()
        skip = 0
        if ticket is not None:
            skip = ticket.n_ops
            cookie = (ticket.cookie,) if ticket.cookie is not None else ()
            if results is not None and self.people is not None and ticket.learns:
                found, points, why = self.people.judge(
                    ticket, results, html=wants_html(view.headers.get("accept", "")))
                verdicts += [Verdict(action, reason, rule, retry)
                             for action, rule, reason, retry in found]
                if points:
                    score, reasons = min(100, score + points), (*reasons, *why)
        walked = None
        if results is not None and access is not None:
            walked = self.enumeration.judge(access, identity, results[client.slots.guard + skip:],
                                            cleared=identity.clearance is not None,
                                            people=client.people)
        if walked is None and not verdicts and score == client.score and client.quiet and \
                results is not None and _nothing_stored(results, client.slots):
            return self._allow(client, access, score, reasons, cookie)  # the usual request
        headers: Headers = ()
        if results is not None:
            slots = client.slots
            if slots.failures is not None:
                score, reasons, failed = self._failures(results[slots.failures], client,
                                                        score, reasons)
                verdicts += failed
            budgets, headers = self._budgets(client, results[slots.hits], score)
            verdicts += budgets
            verdicts += [Verdict(Action.BLOCK, str(conviction), "conviction")
                         for conviction in results[slots.convictions] if conviction]
            if walked is not None:
                verdicts.append(walked)
        verdicts += self._client_verdicts(client, score, reasons)
        headers = (*headers, *cookie) if cookie else headers
        if not verdicts:
            return self._allow(client, access, score, reasons, headers)
        if ticket is not None and self.people is not None:
            self.people.refused(ticket, self.clock())
        return self._refuse(view, client, access, score, reasons, verdicts, headers)

    def _failures(self, stored: Any, client: _Client, score: int, reasons: tuple[str, ...]
                  ) -> tuple[int, tuple[str, ...], list[Verdict]]:
        """Unanswered challenges raise the score, and enough of them ask for a challenge,
        never a block: the count is kept per address and user agent, which a neighbour
        shares (an office, carrier-grade NAT), so it may only make the client prove itself,
        at the hardest rung. A scraper that ignores challenge pages gets nothing either way.
        Not counted at all against a valid clearance: what only its solver holds."""
        failures = int(stored or 0)
        if not failures or client.identity.clearance is not None:
            return score, reasons, []
        sc = self.config.scoring
        raised = min(100, score + sc.challenge_failures * failures)
        score = max(score, min(raised, sc.block_at - 1))  # never over the block line alone
        reasons = (*reasons, f"{failures} unanswered or failed challenges")
        if failures < self.config.challenge.max_failures or self.challenges is None:
            return score, reasons, []
        return score, reasons, [Verdict(
            Action.CHALLENGE, f"{failures} unanswered challenges", "challenge:failures")]

    def _budgets(self, client: _Client, hits: Sequence[HitResult], score: int
                 ) -> tuple[list[Verdict], Headers]:
        """Budgets exceeded, and the RateLimit headers of the tightest one (when configured).

        Hits were sent with limits from the score known before storage answered; a score
        raised by stored failures can only shrink them further. A hit is recorded only while
        ``count + 1 <= limit`` (see :class:`~antiscrape.state.ops.Hit`).
        """
        factor = budget_factor(score, self.config.scoring.budget_floor) \
            if score != client.score else None
        want_headers = self.config.rate_limit_headers
        verdicts: list[Verdict] = []
        tightest: tuple[int, float, float] | None = None  # limit, remaining, reset
        for (rate, limit, people), hit in zip(client.limits, hits, strict=True):
            if factor is not None:
                limit = min(limit, rate.scaled(factor) * people)
            if not hit.counted or hit.count + 1 > limit:
                verdicts.append(Verdict(
                    Action.THROTTLE,
                    f"{client.ua.label}: budget {rate.describe(limit)} "
                    f"{LEVEL_NAMES[rate.level]} exceeded on {client.cls.where}",
                    f"budget:{rate.level}", retry_after(hit.reset)))
            if want_headers:
                remaining = max(0.0, limit - hit.count - 1)
                if tightest is None or remaining < tightest[1]:
                    tightest = (limit, remaining, hit.reset)
        if tightest is None:
            return verdicts, ()
        limit, remaining, reset = tightest
        return verdicts, (
            ("ratelimit-limit", str(limit)), ("ratelimit-remaining", str(int(remaining))),
            ("ratelimit-reset", str(retry_after(reset) if remaining < 1 else
                                    client.cls.rates[0].window)))

    def _client_verdicts(self, client: _Client, score: int,
                         reasons: tuple[str, ...]) -> list[Verdict]:
        """What needs no stored state: the deny list, the risk score, a bot's configured
        action."""
        sc = self.config.scoring
        verdicts: list[Verdict] = []
        if client.listed == "deny":
            verdicts.append(Verdict(Action.BLOCK, "on the deny list", "deny"))
        if score >= sc.block_at:
            verdicts.append(Verdict(Action.BLOCK, _risk(score, reasons, client), "score"))
        elif score >= sc.challenge_at and client.identity.clearance is None and \
                self.challenges is not None:
            verdicts.append(Verdict(Action.CHALLENGE, _risk(score, reasons, client), "score"))
        bot = client.bot
        if bot is not None:
            configured = self.config.good_bots.action_for(bot.category)
            if configured is not None and configured != "allow":
                ai = bot.category == "ai"
                verdicts.append(Verdict(
                    Action(configured),
                    f"AI crawler {bot.name}" if ai else f"{bot.category} bot {bot.name}",
                    "ai-crawler" if ai else f"bot:{bot.category}", 60))
        return verdicts

    def _allow(self, client: _Client, access: Any, score: int, reasons: tuple[str, ...],
               headers: Headers) -> Decision:
        if self.config.decision_header:
            headers = (*headers, ("x-antiscrape-decision", f"allow; score={score}"))
        plain = access is None and not headers and reasons is client.reasons
        if plain and client.plain is not None:
            return client.plain
        decision = Decision(
            action=Action.ALLOW, reason="; ".join(reasons) if reasons else "ok", score=score,
            headers=headers, identity=client.identity, signals=reasons,
            kind=access.kind if access is not None else None, access=access)
        if plain:
            client.plain = decision  # built on first use: a one-off client never needs it
        return decision

    def _refuse(self, view: RequestView, client: _Client, access: Any, score: int,
                reasons: tuple[str, ...], verdicts: list[Verdict], headers: Headers
                ) -> Decision:
        """The strictest enforced verdict; monitored ones only show when none is enforced."""
        cfg = self.config
        identity = client.identity
        if not identity.fingerprint:  # logs always carry one
            identity = replace(identity, fingerprint=self._fingerprint(view.headers))
        route_monitored = bool(getattr(access, "monitor", False))
        enforced = [v for v in verdicts if not (cfg.is_monitored(v.rule) or (
            route_monitored and v.rule.startswith("enumeration")))]
        pool = enforced or verdicts
        top = max(pool, key=lambda v: SEVERITY[v.action])
        retry = top.retry_after
        if top.action is Action.THROTTLE:
            retry = max((v.retry_after or 1) for v in pool if v.action is Action.THROTTLE)
        if cfg.decision_header:
            headers = (*headers, ("x-antiscrape-decision",
                                  f"{top.action.value}; rule={top.rule}; score={score}"
                                  + ("" if enforced else "; monitor")))
        reply = self._reply(view, identity, top.action, top.reason, score, retry, headers) \
            if enforced else None
        return Decision(
            action=top.action, reason=top.reason, score=score, rule=top.rule,
            retry_after=retry, enforced=bool(enforced), reply=reply, headers=headers,
            identity=identity, signals=reasons,
            kind=access.kind if access is not None else None, access=access)

    def _reply(self, view: RequestView, identity: Identity, action: Action, reason: str,
               score: int, retry: int | None, extra: Headers) -> Reply:
        accept = view.headers.get("accept", "")
        if action is Action.CHALLENGE and self.challenges is not None:
            reply = self.challenges.challenge(view, identity, score, reason)
            if extra:
                reply = replace(reply, headers=(*reply.headers, *extra))
            return reply
        expose = self.config.expose_reasons
        if action is Action.THROTTLE:
            return refusal(429, public_reason(429, reason, expose), accept, retry or 1, extra)
        return refusal(403, public_reason(403, reason, expose), accept, None, extra)

    # -- failures and bookkeeping ----------------------------------------------------------

    def _storage_failed(self, view: RequestView, plan: Plan, exc: StorageError) -> Decision:
        self.storage_errors("storage", "antiscrape: storage unreachable, failing %s: %s",
                            self.config.fail, exc)
        if self.config.fail == "closed":
            return Decision(Action.BLOCK, "state storage unreachable (failing closed)",
                            rule="storage", retry_after=5,
                            reply=refusal(503, "protection temporarily unavailable",
                                          view.headers.get("accept", ""), 5))
        return plan.failed()

    def _response_ops(self, decision: Decision, status: int) -> list[Any]:
        enumeration = self.enumeration
        if enumeration is None or decision.identity is None or \
                not self.counts_answer(decision, status):  # most answers: a 200
            return []
        return list(enumeration.response_ops(decision.access, decision.identity, status,
                                             self.clock()))

    def _observed(self, view: RequestView, decision: Decision, started: float) -> Decision:
        observers = self.observers
        if self.refusal_observers and decision.action is not Action.ALLOW:
            observers = [*observers, *self.refusal_observers]
        if observers:
            elapsed = time.perf_counter() - started if started else 0.0
            for observer in observers:
                try:
                    observer(view, decision, elapsed)
                except Exception as exc:
                    self.internal_errors("observer", "antiscrape: observer %r failed",
                                         observer, exc=exc)
        board = self.status_board
        if board is not None and decision.reply is None and board.matches(view.path):
            # Served only to requests the policy let through, so guessing the token is
            # budgeted like any other request.
            decision = replace(decision, reply=board.reply(view))
        return decision

    def _internal_error(self, exc: Exception) -> Decision:
        self.internal_errors("internal", "antiscrape: internal error, request allowed",
                             exc=exc, level=logging.ERROR)
        return Decision(Action.ALLOW, "antiscrape internal error (failing open)",
                        rule="internal")


def _nothing_stored(results: Sequence[Any], slots: Slots) -> bool:
    """Every budget hit counted, and no challenge failure or conviction stored: nothing in
    ``results`` (before the guard's part) can raise a verdict or change the score."""
    for hit in results[slots.hits]:
        if not hit.counted:  # counted only while count + 1 <= limit: the whole budget test
            return False
    return not any(results[slots.hits.stop:slots.guard])


def _risk(score: int, reasons: tuple[str, ...], client: _Client) -> str:
    """The reason of a verdict on the score: the signals behind it (or the user agent)."""
    return f"risk score {score}: {'; '.join(reasons) if reasons else client.ua.label}"


def _keepable(traits: ScoreTraits) -> bool:
    """Whether a client's score traits are short enough to keep as a cache key (no browser
    sends a longer user agent or sec-ch-ua; the client chooses both)."""
    hints = traits[6]
    return len(traits[0]) <= _KEPT_TEXT_MAX and (hints is None or len(hints) <= _KEPT_TEXT_MAX)


def _random_key() -> bytes:
    import secrets

    return secrets.token_bytes(32)


def _build_challenges(cfg: Config, clock: Clock, keys: Keys) -> Any:
    if not cfg.challenge.enabled:
        return None
    from .challenge import Challenges

    return Challenges(cfg, clock, keys)


def _build_enumeration(cfg: Config, keys: Keys) -> Any:
    # Always built: routes may be protected by a decorator the config never mentions; the
    # guard costs one dictionary look-up on requests to unprotected routes.
    from .enumeration import EnumerationGuard

    return EnumerationGuard(cfg, keys)


def _build_goodbots(cfg: Config) -> Any:
    if not cfg.good_bots.verify and cfg.good_bots.ai_crawlers == "allow":
        return None
    from .goodbots import GoodBots

    return GoodBots(cfg)
