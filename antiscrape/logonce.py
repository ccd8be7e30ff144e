"""Log a recurring problem once per interval, and count every occurrence.

A storage outage or an internal fault can hit every request; logging each one would flood the
log and slow the site further. Operators need to know it happens and how often, not a million
identical lines.
"""

from __future__ import annotations

import logging
import threading
import time


class LogOnce:
    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self.count = 0
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, key: str, message: str, *args: object, exc: BaseException | None = None,
                 level: int = logging.WARNING) -> None:
        now = time.monotonic()
        with self._lock:
            self.count += 1
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return
            self._last[key] = now
            total = self.count
        self.logger.log(level, message + " (%d occurrences so far)", *args, total,
                        exc_info=exc is not None and (type(exc), exc, exc.__traceback__))
