"""What the challenge sends back: HTML pages, problem+json bodies and their headers. Pure.

Every value placed into a page passes through ``html.escape``; the page's only script and
style are static files inlined verbatim, so the Content-Security-Policy can name them by hash
and allow nothing else: no inline handlers, no third-party origins, no ``eval``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files
from string import Template
from typing import Any

from ..decision import Headers, Reply
from ..replies import protective_headers

CHALLENGE_HEADER = "x-antiscrape-challenge"
"""Tells monitors and well-behaved crawlers that this answer is a challenge, not the page."""

PROBLEM_TYPE = "application/problem+json"


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@dataclass(frozen=True, slots=True)
class Assets:
    page: Template
    message: Template
    script: str
    style: str
    worker: bytes
    page_csp: str
    message_csp: str


@cache
def assets() -> Assets:
    """Read the packaged files once per process (they are package data, see pyproject)."""
    folder = files("antiscrape.challenge") / "assets"

    def read(name: str) -> str:
        return (folder / name).read_text(encoding="utf-8")

    script, style = read("challenge.js"), read("challenge.css")
    common = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    return Assets(
        page=Template(read("page.html")),
        message=Template(read("message.html")),
        script=script,
        style=style,
        worker=read("worker.js").encode("utf-8"),
        page_csp=(f"{common}; script-src {_csp_hash(script)}; style-src {_csp_hash(style)}; "
                  "worker-src 'self'; form-action 'self'"),
        message_csp=f"{common}; style-src {_csp_hash(style)}; form-action 'none'",
    )




@dataclass(frozen=True, slots=True)
class PageData:
    """Everything a challenge page shows; all of it is escaped on the way in."""

    token: str
    seed: str
    difficulty: int
    wait: float
    """Seconds the server insists on before a wait answer counts (difficulty 0 / no-JS)."""
    remaining: float
    """Seconds still to wait from now (the no-JS refresh delay)."""
    verify_url: str
    worker_url: str
    nojs_url: str | None
    """None when the operator disabled the no-JavaScript fallback."""
    return_to: str


def challenge_page(data: PageData, status: int, extra: Headers = ()) -> Reply:
    a = assets()
    e = escape
    whole = max(1, int(-(-data.remaining // 1)))  # whole seconds, rounded up, at least 1
    seconds = f"{whole} second" if whole == 1 else f"{whole} seconds"
    if data.nojs_url is not None:
        refresh = (f'<noscript><meta http-equiv="refresh" content="{whole};url='
                   f'{e(data.nojs_url)}"></noscript>')
        nojs = (f"JavaScript is turned off, so the check is a short wait instead: this page "
                f"continues by itself after about {seconds}. If it does not, follow "
                f'<a href="{e(data.nojs_url)}">this link</a> once that time has passed.')
        help_text = (f'You can also <a href="{e(data.nojs_url)}">continue without the '
                     f"puzzle</a> after waiting about {seconds}.")
    else:
        refresh = ""
        nojs = ("This check needs JavaScript. Please turn it on for this site, then "
                f'<a href="{e(data.return_to)}">reload the page</a>.')
        help_text = f'Please <a href="{e(data.return_to)}">reload the page</a> to try again.'
    explain = ("Please wait a moment; you will then continue to the page you asked for."
               if data.difficulty == 0 else
               "Your browser is solving a small puzzle. It takes a few seconds, then you "
               "continue to the page you asked for.")
    body = a.page.substitute(
        style=a.style,
        script=a.script,
        refresh=refresh,
        explain=explain,
        help=help_text,
        nojs=nojs,
        verify=e(data.verify_url),
        token=e(data.token),
        seed=e(data.seed),
        difficulty=str(int(data.difficulty)),
        wait=f"{float(data.wait):.1f}",
        worker=e(data.worker_url),
        reference=e(data.seed),
    )
    kind = "wait" if data.difficulty == 0 else "proof-of-work"
    headers = protective_headers("text/html; charset=utf-8", a.page_csp)
    headers.append((CHALLENGE_HEADER, kind))
    return Reply(status, (*headers, *extra), body.encode("utf-8"))


def message_page(status: int, title: str, text: str, again: str, kind: str) -> Reply:
    """A short HTML page for a rejected answer, with a way back to try again."""
    a = assets()
    body = a.message.substitute(style=a.style, title=escape(title), text=escape(text),
                                again=escape(again))
    headers = protective_headers("text/html; charset=utf-8", a.message_csp)
    headers.append((CHALLENGE_HEADER, kind))
    return Reply(status, tuple(headers), body.encode("utf-8"))


def problem(status: int, kind: str, title: str, detail: str, **members: Any) -> Reply:
    """An RFC 9457 problem document; ``json.dumps`` escapes every value it is given."""
    doc = {"type": f"urn:antiscrape:{kind}", "title": title, "status": status,
           "detail": detail, **members}
    headers = protective_headers(PROBLEM_TYPE, "default-src 'none'; frame-ancestors 'none'")
    headers.append((CHALLENGE_HEADER, kind))
    return Reply(status, tuple(headers), json.dumps(doc, separators=(",", ":")).encode("utf-8"))


def worker_script() -> Reply:
    headers = (
        ("content-type", "text/javascript; charset=utf-8"),
        ("cache-control", "public, max-age=3600"),
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", "default-src 'none'"),
    )
    return Reply(200, headers, assets().worker)

