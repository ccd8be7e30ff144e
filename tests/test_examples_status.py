"""The live status page: a bounded observer, an escaped page, a token checked in constant time,
and the engine routing ``status_page.path`` to it only when enabled."""

from __future__ import annotations

import json
import warnings

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from antiscrape.clock import ManualClock
from antiscrape.config import Config, StatusPageSettings
from antiscrape.decision import Action, Decision, Identity
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from antiscrape.request import RequestView
from antiscrape.status import StatusBoard, presented_token, token_matches
from tests.conftest import SECRET

with warnings.catch_warnings():  # starlette's notice about httpx, not about this code
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "status-token-0123456789"
SETTINGS = StatusPageSettings(enabled=True, token=TOKEN)


def view(path: str = "/users/1", query: str = "", headers: dict[str, str] | None = None,
         peer: str = "198.51.100.7") -> RequestView:
    return RequestView("GET", path, headers=headers or {}, peer=peer, query=query)


def decision(action: Action, score: int, ip: str = "198.51.100.7", reason: str = "ok",
             account: str | None = None, enforced: bool = True) -> Decision:
    return Decision(action, reason, score=score, rule="r", enforced=enforced,
                    identity=Identity(ip, ip.rsplit(".", 1)[0] + ".0/24", "f" * 16, account))


def test_rings_and_identity_table_stay_bounded(clock: ManualClock) -> None:
    board = StatusBoard(SETTINGS, recent=10, refusals=5, identities=50, clock=clock)
    for i in range(1_000):
        board(view(), decision(Action.ALLOW if i % 2 else Action.BLOCK, i % 100,
                               ip=f"10.0.{i // 250}.{i % 250}"), 0.00001)
    assert len(board.recent()) == 10
    assert len(board.recent(refusals_only=True)) == 5
    assert len(board._identities) == 50
    assert board.counts() == {"allow": 500, "block": 500}


def test_top_identities_ranked_by_score_and_counted(clock: ManualClock) -> None:
    board = StatusBoard(SETTINGS, clock=clock)
    for _ in range(3):
        board(view(), decision(Action.ALLOW, 5, ip="192.0.2.10"), 0.0)
    for score in (40, 80, 70):
        board(view(), decision(Action.CHALLENGE, score, ip="203.0.113.9",
                               reason="read 31 distinct profiles"), 0.0)
    board(view(), decision(Action.ALLOW, 0, ip="192.0.2.99", account="alice"), 0.0)
    top = board.top()
    assert [s.who for s in top] == ["203.0.113.9", "192.0.2.10", "account:alice"]
    attacker = top[0]
    assert (attacker.requests, attacker.refused, attacker.score, attacker.max_score) == (3, 3,
                                                                                         70, 80)
    assert attacker.last_reason == "read 31 distinct profiles"
    assert top[1].refused == 0


def test_monitor_decisions_are_not_counted_as_refused(clock: ManualClock) -> None:
    board = StatusBoard(SETTINGS, clock=clock)
    board(view(), decision(Action.BLOCK, 99, enforced=False), 0.0)
    assert board.top()[0].refused == 0
    assert board.counts() == {"block (monitor)": 1}


def test_ips_are_hashed_unless_raw_ips() -> None:
    hashed = StatusBoard.from_config(Config.load({"secret_key": SECRET}))
    hashed(view(), decision(Action.ALLOW, 0, ip="198.51.100.7"), 0.0)
    assert "198.51.100.7" not in hashed.top()[0].who
    assert len(hashed.top()[0].who) == 16
    raw = StatusBoard.from_config(Config.load({"secret_key": SECRET, "log": {"raw_ips": True}}))
    raw(view(), decision(Action.ALLOW, 0, ip="198.51.100.7"), 0.0)
    assert raw.top()[0].who == "198.51.100.7"


def test_page_escapes_everything_a_client_controls(clock: ManualClock) -> None:
    board = StatusBoard(SETTINGS, clock=clock)
    evil = "<script>alert(1)</script>"
    board(view(path="/users/" + evil), decision(Action.BLOCK, 99, reason=evil,
                                                 account=evil), 0.0)
    page = board.render()
    assert evil not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_token_check() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN, TOKEN[:-1])
    assert not token_matches(TOKEN, None)
    assert not token_matches("", "")
    assert not token_matches(TOKEN, "\udcff")  # odd input is a mismatch, not a crash
    assert presented_token(view(headers={"authorization": f"Bearer {TOKEN}"})) == TOKEN
    assert presented_token(view(query=f"a=1&token={TOKEN}")) == TOKEN
    assert presented_token(view(query="a=1")) is None


def test_reply_needs_the_token_and_only_answers_its_path(clock: ManualClock) -> None:
    board = StatusBoard(SETTINGS, clock=clock)
    assert board.reply(view(path="/users/1", query=f"token={TOKEN}")) is None
    denied = board.reply(view(path="/_antiscrape/", query="token=wrong"))
    assert denied is not None and denied.status == 401
    assert TOKEN.encode() not in denied.body
    ok = board.reply(view(path="/_antiscrape/", query=f"token={TOKEN}"))
    assert ok is not None and ok.status == 200
    assert ("cache-control", "no-store") in ok.headers
    as_json = board.reply(view(path="/_antiscrape", query=f"token={TOKEN}&format=json"))
    assert as_json is not None and set(json.loads(as_json.body)) == {
        "guard", "counts", "top", "recent_refusals", "recent"}
    disabled = StatusBoard(StatusPageSettings(enabled=False, token=TOKEN), clock=clock)
    assert disabled.reply(view(path="/_antiscrape/", query=f"token={TOKEN}")) is None


def _app(status: dict[str, object]) -> TestClient:
    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("app")

    app = Starlette(routes=[Route("/", hello), Route("/_antiscrape/", hello)])
    app.add_middleware(AntiScrapeMiddleware, config={"secret_key": SECRET,
                                                     "status_page": status})
    return TestClient(app)


BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 "
                         "Firefox/127.0", "accept": "text/html", "accept-language": "en",
           "accept-encoding": "gzip", "sec-fetch-mode": "navigate", "sec-fetch-site": "none",
           "sec-fetch-dest": "document"}


def test_engine_serves_the_page_when_enabled() -> None:
    client = _app({"enabled": True, "token": TOKEN})
    for _ in range(3):
        assert client.get("/", headers=BROWSER).text == "app"
    assert client.get("/_antiscrape/", headers=BROWSER).status_code == 401
    page = client.get(f"/_antiscrape/?token={TOKEN}", headers=BROWSER)
    assert page.status_code == 200
    assert "Top identities by score" in page.text
    data = client.get("/_antiscrape/", headers={**BROWSER, "authorization": f"Bearer {TOKEN}",
                                                "accept": "application/json"},
                      params={"format": "json"}).json()
    assert data["counts"]["allow"] >= 3
    assert {r["path"] for r in data["recent"]} >= {"/", "/_antiscrape/"}


def test_engine_leaves_the_path_to_the_app_when_disabled() -> None:
    client = _app({"enabled": False})
    assert client.get(f"/_antiscrape/?token={TOKEN}", headers=BROWSER).text == "app"
