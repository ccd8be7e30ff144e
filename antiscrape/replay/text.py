"""The replay summary as plain text for the terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

_ORDER = ("allow", "throttle", "challenge", "block")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _share(part: int, whole: int) -> str:
    return f"{part / whole:6.1%}" if whole else "     -"


def format_summary(s: dict[str, Any], *, lines_per_second: float | None = None,
                   workers: int = 1) -> str:
    out: list[str] = []
    add = out.append
    add(f"lines: {s['lines']:,}   requests replayed: {s['requests']:,}   "
        f"malformed (skipped): {s['malformed']:,}")
    add(f"time span: {_when(s['first'])} .. {_when(s['last'])}")
    if lines_per_second is not None:
        add(f"speed: {lines_per_second:,.0f} lines/s"
            + (f" ({workers} worker processes)" if workers > 1 else ""))
    th = s["thresholds"]
    add(f"thresholds: challenge_at={th['challenge_at']}  block_at={th['block_at']}")
    add("")
    add(f"{'would be':<12}{'clients':>10}{'':>8}{'requests':>12}{'':>8}")
    for action in _ORDER:
        c = s["clients_by_action"][action]
        r = s["requests_by_action"][action]
        add(f"{action:<12}{c:>10,}{_share(c, s['clients']):>8}{r:>12,}"
            f"{_share(r, s['requests']):>8}")
    if s["clients_overflow"]:
        add(f"(client table full: {s['clients_overflow']:,} later clients counted only "
            f"per request)")
    if s["by_rule"]:
        add("")
        add("by rule (requests; an example reason):")
        for row in s["by_rule"][:15]:
            add(f"  {row['action']:<10}{row['rule']:<24}{row['requests']:>9,}  "
                f"{row['example'][:90]}")
    if s["top_offenders"]:
        add("")
        add("top offenders (most refused requests, then most requests):")
        add(f"  {'client':<40}{'action':<11}{'score':>6}{'records':>9}{'requests':>10}"
            f"{'refused':>9}  rule")
        for o in s["top_offenders"]:
            add(f"  {o['client'][:39]:<40}{o['action']:<11}{o['max_score']:>6}"
                f"{o['distinct_records']:>9,}{o['requests']:>10,}{o['flagged']:>9,}  "
                f"{o['rule']}")
    return "\n".join(out)
