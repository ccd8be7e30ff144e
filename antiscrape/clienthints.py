"""Does ``sec-ch-ua`` contradict the user agent? Only true contradictions count.

Every Chromium-based browser sends two versions: the Chromium brand carries the *engine*
version, the same number as the ``Chrome/N`` token of its user agent, and the family's own
brand (``Microsoft Edge``, ``Opera``, ``YaBrowser``, ``Samsung Internet``, ``Brave``,
``Android WebView``...) carries the family's version, which for Opera, Yandex and Samsung is
nothing like the engine's (Yandex Browser 24 runs Chromium 118). So the engine version is read
from the ``Chrome/N`` token, never from the family; a family's own brand is compared with its
own token where the user agent has one (Vivaldi, Brave and Arc send Chrome's user agent
unchanged, so their brands have nothing to contradict).
"""

from __future__ import annotations

import re

_BRAND = re.compile(r'"([^"]{1,64})"\s*;\s*v\s*=\s*"(\d{1,6})')
_CHROME = re.compile(r"Chrom(?:e|ium)/(\d{1,4})")
"""Starts with a literal, which Python's engine scans for quickly (a leading ``\b`` or
alternation makes it try every position: ten times slower)."""
_GREASE = ("not", "brand")

#: A family's own brand in sec-ch-ua, and the token of its user agent carrying the same version.
FAMILY_BRANDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("microsoft edge", re.compile(r"\bEdg(?:e|A|iOS)?/(\d{1,4})")),
    ("opera", re.compile(r"\bOPR/(\d{1,4})")),
    ("yabrowser", re.compile(r"\bYaBrowser/(\d{1,4})")),
    ("samsung internet", re.compile(r"\bSamsungBrowser/(\d{1,4})")),
)


def brands(sec_ch_ua: str) -> dict[str, int]:
    """Brand (lower case) -> major version, without the GREASE brand every browser adds."""
    out: dict[str, int] = {}
    for name, version in _BRAND.findall(sec_ch_ua):
        lowered = name.lower().strip()
        if all(word in lowered for word in _GREASE) or lowered.startswith("not"):
            continue  # "Not_A Brand", "Not(A:Brand", "Not/A)Brand"...
        out[lowered] = int(version)
    return out


def engine_major(raw_ua: str) -> int | None:
    """The Chromium engine version a user agent states (its ``Chrome/N`` token)."""
    match = _CHROME.search(raw_ua)
    return int(match.group(1)) if match else None


def contradiction(raw_ua: str, chromium_engine: bool, sec_ch_ua: str) -> str | None:
    """Why ``sec_ch_ua`` cannot have come with this user agent, or None if it can.

    ``chromium_engine``: the user agent claims a Chromium engine new enough to send client
    hints; anything else (Firefox, Safari, Chrome on iOS, which is WebKit) sends none.
    """
    if not chromium_engine:
        return "sec-ch-ua sent by a browser that never sends it"
    named = brands(sec_ch_ua)
    if "chromium" not in named:
        return "sec-ch-ua without the Chromium brand"
    engine = engine_major(raw_ua)
    if engine is not None and abs(named["chromium"] - engine) > 1:
        return f"sec-ch-ua says Chromium {named['chromium']}, user agent Chrome {engine}"
    for brand, token in FAMILY_BRANDS:
        if brand in named:
            own = token.search(raw_ua)
            if own is not None and abs(int(own.group(1)) - named[brand]) > 1:
                return f"sec-ch-ua says {brand} {named[brand]}, user agent {own.group(1)}"
    return None
