"""Prometheus metrics (the ``prometheus`` extra): what antiscrape decided and what it cost.

* ``<ns>_decisions_total{action, rule, enforced}``: every verdict (no IP or UA labels: they
  would make the series count grow with the attackers);
* ``<ns>_challenges_total{outcome}``: challenges ``issued`` / ``solved`` / ``failed`` (read off
  the decisions: challenge pages served, and the challenge endpoint's verdicts on answers);
* ``<ns>_storage_errors_total``: storage calls that failed and fell back to the failure policy;
* ``<ns>_inspect_seconds``: the middleware's own latency, as a histogram.

Under gunicorn (several worker processes) set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory before the workers start, serve :func:`render` (or :func:`wsgi_app`) and add
``child_exit = antiscrape.metrics.child_exit`` to the gunicorn config; prometheus_client then
adds up every worker's numbers at scrape time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .config import MetricsSettings
from .decision import Action, Decision
from .errors import MissingExtraError
from .request import RequestView

_MAX_RULES = 100
"""Distinct ``rule`` label values kept; beyond that, ``other`` (bounded cardinality)."""

CHALLENGE_OUTCOMES = ("issued", "solved", "failed")
ENDPOINT_PREFIX = "challenge:"
FAILED_ANSWERS = frozenset({"invalid", "expired", "other-client", "malformed", "wrong-answer",
                            "replayed"})
"""Challenge-endpoint verdicts that mean a wrong, stale or reused answer (not "early")."""


def require_prometheus() -> Any:
    """The ``prometheus_client`` module, or :class:`MissingExtraError` naming the extra."""
    try:
        import prometheus_client
    except ImportError as exc:
        raise MissingExtraError("prometheus-client", "prometheus") from exc
    return prometheus_client


_collectors: dict[tuple[str, int], tuple[Any, Any, Any, Any, Any]] = {}
_collectors_lock = threading.Lock()


def _make(namespace: str, buckets: tuple[float, ...], registry: Any) -> tuple[Any, ...]:
    """Create (once per namespace and registry) the four collectors.

    prometheus_client refuses to register a name twice, and tests or apps may build several
    engines in one process: they share the collectors instead.
    """
    key = (namespace, id(registry))
    with _collectors_lock:
        found = _collectors.get(key)
        if found is None:
            prom = require_prometheus()
            found = (
                prom.Counter("decisions", "Decisions by action and rule.",
                             ("action", "rule", "enforced"), namespace=namespace,
                             registry=registry),
                prom.Counter("challenges", "Challenges issued, solved and failed.",
                             ("outcome",), namespace=namespace, registry=registry),
                prom.Counter("storage_errors", "Storage calls that failed.",
                             namespace=namespace, registry=registry),
                prom.Histogram("inspect_seconds", "Time antiscrape spent per request.",
                               namespace=namespace, buckets=buckets, registry=registry),
                prom.Counter("guard_transitions", "Site guard entries and exits, by series "
                             "(a protected kind, or *visitors for new visitors).",
                             ("series", "change"), namespace=namespace, registry=registry),
                prom.Counter("replayed_visitors", "Visitors seen coming from more than "
                             "visitor.max_networks networks (by=networks) or with more than "
                             "visitor.max_agents User-Agents (by=agents), counted as new "
                             "today; once each per worker.", ("by",),
                             namespace=namespace, registry=registry),
            )
            _collectors[key] = found
        return found


class Metrics:
    """Engine observer counting decisions and latency, plus hooks for challenges and storage."""

    def __init__(self, settings: MetricsSettings | None = None, *, registry: Any = None) -> None:
        settings = settings or MetricsSettings(enabled=True)
        if registry is None:
            registry = require_prometheus().REGISTRY
        self.registry = registry
        (self._decisions, self._challenges, self._storage_errors, self._latency,
         self._guard, self._replayed) = _make(settings.namespace, settings.latency_buckets,
                                              registry)
        self._rules: set[str] = set()

    def _rule(self, rule: str) -> str:
        if rule in self._rules:
            return rule
        if len(self._rules) >= _MAX_RULES:
            return "other"
        self._rules.add(rule)
        return rule

    def __call__(self, view: RequestView, decision: Decision, seconds: float) -> None:
        if decision.rule == "exempt":  # static files, health checks, this very endpoint
            return
        reason = decision.reason
        endpoint = not decision.rule and reason.startswith(ENDPOINT_PREFIX)
        # Challenge-endpoint answers carry no rule; their reason ("challenge:passed",
        # "challenge:wrong-answer", ...) is a short fixed word, so it labels them instead.
        rule = reason if endpoint else (decision.rule or "none")
        self._decisions.labels(decision.action.value, self._rule(rule),
                               "true" if decision.enforced else "false").inc()
        self._latency.observe(seconds)
        if endpoint:
            outcome = reason[len(ENDPOINT_PREFIX):]
            if outcome == "passed":
                self._challenges.labels("solved").inc()
            elif outcome in FAILED_ANSWERS:
                self._challenges.labels("failed").inc()
        elif decision.action is Action.CHALLENGE and decision.reply is not None:
            self._challenges.labels("issued").inc()

    def challenge(self, outcome: str) -> None:
        """Count a challenge outcome: ``solved`` or ``failed`` (``issued`` is seen by
        the observer)."""
        if outcome not in CHALLENGE_OUTCOMES:
            raise ValueError(f"outcome must be one of {CHALLENGE_OUTCOMES}")
        self._challenges.labels(outcome).inc()

    def storage_error(self) -> None:
        self._storage_errors.inc()

    def guard(self, series: str, entered: bool, result: Any) -> None:
        """Count a site guard transition (see ``antiscrape.people``)."""
        self._guard.labels(series, "entered" if entered else "left").inc()

    def replayed(self, by: str) -> None:
        """Count a visitor found over ``max_networks`` or ``max_agents`` (see
        ``antiscrape.people``)."""
        self._replayed.labels(by).inc()


def _hook(hooks: list[Any], method: Any) -> None:
    """Add a Metrics method to a list of hooks, replacing any earlier Metrics' (attaching
    again must not count twice)."""
    hooks[:] = [h for h in hooks if not isinstance(getattr(h, "__self__", None), Metrics)]
    hooks.append(method)


class _CountingReporter:
    """Wraps the engine's storage-error reporter (a ``LogOnce``): counts, then delegates."""

    def __init__(self, inner: Any, count: Callable[[], None]) -> None:
        self._inner = inner
        self._count = count

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self._count()
        self._inner(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def attach(engine: Any, *, registry: Any = None) -> Metrics | None:
    """Register metrics on ``engine.observers`` when ``config.metrics.enabled`` is on.

    Storage failures are counted by wrapping ``engine.storage_errors`` (the engine reports
    every failed storage call there); ``engine.metrics`` is set for code that wants to count
    something by hand.
    """
    settings: MetricsSettings = engine.config.metrics
    if not settings.enabled:
        return None
    metrics = Metrics(settings, registry=registry)
    # Idempotent: the engine attaches from config at construction; attaching again (another
    # registry, in tests or a custom exporter) replaces that observer instead of doubling it.
    engine.observers[:] = [o for o in engine.observers if not isinstance(o, Metrics)]
    engine.observers.append(metrics)
    engine.metrics = metrics
    people = getattr(engine, "people", None)
    if people is not None:
        _hook(people.transitions, metrics.guard)
        _hook(people.replays, metrics.replayed)
    reporter = getattr(engine, "storage_errors", None)
    if isinstance(reporter, _CountingReporter):
        reporter._count = metrics.storage_error
    elif reporter is not None:
        engine.storage_errors = _CountingReporter(reporter, metrics.storage_error)
    return metrics


def scrape_registry() -> Any:
    """The registry to expose: every worker's numbers under multiprocess mode, else this one."""
    prom = require_prometheus()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = prom.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prom.REGISTRY


def render() -> tuple[bytes, str]:
    """The exposition text and its content type, ready to be served on ``/metrics``."""
    prom = require_prometheus()
    return prom.generate_latest(scrape_registry()), prom.CONTENT_TYPE_LATEST


def wsgi_app(environ: dict[str, Any],
             start_response: Callable[[str, list[tuple[str, str]]], Any]) -> Iterable[bytes]:
    """A minimal WSGI app serving :func:`render` (mount it on ``/metrics``)."""
    body, content_type = render()
    start_response("200 OK", [("Content-Type", content_type),
                              ("Content-Length", str(len(body)))])
    return [body]


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: drop a dead worker's live files (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
