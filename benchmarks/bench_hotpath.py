"""The engine's hot path today next to the engine of a git revision, in one process.

    python -m benchmarks.bench_hotpath --before REV [--before-tree DIR] [--rounds 10]
                                       [--batch 300] [--only starlette|flask|django]

The machine's speed drifts by a factor of two between runs, so an optimisation is only
believable when the old and new engines are timed side by side, interleaved, in one process.
The ``antiscrape`` package of REV is extracted with ``git archive`` and imported under another
name (``antiscrape_before``; the package only uses relative imports), and today's adapters are
handed either engine (they only call its public methods). ``--before-tree DIR`` takes the
package from a checkout of REV instead (``git worktree add DIR REV``), with whatever was built
there: REV's C extension, if it had one and it was built in place, then runs too (an extension
module is found by its last name, so the renamed package still loads it).

Five scenes, each with the bare framework, today's engine, REV's engine and the usual rate
limiter of that framework (configured never to trigger), all allowed traffic, every status
checked, each request timed alone:

* Starlette, unprotected ``/``: browser headers from 500 client IPs (``bench_core``'s
  traffic), next to slowapi;
* Starlette, unprotected ``/`` with a never-seen User-Agent on every request, next to
  slowapi;
* Starlette, protected ``/users/{user_id}``: 300 clients on 30 networks with 50 browser builds
  reading random profiles (``bench_enumeration``'s traffic), next to slowapi on that route;
* Flask and Django, half home page and half protected profiles from 500 IPs
  (``bench_adapters``' traffic and configuration), next to Flask-Limiter and
  django-ratelimit.

The table gives medians and the median added over the bare app.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import importlib
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

from antiscrape.clock import ManualClock
from antiscrape.engine import Engine
from antiscrape.request import protect

from . import bench_adapters, bench_core, bench_enumeration
from .traffic import cookieless

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789abcdef-0123456789"


def load_engine(rev: str, tree: Path | None = None) -> type:
    """``Engine`` as of git revision ``rev`` (or of the checkout ``tree``), imported as
    ``antiscrape_before.engine``."""
    tmp = Path(tempfile.mkdtemp(prefix="antiscrape-hotpath-"))
    atexit.register(shutil.rmtree, tmp, True)  # kept until exit: the package imports lazily
    if tree is not None:
        shutil.copytree(tree / "antiscrape", tmp / "antiscrape")
    else:
        archive = subprocess.run(["git", "archive", rev, "antiscrape"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
    (tmp / "antiscrape").rename(tmp / "antiscrape_before")
    sys.path.insert(0, str(tmp))
    try:
        engine: Any = importlib.import_module("antiscrape_before.engine").Engine
    finally:
        sys.path.remove(str(tmp))
    if not hasattr(engine, "recorded_statuses"):
        # Today's adapters hand back only the statuses an engine records; older engines
        # sorted them out themselves, so they are handed every one, as their adapters did.
        engine.recorded_statuses = range(1000)
    if not hasattr(engine, "counts_answer"):  # the check today's adapters ask the engine for
        engine.counts_answer = lambda self, decision, status: (
            decision.access is not None and status in self.recorded_statuses)
    return engine


# -- Starlette --------------------------------------------------------------------------------


REFERENCE = {"starlette": "slowapi", "flask": "flask-limiter", "django": "django-ratelimit"}
"""The usual rate limiter of each framework, timed next to the engines."""


def starlette_app(engine: Any, protected: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("home")

    async def user(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"user {request.path_params['user_id']}")

    routes = [Route("/", home),
              Route("/users/{user_id:int}", protect("profile")(user) if protected else user)]
    middleware = [Middleware(AntiScrapeMiddleware, engine=engine)] if engine is not None else []
    return Starlette(routes=routes, middleware=middleware)


def slowapi_app(protected: bool) -> Any:
    if not protected:
        return bench_core.slowapi_app()

    async def user(request: Any) -> Any:
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(f"user {request.path_params['user_id']}")

    return bench_enumeration.slowapi_app(user)


def unprotected_scopes(n: int, rng: random.Random) -> list[dict[str, Any]]:
    ips = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(500)]
    return [bench_core.scope_for(None, rng.choice(ips), bench_core.BROWSER) for _ in range(n)]


_unseen = iter(range(10**9))


def unseen_ua_scopes(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Browser headers with a User-Agent no request has sent before (``bench_core``'s)."""
    ips = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(500)]
    out = []
    for _ in range(n):
        ua = bench_core.fresh_ua(next(_unseen))
        headers = [(k, ua if k == b"user-agent" else v) for k, v in bench_core.BROWSER]
        out.append(bench_core.scope_for(None, rng.choice(ips), headers))
    return out


async def starlette_scene(engines: dict[str, type | None], protected: bool, rounds: int,
                          batch: int, unseen: bool = False) -> dict[str, list[int]]:
    rng = random.Random(11 if protected else 13 if unseen else 12)
    clocks = {name: ManualClock() for name in engines}
    apps = {name: starlette_app(cls(cookieless({"secret_key": SECRET}, cls), clock=clocks[name])
                                if cls is not None else None, protected)
            for name, cls in engines.items()}
    apps[REFERENCE["starlette"]] = slowapi_app(protected)
    clocks[REFERENCE["starlette"]] = ManualClock()
    make = bench_enumeration.scopes if protected else \
        unseen_ua_scopes if unseen else unprotected_scopes
    for name, app in apps.items():  # warm caches outside the measurement
        await bench_enumeration.run_batch(app, make(200, rng), clocks[name], [])

    async def play(name: str, work: list[dict[str, Any]], out: list[int]) -> None:
        await bench_enumeration.run_batch(apps[name], work, clocks[name], out)

    return await bench_enumeration.interleaved(list(apps), rounds, rng,
                                               lambda: make(batch, rng), play)


# -- Flask and Django -------------------------------------------------------------------------


def flask_app(engine: Any) -> Any:
    return bench_adapters.flask_site(f"hotpath_{id(engine)}", engine)


class _Shell(Engine):
    """An ``Engine`` in name only (see ``as_engine``)."""

    recorded_statuses: Any = ()  # a plain attribute here, set from the engine inside


def as_engine(inner: Any) -> Any:
    """REV's engine passed where an ``Engine`` instance is checked for (Django's setting):
    its public methods and the statuses it records are put on the instance, so no extra call
    layer is timed."""
    if inner is None or isinstance(inner, Engine):
        return inner
    shell = object.__new__(_Shell)
    for name in ("inspect", "ainspect", "record_response", "arecord_response",
                 "recorded_statuses", "counts_answer"):
        setattr(shell, name, getattr(inner, name))
    return shell


def django_app(engine: Any, reference: bool = False) -> tuple[Any, Any]:
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
    middleware = ["antiscrape.integrations.django.AntiScrapeMiddleware"] if engine else []
    urls = bench_adapters._django_urls(
        "antiscrape" if engine is not None else "ratelimit" if reference else "bare")
    overrides = override_settings(MIDDLEWARE=middleware, ROOT_URLCONF=urls,
                                  ANTISCRAPE=as_engine(engine))
    with overrides:
        handler = WSGIHandler()
    return handler, overrides


def wsgi_scene(framework: str, engines: dict[str, type | None], rounds: int,
               batch: int) -> dict[str, list[int]]:
    clocks = {name: bench_adapters.MovingClock(step=0.2) for name in engines}
    apps: dict[str, tuple[Any, Any]] = {}
    for name, cls in engines.items():
        engine = cls(cookieless({"secret_key": SECRET, "protect": bench_adapters.PROTECT}, cls),
                     clock=clocks[name]) if cls is not None else None
        apps[name] = (flask_app(engine), None) if framework == "flask" else django_app(engine)
    reference = REFERENCE[framework]
    clocks[reference] = bench_adapters.MovingClock(step=0.2)
    apps[reference] = (bench_adapters.flask_app("limiter", ManualClock()), None) \
        if framework == "flask" else django_app(None, reference=True)
    times: dict[str, list[int]] = {name: [] for name in apps}
    statuses: dict[str, dict[str, int]] = {name: {} for name in apps}
    for name, (app, overrides) in apps.items():
        if overrides is not None:
            overrides.enable()
        bench_adapters.run_batch(app, bench_adapters.traffic(200, 0), clocks[name], [], {})
        if overrides is not None:
            overrides.disable()
    order = list(apps)
    for round_no in range(rounds):
        work = bench_adapters.traffic(batch, seed=round_no + 1)
        random.Random(round_no).shuffle(order)
        for name in order:
            app, overrides = apps[name]
            if overrides is not None:
                overrides.enable()
            gc.collect()
            bench_adapters.run_batch(app, work, clocks[name], times[name], statuses[name])
            if overrides is not None:
                overrides.disable()
    for name, found in statuses.items():
        if set(found) != {"200"}:
            raise SystemExit(f"{framework} {name}: unexpected statuses {found}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", metavar="REV", required=True,
                        help="git revision whose engine runs next to today's")
    parser.add_argument("--before-tree", metavar="DIR", type=Path,
                        help="take REV's package from this checkout (with its build)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--only", choices=("starlette", "flask", "django"))
    args = parser.parse_args()
    engines: dict[str, type | None] = {"bare": None, "now": Engine,
                                       "before": load_engine(args.before, args.before_tree)}
    started = time.perf_counter()
    if args.only in (None, "starlette"):
        bench_core.table("Starlette, unprotected / (browser headers, 500 IPs)",
               asyncio.run(starlette_scene(engines, False, args.rounds, args.batch)))
        bench_core.table("Starlette, unprotected / (a never-seen User-Agent every request)",
               asyncio.run(starlette_scene(engines, False, args.rounds, args.batch,
                                           unseen=True)))
        bench_core.table("Starlette, protected /users/{user_id} (300 clients, 50 browser builds)",
               asyncio.run(starlette_scene(engines, True, args.rounds, args.batch)))
    for framework in ("flask", "django"):
        if args.only in (None, framework):
            bench_core.table(f"{framework.capitalize()}, half home page, half protected profiles",
                   wsgi_scene(framework, engines, args.rounds, args.batch))
    native = "" if not args.before_tree else "; its C extension " + (
        "loaded" if "antiscrape_before._native" in sys.modules else "absent")
    print(f"\n(before = {args.before}{native}; {args.rounds} interleaved rounds x "
          f"{args.batch} requests per variant; {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
