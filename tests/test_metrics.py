"""Prometheus metrics: counted from real engine decisions, exposed, and summed across gunicorn
workers in multiprocess mode."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from antiscrape import metrics
from antiscrape.clock import ManualClock
from antiscrape.decision import Action
from antiscrape.engine import Engine
from antiscrape.errors import MissingExtraError
from antiscrape.request import RequestView

from .conftest import SECRET
from .fixtures.processes import stop, wait_for_http

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
                         "Firefox/128.0", "accept": "text/html", "accept-language": "en",
           "accept-encoding": "gzip", "sec-fetch-mode": "navigate"}


def engine_with_metrics(clock: ManualClock, registry: CollectorRegistry,
                        namespace: str) -> tuple[Engine, metrics.Metrics]:
    engine = Engine({"secret_key": SECRET, "metrics": {"enabled": True, "namespace": namespace},
                     "budgets": {"default": {"ip": "2/minute"}}}, clock=clock)
    found = metrics.attach(engine, registry=registry)
    assert found is not None
    return engine, found


def test_decisions_challenges_and_latency_are_counted(clock: ManualClock) -> None:
    registry = CollectorRegistry()
    engine, m = engine_with_metrics(clock, registry, "t1")
    for _ in range(3):
        engine.inspect(RequestView("GET", "/", BROWSER, peer="198.51.100.1"))
    challenged = engine.inspect(RequestView("GET", "/", {"user-agent": ""}, peer="198.51.100.2"))
    assert challenged.action is Action.CHALLENGE and challenged.reply is not None
    m.challenge("solved")
    m.storage_error()

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("t1_decisions_total", action="allow", rule="none", enforced="true") == 2
    assert value("t1_decisions_total", action="throttle", rule="budget:ip",
                 enforced="true") == 1
    assert value("t1_decisions_total", action="challenge", rule="score", enforced="true") == 1
    assert value("t1_challenges_total", outcome="issued") == 1
    assert value("t1_challenges_total", outcome="solved") == 1
    assert value("t1_storage_errors_total") == 1
    assert value("t1_inspect_seconds_count") == 4
    assert value("t1_inspect_seconds_sum") > 0
    with pytest.raises(ValueError):
        m.challenge("maybe")


def test_challenge_answers_are_counted_as_solved_or_failed(clock: ManualClock) -> None:
    import re

    registry = CollectorRegistry()
    engine = Engine({"secret_key": SECRET, "metrics": {"enabled": True, "namespace": "t5"},
                     "challenge": {"ladder": [{"max_score": 100, "difficulty": 0}]}},
                    clock=clock)
    metrics.attach(engine, registry=registry)
    headers = {"user-agent": "", "accept": "text/html"}
    page = engine.inspect(RequestView("GET", "/", headers, peer="198.51.100.2"))
    assert page.action is Action.CHALLENGE
    link = re.search(r'/\.antiscrape/nojs\?t=[^"&<]+', page.reply.body.decode()).group(0)
    path, _, query = link.partition("?")
    solved = engine.inspect(RequestView("GET", path, headers, peer="198.51.100.2", query=query))
    assert solved.reason == "challenge:passed"
    replayed = engine.inspect(RequestView("GET", path, headers, peer="198.51.100.2",
                                          query=query))
    forged = engine.inspect(RequestView("POST", "/.antiscrape/verify", headers,
                                        peer="198.51.100.2", query="t=forged&n=1"))
    assert (replayed.reason, forged.reason) == ("challenge:replayed", "challenge:invalid")

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("t5_challenges_total", outcome="issued") == 1  # answers are not new issues
    assert value("t5_challenges_total", outcome="solved") == 1
    assert value("t5_challenges_total", outcome="failed") == 2
    assert value("t5_decisions_total", action="allow", rule="challenge:passed",
                 enforced="true") == 1


def test_storage_errors_are_counted(clock: ManualClock) -> None:
    with socket.socket() as s:  # a port nobody listens on: a real, refused Redis
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = CollectorRegistry()
    engine = Engine({"secret_key": SECRET, "storage": f"redis://127.0.0.1:{port}/0",
                     "metrics": {"enabled": True, "namespace": "t6"}}, clock=clock)
    metrics.attach(engine, registry=registry)
    for _ in range(3):
        decision = engine.inspect(RequestView("GET", "/", BROWSER, peer="198.51.100.3"))
        assert decision.action is Action.ALLOW  # fails open
    assert registry.get_sample_value("t6_storage_errors_total") == 3
    assert engine.storage_errors.count == 3  # the wrapped reporter still counts and logs


def test_no_client_identifying_labels(clock: ManualClock) -> None:
    registry = CollectorRegistry()
    engine, _ = engine_with_metrics(clock, registry, "t2")
    engine.inspect(RequestView("GET", "/", {"user-agent": "curl/8.5.0"}, peer="198.51.100.77"))
    text = generate_latest(registry).decode()
    assert "198.51.100.77" not in text and "curl" not in text
    labels = {k for metric in registry.collect() for s in metric.samples for k in s.labels}
    assert labels <= {"action", "rule", "enforced", "outcome", "le"}


def test_two_engines_share_collectors_instead_of_crashing(clock: ManualClock) -> None:
    registry = CollectorRegistry()
    engine_with_metrics(clock, registry, "t3")
    engine_with_metrics(clock, registry, "t3")  # prometheus_client would refuse a 2nd register


def test_disabled_by_default(clock: ManualClock) -> None:
    engine = Engine({"secret_key": SECRET}, clock=clock)
    assert metrics.attach(engine) is None


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import now fails
    with pytest.raises(MissingExtraError, match=r"antiscrape\[prometheus\]"):
        metrics.render()


# -- several gunicorn workers ------------------------------------------------------------

APP = '''
import os, time
from antiscrape import metrics
from antiscrape.engine import Engine
from antiscrape.request import RequestView

engine = Engine({"secret_key": "SECRET", "metrics": {"enabled": True}})
metrics.attach(engine)

def app(environ, start_response):
    if environ["PATH_INFO"] == "/metrics":
        return metrics.wsgi_app(environ, start_response)
    view = RequestView("GET", environ["PATH_INFO"], {"user-agent": "curl/8.5.0"},
                       peer=environ["REMOTE_ADDR"])
    decision = engine.inspect(view)
    time.sleep(0.05)  # keep a worker busy so the other one takes the next connection
    start_response("200 OK", [("x-pid", str(os.getpid())), ("x-action", decision.action)])
    return [b"ok"]
'''.replace("SECRET", SECRET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_counts_add_up_across_gunicorn_workers(tmp_path: Path) -> None:
    import requests

    (tmp_path / "mpapp.py").write_text(textwrap.dedent(APP))
    (tmp_path / "gunicorn_conf.py").write_text(
        "from antiscrape.metrics import child_exit  # noqa: F401\n")
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
           "PYTHONPATH": f"{tmp_path}{os.pathsep}{Path.cwd()}"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
         "-c", str(tmp_path / "gunicorn_conf.py"), "--chdir", str(tmp_path), "mpapp:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/metrics", server,
                      lambda: server.stderr.read().decode()[-2000:] if server.stderr else "")
        n = 24
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda i: requests.get(f"{base}/p/{i}", timeout=10),
                                    range(n)))
        pids = {r.headers["x-pid"] for r in answers}
        assert len(pids) == 2, "both workers should have served requests"
        text = requests.get(base + "/metrics", timeout=10).text
        total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("antiscrape_decisions_total{"))
        assert total == n
        count = next(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                     if line.startswith("antiscrape_inspect_seconds_count"))
        assert count == n
    finally:
        stop(server)


def test_exempt_paths_and_the_metrics_endpoint_are_not_counted_or_judged(
        clock: ManualClock) -> None:
    """A Prometheus scraper polls ``/metrics`` every few seconds: it must neither be
    throttled by its own polling nor show up in the figures it reads; static files and
    health checks are not requests the operator asked to count either."""
    registry = CollectorRegistry()
    engine, _ = engine_with_metrics(clock, registry, "t9")
    scraper = {"user-agent": "Prometheus/2.53.0", "accept": "text/plain"}
    decisions = [engine.inspect(RequestView("GET", "/metrics", scraper, peer="10.0.0.9"))
                 for _ in range(20)]  # ten times the 2/minute budget
    assert {d.action for d in decisions} == {Action.ALLOW}
    engine.inspect(RequestView("GET", "/static/app.css", BROWSER, peer="198.51.100.1"))
    engine.inspect(RequestView("GET", "/health", scraper, peer="10.0.0.9"))
    assert registry.get_sample_value("t9_inspect_seconds_count") in (None, 0.0)
    engine.inspect(RequestView("GET", "/", BROWSER, peer="198.51.100.1"))
    assert registry.get_sample_value("t9_inspect_seconds_count") == 1
    assert registry.get_sample_value("t9_decisions_total", {
        "action": "allow", "rule": "exempt", "enforced": "true"}) is None
    # Another path for the endpoint, and without metrics nothing is exempted for them.
    moved = Engine({"secret_key": SECRET, "metrics": {"enabled": True, "namespace": "t10",
                                                      "path": "/internal/metrics"}}, clock=clock)
    assert moved.inspect(RequestView("GET", "/internal/metrics", scraper)).rule == "exempt"
    off = Engine({"secret_key": SECRET}, clock=clock)
    assert off.inspect(RequestView("GET", "/metrics", scraper)).rule != "exempt"
