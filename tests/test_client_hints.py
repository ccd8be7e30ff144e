"""sec-ch-ua against the user agent, with the headers each Chromium-based family really sends.

Each case is one browser's user agent with the sec-ch-ua it sends (the Chromium brand carries
the engine version, the family's brand its own), plus what every browser sends on https.
"""

from __future__ import annotations

import pytest

from antiscrape.config import Scoring
from antiscrape.signals import score_request, score_traits
from antiscrape.useragent import classify

WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
CHROME_120 = WIN + "Chrome/120.0.0.0 Safari/537.36"

REAL = {
    "Chrome": (CHROME_120,
               '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"'),
    "Edge": (WIN + "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
             '"Not_A Brand";v="8", "Chromium";v="120", "Microsoft Edge";v="120"'),
    "Opera": (WIN + "Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
              '"Opera";v="106", "Chromium";v="120", "Not?A_Brand";v="24"'),
    "Yandex": (WIN + "Chrome/118.0.0.0 YaBrowser/24.1.0.0 Safari/537.36",
               '"Chromium";v="118", "YaBrowser";v="24.1", "Not=A?Brand";v="24"'),
    "Samsung Internet": (
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        '"Not/A)Brand";v="99", "Samsung Internet";v="23.0", "Chromium";v="115"'),
    "Vivaldi": (CHROME_120, '"Not_A Brand";v="8", "Chromium";v="120", "Vivaldi";v="6.5"'),
    "Brave": (CHROME_120, '"Not_A Brand";v="8", "Chromium";v="120", "Brave";v="120"'),
    "Arc": ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/120.0.0.0 Safari/537.36",
            '"Not_A Brand";v="8", "Chromium";v="120", "Arc";v="120"'),
    "Android WebView": (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36",
        '"Not_A Brand";v="8", "Chromium";v="120", "Android WebView";v="120"'),
}


def score(ua: str, sec_ch_ua: str | None, secure: bool = True) -> tuple[int, tuple[str, ...]]:
    """The score of a request with everything a browser sends, this UA and sec-ch-ua."""
    headers = {"user-agent": ua, "accept": "text/html", "accept-language": "en",
               "accept-encoding": "gzip, br", "sec-fetch-mode": "navigate"}
    if sec_ch_ua is not None:
        headers["sec-ch-ua"] = sec_ch_ua
    return score_request(classify(ua), score_traits(headers, secure), Scoring())


@pytest.mark.parametrize("family", list(REAL))
def test_real_headers_of_each_chromium_family_score_nothing(family):
    ua, hints = REAL[family]
    info = classify(ua)
    assert info.claims_browser and info.chromium, info
    assert score(ua, hints) == (0, ())


@pytest.mark.parametrize("ua,hints,why", [
    (CHROME_120, '"Firefox";v="120"', "without the Chromium brand"),
    (CHROME_120, '"Not_A Brand";v="8", "Chromium";v="110", "Google Chrome";v="110"',
     "Chromium 110"),
    (REAL["Opera"][0], '"Opera";v="99", "Chromium";v="120", "Not?A_Brand";v="24"', "opera 99"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
     REAL["Chrome"][1], "never sends"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1", REAL["Chrome"][1], "never sends"),
])
def test_true_contradictions_still_score(ua, hints, why):
    points, reasons = score(ua, hints)
    assert points == Scoring().client_hints_mismatch, reasons
    assert any(why in reason for reason in reasons), reasons


def test_chromium_without_client_hints_on_https_scores_but_not_on_http():
    yandex = REAL["Yandex"][0]
    assert score(yandex, None, secure=False) == (0, ())
    points, reasons = score(yandex, None)
    assert points == Scoring().missing_client_hints and "without sec-ch-ua" in reasons[0]
