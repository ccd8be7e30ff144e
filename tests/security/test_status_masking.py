"""The status page masks what the decision log masks.

Reported: it showed raw account ids and raw paths (with query strings); the decision log
hashes accounts and keeps query strings out. Now: accounts are keyed hashes, paths lose their
query string and have e-mail addresses and phone numbers masked, unless
``status_page.mask = false``.
"""

from __future__ import annotations

import json

import pytest

from antiscrape.clock import ManualClock
from antiscrape.decision import Action, Decision, Identity
from antiscrape.request import RequestView
from antiscrape.status import StatusBoard
from tests.conftest import SECRET

from .drive import engine, get

TOKEN = "status-token-0123456789"
PERSONAL = ("alice@example.com", "13812345678", "secret=hunter2", "user-4711")


def board(mask: bool) -> StatusBoard:
    from antiscrape.config import Config

    config = Config.load({"secret_key": SECRET, "status_page": {
        "enabled": True, "token": TOKEN, "mask": mask}})
    b = StatusBoard.from_config(config, clock=ManualClock())
    ident = Identity("198.51.100.7", "198.51.100.0/24", "f" * 16, account="user-4711")
    for path in ("/users/alice@example.com/orders/13812345678?secret=hunter2",
                 "/profile/13812345678"):
        b(RequestView("GET", path, {}, "198.51.100.7"),
          Decision(Action.BLOCK, "conviction", score=100, rule="conviction", identity=ident),
          0.001)
    return b


@pytest.mark.parametrize("mask", [True, False])
def test_accounts_and_paths_are_masked_unless_configured(mask: bool) -> None:
    b = board(mask)
    page = b.render() + json.dumps(b.snapshot())
    for text in PERSONAL:
        if text == "secret=hunter2":
            assert text not in page  # a query string is never shown
        else:
            assert (text in page) is not mask, text
    if mask:
        assert "a***@example.com" in page and "138****5678" in page


def test_through_the_engine(clock: ManualClock) -> None:
    e, _ = engine(clock, status_page={"enabled": True, "token": TOKEN})
    e.inspect(RequestView("GET", "/users/alice@example.com", {"user-agent": "x"},
                          "198.51.100.7", user_id="user-4711"))
    page = get(e, "/_antiscrape/", {"authorization": f"Bearer {TOKEN}",
                                    "user-agent": "curl/8"}).reply
    assert page is not None and page.status == 200
    body = page.body.decode()
    assert "alice@example.com" not in body and "user-4711" not in body
    headers = dict(page.headers)
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
