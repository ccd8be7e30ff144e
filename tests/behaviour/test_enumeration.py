"""Enumeration budgets, canaries, pagination depth and 404 probing through every adapter: the
route template and path parameters each framework matched, the ``protect`` marker on the view,
and the response status handed back after the app answered, all reach the engine."""

from __future__ import annotations

from tests.browsers import CHROME, FIREFOX

from .conftest import MakeSite

COMMENTS = {"route": "/items/{item_id}/comments", "kind": "comments", "page_param": "page"}
ROOMY = {"default": {"ip": "1000/minute", "network": "1000/minute"}}
PER_IP = {"ip": 1.0}
"""By default an IP may read several people's budget (offices share one); these tests count
one person per IP so small budgets show the behaviour."""
SCATTERED = [17, 4, 230, 61, 9, 88, 502, 35]
"""Ids in no order, so a sequential walk never adds to what a test looks at."""

def refused(status: int) -> bool:
    return status in (403, 429)


def test_rereading_one_profile_is_free_reading_many_is_not(make_site: MakeSite):
    site = make_site(budgets=ROOMY,
                     enumeration={"budgets": {"profile": {"10m": 5}}, "levels": PER_IP})
    assert [site.get("/users/1", CHROME).status_code for _ in range(10)] == [200] * 10
    got = [site.get(f"/users/{i}", CHROME).status_code for i in SCATTERED[:6]]
    assert got[:4] == [200] * 4
    assert refused(got[-1]), got


def test_a_signed_in_account_is_counted_across_networks(make_site: MakeSite):
    site = make_site(budgets=ROOMY, enumeration={"budgets": {"profile": {"10m": 3}}})
    account = {**CHROME, "x-test-account": "42"}
    got = [site.get(f"/users/{uid}", account, peer=f"198.51.{n}.7").status_code
           for n, uid in enumerate(SCATTERED[:5])]
    assert got[:3] == [200] * 3
    assert refused(got[-1]), got


def test_a_route_declared_in_config_is_protected(make_site: MakeSite):
    site = make_site(budgets=ROOMY, protect=[COMMENTS],
                     enumeration={"budgets": {"comments": {"10m": 3}}, "levels": PER_IP})
    got = [site.get(f"/items/{i}/comments", CHROME).status_code for i in SCATTERED[:5]]
    assert got[:3] == [200] * 3
    assert refused(got[-1]), got


def test_paging_far_beyond_what_people_read_is_flagged(make_site: MakeSite):
    site = make_site(budgets=ROOMY, protect=[COMMENTS], enumeration={"max_page": 3})
    assert site.get("/items/1/comments?page=2", CHROME).status_code == 200
    got = [site.get(f"/items/1/comments?page={p}", CHROME).status_code for p in range(3, 12)]
    assert refused(got[-1]), got


def test_a_canary_read_convicts_at_once(make_site: MakeSite):
    site = make_site(budgets=ROOMY, enumeration={"canaries": {"profile": ["777"]}})
    assert site.get("/users/5", CHROME).status_code == 200
    assert refused(site.get("/users/777", CHROME).status_code)
    assert refused(site.get("/users/5", CHROME).status_code)  # the identity stays convicted
    # another person elsewhere (own browser, own network) is not
    assert site.get("/users/5", FIREFOX, peer="198.51.100.9").status_code == 200


def test_404_probing_reaches_the_engine(make_site: MakeSite):
    site = make_site(budgets=ROOMY, enumeration={"miss_budget": 5, "levels": PER_IP})
    misses = [site.get(f"/users/{5000 + i}", CHROME).status_code for i in range(5)]
    assert misses == [404] * 5  # the application answered; the adapter reported each status
    later = [site.get(f"/users/{6000 + i}", CHROME).status_code for i in range(3)]
    assert refused(later[-1]), later
