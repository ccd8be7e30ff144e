"""A visitor cookie fetched in the very second a site guard began is not a person yet.

Visitors minted since a guard began are anonymous for its kind, so a crawler cannot mint
its way past the guard. Issue times are whole seconds and a guard's start is not: a cookie
minted later in the same second used to read as older than the guard (its truncated issue
time before the start) and passed as an established person, free of the guard holding
anonymous reads. Found by the demo, whose jar-swapping crawler sometimes slipped through.
"""

from __future__ import annotations

from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from tests.test_people import browser, engine, get, new_address

START = 1_800_000_000.25


def test_a_cookie_minted_in_the_second_the_guard_began_is_held_by_it() -> None:
    clock = ManualClock(START)
    e = engine(clock)
    n = 0
    while True:  # a cookie-dropping crawler trips the guard on anonymous reads
        decision = get(e, f"/users/{n + 1}", new_address(n), browser(n), cookies=False)
        n += 1
        if decision.action is not Action.ALLOW:
            break
        clock.advance(1)
    assert decision.rule == "guard:profile"
    since = e.people.state()["profile"]["since"]
    assert since == clock() and since % 1 == 0.25  # began a quarter into a second
    clock.advance(0.5)  # same second: a new browser fetches a cookie on the home page...
    peer, headers = "192.0.2.77", browser(10_000)
    assert get(e, "/", peer, headers).action is Action.ALLOW
    clock.advance(0.1)
    # ...and comes back with it for a profile: minted since the guard began, so anonymous
    held = get(e, "/users/424242", peer, headers)
    assert (held.action, held.rule) == (Action.CHALLENGE, "guard:profile"), held.reason
