"""Signed, expiring tokens: the challenge a client must answer and the clearance it earns.

Both are stateless: everything the server needs to check an answer travels inside the token,
authenticated by an HMAC, so issuing a challenge costs no storage round trip. Only redemption
touches storage (once-only), and that is the engine's batch, not this module's business.

Wire format: ``base64url(payload) "." base64url(mac)``. The payload is a ``|``-separated
string whose last field may contain ``|`` (the return path). The MAC covers a purpose label
plus the payload, so a challenge token can never pass as a clearance cookie or the reverse.
Keys rotate: the first key signs, every key verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

MAC_BYTES = 16
"""128-bit tags: forging one is out of reach, and cookies stay short."""

MAX_TOKEN_CHARS = 4_096
"""Longer input is refused before any decoding work (return paths are capped well below)."""

CHALLENGE = b"antiscrape-challenge-v1|"
CLEARANCE = b"antiscrape-clearance-v1|"
BINDING = b"antiscrape-binding-v1|"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """The bytes of canonical unpadded URL-safe base64, else None: the decoder alone would
    also take padding, the standard alphabet and stray characters, so one token would have
    many spellings (each a new string to cache, log or count)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if _b64encode(raw) == text else None


def random_id(nbytes: int = 12) -> str:
    """A URL- and cookie-safe random identifier (16 characters for 12 bytes)."""
    return secrets.token_urlsafe(nbytes)


class Signer:
    """HMAC-SHA256 over ``purpose + payload`` with key rotation."""

    __slots__ = ("_macs",)

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        # Keyed HMAC objects are prepared once; ``copy()`` skips re-deriving the key pads.
        self._macs = tuple(hmac.new(key, digestmod=hashlib.sha256) for key in keys)

    def _tag(self, index: int, purpose: bytes, payload: bytes) -> bytes:
        mac = self._macs[index].copy()
        mac.update(purpose)
        mac.update(payload)
        return mac.digest()[:MAC_BYTES]

    def sign(self, purpose: bytes, payload: str) -> str:
        raw = payload.encode("utf-8")
        return _b64encode(raw) + "." + _b64encode(self._tag(0, purpose, raw))

    def binding(self, text: str, key_index: int = 0) -> str:
        """A keyed hash (16 hex chars) of ``text`` under one of the keys.

        Tokens carry the hash of the client's network + user agent, never the values: under a
        plain hash an IPv4 /24 would be found by trying all 2^24 of them. The hash is checked
        under the key that verified the token, so rotating keys does not void the cookies
        issued before the rotation.
        """
        return self._tag(key_index, BINDING, text.encode("utf-8", "surrogatepass"))[:8].hex()

    def unsign(self, purpose: bytes, token: str) -> tuple[str, int] | None:
        """The payload and the index of the key that signed it if ``token`` carries a valid tag
        under any key, else None. Never raises."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        body, sep, tag_text = token.rpartition(".")
        if not sep:
            return None
        raw = _b64decode(body)
        tag = _b64decode(tag_text)
        if raw is None or tag is None or len(tag) != MAC_BYTES:
            return None
        matched = -1
        for index in range(len(self._macs)):
            # Every key is tried (no early exit) so timing does not tell which key matched.
            if hmac.compare_digest(self._tag(index, purpose, raw), tag) and matched < 0:
                matched = index
        if matched < 0:
            return None
        try:
            return raw.decode("utf-8"), matched
        except UnicodeDecodeError:
            return None


@dataclass(frozen=True, slots=True)
class ChallengeToken:
    """What a challenge page hands to the client and the client hands back with its answer."""

    id: str
    issued: int
    difficulty: int
    wait: float
    bind: str
    """Keyed hash of network prefix + user agent (see ``Signer.binding``)."""
    return_to: str
    key_index: int = 0
    """Which signing key verified this token (0 for a token being issued)."""

    def encode(self, signer: Signer) -> str:
        wait_ds = round(self.wait * 10)
        payload = (f"{self.id}|{self.issued}|{self.difficulty}|{wait_ds}|{self.bind}|"
                   f"{self.return_to}")
        return signer.sign(CHALLENGE, payload)

    @classmethod
    def decode(cls, signer: Signer, token: str) -> ChallengeToken | None:
        unsigned = signer.unsign(CHALLENGE, token)
        if unsigned is None:
            return None
        parts = unsigned[0].split("|", 5)
        if len(parts) != 6:
            return None
        cid, issued, difficulty, wait_ds, bind, return_to = parts
        try:
            return cls(cid, int(issued), int(difficulty), int(wait_ds) / 10, bind, return_to,
                       unsigned[1])
        except ValueError:
            return None


AUTOMATED = "auto."
"""Prefix of the id of a clearance an automated client earned ('.' is not in the random
ids' alphabet): the id travels as the identity's clearance, so every part of the engine can
tell, without another field, that this clearance keeps its holder's automation budget."""


def is_automated(clearance_id: str) -> bool:
    return clearance_id.startswith(AUTOMATED)


@dataclass(frozen=True, slots=True)
class ClearanceToken:
    """The clearance cookie's content: who was cleared, when, and for which network + UA,
    and what automation the challenge page saw (``traits``, "." separated, "" for none)."""

    id: str
    issued: int
    bind: str
    key_index: int = 0
    traits: str = ""

    def encode(self, signer: Signer) -> str:
        payload = f"{self.id}|{self.issued}|{self.bind}"
        if self.traits:
            payload += "|" + self.traits
        return signer.sign(CLEARANCE, payload)

    @classmethod
    def decode(cls, signer: Signer, token: str) -> ClearanceToken | None:
        unsigned = signer.unsign(CLEARANCE, token)
        if unsigned is None:
            return None
        parts = unsigned[0].split("|")
        if len(parts) not in (3, 4):
            return None
        try:
            return cls(parts[0], int(parts[1]), parts[2], unsigned[1],
                       parts[3] if len(parts) == 4 else "")
        except ValueError:
            return None


def leading_zero_bits_ok(seed: str, nonce: str, difficulty: int) -> bool:
    """Whether SHA-256(``seed:nonce``) starts with ``difficulty`` zero bits (0..32).

    This is the one hash a verification costs. The browser computes the same function in
    ``assets/worker.js``.
    """
    if difficulty <= 0:
        return True
    digest = hashlib.sha256(f"{seed}:{nonce}".encode("ascii")).digest()
    return int.from_bytes(digest[:4], "big") >> (32 - difficulty) == 0
