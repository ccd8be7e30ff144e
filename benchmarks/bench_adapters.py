"""What antiscrape adds per request on Flask and on Django, next to the usual rate limiters.

    python -m benchmarks.bench_adapters [--rounds 20] [--batch 300] [--before REV]

Six WSGI apps are driven in-process (a prepared environ and ``start_response``, no network),
in interleaved rounds so machine noise hits every variant alike:

* Flask bare, Flask + antiscrape, Flask + Flask-Limiter;
* Django bare, Django + antiscrape, Django + django-ratelimit (on the views).

The limiters are configured never to trigger. antiscrape runs its default configuration
plus one protected route (``/users/<id>``, declared with the decorator and in config, so the
enumeration guard works on every other request). Traffic: browser headers from 500 client
IPs, half the requests on the home page and half on random profiles. The engine gets a
clock that moves 0.2 s per request, so allowed traffic stays allowed as it would spread over
real time; every answer's status is checked.

Two diagnostic variants per framework split antiscrape's cost. "adapter-only" runs the adapter
with an engine that returns a constant decision: the adapter's translation alone.
"storage-only" adds the state work a request needs and nothing else: the adapter, then the
very storage operations the real engine plans for that request (budget hits, the
challenge-failure read, and on profiles the guard's distinct counters, walk list and miss
read; planned once per client and page type, then replayed with the record being read),
executed on the memory backend, then a constant decision. What separates it from
"antiscrape" is planning and judging.

With ``--before REV`` the adapters as of git revision ``REV`` run the same way as
"adapter-only" next to today's ("adapter-only @REV"), so a change to the translation is
measured within one run instead of across two runs on a noisy machine.

Each request is timed alone (``perf_counter_ns`` around the WSGI call and the body); the
table gives median and p99 per variant and the median added over the bare app.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import importlib.util
import io
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from antiscrape.clock import ManualClock
from antiscrape.decision import Action, Decision
from antiscrape.engine import Engine
from antiscrape.request import protect
from antiscrape.state.ops import DistinctAddAll, Recent

from .traffic import cookieless

SECRET = "bench-secret-0123456789abcdef-0123456789"
PROTECT = [{"route": "/users/{user_id}", "kind": "profile"}]
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")
BROWSER = {
    "HTTP_HOST": "shop.example",
    "HTTP_USER_AGENT": UA,
    "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9",
    "HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd",
    "HTTP_SEC_FETCH_MODE": "navigate",
    "HTTP_SEC_FETCH_SITE": "none",
    "HTTP_SEC_FETCH_DEST": "document",
    "HTTP_UPGRADE_INSECURE_REQUESTS": "1",
}
NEVER = "1000000/minute"
VARIANTS = {"flask": ("bare", "antiscrape", "limiter", "adapter-only", "storage-only"),
            "django": ("bare", "antiscrape", "ratelimit", "adapter-only", "storage-only")}
DIAGNOSTIC = ("adapter-only", "storage-only")
"""Variants that run an adapter with a stand-in engine (see the module docstring)."""

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MovingClock(ManualClock):
    """A manual clock that moves a fixed step each time the engine reads it for a request."""

    __slots__ = ("step",)

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def tick(self) -> None:
        self.now += self.step


class AdapterOnly(Engine):
    """Diagnostic: the adapter's translation with a constant decision, no engine work."""

    _ALLOW = Decision(Action.ALLOW, "ok")

    def inspect(self, view: Any) -> Decision:
        return self._ALLOW

    async def ainspect(self, view: Any) -> Decision:
        return self._ALLOW


class StorageOnly(Engine):
    """Diagnostic: the adapter, then the storage operations the real engine would send for
    this request, then a constant decision (no planning, no judging).

    The real engine plans a client's first home-page request and first profile read; later
    requests replay those operations, with the record being read put into the profile's
    distinct-count and walk operations. The time buckets in the counters' keys stay as first
    planned: an expired counter is created afresh under its old key, as a new bucket's would
    be, so no operation's cost changes.
    """

    _ALLOW = Decision(Action.ALLOW, "ok")

    def __init__(self, config: Any, *, clock: ManualClock) -> None:
        super().__init__(config, clock=clock)
        self._planned: dict[tuple[bool, str | None], tuple[Any, ...]] = {}

    def inspect(self, view: Any) -> Decision:
        path = view.path
        key = (path == "/", view.peer)
        ops = self._planned.get(key)
        if ops is None:
            ops = self._planned[key] = tuple(self.plan(view).ops)
        elif path != "/":
            record = path.rsplit("/", 1)[1]
            ops = tuple(DistinctAddAll(record, op.counters, op.now)
                        if type(op) is DistinctAddAll else
                        Recent(op.key, record, op.size, op.ttl) if type(op) is Recent else op
                        for op in ops)
        self.storage.execute(ops, self.clock())
        return self._ALLOW

    async def ainspect(self, view: Any) -> Decision:
        return self.inspect(view)


def guarded(variant: str) -> bool:
    """Whether a variant runs antiscrape's adapter (with the real or a stand-in engine)."""
    return variant == "antiscrape" or variant.startswith(DIAGNOSTIC)


def engine(clock: ManualClock, kind: str = "antiscrape") -> Engine:
    if kind.startswith("adapter-only"):
        return AdapterOnly(cookieless({"secret_key": SECRET}), clock=clock)
    if kind.startswith("storage-only"):
        return StorageOnly(cookieless({"secret_key": SECRET, "protect": PROTECT}), clock=clock)
    return Engine(cookieless({"secret_key": SECRET, "protect": PROTECT}), clock=clock)


# -- the adapters of another revision ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
BEFORE_PACKAGE = "antiscrape._integrations_before"
"""Where ``--before REV`` loads that revision's ``integrations/`` (today's core beneath)."""


def load_before(rev: str) -> None:
    """Load ``integrations/`` as of git revision ``rev`` as ``BEFORE_PACKAGE``."""
    listing = subprocess.run(["git", "ls-tree", "--name-only", rev, "integrations/"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.split()
    tmp = Path(tempfile.mkdtemp(prefix="antiscrape-adapters-"))
    atexit.register(shutil.rmtree, tmp, True)  # kept until exit: modules may load lazily
    for name in listing:
        if name.endswith(".py"):
            text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout
            (tmp / Path(name).name).write_text(text, "utf-8")
    spec = importlib.util.spec_from_file_location(
        BEFORE_PACKAGE, tmp / "__init__.py", submodule_search_locations=[str(tmp)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[BEFORE_PACKAGE] = package
    spec.loader.exec_module(package)


def adapter_package(variant: str) -> str:
    """The package whose adapters a variant runs: ``adapter-only@REV`` runs REV's."""
    return BEFORE_PACKAGE if "@" in variant else "antiscrape.integrations"


# -- Flask -----------------------------------------------------------------------------------


def flask_site(name: str, guard_engine: Engine | None,
               package: str = "antiscrape.integrations") -> Any:
    """The benchmark's Flask site (home + a profile route), guarded when an engine is given
    (by the Flask adapter of ``package``)."""
    from flask import Flask

    app = Flask(name)
    guard: Any = None
    if guard_engine is not None:
        guard = importlib.import_module(package + ".flask").AntiScrape(app, engine=guard_engine)

    def home() -> str:
        return "home"

    def user(user_id: int) -> str:
        return f"user {user_id}"

    if guard is not None:
        user = guard.protect(kind="profile", id_param="user_id")(user)
    app.add_url_rule("/", view_func=home)
    app.add_url_rule("/users/<int:user_id>", view_func=user)
    return app


def flask_app(variant: str, clock: ManualClock) -> WSGIApp:
    app = flask_site(f"bench_{variant}", engine(clock, variant) if guarded(variant) else None,
                     adapter_package(variant))
    if variant == "limiter":
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address

        Limiter(get_remote_address, app=app, default_limits=[NEVER], storage_uri="memory://")
    return app  # type: ignore[no-any-return]


# -- Django ----------------------------------------------------------------------------------


def _django_urls(variant: str) -> types.ModuleType:
    from django.http import HttpResponse
    from django.urls import path

    def home(request: Any) -> HttpResponse:
        return HttpResponse("home")

    def user(request: Any, user_id: int) -> HttpResponse:
        return HttpResponse(f"user {user_id}")

    if variant == "ratelimit":
        from django_ratelimit.decorators import ratelimit

        home = ratelimit(key="ip", rate=NEVER, block=True)(home)
        user = ratelimit(key="ip", rate=NEVER, block=True)(user)
    elif guarded(variant):
        user = protect("profile", id_param="user_id")(user)
    module = types.ModuleType(f"bench_urls_{variant}")
    module.urlpatterns = [path("", home), path("users/<int:user_id>", user)]  # type: ignore[attr-defined]
    return module


def django_apps(clock: ManualClock, variants: Iterable[str] = VARIANTS["django"],
                ) -> dict[str, tuple[WSGIApp, Any]]:
    """Three handlers, each with its own middleware list and URLconf (applied per round)."""
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    if not settings.configured:
        settings.configure(DEBUG=False, SECRET_KEY=SECRET, ALLOWED_HOSTS=["*"],
                           ROOT_URLCONF=None, MIDDLEWARE=[], INSTALLED_APPS=[], DATABASES={},
                           USE_TZ=True, RATELIMIT_ENABLE=True,
                           CACHES={"default": {
                               "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
        django.setup()
    apps = {}
    for variant in variants:
        middleware = ([adapter_package(variant) + ".django.AntiScrapeMiddleware"]
                      if guarded(variant) else [])
        overrides = override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=_django_urls(variant),
                                      ANTISCRAPE=engine(clock, variant))
        with overrides:
            handler = WSGIHandler()
        apps[variant] = (handler, overrides)
    return apps


# -- driving ---------------------------------------------------------------------------------


def environ(path: str, ip: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "shop.example", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": ip, "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False, **BROWSER,
    }


def traffic(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    ips = [f"198.{51 + i // 250}.{i % 250}.{7 + i % 3}" for i in range(500)]
    return [("/" if i % 2 == 0 else f"/users/{rng.randint(1, 1000)}", rng.choice(ips))
            for i in range(n)]


def run_batch(app: WSGIApp, requests: list[tuple[str, str]], clock: MovingClock,
              samples: list[int], statuses: dict[str, int]) -> None:
    status_box: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        status_box.append(status)
        return None

    timer = time.perf_counter_ns
    for path, ip in requests:
        env = environ(path, ip)
        clock.tick()
        started = timer()
        result = app(env, start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
        samples.append(timer() - started)
    for status in status_box:
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1


def p99(values: list[int]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--before", metavar="REV",
                        help="also run the adapters of this git revision (adapter-only)")
    args = parser.parse_args(argv)

    names = {framework: list(names) for framework, names in VARIANTS.items()}
    if args.before:
        load_before(args.before)
        for framework in names:
            names[framework].append(f"adapter-only@{args.before}")
    clock = MovingClock(step=0.2)
    variants: dict[str, tuple[WSGIApp, Any]] = {
        f"flask {v}": (flask_app(v, clock), None) for v in names["flask"]}
    variants.update({f"django {v}": app
                     for v, app in django_apps(clock, names["django"]).items()})

    warm = traffic(200, seed=0)
    samples: dict[str, list[int]] = {name: [] for name in variants}
    statuses: dict[str, dict[str, int]] = {name: {} for name in variants}
    for app, overrides in variants.values():
        if overrides is not None:
            overrides.enable()
        run_batch(app, warm, clock, [], {})
        if overrides is not None:
            overrides.disable()

    order = list(variants)
    for round_no in range(args.rounds):
        batch = traffic(args.batch, seed=round_no + 1)
        random.Random(round_no).shuffle(order)
        for name in order:
            app, overrides = variants[name]
            if overrides is not None:
                overrides.enable()
            gc.collect()
            run_batch(app, batch, clock, samples[name], statuses[name])
            if overrides is not None:
                overrides.disable()

    print(f"{args.rounds} interleaved rounds x {args.batch} requests per variant, in-process "
          f"WSGI; µs per request")
    width = max(22, *(len(name) + 2 for name in variants))
    print(f"{'variant':<{width}}{'median':>9}{'p99':>9}{'added (median)':>16}  statuses")
    for framework in ("flask", "django"):
        bare = statistics.median(samples[f"{framework} bare"]) / 1000
        for name in variants:
            if not name.startswith(framework):
                continue
            median = statistics.median(samples[name]) / 1000
            added = "" if name.endswith("bare") else f"{median - bare:+.1f}"
            print(f"{name:<{width}}{median:>9.1f}{p99(samples[name]) / 1000:>9.1f}{added:>16}  "
                  f"{statuses[name]}")


if __name__ == "__main__":
    main()
