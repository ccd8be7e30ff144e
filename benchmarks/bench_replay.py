"""Replay speed: log lines per second through the real engine, default configuration.

    python -m benchmarks.bench_replay [--rounds 5] [--copies 4] [LOG ...]

All variants run side by side in interleaved rounds, each round with fresh engines (empty
state), so machine noise hits every variant alike; the load average is printed before and
after. In one process, on the logs given (plain or gzip; by default the four public logs the
repository carries in ``tests/data/access-logs/``, 24,271 lines) read into memory once; a
run given no line says so and stops (there is no speed to measure on nothing):

* ``full``: parse + RequestView + ``Engine.inspect`` + ``record_response`` + tally (what
  ``antiscrape replay`` does, minus file reading);
* ``no engine``: the same loop with an engine stand-in that returns one constant decision:
  the replayer's own cost (parsing, building views, counting);
* ``parse only``: the combined-format field parser alone.

From the medians, the engine's share per line is ``1/full - 1/no-engine``.

From a file, as ``antiscrape replay`` reads it: a busier version of the four logs in a
temporary file (every IPv4 line followed by ``--copies - 1`` copies of itself from other
networks, same timestamp: the same traffic from that many times as many clients), replayed
by ``replay_file`` with ``--workers 1`` and ``--workers 2``; the two reports are checked to
be identical.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from antiscrape.config import Config
from antiscrape.decision import Action, Decision
from antiscrape.replay import LogSource, replay_file, replay_lines
from antiscrape.replay.parsers import combined_fields
from tests.corpora import ACCESS_LOGS, access_log


class ConstantEngine:
    """Answers every request with one allow: isolates the replayer's own cost."""

    decision = Decision(Action.ALLOW, "ok")

    def inspect(self, view: object) -> Decision:
        return self.decision

    def record_response(self, *args: object) -> None:
        pass


def load_lines(paths: list[str]) -> list[str]:
    """Every line of ``paths``, read as ``antiscrape replay`` reads them (gzip sniffed)."""
    lines: list[str] = []
    for path in paths:
        with LogSource(path) as source:
            lines += [line.rstrip("\n") for line in source]
    return lines


def write_busy_log(lines: list[str], copies: int, path: Path) -> None:
    """Each line followed by ``copies - 1`` copies from other networks (first octet moved),
    same timestamp: the same traffic from ``copies`` times as many clients."""
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
            first, dot, rest = line.partition(".")
            if not (dot and first.isdigit()):
                continue  # IPv6 or no address: one copy only
            for copy in range(1, copies):
                out.write(f"{(int(first) + 53 * copy) % 223 + 1}.{rest}\n")


def parse_only(lines: list[str]) -> float:
    parse = combined_fields()
    started = time.perf_counter()
    for line in lines:
        parse(line)
    return len(lines) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("logs", nargs="*", metavar="LOG",
                        help="access logs, plain or gzip (default: tests/data/access-logs)")
    args = parser.parse_args()
    paths = args.logs or [str(access_log(name)) for name in ACCESS_LOGS]
    try:
        lines = load_lines(paths)
    except OSError as exc:
        parser.exit(2, f"bench_replay: cannot read a log: {exc}\n")
    if not lines:
        parser.exit(2, f"bench_replay: no log lines in {', '.join(paths)}: nothing to measure\n")
    config = Config.load({"secret_key": "bench-secret-0123456789abcdef"})
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "access.log"
        write_busy_log(lines, args.copies, big)
        with big.open(encoding="utf-8") as written:
            big_lines = sum(1 for _ in written)
        summaries: dict[int, dict[str, object]] = {}

        def from_file(workers: int) -> float:
            run = replay_file(str(big), config, workers=workers)
            summary = run.tally.summary(top=100)
            if summaries.setdefault(workers, summary) != summary:
                raise AssertionError("a replay gave a different report in another round")
            return run.lines_per_second

        variants: dict[str, Callable[[], float]] = {
            "full": lambda: replay_lines(lines, config).lines_per_second,
            "no engine": lambda: replay_lines(lines, config,
                                              engine=ConstantEngine()).lines_per_second,
            "parse only": lambda: parse_only(lines),
            "file, 1 worker": lambda: from_file(1),
            "file, 2 workers": lambda: from_file(2),
        }
        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, run in variants.items():
                results[name].append(run())
        if summaries[1] != summaries[2]:
            raise AssertionError("--workers 2 reported something --workers 1 did not")
    load_after = os.getloadavg()
    print(f"in memory: {len(lines):,} lines from {len(paths)} logs; "
          f"from a file: {big_lines:,} lines (busy log, {args.copies} copies); "
          f"{args.rounds} interleaved rounds")
    print(f"load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)}")
    print(f"{'variant':<17}{'median lines/s':>16}  rounds")
    medians = {}
    for name, values in results.items():
        medians[name] = statistics.median(values)
        rounds = " / ".join(f"{v:,.0f}" for v in values)
        print(f"{name:<17}{medians[name]:>16,.0f}  {rounds}")
    engine_us = (1 / medians["full"] - 1 / medians["no engine"]) * 1e6
    own_us = 1e6 / medians["no engine"]
    print(f"per line: engine {engine_us:.1f} µs, replayer {own_us:.1f} µs "
          f"(of which parsing {1e6 / medians['parse only']:.1f} µs)")
    print(f"2 workers vs 1: x{medians['file, 2 workers'] / medians['file, 1 worker']:.2f} "
          "(reports identical)")


if __name__ == "__main__":
    main()
