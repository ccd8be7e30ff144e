"""Feeds logged requests through the very engine the middleware runs, on the log's own clock.

The replay engine differs from production in five deliberate ways, each so that the result
is "what antiscrape would have done" and nothing else:

* monitor mode is forced on: every decision is made and counted, none is rendered into a reply;
* reverse-DNS verification of good bots is off: years-old log IPs say nothing about today's
  DNS, and the run must not depend on the network. Published IP ranges still verify; a claim
  they do not confirm counts as failed only for vendors that verify by ranges alone, and as
  unknown (scored as an ordinary crawler) for those that also verify by reverse DNS;
* request headers an access log does not record (Accept, Accept-Language, ...) are assumed
  present with neutral values, so the header signals do not flag every logged client for a
  gap in the *log*. Those signals can only be judged live (run with ``monitor = true``);
* state is always kept in memory, whatever ``storage`` says: a replay runs on the log's clock,
  which is not the storage server's, and must never write counters or convictions into the
  production store;
* the live outputs are off (decision log, metrics, status page, rate-limit and decision
  headers): the replay's report is its output, and a log line per flagged request of an old
  log would only flood stderr and slow the run.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import multiprocessing.context
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any

from ..clock import ManualClock
from ..config import Config
from ..request import EMPTY, RequestView
from .parsers import FORMATS, SHARD_HELPERS, FieldParser, LogRecord, sniff_format
from .shards import NetworkShards
from .source import LogSource
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
    off = dataclasses.replace
    return off(
        config, monitor=True, storage="memory://", storage_options={},
        good_bots=off(config.good_bots, reverse_dns=False),
        log=off(config.log, decisions=False, sample_allow=0.0),
        metrics=off(config.metrics, enabled=False),
        status_page=off(config.status_page, enabled=False),
        # Access logs carry no cookies: every replayed request would be a new visitor, an
        # anonymous read and a step towards the site guard. Replay judges addresses,
        # fingerprints and accounts only.
        visitor=off(config.visitor, enabled=False),
        rate_limit_headers=False, decision_header=False)


def target_parts(target: str) -> tuple[str, str]:
    """(path, query) of a logged request target; absolute-form targets (proxy logs) keep only
    their path."""
    path, _, query = target.partition("?")
    if not path.startswith("/"):
        after_scheme = path.split("://", 1)[-1]
        path = "/" + after_scheme.split("/", 1)[1] if "/" in after_scheme else "/"
    return path, query


def logged_headers(user_agent: str, referer: str) -> dict[str, str]:
    """The headers a replayed request carries: the assumed ones plus what the log recorded."""
    headers = dict(ASSUMED_HEADERS)
    headers["user-agent"] = user_agent
    if referer:
        headers["referer"] = referer
    return headers


def view_from_record(rec: LogRecord) -> RequestView:
    path, query = target_parts(rec.target)
    return RequestView(rec.method, path, logged_headers(rec.user_agent, rec.referer),
                       peer=rec.ip, query=query, extra=REPLAY_EXTRA)


@dataclass
class ReplayRun:
    tally: Tally
    seconds: float
    workers: int = 1

    @property
    def lines_per_second(self) -> float:
        return self.tally.lines / self.seconds if self.seconds > 0 else 0.0


def make_engine(config: Config, clock: ManualClock) -> Any:
    from ..engine import Engine  # the engine pulls in the storage stack; import when needed
    from ..goodbots import GoodBots

    cfg = replay_config(config)
    return Engine(cfg, clock=clock, goodbots=GoodBots(cfg, offline=True))


_HEADER_CACHE_MAX = 16_384


def replay_lines(lines: Iterable[str], config: Config, *, fmt: str = "auto",
                 engine: Any = None, clock: ManualClock | None = None,
                 progress: Callable[[int], None] | None = None,
                 shard: tuple[int, int] | None = None) -> ReplayRun:
    """Replay ``lines`` and return the tally. Malformed lines are counted and skipped.

    ``shard=(index, count)``: this process is worker ``index`` of ``count`` (see
    :mod:`.shards`): only requests from its client networks go through the engine and are
    counted, malformed lines included (each line is owned by exactly one worker), while
    every valid line moves the clock.
    """
    clock = clock or ManualClock(0.0)
    engine = engine if engine is not None else make_engine(config, clock)
    tally = Tally(config.scoring.challenge_at, config.scoring.block_at)
    inspect = engine.inspect
    record_response = engine.record_response
    add = tally.add
    mine, shard_of = 0, None
    if shard is not None and shard[1] > 1:
        mine, shard_of = shard[0], NetworkShards(config, shard[1])
    parse: FieldParser | None = None
    client_of: Callable[[str], str] | None = None  # the cheap per-line owner test, if any
    later: Callable[[str, float], float | None] = _never
    if fmt != "auto":
        parse, client_of, later = _format(fmt, shard_of is not None)
    # A format without a cheap owner test is parsed in full by every worker; its malformed
    # lines (no client to own them) are then counted by worker 0 alone.
    count_malformed = True
    # One headers dict per (agent, referer): no per-line copy, and the engine's caches keyed
    # on the agent see the same string object every time (its hash is computed once).
    header_cache: dict[tuple[str, str] | str, dict[str, str]] = {}
    empty_params = EMPTY
    extra = REPLAY_EXTRA
    started = time.perf_counter()
    lines_seen = malformed = 0
    now = clock.now
    for line in lines:
        lines_seen += 1
        if progress is not None and not lines_seen & 0x3FF:
            progress(lines_seen)
        if parse is None:
            if not line or line.isspace():
                continue
            parse, client_of, later = _format(sniff_format(line), shard_of is not None)
        if shard_of is not None:
            if client_of is not None:
                if shard_of(client_of(line)) != mine:  # another worker's line: clock only
                    moved = later(line, now)
                    if moved is not None:
                        now = clock.now = moved
                    continue
            else:
                count_malformed = mine == 0
        rec = parse(line)
        if rec is None:
            if count_malformed and line and not line.isspace():
                malformed += 1
            continue
        ip, timestamp, method, target, _, status, agent, referer = rec
        # Logs are written when requests end, so timestamps wobble; time never runs back.
        if timestamp > now:
            now = clock.now = timestamp
        if client_of is None and shard_of is not None and shard_of(ip) != mine:
            continue
        key = (agent, referer) if referer else agent
        headers = header_cache.get(key)
        if headers is None:
            if len(header_cache) >= _HEADER_CACHE_MAX:
                header_cache.clear()
            headers = header_cache[key] = logged_headers(agent, referer)
        if target[0] == "/":
            path, _, query = target.partition("?")
        else:
            path, query = target_parts(target)
        view = RequestView(method=method, path=path, headers=headers, peer=ip, query=query,
                           path_params=empty_params, extra=extra)
        decision = inspect(view)
        if decision.access is not None:
            record_response(view, decision, status)
        add(ip, timestamp, agent, target, decision, lines_seen)
    tally.lines = lines_seen
    tally.malformed = malformed
    if progress is not None:
        progress(lines_seen)
    return ReplayRun(tally, time.perf_counter() - started)


def _never(line: str, now: float) -> float | None:
    return None


def _format(name: str, sharded: bool) -> tuple[FieldParser, Callable[[str], str] | None,
                                                Callable[[str, float], float | None]]:
    """(field parser, owner test, clock test) for a format; the last two only when sharded
    and the format has them."""
    helpers = SHARD_HELPERS.get(name) if sharded else None
    if helpers is None:
        return FORMATS[name](), None, _never
    return FORMATS[name](), helpers[0], helpers[1]()


def replay_shard(path: str, config: Config, fmt: str, index: int, count: int) -> Tally:
    """One worker's share of :func:`replay_file`."""
    with LogSource(path) as source:
        return replay_lines(source, config, fmt=fmt, shard=(index, count)).tally


def _shard_process(pipe: Connection, path: str, config: Config, fmt: str, index: int,
                   count: int) -> None:
    """Child process body: the shard's tally, or the exception that stopped it, down the pipe
    (one message: nothing else ever crosses between the processes)."""
    try:
        result: Tally | Exception = replay_shard(path, config, fmt, index, count)
    except KeyboardInterrupt:  # Ctrl-C reached the whole process group: the parent reports
        return
    except Exception as exc:
        result = exc
    try:
        pipe.send(result)
    finally:
        pipe.close()


def _threads() -> int:
    """Threads of this process: the operating system's count where it tells (threads that
    native libraries start count too), else Python's."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _process_context() -> multiprocessing.context.BaseContext:
    """Fork when it is safe, with no other thread in the process: workers start in
    milliseconds with the engine's modules already imported. With other threads about, a
    forked child can inherit a lock one of them held and hang (Python 3.12+ warns), so the
    workers come from the fork server, or are spawned where there is none; Linux's default
    before Python 3.14 would still fork."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and _threads() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def replay_file(path: str, config: Config, *, fmt: str = "auto", workers: int = 1,
                progress: Callable[[int], None] | None = None,
                source: LogSource | None = None) -> ReplayRun:
    """Replay a log file (``-``: stdin) in ``workers`` processes split by client network.

    This process replays shard 0 (and drives ``progress``) while child processes replay the
    others; their tallies are merged. ``source``: an already opened source for shard 0. An
    error in any worker (an unreadable or truncated file) is raised here.
    """
    own = source is None
    source = source if source is not None else LogSource(path)
    children: list[tuple[Connection, Any]] = []
    try:
        if workers <= 1 or path == "-":
            return replay_lines(source, config, fmt=fmt, progress=progress)
        started = time.perf_counter()
        context = _process_context()
        for index in range(1, workers):
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(target=_shard_process, daemon=True,
                                    args=(sender, path, config, fmt, index, workers))
            child.start()
            sender.close()
            children.append((receiver, child))
        tally = replay_lines(source, config, fmt=fmt, progress=progress,
                             shard=(0, workers)).tally
        for receiver, child in children:
            try:
                result = receiver.recv()
            except EOFError:
                raise OSError(f"replay worker {child.name} ended without a result "
                              f"(exit code {child.exitcode})") from None
            if isinstance(result, Exception):
                raise result
            tally.merge(result)
        return ReplayRun(tally, time.perf_counter() - started, workers)
    finally:
        for receiver, child in children:
            receiver.close()
            if child.is_alive():  # work abandoned after an error (a worker that has sent
                child.terminate()  # its tally is exiting anyway)
            child.join()
        if own:
            source.close()
