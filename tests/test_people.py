"""Budgets that follow people, through the real Engine on a simulated clock: the anonymous
pool, the site guard (learned, forced, logged), people behind one address, canaries that
convict more than an address, monitor mode."""

from __future__ import annotations

import logging
import random

import pytest

from antiscrape.clock import ManualClock
from antiscrape.decision import Action, Decision
from antiscrape.engine import Engine
from antiscrape.people import people_factor
from antiscrape.request import RequestView
from antiscrape.state import AsyncMemoryStorage, MemoryStorage, open_storage
from tests.browsers import CHROME
from tests.conftest import SECRET
from tests.jar import jar_for, keep_decision, with_cookies

PROTECT = [{"route": "/users/{user_id}", "kind": "profile"}]
API = {**CHROME, "accept": "application/json"}


def engine(clock: ManualClock, **config: object) -> Engine:
    return Engine({"secret_key": SECRET, "protect": PROTECT, **config}, clock=clock)


def get(e: Engine, path: str, peer: str, headers: dict[str, str] = CHROME, *,
        cookies: bool = True) -> Decision:
    """A browser at ``peer``: keeps its cookies unless ``cookies`` is False."""
    jar = jar_for(e, peer, headers.get("user-agent", "")) if cookies else {}
    decision = e.inspect(RequestView("GET", path, headers=with_cookies(headers, jar),
                                     peer=peer))
    if cookies:
        keep_decision(jar, decision)
    return decision


def new_address(n: int) -> str:
    return f"{20 + n // 60_000}.{n // 240 % 240}.{n % 240}.9"


def browser(n: int) -> dict[str, str]:
    return {**CHROME, "user-agent": CHROME["user-agent"].replace(
        "Chrome/131.0.0.0", f"Chrome/131.0.{6000 + n}.{n % 100}")}


def test_people_factor_is_at_least_one_and_capped() -> None:
    assert [people_factor(n, 50) for n in (0, 1, 7, 50, 400)] == [1, 1, 7, 50, 50]


def test_a_first_visit_is_served_and_given_a_visitor_cookie_a_return_is_established(clock):
    e = engine(clock)
    first = get(e, "/users/5", "198.51.100.3")
    assert first.action is Action.ALLOW
    assert any(name == "set-cookie" and value.startswith("antiscrape_visitor=")
               for name, value in first.headers)
    assert first.identity is not None and first.identity.visitor is None  # new: not counted
    again = get(e, "/users/6", "198.51.100.3")
    assert again.action is Action.ALLOW and again.headers == ()  # came back: nothing to set
    assert again.identity is not None and again.identity.visitor is not None


def test_anonymous_reads_from_one_network_share_a_small_allowance(clock):
    e = engine(clock, guard={"mode": "off"})
    got = [get(e, f"/users/{n}", f"203.0.113.{n}", cookies=n == 1) for n in range(1, 6)]
    assert [d.action for d in got[:3]] == [Action.ALLOW] * 3
    assert (got[3].action, got[3].rule) == (Action.CHALLENGE, "anonymous:network")
    # an API client is not shown a page: told to sign in or retry later, with a Retry-After
    api = get(e, "/users/9", "203.0.113.77", API, cookies=False)
    assert (api.action, api.rule) == (Action.THROTTLE, "anonymous:network")
    assert api.reply is not None and api.reply.status == 429
    assert "sign in" in api.reason and api.retry_after and api.retry_after > 0
    # a person who kept the cookie of their first visit reads on as a visitor
    assert get(e, "/users/10", "203.0.113.1").action is Action.ALLOW


def test_a_cookie_dropping_crawler_rotating_everything_trips_the_guard_which_is_logged(
        clock, caplog):
    e = engine(clock)
    actions = []
    with caplog.at_level(logging.WARNING, logger="antiscrape"):
        for n in range(60):
            d = get(e, f"/users/{n + 1}", new_address(n), browser(n), cookies=False)
            actions.append(d)
            clock.advance(1)
    first = next(i for i, d in enumerate(actions) if d.action is not Action.ALLOW)
    assert first <= 21 and actions[first].rule in ("guard:profile", "guard:*visitors")
    assert all(d.action is Action.CHALLENGE for d in actions[first:])
    assert "site guard ON" in caplog.text
    # a fresh engine has learned nothing: the line says so and names the floor to raise
    assert "no usual rate learned yet" in caplog.text
    assert "guard.min_reads" in caplog.text or "guard.min_new_visitors" in caplog.text
    state = e.people.state()
    assert state["profile"]["guarded"] or state["*visitors"]["guarded"]
    # a person who had a cookie before the attack reads on; calm for the cool-down: it leaves
    clock.advance(2 * 3_600)
    with caplog.at_level(logging.WARNING, logger="antiscrape"):
        assert get(e, "/users/7", "192.0.2.50", cookies=False).action is Action.ALLOW
    assert "site guard OFF" in caplog.text


def test_visitors_minted_while_guarded_are_not_people_yet(clock):
    e = engine(clock, guard={"mode": "on"})
    assert get(e, "/", "198.51.100.8").action is Action.ALLOW  # gets a cookie (not a read)
    d = get(e, "/users/4", "198.51.100.8")  # came back, but minted after the guard began
    assert (d.action, d.rule) == (Action.CHALLENGE, "guard:profile")


def test_visitors_new_today_are_held_by_the_guard_regulars_and_cleared_ones_are_not(clock):
    """A cookie costs a crawler nothing: one that starts a new cookie jar every few dozen
    reads, from rotating addresses and browsers, would read as a crowd of people. Reads by
    visitors younger than ``visitor.young_for`` count in the guard's rate, and while the
    kind is guarded they need a clearance; a regular (older) visitor reads on."""
    e = engine(clock, visitor={"established_after": 0})
    regular = "198.51.100.200"
    assert get(e, "/", regular).action is Action.ALLOW  # a visitor since yesterday
    clock.advance(86_400 + 60)
    rng = random.Random(4)
    rules: list[str] = []
    for jar in range(8):  # eight jars, each read just under a person's 10-minute budget
        peer = new_address(jar)
        headers = browser(jar)
        get(e, "/", peer, headers)
        rules += [get(e, f"/users/{rng.randrange(1, 10**6)}", peer, headers).rule or ""
                  for _ in range(39)]
        clock.advance(5)
    first = next(i for i, rule in enumerate(rules) if rule == "guard:profile")
    assert first <= 105, rules[:110]  # the floor (min_young_reads 100) and the one crossing it
    # from then on: jars started since are not people yet, only the anonymous pool's few
    # reads per network (3) are left to them; every other read needs a clearance
    later_jars = 8 - first // 39
    assert rules[first:].count("") <= 3 * later_jars, rules[first:]
    assert all(rule.startswith(("guard:", "anonymous:")) for rule in rules[first:] if rule)
    assert e.people.state()["profile:young"]["guarded"]
    assert get(e, "/users/99999", regular).action is Action.ALLOW
    d = get(e, "/users/99998", new_address(500), browser(500))  # a brand-new person: anonymous
    assert d.action is Action.CHALLENGE
    # off (young_for = 0), the same jars read on: each is a person with a person's budget
    lax = engine(ManualClock(), visitor={"young_for": 0})
    got = [get(lax, f"/users/{rng.randrange(1, 10**6)}", new_address(jar), browser(jar)).action
           for jar in range(4) for _ in range(39)]
    assert got.count(Action.ALLOW) >= 4 * 38


def test_newcomers_reads_are_also_counted_by_the_day(clock):
    """Jars that each read a little, slowly enough to stay far under the ten-minute floor
    (100 reads by visitors new today), are held once the day's reads by newcomers pass
    their own floor; the reason says it is a day's count. A regular reads on."""
    day = ManualClock(19_700 * 86_400)  # a day's start: the day's series counts it whole
    e = engine(day, visitor={"established_after": 0},
               guard={"min_young_reads_per_day": 50})
    regular = "198.51.100.201"
    assert get(e, "/", regular).action is Action.ALLOW
    day.advance(86_400 + 60)  # a regular since yesterday, in a new day's first minutes
    rng = random.Random(7)
    rules: list[str] = []
    for jar in range(10):
        peer, headers = new_address(jar), browser(jar)
        get(e, "/", peer, headers)
        for _ in range(8):
            rules.append(get(e, f"/users/{rng.randrange(1, 10**6)}", peer, headers).rule or "")
            day.advance(60)  # 8 reads in 8 minutes a jar, one jar after another
    first = rules.index("guard:profile")
    assert 50 <= first <= 50 + 8, rules  # the floor, and the tally of 8 that crossed it
    # jars started since are not people yet: the anonymous pool's 3 reads a network are left
    later_jars = 10 - first // 8 - 1
    assert rules[first:].count("") <= 3 * later_jars, rules[first:]
    assert all(rule.startswith(("guard:", "anonymous:")) for rule in rules[first:] if rule)
    held = get(e, "/users/4243", new_address(0), browser(0))  # a jar from before the guard
    assert (held.action, held.rule) == (Action.CHALLENGE, "guard:profile")
    assert "per day" in held.reason and "visitors new today" in held.reason
    state = e.people.state()
    assert state["profile:young@day"]["guarded"] and not state["profile:young"]["guarded"]
    assert get(e, "/users/4242", regular).action is Action.ALLOW


def aged_jars_reading(e: Engine, clock: ManualClock, jars: int = 120, reads: int = 30,
                      pause: float = 0.05, *, moving: bool = True,
                      agents: int = 1) -> list[Decision]:
    """A patient crawler: ``jars`` cookie jars fetched days ago and kept (so neither new nor
    young), then each read ``reads`` times under a person's budgets, ``pause`` seconds
    between two reads of the crowd. ``moving``: every read from a new address (a proxy
    pool), else each jar from its own address (sticky proxies); ``agents``: how many
    browser builds each jar's User-Agent is drawn from on every read (1: its own, always;
    what a spider's rotating User-Agent middleware does)."""
    names = [f"jar {n}" for n in range(jars)]
    for n, name in enumerate(names):
        jar = jar_for(e, name, "")
        keep_decision(jar, e.inspect(RequestView("GET", "/", with_cookies(browser(n), jar),
                                                 new_address(n))))
    clock.advance(3 * 86_400)
    rng = random.Random(6)
    decisions = []
    for step in range(reads):
        for n, name in enumerate(names):
            jar = jar_for(e, name, "")
            headers = browser(n if agents == 1 else jars + rng.randrange(agents))
            d = e.inspect(RequestView("GET", f"/users/{rng.randrange(1, 10**6)}",
                                      with_cookies(headers, jar),
                                      new_address(1_000 + step * jars + n) if moving
                                      else new_address(n)))
            keep_decision(jar, d)
            decisions.append(d)
            clock.advance(pause)
    return decisions


def test_cookie_jars_aged_for_days_cannot_hide_in_their_numbers(clock):
    """Every read by a visitor without a clearance counts (eight at a time) in the guard's
    rate of such reads: past its floor the guard holds them all, each read needs a
    clearance. Without that rate (its floor out of reach) the same jars read everything.
    (The networks each jar comes from are not counted here: this is about the rate.)"""
    decisions = aged_jars_reading(engine(clock, visitor={"max_networks": 0}), clock)
    served = sum(d.action is Action.ALLOW for d in decisions)
    assert 600 <= served <= 600 + 8 + 1, served  # the floor, one tally, the crossing read
    held = [d for d in decisions if d.action is not Action.ALLOW]
    assert {(d.action, d.rule) for d in held} == {(Action.CHALLENGE, "guard:profile")}
    assert "visitors without a clearance" in held[-1].reason
    lax_clock = ManualClock()
    lax = aged_jars_reading(engine(lax_clock, guard={"min_visitor_reads": 10**9},
                                   visitor={"max_networks": 0}), lax_clock)
    assert all(d.action is Action.ALLOW for d in lax), {d.rule for d in lax}


REPLAYED = "networks since yesterday (replayed through a proxy pool"


def test_a_cookie_replayed_from_many_networks_is_counted_as_new_today(clock):
    """Each visitor's networks are counted (today and yesterday together): a jar replayed
    through a proxy pool passes ``visitor.max_networks`` (30) within its first hours and is
    then counted as a visitor new today, so the crowd's reads fill the guard's rate of
    newcomers' reads (floor 100 per 10 minutes), which holds them. Without the count the
    same crowd reads all 10,000 profiles in four hours.

    The crowd: a hundred jars fetched three days before, each reading 25 random profiles an
    hour from a new address every read, together well under the guard's floor for visitors'
    reads (600 per 10 minutes)."""
    def slow_crowd(e: Engine, clock: ManualClock) -> list[Decision]:
        return aged_jars_reading(e, clock, jars=100, reads=4 * 25, pause=3_600 / 2_500)

    decisions = slow_crowd(engine(clock), clock)
    served = sum(d.action is Action.ALLOW for d in decisions)
    # 31 each (the count answers with the 31st network: that read is still a regular's),
    # then what the newcomers' rate lets through: a first bucket of the crowd's own reads
    # under the floor may be learned as the usual (a series learns its first calm bucket
    # whole), and the guard enters over factor x that, with one tally and the crossing read
    assert served <= 100 * 31 + 100 + 4 * 100 + 8 + 1, served
    held = [d for d in decisions if d.action is not Action.ALLOW]
    assert {(d.action, d.rule) for d in held} == {(Action.CHALLENGE, "guard:profile")}
    assert "visitors new today" in held[-1].reason
    assert "came from more networks or with more User-Agents since yesterday than a " \
        "browser's, so it counts as new today" in held[-1].reason
    caught = [d for d in decisions if any(REPLAYED in s for s in d.signals)]
    assert caught and all("came from 31 networks" in next(s for s in d.signals if REPLAYED in s)
                          for d in caught[:100])
    lax_clock = ManualClock()
    lax = slow_crowd(engine(lax_clock, visitor={"max_networks": 0}), lax_clock)
    assert all(d.action is Action.ALLOW for d in lax), {d.rule for d in lax}


def test_a_person_on_a_few_networks_a_day_stays_a_regular(clock):
    """A regular's browser over a day: home, a phone whose carrier hands out addresses from
    twelve /24s, the office, a café; sixty profiles read, many of them more than once.
    Its networks stay under the line: it is never counted as new again."""
    e = engine(clock)
    places = [new_address(n * 240) for n in range(16)]  # 16 different /24s
    jar = jar_for(e, "regular", "")
    keep_decision(jar, e.inspect(RequestView("GET", "/", with_cookies(CHROME, jar), places[0])))
    clock.advance(30 * 86_400 - 3_600)
    rng = random.Random(3)
    for n in range(60):
        d = e.inspect(RequestView("GET", f"/users/{rng.randrange(1, 40)}",
                                  with_cookies(CHROME, jar), places[n % len(places)]))
        keep_decision(jar, d)
        assert d.action is Action.ALLOW, d.reason
        assert not any(REPLAYED in s for s in d.signals), d.signals
        clock.advance(1_400)


ROTATING = "User-Agents since yesterday (a crawler rotating"


def test_a_cookie_carried_by_rotating_user_agents_is_counted_as_new_today(clock):
    """The same, for jars behind sticky proxies (each its own address) whose User-Agent
    changes on every read: past ``visitor.max_agents`` (3) User-Agents since yesterday a
    visitor counts as new today, and the newcomers' rate holds the crowd."""
    def crowd(e: Engine, clock: ManualClock) -> list[Decision]:
        return aged_jars_reading(e, clock, jars=100, reads=2 * 25, pause=3_600 / 2_500,
                                 moving=False, agents=10**6)

    decisions = crowd(engine(clock), clock)
    served = sum(d.action is Action.ALLOW for d in decisions)
    assert served <= 100 * 4 + 100 + 4 * 100 + 8 + 1, served  # as above, the line is 3
    held = [d for d in decisions if d.action is not Action.ALLOW]
    assert {(d.action, d.rule) for d in held} == {(Action.CHALLENGE, "guard:profile")}
    assert "counts as new today" in held[-1].reason
    assert any(ROTATING in s for d in decisions for s in d.signals)
    lax_clock = ManualClock()
    lax = crowd(engine(lax_clock, visitor={"max_agents": 0}), lax_clock)
    assert all(d.action is Action.ALLOW for d in lax), {d.rule for d in lax}


def test_a_browser_that_updates_stays_a_regular(clock):
    """One browser over a day and a half, a profile every half hour from home: an update,
    and the desktop site asked for now and then on a phone, three User-Agents: never more
    than its line, never counted as new."""
    decisions = aged_jars_reading(engine(clock), clock, jars=1, reads=72, pause=1_800,
                                  moving=False, agents=3)
    assert all(d.action is Action.ALLOW for d in decisions)
    assert not any(ROTATING in s or REPLAYED in s for d in decisions for s in d.signals)


@pytest.mark.redis
def test_every_worker_counts_a_visitors_networks_together(redis_url, redis_prefix):
    """Two workers sharing Redis: a jar whose reads alternate between them, each from a new
    network, is caught on its 21st network whichever worker serves it, and both then see it
    so on every read."""
    clock = ManualClock()
    workers = [Engine({"secret_key": SECRET, "protect": PROTECT, "key_prefix": redis_prefix},
                      clock=clock, storage=open_storage(redis_url, cap=1000, prefix=redis_prefix,
                                                        timeout=2.0, options={"clock": "caller"}))
               for _ in range(2)]
    jar = jar_for(workers[0], "jar", "")
    keep_decision(jar, workers[0].inspect(RequestView("GET", "/", with_cookies(CHROME, jar),
                                                      new_address(0))))
    clock.advance(3 * 86_400)
    seen = []
    for n in range(36):
        d = workers[n % 2].inspect(RequestView("GET", f"/users/{n + 1}",
                                               with_cookies(CHROME, jar), new_address(1 + n)))
        keep_decision(jar, d)
        seen.append(any(REPLAYED in s for s in d.signals))
    assert seen == [False] * 30 + [True] * 6


def test_forced_on_holds_every_reader_without_a_clearance_or_an_account(clock):
    """Forced on (an operator under attack), the guard holds regulars too: a visitor since
    two days meets the challenge; a signed-in reader does not."""
    e = engine(clock, guard={"mode": "on"})
    assert e.people is not None and e.people.cookies is not None
    _, value = e.people.cookies.mint(clock() - 2 * 86_400)
    regular = {**CHROME, "cookie": f"{e.people.cookies.name}={value}"}
    d = e.inspect(RequestView("GET", "/users/5", regular, "198.51.100.30"))
    assert (d.action, d.rule) == (Action.CHALLENGE, "guard:profile"), d.reason
    assert "visitors without a clearance" in d.reason
    signed_in = e.inspect(RequestView("GET", "/users/6", regular, "198.51.100.30",
                                      user_id="alice"))
    assert signed_in.action is Action.ALLOW, signed_in.reason


def test_forced_off_never_guards_but_the_pool_still_holds(clock):
    e = engine(clock, guard={"mode": "off"})
    got = [get(e, f"/users/{n}", new_address(n), browser(n), cookies=False).rule
           for n in range(120)]
    assert not any(rule.startswith("guard") for rule in got)
    assert "anonymous:site" in got  # the site-wide daily allowance (60)
    assert got.index("anonymous:site") == 40


def test_monitor_mode_refuses_nothing_and_says_what_it_would_do(clock, caplog):
    e = engine(clock, monitor=True)
    with caplog.at_level(logging.INFO, logger="antiscrape"):
        got = [get(e, f"/users/{n}", new_address(n), browser(n), cookies=False)
               for n in range(40)]
    assert all(d.reply is None for d in got)
    would = [d for d in got if d.action is not Action.ALLOW]
    assert would and all(not d.enforced for d in would)
    assert any(d.rule.startswith("guard:") for d in would)
    assert "site guard ON" in caplog.text
    assert '"enforced":false' in caplog.text


def test_a_monitor_week_teaches_a_busy_site_its_usual_rates(clock, caplog):
    """A site busier than the guard's floor from its first minute: 60 first visits straight
    to a profile every 10 minutes (the floor is 20; the site pool raised, as the docs say).
    Enforced from the start, the guard holds them for good: it does not learn while on.
    Monitored first, it learns the site's own traffic and leaves, and the enforcing engine
    that follows on the same storage serves the same traffic."""
    busy = {"anonymous": {"site": 10**6}}

    def arrivals(e: Engine, start: int, minutes: int) -> list[Decision]:
        out = []
        for n in range(start, start + 6 * minutes):
            out.append(get(e, f"/users/{n}", new_address(n), browser(n), cookies=False))
            clock.advance(10)
        return out

    def on(store: MemoryStorage, **config: object) -> Engine:
        return Engine({"secret_key": SECRET, "protect": PROTECT, **busy, **config},
                      clock=clock, storage=(store, AsyncMemoryStorage(store)))

    enforced = on(MemoryStorage())
    first = arrivals(enforced, 0, 150)
    assert first[-1].rule == "guard:profile" and first[-1].action is Action.CHALLENGE

    shared = MemoryStorage()
    monitored = on(shared, monitor=True)
    with caplog.at_level(logging.WARNING, logger="antiscrape"):
        week = arrivals(monitored, 10_000, 120)
    assert any(d.rule == "guard:profile" and not d.enforced for d in week)  # it did enter
    assert "monitored, it learns this traffic as the usual" in caplog.text
    after = arrivals(on(shared), 20_000, 30)
    assert all(d.action is Action.ALLOW for d in after), {d.rule for d in after}


def test_fifty_people_behind_one_address_get_fifty_peoples_budget(clock):
    """An office: 50 browsers (one build, so one fingerprint) behind one IP, 15 pages each
    within three minutes, 750 requests. Each keeps its cookie; none is ever refused.

    The people are regulars here (``young_for = 0``) on a site used to their reads (the
    guard's floor for visitors' reads above them): on a site that has never seen them, 700
    reads within minutes is a burst the site guard answers with one challenge per person,
    which these browsers would solve (tests/test_people_browser.py drives real ones
    through it). This test is about their budgets."""
    e = engine(clock, budgets={"default": {"ip": "100/minute"}}, visitor={"young_for": 0},
               guard={"min_visitor_reads": 5_000})
    rng = random.Random(8)
    jars = [f"office-{n}" for n in range(50)]
    refused = challenged = 0
    for step in range(15):
        for n, name in enumerate(jars):
            jar = jar_for(e, name, "")
            path = "/" if step == 0 else f"/users/{rng.randrange(1, 100_000)}"
            d = e.inspect(RequestView("GET", path, headers=with_cookies(CHROME, jar),
                                      peer="192.0.2.10"))
            keep_decision(jar, d)
            challenged += d.action is Action.CHALLENGE
            refused += d.action in (Action.THROTTLE, Action.BLOCK)
            clock.advance(180 / 750)
            del n
    assert (refused, challenged) == (0, 0)
    assert e.people.people_behind(e.keys.hashed("192.0.2.10")) >= 45
    # one cookie jar on one IP gets one person's worth of the same budget
    lone = engine(ManualClock(), budgets={"default": {"ip": "100/minute"}})
    codes = [get(lone, "/", "192.0.2.99").action for _ in range(120)]
    assert Action.THROTTLE in codes and codes.index(Action.THROTTLE) <= 101


def test_a_canary_read_convicts_the_visitor_cools_the_fingerprint_and_marks_the_network(
        clock):
    e = engine(clock, enumeration={"canaries": {"profile": ["4242"]}})
    assert get(e, "/users/1", "198.51.100.20").action is Action.ALLOW
    assert get(e, "/users/4242", "198.51.100.20").action is Action.BLOCK
    jar = jar_for(e, "198.51.100.20", CHROME["user-agent"])
    # the same cookie from another network and another browser build: still convicted
    moved = e.inspect(RequestView("GET", "/users/2", with_cookies(browser(1), jar),
                                  peer="203.0.113.200"))
    assert (moved.action, moved.rule) == (Action.BLOCK, "conviction")
    # the fingerprint, on a network it never used, with no cookie: needs a clearance
    cooled = get(e, "/users/3", "192.0.2.140", cookies=False)
    assert (cooled.action, cooled.rule) == (Action.CHALLENGE, "canary:fingerprint")
    # someone else on the canary reader's network carries its evidence
    other = get(e, "/users/3", "198.51.100.99", browser(2))
    assert "a canary record was read from this network" in other.signals
    clock.advance(3_601)  # the cool-down is over
    assert get(e, "/users/3", "192.0.2.141", cookies=False).action is Action.ALLOW


@pytest.mark.parametrize("mode", ["on", "off", "auto"])
def test_the_forced_mode_is_reported(clock, mode):
    e = engine(clock, guard={"mode": mode})
    get(e, "/users/1", "198.51.100.30", cookies=False)
    assert e.people.guard.mode == mode
    assert bool(e.people.guarded_since("profile")) is (mode == "on")


def test_the_cli_says_whether_the_guard_is_forced(tmp_path) -> None:
    import io

    from antiscrape.cli import main

    for mode, said in (("on", "forced ON"), ("off", "forced OFF"), ("auto", "learned")):
        path = tmp_path / f"{mode}.toml"
        path.write_text(f'secret_key = "{SECRET}"\n[guard]\nmode = "{mode}"\n')
        out, err = io.StringIO(), io.StringIO()
        assert main(["check", str(path)], out=out, err=err) == 0
        assert f"site guard: {said}" in err.getvalue()
        assert f'mode = "{mode}"' in out.getvalue()
    assert "leaves after 1800 s at or under 2x the usual rate" in err.getvalue()  # auto


def test_metrics_count_guard_transitions_and_the_status_page_shows_the_guard(clock) -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from antiscrape import metrics

    registry = prometheus_client.CollectorRegistry()
    e = engine(clock, status_page={"enabled": True, "token": "t" * 20},
               metrics={"enabled": True, "namespace": "people_test"})
    metrics.attach(e, registry=registry)
    for n in range(30):
        get(e, f"/users/{n}", new_address(n), browser(n), cookies=False)
    entered = registry.get_sample_value("people_test_guard_transitions_total",
                                        {"series": "profile", "change": "entered"})
    assert entered == 1
    board = e.status_board
    assert board is not None
    assert board.snapshot()["guard"]["series"]["profile"]["guarded"] is True
    page = board.render()
    assert "Site guard: learned" in page and "GUARDED" in page
    jar = {n: jar_for(e, f"jar {n}", "") for n in range(3)}
    for step in range(35):  # three aged jars, each read from a new network every time
        if step == 1:
            clock.advance(3 * 86_400)
        for n in range(3):
            d = e.inspect(RequestView("GET", f"/users/{step}", with_cookies(CHROME, jar[n]),
                                      new_address(1_000 + 240 * (3 * step + n))))
            keep_decision(jar[n], d)
    assert registry.get_sample_value("people_test_replayed_visitors_total",
                                     {"by": "networks"}) == 3
