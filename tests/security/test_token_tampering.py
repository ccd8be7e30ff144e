"""Token tampering: more than 10 000 altered challenge tokens and clearance cookies, and not
one earns a clearance.

Variants are generated cheaply and sent through the engine's own ``inspect`` (the real part:
decoding, the MAC under every key, expiry, the network + user-agent binding, the once-only
store); a smaller sample goes through a real Starlette app. Kinds: every single-bit flip of
the decoded payload and tag, every truncation, re-encodings, signatures under other keys,
field swaps and edits with the original tag, the two token kinds passed for each other,
expired and future tokens signed with the real key, a genuine token from another network or
browser, and replays.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from antiscrape.challenge.tokens import (
    CHALLENGE,
    CLEARANCE,
    ChallengeToken,
    ClearanceToken,
    Signer,
)
from antiscrape.clock import ManualClock
from antiscrape.engine import Engine
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from antiscrape.state import AsyncMemoryStorage, MemoryStorage
from tests.conftest import SECRET

from .drive import HEADLESS_API, LADDER, answer, challenge, cookie_of, get, solve

PEER = "203.0.113.7"
UNLIMITED = {"ladder": LADDER, "answers_per_ip": "1000000/minute",
             "answers_per_network": "1000000/minute"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def structural_variants(token: str) -> Iterator[str]:
    """Alterations that need no key: bit flips, truncations, edits, odd encodings."""
    body, tag = token.split(".")
    raw, mac = unb64(body), unb64(tag)
    for i in range(len(raw)):                       # every bit of the payload
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[i] ^= 1 << bit
            yield b64(bytes(flipped)) + "." + tag
    for i in range(len(mac)):                       # every bit of the tag
        for bit in range(8):
            flipped = bytearray(mac)
            flipped[i] ^= 1 << bit
            yield body + "." + b64(bytes(flipped))
    for n in range(len(token)):                     # every truncation, both ends
        yield token[:n]
        yield token[n + 1:]
    fields = raw.decode().split("|")
    for i in range(len(fields)):                    # field swaps and edits, original tag
        for j in range(len(fields)):
            if i != j:
                swapped = list(fields)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                yield b64("|".join(swapped).encode()) + "." + tag
        for edit in ("", "0", "-1", "99999999999999", fields[i] + "x", "%00", "<script>"):
            changed = list(fields)
            changed[i] = edit
            yield b64("|".join(changed).encode()) + "." + tag
    yield b64(raw + b"|extra") + "." + tag
    yield token + "="
    yield token.replace("-", "+").replace("_", "/")  # standard alphabet instead of URL-safe
    yield body + "." + tag + "." + tag
    yield tag + "." + body
    yield " " + token
    yield token + "\x00"


def other_key_variants(payload: str, purpose: bytes, n: int) -> Iterator[str]:
    """The genuine payload signed under keys that are not ours (and under ours, for the
    other purpose)."""
    for _ in range(n):
        yield Signer([secrets.token_bytes(32)]).sign(purpose, payload)
    yield Signer([b"a"]).sign(purpose, payload)
    yield Signer([SECRET.encode()]).sign(CLEARANCE if purpose == CHALLENGE else CHALLENGE,
                                         payload)


def make_engine(clock: ManualClock) -> Engine:
    store = MemoryStorage()
    return Engine({"secret_key": SECRET, "challenge": UNLIMITED}, clock=clock,
                  storage=(store, AsyncMemoryStorage(store)))


def try_challenge_variants(e: Engine, signer: Signer, token: str, nonce: str) -> int:
    """Every variant of one genuine challenge token, answered with its right nonce."""
    payload = unb64(token.split(".")[0]).decode()
    variants = [*structural_variants(token), *other_key_variants(payload, CHALLENGE, 300)]
    decoded = ChallengeToken.decode(signer, token)
    assert decoded is not None
    for issued_shift in (-10_000_000, -301_000, 3_600_000, 10**12):  # signed, out of date
        stale = ChallengeToken(decoded.id, decoded.issued + issued_shift, decoded.difficulty,
                               decoded.wait, decoded.bind, decoded.return_to)
        variants.append(stale.encode(signer))
    tried = 0
    for variant in variants:
        if variant == token:
            continue
        assert cookie_of(answer(e, variant, nonce, PEER)) is None, variant
        tried += 1
    return tried


def try_clearance_variants(e: Engine, signer: Signer, cookie: str, token: str) -> int:
    """Every variant of one genuine clearance cookie, sent with an otherwise fine request."""
    name, value = cookie.split("=", 1)
    assert get(e, "/x", {**HEADLESS_API, "cookie": cookie}, PEER).identity.clearance
    payload = unb64(value.split(".")[0]).decode()
    variants = [*structural_variants(value), *other_key_variants(payload, CLEARANCE, 100),
                token]  # a challenge token is no clearance cookie
    clear = ClearanceToken.decode(signer, value)
    assert clear is not None
    for shift in (-86_401, -10**9, 10**6):
        variants.append(ClearanceToken(clear.id, clear.issued + shift, clear.bind)
                        .encode(signer))
    tried = 0
    for variant in variants:
        if variant.strip() == value:  # a Cookie header's spaces around a value are syntax
            continue
        d = get(e, "/x", {**HEADLESS_API, "cookie": f"{name}={variant}"}, PEER)
        assert d.identity is None or d.identity.clearance is None, variant
        tried += 1
    return tried


ROUNDS = 5
"""Genuine challenges whose variants are tried (each about 1 800)."""


def test_ten_thousand_altered_tokens_earn_no_clearance(clock: ManualClock) -> None:
    e = make_engine(clock)
    signer = Signer([SECRET.encode()])
    tried = 0

    # -- challenge tokens, answered with the nonce that solves the genuine one -----------
    for _ in range(ROUNDS):
        genuine = challenge(e, PEER)
        nonce = solve(genuine["seed"], genuine["difficulty"])
        token = genuine["token"]
        tried += try_challenge_variants(e, signer, token, nonce)
    # The genuine token from another network, and with another browser, then replayed.
    assert cookie_of(answer(e, token, nonce, "198.51.100.7")) is None
    other_ua = {**HEADLESS_API, "user-agent": HEADLESS_API["user-agent"] + " x"}
    assert cookie_of(answer(e, token, nonce, PEER, other_ua)) is None
    # Those signed-but-wrong answers voided that challenge (they count against it); a fresh
    # one is good once, then replayed.
    assert cookie_of(answer(e, token, nonce, PEER)) is None
    fresh = challenge(e, PEER)
    token, nonce = fresh["token"], solve(fresh["seed"], fresh["difficulty"])
    first = answer(e, token, nonce, PEER)
    assert cookie_of(first) is not None
    for _ in range(20):
        assert cookie_of(answer(e, token, nonce, PEER)) is None
    tried += 23

    # -- clearance cookies ---------------------------------------------------------------
    cookie = cookie_of(first)
    assert cookie is not None
    tried += try_clearance_variants(e, signer, cookie, token)
    for _ in range(ROUNDS - 1):  # more genuine cookies, from fresh challenges
        fresh = challenge(e, PEER)
        more = cookie_of(answer(e, fresh["token"], solve(fresh["seed"], fresh["difficulty"]),
                                PEER))
        assert more is not None
        tried += try_clearance_variants(e, signer, more, fresh["token"])
    # The genuine cookie from another network or browser.
    for peer, headers in (("198.51.100.7", HEADLESS_API), (PEER, other_ua)):
        d = get(e, "/x", {**headers, "cookie": cookie}, peer)
        assert d.identity is None or d.identity.clearance is None
        tried += 1
    assert tried >= 10_000, tried


def test_a_sample_through_a_real_app(clock: ManualClock) -> None:
    """Every 50th variant of each kind, as HTTP requests through Starlette."""
    async def page(request):
        return PlainTextResponse("page")

    app = Starlette(routes=[Route("/{rest:path}", page)])
    app.add_middleware(AntiScrapeMiddleware,
                       config={"secret_key": SECRET, "challenge": UNLIMITED}, clock=clock)
    transport = httpx.ASGITransport(app=app, client=(PEER, 40000))

    async def run() -> int:
        sent = 0
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.example") as c:
            r = await c.get("/x", headers=HEADLESS_API)
            ch = r.json()["challenge"]
            token, nonce = ch["answer"]["query"]["t"], solve(ch["seed"], ch["difficulty"])
            for variant in list(structural_variants(token))[::50]:
                r = await c.post(f"/.antiscrape/verify?t={quote(variant, safe='')}&n={nonce}",
                                 headers=HEADLESS_API)
                assert r.status_code in (403, 404) and "set-cookie" not in r.headers, variant
                sent += 1
            r = await c.post(f"/.antiscrape/verify?t={quote(token, safe='')}&n={nonce}",
                             headers=HEADLESS_API)
            assert r.status_code == 303
            value = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
            for variant in list(structural_variants(value))[::50]:
                c.cookies.clear()
                r = await c.get("/x", headers={**HEADLESS_API,
                                               "cookie": f"antiscrape_clearance={variant}"})
                assert r.status_code == 403, variant  # challenged again, never let through
                sent += 1
        return sent

    import asyncio

    assert asyncio.run(run()) > 20
