"""Pure parts of the enumeration guard: matching, walk detection, the ladder, op layout."""

from __future__ import annotations

import pytest

from antiscrape.config import Config
from antiscrape.decision import Action, Identity
from antiscrape.enumeration import EnumerationGuard
from antiscrape.enumeration.judgement import detect_walk, escalate
from antiscrape.errors import ConfigError
from antiscrape.keys import Keys
from antiscrape.request import Protect, RequestView
from antiscrape.state.memory import MemoryStorage
from antiscrape.state.ops import DistinctAddAll, Get, Recent
from tests.conftest import SECRET

PROTECT = [
    {"route": "/users/{user_id}", "kind": "profile"},
    {"route": "/api/users/{user_id:int}/", "kind": "profile"},
    {"route": "/items/<int:item_id>/comments", "kind": "comments", "page_param": "page"},
    {"route": "/search", "kind": "search", "id_param": "q"},
]
ANON = Identity(ip="203.0.113.5", network="203.0.113.0/24", fingerprint="fp-1")


def guard(**enumeration) -> EnumerationGuard:
    cfg = Config.load({"secret_key": SECRET, "protect": PROTECT, "enumeration": enumeration})
    return EnumerationGuard(cfg, Keys(cfg.key_prefix, cfg.signing_keys[0]))


def view(path: str, query: str = "", **kw) -> RequestView:
    return RequestView("GET", path, query=query, **kw)


@pytest.mark.parametrize(("path", "query", "kind", "record"), [
    ("/users/42", "", "profile", "42"),
    ("/users/42/", "", "profile", "42"),
    ("/api/users/7", "", "profile", "7"),
    ("/items/9/comments", "page=3", "comments", "9#3"),
    ("/items/9/comments", "page=1", "comments", "9"),
    ("/items/9/comments", "page=abc", "comments", "9"),
    ("/search", "q=shoes&x=1", "search", "shoes"),
])
def test_config_templates_match_raw_paths(path, query, kind, record):
    access = guard().match(view(path, query))
    assert access is not None and (access.kind, access.record) == (kind, record)


@pytest.mark.parametrize("path", ["/users", "/users/42/edit", "/about", "/", "/users//"])
def test_other_paths_are_not_protected(path):
    assert guard().match(view(path)) is None


def test_framework_route_and_decorator_spec_are_used_first():
    g = guard()
    by_route = g.match(view("/x", route="/items/{item_id:int}/comments",
                            path_params={"item_id": "5"}, query="page=2"))
    assert by_route is not None and by_route.record == "5#2"
    by_spec = g.match(view("/shop/7/reviews/3", path_params={"shop": "7", "review": "3"},
                           protect=Protect("review")))
    assert by_spec is not None and (by_spec.kind, by_spec.id) == ("review", "3")


def test_huge_ids_are_replaced_by_a_digest():
    access = guard().match(view("/users/" + "9" * 5000))
    assert access is not None and len(access.id) < 40


def test_canaries_are_recognised():
    g = guard(canaries={"profile": ["777"]})
    assert g.match(view("/users/777")).canary
    assert not g.match(view("/users/778")).canary


def test_walks_ascending_descending_and_with_gaps():
    assert detect_walk(["8", "7", "6", "5", "4", "3", "2", "1"], 8, 16) == 1
    assert detect_walk([str(100 - 3 * i) for i in range(8)][::-1], 8, 16) == -3
    assert detect_walk(["20", "18", "17", "13", "12", "9", "4", "1"], 8, 16) == 2
    assert detect_walk(["8", "7", "6", "5", "4", "3", "9", "1"], 8, 16) is None
    assert detect_walk(["900", "7", "6", "5", "4", "3", "2", "1"], 8, 16) is None
    assert detect_walk(["8", "7", "6"], 8, 16) is None
    assert detect_walk(["5", "5", "5", "5", "5", "5", "5", "5"], 8, 16) is None


def test_ladder_challenges_then_throttles_then_blocks_and_shared_levels_only_challenge():
    assert escalate(1.0, "clearance", True, 2.0) is None
    assert escalate(1.2, "account", False, 2.0) is Action.CHALLENGE
    assert escalate(1.2, "clearance", True, 2.0) is Action.THROTTLE
    assert escalate(2.5, "clearance", True, 2.0) is Action.BLOCK
    assert escalate(9.0, "ip", False, 2.0) is Action.CHALLENGE
    assert escalate(9.0, "fingerprint", True, 2.0) is None


def test_ops_layout_and_judge_agree_through_real_storage():
    g = guard(budgets={"profile": {"1h": 3}})
    storage = MemoryStorage(cap=10_000)
    access = g.match(view("/users/1"))
    ops = g.ops(access, ANON, 1_000.0)
    assert [type(op) for op in ops] == [DistinctAddAll, Recent, Get]  # counters, walk, misses
    counters = ops[0].counters
    assert len(counters) == 3  # ip, fingerprint, network
    for key, expires, older in counters:  # keys end with the bucket number
        bucket = int(key.rsplit(":", 1)[1])
        assert older == key.rsplit(":", 1)[0] + f":{bucket - 1}"
        assert expires - int(1_000.0) == 3_600 * (bucket + 2) - 1_000  # two windows at most
    verdicts = []
    for i in range(1, 6):
        access = g.match(view(f"/users/{i * 100}"))
        results = storage.execute(g.ops(access, ANON, 1_000.0 + i), 1_000.0 + i)
        verdicts.append(g.judge(access, ANON, results, cleared=False))
    assert verdicts[:3] == [None, None, None]
    assert verdicts[3].action is Action.CHALLENGE
    assert verdicts[3].reason == "read 4 distinct profile records in 1 h (budget 3 per IP)"


def test_conviction_keys_are_only_read_when_canaries_exist():
    assert guard().conviction_keys(ANON) == []
    keys = guard(canaries={"profile": ["1"]}).conviction_keys(ANON)
    assert len(keys) == 2 and not any(ANON.ip in k for k in keys)  # hashed, never raw


@pytest.mark.parametrize(("enumeration", "where"), [
    ({"budgets": {"profile": {"1y": 3}}}, "enumeration.budgets.profile.1y"),
    ({"budgets": {"profile": {"1d": 0}}}, "enumeration.budgets.profile.1d"),
    ({"levels": {"planet": 2}}, "enumeration.levels.planet"),
    ({"block_factor": 0.5}, "enumeration.block_factor"),
])
def test_bad_settings_name_their_key(enumeration, where):
    with pytest.raises(ConfigError) as err:
        Config.load({"secret_key": SECRET, "enumeration": enumeration})
    assert where in str(err.value)
