"""A neighbour must not get a victim blocked.

Reported: from the same IP (an office, carrier-grade NAT), five junk answers sent with the
victim's user agent blocked the victim for an hour, because failed answers were counted per
IP + user agent, which anyone behind that IP can claim. Answers now count against the
challenge they answer (its id is held by the client it was issued to), and a client with a
clearance (held by its solver alone) is never blocked for challenges shown to others.
"""

from __future__ import annotations

from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from tests.browsers import CHROME

from .drive import (
    HEADLESS,
    HEADLESS_API,
    answer,
    challenge,
    cookie_of,
    engine,
    get,
    solve,
    wrong_nonce,
)

OFFICE = "198.51.100.40"
VICTIM = {**CHROME}


def test_junk_answers_with_the_victims_user_agent_do_not_block_the_victim(clock: ManualClock):
    e, _ = engine(clock, challenge={"max_failures": 5})
    assert get(e, "/", VICTIM, OFFICE).action is Action.ALLOW
    for i in range(20):
        answer(e, f"junk{i}.AAAA", str(i), peer=OFFICE, headers=VICTIM)
    assert get(e, "/", VICTIM, OFFICE).action is Action.ALLOW


def test_wrong_answers_to_the_neighbours_own_challenge_do_not_block_the_victim(
        clock: ManualClock):
    e, _ = engine(clock, challenge={"max_failures": 5})
    ch = challenge(e, OFFICE)  # the neighbour's own challenge (its own user agent)
    bad = wrong_nonce(ch["seed"], ch["difficulty"])
    for _ in range(6):  # sent with the victim's user agent, and with its own
        answer(e, ch["token"], bad, peer=OFFICE, headers=VICTIM)
        answer(e, ch["token"], bad, peer=OFFICE)
    assert get(e, "/", VICTIM, OFFICE).action is Action.ALLOW
    # The challenge itself is spent for good: even the right answer no longer clears.
    d = answer(e, ch["token"], solve(ch["seed"], ch["difficulty"]), peer=OFFICE)
    assert cookie_of(d) is None


def test_a_cleared_victim_is_not_blocked_by_challenges_a_neighbour_abandons(
        clock: ManualClock):
    e, _ = engine(clock, challenge={"max_failures": 3})
    ch = challenge(e, OFFICE)  # the victim solves its own challenge ...
    cookie = cookie_of(answer(e, ch["token"], solve(ch["seed"], ch["difficulty"]), OFFICE))
    assert cookie
    victim = {**HEADLESS_API, "cookie": cookie}
    assert get(e, "/x", victim, OFFICE).action is Action.ALLOW
    for _ in range(6):  # ... a neighbour with the same browser abandons challenge pages
        get(e, "/x", HEADLESS, OFFICE)
    assert get(e, "/x", HEADLESS, OFFICE).action is Action.CHALLENGE  # the neighbour is
    assert get(e, "/x", victim, OFFICE).action is Action.ALLOW        # the victim is not


def test_a_victim_without_clearance_is_never_blocked_by_a_neighbours_abandoned_pages(
        clock: ManualClock):
    """The neighbour provokes challenge pages with the victim's exact browser from the same
    address and leaves them unanswered. The count is per address and user agent (nothing
    else tells them apart before a clearance), so it may only ask the victim to prove
    itself: a challenge, at worst the hardest rung, which the victim solves."""
    # A low challenge line, so the neighbour's sloppy copy of the victim's browser is shown
    # challenge pages at all (under the default one it only gets a smaller budget).
    e, _ = engine(clock, challenge={"max_failures": 3}, scoring={"challenge_at": 40})
    sloppy = {k: v for k, v in VICTIM.items() if not k.startswith(("accept", "sec-fetch"))}
    for _ in range(20):  # the neighbour: the victim's user agent, few other headers
        get(e, "/x", {**sloppy, "accept": "text/html"}, OFFICE)
    d = get(e, "/x", VICTIM, OFFICE)
    assert d.action is Action.CHALLENGE, d  # never a block
    page = get(e, "/x", {**VICTIM, "accept": "application/json"}, OFFICE)
    assert page.action is Action.CHALLENGE
    ch = challenge(e, OFFICE, {**VICTIM, "accept": "application/json"})
    cookie = cookie_of(answer(e, ch["token"], solve(ch["seed"], ch["difficulty"]), OFFICE,
                              {**VICTIM, "accept": "application/json"}))
    assert cookie
    assert get(e, "/x", {**VICTIM, "cookie": cookie}, OFFICE).action is Action.ALLOW
