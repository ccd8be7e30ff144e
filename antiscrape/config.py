"""The whole configuration: one tree of dataclasses, loaded from a dict or a TOML file.

Every section is a dataclass whose defaults are the documented defaults; ``typed_loader``
checks types and unknown keys and names the key path in every error. Call ``Config.load`` once
at start-up; the engine never re-reads configuration on the hot path.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import limits

from .errors import ConfigError
from .keystrength import key_weakness
from .typed_loader import dump, load

log = logging.getLogger("antiscrape")

RateText = str
"""A rate in ``limits`` notation: ``"120/minute"``, ``"10 per second"``; empty disables."""


def parse_rate(text: str, path: str) -> limits.RateLimitItem | None:
    if not text:
        return None
    try:
        return limits.parse(text)
    except ValueError as exc:
        raise ConfigError(path, f"not a rate like '120/minute': {text!r}") from exc


def parse_networks(values: tuple[str, ...], path: str) -> tuple[Any, ...]:
    nets = []
    for i, value in enumerate(values):
        try:
            nets.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"{path}[{i}]", f"not an IP address or CIDR: {value!r}") from exc
    return tuple(nets)


def compile_patterns(values: tuple[str, ...], path: str) -> re.Pattern[str] | None:
    for i, value in enumerate(values):
        try:
            re.compile(value)
        except re.error as exc:
            raise ConfigError(f"{path}[{i}]", f"not a regular expression: {exc}") from exc
    if not values:
        return None
    return re.compile("|".join(f"(?:{v})" for v in values), re.IGNORECASE)


@dataclass(frozen=True)
class ListRule:
    """Allow or deny list: IPs/CIDRs and user-agent regular expressions (case-insensitive)."""

    ips: tuple[str, ...] = ()
    user_agents: tuple[str, ...] = ()

    def validate(self, path: str) -> None:
        parse_networks(self.ips, f"{path}.ips")
        compile_patterns(self.user_agents, f"{path}.user_agents")


@dataclass(frozen=True)
class Scoring:
    """Risk-score weights (points out of 100) and thresholds.

    Defaults keep an ordinary browser at 0, a plain HTTP library (curl, requests) below the
    challenge threshold so it is throttled with a small budget rather than challenged (API
    users script with curl), and a client that lies about being a browser above it.
    """

    automation_tool: int = 40
    known_crawler: int = 30
    headless_browser: int = 60
    empty_user_agent: int = 60
    unparseable_user_agent: int = 20
    missing_accept: int = 5
    missing_accept_language: int = 15
    missing_accept_encoding: int = 10
    missing_sec_fetch: int = 15
    missing_client_hints: int = 10
    client_hints_mismatch: int = 35
    unverified_good_bot: int = 70
    challenge_failures: int = 15
    """Added per failed, replayed or unanswered challenge still remembered."""
    clearance_bonus: int = 40
    """Subtracted while a valid clearance cookie is presented."""
    challenge_at: int = 60
    """Score from which browser navigations are challenged (API clients: throttled harder)."""
    block_at: int = 95
    """Score from which requests are refused outright."""
    budget_floor: float = 0.05
    """Smallest share of a budget a high-risk client keeps (the factor at score 100)."""

    def validate(self, path: str) -> None:
        if not 0 < self.challenge_at <= self.block_at <= 100:
            raise ConfigError(path, "need 0 < challenge_at <= block_at <= 100")
        if not 0 < self.budget_floor <= 1:
            raise ConfigError(f"{path}.budget_floor", "must be in (0, 1]")


@dataclass(frozen=True)
class Budget:
    """Request budgets per identity level for one route class (``limits`` rate strings)."""

    ip: RateText = "240/minute"
    network: RateText = "1200/minute"
    fingerprint: RateText = ""
    """Off by default: one popular browser build is shared by many people on many networks."""
    account: RateText = "300/minute"
    clearance: RateText = "300/minute"
    visitor: RateText = "300/minute"
    """Per established visitor (antiscrape's own visitor cookie, see ``[visitor]``)."""

    def validate(self, path: str) -> None:
        for level in ("ip", "network", "fingerprint", "account", "clearance", "visitor"):
            parse_rate(getattr(self, level), f"{path}.{level}")


def _default_budgets() -> dict[str, Budget]:
    return {
        "default": Budget(),
        "api": Budget(ip="120/minute", network="600/minute", account="240/minute",
                      clearance="240/minute", visitor="240/minute"),
    }


@dataclass(frozen=True)
class ChallengeRung:
    """One step of the challenge ladder: clients scoring up to ``max_score`` get this."""

    max_score: int
    difficulty: int = 0
    """Leading zero bits of the SHA-256 proof-of-work; 0 means a wait instead of work."""
    wait: float = 0.0
    """Seconds the client must wait before its answer counts (no-JS fallback uses this)."""


def _default_ladder() -> tuple[ChallengeRung, ...]:
    return (
        ChallengeRung(max_score=70, difficulty=14, wait=1.0),
        ChallengeRung(max_score=85, difficulty=17, wait=3.0),
        ChallengeRung(max_score=100, difficulty=19, wait=5.0),
    )


@dataclass(frozen=True)
class ChallengeSettings:
    enabled: bool = True
    status: int = 403
    """HTTP status of the challenge page: never 200, so monitors and crawlers can tell."""
    path_prefix: str = "/.antiscrape/"
    """Where the challenge endpoints live (answers, scripts); exempt from budgets."""
    cookie_name: str = "antiscrape_clearance"
    clearance_ttl: int = 86_400
    """Seconds a clearance cookie stays valid."""
    challenge_ttl: int = 300
    """Seconds a challenge may be answered after it was issued."""
    nojs_fallback: bool = True
    """Offer a wait-and-continue form to browsers without JavaScript."""
    max_failures: int = 5
    """Wrong or replayed answers after which one challenge is void (answers count against
    the challenge they answer, never against the address and browser that sent them: a
    neighbour could send them); also the challenge pages left unanswered (within
    ``failure_window``) from which a client without a clearance gets the hardest rung
    (never a block: a neighbour with the same browser could cause them)."""
    failure_window: int = 3_600
    answers_per_ip: RateText = "20/minute"
    """Answers (proof-of-work and no-JS) one IP may send, times the people seen behind it
    (``visitor.people_cap`` at most); more get a 429."""
    answers_per_network: RateText = "200/minute"
    """Answers one network (/24, /48) may send, times the people seen behind it; more get a
    429."""
    ladder: tuple[ChallengeRung, ...] = field(default_factory=_default_ladder)

    def validate(self, path: str) -> None:
        if not 400 <= self.status <= 499:
            raise ConfigError(f"{path}.status", "a challenge must answer with a 4xx status")
        if not self.path_prefix.startswith("/") or not self.path_prefix.endswith("/"):
            raise ConfigError(f"{path}.path_prefix", "must start and end with '/'")
        parse_rate(self.answers_per_ip, f"{path}.answers_per_ip")
        parse_rate(self.answers_per_network, f"{path}.answers_per_network")
        if not self.ladder:
            raise ConfigError(f"{path}.ladder", "needs at least one rung")
        last = -1
        for i, rung in enumerate(self.ladder):
            if rung.max_score <= last:
                raise ConfigError(f"{path}.ladder[{i}].max_score", "must increase rung by rung")
            if not 0 <= rung.difficulty <= 32:
                raise ConfigError(f"{path}.ladder[{i}].difficulty", "must be 0..32 bits")
            last = rung.max_score


@dataclass(frozen=True)
class ProtectRule:
    """A protected resource: a route template whose parameter names one record.

    ``route`` uses ``{name}`` placeholders (``/users/{user_id}``); Starlette converters
    (``{user_id:int}``) and Django-style ``<int:user_id>`` are accepted too.
    """

    route: str
    kind: str
    id_param: str | None = None
    """Path or query parameter holding the record id; default: the route's last parameter
    (a route without parameters takes ``id`` from the query string)."""
    page_param: str | None = None
    """Query (or path) parameter holding the page number of a paginated listing: each page
    counts as one record (``/items/7/comments?page=3`` is record ``7`` page 3)."""
    monitor: bool = False
    """Decide and log enumeration verdicts on this route, but never enforce them."""

    def validate(self, path: str) -> None:
        if not self.route.startswith("/"):
            raise ConfigError(f"{path}.route", "must start with '/'")
        from .enumeration.matching import normalize_template  # lazy: config stays light

        for segment in normalize_template(self.route).split("/"):
            if ("{" in segment or "}" in segment) and not re.fullmatch(r"\{\w+\}", segment):
                raise ConfigError(f"{path}.route", f"{segment!r}: a parameter is a whole "
                                  "path segment like {user_id} (or <int:user_id>)")
        if not self.kind or not self.kind.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"{path}.kind", "use letters, digits, '-' or '_' only")


WINDOW_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def parse_window(text: str, path: str) -> int:
    """``"10m"`` -> 600 seconds: a number and one unit of s, m, h, d or w."""
    unit = WINDOW_UNITS.get(text[-1:]) if text else None
    number = text[:-1]
    if unit is None or not number.isdigit() or int(number) <= 0:
        raise ConfigError(path, f"not a window like '10m', '1h', '1d' or '7d': {text!r}")
    return int(number) * unit


ENUMERATION_LEVELS = ("account", "clearance", "visitor", "ip", "fingerprint", "network")


def _default_distinct_budget() -> dict[str, int]:
    return {"10m": 40, "1d": 250, "7d": 800}


def _default_level_factors() -> dict[str, float]:
    return {"account": 1.0, "clearance": 1.0, "visitor": 1.0, "ip": 1.0, "fingerprint": 8.0,
            "network": 20.0}


def _default_level_windows() -> dict[str, tuple[str, ...]]:
    return {"clearance": ("1d", "7d"), "visitor": ("10m", "1d"), "ip": ("1d",),
            "fingerprint": ("1d", "7d"), "network": ("7d",)}


@dataclass(frozen=True)
class EnumerationSettings:
    """Distinct-record budgets per protected kind and window (see the enumeration guard).

    Budgets are what *one person* may read; each identity level multiplies them by its
    factor, because several people can share that level (a household or office behind one
    IP, everybody on one popular browser build, a mobile carrier's /24). The defaults leave
    a person reading 30 profiles and 10 comment pages a day far below every budget (their
    day count stays under 100 even with the window's overlap), let fifty such people share an
    office IP (shared levels only ever *challenge*; once each person holds a clearance they
    are counted on their own), and stop a crawler at 250 distinct records a day per IP,
    clearance or account, and at 2 000 per browser fingerprint however many IPs it rotates.
    """

    budgets: dict[str, dict[str, int]] = field(default_factory=dict)
    """``{kind: {window: distinct records}}``, windows like ``"10m"``, ``"1h"``, ``"1d"``,
    ``"7d"``. Kinds not listed use ``default_budget``."""
    default_budget: dict[str, int] = field(default_factory=_default_distinct_budget)
    """Per-person budget of every kind without its own entry in ``budgets``."""
    levels: dict[str, float] = field(default_factory=_default_level_factors)
    """Budget multiplier per identity level (account, clearance, visitor, ip, fingerprint,
    network); 0 stops counting a level."""
    level_windows: dict[str, tuple[str, ...]] = field(default_factory=_default_level_windows)
    """Windows counted at a level (a level not listed, or none of whose windows the kind's
    budget has, counts every window of the budget).
    Each window at each level is one more counter updated on every protected request, so
    shared levels count only the windows that matter for them: a day for IPs (addresses
    change), a week for networks, a day and a week for fingerprints (slow IP-rotating
    crawls)."""
    block_factor: float = 2.0
    """Counts at this multiple of a personal (account, clearance) budget are blocked rather
    than throttled; shared levels never block on counts alone, they challenge."""
    canaries: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """``{kind: [ids]}``: tripwire records no page links to; reading one convicts."""
    conviction_ttl: int = 7 * 86_400
    """Seconds a canary reader stays blocked: its IP, account, clearance, and its browser
    fingerprint within its network."""
    fingerprint_conviction_ttl: int = 0
    """Seconds a canary read also blocks its fingerprint on *every* network (stops an
    IP-rotating crawler's next reads at once). Off by default: a popular browser build is
    shared by many people, and anyone could otherwise lock all of them out by fetching a
    canary URL. Sites whose fingerprints are specific (a TLS fingerprint header) may set it."""
    canary_cooldown: int = 3_600
    """Seconds after a canary read in which its browser fingerprint needs a clearance on
    every network (no account or clearance: challenged) and its network carries risk
    evidence for everyone on it."""
    walk_length: int = 8
    """Consecutive numeric ids read in strictly ascending or descending order, each step at
    most ``walk_max_stride`` (constant strides included), that count as a sequential walk;
    0 switches walk detection off."""
    walk_max_stride: int = 16
    """Largest stride (absolute id step) still considered a walk."""
    max_page: int = 50
    """Pages deeper than this on a protected listing count as harvesting."""
    deep_page_budget: int = 5
    """Pages deeper than ``max_page`` an identity may read per hour before it is flagged."""
    miss_budget: int = 30
    """404/410 answers on protected routes per identity and hour before it is flagged."""

    def validate(self, path: str) -> None:
        for kind, table in (*self.budgets.items(), ("*", self.default_budget)):
            where = f"{path}.budgets.{kind}" if kind != "*" else f"{path}.default_budget"
            if not table:
                raise ConfigError(where, "needs at least one window, e.g. {\"1d\" = 250}")
            for window, budget in table.items():
                parse_window(window, f"{where}.{window}")
                if budget < 1:
                    raise ConfigError(f"{where}.{window}", "must be at least 1")
        for level, factor in self.levels.items():
            if level not in ENUMERATION_LEVELS:
                raise ConfigError(f"{path}.levels.{level}",
                                  f"unknown level; use {', '.join(ENUMERATION_LEVELS)}")
            if factor < 0:
                raise ConfigError(f"{path}.levels.{level}", "must be 0 (off) or positive")
        for level, windows in self.level_windows.items():
            if level not in ENUMERATION_LEVELS:
                raise ConfigError(f"{path}.level_windows.{level}",
                                  f"unknown level; use {', '.join(ENUMERATION_LEVELS)}")
            for i, window in enumerate(windows):
                parse_window(window, f"{path}.level_windows.{level}[{i}]")
        if self.block_factor < 1:
            raise ConfigError(f"{path}.block_factor", "must be at least 1")
        for name in ("conviction_ttl", "max_page", "miss_budget", "deep_page_budget",
                     "canary_cooldown"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}", "must be at least 1")
        if self.fingerprint_conviction_ttl < 0 or self.walk_length < 0:
            raise ConfigError(path, "fingerprint_conviction_ttl and walk_length must be >= 0")
        if self.walk_length == 1:
            raise ConfigError(f"{path}.walk_length", "a walk needs at least 2 ids (or 0: off)")
        if self.walk_max_stride < 1:
            raise ConfigError(f"{path}.walk_max_stride", "must be at least 1")


@dataclass(frozen=True)
class VisitorSettings:
    """antiscrape's own first-party visitor cookie: a person-level identity without sign-in.

    A signed random id and its issue time, set on answers to clients that present no valid
    one. It is a strictly necessary security cookie: it names no person, is never shared
    with another site, and only lets budgets follow the browser rather than its address.
    """

    enabled: bool = True
    """Set the visitor cookie and count established visitors as people (off: clients are
    known by address, fingerprint, clearance and account only)."""
    cookie_name: str = "antiscrape_visitor"
    """Name of the visitor cookie."""
    lifetime: int = 30 * 86_400
    """Seconds a visitor cookie stays valid (30 days)."""
    established_after: int = 0
    """Seconds a visitor must be old, besides having come back with its cookie, before it
    counts as established (0: the first return is enough)."""
    young_for: int = 86_400
    """Seconds a visitor stays *young*: its protected reads count in the site guard's rate of
    its kind, and while that kind is guarded they need a clearance, as anonymous reads do.
    A cookie costs a crawler nothing: without this, one that starts a new cookie jar every
    few dozen reads would read as many people (0: visitors are never young)."""
    new_per_ip: int = 60
    """New visitors per IP and hour before more count as cookie rotation (a risk signal)."""
    new_per_network: int = 200
    """New visitors per network and hour before more count as cookie rotation."""
    new_per_fingerprint: int = 400
    """New visitors per browser fingerprint and hour before more count as cookie rotation."""
    rotation_score: int = 25
    """Risk points added while new visitors from the client's IP, network or fingerprint are
    over their hourly budget."""
    people_cap: int = 50
    """Most people (established visitors, clearances, accounts seen in the last hour) an IP
    or network budget is multiplied by."""
    max_networks: int = 30
    """Networks (/24, /48) one visitor may come from since the start of yesterday (two
    daily buckets counted together) before it counts as new today again, whatever its age:
    a person's browser sees a few a day (home, a phone's carrier over IPv4 and IPv6, work),
    a cookie jar replayed through a proxy pool a new one on every request (0: not
    counted)."""
    max_agents: int = 3
    """User-Agent strings one visitor may come with since the start of yesterday before it
    counts as new today again, whatever its age: a browser sends one, and a new one after an
    update; a crawler that rotates User-Agents over one cookie jar a new one on every
    request (0: not counted)."""

    def validate(self, path: str) -> None:
        if not self.cookie_name or not all(c.isalnum() or c in "_-." for c in self.cookie_name):
            raise ConfigError(f"{path}.cookie_name", "letters, digits, '_', '-' or '.' only")
        if self.lifetime < 3_600:
            raise ConfigError(f"{path}.lifetime", "must be at least 3600 seconds")
        if self.established_after < 0:
            raise ConfigError(f"{path}.established_after", "must be 0 or more seconds")
        if self.young_for < 0:
            raise ConfigError(f"{path}.young_for", "must be 0 or more seconds")
        for name in ("new_per_ip", "new_per_network", "new_per_fingerprint", "people_cap"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}", "must be at least 1")
        for name in ("max_networks", "max_agents"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{path}.{name}", "must be 0 (not counted) or more")
        if not 0 <= self.rotation_score <= 100:
            raise ConfigError(f"{path}.rotation_score", "must be 0..100")


@dataclass(frozen=True)
class AnonymousSettings:
    """Free allowances of *anonymous* protected reads: reads by a client with no account, no
    clearance and no established visitor (a first visit, or a client that drops cookies).

    Past an allowance such a read needs a clearance: a browser is challenged once, an API
    client is told to sign in or retry later. The defaults let a person arriving from a
    search engine read a page or two without any challenge.
    """

    network: int = 3
    """Anonymous protected reads per network and hour (times the people seen behind it)."""
    fingerprint: int = 60
    """Anonymous protected reads per browser fingerprint and hour."""
    site: int = 40
    """Anonymous protected reads of one kind, site-wide, per day. Raise it to about the
    number of first visits that land straight on such a page in a day (people who keep
    cookies only read anonymously once)."""

    def validate(self, path: str) -> None:
        for name in ("network", "fingerprint", "site"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{path}.{name}", "must be 0 or more reads")


@dataclass(frozen=True)
class GuardSettings:
    """The site-wide guard: when anonymous protected reads of a kind (or new visitors) come
    much faster than usual, anonymous reads of that kind need a clearance from the first.

    The usual rate is learned (an exponentially weighted average of ``bucket``-long counts,
    kept in the shared storage so every worker agrees) and not learned while guarded.
    """

    mode: Literal["auto", "on", "off"] = "auto"
    """``auto`` follows the learned rates; ``on``/``off`` force the guarded state."""
    factor: float = 4.0
    """Enter when the current rate exceeds this multiple of the learned rate."""
    leave_factor: float = 2.0
    """Leave once the rate has stayed at or under this multiple of the learned rate (or the
    floor) for ``cooldown``: between 1 and ``factor``. A rate back at its usual level is
    above the learned rate about half the time, so 1 would keep a busy series guarded for
    hours after a short spike."""
    min_reads: int = 20
    """Anonymous protected reads of a kind per ``bucket`` that never trigger the guard."""
    min_young_reads: int = 100
    """Protected reads of a kind per ``bucket`` by visitors new that day (see
    ``visitor.young_for``) that never trigger the guard: a few people arriving together read
    dozens of pages, so this floor is higher than ``min_reads``."""
    min_visitor_reads: int = 600
    """Protected reads of a kind per ``bucket`` by visitors without a clearance (regulars and
    newcomers alike) that never trigger the guard. Cookies kept for days cost a crawler
    nothing: this rate is what a crowd of aged cookie jars cannot hide from."""
    min_young_reads_per_day: int = 2_000
    """Protected reads of a kind per day by visitors new that day that never trigger the
    guard (0: not counted by the day). A crawler that starts a new cookie jar every few
    dozen reads and paces itself just under ``min_young_reads`` would read that floor 144
    times a day; people arriving together need its headroom for minutes, not all day. Raise
    it to about a busy day's reads by newcomers, or learn them in a monitor week."""
    min_new_visitors: int = 120
    """New visitors per ``bucket`` (site-wide) that never trigger the guard."""
    bucket: int = 600
    """Seconds per counting bucket: the current rate is the count of the last bucket-length."""
    half_life: int = 86_400
    """Seconds after which a bucket weighs half in the learned rate (hours to days)."""
    day_half_life: int = 604_800
    """Seconds after which a day weighs half in the learned daily rates (a week: a crawler
    that grows a little every day teaches a daily rate slowly)."""
    cooldown: int = 1_800
    """Seconds the rate must stay at or under ``leave_factor`` times the learned rate (or the
    floor) before the guard leaves."""

    def validate(self, path: str) -> None:
        if self.factor <= 1:
            raise ConfigError(f"{path}.factor", "must be above 1")
        if not 1 <= self.leave_factor <= self.factor:
            raise ConfigError(f"{path}.leave_factor", "must be between 1 and factor")
        if self.bucket < 10 or self.half_life < self.bucket:
            raise ConfigError(path, "need bucket >= 10 and half_life >= bucket (seconds)")
        if self.day_half_life < 86_400:
            raise ConfigError(f"{path}.day_half_life", "must be a day (86400 s) or more")
        for name in ("min_reads", "min_young_reads", "min_visitor_reads",
                     "min_young_reads_per_day", "min_new_visitors", "cooldown"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{path}.{name}", "must be 0 or more")

    @property
    def alpha(self) -> float:
        """The weight of one complete bucket in the learned rate."""
        return _weight(self.bucket, self.half_life)

    @property
    def day_alpha(self) -> float:
        """The weight of one complete day in the learned daily rates."""
        return _weight(86_400, self.day_half_life)


def _weight(bucket: int, half_life: int) -> float:
    """The weight of one complete ``bucket``-second count in an exponentially weighted
    average in which a count weighs half after ``half_life`` seconds."""
    return 1.0 - 0.5 ** (bucket / half_life)


@dataclass(frozen=True)
class LogSettings:
    decisions: bool = True
    """One JSON line per challenge/throttle/block on the ``antiscrape`` logger."""
    sample_allow: float = 0.0
    """Share of allowed requests also logged (0..1)."""
    raw_ips: bool = False
    """Log raw client IPs; by default only keyed hashes are logged."""
    console: bool = False
    """Also print decision lines on stderr (the ``antiscrape`` logger at INFO, not passed on
    to the root logger): throttles and challenges show without any logging setup."""

    def validate(self, path: str) -> None:
        if not 0.0 <= self.sample_allow <= 1.0:
            raise ConfigError(f"{path}.sample_allow", "must be a share between 0 and 1")


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool = False
    """Export Prometheus metrics (needs the ``prometheus`` extra)."""
    namespace: str = "antiscrape"
    """Prefix of every metric name."""
    latency_buckets: tuple[float, ...] = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025, 0.05, 0.1)
    """Upper bounds (seconds) of the middleware latency histogram's buckets."""
    path: str = "/metrics"
    """Where the application serves the metrics: never inspected or counted (a scraper
    polling it is neither throttled nor part of the figures it reads)."""

    def validate(self, path: str) -> None:
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", self.namespace):
            raise ConfigError(f"{path}.namespace", "letters, digits and '_' only")
        if not self.latency_buckets or list(self.latency_buckets) != sorted(
                set(self.latency_buckets)):
            raise ConfigError(f"{path}.latency_buckets", "need increasing bucket bounds")
        if not self.path.startswith("/"):
            raise ConfigError(f"{path}.path", "must start with '/'")


@dataclass(frozen=True)
class GoodBotSettings:
    verify: tuple[str, ...] = ("googlebot", "bingbot", "applebot", "duckduckbot")
    """Crawlers whose claims are checked against published ranges and reverse DNS."""
    reverse_dns: bool = True
    """Also accept forward-confirmed reverse DNS (looked up in the background, cached)."""
    dns_cache_ttl: int = 86_400
    """Seconds a confirmed reverse-DNS answer is trusted before it is looked up again."""
    ranges_file: str = ""
    """Crawler IP ranges file written by ``antiscrape update-bot-ranges``; empty: shipped data."""
    ai_crawlers: Literal["allow", "throttle", "challenge", "block"] = "throttle"
    """What AI crawlers (training, AI search, assistants) get."""
    categories: dict[str, Literal["allow", "throttle", "challenge", "block"]] = field(
        default_factory=dict)
    """Action per other bot category (``seo``, ``social``, ``monitor``, ``archive``);
    unlisted categories are scored like any other client."""

    def validate(self, path: str) -> None:
        from .goodbots.catalog import BOT_NAMES, CATEGORIES  # lazy: config stays import-light

        for i, name in enumerate(self.verify):
            if name not in BOT_NAMES:
                raise ConfigError(f"{path}.verify[{i}]", f"unknown bot {name!r}; known: "
                                  f"{', '.join(sorted(BOT_NAMES))}")
        for name in self.categories:
            if name not in CATEGORIES:
                raise ConfigError(f"{path}.categories.{name}",
                                  f"unknown category; known: {', '.join(CATEGORIES)}")
        if self.dns_cache_ttl <= 0:
            raise ConfigError(f"{path}.dns_cache_ttl", "must be positive")
        if self.ranges_file and not os.path.isfile(self.ranges_file):
            raise ConfigError(f"{path}.ranges_file", f"no such file: {self.ranges_file}")

    def action_for(self, category: str) -> str | None:
        """The configured action for a bot category, or None to score it normally."""
        if category == "ai":
            return self.ai_crawlers
        return self.categories.get(category)


@dataclass(frozen=True)
class StatusPageSettings:
    enabled: bool = False
    path: str = "/_antiscrape/"
    token: str = ""
    mask: bool = True
    """Show account ids as keyed hashes and paths without query strings, with e-mail
    addresses and phone numbers masked (the decision log's rule); false shows them raw.
    IPs follow ``log.raw_ips``."""

    def validate(self, path: str) -> None:
        if self.enabled and len(self.token) < 16:
            raise ConfigError(f"{path}.token", "an enabled status page needs a token of 16+ chars")


@dataclass(frozen=True)
class Config:
    """Everything antiscrape can be told. docs/configuration.md lists each key, default and unit."""

    secret_key: str = ""
    """Signs challenges and clearance cookies; left empty, the ``ANTISCRAPE_SECRET_KEY``
    environment variable gives it (required unless ``debug``)."""
    old_secret_keys: tuple[str, ...] = ()
    """Previous keys, still accepted for verification during a rotation (held to the same
    strength rule as ``secret_key``: each one can forge a cookie); left empty,
    ``ANTISCRAPE_OLD_SECRET_KEYS`` (comma-separated) gives them."""
    state_secret: str = ""
    """Keys the hashes that replace IPs, user agents and accounts in storage key names and
    logs. Set it once and never rotate it: rotating ``secret_key`` then changes signatures
    only. Empty: the last of ``old_secret_keys``, else ``secret_key`` (stable while that
    key stays listed)."""
    debug: bool = False
    monitor: bool = False
    """Decide, log and count, but never enforce (all rules)."""
    monitor_rules: tuple[str, ...] = ()
    """Rule names (or prefixes like ``"budget"``) that are decided but not enforced."""
    storage: str = "memory://"
    """``memory://`` or a ``limits`` storage URI (``redis://``, ``valkey://``, ...)."""
    storage_options: dict[str, Any] = field(default_factory=dict)
    key_prefix: str = "antiscrape"
    state_cap: int = 200_000
    """Most entries the in-memory state holds; the least recently used are evicted.
    Convictions and spent-challenge markers are held apart (up to a quarter as many again)
    and never evicted to make room."""
    storage_timeout: float = 0.05
    """Seconds a storage call may take before the failure policy applies."""
    fail: Literal["open", "closed"] = "open"
    trusted_proxies: tuple[str, ...] = ()
    """Peers (IPs/CIDRs) whose forwarding header (``forwarded_header``) is believed."""
    forwarded_header: Literal["x-forwarded-for", "forwarded", "x-real-ip"] = "x-forwarded-for"
    """The one header your trusted proxy writes the client address into; every other
    forwarding header is ignored (it is whatever the client sent), with no fallback."""
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    ipv6_client_prefix: int = 64
    cookie_secure: bool | Literal["auto"] = "auto"
    """``Secure`` on antiscrape's cookies: ``"auto"`` sets it on HTTPS requests, including
    those a trusted proxy reports as HTTPS (``X-Forwarded-Proto``, or ``proto=`` of
    ``Forwarded``); ``true`` always; ``false`` never."""
    tls_fingerprint_header: str = ""
    """Header a trusted proxy sets with a TLS/HTTP fingerprint (e.g. ``x-ja4``)."""
    exempt_paths: tuple[str, ...] = ("/static/", "/favicon.ico", "/robots.txt", "/health")
    """Paths never inspected (assets, health checks). An entry matches itself and what lies
    below it (``/health``: ``/health``, ``/health/live``, never ``/healthcare``); one ending
    in ``/`` matches everything under it."""
    route_classes: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"api": ("/api/",)})
    """Route class name -> path prefixes, matched like ``exempt_paths`` (on ``/``
    boundaries); everything else is ``default``."""
    budgets: dict[str, Budget] = field(default_factory=_default_budgets)
    allow: ListRule = field(default_factory=ListRule)
    deny: ListRule = field(default_factory=ListRule)
    scoring: Scoring = field(default_factory=Scoring)
    challenge: ChallengeSettings = field(default_factory=ChallengeSettings)
    protect: tuple[ProtectRule, ...] = ()
    enumeration: EnumerationSettings = field(default_factory=EnumerationSettings)
    visitor: VisitorSettings = field(default_factory=VisitorSettings)
    anonymous: AnonymousSettings = field(default_factory=AnonymousSettings)
    guard: GuardSettings = field(default_factory=GuardSettings)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    good_bots: GoodBotSettings = field(default_factory=GoodBotSettings)
    status_page: StatusPageSettings = field(default_factory=StatusPageSettings)
    rate_limit_headers: bool = False
    """Add ``RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` of the tightest budget to answers."""
    expose_reasons: bool = False
    """Tell refused clients which rule caught them ("budget 1/min per IP exceeded on all
    pages"); off, they read a generic reason and the detail stays in logs and the status
    page."""
    decision_header: bool = False
    """Add ``X-AntiScrape-Decision`` to responses (debugging; off in production)."""

    @property
    def uninspected_paths(self) -> tuple[str, ...]:
        """Path prefixes the engine passes through unjudged: ``exempt_paths``, plus the
        metrics endpoint when metrics are on."""
        if self.metrics.enabled:
            return (*self.exempt_paths, self.metrics.path)
        return tuple(self.exempt_paths)

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def load(cls, source: Config | dict[str, Any] | str | os.PathLike[str] | None = None,
             **overrides: Any) -> Config:
        """Build a config from a Config, a dict, or a path to a TOML file (plus overrides).

        Keys the source leaves empty are filled from the environment (``secret_key`` from
        ``ANTISCRAPE_SECRET_KEY``, ``old_secret_keys`` from ``ANTISCRAPE_OLD_SECRET_KEYS``), so
        a file or settings module can be shared without its secret; a ``Config`` passed as
        is was already loaded and is returned unchanged."""
        if isinstance(source, Config) and not overrides:
            return source
        if isinstance(source, Config):
            data: dict[str, Any] = dump(source)
        elif source is None:
            data = {}
        elif isinstance(source, dict):
            data = dict(source)
        else:
            data = read_toml(source)
        data.update(overrides)
        data = secrets_from_environment(data, os.environ)
        if isinstance(data.get("budgets"), dict):
            data["budgets"] = _merge_budgets(data["budgets"])
        return load(cls, data)

    def validate(self, path: str) -> None:
        if not self.secret_key:
            if not self.debug:
                raise ConfigError(
                    "secret_key",
                    f"required to sign challenges and clearance cookies: set {SECRET_KEY_ENV} "
                    "in the environment (or secret_key in the config; debug = true runs with "
                    "a random per-process key while developing)",
                )
            log.warning("antiscrape: no secret_key; using a random per-process key (debug only)")
        if not self.debug:
            for path, key in (("secret_key", self.secret_key),
                              *((f"old_secret_keys[{i}]", k)
                                for i, k in enumerate(self.old_secret_keys)),
                              ("state_secret", self.state_secret)):
                weakness = key_weakness(key) if key else None
                if weakness is not None:
                    raise ConfigError(path, weakness)
        if not self.storage.split("://", 1)[0] or "://" not in self.storage:
            raise ConfigError("storage", f"expected a URI like memory:// or redis://host, "
                                         f"got {self.storage!r}")
        from .state import storage_schemes  # lazy: config stays import-light

        scheme, known = self.storage.split("://", 1)[0].lower(), storage_schemes()
        if scheme not in known:  # only the scheme is quoted: the URI may hold a password
            raise ConfigError("storage", f"unknown scheme {scheme!r}; use one of "
                                         f"{', '.join(s + '://' for s in known)}")
        if self.state_cap < 1_000:
            raise ConfigError("state_cap", "must be at least 1000 entries")
        if self.storage_timeout <= 0:
            raise ConfigError("storage_timeout", "must be positive")
        if not 8 <= self.ipv4_prefix <= 32:
            raise ConfigError("ipv4_prefix", "must be 8..32")
        if not 16 <= self.ipv6_prefix <= self.ipv6_client_prefix <= 128:
            raise ConfigError("ipv6_prefix", "need 16 <= ipv6_prefix <= ipv6_client_prefix <= 128")
        parse_networks(self.trusted_proxies, "trusted_proxies")
        if "default" not in self.budgets:
            raise ConfigError("budgets", "needs a 'default' route class")
        for name in self.route_classes:
            if name not in self.budgets:
                raise ConfigError(f"route_classes.{name}", f"no budgets.{name} table for it")
        for i, rule in enumerate(self.protect):
            if not rule.route.startswith("/"):
                raise ConfigError(f"protect[{i}].route", "must start with '/'")

    @property
    def signing_keys(self) -> tuple[bytes, ...]:
        """The first key signs; all verify."""
        keys = (self.secret_key, *self.old_secret_keys)
        return tuple(k.encode() for k in keys if k)

    @property
    def state_hash_key(self) -> bytes | None:
        """What keys the hashes in storage key names and logs: ``state_secret``, else the
        oldest signing key (a rotation moves ``secret_key`` to the end of
        ``old_secret_keys``, so that key stays the same); None without any key (debug)."""
        if self.state_secret:
            return self.state_secret.encode()
        keys = self.signing_keys
        return keys[-1] if keys else None

    def is_monitored(self, rule: str) -> bool:
        if self.monitor:
            return True
        return any(rule == r or rule.startswith(r + ":") for r in self.monitor_rules)


SECRET_KEY_ENV = "ANTISCRAPE_SECRET_KEY"
"""Environment variable read for ``secret_key`` when the config does not set it."""
OLD_SECRET_KEYS_ENV = "ANTISCRAPE_OLD_SECRET_KEYS"
"""Environment variable read for ``old_secret_keys`` (comma-separated) when the config does
not set them."""


def secrets_from_environment(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """``data`` with the signing keys it leaves empty taken from ``environ``.

    Secrets belong in the environment (or a secret store that fills it), not in a file that
    is copied between machines and into version control; one rule for every entry point (the
    CLI, the three adapters, the examples) means a config that starts the application also
    passes ``antiscrape check``. A value the config does give wins: an explicit setting is
    never overridden behind the operator's back. Surrounding whitespace (the newline of a
    ``$(cat keyfile)``) is not part of a key.
    """
    out = data
    secret = environ.get(SECRET_KEY_ENV, "").strip()
    if secret and not data.get("secret_key"):
        out = {**out, "secret_key": secret}
    old = environ.get(OLD_SECRET_KEYS_ENV, "")
    old_keys = [key.strip() for key in old.split(",") if key.strip()]
    if old_keys and not data.get("old_secret_keys"):
        out = {**out, "old_secret_keys": old_keys}
    return out


def _merge_budgets(given: dict[str, Any]) -> dict[str, Any]:
    """Budget tables refine the defaults instead of replacing them: naming one level of one
    class keeps every other class and level at its documented default."""
    merged: dict[str, Any] = {name: dump(b) for name, b in _default_budgets().items()}
    for name, table in given.items():
        if isinstance(table, Budget):
            table = dump(table)
        if not isinstance(table, dict):
            merged[name] = table  # let the loader report the type error with its path
            continue
        merged[name] = {**merged.get(name, dump(Budget())), **table}
    return merged


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError("", f"config file not found: {p}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{p} is not valid TOML: {exc}") from exc
    # A file may nest everything under [antiscrape] (handy inside pyproject-like files).
    if set(data) == {"antiscrape"} and isinstance(data["antiscrape"], dict):
        data = data["antiscrape"]
    return data
