"""Adds up replayed decisions into what an operator tunes with.

Per request: action, rule and score histograms. Per client (the logged IP): requests, highest
score, strictest action, distinct protected records read, and, for clients that grow heavy or
get flagged, requests per minute (for the offenders plot). Client state is capped at
``max_clients`` so a multi-GB log with millions of addresses keeps bounded memory; clients past
the cap still count in the per-request figures and are reported as overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..decision import SEVERITY, Action, Decision

ACTIONS = (Action.ALLOW, Action.THROTTLE, Action.CHALLENGE, Action.BLOCK)
_BY_SEVERITY = {v: k for k, v in SEVERITY.items()}
ALLOW = Action.ALLOW

TRACK_AFTER = 20
"""Requests after which a client's per-minute series is kept (cheap clients never plot)."""
MAX_TRACKED = 5_000
MAX_RECORDS = 10_000
"""Distinct protected records remembered per client (the count saturates there)."""


@dataclass(slots=True)
class ClientStats:
    requests: int = 0
    max_score: int = 0
    worst: int = 0
    """Severity of the strictest action (see ``decision.SEVERITY``)."""
    worst_rule: str = ""
    worst_reason: str = ""
    first: float = 0.0
    last: float = 0.0
    user_agent: str = ""
    records: set[str] | None = None
    series: dict[int, int] | None = None
    """Requests per minute (epoch minute -> count), once tracked."""
    flagged: int = 0
    """Requests that were not allowed."""
    order: int = 0
    """Log line of the client's first request: breaks ranking ties the same way however the
    log was split across worker processes."""


class Tally:
    """Counts of one replay (or of one shard of it: see :meth:`merge`)."""

    def __init__(self, challenge_at: int, block_at: int, max_clients: int = 1_000_000) -> None:
        self.challenge_at = challenge_at
        self.block_at = block_at
        self.max_clients = max_clients
        self.lines = 0
        self.malformed = 0
        self.requests = 0
        self.actions: dict[str, int] = {a.value: 0 for a in ACTIONS}
        self.rules: dict[tuple[str, str], list[Any]] = {}
        """(action, rule) -> [requests, example reason, line of the example]."""
        self.scores = [0] * 101
        self.clients: dict[str, ClientStats] = {}
        self.overflow_clients = 0
        self._first = math.inf
        self._last = -math.inf
        self._tracked = 0

    @property
    def first(self) -> float | None:
        """Timestamp of the earliest replayed request (None before any)."""
        return None if self._first == math.inf else self._first

    @property
    def last(self) -> float | None:
        return None if self._last == -math.inf else self._last

    def add(self, ip: str, timestamp: float, user_agent: str, target: str,
            decision: Decision, line: int = 0) -> None:
        """Count one replayed request (hot loop: plain attribute and dict work only).

        ``line`` is the request's line number in the log; it picks the example reasons and
        breaks ranking ties, so a sharded replay reports what a single process would.
        """
        self.requests += 1
        action = decision.action
        self.actions[action] += 1  # Action is a StrEnum: it hashes and compares as its value
        score = decision.score
        self.scores[score if 0 <= score <= 100 else (0 if score < 0 else 100)] += 1
        if timestamp < self._first:
            self._first = timestamp
        if timestamp > self._last:
            self._last = timestamp
        severity = 0 if action is ALLOW else SEVERITY[action]
        if severity:
            key = (action.value, decision.rule)
            entry = self.rules.get(key)
            if entry is None:
                self.rules[key] = [1, decision.reason, line]
            else:
                entry[0] += 1
        client = self.clients.get(ip)
        if client is None:
            if len(self.clients) >= self.max_clients:
                self.overflow_clients += 1  # may count an overflowing client more than once
                return
            client = self.clients[ip] = ClientStats(first=timestamp, user_agent=user_agent,
                                                    order=line)
        client.requests += 1
        client.last = timestamp
        if score > client.max_score:
            client.max_score = score
        if severity:
            client.flagged += 1
            if severity > client.worst:
                client.worst = severity
                client.worst_rule = decision.rule
                client.worst_reason = decision.reason
        if decision.kind is not None:
            records = client.records
            if records is None:
                records = client.records = set()
            if len(records) < MAX_RECORDS:
                records.add(decision.kind + ":" + target.split("?", 1)[0])
        series = client.series
        if series is None:
            if (client.requests >= TRACK_AFTER or severity) and self._tracked < MAX_TRACKED:
                series = client.series = {}
                self._tracked += 1
            else:
                return
        minute = int(timestamp // 60)
        series[minute] = series.get(minute, 0) + 1

    def merge(self, other: Tally) -> None:
        """Fold in the tally of another shard of the same log.

        Shards split the log by client network, so their client tables are disjoint; each
        line is owned by one shard (malformed ones too) but read by all, so ``lines`` is not
        summed. Example reasons keep the earliest line's, as a single pass would.
        """
        self.lines = max(self.lines, other.lines)
        self.malformed += other.malformed
        self.requests += other.requests
        for action, n in other.actions.items():
            self.actions[action] += n
        for key, (n, reason, line) in other.rules.items():
            entry = self.rules.get(key)
            if entry is None:
                self.rules[key] = [n, reason, line]
            else:
                entry[0] += n
                if line < entry[2]:
                    entry[1], entry[2] = reason, line
        for score, n in enumerate(other.scores):
            self.scores[score] += n
        for ip, stats in other.clients.items():
            if ip in self.clients:
                raise ValueError(f"client {ip} counted in two shards")
            self.clients[ip] = stats
        self.overflow_clients += other.overflow_clients
        self._first = min(self._first, other._first)
        self._last = max(self._last, other._last)
        self._tracked += other._tracked

    # -- results -----------------------------------------------------------------------------

    def client_actions(self) -> dict[str, int]:
        out = {a.value: 0 for a in ACTIONS}
        for client in self.clients.values():
            out[_BY_SEVERITY[client.worst].value] += 1
        return out

    def client_scores(self) -> list[int]:
        hist = [0] * 101
        for client in self.clients.values():
            hist[client.max_score] += 1
        return hist

    def what_if(self) -> list[dict[str, int]]:
        """For each threshold 0..100: clients and requests at or above it."""
        clients = self.client_scores()
        out: list[dict[str, int]] = []
        req_above = cli_above = 0
        for threshold in range(100, -1, -1):
            req_above += self.scores[threshold]
            cli_above += clients[threshold]
            out.append({"threshold": threshold, "requests": req_above, "clients": cli_above})
        out.reverse()
        return out

    def top_offenders(self, n: int = 10) -> list[tuple[str, ClientStats]]:
        """Most refused requests first, then most requests, then strictest action and
        distinct records read; among equals, the client that showed up first.

        Refused requests come first because they are what enforcing would change: a client
        refused 3,000 times matters more to the operator than one blocked on its only
        request, though the single block is the stricter action."""
        def rank(item: tuple[str, ClientStats]) -> tuple[int, int, int, int, int]:
            c = item[1]
            return (c.flagged, c.requests, c.worst, len(c.records or ()), -c.order)

        flagged = [item for item in self.clients.items() if item[1].worst > 0]
        return sorted(flagged, key=rank, reverse=True)[:n]

    def summary(self, top: int = 10) -> dict[str, Any]:
        """Everything the text and HTML reports show, as plain JSON-able data."""
        rules = sorted(((a, r, v[0], v[1]) for (a, r), v in self.rules.items()),
                       key=lambda t: (-SEVERITY[Action(t[0])], -t[2]))
        return {
            "lines": self.lines,
            "malformed": self.malformed,
            "requests": self.requests,
            "clients": len(self.clients) + self.overflow_clients,
            "clients_overflow": self.overflow_clients,
            "first": self.first,
            "last": self.last,
            "thresholds": {"challenge_at": self.challenge_at, "block_at": self.block_at},
            "requests_by_action": dict(self.actions),
            "clients_by_action": self.client_actions(),
            "by_rule": [{"action": a, "rule": r, "requests": n, "example": reason}
                        for a, r, n, reason in rules],
            "request_scores": list(self.scores),
            "client_scores": self.client_scores(),
            "what_if": self.what_if(),
            "top_offenders": [
                {"client": ip, "requests": c.requests, "flagged": c.flagged,
                 "max_score": c.max_score, "action": _BY_SEVERITY[c.worst].value,
                 "rule": c.worst_rule, "reason": c.worst_reason,
                 "distinct_records": len(c.records or ()), "user_agent": c.user_agent,
                 "first": c.first, "last": c.last,
                 "series": sorted((c.series or {}).items())}
                for ip, c in self.top_offenders(top)
            ],
        }
