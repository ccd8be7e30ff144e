"""Risk signals: small pure functions from request traits to (points, reason).

Each signal looks at one thing; ``score_request`` adds them up (capped at 100) and keeps the
reasons, so every decision can say *why* a client looks risky.
"""

from __future__ import annotations

from collections.abc import Mapping

from .clienthints import contradiction
from .config import Scoring
from .useragent import UAInfo


def ua_signals(ua: UAInfo, w: Scoring) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    if ua.empty:
        out.append((w.empty_user_agent, "empty user agent"))
        return out
    if ua.headless:
        out.append((w.headless_browser, f"automation tool in user agent ({ua.automation})"))
    elif ua.automation:
        out.append((w.automation_tool, f"HTTP library in user agent ({ua.automation})"))
    elif ua.crawler:
        out.append((w.known_crawler, "crawler user agent"))
    elif ua.family in ("Other", ""):
        out.append((w.unparseable_user_agent, "unrecognised user agent"))
    return out


def header_signals(ua: UAInfo, headers: Mapping[str, str], secure: bool,
                   w: Scoring) -> list[tuple[int, str]]:
    """Does the request look like what the browser it claims to be always sends?"""
    out: list[tuple[int, str]] = []
    if "accept" not in headers:
        out.append((w.missing_accept, "no Accept header"))
    if not ua.claims_browser:
        return out
    if "accept-language" not in headers:
        out.append((w.missing_accept_language, "browser without Accept-Language"))
    if "accept-encoding" not in headers:
        out.append((w.missing_accept_encoding, "browser without Accept-Encoding"))
    modern = (ua.family.startswith(("Chrome", "Edge", "Opera", "Samsung", "Brave")) and
              (ua.major or 0) >= 80) or (ua.family.startswith("Firefox") and (ua.major or 0) >= 90)
    if modern and "sec-fetch-mode" not in headers:
        out.append((w.missing_sec_fetch, "modern browser without Sec-Fetch headers"))
    hints = headers.get("sec-ch-ua")
    if hints is None:
        # Chromium sends client hints only to secure origins (HTTPS or localhost).
        if ua.chromium and secure:
            out.append((w.missing_client_hints, "Chromium without sec-ch-ua"))
    else:
        why = contradiction(ua.raw, ua.chromium, hints)
        if why is not None:
            out.append((w.client_hints_mismatch, why))
    return out


_KEPT_HINTS_MAX = 256
"""Client hints longer than this are scored every time rather than kept as a cache key
(browsers send under 100 characters; the client chooses this value)."""


def score_traits(ua: UAInfo, headers: Mapping[str, str],
                 secure: bool) -> tuple[object, ...] | None:
    """Everything :func:`score_request` reads, as a hashable key: requests with equal traits
    get equal scores, so the engine scores each combination once (a returning browser then
    costs one look-up). None: not worth keeping (an oversized sec-ch-ua). Keep in step with
    the signals above."""
    hints = headers.get("sec-ch-ua")
    if hints is not None and len(hints) > _KEPT_HINTS_MAX:
        return None
    return (ua.raw, secure, "accept" in headers, "accept-language" in headers,
            "accept-encoding" in headers, "sec-fetch-mode" in headers, hints)


def score_request(ua: UAInfo, headers: Mapping[str, str], secure: bool,
                  w: Scoring) -> tuple[int, tuple[str, ...]]:
    """Risk score 0..100 from the request alone, and the reasons behind it."""
    found = ua_signals(ua, w)
    found += header_signals(ua, headers, secure, w)
    if not found:
        return 0, ()
    score = min(100, sum(points for points, _ in found))
    return score, tuple(reason for points, reason in found if points > 0)


def budget_factor(score: int, floor: float) -> float:
    """Share of the full budget a client at ``score`` gets: 1 for a clean browser, falling
    quadratically to ``floor`` at 100, so mild oddities cost little and clear risk a lot."""
    if score <= 0:
        return 1.0
    remaining = 1.0 - min(score, 100) / 100.0
    return max(floor, remaining * remaining)
