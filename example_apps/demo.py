"""``make demo``: the Starlette shop under antiscrape, six clients against it, a table.

    python -m example_apps.demo              # the show, then the shop stays up until Ctrl-C
    python -m example_apps.demo --once       # the show only, then exit (CI); --port to move it

State is in memory and nothing else needs to run. Every client runs on this machine, so the
demo trusts ``X-Forwarded-For`` from 127.0.0.1 and gives each client an address of its own
(documentation ranges): that is how the shop tells six visitors apart here. Do not copy that
line into production unless a proxy you run really is in front of the app.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from antiscrape.status import StatusBoard

from .attacks import (
    browsing_session,
    naive_enumerator,
    rotating_crawler,
    scrapy_crawler,
    stealth_enumerator,
)
from .attacks.common import Outcome
from .starlette_shop.app import create_app

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_PROFILE_BUDGET = 30
"""Distinct profiles one identity may read in the demo (the shipped file: 40 in 10 minutes,
200 a day)."""

BROWSER_IP = "192.0.2.10"
NAIVE_IP = "198.51.100.7"
SCRAPY_IP = "100.64.3.9"
ROTATING_IPS = tuple(f"198.18.{n}.{20 + n}" for n in range(40))
"""The stealthy client's "residential proxies": 40 addresses in 40 different /24s."""
POOL_IPS = tuple(f"198.19.{n}.{n % 250 + 1}" for n in range(256))
"""A bigger proxy pool: 256 /24s, one per request, for the crawler that keeps its cookies."""
DROPPING_IPS = tuple(f"100.{68 + n // 256}.{n % 256}.9" for n in range(1_024))
"""1 024 /24s for the crawler that also rotates User-Agents and drops every cookie (none of
them another client's: the summary finds each client's reason by its addresses)."""
JAR_IPS = tuple(f"100.{80 + n // 256}.{n % 256}.7" for n in range(1_024))
"""1 024 /24s for the crawler that starts a new cookie jar every few reads."""
JAR_READS = 25
"""Reads per cookie jar: under the demo's per-person budget, so no jar is ever over it."""


def demo_overrides(status_token: str) -> dict[str, Any]:
    """What the demo changes in ``starlette_shop/antiscrape.toml`` (and why)."""
    budget = DEMO_PROFILE_BUDGET
    return {
        "trusted_proxies": ["127.0.0.1", "::1"],  # simulated client addresses, see above
        "log": {"raw_ips": True},  # the status page shows those simulated addresses
        "decision_header": True,  # X-AntiScrape-Decision on every answer, to look at
        "enumeration": {
            # A short show: small budgets, and a browser fingerprint counted like one person
            # (the shipped default gives it 8x, as many people share one browser build).
            "budgets": {"profile": {"10m": budget, "1d": budget, "7d": budget}},
            "levels": {"account": 1.0, "clearance": 1.0, "ip": 1.0, "fingerprint": 1.0,
                       "network": 20.0},
        },
        "status_page": {"enabled": True, "token": status_token},
    }


@dataclass(frozen=True)
class Client:
    label: str
    address: str
    run: Callable[[str], Outcome]
    attacker: bool
    addresses: tuple[str, ...] = ()
    """Every address it sends from (for the reasons read off the status board)."""


def clients(max_requests: int, jitter: float) -> list[Client]:
    """The cast, in the order they play. Each is bounded and stops by itself."""
    return [
        Client("well-behaved browsing session", BROWSER_IP, lambda url: browsing_session.run(
            url, client_ip=BROWSER_IP, items=3, profiles_per_item=4,
            think=(0.0, jitter)), attacker=False, addresses=(BROWSER_IP,)),
        Client("naive enumerator (requests)", NAIVE_IP, lambda url: naive_enumerator.run(
            url, client_ip=NAIVE_IP, max_requests=max_requests), attacker=True,
            addresses=(NAIVE_IP,)),
        Client("stealthy enumerator", f"{len(ROTATING_IPS)} rotating",
               lambda url: stealth_enumerator.run(
                   url, client_ips=ROTATING_IPS, max_requests=max_requests,
                   jitter=(0.0, jitter)), attacker=True, addresses=ROTATING_IPS),
        Client("crawler (Scrapy spider)", SCRAPY_IP, lambda url: scrapy_crawler.run(
            url, client_ip=SCRAPY_IP, max_requests=max_requests), attacker=True,
            addresses=(SCRAPY_IP,)),
        Client("crawler, new /24 each request, cookies kept", "a new /24 each time",
               lambda url: rotating_crawler.run(
                   url, client_ips=POOL_IPS, max_requests=max_requests,
                   jitter=(0.0, jitter)), attacker=True, addresses=POOL_IPS),
        Client("crawler, new /24 and User-Agent, cookies dropped", "a new /24 each time",
               lambda url: rotating_crawler.run(
                   url, client_ips=DROPPING_IPS, max_requests=max_requests,
                   keep_cookies=False, rotate_user_agents=True, jitter=(0.0, jitter)),
               attacker=True, addresses=DROPPING_IPS),
        Client(f"crawler, new /24 and User-Agent, a new cookie jar every {JAR_READS} reads",
               "a new /24 each time",
               lambda url: rotating_crawler.run(
                   url, client_ips=JAR_IPS, max_requests=max_requests,
                   new_jar_every=JAR_READS, rotate_user_agents=True, jitter=(0.0, jitter)),
               attacker=True, addresses=JAR_IPS),
    ]


# -- the server -------------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """Bind first, so a busy port is a clear message instead of a thread dying quietly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"demo: cannot listen on {host}:{port} ({exc.strerror}). Is another "
                         f"demo running? Try: make demo DEMO_ARGS='--port {port + 1}'") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def serving(app: Any, sock: socket.socket) -> Iterator[uvicorn.Server]:
    """Run uvicorn in a thread on ``sock`` until the block ends (also on Ctrl-C)."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="demo-server")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("demo: the shop did not start")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# -- the show ---------------------------------------------------------------------------------


def run_show(base_url: str, cast: list[Client], out: Any = sys.stdout) -> list[Outcome]:
    outcomes = []
    for client in cast:
        print(f"  running: {client.label} from {client.address} ...", file=out, flush=True)
        outcomes.append(client.run(base_url))
    return outcomes


def table(cast: list[Client], outcomes: list[Outcome]) -> str:
    """The results as a fixed-width text table."""
    header = ("client", "from", "requests", "profiles read", "first refusal", "answers",
              "stopped because")
    rows = [header]
    for client, o in zip(cast, outcomes, strict=True):
        rows.append((client.label, client.address, str(o.requests), str(len(o.profiles)),
                     "never" if o.refused_at is None else
                     f"request {o.refused_at}: {o.refused_how}",
                     o.answers(), o.stopped))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def reasons(board: StatusBoard | None, cast: list[Client]) -> list[str]:
    """The reason antiscrape gave for each client's first refusal, off the status board."""
    if board is None:
        return []
    first: dict[str, str] = {}
    for entry in reversed(board.recent(refusals_only=True)):  # oldest first
        for client in cast:
            if entry.who in client.addresses and client.label not in first:
                first[client.label] = f"{entry.action}: {entry.reason}"
    return [f"  {client.label}: {first[client.label]}" for client in cast
            if client.label in first]


def verdict(cast: list[Client], outcomes: list[Outcome]) -> list[str]:
    """What went against the promise: people served, scrapers capped. Empty means kept."""
    problems = []
    for client, o in zip(cast, outcomes, strict=True):
        if not client.attacker and (o.refused or not o.profiles):
            problems.append(f"{client.label} was refused {o.refused} time(s)")
        if client.attacker and len(o.profiles) > DEMO_PROFILE_BUDGET:
            problems.append(f"{client.label} read {len(o.profiles)} profiles, budget "
                            f"{DEMO_PROFILE_BUDGET}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_apps.demo",
                                     description="The example shop under antiscrape, with a "
                                                 "short show of six clients.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--once", action="store_true",
                        help="run the show, print the table and exit (non-interactive)")
    parser.add_argument("--no-show", action="store_true", help="only serve the shop")
    parser.add_argument("--ids", choices=("sequential", "opaque"), default="sequential")
    parser.add_argument("--max-requests", type=int, default=200,
                        help="cap per attacking client (each also gives up after 10 refusals)")
    parser.add_argument("--jitter", type=float, default=0.02,
                        help="largest pause in seconds between the stealthy client's requests")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the demo serves on this machine only (127.0.0.1, localhost or ::1)")

    os.chdir(REPO_ROOT)  # the Scrapy spider runs as ``python -m`` from here
    token = os.environ.get("DEMO_STATUS_TOKEN") or secrets.token_urlsafe(18)
    sock = bind(args.host, args.port)  # first: a busy port is reported before any work
    app = create_app(ids=args.ids, overrides=demo_overrides(token))
    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{args.port}"
    cast = clients(args.max_requests, args.jitter)
    problems: list[str] = []
    try:
        with serving(app, sock):
            print(f"antiscrape demo: the shop is up on {base_url} (in-memory state)\n")
            if not args.no_show:
                print("The show: one visitor and three scrapers, one after the other.")
                outcomes = run_show(base_url, cast)
                print("\n" + table(cast, outcomes) + "\n")
                why = reasons(app.state.antiscrape.status_board, cast)
                if why:
                    print("Why each was first refused (from the status page):\n"
                          + "\n".join(why) + "\n")
                problems = verdict(cast, outcomes)
                print("Promise kept: the visitor was served, every scraper was capped at "
                      f"{DEMO_PROFILE_BUDGET} profiles or fewer." if not problems else
                      "Promise NOT kept:\n  " + "\n  ".join(problems))
            if args.once:
                return 1 if problems else 0
            print(f"\nBrowse it:        {base_url}/  (sign in as alice / alice-demo)\n"
                  f"Status page:      {base_url}/_antiscrape/?token={token}\n"
                  f"Try a scraper:    python -m example_apps.attacks.naive_enumerator "
                  f"--base-url {base_url} --client-ip 198.51.100.50\n"
                  "                  (--client-ip keeps it from being counted as you)\n"
                  "Ctrl-C stops the shop.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("\nantiscrape demo: stopped.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
