"""What the small test site answers, the same in every framework."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

KNOWN_USERS = 1000
"""Profiles 1..1000 exist; higher ids answer 404 (the misses a prober collects)."""

CHUNKS = [b"chunk0\n", b"chunk1\n", b"chunk2\n"]


def home_text() -> str:
    return "home"


def items() -> dict[str, list[int]]:
    return {"items": [1, 2, 3]}


def user_text(user_id: int) -> str | None:
    return f"user {user_id}" if 1 <= user_id <= KNOWN_USERS else None


def comments_text(item_id: int, page: str | None) -> str:
    return f"comments of item {item_id}, page {page or 1}"


def chunks() -> Iterator[bytes]:
    yield from CHUNKS


async def achunks() -> AsyncIterator[bytes]:
    for chunk in CHUNKS:
        yield chunk
