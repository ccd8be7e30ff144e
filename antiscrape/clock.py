"""Time comes from one injectable place so tests can simulate days without sleeping and the
log replayer can run on the log's own timestamps."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float:
        """Seconds since the epoch."""
        ...


system_clock: Clock = time.time


class ManualClock:
    """A clock that only moves when told to."""

    __slots__ = ("now",)

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, timestamp: float) -> None:
        self.now = float(timestamp)
