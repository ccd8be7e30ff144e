"""Is a signing key strong enough? Length and a pessimistic entropy estimate.

Every key that verifies signatures is a key that can forge them, so ``old_secret_keys`` are
held to the same rule as ``secret_key``: a cookie signed with an old key ``"a"`` is as good as
one signed with the current key. Length alone lets ``16 x "a"``, sixteen spaces or
``changeme-changeme`` through; the estimate below catches keys made of few characters or of
one piece repeated, and passes keys drawn at random of the minimum length and more
(``secrets.token_urlsafe``; of 16 random hex digits fewer than 1 in 10 000 are refused).
"""

from __future__ import annotations

import math

MIN_KEY_CHARS = 16
MIN_KEY_BITS = 48
"""Below this estimate a key is refused. The estimate is far below a random key's real
entropy (16 random URL-safe characters hold 96 bits and estimate about 60, 16 hex digits
hold 64 and estimate about 53): it only has to
tell a random key from a typed one."""

_EXAMINED = 128
"""Characters examined (a longer key is judged by its first 128: already plenty)."""


def _pieces(text: str) -> int:
    """How many pieces ``text`` is made of when a run of 3+ characters seen before counts as
    one piece (a crude Lempel-Ziv parse): ``changeme-changeme`` is 10 pieces, not 17."""
    i, n, pieces = 0, len(text), 0
    while i < n:
        step = 1
        for length in range(min(n - i, i), 2, -1):  # the longest earlier repeat, 3+ chars
            if text[i:i + length] in text[:i]:
                step = length
                break
        i += step
        pieces += 1
    return pieces


def estimate_bits(key: str) -> float:
    """Entropy estimate in bits: as if each piece (see ``_pieces``) were one character drawn
    from an alphabet of the key's own distinct characters."""
    text = key[:_EXAMINED]
    return math.log2(len(set(text))) * _pieces(text) if text else 0.0


def key_weakness(key: str) -> str | None:
    """Why ``key`` may not sign or verify anything, or None when it may."""
    if len(key.strip()) < MIN_KEY_CHARS:
        return f"too short: use at least {MIN_KEY_CHARS} random characters"
    bits = estimate_bits(key)
    if bits < MIN_KEY_BITS:
        return (f"too predictable (estimated {bits:.0f} bits, at least {MIN_KEY_BITS} needed): "
                "use a random key, e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'")
    return None
