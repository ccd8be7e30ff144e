"""The live status page: recent decisions and the identities scoring highest right now.

Framework-neutral. ``StatusBoard`` is an engine observer (``observer(view, decision,
seconds)``) that keeps two bounded rings of recent decisions (all of them, and refusals only,
so a flood of allowed traffic cannot push the interesting lines out) and a bounded
least-recently-seen table of identities. ``StatusBoard.reply(view)`` renders the page as a
``Reply`` once the caller presents the configured token; the page is off unless
``[status_page] enabled = true`` with a token of 16+ characters.

Why an observer and not storage: the page is a window on *this* process, for the person
running it (the demo, a staging box). It costs a deque append or two and a dict update per
request (labels, hashes and clipping are left to the reader), and nothing is written anywhere.
Raw IPs appear only when ``log.raw_ips`` is set; otherwise the same keyed hashes the logs use.
"""

from __future__ import annotations

import heapq
import hmac
import html
import json
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from .clock import Clock, system_clock
from .config import Config, StatusPageSettings
from .decision import Action, Decision, Identity, Reply
from .keys import Keys
from .masking import mask_text
from .replies import protective_headers
from .request import RequestView

_PATH_MAX = 160
_REASON_MAX = 240

_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _headers(content_type: str) -> tuple[tuple[str, str], ...]:
    """The status page differs by the token presented, never by Accept."""
    return tuple(protective_headers(content_type, _CSP, vary="Authorization"))


@dataclass(frozen=True, slots=True)
class RecentDecision:
    at: float
    method: str
    path: str
    action: str
    enforced: bool
    score: int
    rule: str
    reason: str
    who: str
    micros: int


_Entry = tuple[float, str, str, Decision, str, float]
"""(at, method, path, decision, raw who, seconds): what the observer keeps per decision."""


class _Stats:
    """Running figures of one identity, kept raw (labelled when read)."""

    __slots__ = ("identity", "last", "last_seen", "max_score", "refused", "requests")

    def __init__(self, identity: Identity | None) -> None:
        self.identity = identity
        self.requests = 0
        self.refused = 0
        self.max_score = 0
        self.last: Decision | None = None
        self.last_seen = 0.0


@dataclass(slots=True)
class IdentityStats:
    who: str
    network: str
    fingerprint: str
    account: str
    requests: int = 0
    refused: int = 0
    score: int = 0
    max_score: int = 0
    last_action: str = ""
    last_reason: str = ""
    last_seen: float = 0.0


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def token_matches(expected: str, presented: str | None) -> bool:
    """Constant-time token check; an empty configured token never matches."""
    if not expected or presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "surrogatepass"))


def presented_token(view: RequestView) -> str | None:
    """The token from ``Authorization: Bearer ...`` or, for a browser, ``?token=...``."""
    auth = view.header("authorization")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if "token=" in view.query and len(view.query) <= 2_048:
        values = parse_qs(view.query, max_num_fields=20).get("token")
        if values:
            return values[0]
    return None


class StatusBoard:
    """Observer plus page. Thread-safe: WSGI servers call observers from many threads."""

    def __init__(self, settings: StatusPageSettings, *,
                 label_ip: Callable[[str], str] | None = None,
                 label_account: Callable[[str], str] | None = None, recent: int = 200,
                 refusals: int = 200, identities: int = 5_000,
                 clock: Clock = system_clock) -> None:
        self.settings = settings
        self._label_ip = label_ip or (lambda ip: ip)
        self._label_account = label_account or (lambda account: account)
        self._recent: deque[_Entry] = deque(maxlen=recent)
        self._refusals: deque[_Entry] = deque(maxlen=refusals)
        self._identities: OrderedDict[str, _Stats] = OrderedDict()
        self._identity_cap = identities
        self._counts: Counter[tuple[Action, bool]] = Counter()
        self._lock = threading.Lock()
        self._clock = clock
        self._started = clock()

    @classmethod
    def from_config(cls, config: Config, *, clock: Clock = system_clock) -> StatusBoard:
        """Labels identities the way the decision log does (raw IPs only with ``raw_ips``)."""
        hashed = Keys(config.key_prefix, config.state_hash_key or b"antiscrape-status").hashed
        label = None if config.log.raw_ips else hashed
        account = hashed if config.status_page.mask else None
        return cls(config.status_page, label_ip=label, label_account=account, clock=clock)

    # -- observer --------------------------------------------------------------------------

    def __call__(self, view: RequestView, decision: Decision, seconds: float) -> None:
        # Hot path: store references only; labels, hashes and clipping wait for a reader.
        identity = decision.identity
        if identity is not None:
            who = "account:" + identity.account if identity.account else identity.ip
        else:
            who = view.peer or "?"
        now = self._clock()
        entry = (now, view.method, view.path, decision, who, seconds)
        action = decision.action
        with self._lock:
            self._counts[(action, decision.enforced)] += 1
            self._recent.append(entry)
            if action is not Action.ALLOW:
                self._refusals.append(entry)
            stats = self._identities.get(who)
            if stats is None:
                stats = self._identities[who] = _Stats(identity)
                if len(self._identities) > self._identity_cap:
                    self._identities.popitem(last=False)
            else:
                self._identities.move_to_end(who)
                if identity is not None:
                    stats.identity = identity
            stats.requests += 1
            if action is not Action.ALLOW and decision.enforced:
                stats.refused += 1
            stats.last = decision
            stats.last_seen = now
            if decision.score > stats.max_score:
                stats.max_score = decision.score

    # -- reading ---------------------------------------------------------------------------

    def _label(self, who: str) -> str:
        if who.startswith("account:"):
            return "account:" + self._label_account(who[8:])
        return self._label_ip(who)

    def _path(self, path: str) -> str:
        """A path as the page shows it: never a query string, and with ``mask`` e-mail
        addresses and phone numbers in it masked (``/users/a***@example.com``)."""
        path = path.split("?", 1)[0]
        return mask_text(path) if self.settings.mask else path

    def _entry(self, raw: _Entry) -> RecentDecision:
        at, method, path, decision, who, seconds = raw
        return RecentDecision(
            at=at, method=_clip(method, 10), path=_clip(self._path(path), _PATH_MAX),
            action=str(decision.action), enforced=decision.enforced, score=decision.score,
            rule=_clip(decision.rule, 60), reason=_clip(decision.reason, _REASON_MAX),
            who=self._label(who), micros=int(seconds * 1_000_000))

    def recent(self, refusals_only: bool = False) -> list[RecentDecision]:
        """Newest first."""
        with self._lock:
            ring = list(self._refusals if refusals_only else self._recent)
        return [self._entry(raw) for raw in reversed(ring)]

    def top(self, n: int = 25) -> list[IdentityStats]:
        """Identities seen recently, highest score first (then most refusals, most requests)."""
        with self._lock:
            best = heapq.nlargest(n, self._identities.items(), key=lambda kv: (
                kv[1].max_score, kv[1].refused, kv[1].requests))
            rows = [(who, s.identity, s.requests, s.refused, s.max_score, s.last, s.last_seen)
                    for who, s in best]
        out = []
        for who, identity, requests, refused, max_score, last, seen in rows:
            out.append(IdentityStats(
                who=self._label(who),
                network=self._label_ip(identity.network) if identity else "",
                fingerprint=identity.fingerprint[:12] if identity else "",
                account=self._label_account(identity.account) if identity and
                identity.account else "",
                requests=requests, refused=refused,
                score=last.score if last else 0, max_score=max_score,
                last_action=str(last.action) if last else "",
                last_reason=_clip(last.reason, _REASON_MAX) if last else "", last_seen=seen))
        return out

    def counts(self) -> dict[str, int]:
        with self._lock:
            counts = list(self._counts.items())
        return {(str(action) if enforced else f"{action} (monitor)"): n
                for (action, enforced), n in counts}

    # -- the page --------------------------------------------------------------------------

    def matches(self, path: str) -> bool:
        """True when the request is for the status page (and the page is enabled)."""
        prefix = self.settings.path
        return self.settings.enabled and (path == prefix or path == prefix.rstrip("/"))

    def reply(self, view: RequestView) -> Reply | None:
        """The page for an authorised request to it; 401 with a bare message otherwise.

        Returns None when the request is not for the status page (or the page is disabled),
        so the caller passes it to the application as usual.
        """
        if not self.matches(view.path):
            return None
        if not token_matches(self.settings.token, presented_token(view)):
            return Reply(401, (*_headers("text/plain; charset=utf-8"),
                               ("www-authenticate", 'Bearer realm="antiscrape status"')),
                         b"antiscrape status page: token missing or wrong\n")
        if "format=json" in view.query:
            body = json.dumps(self.snapshot(), separators=(",", ":")).encode()
            return Reply(200, _headers("application/json"), body)
        return Reply(200, _headers("text/html; charset=utf-8"), self.render().encode())

    def operator_visit(self, view: RequestView) -> Decision | None:
        """The status page for a request presenting the right token, before any scoring;
        None for every other request, which the policy then judges like any other.

        An operator's headless browser or monitoring script scores like the automation it
        is; the token is the proof that it is the operator, so on this one path it skips
        the score, budgets and challenges (a wrong token gets no such pass: guessing stays
        budgeted, and refused before it ever reaches the comparison)."""
        if not self.matches(view.path) or \
                not token_matches(self.settings.token, presented_token(view)):
            return None
        return Decision(Action.ALLOW, "status page: operator token", rule="status",
                        reply=self.reply(view))

    @staticmethod
    def without_token(view: RequestView) -> RequestView:
        """``view`` with no ``token`` in its query string, for a status-page request the
        policy is about to judge: a challenge page seals the query into its return path,
        and a token (even a mistyped one) must not travel there or into logs."""
        if not view.query:
            return view
        kept = "&".join(part for part in view.query.split("&")
                        if unquote_plus(part.partition("=")[0]) != "token")
        return replace(view, query=kept)

    guard: Any = None
    """The engine's site guard (``antiscrape.people.People``) when visitors are on: its mode
    and each series' state are shown."""

    def guard_state(self) -> dict[str, object] | None:
        """The site guard's mode (forced or learned) and each series as last seen."""
        if self.guard is None:
            return None
        return {"mode": self.guard.guard.mode, "series": self.guard.state()}

    def snapshot(self) -> dict[str, object]:
        return {
            "guard": self.guard_state(),
            "counts": self.counts(),
            "top": [asdict(s) for s in self.top()],
            "recent_refusals": [asdict(r) for r in self.recent(refusals_only=True)[:50]],
            "recent": [asdict(r) for r in self.recent()[:50]],
        }

    def render(self) -> str:
        """The whole page as HTML; every value from a request is escaped."""
        now = self._clock()
        e = html.escape
        counts = " · ".join(f"{e(k)}: {v}" for k, v in sorted(self.counts().items())) or "none"

        def ago(ts: float) -> str:
            return f"{max(0.0, now - ts):.0f}s"

        top_rows = "".join(
            f"<tr><td>{e(s.who)}</td><td>{e(s.network)}</td><td><code>{e(s.fingerprint)}"
            f"</code></td><td>{s.requests}</td><td>{s.refused}</td><td>{s.score}</td>"
            f"<td>{s.max_score}</td><td class={e(s.last_action)}>{e(s.last_action)}</td>"
            f"<td>{e(s.last_reason)}</td><td>{ago(s.last_seen)}</td></tr>"
            for s in self.top()
        )

        def decision_rows(rows: list[RecentDecision]) -> str:
            return "".join(
                f"<tr><td>{ago(r.at)}</td><td class={e(r.action)}>{e(r.action)}"
                f"{'' if r.enforced else ' (monitor)'}</td><td>{r.score}</td>"
                f"<td>{e(r.method)} {e(r.path)}</td><td>{e(r.who)}</td><td>{e(r.rule)}</td>"
                f"<td>{e(r.reason)}</td><td>{r.micros}</td></tr>"
                for r in rows[:100]
            )

        guard = self.guard_state()
        guard_html = ""
        if guard is not None:
            mode = str(guard["mode"])
            said = {"on": "forced ON in config", "off": "forced OFF in config",
                    "auto": "learned (guard.mode = auto)"}[mode]
            rows = "".join(
                f"<tr><td>{e(name)}</td><td class={'block' if st['guarded'] else 'allow'}>"
                f"{'GUARDED' if st['guarded'] else 'calm'}</td><td>{st['rate']:.0f}</td>"
                f"<td>{st['usual']:.1f}</td></tr>"
                for name, st in guard["series"].items())  # type: ignore[union-attr]
            guard_html = (f"<h2>Site guard: {e(said)}</h2><table><tr><th>series</th>"
                          "<th>state</th><th>last bucket</th><th>usual</th></tr>"
                          f"{rows}</table>")
        head = ("<tr><th>ago</th><th>action</th><th>score</th><th>request</th><th>who</th>"
                "<th>rule</th><th>reason</th><th>µs</th></tr>")
        uptime = time.strftime("%H:%M:%S", time.gmtime(max(0.0, now - self._started)))
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta http-equiv=refresh content=5><title>antiscrape status</title><style>"
            "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem}table{border-collapse:"
            "collapse;margin-bottom:2rem}td,th{border-bottom:1px solid #ddd;padding:.2rem "
            ".5rem;text-align:left;vertical-align:top}.block{color:#b00020}.challenge{color:"
            "#a15c00}.throttle{color:#6a5acd}.allow{color:#2e7d32}</style></head><body>"
            f"<h1>antiscrape status</h1><p>Up {uptime} · decisions: {counts}</p>{guard_html}"
            "<h2>Top identities by score</h2><table><tr><th>who</th><th>network</th>"
            "<th>fingerprint</th><th>requests</th><th>refused</th><th>score</th><th>max</th>"
            f"<th>last action</th><th>last reason</th><th>seen</th></tr>{top_rows}</table>"
            f"<h2>Recent refusals</h2><table>{head}"
            f"{decision_rows(self.recent(refusals_only=True))}</table>"
            f"<h2>Recent decisions</h2><table>{head}{decision_rows(self.recent())}</table>"
            "</body></html>"
        )
