"""Automation traits sent with a challenge answer: only known codes are kept, and they travel
inside the signed clearance, where the client cannot edit them."""

from __future__ import annotations

from antiscrape.challenge import traits
from antiscrape.challenge.tokens import (
    AUTOMATED,
    CLEARANCE,
    ClearanceToken,
    Signer,
    is_automated,
)

SIGNER = Signer((b"k" * 32,))


def test_only_known_codes_are_kept_sorted_once():
    assert traits.parse("webdriver.headless.webdriver") == "headless.webdriver"
    assert traits.parse("<script>.webdriver.x|y") == "webdriver"
    assert traits.parse("") == "" and traits.parse("webdriver." * 100) == ""


def test_traits_round_trip_in_the_clearance_and_old_cookies_still_verify():
    token = ClearanceToken(AUTOMATED + "abc", 1_700_000_000, "bind", traits="webdriver")
    decoded = ClearanceToken.decode(SIGNER, token.encode(SIGNER))
    assert decoded == token and is_automated(decoded.id)
    # A clearance minted before traits existed (three fields) is a person's, as it was.
    old = SIGNER.sign(CLEARANCE, "abc|1700000000|bind")
    decoded = ClearanceToken.decode(SIGNER, old)
    assert decoded is not None and decoded.traits == "" and not is_automated(decoded.id)


def test_a_client_cannot_strip_the_mark_from_its_clearance():
    cookie = ClearanceToken(AUTOMATED + "abc", 1_700_000_000, "bind", traits="webdriver"
                            ).encode(SIGNER)
    _body, tag = cookie.split(".")
    forged = SIGNER.sign(CLEARANCE, "abc|1700000000|bind").split(".")[0] + "." + tag
    assert ClearanceToken.decode(SIGNER, forged) is None
