"""The naive enumerator: ``requests`` with its default headers, walking ``/api/users/1, 2, 3...``.

The most common scraper there is, and the one the opening story of this project was: a loop
over sequential ids. Bounded: it stops after ``max_requests`` or after ``give_up_after``
refusals in a row.

    python -m example_apps.attacks.naive_enumerator --base-url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse

import requests

from .common import GiveUp, Outcome, require_local


def run(base_url: str, *, start: int = 1, max_requests: int = 300, give_up_after: int = 10,
        client_ip: str | None = None, timeout: float = 5.0) -> Outcome:
    """Walk profile ids upwards through the JSON API; return what was obtained.

    ``client_ip`` is sent as ``X-Forwarded-For``: the demo trusts it from 127.0.0.1 so that
    clients on one machine look like visitors from different networks.
    """
    base = require_local(base_url)
    outcome = Outcome("naive enumerator (requests)")
    give_up = GiveUp(give_up_after)
    headers = {"X-Forwarded-For": client_ip} if client_ip else {}
    with requests.Session() as session:
        for number in range(start, start + max_requests):
            response = session.get(f"{base}/api/users/{number}", headers=headers,
                                   timeout=timeout, allow_redirects=False)
            outcome.record(response.status_code, response.headers)
            if response.status_code == 200 and "phone" in response.text:
                outcome.profiles.add(str(number))
            if give_up.after(response.status_code):
                outcome.stopped = f"gave up after {give_up_after} refusals in a row"
                return outcome
    outcome.stopped = f"request cap ({max_requests}) reached"
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--max-requests", type=int, default=300)
    parser.add_argument("--client-ip")
    args = parser.parse_args()
    print(run(args.base_url, max_requests=args.max_requests, client_ip=args.client_ip).summary())


if __name__ == "__main__":
    main()
