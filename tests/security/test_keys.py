"""Signing keys: every key that verifies is held to the strength rule.

Reported: ``old_secret_keys`` were not checked (a cookie forged with the old key ``"a"`` was
accepted), and weak keys passed the length check (``16 x "a"``, sixteen spaces,
``changeme-changeme``).
"""

from __future__ import annotations

import random
import string

import pytest

from antiscrape.config import Config
from antiscrape.errors import ConfigError
from antiscrape.keystrength import key_weakness
from tests.conftest import SECRET

WEAK = ["a" * 16, " " * 16, "changeme-changeme", "passwordpassword", "aaaaaaaabbbbbbbb",
        "abcdabcdabcdabcd", "a", "secretsecretsecret", "letmeinletmein!!", "\t" * 40]


@pytest.mark.parametrize("key", WEAK)
def test_weak_keys_are_refused_as_secret_key_and_as_old_keys(key: str) -> None:
    with pytest.raises(ConfigError, match=r"^secret_key"):
        Config.load({"secret_key": key})
    with pytest.raises(ConfigError, match=r"^old_secret_keys\[1\]"):
        Config.load({"secret_key": SECRET, "old_secret_keys": [SECRET + "-old", key]})


URLSAFE = string.ascii_letters + string.digits + "-_"


def test_random_keys_of_the_minimum_length_pass() -> None:
    """Random keys as secrets.token_urlsafe / token_hex draw them (seeded, so a run is
    reproducible): 16 URL-safe characters, 43 of them, 32 hex digits."""
    rng = random.Random(15)
    for _ in range(2_000):
        for alphabet, n in ((URLSAFE, 16), (URLSAFE, 43), (string.hexdigits[:16], 32)):
            key = "".join(rng.choice(alphabet) for _ in range(n))
            assert key_weakness(key) is None, key


def test_a_cookie_forged_with_a_weak_old_key_never_gets_that_far() -> None:
    """The reported forgery needed the engine to accept old key 'a': it now refuses to
    start, so nothing is ever verified with it."""
    from antiscrape.engine import Engine

    with pytest.raises(ConfigError, match="old_secret_keys"):
        Engine({"secret_key": SECRET, "old_secret_keys": ["a"]})


def test_debug_still_runs_with_a_throwaway_key() -> None:
    assert Config.load({"secret_key": "dev", "debug": True}).secret_key == "dev"
