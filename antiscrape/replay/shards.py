"""Splitting one replay across worker processes by client network.

Each worker runs its own engine and handles the requests of the client networks (the /24 or
/48 the engine counts network budgets on) that hash to it; the tallies are merged at the end.
Every worker reads the whole log itself (a file can be read twice; a pipe cannot, so stdin
is replayed in one process). A line of another worker's network only has to say whether it
moves the clock (its timestamp, and whether the line is valid), so each worker's clock is
exactly the single-process clock. Nothing is sent between processes but the final tally:
there is no queue to fill, and memory stays bounded per worker.

What is exact, and what is not
------------------------------
All the state the engine keeps under an IP, a network, an IP's challenge failures, or a
fingerprint *within a network* lives entirely inside one worker, so with such state alone a
sharded replay decides every request exactly as one process does. State keyed by something
that crosses networks is split between workers, each of which sees only its own networks'
share of it:

* request budgets per fingerprint (``budgets.<class>.fingerprint``, off by default);
* on protected routes (``[[protect]]``): the enumeration guard's distinct-record counts per
  fingerprint (``enumeration.levels.fingerprint``), its sequential-walk detection (counted per
  fingerprint when, as in a log, there is no account or clearance), and fingerprint
  convictions on every network (``enumeration.fingerprint_conviction_ttl``).

With any of these configured, a sharded replay can *undercount* a client that rotates
networks (it may be allowed where one process would throttle, challenge or block), so the
automatic choice is then one process. Two more bounds are per worker: the in-memory state cap
(``state_cap``) and the report's client table (``Tally.max_clients``, ``MAX_TRACKED``); a
replay large enough to reach them keeps up to that many entries *per worker*, so eviction
(and which clients get a per-minute series) can differ from a single process.
Account and clearance budgets never apply in a replay (logs carry no session or cookie).
"""

from __future__ import annotations

import os
import re
import zlib

from ..config import Config
from ..identity import ClientAddressing
from .source import estimated_size

MAX_AUTO_WORKERS = 4
"""Every worker reads every line, so beyond a few workers that shared cost dominates."""
MIN_SHARDED_BYTES = 1 << 20
"""Smaller logs (uncompressed) replay in well under a second in one process: not worth a
second one."""
_CACHE_MAX = 65_536
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}").fullmatch


class NetworkShards:
    """``shards(ip)`` -> the worker index for a logged client address.

    Uses the engine's own addressing rules (the configured IPv4/IPv6 prefixes), so two
    addresses the engine counts as one network always land in the same worker. Unparsable
    addresses share the engine's ``unknown`` network, hence one worker.
    """

    __slots__ = ("_addressing", "_cache", "_slash24", "count")

    def __init__(self, config: Config, count: int) -> None:
        self.count = count
        self._addressing = ClientAddressing((), config.ipv4_prefix, config.ipv6_prefix,
                                            config.ipv6_client_prefix)
        self._cache: dict[str, int] = {}
        self._slash24 = config.ipv4_prefix == 24

    def __call__(self, ip: str) -> int:
        index = self._cache.get(ip)
        if index is None:
            if self._slash24 and _CANONICAL_V4(ip):
                # What the engine's addressing gives for a plain dotted quad, without
                # ``ipaddress`` for each new address (a log holds millions of them).
                network = ip[:ip.rfind(".")] + ".0/24"
            else:
                network = self._addressing.keys(ip)[1]
            index = zlib.crc32(network.encode("utf-8", "surrogatepass")) % self.count
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[ip] = index
        return index


def cross_network_state(config: Config) -> list[str]:
    """What in ``config`` is counted across networks (empty: sharding is exact)."""
    found = [f"fingerprint budgets on {name} routes"
             for name, budget in sorted(config.budgets.items()) if budget.fingerprint]
    if config.protect:
        en = config.enumeration
        if en.levels.get("fingerprint", 0) > 0:
            found.append("distinct-record counts per fingerprint")
        if en.walk_length > 0:
            found.append("sequential-walk detection (per fingerprint in a log)")
        if en.fingerprint_conviction_ttl > 0:
            found.append("fingerprint convictions")
    return found


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def choose_workers(requested: int | None, path: str, config: Config, *,
                   load: float | None = None) -> tuple[int, str]:
    """(workers, why): ``requested`` None means automatic.

    Automatic: one process for stdin, small logs, or a config with cross-network state (see
    the module docstring); otherwise ``cpus - load + 1.5`` workers rounded down, between 1
    and the CPU count (at most ``MAX_AUTO_WORKERS``), ``load`` being the 1-minute load
    average: on 2 CPUs, two workers below a load of 1.5. Every worker reads every line, so
    sharding costs about a tenth more CPU in total: it only pays when CPUs are really free.
    An explicit count is honoured (stdin aside), and the note then says what may differ.
    """
    if path == "-":
        return 1, "stdin is read once: one process"
    crossing = cross_network_state(config)
    if requested is not None:
        if requested > 1 and crossing:
            return requested, (f"{requested} workers: counted per worker only, so a client "
                               f"rotating networks may be undercounted: {'; '.join(crossing)}")
        return max(1, requested), f"{max(1, requested)} worker(s) as asked"
    if crossing:
        return 1, f"one process, since the config counts across networks: {'; '.join(crossing)}"
    if estimated_size(path) < MIN_SHARDED_BYTES:
        return 1, "small log: one process"
    cpus = min(available_cpus(), MAX_AUTO_WORKERS)
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    # A CPU counts as free while less than half of it is busy; load also counts processes
    # waiting on I/O, so it overstates how busy the CPUs are (benchmarks/RESULTS.md has the
    # measurement behind the rule).
    workers = max(1, min(cpus, int(cpus - load + 1.5)))
    if workers == 1:
        return 1, f"one process: no idle CPU (load {load:.1f} on {cpus} CPUs)"
    return workers, (f"{workers} workers split by client network (exact for this config; "
                     f"load {load:.1f} on {cpus} CPUs)")
