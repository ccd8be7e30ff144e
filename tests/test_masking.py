"""Masking phone numbers and e-mail addresses for templates and JSON."""

from __future__ import annotations

import pytest

from antiscrape.masking import mask_email, mask_json, mask_phone, mask_text


@pytest.mark.parametrize(("raw", "masked"), [
    ("13812345678", "138****5678"),
    ("+86 138-1234-5678", "+86 138-****-5678"),
    ("555-123-4567", "***-***-4567"),
    ("555-1234", "***-**34"),
    ("no digits", "no digits"),
])
def test_phone_numbers(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(("raw", "masked"), [
    ("alice@example.com", "a***@example.com"),
    ("x@shop.cn", "***@shop.cn"),
    ("not an address", "not an address"),
])
def test_email_addresses(raw, masked):
    assert mask_email(raw) == masked


def test_free_text_keeps_everything_but_the_personal_data():
    text = "Call 13812345678 or write to bob.smith@shop.cn about order 42."
    assert mask_text(text) == "Call 138****5678 or write to b***@shop.cn about order 42."
    assert mask_text(None) is None and mask_text(7) == 7


def test_json_fields_by_name_and_optionally_inside_text():
    data = {"user": {"id": 7, "phone": "13812345678", "contact_email": "ann@x.org",
                     "bio": "ring 13812345678"},
            "others": [{"mobile": 13812345678}]}
    masked = mask_json(data)
    assert masked["user"] == {"id": 7, "phone": "138****5678", "contact_email": "a***@x.org",
                              "bio": "ring 13812345678"}
    assert masked["others"] == [{"mobile": "138****5678"}]
    assert mask_json(data, scan_text=True)["user"]["bio"] == "ring 138****5678"
    assert data["user"]["phone"] == "13812345678"  # the input is untouched
