"""Shared fixtures. Area-specific fixtures live in tests/fixtures/ and are registered here."""

from __future__ import annotations

import pytest

from antiscrape.clock import ManualClock

pytest_plugins = ["tests.fixtures.redis_server", "tests.fixtures.browser"]

SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
