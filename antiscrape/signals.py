"""Risk signals: small pure functions from request traits to (points, reason).

Each signal looks at one thing; ``score_request`` adds them up (capped at 100) and keeps the
reasons, so every decision can say *why* a client looks risky.
"""

from __future__ import annotations

from collections.abc import Mapping

from .clienthints import contradiction
from .config import Scoring
from .useragent import UAInfo

ScoreTraits = tuple[str, bool, bool, bool, bool, bool, str | None]
"""Everything the risk score reads, and nothing else: the user agent, whether the origin is
secure, whether Accept, Accept-Language, Accept-Encoding and Sec-Fetch-Mode were sent, and the
sec-ch-ua value. Built by :func:`score_traits`; the signals read only this."""


def score_traits(headers: Mapping[str, str], secure: bool) -> ScoreTraits:
    """The :data:`ScoreTraits` of a request: the one definition of what the score reads."""
    return (headers.get("user-agent", ""), secure, "accept" in headers,
            "accept-language" in headers, "accept-encoding" in headers,
            "sec-fetch-mode" in headers, headers.get("sec-ch-ua"))


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
        out.append((w.known_crawler, f"crawler user agent ({ua.why})" if ua.why else
                    "crawler user agent"))
    elif ua.family in ("Other", "") and ua.kind != "app":
        out.append((w.unparseable_user_agent, "unrecognised user agent"))
    return out


def header_signals(ua: UAInfo, traits: ScoreTraits, w: Scoring) -> list[tuple[int, str]]:
    """Does the request look like what the browser it claims to be always sends?"""
    _user_agent, secure, accept, accept_language, accept_encoding, sec_fetch, hints = traits
    out: list[tuple[int, str]] = []
    if not accept:
        out.append((w.missing_accept, "no Accept header"))
    if not ua.claims_browser:
        return out
    if not accept_language:
        out.append((w.missing_accept_language, "browser without Accept-Language"))
    if not accept_encoding:
        out.append((w.missing_accept_encoding, "browser without Accept-Encoding"))
    modern = (ua.family.startswith(("Chrome", "Edge", "Opera", "Samsung", "Brave")) and
              (ua.major or 0) >= 80) or (ua.family.startswith("Firefox") and (ua.major or 0) >= 90)
    if modern and not sec_fetch:
        out.append((w.missing_sec_fetch, "modern browser without Sec-Fetch headers"))
    if hints is None:
        # Chromium sends client hints only to secure origins (HTTPS or localhost).
        if ua.chromium and secure:
            out.append((w.missing_client_hints, "Chromium without sec-ch-ua"))
    else:
        why = contradiction(ua.raw, ua.chromium, hints)
        if why is not None:
            out.append((w.client_hints_mismatch, why))
    return out


def score_request(ua: UAInfo, traits: ScoreTraits, w: Scoring) -> tuple[int, tuple[str, ...]]:
    """Risk score 0..100 from the request alone, and the reasons behind it.

    ``ua`` is the classification of ``traits``' user agent; nothing else is read, so equal
    traits always get equal scores (what lets the engine score each combination once).
    """
    found = ua_signals(ua, w)
    found += header_signals(ua, traits, w)
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
