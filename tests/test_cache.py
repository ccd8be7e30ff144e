"""The one bounded cache behind every memo on the request path."""

from __future__ import annotations

import pytest

from antiscrape.cache import BoundedCache


def test_a_flood_of_new_keys_never_grows_it_past_its_bound() -> None:
    cache: BoundedCache[int, int] = BoundedCache(100)
    for n in range(10_000):
        assert cache.put(n, n * 2) == n * 2
        assert len(cache) <= 100
        assert cache[n] == n * 2  # the newest entry is always there


def test_updating_a_key_when_full_keeps_the_others() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)  # full, but no new key: nothing is dropped
    assert dict(cache) == {"a": 3, "b": 2}
    cache.put("c", 4)  # a new key into a full cache: emptied, then kept
    assert dict(cache) == {"c": 4}


def test_a_cache_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        BoundedCache(0)
