"""Run every benchmark, one after another (``make bench``).

Each script prints its own tables; copy the figures into ``benchmarks/RESULTS.md`` with the
date and the machine's load at the time. Pass ``--quick`` for short rounds (a smoke run).
"""

from __future__ import annotations

import subprocess
import sys

SCRIPTS = {
    "bench_core": ["--memory-ips", "1000000"],
    "bench_useragent": [],
    "bench_adapters": [],
    "bench_enumeration": [],
    "bench_challenge": [],
    "bench_redis": [],
    "bench_replay": [],
    "bench_examples": [],
    "bench_instructions": [],
    "bench_first_request": [],
    "bench_identity": [],
    "bench_throughput": [],
}
QUICK = {
    "bench_core": ["--rounds", "2", "--batch", "100", "--memory-ips", "20000"],
    "bench_useragent": ["--rounds", "1", "--flood", "100", "--skip-detection"],
    "bench_adapters": ["--rounds", "2", "--batch", "100"],
    "bench_enumeration": ["--rounds", "1", "--batch", "50", "--reads", "1000"],
    "bench_challenge": ["--runs", "1", "--skip-browser"],
    "bench_redis": ["--requests", "100", "--rounds", "1", "--clients", "200"],
    "bench_replay": ["--rounds", "1", "--copies", "1"],
    "bench_examples": ["--rounds", "1", "--batch", "50"],
    "bench_instructions": ["--scenes", "starlette", "--variants", "guarded", "--requests", "20",
                           "--warm", "20"],
    "bench_first_request": ["--runs", "1", "--settle", "0.3"],
    "bench_identity": ["--rounds", "1", "--batch", "50"],
    "bench_throughput": ["--rounds", "1", "--seconds", "1"],
}
"""Short rounds of every script: a smoke run (the test suite runs it so no script rots), not
figures to quote."""


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = [a for a in argv if not a.startswith("--")]
    failed = []
    for name, args in SCRIPTS.items():
        if only and name not in only:
            continue
        chosen = QUICK.get(name, args) if quick else args
        print(f"\n===== {name} {' '.join(chosen)}", flush=True)
        if subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *chosen]) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
