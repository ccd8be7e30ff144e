"""Mask personal data in rendered output: ``13812345678`` -> ``138****5678``.

A harvester that gets past every budget should still not leave with phone numbers and e-mail
addresses. These are plain functions: register them as a Jinja filter
(``env.filters["mask"] = mask_text``) or a Django template filter in the adapters, and run
``mask_json`` over API payloads before they are serialised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_PHONE = re.compile(r"(?<![\w@.])\+?\d[\d ().\-]{5,22}\d(?![\w@])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")

PHONE_KEYS = ("phone", "mobile", "tel", "cell", "fax", "msisdn")
EMAIL_KEYS = ("email", "e_mail", "mail")


def mask_phone(value: str, char: str = "*") -> str:
    """Hide the four digits before the last four of 11+ digit numbers (``138****5678``,
    ``+86 138-****-5678``), all but the last 4 of 8-10 digit ones and all but the last 2 of
    shorter ones; separators stay where they were."""
    digits = sum(c.isdigit() for c in value)
    if digits == 0:
        return value
    if digits >= 11:
        head, tail = digits - 8, 4
    elif digits >= 8:
        head, tail = 0, 4
    else:
        head, tail = 0, min(2, digits - 1)
    out = []
    seen = 0
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= head or seen > digits - tail else char)
        else:
            out.append(c)
    return "".join(out)


def mask_email(value: str, char: str = "*") -> str:
    """``alice@example.com`` -> ``a***@example.com``; the domain stays readable."""
    local, sep, domain = value.rpartition("@")
    if not sep or not local:
        return value
    shown = local[0] if len(local) > 1 else ""
    return f"{shown}{char * 3}@{domain}"


def mask_text(text: Any) -> Any:
    """Mask every e-mail address and phone-number-like run (7-15 digits) inside ``text``.

    Meant for contact fields and user-written text; it will also mask other long digit runs
    with separators (a date like 2024-01-15), so do not run it over whole pages of numbers.
    Non-strings pass through unchanged (handy in templates).
    """
    if not isinstance(text, str) or not text:
        return text
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(_phone_match, text)


def _phone_match(match: re.Match[str]) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    return mask_phone(found) if 7 <= digits <= 15 else found


def _field_kind(key: str, phone_keys: Iterable[str], email_keys: Iterable[str]) -> str | None:
    name = key.lower()
    if any(k in name for k in email_keys):
        return "email"
    if any(k in name for k in phone_keys):
        return "phone"
    return None


def mask_json(data: Any, *, phone_keys: Iterable[str] = PHONE_KEYS,
              email_keys: Iterable[str] = EMAIL_KEYS, scan_text: bool = False) -> Any:
    """A copy of a JSON-like structure with personal fields masked.

    Fields whose name contains a phone word (phone, mobile, tel, ...) or an e-mail word are
    masked whole; with ``scan_text`` every other string is passed through :func:`mask_text`.
    The input is never modified.
    """
    phone_keys = tuple(phone_keys)
    email_keys = tuple(email_keys)

    def walk(value: Any, kind: str | None) -> Any:
        if isinstance(value, Mapping):
            return {k: walk(v, _field_kind(str(k), phone_keys, email_keys) or kind)
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v, kind) for v in value]
        if isinstance(value, str):
            if kind == "phone":
                return mask_phone(value)
            if kind == "email":
                return mask_text(value) if "@" not in value else mask_email(value)
            return mask_text(value) if scan_text else value
        if isinstance(value, int) and not isinstance(value, bool) and kind == "phone":
            return mask_phone(str(value))
        return value

    return walk(data, None)
