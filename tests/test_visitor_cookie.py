"""The visitor cookie on its own: signed, expiring, rotating keys, never mistaken for
another token."""

from __future__ import annotations

import pytest

from antiscrape.challenge.tokens import CLEARANCE, Signer
from antiscrape.config import Config, VisitorSettings
from antiscrape.errors import ConfigError
from antiscrape.request import cookie_value
from antiscrape.visitor import VisitorCookies

NOW = 1_750_000_000.0


def cookies(*keys: bytes, **settings: object) -> VisitorCookies:
    return VisitorCookies(VisitorSettings(**settings), Signer(keys or (b"k" * 32,)))  # type: ignore[arg-type]


def test_minted_cookie_reads_back_as_the_same_visitor_and_is_new_only_when_minted() -> None:
    jar = cookies()
    visitor, value = jar.mint(NOW)
    assert visitor.new and not visitor.established(NOW, 0)
    back = jar.read(value, NOW + 5)
    assert back is not None and (back.id, back.issued) == (visitor.id, int(NOW))
    assert not back.new and back.established(NOW + 5, 0)
    assert not back.established(NOW + 5, 10) and back.established(NOW + 10, 10)
    assert jar.mint(NOW)[0].id != visitor.id  # random ids


def test_cookie_expires_after_its_lifetime_and_is_refused_from_the_far_future() -> None:
    jar = cookies(lifetime=3_600)
    _, value = jar.mint(NOW)
    assert jar.read(value, NOW + 3_599) is not None
    assert jar.read(value, NOW + 3_600) is None
    assert jar.read(value, NOW - 3_600) is None


@pytest.mark.parametrize("tamper", [
    lambda v: v[:-2] + ("AA" if v[-2:] != "AA" else "BB"),  # another tag
    lambda v: "x" + v,  # another payload
    lambda v: v.replace(".", ""),
    lambda v: "",
    lambda v: "." * 5000,
])
def test_tampered_or_garbage_cookies_are_not_visitors(tamper) -> None:
    jar = cookies()
    _, value = jar.mint(NOW)
    assert jar.read(tamper(value), NOW) is None


def test_other_tokens_signed_with_the_same_key_are_not_visitors() -> None:
    signer = Signer((b"k" * 32,))
    jar = VisitorCookies(VisitorSettings(), signer)
    clearance = signer.sign(CLEARANCE, f"abc|{int(NOW)}")
    assert jar.read(clearance, NOW) is None


def test_rotated_keys_still_verify_and_a_foreign_key_does_not() -> None:
    old = cookies(b"old" * 11)
    _, value = old.mint(NOW)
    rotated = cookies(b"new" * 11, b"old" * 11)
    assert rotated.read(value, NOW) is not None
    assert cookies(b"new" * 11).read(value, NOW) is None


def test_set_cookie_header_is_first_party_http_only_lax_and_secure_on_https() -> None:
    jar = cookies(cookie_name="vid", lifetime=86_400)
    _, value = jar.mint(NOW)
    name, header = jar.set_cookie(value, secure=False)
    assert name == "set-cookie"
    assert header.startswith(f"vid={value};")
    parts = {p.strip() for p in header.split(";")}
    assert {"Path=/", "Max-Age=86400", "HttpOnly", "SameSite=Lax"} <= parts
    assert "Secure" not in parts and not any(p.startswith("Domain") for p in parts)
    assert "Secure" in {p.strip() for p in jar.set_cookie(value, secure=True)[1].split(";")}
    assert cookie_value(f"a=1; vid={value}", "vid") == value  # what the engine reads back


def test_defaults_and_validation() -> None:
    cfg = Config.load({"debug": True})
    assert cfg.visitor.lifetime == 30 * 86_400 and cfg.visitor.enabled
    for bad, path in ((({"cookie_name": "a b"}), "visitor.cookie_name"),
                      ({"lifetime": 10}, "visitor.lifetime"),
                      ({"new_per_ip": 0}, "visitor.new_per_ip"),
                      ({"rotation_score": 101}, "visitor.rotation_score")):
        with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
            Config.load({"debug": True, "visitor": bad})
    with pytest.raises(ConfigError, match=r"guard\.factor"):
        Config.load({"debug": True, "guard": {"factor": 1.0}})
    with pytest.raises(ConfigError, match="guard"):
        Config.load({"debug": True, "guard": {"mode": "sometimes"}})
    assert Config.load({"debug": True}).guard.alpha == pytest.approx(1 - 0.5 ** (600 / 86_400))
