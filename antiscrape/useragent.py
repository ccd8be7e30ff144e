"""User-agent classification: what the client claims to be, parsed once per distinct string.

Five kinds (:data:`KINDS`): a *browser* has the browser grammar; an *app* is a known program
acting for a person (feed reader, podcast app, Electron app, a phone's HTTP stack); a
*crawler* names itself one, is on the vetted list, carries a contact address or a service
token, or is a program that is neither browser nor app; *automation* names an HTTP library or
automation tool. The rules live in :mod:`.uarules` and are one RE2 set, one pass a string.
``ua-parser``'s native resolver adds the family, version and device (the legacy pure-Python
path costs milliseconds per unseen string, which a flood of random agents would turn into a
denial of service).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import re2
import ua_parser

from .cache import BoundedCache
from .clienthints import engine_major
from .uarules import HEADLESS_TOOLS, SELF_IDENTIFIED, Evidence, rules

#: What a client is, by its user agent. "automated" means crawler or automation.
KINDS = ("browser", "app", "crawler", "automation", "empty")

# The platform comment of an Android browser names the device model, and some models carry
# crawler words ("CUBOT J9", "POWER BOT", "Spider 8"): there, the words do not count.
_ANDROID_COMMENT = re2.compile(r"(?i)\([^()]*\bandroid[^()]*\)|\bandroid \([^()]*\)")
"""A comment that names Android, or the one Instagram's web view appends after "Android"."""
_WORDS = re2.compile("(?i)" + "|".join(f"(?:{p})" for p in SELF_IDENTIFIED))


#: Browser families ``ua-parser`` reports for mainstream browsers, and which are Chromium.
MAINSTREAM = frozenset({
    "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium",
    "Edge", "Edge Mobile", "Firefox", "Firefox Mobile", "Firefox iOS", "Safari",
    "Mobile Safari", "Mobile Safari UI/WKWebView", "Opera", "Opera Mobile", "Samsung Internet",
    "Yandex Browser", "Brave", "Vivaldi",
})
#: Families whose user agent may carry a ``Chrome/N`` token without being Chromium (iOS).
NOT_CHROMIUM = frozenset({"Chrome Mobile iOS", "Edge Mobile", "Firefox iOS",
                          "Mobile Safari UI/WKWebView"})
CHROMIUM = frozenset({
    "Chrome", "Chrome Mobile", "Chromium", "Chrome Mobile WebView", "Edge", "Opera",
    "Opera Mobile", "Samsung Internet", "Yandex Browser", "Brave", "Vivaldi",
})


@dataclass(frozen=True, slots=True)
class UAInfo:
    """Everything the signals need to know about one user-agent string."""

    raw: str
    family: str
    major: int | None
    is_mobile: bool
    claims_browser: bool
    """Claims to be a mainstream browser (by the parsed family and the browser grammar), an
    app's web view included."""
    chromium: bool
    """A Chromium engine new enough to send ``sec-ch-ua`` client hints (``Chrome/89``+, by
    the engine token, not the family's own version: Yandex Browser 24 is Chromium 118)."""
    automation: str | None
    """Name of the HTTP library or automation tool it names, if any."""
    headless: bool
    crawler: bool
    """Automated without naming a tool: a listed crawler, self-named, a service token on a
    browser string, a contact address, or a program that is neither browser nor known app."""
    label: str
    """How reasons name this client: "curl-like client", "Chrome browser", "crawler"..."""
    kind: str = "browser"
    """One of :data:`KINDS`."""
    why: str | None = None
    """For a crawler, which rule said so ("listed crawler", "contact address", "neither a
    browser nor a known app"...): what the decision's reason shows."""

    @property
    def empty(self) -> bool:
        return not self.raw

    @property
    def automated(self) -> bool:
        return self.kind in ("crawler", "automation")


@cache
def _families() -> Any:
    """``ua-parser``'s native (``ua-parser-rs``) extractor of the browser family and version,
    used directly: the OS and device domains are not needed here, and the device domain
    costs as much as the other two together (phones are told by ``HANDHELD`` instead)."""
    return ua_parser.RegexResolver(ua_parser.load_lazy_builtins()).ua


def _parse(raw: str) -> tuple[str, int | None]:
    """(family, major version) by ``ua-parser``'s user-agent rules."""
    found = _families().extract(raw)
    if found is None:
        return "Other", None
    major = found.major
    return found.family, int(major) if major and major.isdigit() else None


def _crawler_words(raw: str) -> bool:
    """Crawler words outside an Android device model (see ``_ANDROID_COMMENT``)."""
    if _ANDROID_COMMENT.search(raw) is None:
        return True
    return _WORDS.search(_ANDROID_COMMENT.sub("", raw)) is not None


def _kind(raw: str, ev: Evidence) -> tuple[str, str | None]:
    """(kind, reason) of one non-empty string by the rules alone; see :mod:`.uarules`.

    The order is the argument: a named tool beats everything; a listed crawler, crawler words
    or a service token beat an app's name; a known app, or an app's platform on a string that
    is not a browser's, beats a contact address (feed readers and podcast apps give their home
    page: "Jam/2.0 iOS/16.3 (www.listentojam.com)"), except in a ``Mozilla/`` string, where a
    contact address is a crawler's signature whatever platform it names ("Mozilla/5.0 (Linux;
    Android 10) (compatible; Name/1.0; +https://...)"); a contact address beats the browser
    grammar; what is neither browser-shaped nor an app is a program acting on its own.
    """
    if ev.tool is not None:
        return "automation", ev.tool
    if ev.listed:
        return "crawler", "listed crawler"
    if ev.words and _crawler_words(raw):
        return "crawler", "names itself a crawler"
    if ev.service:
        return "crawler", "service token"
    if ev.known_app or (ev.app_platform and not ev.browser_shaped and
                        not (ev.contact and raw[:8].lower() == "mozilla/")):
        return "app", None
    if ev.contact:
        return "crawler", "contact address"
    if ev.browser_shaped:
        return "browser", None
    return "crawler", "neither a browser nor a known app"


def classify(raw: str) -> UAInfo:
    """Classify one user-agent string (uncached; see :func:`lookup`)."""
    if not raw.strip():
        return UAInfo(raw, "", None, False, False, False, None, False, False,
                      "client without a user agent", "empty")
    ev = rules().evidence(raw)
    kind, why = _kind(raw, ev)
    is_mobile = ev.handheld
    try:
        family, major = _parse(raw)
    except Exception:  # a parser fault must never reach the request; treat as unknown
        family, major = "Other", None
    automation = why if kind == "automation" else None
    headless = automation in HEADLESS_TOOLS
    crawler = kind == "crawler"
    # An in-app web view or an Electron app is a browser engine too: what it sends is held to
    # what that engine always sends (appending "Slack/4" must not excuse missing headers).
    web_view = kind == "app" and ev.browser_shaped
    claims_browser = (kind == "browser" and family in MAINSTREAM) or web_view
    chromium = (family in CHROMIUM or (web_view and family not in NOT_CHROMIUM)) and \
        (engine_major(raw) or 0) >= 89
    if automation is not None:
        label = "headless browser" if headless else f"{automation}-like client"
    elif crawler:
        label = "crawler"
    elif kind == "app":
        label = f"{family} app" if family != "Other" else "app"
    elif claims_browser:
        label = f"{family} browser"
    else:
        label = f"{family} client" if family != "Other" else "unrecognised client"
    return UAInfo(raw, family, major, is_mobile, claims_browser, chromium,
                  automation, headless, crawler, label, kind, why if crawler else None)


_CACHE_MAX = 20_000
_CACHE: BoundedCache[str, UAInfo] = BoundedCache(_CACHE_MAX)
_lock = threading.Lock()


def lookup(raw: str) -> UAInfo:
    """Cached :func:`classify`: a dictionary hit for every user agent seen recently.

    Bounded: when full the cache is dropped wholesale (cheaper than LRU bookkeeping on every
    hit; real traffic refills the few hot strings at once, a flood of random ones cannot grow it).
    """
    info = _CACHE.get(raw)
    if info is None:
        if len(raw) > 1024:  # nobody's browser sends this; don't let it cost us more
            raw = raw[:1024]  # (and it is kept under the cut text: look that up too)
            info = _CACHE.get(raw)
            if info is not None:
                return info
        info = classify(raw)
        with _lock:
            _CACHE.put(raw, info)
    return info


_WARM_SAMPLES = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "python-requests/2.32.3",
)
_warmed = False


def warm() -> None:
    """Build the parser and the rule set now, once per process, by classifying a
    few common kinds of user agent (not cached: nothing a client sent is at stake).

    Both are built on first use, which would cost the first request a few tenths of a
    second; the engine calls this when it is built, at start-up. Not in a background thread:
    a process that exits (``antiscrape check``) or forks (gunicorn ``--preload``, replay
    workers) while native code runs in another thread can abort or inherit a held lock."""
    global _warmed
    if _warmed:
        return
    for sample in _WARM_SAMPLES:
        classify(sample)
    _warmed = True
