"""A real headless Chromium meets the challenge of a real Starlette app served by uvicorn.

The browser's own user agent says "HeadlessChrome", which the engine's scoring puts at the
challenge threshold: no test-only switch forces the challenge. The default ladder is used, so
the browser really computes the proof-of-work it would in the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from html import escape
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from antiscrape.challenge.tokens import leading_zero_bits_ok
from antiscrape.config import Config
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from tests.conftest import SECRET
from tests.fixtures.browser import INSECURE_HOST, Chromium, live_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SOLVE_TIMEOUT = 30.0


async def article(request):
    # The application escapes too; the test is about what the *challenge* reflects.
    return HTMLResponse(f"<!doctype html><title>article</title><h1 id=h>Article "
                        f"{escape(request.url.path)}</h1>")


def make_app(**config):
    app = Starlette(routes=[Route("/{rest:path}", article)])
    app.add_middleware(AntiScrapeMiddleware, config={"secret_key": SECRET, **config})
    return app


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    # The default ladder, but a 3 s wait on the first rung, so the no-JS page stays up long
    # enough to be read on a busy machine before it refreshes itself.
    ladder = [{"max_score": r.max_score, "difficulty": r.difficulty, "wait": r.wait}
              for r in Config().challenge.ladder]
    ladder[0]["wait"] = 3.0
    with live_server(make_app(challenge={"ladder": ladder})) as base:
        yield base


def statuses(page) -> list[tuple[str, int]]:
    return [(urlsplit(url).path, status) for url, status in page.documents()]


def test_browser_solves_the_challenge_and_keeps_browsing(chromium: Chromium, site: str):
    page = chromium.new_page()
    try:
        page.goto(f"{site}/articles/7?sort=new")
        first = page.documents()[0]
        assert first[1] == 403
        page.wait_for_document(lambda url, status: status == 200, SOLVE_TIMEOUT, "the article")
        assert page.url() == f"{site}/articles/7?sort=new"
        assert page.evaluate("document.getElementById('h').textContent") == "Article /articles/7"
        paths = statuses(page)
        assert paths[0] == ("/articles/7", 403)
        assert paths[1][0] == "/.antiscrape/verify" and paths[1][1] == 303
        assert paths[-1] == ("/articles/7", 200)
        [cookie] = [c for c in page.cookies() if c["name"] == "antiscrape_clearance"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it
        assert page.console_errors() == []  # nothing refused by the page's CSP
        seen = len(page.documents())
        for path in ("/articles/8", "/about"):
            page.goto(site + path)
            assert page.documents()[-1][1] == 200
        assert len(page.documents()) == seen + 2  # no challenge in between
    finally:
        page.close()


def test_browser_without_javascript_passes_through_the_wait_fallback(chromium: Chromium,
                                                                     site: str):
    page = chromium.new_page(javascript=False)
    try:
        page.goto(f"{site}/articles/9")
        assert page.documents()[0][1] == 403
        assert "JavaScript is turned off" in page.html()  # the <noscript> text is shown
        page.wait_for_document(lambda url, status: status == 200, SOLVE_TIMEOUT, "the article")
        paths = statuses(page)
        assert ("/.antiscrape/nojs", 303) in paths and paths[-1] == ("/articles/9", 200)
        assert any(c["name"] == "antiscrape_clearance" for c in page.cookies())
        page.goto(f"{site}/articles/10")
        assert page.documents()[-1][1] == 200
    finally:
        page.close()


def test_plain_javascript_sha256_takes_over_without_webcrypto(chromium: Chromium):
    # Under a name other than localhost, plain HTTP is not a secure context: no crypto.subtle.
    with live_server(make_app()) as base:
        port = urlsplit(base).port
        page = chromium.new_page()
        try:
            page.goto(f"http://{INSECURE_HOST}:{port}/articles/11")
            assert page.evaluate("isSecureContext") is False
            assert page.evaluate("typeof crypto.subtle") == "undefined"
            page.wait_for_document(lambda url, status: status == 200, SOLVE_TIMEOUT,
                                   "the article")
            assert ("/.antiscrape/verify", 303) in statuses(page)
        finally:
            page.close()


WORKER_PROBE = """
new Promise((resolve, reject) => {
  const w = new Worker('/.antiscrape/worker.js');
  const texts = %s, out = [];
  let i = 0;
  const next = () => {
    if (i === texts.length * 2) { w.terminate(); resolve(out); return; }
    w.postMessage({type: 'digest', text: texts[i >> 1], engine: i %% 2 ? 'subtle' : 'js'});
  };
  w.onmessage = (e) => { out.push([e.data.engine, e.data.hex]); i++; next(); };
  w.onerror = (e) => reject(String(e.message));
  next();
})
"""


def test_both_worker_hashes_agree_with_the_server(chromium: Chromium, site: str):
    texts = ["", "abc", "seed-Xy_9:123456", "a" * 55, "b" * 56, "c" * 64, "d" * 119]
    page = chromium.new_page()
    try:
        page.goto(f"{site}/robots.txt")  # an exempt, same-origin page without a CSP
        answers = page.evaluate(WORKER_PROBE % json.dumps(texts), await_promise=True)
    finally:
        page.close()
    for n, text in enumerate(texts):
        expected = hashlib.sha256(text.encode()).hexdigest()
        assert answers[2 * n] == ["js", expected], text
        assert answers[2 * n + 1] == ["subtle", expected], text


def test_script_in_the_path_never_runs(chromium: Chromium, site: str):
    page = chromium.new_page()
    try:
        # Runs before any page script: records whether the payload ever executed.
        page.call("Page.addScriptToEvaluateOnNewDocument", {"source": (
            "window.__hits = 0; window.alert = function () { window.__hits++; };"
            "Object.defineProperty(window, 'pwned', {set() { window.__hits++; }});")})
        payload = ('/x"><script>pwned=1;alert(1)</script>'
                   '<img src=x onerror="pwned=2;alert(2)">')
        page.goto(site + payload)
        assert page.documents()[0][1] == 403
        assert page.evaluate("window.__hits") == 0
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        page.wait_for_document(lambda url, status: status == 200, SOLVE_TIMEOUT, "the page")
        assert page.evaluate("window.__hits") == 0 and page.dialogs() == []
        assert urlsplit(page.url()).netloc == urlsplit(site).netloc
    finally:
        page.close()


SOLVE_PROBE = """
new Promise((resolve, reject) => {
  const w = new Worker('/.antiscrape/worker.js');
  w.onmessage = (e) => {
    if (e.data.type === 'done' || e.data.type === 'error') { w.terminate(); resolve(e.data); }
  };
  w.onerror = (e) => reject(String(e.message));
  w.postMessage({type: 'solve', seed: %s, difficulty: %d, start: 0, step: 1, engine: %s});
})
"""


def test_every_worker_engine_finds_answers_the_server_accepts(chromium: Chromium, site: str):
    page = chromium.new_page()
    try:
        page.goto(f"{site}/robots.txt")
        for engine in ("js", "subtle", "auto"):
            for seed in ("Ab-_09xyzABCDEFG", "short"):
                out = page.evaluate(SOLVE_PROBE % (json.dumps(seed), 12, json.dumps(engine)),
                                    await_promise=True)
                assert out["type"] == "done", out
                assert engine == "auto" or out["engine"] == engine
                assert leading_zero_bits_ok(seed, str(out["nonce"]), 12), (engine, out)
                # The first answer in nonce order: no smaller nonce would have done.
                assert not any(leading_zero_bits_ok(seed, str(n), 12)
                               for n in range(int(out["nonce"])))
    finally:
        page.close()
