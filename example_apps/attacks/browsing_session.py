"""A well-behaved visitor: Firefox headers, follows links, reads what a person reads.

Home page, a few items, their first comment pages, a handful of the people who commented, with
a pause between clicks. Every page it asks for must be served: the demo and the tests check
that antiscrape never refuses this session while it stops the scrapers.

    python -m example_apps.attacks.browsing_session --base-url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import random
import re
import time

import requests

from .common import FIREFOX_NAVIGATION, Outcome, require_local

_ITEM = re.compile(r'href="(/items/[^"/?]+)"')
_AUTHOR = re.compile(r'href="(/users/[^"/?]+)"')
_PROFILE = re.compile(r'data-profile-id="([^"]+)"')


def run(base_url: str, *, items: int = 3, profiles_per_item: int = 3,
        think: tuple[float, float] = (0.0, 0.05), client_ip: str | None = None,
        account: tuple[str, str] | None = None, seed: int = 3,
        timeout: float = 5.0) -> Outcome:
    """Browse like a person; ``account`` = (name, password) signs in first."""
    base = require_local(base_url)
    outcome = Outcome("well-behaved browsing session")
    rng = random.Random(seed)
    with requests.Session() as session:
        session.headers.clear()
        session.headers.update(FIREFOX_NAVIGATION)
        if client_ip:
            session.headers["X-Forwarded-For"] = client_ip
        referer: str | None = None

        def visit(path: str) -> str:
            nonlocal referer
            time.sleep(rng.uniform(*think))
            headers = {"Referer": referer} if referer else {"Sec-Fetch-Site": "none"}
            response = session.get(base + path, headers=headers, timeout=timeout)
            outcome.record(response.status_code, response.headers)
            referer = base + path
            return response.text if response.status_code == 200 else ""

        if account is not None:
            visit("/login")
            response = session.post(base + "/login", timeout=timeout,
                                    data={"account": account[0], "password": account[1]},
                                    headers={"Origin": base, "Referer": base + "/login"})
            outcome.record(response.status_code, response.headers)
        home = visit("/")
        links = _ITEM.findall(home)
        for item in rng.sample(links, min(items, len(links))):
            visit(item)
            comments = visit(f"{item}/comments")
            authors = list(dict.fromkeys(_AUTHOR.findall(comments)))
            for author in authors[:profiles_per_item]:
                found = _PROFILE.search(visit(author))
                if found:
                    outcome.profiles.add(found.group(1))
            visit("/")
    outcome.stopped = "finished browsing"
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--client-ip")
    args = parser.parse_args()
    print(run(args.base_url, client_ip=args.client_ip, think=(0.2, 1.0)).summary())


if __name__ == "__main__":
    main()
