"""Challenge costs: server-side verification per answer, and solve time in headless Chromium.

    python -m benchmarks.bench_challenge [--runs 10] [--skip-browser]

Server side (µs per call, best of 5 repeats): issuing a challenge page, verifying and
redeeming a correct answer (decode, one HMAC, one SHA-256, the once-only PutIfAbsent against
the memory backend, the clearance cookie), and reading a clearance cookie (every request).

Browser side: for each rung of the *default* ladder, the time headless Chromium's Web Workers
take to find an answer, spread over as many workers as the challenge page starts
(``navigator.hardwareConcurrency``, at most 4), with a fresh random seed per run; median and
90th percentile of ``--runs`` runs, for WebCrypto and for the plain-JavaScript fallback.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import statistics
import sys
import time
import timeit
from urllib.parse import quote

from antiscrape.challenge import Challenges
from antiscrape.challenge.tokens import leading_zero_bits_ok
from antiscrape.clock import ManualClock
from antiscrape.config import Config
from antiscrape.decision import Identity
from antiscrape.keys import Keys
from antiscrape.request import RequestView
from antiscrape.state.memory import MemoryStorage

SECRET = "bench-secret-0123456789abcdef"
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")
HEADERS = {"user-agent": UA, "accept": "text/html", "host": "shop.example"}
IDENTITY = Identity("203.0.113.7", "203.0.113.0/24", "fp")


def per_call_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def server_side(n: int = 2000) -> dict[str, float]:
    clock = ManualClock()
    # Thousands of answers from one address on a clock that never moves: the answer budget
    # (challenge.answers_per_ip / _network) is switched off, it is not what is timed here.
    cfg = Config.load({"secret_key": SECRET,
                       "challenge": {"ladder": [{"max_score": 100, "difficulty": 8}],
                                     "answers_per_ip": "", "answers_per_network": ""}})
    ch = Challenges(cfg, clock, Keys(cfg.key_prefix, cfg.signing_keys[0]))
    storage = MemoryStorage(cap=1_000_000)
    page_view = RequestView("GET", "/articles/7", HEADERS, query="sort=new")
    api_view = RequestView("GET", "/articles/7", {**HEADERS, "accept": "application/json"})

    # Pre-solved answers (difficulty 8 keeps set-up short; checking costs one hash at any
    # difficulty), each redeemable once, so every timed call is a first redemption.
    answers = []
    for _ in range(n * 6):
        doc = json.loads(ch.challenge(api_view, IDENTITY, 60, "bench").body)
        seed = doc["challenge"]["seed"]
        nonce = next(str(i) for i in range(1 << 20) if leading_zero_bits_ok(seed, str(i), 8))
        query = f"t={quote(doc['challenge']['answer']['query']['t'], safe='')}&n={nonce}"
        answers.append(RequestView("POST", "/.antiscrape/verify", HEADERS, query=query))
    it = iter(answers)

    def verify() -> None:
        plan = ch.endpoint(next(it), IDENTITY, 60)
        decision = plan.finish(storage.execute(plan.ops, clock()))
        assert decision.reply is not None and decision.reply.status == 303

    cookie_view = None
    for headers in (dict(decision_headers(ch, storage, clock, answers.pop())),):
        cookie_view = RequestView("GET", "/articles/8", {**HEADERS, "cookie": headers["cookie"]})
    assert cookie_view is not None and ch.read_clearance(cookie_view, IDENTITY.network)
    no_cookie = RequestView("GET", "/articles/8", HEADERS)
    return {
        "issue HTML challenge page": per_call_us(
            lambda: ch.challenge(page_view, IDENTITY, 60, "bench"), n),
        "issue problem+json challenge": per_call_us(
            lambda: ch.challenge(api_view, IDENTITY, 60, "bench"), n),
        "verify + redeem a correct answer": per_call_us(verify, n),
        "read a valid clearance cookie": per_call_us(
            lambda: ch.read_clearance(cookie_view, IDENTITY.network), n * 5),
        "read_clearance, no cookie": per_call_us(
            lambda: ch.read_clearance(no_cookie, IDENTITY.network), n * 5),
    }


def decision_headers(ch: Challenges, storage: MemoryStorage, clock: ManualClock,
                     view: RequestView) -> list[tuple[str, str]]:
    plan = ch.endpoint(view, IDENTITY, 60)
    reply = plan.finish(storage.execute(plan.ops, clock())).reply
    assert reply is not None
    cookie = dict(reply.headers)["set-cookie"].split(";", 1)[0]
    return [("cookie", cookie)]


SOLVE = """
new Promise((resolve, reject) => {
  const n = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4));
  const workers = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const w = new Worker('/.antiscrape/worker.js');
    workers.push(w);
    w.onmessage = (e) => {
      if (e.data.type !== 'done') return;
      workers.forEach((x) => x.terminate());
      resolve({ms: performance.now() - started, nonce: e.data.nonce, engine: e.data.engine,
               workers: n});
    };
    w.onerror = (e) => reject(String(e.message));
    w.postMessage({type: 'solve', seed: %s, difficulty: %d, start: i, step: n, engine: %s});
  }
})
"""


def browser_side(runs: int, engines: tuple[str, ...]) -> tuple[list[dict[str, object]], int]:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from antiscrape.integrations.starlette import AntiScrapeMiddleware
    from tests.fixtures.browser import Chromium, live_server

    async def plain(request):
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/{rest:path}", plain)])
    app.add_middleware(AntiScrapeMiddleware, config={"secret_key": SECRET})
    ladder = Config().challenge.ladder
    rows: list[dict[str, object]] = []
    browser = Chromium()
    try:
        with live_server(app) as base:
            page = browser.new_page()
            page.goto(base + "/robots.txt")  # exempt: a same-origin page without a CSP
            workers = int(page.evaluate("Math.max(1, Math.min(navigator.hardwareConcurrency "
                                        "|| 1, 4))"))
            for rung in ladder:
                # Engines alternate run by run, so both see the same machine load.
                times: dict[str, list[float]] = {e: [] for e in engines}
                hashes: dict[str, int] = dict.fromkeys(engines, 0)
                for _ in range(runs):
                    for engine in engines:
                        seed = secrets.token_urlsafe(12)
                        out = page.evaluate(
                            SOLVE % (json.dumps(seed), rung.difficulty, json.dumps(engine)),
                            await_promise=True, timeout=300)
                        assert engine == "auto" or out["engine"] == engine
                        assert leading_zero_bits_ok(seed, str(out["nonce"]), rung.difficulty)
                        times[engine].append(out["ms"] / 1000)
                        hashes[engine] += int(out["nonce"]) + 1  # nonces tried, all workers
                for engine in engines:
                    ts = sorted(times[engine])
                    rows.append({"engine": engine, "difficulty": rung.difficulty,
                                 "max_score": rung.max_score,
                                 "median_s": statistics.median(ts),
                                 "p90_s": ts[min(len(ts) - 1, int(len(ts) * 0.9))],
                                 "rate": hashes[engine] / sum(ts), "runs": runs})
                    print(f"  {engine:6} {rung.difficulty:2} bits: median "
                          f"{rows[-1]['median_s']:.3f} s, {rows[-1]['rate'] / 1000:.0f}k "
                          "hashes/s", flush=True)
            page.close()
    finally:
        browser.close()
    return rows, workers


def main() -> None:
    # A terminated run still closes its browser (finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--engines", default="auto,subtle,js",
                        help="worker engines to time: auto (what the page uses: the faster of "
                             "the two after a short probe), subtle (WebCrypto), js")
    args = parser.parse_args()
    started = time.perf_counter()
    print("server side (µs per call, best of 5 repeats):")
    for name, us in server_side().items():
        print(f"  {name:34} {us:8.1f} µs")
    if not args.skip_browser:
        print(f"headless Chromium, default ladder, {args.runs} runs per difficulty:")
        rows, workers = browser_side(args.runs, tuple(args.engines.split(",")))
        print(f"workers per page: {workers}")
        print("| engine | difficulty (bits) | rung max_score | median solve (s) | p90 (s) "
              "| hashes/s |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['engine']} | {r['difficulty']} | {r['max_score']} | "
                  f"{r['median_s']:.3f} | {r['p90_s']:.3f} | {r['rate'] / 1000:.0f}k |")
        for engine in sorted({str(r["engine"]) for r in rows}):
            top = max((r for r in rows if r["engine"] == engine),
                      key=lambda r: int(r["difficulty"]))  # type: ignore[call-overload]
            verdict = "OK" if float(top["median_s"]) < 3.0 else "TOO SLOW"  # type: ignore[arg-type]
            print(f"top rung ({engine}) median {top['median_s']:.3f} s: {verdict} (limit 3 s)")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
