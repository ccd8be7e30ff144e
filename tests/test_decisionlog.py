"""Decision log lines and the debug decision header, through the real engine and app."""

from __future__ import annotations

import json
import logging

import pytest

from antiscrape import decisionlog
from antiscrape.clock import ManualClock
from antiscrape.config import Config
from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.errors import ConfigError
from antiscrape.request import RequestView

from .conftest import SECRET

CURL = {"user-agent": "curl/8.5.0", "accept": "*/*",
        "cookie": "session=SESSION-COOKIE-VALUE; antiscrape_clearance=CLEARANCE-VALUE",
        "authorization": "Bearer TOKEN-VALUE"}


def engine_with_log(clock: ManualClock, **log: object) -> Engine:
    engine = Engine({"secret_key": SECRET, "log": log,
                     "budgets": {"default": {"ip": "3/minute"}}}, clock=clock)
    decisionlog.attach(engine)
    return engine


def lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records
            if r.name == "antiscrape" and r.getMessage().startswith("{")]


def test_throttle_is_logged_as_one_json_line_without_raw_ip_or_secrets(
        clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    engine = engine_with_log(clock)
    caplog.set_level(logging.INFO, logger="antiscrape")
    view = RequestView("GET", "/products/7", CURL, peer="198.51.100.23", query="token=QSECRET")
    decisions = [engine.inspect(view) for _ in range(6)]
    throttled = [d for d in decisions if d.action is Action.THROTTLE]
    assert throttled, [d.action for d in decisions]
    logged = lines(caplog)
    assert len(logged) == len(throttled)  # allows are not logged by default
    line = logged[-1]
    assert line["action"] == "throttle" and line["rule"].startswith("budget")
    assert line["path"] == "/products/7" and line["method"] == "GET"
    assert line["score"] == throttled[-1].score and line["reason"] == throttled[-1].reason
    assert line["ip_hash"] == engine.keys.hashed(throttled[-1].identity.ip)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("198.51.100.23", "SESSION-COOKIE-VALUE", "CLEARANCE-VALUE", "TOKEN-VALUE",
                   "QSECRET", SECRET):
        assert secret not in text


def test_raw_ips_only_when_configured(clock: ManualClock,
                                      caplog: pytest.LogCaptureFixture) -> None:
    engine = engine_with_log(clock, raw_ips=True)
    caplog.set_level(logging.INFO, logger="antiscrape")
    view = RequestView("GET", "/", {"user-agent": ""}, peer="198.51.100.23")
    decision = engine.inspect(view)
    assert decision.action is not Action.ALLOW
    assert lines(caplog)[-1]["ip"] == "198.51.100.23"


def test_allows_are_sampled(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    engine = engine_with_log(clock, sample_allow=1.0)
    caplog.set_level(logging.INFO, logger="antiscrape")
    browser = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
                             "Firefox/128.0", "accept": "text/html",
               "accept-language": "en", "accept-encoding": "gzip", "sec-fetch-mode": "navigate"}
    decision = engine.inspect(RequestView("GET", "/", browser, peer="198.51.100.5"))
    assert decision.action is Action.ALLOW
    assert lines(caplog)[-1]["action"] == "allow"


def test_sampling_share_is_honoured() -> None:
    cfg = Config.load({"secret_key": SECRET, "log": {"sample_allow": 0.25}})
    draws = iter([0.1, 0.3, 0.2, 0.9])
    log = decisionlog.DecisionLog(cfg.log, str, sample=lambda: next(draws))
    from antiscrape.decision import Decision

    allow = Decision(Action.ALLOW, "ok")
    assert [log.wants(allow) for _ in range(4)] == [True, False, True, False]
    assert log.wants(Decision(Action.BLOCK, "x"))


def test_decision_log_can_be_switched_off(clock: ManualClock) -> None:
    engine = Engine({"secret_key": SECRET, "log": {"decisions": False}}, clock=clock)
    assert decisionlog.attach(engine) is None
    assert not any(isinstance(o, decisionlog.DecisionLog)
                   for o in (*engine.observers, *engine.refusal_observers))


def test_allowed_traffic_does_not_call_a_log_that_samples_no_allows(clock: ManualClock) -> None:
    """The default log only writes refusals: it is kept off the per-request path of allows,
    and still sees every refusal (and every allow once allows are sampled)."""
    engine = Engine({"secret_key": SECRET, "deny": {"user_agents": ["sqlmap"]}}, clock=clock)
    seen: list[str] = []
    log = next(o for o in engine.refusal_observers if isinstance(o, decisionlog.DecisionLog))
    engine.refusal_observers[engine.refusal_observers.index(log)] = \
        lambda view, decision, seconds: seen.append(decision.action.value)
    assert not any(isinstance(o, decisionlog.DecisionLog) for o in engine.observers)
    browser = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
               "like Gecko) Chrome/131.0.0.0 Safari/537.36", "accept": "text/html",
               "accept-language": "en", "accept-encoding": "gzip", "sec-fetch-mode": "navigate"}
    allowed = engine.inspect(RequestView("GET", "/", browser, "198.51.100.9"))
    assert allowed.action is Action.ALLOW
    blocked = engine.inspect(RequestView("GET", "/", {"user-agent": "sqlmap/1.7"},
                                         "198.51.100.10"))
    assert blocked.action is Action.BLOCK
    assert seen == [blocked.action.value]
    sampled = Engine({"secret_key": SECRET, "log": {"sample_allow": 0.5}}, clock=clock)
    assert any(isinstance(o, decisionlog.DecisionLog) for o in sampled.observers)
    assert not sampled.refusal_observers


def test_sample_share_must_be_a_share() -> None:
    with pytest.raises(ConfigError, match=r"log\.sample_allow"):
        Config.load({"secret_key": SECRET, "log": {"sample_allow": 2}})


# -- the debug header --------------------------------------------------------------------

def header_app(**config: object):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("hi"))])
    app.add_middleware(AntiScrapeMiddleware, config={"secret_key": SECRET,
                                                     "deny": {"user_agents": ["evilbot"]},
                                                     **config})
    return TestClient(app)


@pytest.mark.parametrize("enabled", [False, True])
def test_decision_header_only_when_enabled(enabled: bool) -> None:
    client = header_app(decision_header=enabled)
    ok = client.get("/", headers={"user-agent": "curl/8.5.0"})
    refused = client.get("/", headers={"user-agent": "evilbot/1.0"})
    assert (ok.status_code, refused.status_code) == (200, 403)
    if enabled:
        assert ok.headers["x-antiscrape-decision"].startswith("allow; score=")
        assert refused.headers["x-antiscrape-decision"].startswith("block; rule=deny;")
    else:
        assert "x-antiscrape-decision" not in ok.headers
        assert "x-antiscrape-decision" not in refused.headers


def test_decision_header_on_challenge_pages() -> None:
    challenged = header_app(decision_header=True).get("/", headers={"user-agent": ""})
    assert challenged.headers["x-antiscrape-challenge"] == "challenge-required"
    assert challenged.headers["x-antiscrape-decision"].startswith("challenge; rule=")


def test_starlette_lines_name_the_route_template(caplog: pytest.LogCaptureFixture) -> None:
    """Starlette's router runs after the middleware; the log still names the route (as
    Django and Flask lines do), mounts included, and None only when no route matches."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route
    from starlette.testclient import TestClient

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/products/{pid:int}", ok),
                            Mount("/api", routes=[Route("/items/{item_id}", ok)])])
    app.add_middleware(AntiScrapeMiddleware, config={
        "secret_key": SECRET, "budgets": {"default": {"ip": "1/minute"}, "api": {
            "ip": "1/minute"}}})
    caplog.set_level(logging.INFO, logger="antiscrape")
    client = TestClient(app)
    for path in ("/products/7", "/products/8", "/api/items/x", "/api/items/y", "/nowhere",
                 "/nowhere/else"):
        client.get(path, headers=CURL)
    routes = {line["path"]: line["route"] for line in lines(caplog)}
    assert routes == {"/products/8": "/products/{pid:int}", "/api/items/y": "/api/items/{item_id}",
                      "/nowhere": None, "/nowhere/else": None}


def test_console_shows_throttles_without_any_logging_setup(
        clock: ManualClock, capfd: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("antiscrape")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    try:
        engine = engine_with_log(clock, console=True)
        engine_with_log(clock, console=True)  # a second engine adds no second handler
        view = RequestView("GET", "/products/7", CURL, peer="198.51.100.23")
        throttled = sum(engine.inspect(view).action is Action.THROTTLE for _ in range(5))
        err = capfd.readouterr().err
        assert throttled and err.count('"action":"throttle"') == throttled
        assert " INFO antiscrape {" in err
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]
