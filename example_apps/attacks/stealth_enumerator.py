"""The stealthier enumerator: a full Chrome header set, cookies kept, random order, jitter, and
optionally a pool of addresses to rotate through (what residential proxies sell).

It reads HTML profile pages, not the API, with a plausible ``Referer``, so nothing in a single
request gives it away. What gives it away is *how many distinct profiles* it reads: the
enumeration guard counts those per fingerprint and network, whatever the IP.

    python -m example_apps.attacks.stealth_enumerator --base-url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import time
from collections.abc import Sequence

import requests

from .common import CHROME_NAVIGATION, GiveUp, Outcome, require_local

_PROFILE = re.compile(r'data-profile-id="([^"]+)"')


def run(base_url: str, *, max_requests: int = 300, give_up_after: int = 10,
        jitter: tuple[float, float] = (0.0, 0.05), client_ips: Sequence[str] = (),
        user_count: int = 5_000, seed: int = 7, timeout: float = 5.0) -> Outcome:
    """Read profiles in a shuffled order with browser headers; return what was obtained."""
    base = require_local(base_url)
    outcome = Outcome("stealthy enumerator (browser headers, jitter"
                      + (", rotating IPs)" if len(client_ips) > 1 else ")"))
    rng = random.Random(seed)
    ids = list(range(1, user_count + 1))
    rng.shuffle(ids)
    addresses = itertools.cycle(client_ips) if client_ips else None
    give_up = GiveUp(give_up_after)
    with requests.Session() as session:
        session.headers.clear()
        session.headers.update(CHROME_NAVIGATION)

        def get(path: str, referer: str | None) -> requests.Response:
            headers = {"Referer": referer} if referer else {}
            if addresses is not None:
                headers["X-Forwarded-For"] = next(addresses)
            response = session.get(base + path, headers=headers, timeout=timeout,
                                   allow_redirects=False)
            outcome.record(response.status_code, response.headers)
            return response

        get("/", None)  # a landing page first, like a person arriving from a search engine
        for number in ids:
            if outcome.requests >= max_requests:
                outcome.stopped = f"request cap ({max_requests}) reached"
                return outcome
            time.sleep(rng.uniform(*jitter))
            response = get(f"/users/{number}", f"{base}/items/{rng.randrange(1, 501)}/comments")
            found = _PROFILE.search(response.text) if response.status_code == 200 else None
            if found:
                outcome.profiles.add(found.group(1))
            if give_up.after(response.status_code):
                outcome.stopped = f"gave up after {give_up_after} refusals in a row"
                return outcome
    outcome.stopped = "read every id"
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--max-requests", type=int, default=300)
    parser.add_argument("--client-ip", action="append", default=[],
                        help="an address to send as X-Forwarded-For (repeat to rotate)")
    args = parser.parse_args()
    print(run(args.base_url, max_requests=args.max_requests, client_ips=args.client_ip)
          .summary())


if __name__ == "__main__":
    main()
