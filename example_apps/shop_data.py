"""The shop's records, generated at start from a fixed seed.

Deterministic so that tests, the demo table and a developer's browser all see the same
users behind the same ids; generated rather than stored so the repository ships no personal
data, not even fake personal data. About 5,000 users, 500 items and 20,000 comments take well
under a second to build (``build_shop`` is cached, so every app in one process shares them).

A few users are *canaries*: real-looking profiles that no page links to (no comment is
written by them). A person never reaches them; an enumerator walking ids does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

SEED = 20_240_601
USER_COUNT = 5_000
ITEM_COUNT = 500
COMMENT_COUNT = 20_000
COMMENTS_PER_PAGE = 10
CANARY_USER_IDS: tuple[int, ...] = (1_337, 2_718, 4_999)
"""Tripwire profiles. Referenced by every example's ``antiscrape.toml``."""

_FIRST = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jia", "Kofi",
          "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tomas", "Uma",
          "Vera", "Wei", "Ximena", "Yusuf", "Zoe")
_LAST = ("Alvarez", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad",
         "Ito", "Jensen", "Kowalski", "Li", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist",
         "Rossi", "Silva", "Tanaka", "Urban", "Varga", "Wang", "Xu", "Yilmaz", "Zhang")
_CITIES = ("Lisbon", "Lyon", "Osaka", "Nairobi", "Porto", "Quito", "Seoul", "Turin", "Utrecht",
           "Valencia", "Warsaw", "Chengdu", "Hangzhou", "Montreal", "Austin", "Accra")
_ADJECTIVES = ("Sturdy", "Compact", "Classic", "Foldable", "Bamboo", "Ceramic", "Copper",
               "Waxed", "Linen", "Travel", "Pocket", "Walnut")
_NOUNS = ("Kettle", "Backpack", "Desk Lamp", "Notebook", "Teapot", "Umbrella", "Knife",
          "Water Bottle", "Wallet", "Chair", "Bowl", "Radio", "Headphones", "Scarf")
_OPENERS = ("Works as described.", "Arrived quickly.", "Better than expected.",
            "A bit smaller than I thought.", "Bought a second one.", "Good value.",
            "The colour is lovely.", "Packaging could be better.", "Solid build.")
_CLOSERS = ("Would buy again.", "Recommended.", "Three stars from me.",
            "My partner uses it every day.", "Took a week to get used to it.", "",
            "Customer service answered fast.", "Keep the receipt.")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    city: str
    phone: str
    """Full number; pages and JSON only ever show it masked."""


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    title: str
    price_cents: int
    description: str


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    item_id: int
    user_id: int
    text: str


@dataclass(frozen=True)
class Shop:
    users: dict[int, User]
    items: dict[int, Item]
    comments_by_item: dict[int, tuple[Comment, ...]]
    canary_user_ids: tuple[int, ...]

    def comment_page(self, item_id: int, page: int) -> tuple[Comment, ...]:
        """One page (1-based) of an item's comments; empty beyond the last page."""
        comments = self.comments_by_item.get(item_id, ())
        start = (page - 1) * COMMENTS_PER_PAGE
        if page < 1 or start >= len(comments):
            return ()
        return comments[start:start + COMMENTS_PER_PAGE]

    def page_count(self, item_id: int) -> int:
        count = len(self.comments_by_item.get(item_id, ()))
        return max(1, -(-count // COMMENTS_PER_PAGE))


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "150", "186", "177")) + f"{rng.randrange(10**8):08d}"


@cache
def build_shop(seed: int = SEED) -> Shop:
    """Generate the whole shop. Same seed, same shop, in any process on any machine."""
    rng = random.Random(seed)
    users = {
        uid: User(uid, f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", rng.choice(_CITIES),
                  _phone(rng))
        for uid in range(1, USER_COUNT + 1)
    }
    items = {
        iid: Item(iid, f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}",
                  rng.randrange(500, 25_000, 5),
                  f"Item {iid} of the demo catalogue. {rng.choice(_OPENERS)}")
        for iid in range(1, ITEM_COUNT + 1)
    }
    canaries = set(CANARY_USER_IDS)
    authors = [uid for uid in users if uid not in canaries]
    by_item: dict[int, list[Comment]] = {iid: [] for iid in items}
    for cid in range(1, COMMENT_COUNT + 1):
        item_id = rng.randrange(1, ITEM_COUNT + 1)
        text = f"{rng.choice(_OPENERS)} {rng.choice(_CLOSERS)}".strip()
        by_item[item_id].append(Comment(cid, item_id, rng.choice(authors), text))
    return Shop(
        users=users,
        items=items,
        comments_by_item={iid: tuple(cs) for iid, cs in by_item.items()},
        canary_user_ids=CANARY_USER_IDS,
    )
