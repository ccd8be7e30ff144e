"""What antiscrape adds per request, counted in CPU instructions instead of microseconds.

    python -m benchmarks.bench_instructions [--requests 800] [--warm 2500]
                                            [--scenes flask,django,starlette]
                                            [--variants bare,antiscrape,...] [--jobs 2]

Wall-clock medians on a shared machine drift by a factor of two between runs and by ±15 %
between rounds of one run, so small changes and comparisons across sessions drown in noise.
``valgrind --tool=callgrind`` counts the instructions a process executes: the same code on the
same input gives the same count whatever else the machine is doing. This script runs every
variant of a scene in a child process under callgrind twice, with ``warm + 200`` and
``warm + 200 + requests`` requests, and divides the difference by ``requests``: start-up,
imports, the warm-up (long enough for every client to have been seen) and callgrind's own
set-up cancel out, leaving the instructions of an average steady-state request. Every child
runs with ``PYTHONHASHSEED=0``: string hashes (and so dictionary probing and the sketches'
member hashes) would otherwise change from one process to the next and move the counts by
a percent or two.

Scenes and variants are those of the wall-clock scripts, with the same traffic:

* ``flask`` and ``django`` (``bench_adapters``): bare, antiscrape, the usual limiter
  (Flask-Limiter, django-ratelimit), adapter-only and storage-only;
* ``starlette`` (``bench_enumeration``): bare, the engine with the route unprotected
  (``engine``), and the route protected (``guarded``);
* ``identity`` (``bench_identity`` through Starlette): bare, protected reads with visitors
  off (``today``), by regular visitors and by visitors new today.

What the count leaves out: memory stalls. Instructions that miss the CPU caches cost more
time than those that hit, so a variant that touches more memory is slower than its count
says; the wall-clock scripts remain the measure of time. The count is the repeatable
yardstick for "did this change do less work", and for ratios between variants.
Needs valgrind (a Debian package); says so and exits when it is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = 200
"""Requests in the shorter run after the warm-up: both runs share them, so they cancel."""
SCENES: dict[str, tuple[str, ...]] = {
    "flask": ("bare", "antiscrape", "limiter", "adapter-only", "storage-only"),
    "django": ("bare", "antiscrape", "ratelimit", "adapter-only", "storage-only"),
    "starlette": ("bare", "engine", "guarded"),
    "identity": ("bare", "today", "visitor", "young"),
}
_COLLECTED = re.compile(r"Collected : (\d+)")


# -- the child: drive one variant, untimed ---------------------------------------------------


def drive(scene: str, variant: str, warm: int, n: int) -> None:
    """Send ``warm`` requests, then ``n`` more, to one variant (runs under callgrind)."""
    if scene == "starlette":
        _drive_starlette(variant, warm, n)
        return
    if scene == "identity":
        _drive_identity(variant, warm, n)
        return
    from . import bench_adapters as ba

    clock = ba.MovingClock(step=0.2)
    if scene == "flask":
        app = ba.flask_app(variant, clock)
    else:
        app, overrides = ba.django_apps(clock, (variant,))[variant]
        overrides.enable()
    statuses: dict[str, int] = {}
    ba.run_batch(app, ba.traffic(warm, seed=0), clock, [], statuses)
    ba.run_batch(app, ba.traffic(n, seed=1), clock, [], statuses)
    if set(statuses) != {"200"}:
        raise SystemExit(f"{scene} {variant}: unexpected statuses {statuses}")


def _drive_starlette(variant: str, warm: int, n: int) -> None:
    import random

    from antiscrape.clock import ManualClock

    from . import bench_enumeration as be

    clock = ManualClock()
    app = be.build(variant, clock)

    async def main() -> None:  # run_batch exits on any status but 200
        await be.run_batch(app, be.scopes(warm, random.Random(0)), clock, [])
        await be.run_batch(app, be.scopes(n, random.Random(1)), clock, [])

    asyncio.run(main())


def _drive_identity(variant: str, warm: int, n: int) -> None:
    import random

    from . import bench_identity as bi

    setup = bi.starlette_variant(variant)

    async def main() -> None:
        rng = random.Random(0)
        await bi.warm_up(setup, 400, rng)
        await bi.play(setup, bi.reads(warm, rng), [])
        await bi.play(setup, bi.reads(n, random.Random(1)), [])

    asyncio.run(main())


# -- the parent: count ---------------------------------------------------------------------


def count(scene: str, variant: str, warm: int, n: int, out_dir: str) -> int:
    """Instructions of a whole child process that sends ``warm + n`` requests."""
    out_file = os.path.join(out_dir, f"callgrind.{scene}.{variant}.{n}")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
         sys.executable, "-m", "benchmarks.bench_instructions", "--child", scene, variant,
         str(warm), str(n)],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONHASHSEED": "0"})  # string hashes, and so dict probing, alike
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{scene} {variant} ({n} requests) failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=800,
                        help="requests whose instructions are counted (default 800)")
    parser.add_argument("--warm", type=int, default=2500,
                        help="requests before counting (default 2500: every client seen)")
    parser.add_argument("--scenes", default="flask,django,starlette,identity")
    parser.add_argument("--variants", default="",
                        help="only these variants (default: every variant of each scene)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", nargs=4, metavar=("SCENE", "VARIANT", "WARM", "N"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        scene, variant, warm, n = args.child
        drive(scene, variant, int(warm), int(n))
        return
    if shutil.which("valgrind") is None:
        print("bench_instructions: valgrind not found (Debian package 'valgrind'); "
              "nothing measured")
        return
    scenes = [s for s in args.scenes.split(",") if s]
    unknown = set(scenes) - set(SCENES)
    if unknown:
        parser.error(f"unknown scenes {sorted(unknown)}; choose from {sorted(SCENES)}")
    wanted = {v for v in args.variants.split(",") if v}
    chosen = {scene: [v for v in SCENES[scene] if not wanted or v in wanted or v == "bare"]
              for scene in scenes}  # "bare" always: everything is measured against it
    runs = [(scene, variant, n) for scene in scenes for variant in chosen[scene]
            for n in (BASE, BASE + args.requests)]
    with tempfile.TemporaryDirectory(prefix="antiscrape-callgrind-") as out_dir, \
            ThreadPoolExecutor(max(1, args.jobs)) as pool:
        totals = dict(zip(runs, pool.map(
            lambda run: count(run[0], run[1], args.warm, run[2], out_dir), runs), strict=True))

    print(f"callgrind: instructions per request, mean of {args.requests} requests after "
          f"{args.warm + BASE} (deterministic: the same code and traffic give the same count)")
    print(f"{'variant':<24}{'instructions':>14}{'added':>12}{'added/bare':>12}")
    for scene in scenes:
        per: dict[str, float] = {
            variant: (totals[(scene, variant, BASE + args.requests)]
                      - totals[(scene, variant, BASE)]) / args.requests
            for variant in chosen[scene]}
        bare = per["bare"]
        for variant, value in per.items():
            added = "" if variant == "bare" else f"{value - bare:+,.0f}"
            ratio = "" if variant == "bare" else f"{(value - bare) / bare:.2f}"
            print(f"{scene + ' ' + variant:<24}{value:>14,.0f}{added:>12}{ratio:>12}")


if __name__ == "__main__":
    main()
