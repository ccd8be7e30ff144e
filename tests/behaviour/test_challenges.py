"""The challenge page, a solved proof-of-work earning clearance, and a forged cookie, through
every adapter (the POST to the challenge endpoint included)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlencode

from tests.browsers import CHROME

from .conftest import MakeSite

HEADLESS = {**CHROME, "user-agent": CHROME["user-agent"].replace("Chrome/", "HeadlessChrome/")}
HEADLESS_JSON = {**HEADLESS, "accept": "application/json"}


def solve(seed: str, difficulty: int) -> str:
    """The client's side of the proof-of-work: SHA-256(seed:nonce) with leading zero bits."""
    nonce = 0
    while True:
        digest = hashlib.sha256(f"{seed}:{nonce}".encode()).digest()
        if int.from_bytes(digest[:4], "big") >> (32 - difficulty) == 0:
            return str(nonce)
        nonce += 1


def test_a_suspicious_browser_gets_the_challenge_page_not_200(make_site: MakeSite):
    site = make_site()
    page = site.get("/users/5", HEADLESS)
    assert page.status_code == 403
    assert page.headers["x-antiscrape-challenge"]
    assert page.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in page.headers
    assert "user 5" not in page.text


def test_api_clients_get_the_challenge_as_problem_json(make_site: MakeSite):
    site = make_site()
    problem = site.get("/api/items", HEADLESS_JSON)
    assert problem.status_code == 403
    assert problem.headers["content-type"] == "application/problem+json"
    challenge = problem.json()["challenge"]
    assert challenge["algorithm"] == "sha256-leading-zero-bits"
    assert challenge["difficulty"] > 0


def test_a_solved_challenge_earns_clearance_and_the_page(make_site: MakeSite):
    site = make_site()
    challenge = site.get("/users/5?tab=posts", HEADLESS_JSON).json()["challenge"]
    query = {"t": challenge["answer"]["query"]["t"],
             "n": solve(challenge["seed"], challenge["difficulty"])}
    answer = site.post(challenge["answer"]["url"] + "?" + urlencode(query), HEADLESS)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/users/5?tab=posts"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    pair = cookie.split(";", 1)[0]
    page = site.get("/users/5", {**HEADLESS, "cookie": pair})
    assert page.status_code == 200
    assert page.text == "user 5"
    # the same answer cannot be redeemed twice
    again = site.post(challenge["answer"]["url"] + "?" + urlencode(query), HEADLESS)
    assert again.status_code != 303


def test_a_forged_clearance_cookie_is_refused(make_site: MakeSite):
    site = make_site()
    forged = site.get("/users/5", {**HEADLESS, "cookie": "antiscrape_clearance=1.2.3.abc"})
    assert forged.status_code == 403
    assert forged.headers["x-antiscrape-challenge"]


def test_the_worker_script_is_served_by_the_middleware(make_site: MakeSite):
    site = make_site()
    page = site.get("/", HEADLESS).text
    worker = re.search(r'/\.antiscrape/worker\.js', page)
    assert worker is not None
    script = site.get(worker.group(0), HEADLESS)
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
