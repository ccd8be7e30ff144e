"""Opaque public ids: round trips, canonical spelling only, per-kind and per-secret alphabets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antiscrape.publicids import MAX_ID, PublicIds, keyed_alphabet

PROFILES = PublicIds("site secret 0123456789", kind="profile")


@pytest.mark.parametrize("number", [0, 1, 2, 41, 42, 10**6, 2**40, MAX_ID])
def test_round_trip(number):
    public = PROFILES.encode(number)
    assert len(public) >= 8 and PROFILES.decode(public) == number


def test_neighbouring_records_do_not_look_neighbouring():
    a, b = PROFILES.encode(1000), PROFILES.encode(1001)
    assert a != b and str(1000) not in a
    assert sum(x == y for x, y in zip(a, b, strict=False)) < len(a) - 1


def test_ids_of_another_kind_or_secret_are_not_accepted():
    public = PROFILES.encode(42)
    assert PublicIds("site secret 0123456789", kind="item").decode(public) != 42
    assert PublicIds("another secret 987654", kind="profile").decode(public) != 42


@pytest.mark.parametrize("junk", ["", "!!!!", "a" * 500, "0", "Ab$", "../../etc/passwd", None, 42])
def test_garbage_decodes_to_none_never_raises(junk):
    assert PROFILES.decode(junk) is None  # type: ignore[arg-type]


def test_only_the_canonical_spelling_is_accepted():
    public = PROFILES.encode(7)
    alphabet = keyed_alphabet("site secret 0123456789", "profile")
    variants = {public[:-1] + c for c in alphabet} - {public}
    assert all(PROFILES.decode(v) != 7 for v in variants)


def test_url_and_lookup_helpers():
    url = PROFILES.url("/users/{user_id}?tab={tab}", user_id=42, tab="a b")
    public = url.split("/")[2].split("?")[0]
    assert url.endswith("?tab=a%20b") and PROFILES.decode(public) == 42
    calls = []

    def load(n: int) -> str:
        calls.append(n)
        return f"user {n}"

    assert PROFILES.lookup(public, load) == "user 42"
    assert PROFILES.lookup("nope", load) is None
    assert calls == [42]  # random probing never reaches the loader


@pytest.mark.parametrize("bad", [-1, MAX_ID + 1])
def test_out_of_range_numbers_are_refused(bad):
    with pytest.raises(ValueError):
        PROFILES.encode(bad)


def test_missing_template_value_is_a_clear_error():
    with pytest.raises(ValueError, match="user_id"):
        PROFILES.url("/users/{user_id}")


@pytest.mark.parametrize("long_id", ["x" * 40, "x" * 20, "zZ9" * 21, "a" * 64])
def test_long_ids_that_decode_beyond_the_range_are_not_found(long_id):
    assert PROFILES.decode(long_id) is None


_ALPHABET = keyed_alphabet("site secret 0123456789", "profile")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.text(alphabet=_ALPHABET, max_size=80)))
def test_arbitrary_strings_never_raise(text):
    number = PROFILES.decode(text)
    assert number is None or PROFILES.encode(number) == text
