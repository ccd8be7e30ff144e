"""Public ids for the shop's URLs: sequential integers (the default) or opaque ids.

Sequential ids are the common, vulnerable case: ``/users/1``, ``/users/2``... tell a crawler
exactly where the next record is, which is why antiscrape's enumeration guard must cover them.
Opaque ids (``/users/Xq3bT9aK``) make walking pointless; switching is one setting
(``SHOP_IDS=opaque`` or ``ids="opaque"`` in each app factory).
"""

from __future__ import annotations

from typing import Literal

from antiscrape.publicids import PublicIds

IdMode = Literal["sequential", "opaque"]
_MAX_DIGITS = 9


class IdCodec:
    """Turns record numbers into URL ids and back, for every kind of record of one app.

    Opaque ids come from ``antiscrape.publicids`` (sqids with an alphabet keyed by the app's
    secret, one per kind, so user 7 and item 7 do not share an id). ``decode`` returns None
    for anything this codec would not have produced, so a route answers 404 for junk.
    """

    def __init__(self, mode: IdMode = "sequential", secret: str = "example-shop") -> None:
        if mode not in ("sequential", "opaque"):
            raise ValueError(f"ids must be 'sequential' or 'opaque', not {mode!r}")
        self.mode: IdMode = mode
        self._secret = secret
        self._coders: dict[str, PublicIds] = {}

    def _coder(self, kind: str) -> PublicIds:
        coder = self._coders.get(kind)
        if coder is None:
            coder = self._coders[kind] = PublicIds(self._secret, kind=kind)
        return coder

    def encode(self, kind: str, number: int) -> str:
        if self.mode == "sequential":
            return str(number)
        return self._coder(kind).encode(number)

    def decode(self, kind: str, public_id: str) -> int | None:
        if self.mode == "sequential":
            if not public_id.isascii() or not public_id.isdigit() or len(public_id) > _MAX_DIGITS:
                return None
            return int(public_id)
        try:
            return self._coder(kind).decode(public_id)
        except ValueError:  # a long junk id can decode past sqids' range: still just a 404
            return None
