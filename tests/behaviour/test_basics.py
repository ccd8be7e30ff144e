"""Allow, throttle, block, JSON vs HTML, exempt paths, monitor mode, proxies, accounts."""

from __future__ import annotations

from tests.browsers import CHROME, CURL, FIREFOX

from .conftest import MakeSite

JSON = {**CHROME, "accept": "application/json"}


def statuses(site, n: int, path: str = "/", headers=CHROME, **kw) -> list[int]:
    return [site.get(path, headers, **kw).status_code for _ in range(n)]


def test_a_browser_is_let_through_untouched(make_site: MakeSite):
    site = make_site()
    answer = site.get("/", CHROME)
    assert answer.status_code == 200
    assert answer.text == "home"
    assert "retry-after" not in answer.headers
    assert site.get("/api/items", JSON).json() == {"items": [1, 2, 3]}
    assert site.get("/users/5", CHROME).text == "user 5"


def test_over_budget_gets_429_with_retry_after_then_recovers(make_site: MakeSite, clock):
    # The client reads the exact rule only with expose_reasons (tests/security covers both).
    site = make_site(budgets={"default": {"ip": "5/minute"}}, expose_reasons=True)
    assert statuses(site, 5) == [200] * 5
    refused = site.get("/", CHROME)
    assert refused.status_code == 429
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 60
    assert refused.headers["content-type"].startswith("text/html")
    assert "budget 5/min per IP exceeded" in refused.text
    # another network is not affected
    assert site.get("/", FIREFOX, peer="198.51.100.9").status_code == 200
    clock.advance(retry + 60)
    assert site.get("/", CHROME).status_code == 200


def test_api_clients_get_problem_json_browsers_get_html(make_site: MakeSite):
    site = make_site(budgets={"default": {"ip": "1/minute"}, "api": {"ip": "1/minute"}})
    assert site.get("/api/items", CURL).status_code == 200
    refused = site.get("/api/items", CURL)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 429
    assert problem["retry_after"] == int(refused.headers["retry-after"]) >= 1
    html = site.get("/api/items", {**CURL, "accept": "text/html"})
    assert html.status_code == 429
    assert html.headers["content-type"].startswith("text/html")
    assert "<html" in html.text


def test_deny_list_blocks_with_403(make_site: MakeSite):
    site = make_site(deny={"ips": ["203.0.113.0/24"]}, expose_reasons=True)
    html = site.get("/", CHROME)
    assert html.status_code == 403
    assert "on the deny list" in html.text
    problem = site.get("/api/items", JSON)
    assert problem.status_code == 403
    assert problem.json()["detail"] == "on the deny list"
    assert site.get("/", CHROME, peer="198.51.100.9").status_code == 200


def test_exempt_paths_are_never_counted(make_site: MakeSite):
    site = make_site(budgets={"default": {"ip": "2/minute"}})
    assert statuses(site, 10, "/static/app.css", CURL) == [200] * 10
    assert site.get("/static/app.css", CURL).text == "body{}"


def test_monitor_mode_decides_but_never_enforces(make_site: MakeSite):
    site = make_site(monitor=True, decision_header=True, budgets={"default": {"ip": "2/minute"}})
    answers = [site.get("/", CURL) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    decision = answers[-1].headers["x-antiscrape-decision"]
    assert decision.startswith("throttle") and "monitor" in decision


def test_decision_headers_reach_the_application_response(make_site: MakeSite):
    site = make_site(rate_limit_headers=True, budgets={"default": {"ip": "10/minute"}})
    first = site.get("/", CHROME)
    second = site.get("/", CHROME)
    assert first.headers["ratelimit-limit"] == "10"
    assert int(first.headers["ratelimit-remaining"]) == int(second.headers[
        "ratelimit-remaining"]) + 1


def test_forged_forwarded_for_from_an_untrusted_peer_is_ignored(make_site: MakeSite):
    site = make_site(budgets={"default": {"ip": "3/minute"}})
    got = [site.get("/", {**CHROME, "x-forwarded-for": f"10.9.{i}.1"}).status_code
           for i in range(5)]
    assert got == [200] * 3 + [429] * 2


def test_forwarded_for_from_a_trusted_proxy_is_honoured(make_site: MakeSite):
    site = make_site(trusted_proxies=["10.0.0.0/8"],
                     budgets={"default": {"ip": "3/minute", "network": "1000/minute"}})
    proxy = "10.0.0.2"
    a = [site.get("/", {**CHROME, "x-forwarded-for": "1.1.1.1, 198.51.100.1"},
                  peer=proxy).status_code for _ in range(4)]
    b = [site.get("/", {**CHROME, "x-forwarded-for": "198.51.100.2"}, peer=proxy).status_code
         for _ in range(3)]
    assert a == [200] * 3 + [429]
    assert b == [200] * 3


def test_the_signed_in_account_is_counted_across_networks(make_site: MakeSite):
    site = make_site(budgets={"default": {"ip": "100/minute", "network": "100/minute",
                                          "account": "3/minute"}})
    account = {**CHROME, "x-test-account": "42"}
    got = [site.get("/", account, peer=f"198.51.{i}.7").status_code for i in range(4)]
    assert got == [200] * 3 + [429]
    # someone else on the same networks is not affected
    assert site.get("/", {**CHROME, "x-test-account": "43"}, peer="198.51.0.7").status_code == 200


def test_a_streamed_body_is_handed_out_part_by_part(make_site: MakeSite):
    site = make_site(rate_limit_headers=True)
    status, headers, parts = site.body_parts("/stream", CHROME)
    assert status == 200
    assert parts == [b"chunk0\n", b"chunk1\n", b"chunk2\n"]
    assert int(headers["ratelimit-remaining"]) >= 1


def test_malformed_requests_never_cause_a_500(make_site: MakeSite):
    site = make_site(trusted_proxies=["203.0.113.0/24"])
    for headers in ({"x-forwarded-for": "not-an-ip, ::::, 999.1.1.1"},
                    {"forwarded": 'for="[::1'},
                    {"cookie": "=;;;antiscrape_clearance=%%%; a"},
                    {"user-agent": "x" * 20_000}):
        assert site.get("/", headers).status_code in (200, 403, 429)
