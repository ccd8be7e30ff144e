"""Throughput over a real server: how much of the bare app's requests per second antiscrape keeps.

    python -m benchmarks.bench_throughput [--rounds 5] [--seconds 3] [--connections 16]

The other benchmarks time the middleware alone, in process. This one asks what a site sees:
the Starlette app of ``bench_hotpath`` served by uvicorn (one worker, on 127.0.0.1, pinned to
one core), loaded by ``wrk`` (a C load generator, Debian package ``wrk``, pinned to the other
core) with keep-alive connections, in interleaved rounds so machine noise hits every variant
alike:

* ``bare``: the app alone;
* ``antiscrape``: full protection, the default configuration (visitors, the pool, the guard,
  the enumeration guard on ``/users/{user_id}``), with every budget (and the site guard's
  floor for visitors' reads) raised out of reach so
  that every answer is a 200, as the usual limiters are measured with a limit that never
  triggers; ``trusted_proxies`` is 127.0.0.1, so each request's ``X-Forwarded-For`` makes it
  one of 300 clients (30 networks, 50 browser builds), each a regular visitor sending its
  cookie back;
* ``slowapi``: the usual limiter of Starlette apps, a limit that never triggers.

Traffic: half home page, half random profiles. Every answer must be a 200 (the run stops
otherwise). The table gives requests per second (median of the rounds) and each variant's
share of the bare app's.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .bench_identity import CHROME
from .traffic import SERVED_GUARD, visitor_cookie

SECRET = "bench-throughput-secret-0123456789abcdef"
VARIANTS = ("bare", "antiscrape", "slowapi")
CLIENTS = 300
NEVER = "1000000000/minute"
"""A request budget no run reaches."""


def engine_config() -> dict[str, Any]:
    """The default configuration, with budgets no run reaches (see the module docstring)."""
    budget = {level: NEVER for level in ("ip", "network", "account", "clearance", "visitor")}
    return {
        "secret_key": SECRET,
        "trusted_proxies": ["127.0.0.1"],
        "protect": [{"route": "/users/{user_id}", "kind": "profile"}],
        "budgets": {"default": budget, "api": budget},
        "enumeration": {"default_budget": {"10m": 10**9, "1d": 10**9, "7d": 10**9}},
        "guard": SERVED_GUARD,
    }


def app_for(variant: str) -> Any:
    from antiscrape.engine import Engine

    from .bench_hotpath import starlette_app

    app = starlette_app(Engine(engine_config()) if variant == "antiscrape" else None, True)
    if variant == "slowapi":  # the same routes, every one under slowapi's default limit
        from slowapi import Limiter
        from slowapi.middleware import SlowAPIMiddleware
        from slowapi.util import get_remote_address

        app.state.limiter = Limiter(key_func=get_remote_address, default_limits=[NEVER])
        app.add_middleware(SlowAPIMiddleware)
    return app


def serve(variant: str, port: int) -> None:
    """The child: serve one variant until killed."""
    import uvicorn

    uvicorn.run(app_for(variant), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, proxy_headers=False)


def cookies() -> list[str]:
    """Each client's visitor cookie, minted two days ago: regulars coming back."""
    from antiscrape.engine import Engine

    engine = Engine(engine_config())
    now = time.time() - 2 * 86_400
    return [visitor_cookie(engine, now) for _ in range(CLIENTS)]


def wrk_script(visitor_cookies: list[str]) -> str:
    """The Lua script that makes wrk play the 300 clients: address, browser, cookie, path."""
    rows = []
    for n, cookie in enumerate(visitor_cookies):
        ua = CHROME.format(6000 + n % 50)
        rows.append(f'{{"198.51.{n % 30}.{n // 30 + 1}", "{ua}", "{cookie}"}}')
    return (
        "local clients = {\n" + ",\n".join(rows) + "\n}\n"
        "math.randomseed(7)\n"
        "request = function()\n"
        "  local c = clients[math.random(#clients)]\n"
        "  local path = '/'\n"
        "  if math.random() < 0.5 then path = '/users/' .. math.random(1, 1000000) end\n"
        "  return wrk.format('GET', path, {['X-Forwarded-For'] = c[1], ['User-Agent'] = c[2],\n"
        "    ['Cookie'] = c[3], ['Accept'] = 'text/html', ['Accept-Language'] = 'en',\n"
        "    ['Accept-Encoding'] = 'gzip', ['Sec-Fetch-Mode'] = 'navigate'})\n"
        "end\n"
        "local errors = 0\n"
        "response = function(status, headers, body)\n"
        "  if status ~= 200 then errors = errors + 1 end\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        "  io.write(string.format('non-200: %d\\n', summary.errors.status))\n"
        "end\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server on port {port} exited ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server on port {port} did not answer within 30 s")


def pinned(core: int) -> list[str]:
    """``taskset`` to one core when there are two or more (server and load apart)."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(core)]
    return []


_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_200 = re.compile(r"non-200: (\d+)")


def load(port: int, script: str, seconds: int, connections: int) -> float:
    """Requests per second wrk got from the server on ``port`` (every answer must be a
    200)."""
    done = subprocess.run(
        [*pinned(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script,
         f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=False)
    rate = _RATE.search(done.stdout)
    bad = _NON_200.search(done.stdout)
    if done.returncode != 0 or rate is None or bad is None:
        raise SystemExit(f"wrk failed on port {port}:\n{done.stdout}\n{done.stderr}")
    if int(bad.group(1)):
        raise SystemExit(f"port {port}: {bad.group(1)} answers were not 200\n{done.stdout}")
    return float(rate.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--serve", nargs=2, metavar=("VARIANT", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    if shutil.which("wrk") is None:
        print("bench_throughput: wrk not found (Debian package 'wrk'); nothing measured")
        return
    ports = {variant: free_port() for variant in VARIANTS}
    servers = {variant: subprocess.Popen(
        [*pinned(0), sys.executable, "-m", "benchmarks.bench_throughput", "--serve", variant,
         str(port)], cwd=Path(__file__).resolve().parent.parent)
        for variant, port in ports.items()}
    rates: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    try:
        for variant, port in ports.items():
            wait_ready(port, servers[variant])
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(wrk_script(cookies()))
            script = f.name
        for port in ports.values():  # warm every server: caches, the visitors' first reads
            load(port, script, 1, args.connections)
        order = list(VARIANTS)
        rng = random.Random(3)
        for _ in range(args.rounds):
            rng.shuffle(order)
            for variant in order:
                rates[variant].append(load(ports[variant], script, args.seconds,
                                           args.connections))
    finally:
        for process in servers.values():
            process.terminate()
        for process in servers.values():
            process.wait(timeout=10)
    import uvicorn

    bare = statistics.median(rates["bare"])
    print(f"uvicorn {uvicorn.__version__} (one worker), wrk -c{args.connections}, "
          f"{args.rounds} interleaved rounds of {args.seconds:g} s; half home page, half "
          "profiles, 300 clients, every answer a 200")
    print(f"{'variant':<12}{'requests/s':>12}{'of bare':>10}   rounds")
    for variant in VARIANTS:
        median = statistics.median(rates[variant])
        runs = ", ".join(f"{r:.0f}" for r in rates[variant])
        print(f"{variant:<12}{median:>12.0f}{median / bare:>10.2f}   {runs}")


if __name__ == "__main__":
    main()
