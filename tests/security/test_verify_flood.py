"""The challenge-answer endpoint under a flood.

Reported: one IP posted 290 000 junk answers and was never limited, each with a new user
agent writing a new state entry (20 000 posts, 20 000 keys kept an hour). Answers are now
budgeted per IP and network before any of their work counts, and an answer that names no
challenge of ours writes nothing.
"""

from __future__ import annotations

from antiscrape.clock import ManualClock
from antiscrape.request import RequestView
from tests.behaviour.conftest import MakeSite
from tests.browsers import CHROME
from tests.jar import jar_for, keep_decision, with_cookies

from .drive import HEADLESS_API, answer, engine


def test_junk_answers_from_one_ip_are_budgeted_and_write_nothing_each(clock: ManualClock):
    e, store = engine(clock)
    statuses = []
    for i in range(2_000):
        headers = {**HEADLESS_API, "user-agent": f"junk/{i}"}
        d = answer(e, f"junk{i}.AAAA", str(i), headers=headers)
        assert d.reply is not None
        statuses.append(d.reply.status)
    assert statuses[:20] == [403] * 20          # the default budget: 20 answers a minute
    assert set(statuses[20:]) == {429}
    # Two budget counters (IP and network); no entry per junk answer or per user agent.
    assert len(store) <= 2, len(store)


def test_the_answer_budget_refills_and_is_per_network_too(clock: ManualClock):
    e, _ = engine(clock, challenge={"answers_per_ip": "3/minute",
                                    "answers_per_network": "5/minute"})
    got = [answer(e, "x.y", "1", peer=f"198.51.100.{i % 3}").reply.status for i in range(9)]
    assert got == [403] * 5 + [429] * 4          # three IPs, one /24: the network's 5 bind
    clock.advance(130)
    assert answer(e, "x.y", "1", peer="198.51.100.200").reply.status == 403


def test_over_budget_answers_are_429_through_every_adapter(make_site: MakeSite):
    site = make_site(challenge={"answers_per_ip": "2/minute"})
    got = [site.post("/.antiscrape/verify?t=x.y&n=1", {**CHROME, "accept": "application/json"}
                     ).status_code for _ in range(4)]
    assert got == [403, 403, 429, 429]


def test_the_answer_budget_follows_the_people_behind_an_address_and_no_one_else(
        clock: ManualClock):
    """Reported by the real-Chromium office test: fifty people behind one IP who all met the
    challenge at once got 429s on their answers (20 a minute per IP). The budget now grows
    with the people seen behind the address, like its other budgets; a flood from one
    address with no people behind it is still held at 20 a minute, and minting visitors
    only to inflate it stops at ``visitor.people_cap``."""
    e, _ = engine(clock)
    office = "192.0.2.10"
    for n in range(30):  # thirty people, each with a visitor cookie that came back
        jar = jar_for(e, office, f"person {n}")
        for path in ("/", "/about"):
            headers = with_cookies({**CHROME, "user-agent": CHROME["user-agent"] + f" {n}"},
                                   jar)
            keep_decision(jar, e.inspect(RequestView("GET", path, headers, office)))
    statuses = [answer(e, "x.y", str(i), peer=office).reply.status for i in range(30 * 20 + 5)]
    assert statuses.count(403) == 30 * 20 and statuses[-5:] == [429] * 5
    alone = [answer(e, "x.y", str(i), peer="198.51.100.9").reply.status for i in range(25)]
    assert alone == [403] * 20 + [429] * 5
