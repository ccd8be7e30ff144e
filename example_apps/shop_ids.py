"""Public ids for the shop's URLs: sequential integers (the default) or opaque ids.

Sequential ids are the common, vulnerable case: ``/users/1``, ``/users/2``... tell a crawler
exactly where the next record is, which is why antiscrape's enumeration guard must cover them.
Opaque ids (``/users/Xq3bT9aK``) make walking pointless; switching is one setting
(``SHOP_IDS=opaque`` or ``ids="opaque"`` in each app factory).
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal

from sqids import Sqids

IdMode = Literal["sequential", "opaque"]
_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class IdCodec:
    """Turns record numbers into URL ids and back; one instance per app.

    ``decode`` returns None for anything that is not an id this codec would have produced, so
    a route answers 404 for junk instead of raising.
    """

    def __init__(self, mode: IdMode = "sequential", secret: str = "example-shop") -> None:
        if mode not in ("sequential", "opaque"):
            raise ValueError(f"ids must be 'sequential' or 'opaque', not {mode!r}")
        self.mode: IdMode = mode
        self._sqids: dict[str, Sqids] = {}
        self._secret = secret

    def _coder(self, kind: str) -> Sqids:
        # One alphabet per kind, so user 7 and item 7 do not share a public id.
        coder = self._sqids.get(kind)
        if coder is None:
            seed = hashlib.sha256(f"{self._secret}:{kind}".encode()).digest()
            letters = list(_ALPHABET)
            random.Random(seed).shuffle(letters)
            coder = Sqids(alphabet="".join(letters), min_length=8, blocklist=[])
            self._sqids[kind] = coder
        return coder

    def encode(self, kind: str, number: int) -> str:
        if self.mode == "sequential":
            return str(number)
        return self._coder(kind).encode([number])

    def decode(self, kind: str, public_id: str) -> int | None:
        if self.mode == "sequential":
            if not public_id.isascii() or not public_id.isdigit() or len(public_id) > 9:
                return None
            return int(public_id)
        if not 1 <= len(public_id) <= 32:
            return None
        numbers = self._coder(kind).decode(public_id)
        # Sqids decodes many strings; only the canonical spelling counts as an id.
        if len(numbers) != 1 or self._coder(kind).encode(numbers) != public_id:
            return None
        return numbers[0]
