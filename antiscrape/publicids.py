"""Opaque public ids in place of sequential integers, built on ``sqids``.

Sequential ids in URLs (``/users/1``, ``/users/2``, ...) hand a crawler the list of every record;
short opaque ids (``/users/Xk3mP9qa``) take that list away, so a harvester must discover records
the slow way, through pages that link to them, where the enumeration guard counts it.

``sqids`` is an encoding, not encryption: with the default alphabet anyone can decode an id.
Here the alphabet is shuffled with a keyed hash of the site's secret (and a per-kind
namespace, so a profile id is no valid item id), which hides the order from anyone without the
secret. It is still not a cryptographic guarantee: never use public ids as access control.

Every decoded id is re-encoded and compared, because several strings can decode to the same
number in sqids; only the canonical string is accepted, so one record has exactly one URL.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote

from sqids import Sqids

T = TypeVar("T")

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MAX_ID = (1 << 63) - 1
_MAX_PUBLIC_LENGTH = 64


def keyed_alphabet(secret: str | bytes, namespace: str = "") -> str:
    """The default alphabet shuffled (Fisher-Yates) by an HMAC-SHA256 stream of ``secret``."""
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("public ids need a non-empty secret")
    letters = list(_ALPHABET)
    stream = b""
    counter = 0
    pos = 0
    for i in range(len(letters) - 1, 0, -1):
        if pos + 4 > len(stream):
            stream = stream[pos:] + hmac.new(key, f"publicids:{namespace}:{counter}".encode(),
                                             hashlib.sha256).digest()
            counter += 1
            pos = 0
        j = int.from_bytes(stream[pos:pos + 4], "big") % (i + 1)
        pos += 4
        letters[i], letters[j] = letters[j], letters[i]
    return "".join(letters)


class PublicIds:
    """Encode record numbers as opaque ids for one kind of record, and back.

    >>> ids = PublicIds("site secret", kind="profile")
    >>> ids.decode(ids.encode(42))
    42
    """

    def __init__(self, secret: str | bytes, *, kind: str = "", min_length: int = 8) -> None:
        if not 0 <= min_length <= 32:
            raise ValueError("min_length must be 0..32")
        self.kind = kind
        self._sqids = Sqids(alphabet=keyed_alphabet(secret, kind), min_length=min_length)

    def encode(self, number: int) -> str:
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(f"public ids encode integers, not {type(number).__name__}")
        if not 0 <= number <= MAX_ID:
            raise ValueError(f"public ids encode 0..{MAX_ID}, got {number}")
        return str(self._sqids.encode([number]))

    def decode(self, public_id: str) -> int | None:
        """The number behind ``public_id``, or None for anything ``encode`` did not produce
        (wrong alphabet, other kind, non-canonical spelling, garbage): a safe 404."""
        if not isinstance(public_id, str) or not public_id or len(public_id) > _MAX_PUBLIC_LENGTH:
            return None
        try:
            numbers = self._sqids.decode(public_id)
            # Long strings decode to numbers beyond what ``encode`` accepts; those were never
            # produced here, and re-encoding them would raise.
            if len(numbers) != 1 or not 0 <= numbers[0] <= MAX_ID:
                return None
            if self._sqids.encode(numbers) != public_id:
                return None
        except (ValueError, IndexError, OverflowError):
            return None
        return int(numbers[0])

    def url(self, template: str, **numbers: int | str) -> str:
        """Fill ``{name}`` placeholders: integers become public ids, strings are URL-quoted.

        ``ids.url("/users/{user_id}", user_id=42)`` -> ``"/users/Xk3mP9qa"``.
        """
        values = {name: self.encode(v) if isinstance(v, int) else quote(str(v), safe="")
                  for name, v in numbers.items()}
        try:
            return template.format(**values)
        except (KeyError, IndexError) as exc:
            raise ValueError(f"template {template!r} needs a value for {exc}") from exc

    def lookup(self, public_id: str, load: Callable[[int], T | None]) -> T | None:
        """Decode ``public_id`` and ``load`` the record; None when the id is not valid.

        ``load`` is only called for canonical ids, so probing random strings never reaches
        the database.
        """
        number = self.decode(public_id)
        if number is None:
            return None
        return load(number)
