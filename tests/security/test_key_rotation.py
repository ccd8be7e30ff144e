"""Rotating ``secret_key`` changes signatures only: budgets, convictions and the clearance
cookies issued before the rotation stay.

Reported: storage key names were hashed with the signing key, so a rotation reset every
budget counter and conviction (a crawler blocked for a week was free the moment the key
changed).
"""

from __future__ import annotations

import pytest

from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.state import AsyncMemoryStorage, MemoryStorage
from tests.browsers import CHROME
from tests.conftest import SECRET

from .drive import HEADLESS, answer, challenge, cookie_of, get, solve

NEW = "rotated-secret-key-9f8e7d6c5b4a"
CONFIG = {"protect": [{"route": "/users/{user_id}", "kind": "user"}],
          "enumeration": {"canaries": {"user": ["999"]}},
          "budgets": {"default": {"ip": "5/minute", "network": "1000/minute"}},
          "challenge": {"ladder": [{"max_score": 100, "difficulty": 4}]}}


def engines(clock: ManualClock, before: dict, after: dict) -> tuple[Engine, Engine]:
    """Two engines on one store (as two deployments of one site share Redis)."""
    store = MemoryStorage()
    faces = (store, AsyncMemoryStorage(store))
    return (Engine({**CONFIG, **before}, clock=clock, storage=faces),
            Engine({**CONFIG, **after}, clock=clock, storage=faces))


ROTATIONS = {
    "old key kept": ({"secret_key": SECRET}, {"secret_key": NEW, "old_secret_keys": [SECRET]}),
    "state_secret": ({"secret_key": SECRET, "state_secret": "state-secret-0a1b2c3d4e5f"},
                     {"secret_key": NEW, "state_secret": "state-secret-0a1b2c3d4e5f"}),
}


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_budgets_and_convictions_survive_a_rotation(clock: ManualClock, rotation: str) -> None:
    before, after = engines(clock, *ROTATIONS[rotation])
    assert [get(before, "/", CHROME).action for _ in range(5)] == [Action.ALLOW] * 5
    assert get(after, "/", CHROME).action is Action.THROTTLE  # the budget carried over
    crawler = {**CHROME, "accept": "application/json"}
    assert get(before, "/users/999", crawler, peer="192.0.2.50").action is Action.BLOCK
    assert get(after, "/users/1", crawler, peer="192.0.2.50").action is Action.BLOCK


def test_a_clearance_from_before_the_rotation_still_counts(clock: ManualClock) -> None:
    before, after = engines(clock, *ROTATIONS["old key kept"])
    ch = challenge(before, headers=HEADLESS | {"accept": "application/json"})
    cookie = cookie_of(answer(before, ch["token"], solve(ch["seed"], ch["difficulty"]),
                              headers=HEADLESS | {"accept": "application/json"}))
    assert cookie
    cleared = {**HEADLESS, "cookie": cookie}
    first = get(before, "/", cleared).identity
    again = get(after, "/", cleared).identity
    assert first is not None and again is not None
    assert again.clearance == first.clearance is not None
