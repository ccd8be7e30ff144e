"""What the Redis backend costs per request: round trips, added time, memory per client.

    python -m benchmarks.bench_redis [--requests 2000] [--rounds 5] [--clients 5000]

A private redis-server is started on a free port (nobody else's commands in its statistics).
The engine runs its default configuration plus one protected route (``/users/{user_id}``);
traffic is browser headers with a visitor cookie (see ``views``), half home page, half
profiles.

* **Round trips per request**: ``INFO commandstats`` deltas over ``--requests`` requests, for
  the sync (``inspect``) and async (``ainspect``) paths. Commands the client sent (EVALSHA,
  EVAL, anything else) are counted apart from the commands the script ran inside Redis.
* **Added µs per request**: ``inspect`` timed in interleaved rounds against the memory
  backend and the Redis backend (same requests); median of per-round medians.
* **Flask-Limiter for comparison**: a Flask app with Flask-Limiter on the same server
  (``headers_enabled=True``, one default limit that never triggers, each strategy), its
  client commands per request counted the same way, next to a Flask app with antiscrape
  (``rate_limit_headers = true``).
* **Redis memory per tracked client**: ``used_memory`` delta after ``--clients`` distinct
  clients (distinct IPs, one per /24, each with its visitor cookie) made one home and one
  profile request each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import redis

from antiscrape.engine import Engine
from antiscrape.request import RequestView
from tests.browsers import CHROME_HTTPS
from tests.fixtures.redis_server import RedisServer

from .traffic import SERVED_GUARD, visitor_cookie

HEADERS = {name: value for name, value in CHROME_HTTPS.items() if name != "host"}
CLIENT_COMMANDS = ("evalsha", "eval")


def config(storage: str, prefix: str) -> dict[str, Any]:
    return {
        "secret_key": "bench-redis-secret-0123456789abcdef",
        "storage": storage,
        "key_prefix": prefix,
        "storage_timeout": 1.0,  # a loaded benchmark machine must not fail open
        # generous budgets: the benchmark measures allowed traffic
        "budgets": {"default": {"ip": "100000/minute", "network": "100000/minute"}},
        "protect": [{"route": "/users/{user_id}", "kind": "profile"}],
        "enumeration": {"budgets": {"profile": {"10m": 100000}}},
        "guard": SERVED_GUARD,
    }


def views(engine: Engine, n: int, *, distinct_clients: bool = False) -> list[RequestView]:
    """``n`` requests, half home page, half profiles, by 50 clients (or a new one every two
    requests) that keep the visitor cookie as browsers do: each presents its own, minted by
    ``engine`` a day before (every engine of the run shares the secret). Without it every
    request would be a new cookieless visitor, whose profile reads a shop rightly
    challenges: the benchmark measures allowed traffic."""
    jars: dict[str, dict[str, str]] = {}
    out = []
    for i in range(n):
        ip = f"10.{(i >> 9) & 255}.{(i >> 1) & 255}.7" if distinct_clients else \
            f"10.0.{i % 50}.9"
        headers = jars.get(ip)
        if headers is None:
            headers = jars[ip] = {**HEADERS,
                                  "cookie": visitor_cookie(engine, time.time() - 86_400)}
        if i % 2:
            uid = str(1 + (i * 7919) % 100_000)
            out.append(RequestView("GET", f"/users/{uid}", headers=headers, peer=ip,
                                   route="/users/{user_id}", path_params={"user_id": uid}))
        else:
            out.append(RequestView("GET", "/", headers=headers, peer=ip, route="/"))
    return out


def commandstats(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def round_trips(client: redis.Redis, run: Callable[[], None], n: int) -> dict[str, float]:
    before = commandstats(client)
    run()
    after = commandstats(client)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    delta.pop("info", None)  # our own measuring call
    sent = sum(v for k, v in delta.items() if k in CLIENT_COMMANDS)
    inside = {k: v / n for k, v in delta.items() if k not in CLIENT_COMMANDS and v}
    return {"client_commands": sent / n, **{f"in_script.{k}": v for k, v in inside.items()}}


def flask_round_trips(client: redis.Redis, url: str, prefix: str, n: int) -> dict[str, Any]:
    """Client commands per request: Flask-Limiter (headers on) and antiscrape on Flask."""
    from flask import Flask
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    from antiscrape.integrations.flask import AntiScrape

    apps = []
    for strategy in ("fixed-window", "moving-window", "sliding-window-counter"):
        limited = Flask(f"limited-{strategy}")
        Limiter(get_remote_address, app=limited, storage_uri=url, headers_enabled=True,
                default_limits=["1000000 per minute"], strategy=strategy,
                key_prefix=f"{prefix}-{strategy}")
        apps.append((f"flask-limiter ({strategy})", limited))
    protected = Flask("protected")
    protected.config["ANTISCRAPE_CONFIG"] = {**config(url, prefix + "f"),
                                             "rate_limit_headers": True}
    AntiScrape(protected)
    apps.append(("antiscrape", protected))
    for _, app in apps:
        app.add_url_rule("/", "home", lambda: "home")
    headers = {k: v for k, v in HEADERS.items() if k != "host"}
    environ = {"REMOTE_ADDR": "198.51.100.7"}
    out: dict[str, Any] = {}
    for name, app in apps:
        test = app.test_client()
        test.get("/", headers=headers, environ_base=environ)  # warm: script load, connections
        answers: list[Any] = []

        def run(test: Any = test, answers: list[Any] = answers) -> None:
            answers.extend(test.get("/", headers=headers, environ_base=environ)
                           for _ in range(n))

        trips = round_trips(client, run, n)
        limit_headers = sorted(h for h in answers[-1].headers.keys()  # noqa: SIM118
                               if h.lower().startswith(("x-ratelimit", "ratelimit")))
        out[name] = {"client_commands": trips["client_commands"], "headers": limit_headers}
    return out


def timed(engine: Engine, batch: Iterable[RequestView]) -> list[float]:
    out = []
    for view in batch:
        t = time.perf_counter_ns()
        engine.inspect(view)
        out.append((time.perf_counter_ns() - t) / 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=5000)
    args = parser.parse_args()

    server = RedisServer()
    server.start()
    try:
        client = redis.Redis(port=server.port)
        prefix = f"bench-{uuid.uuid4().hex[:6]}"
        url = server.url
        redis_engine = Engine(config(url, prefix))
        memory_engine = Engine(config("memory://", prefix))
        traffic = views(redis_engine, args.requests)
        for view in traffic[:200]:  # warm caches and the script cache
            redis_engine.inspect(view)
            memory_engine.inspect(view)

        sync_trips = round_trips(client, lambda: [redis_engine.inspect(v) for v in traffic],
                                 len(traffic))

        async def run_async() -> None:
            for v in traffic:
                await redis_engine.ainspect(v)

        async_trips = round_trips(client, lambda: asyncio.run(run_async()), len(traffic))

        mem_medians, redis_medians = [], []
        for _ in range(args.rounds):
            mem_medians.append(statistics.median(timed(memory_engine, traffic)))
            redis_medians.append(statistics.median(timed(redis_engine, traffic)))
        mem_us, redis_us = statistics.median(mem_medians), statistics.median(redis_medians)

        flask_trips = flask_round_trips(client, url, prefix, 500)

        client.flushdb()
        base = int(client.info("memory")["used_memory"])
        tracked = Engine(config(url, prefix + "m"))
        for view in views(tracked, 2 * args.clients, distinct_clients=True):
            tracked.inspect(view)
        used = int(client.info("memory")["used_memory"]) - base
        keys = int(client.dbsize())

        print(f"round trips per request, sync : {sync_trips}")
        print(f"round trips per request, async: {async_trips}")
        for name, found in flask_trips.items():
            print(f"flask + {name}: {found['client_commands']:.2f} client commands per request "
                  f"with rate-limit headers {found['headers']}")
        print(f"inspect median µs: memory {mem_us:.1f}, redis {redis_us:.1f}, "
              f"added {redis_us - mem_us:.1f} (ratio {redis_us / mem_us:.2f}); "
              f"rounds memory {[round(x, 1) for x in mem_medians]}, "
              f"redis {[round(x, 1) for x in redis_medians]}")
        print(f"redis memory: {used / args.clients:.0f} bytes per tracked client "
              f"({args.clients} clients, {keys} keys, {keys / args.clients:.1f} keys/client, "
              f"{used / keys:.0f} bytes/key)")
        client.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
