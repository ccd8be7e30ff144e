"""Adds up replayed decisions into what an operator tunes with.

Per request: action, rule and score histograms. Per client (the logged IP): requests, highest
score, strictest action, distinct protected records read, and, for clients that grow heavy or
get flagged, requests per minute (for the offenders plot). Client state is capped at
``max_clients`` so a multi-GB log with millions of addresses keeps bounded memory; clients past
the cap still count in the per-request figures and are reported as overflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..decision import SEVERITY, Action, Decision

ACTIONS = (Action.ALLOW, Action.THROTTLE, Action.CHALLENGE, Action.BLOCK)
_BY_SEVERITY = {v: k for k, v in SEVERITY.items()}

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


@dataclass
class Tally:
    challenge_at: int
    block_at: int
    max_clients: int = 1_000_000
    lines: int = 0
    malformed: int = 0
    requests: int = 0
    actions: dict[str, int] = field(default_factory=lambda: {a.value: 0 for a in ACTIONS})
    rules: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    scores: list[int] = field(default_factory=lambda: [0] * 101)
    clients: dict[str, ClientStats] = field(default_factory=dict)
    overflow_clients: int = 0
    first: float | None = None
    last: float | None = None
    _tracked: int = 0

    def add(self, ip: str, timestamp: float, user_agent: str, target: str,
            decision: Decision) -> None:
        """Count one replayed request (hot loop: plain attribute and dict work only)."""
        self.requests += 1
        action = decision.action
        self.actions[action.value] += 1
        score = decision.score
        self.scores[score if 0 <= score <= 100 else (0 if score < 0 else 100)] += 1
        if self.first is None or timestamp < self.first:
            self.first = timestamp
        if self.last is None or timestamp > self.last:
            self.last = timestamp
        severity = SEVERITY[action]
        if severity:
            key = (action.value, decision.rule)
            entry = self.rules.get(key)
            if entry is None:
                self.rules[key] = [1, decision.reason]
            else:
                entry[0] += 1
        client = self.clients.get(ip)
        if client is None:
            if len(self.clients) >= self.max_clients:
                self.overflow_clients += 1  # may count an overflowing client more than once
                return
            client = self.clients[ip] = ClientStats(first=timestamp, user_agent=user_agent)
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
        """Strictest action first, then distinct records read, then requests."""
        def rank(item: tuple[str, ClientStats]) -> tuple[int, int, int, int]:
            c = item[1]
            return (c.worst, len(c.records or ()), c.flagged, c.requests)

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
