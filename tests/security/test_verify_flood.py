"""The challenge-answer endpoint under a flood.

Reported: one IP posted 290 000 junk answers and was never limited, each with a new user
agent writing a new state entry (20 000 posts, 20 000 keys kept an hour). Answers are now
budgeted per IP and network before any of their work counts, and an answer that names no
challenge of ours writes nothing.
"""

from __future__ import annotations

from antiscrape.clock import ManualClock
from tests.behaviour.conftest import MakeSite
from tests.browsers import CHROME

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
