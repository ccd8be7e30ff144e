"""The first request after start-up: what it costs with and without the user-agent warm-up.

    python -m benchmarks.bench_first_request [--runs 7] [--settle 0.5]

Each run is a fresh Python process (nothing built yet, as after a deploy or a worker
restart): it builds an ``Engine`` with the default configuration, waits ``--settle`` seconds
(a server's start-up before its first request), then times one ``Engine.inspect`` of a
Firefox request. ``warmed`` is the engine as shipped (the user-agent parser and the crawler
automaton are built when the engine is built); ``cold`` skips that, so the first request
builds them. Medians and the spread of ``--runs`` processes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
from antiscrape import useragent
from antiscrape.engine import Engine
from antiscrape.request import RequestView
if sys.argv[1] == "cold":
    useragent._warmed = True  # as if already warmed: the first request builds the parser
started = time.perf_counter()
engine = Engine({"secret_key": "bench-secret-0123456789abcdef"})
built = time.perf_counter() - started
time.sleep(float(sys.argv[2]))
view = RequestView("GET", "/", {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
                   "Gecko/20100101 Firefox/128.0", "accept": "text/html"}, "203.0.113.5")
started = time.perf_counter()
engine.inspect(view)
print(json.dumps({"build": built, "first": time.perf_counter() - started}))
"""


def run(variant: str, settle: float) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, variant, str(settle)],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--settle", type=float, default=0.5)
    args = parser.parse_args()
    load = os.getloadavg()
    results: dict[str, list[dict[str, float]]] = {"warmed": [], "cold": []}
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        for variant in results:
            results[variant].append(run(variant, args.settle))
    print(f"{args.runs} fresh processes per variant, {args.settle:g} s between building the "
          f"engine and the first request; load average {' '.join(f'{x:.2f}' for x in load)}")
    print(f"{'variant':<9}{'engine built, ms':>18}{'first inspect, ms':>20}  (min .. max)")
    for variant, rows in results.items():
        build = [r["build"] * 1000 for r in rows]
        first = [r["first"] * 1000 for r in rows]
        print(f"{variant:<9}{statistics.median(build):>18.1f}{statistics.median(first):>20.1f}"
              f"  ({min(first):.1f} .. {max(first):.1f})")


if __name__ == "__main__":
    main()
