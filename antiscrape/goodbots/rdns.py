"""Forward-confirmed reverse DNS, done in background threads and cached.

A DNS round trip takes milliseconds to seconds, far too long for a request's hot path, so a
first sighting only *schedules* the lookup and reports "pending"; the answer is cached for
``ttl`` seconds and every later request from that IP reads the cache.

The check itself: the PTR name of the IP must end in one of the vendor's documented domains,
and that name must resolve back to the same IP (otherwise anyone controlling their own reverse
zone could name their IP ``crawl-1.googlebot.com``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


def system_ptr(ip: str) -> str:
    return socket.gethostbyaddr(ip)[0]


def system_forward(hostname: str) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(hostname, None)]


def confirmed_hostname(ip: str, ptr: Callable[[str], str] = system_ptr,
                       forward: Callable[[str], list[str]] = system_forward) -> str:
    """The PTR name of ``ip`` if it resolves back to ``ip``, else ``""`` (blocking)."""
    try:
        hostname = ptr(ip).rstrip(".").lower()
        wanted = ipaddress.ip_address(ip)
        addresses = {ipaddress.ip_address(a.split("%", 1)[0]) for a in forward(hostname)}
    except (OSError, ValueError, UnicodeError):
        return ""
    return hostname if wanted in addresses else ""


def matches_suffix(hostname: str, suffixes: tuple[str, ...]) -> bool:
    """``crawl-66-249-66-1.googlebot.com`` matches ``googlebot.com``; ``evilgooglebot.com``
    does not."""
    return any(hostname == s or hostname.endswith("." + s) for s in suffixes)


class ReverseDNSCache:
    """IP -> forward-confirmed host name, filled in the background, bounded and expiring."""

    def __init__(self, *, ttl: float = 86_400.0, failure_ttl: float = 3_600.0,
                 max_entries: int = 50_000, workers: int = 4,
                 ptr: Callable[[str], str] = system_ptr,
                 forward: Callable[[str], list[str]] = system_forward,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._max = max_entries
        self._ptr = ptr
        self._forward = forward
        self._clock = clock
        self._done: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._pending: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None

    def hostname(self, ip: str) -> str | None:
        """The confirmed host name ("" when none), or None while the lookup is pending.

        Never blocks: an unknown IP schedules a lookup and answers None at once.
        """
        now = self._clock()
        with self._lock:
            entry = self._done.get(ip)
            if entry is not None:
                name, expires = entry
                if expires > now:
                    return name
                del self._done[ip]
            if ip in self._pending:
                return None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers,
                                                    thread_name_prefix="antiscrape-rdns")
            future = self._executor.submit(confirmed_hostname, ip, self._ptr, self._forward)
            self._pending[ip] = future
        future.add_done_callback(lambda f, ip=ip: self._store(ip, f))
        return None

    def _store(self, ip: str, future: Future[str]) -> None:
        try:
            name = future.result()
        except Exception:  # a resolver bug must not kill the worker; treat as unconfirmed
            name = ""
        ttl = self._ttl if name else self._failure_ttl
        with self._lock:
            self._pending.pop(ip, None)
            self._done[ip] = (name, self._clock() + ttl)
            self._done.move_to_end(ip)
            while len(self._done) > self._max:
                self._done.popitem(last=False)

    def wait(self, timeout: float = 10.0) -> None:
        """Block until every scheduled lookup has finished (tests, replay, shutdown)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                futures = list(self._pending.values())
            if not futures:
                return
            for f in futures:
                f.exception(timeout=max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
