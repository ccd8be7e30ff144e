"""The enumeration guard driven through the real Engine, on simulated days (ManualClock)."""

from __future__ import annotations

import gc
import os
import random
import sys

import pytest

from antiscrape.challenge.tokens import ClearanceToken, Signer, random_id
from antiscrape.clock import ManualClock
from antiscrape.config import Config
from antiscrape.decision import Action, Decision, Identity
from antiscrape.engine import Engine
from antiscrape.enumeration import Access, EnumerationGuard
from antiscrape.keys import Keys
from antiscrape.request import RequestView
from antiscrape.state.memory import MemoryStorage
from antiscrape.state.sketch import DistinctSketch
from tests.browsers import CHROME
from tests.conftest import SECRET
from tests.jar import jar_for, keep_decision, with_cookies

PROTECT = [{"route": "/users/{user_id}", "kind": "profile"},
           {"route": "/items/{item_id}/comments", "kind": "comments", "page_param": "page"}]
DAY = 86_400


def engine(clock: ManualClock, *, visitor: bool = True, **enumeration) -> Engine:
    return Engine({"secret_key": SECRET, "protect": PROTECT, "enumeration": enumeration,
                   "visitor": {"enabled": visitor}}, clock=clock)


def browser(n: int) -> dict[str, str]:
    """Person n's own browser: a distinct build, so a distinct fingerprint."""
    return {**CHROME, "user-agent": CHROME["user-agent"].replace(
        "Chrome/131.0.0.0", f"Chrome/131.0.{6700 + n}.{n % 200}")}


def get(e: Engine, path: str, peer: str, headers: dict[str, str], query: str = "") -> Decision:
    """One request of the browser with these headers at this address: it keeps cookies."""
    jar = jar_for(e, peer, headers.get("user-agent", ""))
    decision = e.inspect(RequestView("GET", path, headers=with_cookies(headers, jar), peer=peer,
                                     query=query))
    keep_decision(jar, decision)
    return decision


def cleared(e: Engine, headers: dict[str, str], decision: Decision) -> dict[str, str]:
    """The headers of the same browser after it solved the challenge (cookie set)."""
    ident = decision.identity
    assert ident is not None
    bind = e.challenges.binding(ident.network, headers["user-agent"])
    token = ClearanceToken(random_id(), int(e.clock()), bind)
    cookie = f"{e.config.challenge.cookie_name}={token.encode(Signer(e.config.signing_keys))}"
    return {**headers, "cookie": cookie}


def person_day(rng: random.Random) -> list[tuple[str, str]]:
    """30 profiles and 10 comment pages, as someone browsing a shop reads them."""
    reads = [(f"/users/{rng.randrange(1, 200_000)}", "") for _ in range(30)]
    for _ in range(4):
        item = rng.randrange(1, 50_000)
        reads += [(f"/items/{item}/comments", f"page={p}") for p in range(1, 4)][:3]
    return reads[:40]


def test_a_person_reading_30_profiles_and_10_comment_pages_a_day_is_never_challenged(clock):
    e = engine(clock)
    rng = random.Random(1)
    for _day in range(14):
        for path, query in person_day(rng):
            d = get(e, path, "198.51.100.20", CHROME, query)
            assert d.action is Action.ALLOW, d.reason
            clock.advance(15 * 60)
        clock.advance(DAY - 40 * 15 * 60)


def test_fifty_people_behind_one_office_ip_are_not_blocked(clock):
    e = engine(clock)
    rng = random.Random(2)
    people = [browser(n) for n in range(50)]
    challenged = 0
    for _day in range(3):
        days = [person_day(rng) for _ in people]
        for step in range(40):
            for n, headers in enumerate(people):
                path, query = days[n][step]
                d = get(e, path, "192.0.2.10", headers, query)
                if d.action is Action.CHALLENGE:  # the person solves it once
                    challenged += 1
                    people[n] = headers = cleared(e, headers, d)
                    d = get(e, path, "192.0.2.10", headers, query)
                assert d.action is Action.ALLOW, d.reason
            clock.advance(10 * 60)
        clock.advance(DAY - 40 * 10 * 60)
    # The shared IP asks each person at most once per clearance lifetime (one day).
    assert challenged <= 50 * 3


def test_ip_rotating_crawler_keeping_its_fingerprint_is_stopped_at_the_budget(clock):
    """The fingerprint budget on its own (visitors off: no anonymous pool, no site guard,
    which stop such a crawler far sooner, see test_people)."""
    e = engine(clock, visitor=False)
    budget = round(250 * e.config.enumeration.levels["fingerprint"])
    ids = random.Random(3).sample(range(1, 10_000_000), budget + 50)  # no walk to spot
    first_refusal = None
    for n, user in enumerate(ids, start=1):
        peer = f"{10 + n // 65_000}.{(n // 250) % 250}.{n % 250}.7"  # a new /24 every time
        d = get(e, f"/users/{user}", peer, CHROME)
        if d.action is not Action.ALLOW and first_refusal is None:
            first_refusal = n
            assert d.rule == "enumeration:distinct:fingerprint"
            assert d.reason.endswith(f"distinct profile records in 24 h (budget {budget} per "
                                     f"browser fingerprint)")
        if first_refusal is not None:
            assert d.action is not Action.ALLOW  # and it stays stopped
        clock.advance(4)
    # Beyond 64 records the count is a HyperLogLog estimate (1.6 % standard error).
    assert first_refusal is not None and abs(first_refusal - budget) <= 0.05 * budget


def test_a_canary_read_blocks_at_once_and_convicts(clock, caplog):
    e = engine(clock, canaries={"profile": ["31337"]})
    assert get(e, "/users/5", "203.0.113.9", CHROME).action is Action.ALLOW
    with caplog.at_level("WARNING", logger="antiscrape.alert"):
        d = get(e, "/users/31337", "203.0.113.9", CHROME)
    assert (d.action, d.rule) == (Action.BLOCK, "enumeration:canary")
    assert "canary profile" in caplog.text and "203.0.113.9" not in caplog.text
    clock.advance(3 * DAY)
    later = get(e, "/users/6", "203.0.113.9", CHROME)
    assert (later.action, later.rule) == (Action.BLOCK, "conviction")
    same_browser_same_network = get(e, "/users/6", "203.0.113.77", CHROME)
    assert same_browser_same_network.action is Action.BLOCK
    clock.advance(5 * DAY)  # conviction_ttl (7 days) is over
    assert get(e, "/users/6", "203.0.113.9", CHROME).action is Action.ALLOW


def first_refusal(e: Engine, ids: list[int], peer: str) -> int:
    for n, user in enumerate(ids, start=1):
        if get(e, f"/users/{user}", peer, CHROME).action is not Action.ALLOW:
            return n
        e.clock.advance(30)  # type: ignore[attr-defined]
    return len(ids) + 1


def test_an_ascending_walk_is_flagged_sooner_than_random_order(clock):
    walk = first_refusal(engine(clock), list(range(1_000, 1_300)), "203.0.113.50")
    shuffled = random.Random(4).sample(range(1_000, 1_300), 300)
    random_order = first_refusal(engine(ManualClock()), shuffled, "203.0.113.51")
    assert walk == 8  # walk_length
    assert abs(random_order - 250) <= 0.05 * 250  # the IP level's day budget (estimated)
    assert walk < random_order


def test_a_burst_of_404s_on_users_is_flagged(clock):
    e = engine(clock)
    peer = "203.0.113.60"
    for n in range(30):  # miss_budget
        d = get(e, f"/users/{900_000 + n * 37}", peer, CHROME)
        assert d.action is Action.ALLOW
        e.record_response(RequestView("GET", "/users/x", headers=CHROME, peer=peer), d, 404)
    d = get(e, "/users/17", peer, CHROME)
    assert (d.action, d.rule) == (Action.CHALLENGE, "enumeration:misses")
    assert d.reason.startswith("30 not-found answers on protected routes in 1 h")
    clock.advance(3_601)
    assert get(e, "/users/18", peer, CHROME).action is Action.ALLOW


def test_a_cleared_harvester_is_throttled_then_blocked(clock):
    e = engine(clock, budgets={"profile": {"1d": 100}})
    headers = CHROME
    ids = random.Random(5).sample(range(1, 10_000_000), 420)
    actions = []
    for user in ids:
        d = get(e, f"/users/{user}", "203.0.113.70", headers)
        if d.action is Action.CHALLENGE and "cookie" not in headers:
            headers = cleared(e, headers, d)
            d = get(e, f"/users/{user}", "203.0.113.70", headers)
        actions.append(d.action)
        clock.advance(20)
    # 100 before the visitor (and IP) level challenges; the clearance it then earns does not
    # reset what its visitor read: throttled at once, until the visitor has read twice its
    # budget (block_factor), then blocked.
    assert actions[:100] == [Action.ALLOW] * 100
    assert Action.THROTTLE in actions and actions[-1] is Action.BLOCK
    assert 100 <= actions.index(Action.THROTTLE) <= 110
    assert actions.index(Action.THROTTLE) < actions.index(Action.BLOCK)


def read_many(n: int, *, measure: bool) -> tuple[MemoryStorage, int, int]:
    """One identity reads ``n`` distinct profiles through the guard's ops and the memory
    backend. Returns the storage and, between read 5 000 and read ``n`` (0, 0 when not
    measured), how many Python memory blocks and how many bytes of resident memory the
    process gained: no tracing, so a million reads take seconds, not minutes."""
    cfg = Config.load({"secret_key": SECRET, "protect": PROTECT})
    g = EnumerationGuard(cfg, Keys(cfg.key_prefix, cfg.signing_keys[0]))
    storage = MemoryStorage(cap=cfg.state_cap)
    who = Identity(ip="203.0.113.80", network="203.0.113.0/24", fingerprint="fp")
    now = 1_700_000_000.0
    blocks = resident = 0
    for i in range(n):
        if measure and i == 5_000:
            gc.collect()
            blocks, resident = sys.getallocatedblocks(), resident_bytes()
        a = Access("profile", str(i * 7 + 3), None, "/users/{user_id}")
        storage.execute(g.ops(a, who, now), now)
        now += 0.05  # a million reads over 14 hours
    if not measure:
        return storage, 0, 0
    gc.collect()
    return storage, sys.getallocatedblocks() - blocks, resident_bytes() - resident


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def sketch_bytes(storage: MemoryStorage) -> int:
    return sum(entry[1].nbytes for entry in storage._data.values()
               if isinstance(entry[1], DistinctSketch))


def test_memory_for_many_distinct_ids_of_one_identity_stays_bounded():
    storage, _, _ = read_many(30_000, measure=False)
    assert len(storage) <= 12  # a few buckets per level and window, one walk list
    assert sketch_bytes(storage) <= 12 * 2 * 4096


@pytest.mark.slow
def test_memory_for_one_million_distinct_ids_of_one_identity_stays_bounded():
    storage, blocks, resident = read_many(1_000_000, measure=True)
    assert len(storage) <= 12
    assert sketch_bytes(storage) <= 12 * 2 * 4096
    # Keeping even one small object per id read would add about a million blocks (and tens
    # of MiB); the sketches are fixed-size, so neither grows with the ids read.
    assert blocks < 10_000
    assert resident < 4 * 1024 * 1024
