"""The crawler that looks like many different visitors: a full browser header set, random ids,
jitter, and **every request from another /24** (what a residential proxy pool sells).

Optionally it also rotates its User-Agent over thousands of real-looking browser strings
(with the client hints that go with each) and drops every cookie it is given, so that no
address, no fingerprint and no cookie is ever seen twice. Persistent mode keeps it going:
after a run of refusals it backs off and tries again, for as long as ``duration`` allows.

    python -m example_apps.attacks.rotating_crawler --base-url http://127.0.0.1:8000
    python -m example_apps.attacks.rotating_crawler --drop-cookies --rotate-user-agents

The server must trust ``X-Forwarded-For`` from this machine (the demo does) for the rotation
to mean anything: that is how one machine plays a proxy pool.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence

import requests

from .common import CHROME_NAVIGATION, FIREFOX_NAVIGATION, GiveUp, Outcome, require_local

_PROFILE = re.compile(r'data-profile-id="([^"]+)"')
_PLATFORMS = (("Windows NT 10.0; Win64; x64", '"Windows"'),
              ("Macintosh; Intel Mac OS X 10_15_7", '"macOS"'),
              ("X11; Linux x86_64", '"Linux"'))


def browser_headers(rng: random.Random) -> dict[str, str]:
    """One of thousands of plausible browsers: Chrome (with matching client hints), Edge or
    Firefox, of many versions and builds, on three platforms."""
    platform, hint = rng.choice(_PLATFORMS)
    roll = rng.random()
    if roll < 0.25:
        version = rng.randrange(100, 132)
        ua = (f"Mozilla/5.0 ({platform}; rv:{version}.0) Gecko/20100101 Firefox/{version}.0"
              if "Mac" not in platform else
              f"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.{rng.randrange(0, 7)}; "
              f"rv:{version}.0) Gecko/20100101 Firefox/{version}.0")
        return {**FIREFOX_NAVIGATION, "User-Agent": ua}
    major = rng.randrange(100, 132)
    build = f"{major}.0.{rng.randrange(4000, 6800)}.{rng.randrange(0, 250)}"
    edge = roll < 0.4
    ua = (f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{build} "
          "Safari/537.36" + (f" Edg/{build}" if edge else ""))
    brand = "Microsoft Edge" if edge else "Google Chrome"
    return {**CHROME_NAVIGATION, "User-Agent": ua,
            "sec-ch-ua": f'"Chromium";v="{major}", "{brand}";v="{major}", '
                         '"Not?A_Brand";v="99"',
            "sec-ch-ua-platform": hint}


def networks(rng: random.Random) -> Iterator[str]:
    """An address in another /24 every time (public-looking ranges, never repeated)."""
    seen: set[int] = set()
    while True:
        net = rng.randrange(1 << 8, 223 << 16)  # first octet 1..222
        if net in seen or (net >> 16) in (10, 127):
            continue
        seen.add(net)
        yield f"{net >> 16}.{(net >> 8) & 255}.{net & 255}.{rng.randrange(1, 255)}"


def run(base_url: str, *, max_requests: int = 600, give_up_after: int = 10,
        keep_cookies: bool = True, rotate_user_agents: bool = False,
        jitter: tuple[float, float] = (0.05, 0.3), persistent: bool = False,
        back_off: float = 900.0, duration: float = 86_400.0,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
        one_address: str | None = None, client_ips: Sequence[str] = (),
        new_jar_every: int = 0, user_count: int = 5_000, seed: int = 11,
        timeout: float = 5.0) -> Outcome:
    """Read random profiles from a new /24 each time; return what was obtained.

    ``persistent``: after ``give_up_after`` refusals in a row, wait ``back_off`` seconds and
    carry on until ``duration`` seconds have passed (by ``clock``) or ``max_requests`` were
    sent; otherwise stop at the first such run. ``sleep`` and ``clock`` let a test drive the
    crawler on a simulated clock. ``one_address``: no rotation, every request from it;
    ``client_ips``: the pool to rotate through, in order (default: a new random /24 each
    time). ``new_jar_every``: keep cookies, but throw the jar away after that many profile
    reads and start a fresh one on the landing page (a new visitor that reads just under a
    person's budget, again and again).
    """
    base = require_local(base_url)
    what = ["rotating /24s"] if one_address is None else ["nothing but its ids"]
    if rotate_user_agents:
        what.append("User-Agents")
    jars = f"a new cookie jar every {new_jar_every} reads" if new_jar_every else \
        "cookies " + ("kept" if keep_cookies else "dropped")
    outcome = Outcome(f"crawler rotating {' and '.join(what)}, {jars}")
    rng = random.Random(seed)
    addresses = iter(lambda: one_address, None) if one_address is not None else \
        itertools.cycle(client_ips) if client_ips else networks(rng)
    give_up = GiveUp(give_up_after)
    fixed = {**CHROME_NAVIGATION}
    started = clock()
    with requests.Session() as session:
        session.headers.clear()

        def get(path: str, referer: str | None) -> requests.Response:
            if not keep_cookies:
                session.cookies.clear()
            headers = browser_headers(rng) if rotate_user_agents else dict(fixed)
            if referer:
                headers["Referer"] = referer
            headers["X-Forwarded-For"] = next(addresses)
            response = session.get(base + path, headers=headers, timeout=timeout,
                                   allow_redirects=False)
            outcome.record(response.status_code, response.headers)
            if outcome.refused_at == outcome.requests and outcome.refused_after is None:
                outcome.refused_after = clock() - started
            return response

        get("/", None)  # a landing page first, like a person arriving from a search engine
        reads = 0
        while True:
            if outcome.requests >= max_requests:
                outcome.stopped = f"request cap ({max_requests}) reached"
                return outcome
            if clock() - started >= duration:
                outcome.stopped = f"ran for {duration:.0f} s"
                return outcome
            sleep(rng.uniform(*jitter))
            if new_jar_every and reads and reads % new_jar_every == 0:
                session.cookies.clear()
                get("/", None)
            reads += 1
            number = rng.randrange(1, user_count + 1)
            response = get(f"/users/{number}", f"{base}/items/{rng.randrange(1, 501)}/comments")
            found = _PROFILE.search(response.text) if response.status_code == 200 else None
            if found:
                outcome.profiles.add(found.group(1))
            if give_up.after(response.status_code):
                if not persistent:
                    outcome.stopped = f"gave up after {give_up_after} refusals in a row"
                    return outcome
                give_up.streak = 0
                sleep(back_off)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--max-requests", type=int, default=600)
    parser.add_argument("--drop-cookies", action="store_true")
    parser.add_argument("--rotate-user-agents", action="store_true")
    parser.add_argument("--new-jar-every", type=int, default=0, metavar="N",
                        help="start a new cookie jar after every N profile reads")
    args = parser.parse_args()
    print(run(args.base_url, max_requests=args.max_requests, keep_cookies=not args.drop_cookies,
              rotate_user_agents=args.rotate_user_agents,
              new_jar_every=args.new_jar_every).summary())


if __name__ == "__main__":
    main()
