"""User-agent classification: what the client claims to be, parsed once per distinct string.

``user-agents`` gives the familiar ``is_bot``/``is_mobile`` view; underneath, ``ua-parser``'s
native resolver does the parsing (the legacy pure-Python path costs milliseconds per unseen
string, which a flood of random user agents would turn into a denial of service). Known
crawlers come from the maintained ``crawler-user-agents`` pattern list, compiled once into a
single RE2 automaton so matching stays linear-time. Automation libraries that neither list
flags (curl, python-requests, HeadlessChrome...) are matched by our own short list below.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache

import crawleruseragents
import re2
import ua_parser
from user_agents.parsers import UserAgent, parse_browser, parse_device, parse_operating_system

#: HTTP libraries and browser-automation tools: (label, pattern). Matched case-insensitively.
AUTOMATION_TOOLS: tuple[tuple[str, str], ...] = (
    ("curl", r"\bcurl/"),
    ("wget", r"\bwget/"),
    ("python-requests", r"python-requests"),
    ("httpx", r"python-httpx|\bhttpx/"),
    ("aiohttp", r"aiohttp"),
    ("scrapy", r"scrapy"),
    ("python-urllib", r"python-urllib|\bpython/\d"),
    ("go-http-client", r"go-http-client|\bgo \d\.\d+ package http"),
    ("java", r"^java/|\bjava/\d|apache-httpclient|jakarta commons-httpclient"),
    ("okhttp", r"okhttp"),
    ("node", r"node-fetch|\baxios/|\bundici\b|\bgot \(|^got/|\bnode\.js|\bnode/\d"),
    ("libwww-perl", r"libwww-perl|lwp::|\bmechanize"),
    ("ruby", r"^ruby\b|faraday|rest-client|typhoeus"),
    ("php", r"guzzlehttp|^php/|\bphp-curl"),
    ("dotnet", r"restsharp|\bwinhttp|powershell"),
    ("rust", r"\breqwest\b|\bisahc\b|\bhyper/"),
    ("dart", r"^dart/|dart:io"),
    ("httpie", r"\bhttpie/"),
    ("postman", r"postmanruntime|insomnia/"),
    ("headless-chrome", r"headless ?chrome"),
    ("phantomjs", r"phantomjs"),
    ("puppeteer", r"puppeteer"),
    ("playwright", r"playwright"),
    ("selenium", r"selenium|webdriver"),
    ("electron-scraper", r"\bslimerjs|\bcasperjs|\bzombie\.js|\bjsdom\b"),
    ("colly", r"\bcolly\b"),
    ("nutch", r"\bnutch\b"),
)

#: Self-identification real browsers never use: a contact URL or address, or the words crawler
#: operators put in their agents' names. Catches the long tail of small crawlers no list has.
SELF_IDENTIFIED = re2.compile(
    r"(?i)[a-z]crawl|crawler|spider|scraper|\bbot\b|bot/|\bfetch(er)?\b|monitor|checker"
    r"|scanner|\bseo\b|archiver|\bpreview|validator|analy[sz]er|\bindexer"
)
#: A contact URL marks a crawler, unless the string claims Mozilla compatibility: old embedded
#: IE shells put their vendor's URL in the middle of an otherwise ordinary browser string.
CONTACT = re2.compile(r"(?i)https?://|\bwww\.|\+https?|@[a-z0-9-]+\.")

HEADLESS_TOOLS = frozenset({"headless-chrome", "phantomjs", "puppeteer", "playwright",
                            "selenium", "electron-scraper"})

# One linear-time automaton answers "is any tool named?" (most strings: no); only on a match
# do we look for which one. Python's backtracking engine took ~140 µs a string on this list.
_TOOLS_ANY = re2.compile("(?i)" + "|".join(f"(?:{p})" for _, p in AUTOMATION_TOOLS))
_TOOLS_EACH = tuple((name, re.compile(p, re.IGNORECASE)) for name, p in AUTOMATION_TOOLS)


def automation_tool(raw: str) -> str | None:
    """The name of the HTTP library or automation tool ``raw`` names, if any."""
    if _TOOLS_ANY.search(raw) is None:
        return None
    for name, pattern in _TOOLS_EACH:
        if pattern.search(raw):
            return name
    return None

#: Browser families ``ua-parser`` reports for mainstream browsers, and which are Chromium.
MAINSTREAM = frozenset({
    "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome Mobile WebView", "Chromium",
    "Edge", "Edge Mobile", "Firefox", "Firefox Mobile", "Firefox iOS", "Safari",
    "Mobile Safari", "Mobile Safari UI/WKWebView", "Opera", "Opera Mobile", "Samsung Internet",
    "Yandex Browser", "Brave", "Vivaldi",
})
CHROMIUM = frozenset({
    "Chrome", "Chrome Mobile", "Chromium", "Edge", "Opera", "Samsung Internet", "Yandex Browser",
    "Brave", "Vivaldi",
})


@dataclass(frozen=True, slots=True)
class UAInfo:
    """Everything the signals need to know about one user-agent string."""

    raw: str
    family: str
    major: int | None
    os: str
    is_mobile: bool
    claims_browser: bool
    """Claims to be a mainstream browser (by the parsed family and a ``Mozilla/`` prefix)."""
    chromium: bool
    """A Chromium build new enough to send ``sec-ch-ua`` client hints (89+)."""
    automation: str | None
    """Name of the HTTP library or automation tool it names, if any."""
    headless: bool
    crawler: bool
    """Matches the maintained crawler list or ``user-agents``' own bot test."""
    label: str
    """How reasons name this client: "curl-like client", "Chrome browser", "crawler"..."""

    @property
    def empty(self) -> bool:
        return not self.raw


@cache
def _crawler_automaton() -> re2._Regexp:
    """One RE2 automaton for the whole maintained crawler list (built on first use)."""
    options = re2.Options()
    options.max_mem = 64 << 20  # room for the lazily built DFA: ~2 µs a string once warm
    patterns = "|".join(entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA)
    return re2.compile(patterns, options=options)


@cache
def _parser() -> ua_parser.Parser:
    # The native ``ua-parser-rs`` resolver, without ``ua-parser``'s own cache: ours sits above.
    return ua_parser.Parser(ua_parser.RegexResolver(ua_parser.load_lazy_builtins()))


class _FastUserAgent(UserAgent):
    """``user_agents.UserAgent`` built from ``ua-parser``'s fast resolver result."""

    def __init__(self, ua_string: str) -> None:
        result = _parser().parse(ua_string)
        ua = result.user_agent
        os_ = result.os
        dev = result.device
        self.ua_string = ua_string
        self.browser = parse_browser(ua.family, ua.major, ua.minor, ua.patch) if ua else \
            parse_browser("Other")
        self.os = parse_operating_system(os_.family, os_.major, os_.minor, os_.patch,
                                         os_.patch_minor) if os_ else \
            parse_operating_system("Other")
        self.device = parse_device(dev.family, dev.brand, dev.model) if dev else \
            parse_device("Other", None, None)


def _major(version: tuple[int | str, ...]) -> int | None:
    if version and isinstance(version[0], int):
        return version[0]
    return None


def classify(raw: str) -> UAInfo:
    """Classify one user-agent string (uncached; see :func:`lookup`)."""
    if not raw.strip():
        return UAInfo(raw, "", None, "", False, False, False, None, False, False,
                      "client without a user agent")
    automation = automation_tool(raw)
    try:
        parsed = _FastUserAgent(raw)
        family = parsed.browser.family
        major = _major(parsed.browser.version)
        os_family = parsed.os.family
        is_mobile = bool(parsed.is_mobile or parsed.is_tablet)
        is_bot = bool(parsed.is_bot)
    except Exception:  # a parser fault must never reach the request; treat as unknown
        family, major, os_family, is_mobile, is_bot = "Other", None, "Other", False, False
    crawler = (is_bot or _crawler_automaton().search(raw) is not None
               or SELF_IDENTIFIED.search(raw) is not None
               or (not raw.startswith("Mozilla/") and CONTACT.search(raw) is not None))
    headless = automation in HEADLESS_TOOLS
    claims_browser = (family in MAINSTREAM and raw.startswith("Mozilla/") and not crawler
                      and automation is None)
    chromium = family in CHROMIUM and (major or 0) >= 89
    if automation is not None:
        label = "headless browser" if headless else f"{automation}-like client"
    elif crawler:
        label = "crawler"
    elif claims_browser:
        label = f"{family} browser"
    else:
        label = f"{family} client" if family != "Other" else "unrecognised client"
    return UAInfo(raw, family, major, os_family, is_mobile, claims_browser, chromium,
                  automation, headless, crawler, label)


_CACHE: dict[str, UAInfo] = {}
_CACHE_MAX = 20_000
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
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.clear()
            _CACHE[raw] = info
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
    """Build the parser and the crawler automaton now, once per process, by classifying a
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
