"""Each example shop boots and serves its pages and JSON API, under antiscrape, with either
kind of id; the seeded data is deterministic and canaries are linked from nowhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from example_apps.shop_data import CANARY_USER_IDS, SEED, build_shop
from example_apps.shop_ids import IdCodec
from example_apps.shop_pages import ShopSite, mask_phone
from tests.fixtures.browser import free_port
from tests.fixtures.processes import stop, wait_for_http

REPO = Path(__file__).resolve().parent.parent
CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
FIREFOX = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.7", "Accept-Encoding": "gzip, deflate",
    "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-User": "?1", "Upgrade-Insecure-Requests": "1",
}
ITEM_LINK = re.compile(r'href="(/items/[^"/?]+)"')
USER_LINK = re.compile(r'href="(/users/[^"/?]+)"')


# -- data -------------------------------------------------------------------------------------


def test_seeded_data_is_deterministic_and_sized() -> None:
    shop = build_shop()
    assert (len(shop.users), len(shop.items)) == (5_000, 500)
    assert sum(len(c) for c in shop.comments_by_item.values()) == 20_000
    build_shop.cache_clear()
    again = build_shop(SEED)
    assert again.users[4242] == shop.users[4242]
    assert again.comments_by_item[17] == shop.comments_by_item[17]


def test_no_page_links_to_a_canary() -> None:
    shop = build_shop()
    authors = {c.user_id for cs in shop.comments_by_item.values() for c in cs}
    assert authors.isdisjoint(CANARY_USER_IDS)
    assert all(uid in shop.users for uid in CANARY_USER_IDS)  # they exist: a walk finds them


def test_opaque_ids_round_trip_and_reject_junk() -> None:
    codec = IdCodec("opaque", "s3cret")
    public = codec.encode("user", 42)
    assert public != "42" and len(public) >= 8
    assert codec.decode("user", public) == 42
    assert codec.encode("item", 42) != public  # one alphabet per kind
    for junk in ("42", "", "x" * 40, public + "a", "../etc"):
        assert codec.decode("user", junk) is None
    sequential = IdCodec()
    assert [sequential.decode("user", v) for v in ("7", "07x", "-1", "٣", "9" * 12)] == [
        7, None, None, None, None]


def test_phone_is_masked() -> None:
    assert mask_phone("13812345678") == "138****5678"
    site = ShopSite()
    phone = site.shop.users[1].phone
    answer = site.api_user("1")
    assert answer.json["phone"] != phone and answer.json["phone"][-4:] == phone[-4:]
    assert phone not in site.user("1").body


# -- the three apps ---------------------------------------------------------------------------

Get = Callable[..., Any]  # (path, **kw) -> response with .status_code, .text, .json()


def exercise(get: Get, post: Get, mode: str) -> None:
    """The walk every shop must serve: pages, API twins, errors, and the demo login."""
    home = get("/")
    assert home.status_code == 200
    items = ITEM_LINK.findall(home.text)
    assert len(items) >= 20
    item = items[3]
    assert (mode == "sequential") == item.split("/")[-1].isdigit()
    assert get(item).status_code == 200
    comments = get(f"{item}/comments", params={"page": "2"})
    assert comments.status_code == 200, comments.text[:300]
    authors = USER_LINK.findall(comments.text)
    assert authors
    profile = get(authors[0])
    assert profile.status_code == 200
    assert "****" in profile.text
    api_profile = get("/api" + authors[0]).json()
    assert api_profile["id"] == authors[0].rsplit("/", 1)[1] and "****" in api_profile["phone"]
    api_comments = get(f"/api{item}/comments", params={"page": "1"}).json()
    assert api_comments["page"] == 1 and api_comments["comments"][0]["author"]["url"]
    assert get(f"/api{item}").json()["title"]
    assert len(get("/api/items").json()["items"]) == 500
    assert get(f"{item}/comments", params={"page": "abc"}).status_code == 400
    assert get(f"/api{item}/comments", params={"page": "0"}).status_code == 400
    assert get(f"{item}/comments", params={"page": "999"}).status_code == 404
    assert get("/users/nobody").status_code == 404
    assert get("/api/users/999999").status_code == 404
    if mode == "opaque":
        assert get("/users/17").status_code == 404  # sequential ids are gone, not aliased
    assert post("/login", data={"account": "bob", "password": "wrong"}).status_code == 401
    signed_in = post("/login", data={"account": "bob", "password": "bob-demo"})
    assert signed_in.status_code in (200, 303)
    assert "signed in as <b>bob</b>" in get("/").text


@pytest.fixture(params=["sequential", "opaque"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_starlette_shop(mode: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from example_apps.starlette_shop.app import create_app

    app = create_app(ids=mode)
    with TestClient(app, headers=FIREFOX) as client:
        exercise(client.get, client.post, mode)
    assert app.state.antiscrape is not None  # the engine really sat in front of it


def test_flask_shop(mode: str) -> None:
    from example_apps.flask_shop.app import create_app

    app = create_app(ids=mode)
    assert "antiscrape" in app.extensions
    client = app.test_client()

    class Reply:  # Flask's test response, seen through the requests-like interface
        def __init__(self, response: Any) -> None:
            self.status_code = response.status_code
            self.text = response.get_data(as_text=True)
            self._response = response

        def json(self) -> Any:
            return self._response.get_json()

    def get(path: str, params: dict[str, str] | None = None) -> Reply:
        return Reply(client.get(path, query_string=params, headers=FIREFOX))

    def post(path: str, data: dict[str, str]) -> Reply:
        return Reply(client.post(path, data=data, headers=FIREFOX, follow_redirects=True))

    exercise(get, post, mode)


@pytest.fixture
def django_shop(mode: str) -> Iterator[str]:
    """The Django shop under uvicorn (ASGI) in its own process: Django settings are
    process-global, and this is how the example is meant to be run."""
    port = free_port()
    env = {**CHILD_ENV, "SHOP_IDS": mode}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "example_apps.django_shop.asgi:application",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/api/items/1", process,
                      lambda: process.stdout.read() if process.stdout else "")
        yield base
    finally:
        stop(process)


def test_django_shop(django_shop: str, mode: str) -> None:
    with requests.Session() as session:
        session.headers.update(FIREFOX)

        def get(path: str, params: dict[str, str] | None = None) -> requests.Response:
            return session.get(django_shop + path, params=params, timeout=5)

        def post(path: str, data: dict[str, str]) -> requests.Response:
            return session.post(django_shop + path, data=data, timeout=5)

        exercise(get, post, mode)


def test_django_shop_passes_system_checks() -> None:
    """antiscrape's checks run (its app is installed) and find no error in the example."""
    done = subprocess.run([sys.executable, "-m", "example_apps.django_shop.manage", "check"],
                          cwd=REPO, env=CHILD_ENV,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "antiscrape.E" not in done.stdout + done.stderr


def test_canaries_follow_the_id_mode() -> None:
    """With opaque ids the configured canaries (record numbers) are re-encoded, so the opaque
    URL of a canary profile is the one that convicts."""
    from example_apps.flask_shop.app import create_app

    app = create_app(ids="opaque")
    site: ShopSite = app.extensions["shop_site"]
    canary = site.public_canaries()[0]
    assert canary == site.ids.encode("user", CANARY_USER_IDS[0]) and not canary.isdigit()
    client = app.test_client()
    assert client.get(site.user_url(12), headers=FIREFOX).status_code == 200
    client.get(f"/users/{canary}", headers=FIREFOX)
    assert client.get(site.user_url(13), headers=FIREFOX).status_code == 403
