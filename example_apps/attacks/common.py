"""What every client of the demo shares: the tally it returns, browser header sets, and the
guard that keeps these scripts pointed at the local machine only."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REFUSED = frozenset({401, 403, 429, 503})
"""Answers that mean "not for you": a throttle, a challenge page, a block."""


def require_local(base_url: str) -> str:
    """Refuse any target but this machine: these scripts are load, not a tool against others."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"need a URL like http://127.0.0.1:8000, got {base_url!r}")
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError
        except ValueError:
            raise ValueError(f"attack scripts only run against 127.0.0.1/localhost, "
                             f"not {host!r}") from None
    return base_url.rstrip("/")


@dataclass
class Outcome:
    """What one client obtained: the figures the demo table and the tests read."""

    name: str
    requests: int = 0
    profiles: set[str] = field(default_factory=set)
    """Distinct profile ids whose page (or JSON) was actually served."""
    statuses: Counter[int] = field(default_factory=Counter)
    stopped: str = ""
    """Why the client stopped: finished its plan, gave up after refusals, hit its cap."""
    refused_at: int | None = None
    """Request number of the first refusal (None: never refused)."""
    refused_after: float | None = None
    """Seconds from the start to the first refusal, where the client measured it."""
    refused_how: str = ""
    """How the first refusal was made: the decision header antiscrape adds (``decision_header``
    on), or its challenge marker."""

    def record(self, status: int, headers: Mapping[str, Any] | None = None) -> None:
        self.requests += 1
        self.statuses[status] += 1
        if status in REFUSED and self.refused_at is None:
            self.refused_at = self.requests
            self.refused_how = refusal_label(status, headers or {})

    @property
    def refused(self) -> int:
        return sum(n for status, n in self.statuses.items() if status in REFUSED)

    def answers(self) -> str:
        """``200: 31, 429: 10``: the status counts, most frequent first."""
        return ", ".join(f"{s}: {n}" for s, n in self.statuses.most_common()) or "-"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "requests": self.requests,
                "profiles": sorted(self.profiles), "statuses": dict(self.statuses),
                "stopped": self.stopped, "refused_at": self.refused_at,
                "refused_how": self.refused_how}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(name=data["name"], requests=data["requests"],
                   profiles=set(data["profiles"]),
                   statuses=Counter({int(k): v for k, v in data["statuses"].items()}),
                   stopped=data["stopped"], refused_at=data["refused_at"],
                   refused_how=data.get("refused_how", ""))

    def summary(self) -> str:
        return json.dumps({**self.to_json(), "profiles": len(self.profiles)})


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def refusal_label(status: int, headers: Mapping[str, Any]) -> str:
    """``403 challenge`` / ``429 throttle (rule=budget:ip)``: what a refusal was, from headers."""
    decision = headers.get("x-antiscrape-decision")
    if decision:
        action, _, rest = _text(decision).partition(";")
        rule = next((p.strip() for p in rest.split(";") if p.strip().startswith("rule=")), "")
        return f"{status} {action.strip()}" + (f" ({rule})" if rule else "")
    if headers.get("x-antiscrape-challenge"):
        return f"{status} challenge"
    return str(status)


class GiveUp:
    """Counts consecutive refusals; a bounded client stops after ``limit`` in a row."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.streak = 0

    def after(self, status: int) -> bool:
        self.streak = self.streak + 1 if status in REFUSED else 0
        return self.streak >= self.limit


CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/126.0.0.0 Safari/537.36")
CHROME_NAVIGATION = {
    "User-Agent": CHROME_UA,
    "Accept": ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
               "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
    "sec-ch-ua": '"Not/A)Brand";v="8", "Chromium";v="126", "Google Chrome";v="126"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Windows"',
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-User": "?1",
    "Upgrade-Insecure-Requests": "1",
}
"""Everything Chrome 126 on Windows sends on a link click, in its order."""

FIREFOX_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 "
              "Firefox/127.0")
FIREFOX_NAVIGATION = {
    "User-Agent": FIREFOX_UA,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.7,fr;q=0.3",
    "Accept-Encoding": "gzip, deflate, br",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-User": "?1",
    "Upgrade-Insecure-Requests": "1",
}
"""Firefox sends no client hints (``sec-ch-ua``); a browser check must not expect them."""
