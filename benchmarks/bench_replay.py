"""Replay speed: log lines per second through the real engine, default configuration.

    python -m benchmarks.bench_replay [--rounds 5]

All four public logs in ``../shared/data/access-logs/`` (24,271 lines) are read into memory
once and replayed in interleaved rounds, each round with a fresh engine (empty state), so
machine noise hits every variant alike:

* ``full``: parse + RequestView + ``Engine.inspect`` + ``record_response`` + tally (what
  ``antiscrape replay`` does, minus file reading);
* ``no engine``: the same loop with an engine stand-in that returns one constant decision:
  the replayer's own cost (parsing, building views, counting);
* ``parse only``: the combined-format parser alone.

From the medians, the engine's share per line is ``1/full - 1/no-engine``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from antiscrape.config import Config
from antiscrape.decision import Action, Decision
from antiscrape.replay import combined_parser, replay_lines

LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "access-logs"


class ConstantEngine:
    """Answers every request with one allow: isolates the replayer's own cost."""

    decision = Decision(Action.ALLOW, "ok")

    def inspect(self, view: object) -> Decision:
        return self.decision

    def record_response(self, *args: object) -> None:
        pass


def load_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted(LOGS.glob("*.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


def parse_only(lines: list[str]) -> float:
    parse = combined_parser()
    started = time.perf_counter()
    for line in lines:
        parse(line)
    return len(lines) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    config = Config.load({"secret_key": "bench-secret-0123456789abcdef"})
    lines = load_lines()
    results: dict[str, list[float]] = {"full": [], "no engine": [], "parse only": []}
    for _ in range(args.rounds):
        results["full"].append(replay_lines(lines, config).lines_per_second)
        results["no engine"].append(
            replay_lines(lines, config, engine=ConstantEngine()).lines_per_second)
        results["parse only"].append(parse_only(lines))
    print(f"{len(lines):,} lines from {len(list(LOGS.glob('*.log')))} logs, "
          f"{args.rounds} interleaved rounds")
    print(f"{'variant':<12}{'median lines/s':>16}  rounds")
    medians = {}
    for name, values in results.items():
        medians[name] = statistics.median(values)
        rounds = " / ".join(f"{v:,.0f}" for v in values)
        print(f"{name:<12}{medians[name]:>16,.0f}  {rounds}")
    engine_us = (1 / medians["full"] - 1 / medians["no engine"]) * 1e6
    own_us = 1e6 / medians["no engine"]
    print(f"per line: engine {engine_us:.1f} µs, replayer {own_us:.1f} µs "
          f"(of which parsing {1e6 / medians['parse only']:.1f} µs)")


if __name__ == "__main__":
    main()
