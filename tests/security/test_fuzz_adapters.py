"""Raw requests, fuzzed with hypothesis, through all three adapters (Starlette, Django under
WSGI and ASGI, Flask): no exception from antiscrape may reach the application or the server,
and the engine must not even have to swallow one (its fail-open guard would hide a bug).

Requests are built below the HTTP clients' own validation: an ASGI scope or a WSGI environ
with any method, path, query and header bytes a server would pass on, any peer text, and
cookies, forwarding headers, tokens and client hints in odd shapes.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import antiscrape
from antiscrape import integrations
from antiscrape.clock import ManualClock
from antiscrape.engine import Engine
from tests.behaviour.sites import FRAMEWORKS, Site, build
from tests.conftest import SECRET

CONFIG = {
    "secret_key": SECRET,
    "trusted_proxies": ["10.0.0.0/8", "fd00::/8"],
    "forwarded_header": "x-forwarded-for",
    "decision_header": True,
    "rate_limit_headers": True,
    "protect": [{"route": "/items/{item_id}/comments", "kind": "comments", "page_param": "page"}],
    "enumeration": {"canaries": {"profile": ["999"]}},
    "status_page": {"enabled": True, "token": "status-token-0123456789"},
    "challenge": {"ladder": [{"max_score": 100, "difficulty": 2}]},
}

# -- what a client can send -------------------------------------------------------------------

TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF,
                             blacklist_characters="\r\n"), max_size=40)
"""Latin-1 and a little beyond (servers hand non-ASCII bytes over as latin-1 text)."""
SEGMENT = st.one_of(st.sampled_from(["users", "items", "1", "999", "comments", "api",
                                      ".antiscrape", "verify", "nojs", "worker.js",
                                      "_antiscrape", "static", "health", "%2F", "..", ""]),
                    TEXT.map(lambda t: t.replace("/", "")))
PATH = st.lists(SEGMENT, max_size=5).map(lambda parts: "/" + "/".join(parts))
QUERY = st.one_of(
    st.just(""), TEXT,
    st.builds(lambda t, n: f"t={t}&n={n}", TEXT, TEXT),
    st.builds(lambda p: f"page={p}", TEXT),
    st.just("token=status-token-0123456789&format=json"),
)
NAMES = st.one_of(
    st.sampled_from(["user-agent", "accept", "accept-language", "accept-encoding", "cookie",
                     "x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-proto",
                     "sec-ch-ua", "sec-ch-ua-mobile", "sec-fetch-mode", "authorization",
                     "host", "x-test-account", "referer"]),
    st.text("abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=20),
)
VALUES = st.one_of(
    TEXT,
    st.sampled_from(["", " ", "for=", 'for="[::1', "1.2.3.4, ::::", "unknown",
                     "antiscrape_clearance=", "antiscrape_clearance=a.b; x=y; =; ;;",
                     "Bearer ", "https, http", "Mozilla/5.0 (X11) HeadlessChrome/1",
                     "text/html", "x" * 5000, "%00", "\x00", "\xff" * 20]),
    st.builds(lambda a, b: f"{a}.{b}", TEXT, TEXT),
)
HEADERS = st.lists(st.tuples(NAMES, VALUES), max_size=8)
PEER = st.one_of(st.sampled_from(["203.0.113.7", "10.0.0.2", "fd00::2", "2001:db8::1",
                                  "::ffff:1.2.3.4", "", "unix:/tmp/s", "not an address"]),
                 TEXT)
METHOD = st.one_of(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]),
                   st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=10))


# -- sending it -------------------------------------------------------------------------------

OURS = (str(Path(antiscrape.__file__).parent), str(Path(integrations.__file__).parent))
"""Where antiscrape's code lives (the core and the adapters)."""


class Faults(logging.Handler):
    """Collects every logged exception whose traceback passes through antiscrape's code (the
    frameworks log the exceptions they turn into 500s)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[2] is not None:
            frames = traceback.extract_tb(record.exc_info[2])
            if any(f.filename.startswith(OURS) for f in frames):
                self.found.append("".join(traceback.format_exception(*record.exc_info)))


def wire(text: str) -> str:
    """Text as a WSGI server hands it over: the request's bytes (UTF-8 here) read as
    latin-1 (PEP 3333)."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


SITES: dict[str, Site] = {}


def site_for(framework: str) -> Site:
    if framework not in SITES:
        SITES[framework] = build(framework, Engine(CONFIG, clock=ManualClock()))
    return SITES[framework]


@pytest.fixture(scope="module", autouse=True)
def close_sites() -> Any:
    yield
    for site in SITES.values():
        site.close()
    SITES.clear()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(method=METHOD, path=PATH, query=QUERY, headers=HEADERS, peer=PEER)
def test_no_exception_reaches_the_application(framework: str, method: str, path: str,
                                               query: str, headers: list[tuple[str, str]],
                                               peer: str) -> None:
    site = site_for(framework)
    faults = Faults()
    root = logging.getLogger()
    root.addHandler(faults)
    try:
        if site.kind == "wsgi":
            method, path, query, peer = map(wire, (method, path, query, peer))
            headers = [(name, wire(value)) for name, value in headers]
        status = site.body_parts(path, headers, method=method, query=query, peer=peer)[0]
    finally:
        root.removeHandler(faults)
    assert not faults.found, faults.found[0]
    assert site.engine.internal_errors.count == 0, "the engine swallowed a fault of its own"
    assert status != 500 and status != 0, status

