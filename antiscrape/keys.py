"""Storage key names. Personal data (IPs, user agents, account ids) never appears raw in a key:
it is replaced by a keyed hash, so a dump of Redis reveals no visitor's address."""

from __future__ import annotations

import hashlib


class Keys:
    """Builds ``<prefix>:<part>:<part>`` keys and hashes personal values into them."""

    __slots__ = ("_cache", "_chars", "_secret", "prefix")

    _CACHE_MAX = 65_536
    _CACHE_CHARS = 8_000_000
    """Characters of cached values: user agents and fingerprint traits are the client's to
    lengthen, so entries alone would not bound the memory (65 536 x 16 KiB headers)."""

    def __init__(self, prefix: str, secret: bytes) -> None:
        self.prefix = prefix
        self._secret = hashlib.blake2b(secret, digest_size=32).digest()
        self._cache: dict[str, str] = {}
        self._chars = 0

    def hashed(self, value: str) -> str:
        """A short keyed hash (16 hex chars) of ``value``, cached for hot values."""
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), key=self._secret,
                                 digest_size=8).hexdigest()
        if len(self._cache) >= self._CACHE_MAX or self._chars > self._CACHE_CHARS:
            self._cache.clear()  # cheap bound; hot values come straight back
            self._chars = 0
        self._cache[value] = digest
        self._chars += len(value)
        return digest

    def __call__(self, *parts: str) -> str:
        return self.prefix + ":" + ":".join(parts)
