"""Feeds logged requests through the very engine the middleware runs, on the log's own clock.

The replay engine differs from production in three deliberate ways, each so that the result
is "what antiscrape would have done" and nothing else:

* monitor mode is forced on: every decision is made and counted, none is rendered into a reply;
* reverse-DNS verification of good bots is off: years-old log IPs say nothing about today's
  DNS, and the run must not depend on the network. Published IP ranges still verify; a claim
  they do not confirm counts as failed only for vendors that verify by ranges alone, and as
  unknown (scored as an ordinary crawler) for those that also verify by reverse DNS;
* request headers an access log does not record (Accept, Accept-Language, ...) are assumed
  present with neutral values, so the header signals do not flag every logged client for a
  gap in the *log*. Those signals can only be judged live (run with ``monitor = true``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..clock import ManualClock
from ..config import Config
from ..request import RequestView
from .parsers import FORMATS, LogRecord, sniff_format
from .tally import Tally

ASSUMED_HEADERS: dict[str, str] = {
    "accept": "*/*",
    "accept-language": "en",
    "accept-encoding": "gzip",
    "sec-fetch-mode": "navigate",
}
REPLAY_EXTRA = MappingProxyType({"replay": True})


def replay_config(config: Config) -> Config:
    """The config the replay engine runs with (see the module docstring for why)."""
    return dataclasses.replace(
        config, monitor=True,
        good_bots=dataclasses.replace(config.good_bots, reverse_dns=False))


def view_from_record(rec: LogRecord) -> RequestView:
    path, _, query = rec.target.partition("?")
    if not path.startswith("/"):  # absolute-form target (proxy logs): keep only the path
        after_scheme = path.split("://", 1)[-1]
        path = "/" + after_scheme.split("/", 1)[1] if "/" in after_scheme else "/"
    headers = dict(ASSUMED_HEADERS)
    headers["user-agent"] = rec.user_agent
    if rec.referer:
        headers["referer"] = rec.referer
    return RequestView(rec.method, path, headers, peer=rec.ip, query=query, extra=REPLAY_EXTRA)


@dataclass
class ReplayRun:
    tally: Tally
    seconds: float

    @property
    def lines_per_second(self) -> float:
        return self.tally.lines / self.seconds if self.seconds > 0 else 0.0


def make_engine(config: Config, clock: ManualClock) -> Any:
    from ..engine import Engine  # the engine pulls in the storage stack; import when needed
    from ..goodbots import GoodBots

    cfg = replay_config(config)
    return Engine(cfg, clock=clock, goodbots=GoodBots(cfg, offline=True))


def replay_lines(lines: Iterable[str], config: Config, *, fmt: str = "auto",
                 engine: Any = None, clock: ManualClock | None = None,
                 progress: Callable[[int], None] | None = None) -> ReplayRun:
    """Replay ``lines`` and return the tally. Malformed lines are counted and skipped."""
    clock = clock or ManualClock(0.0)
    engine = engine if engine is not None else make_engine(config, clock)
    tally = Tally(config.scoring.challenge_at, config.scoring.block_at)
    parse: Callable[[str], LogRecord | None] | None = None
    if fmt != "auto":
        parse = FORMATS[fmt]()
    inspect = engine.inspect
    record_response = engine.record_response
    add = tally.add
    started = time.perf_counter()
    lines_seen = malformed = 0
    now = clock.now
    for line in lines:
        lines_seen += 1
        if progress is not None and not lines_seen & 0x3FF:
            progress(lines_seen)
        if not line or line.isspace():
            continue
        if parse is None:
            parse = FORMATS[sniff_format(line)]()
        rec = parse(line.rstrip("\r\n"))
        if rec is None:
            malformed += 1
            continue
        # Logs are written when requests end, so timestamps wobble; time never runs back.
        if rec.timestamp > now:
            now = clock.now = rec.timestamp
        view = view_from_record(rec)
        decision = inspect(view)
        if decision.access is not None:
            record_response(view, decision, rec.status)
        add(rec.ip, rec.timestamp, rec.user_agent, rec.target, decision)
    tally.lines = lines_seen
    tally.malformed = malformed
    if progress is not None:
        progress(lines_seen)
    return ReplayRun(tally, time.perf_counter() - started)
