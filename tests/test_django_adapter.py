"""Django-specific behaviour of the adapter: system checks, settings (dict, TOML path, reload on
``setting_changed``), the async path staying on the event loop, overridable reply templates,
route templates from ``path()`` and ``re_path()``. The shared behaviours live in
``tests/behaviour``."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.behaviour.django_project import ensure_django
from tests.conftest import SECRET

ensure_django()

from django.core import checks  # noqa: E402  (settings must exist first)
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from antiscrape.clock import ManualClock  # noqa: E402
from antiscrape.engine import Engine  # noqa: E402
from antiscrape.errors import ConfigError  # noqa: E402
from antiscrape.integrations import django as adapter  # noqa: E402
from tests.behaviour.sites import build_django  # noqa: E402
from tests.browsers import CHROME, CURL  # noqa: E402
from tests.status_spy import StatusSpy  # noqa: E402

MIDDLEWARE_PATH = "antiscrape.integrations.django.AntiScrapeMiddleware"
STRONG = SECRET + "-with-more-entropy-XYZ"


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return sorted(m.id or "" for m in messages)


# -- system checks ---------------------------------------------------------------------------


@pytest.fixture
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)


@pytest.mark.usefixtures("one_worker")
@pytest.mark.parametrize(("value", "expected"), [
    ({"secret_key": STRONG}, []),
    (None, ["antiscrape.E001"]),
    ({}, ["antiscrape.E001"]),
    ({"secret_key": "short"}, ["antiscrape.E001"]),
    ({"secret_key": "a" * 40}, ["antiscrape.E001"]),
    ({"secret_key": "0123456789abcdefghij"}, ["antiscrape.W001"]),
    ({"secret_key": STRONG, "storage": "nonsense"}, ["antiscrape.E002"]),
    ({"secret_key": STRONG, "budgets": {"default": {"ip": "lots"}}}, ["antiscrape.E002"]),
    ({"secret_key": STRONG, "no_such_key": 1}, ["antiscrape.E002"]),
    ({"storage": "nonsense"}, ["antiscrape.E001", "antiscrape.E002"]),
    ("/nonexistent/antiscrape.toml", ["antiscrape.E002"]),
])
def test_settings_checks(value, expected):
    with override_settings(ANTISCRAPE=value, DEBUG=True):
        assert ids(adapter.check_settings()) == expected


@pytest.mark.usefixtures("one_worker")
def test_reusing_the_django_secret_key_is_weak():
    shared = "a-long-random-django-secret-key-0123456789-XYZ"
    with override_settings(ANTISCRAPE={"secret_key": shared}, SECRET_KEY=shared, DEBUG=True):
        assert ids(adapter.check_settings()) == ["antiscrape.W001"]


def test_memory_storage_with_several_workers_warns(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    with override_settings(ANTISCRAPE={"secret_key": STRONG}, DEBUG=True):
        (warning,) = adapter.check_settings()
        assert warning.id == "antiscrape.W002" and "4 workers" in warning.msg
    monkeypatch.delenv("WEB_CONCURRENCY")
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--bind 0.0.0.0:80 -w 3")
    with override_settings(ANTISCRAPE={"secret_key": STRONG}, DEBUG=True):
        assert ids(adapter.check_settings()) == ["antiscrape.W002"]
    with override_settings(ANTISCRAPE={"secret_key": STRONG, "storage": "redis://localhost"},
                           DEBUG=True):
        assert adapter.check_settings() == []


@pytest.mark.usefixtures("one_worker")
def test_memory_storage_in_production_warns():
    with override_settings(ANTISCRAPE={"secret_key": STRONG}, DEBUG=False):
        assert ids(adapter.check_settings()) == ["antiscrape.W002"]


@pytest.mark.parametrize(("middleware", "expected"), [
    (["django.middleware.common.CommonMiddleware", MIDDLEWARE_PATH], []),
    (["django.middleware.common.CommonMiddleware"], ["antiscrape.W003"]),
    ([MIDDLEWARE_PATH, MIDDLEWARE_PATH], ["antiscrape.W004"]),
    ([MIDDLEWARE_PATH, "django.middleware.cache.FetchFromCacheMiddleware"], []),
    (["django.middleware.cache.FetchFromCacheMiddleware", MIDDLEWARE_PATH], ["antiscrape.W005"]),
])
def test_middleware_order_checks(middleware, expected):
    with override_settings(MIDDLEWARE=middleware):
        assert ids(adapter.check_middleware()) == expected


@pytest.mark.usefixtures("one_worker")
def test_the_app_config_registers_the_checks():
    with override_settings(INSTALLED_APPS=["antiscrape.integrations.django.AntiScrapeConfig"],
                           ANTISCRAPE={}, MIDDLEWARE=[], DEBUG=True):
        found = ids(checks.run_checks(include_deployment_checks=False))
    assert "antiscrape.E001" in found and "antiscrape.W003" in found


# -- settings --------------------------------------------------------------------------------


def test_settings_are_read_once_reloaded_on_change_and_never_written_back():
    first = {"secret_key": STRONG, "budgets": {"default": {"ip": "7/minute"}}}
    with override_settings(ANTISCRAPE=first):
        engine = adapter.get_engine()
        assert adapter.get_engine() is engine  # built once
        assert engine.config.budgets["default"].ip == "7/minute"
        with override_settings(ANTISCRAPE={"secret_key": STRONG, "monitor": True}):
            assert adapter.get_engine().config.monitor is True
        assert adapter.get_engine().config.budgets["default"].ip == "7/minute"
    assert first == {"secret_key": STRONG, "budgets": {"default": {"ip": "7/minute"}}}


def test_settings_may_name_a_toml_file(tmp_path):
    path = tmp_path / "antiscrape.toml"
    path.write_text(f'secret_key = "{STRONG}"\nmonitor = true\n'
                    '[budgets.default]\nip = "9/minute"\n')
    with override_settings(ANTISCRAPE=str(path)):
        config = adapter.get_engine().config
    assert config.monitor is True and config.budgets["default"].ip == "9/minute"


def test_a_bad_setting_fails_when_the_handler_starts():
    bad = {"secret_key": STRONG, "storage": "nonsense"}
    with override_settings(ANTISCRAPE=bad, MIDDLEWARE=[MIDDLEWARE_PATH]), \
            pytest.raises(ConfigError, match="storage"):
        WSGIHandler()


# -- sync and async paths --------------------------------------------------------------------


class CountingEngine(Engine):
    """Records which entry point decided, and on which thread."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, int]] = []

    def inspect(self, view):
        self.calls.append(("inspect", threading.get_ident()))
        return super().inspect(view)

    async def ainspect(self, view):
        self.calls.append(("ainspect", threading.get_ident()))
        return await super().ainspect(view)


@pytest.fixture
def counting_site(request) -> Iterator:
    engine = CountingEngine({"secret_key": STRONG}, clock=ManualClock())
    site = build_django(engine, request.param)
    yield site
    site.close()


@pytest.mark.parametrize("counting_site", ["asgi"], indirect=True)
def test_asgi_decides_on_the_event_loop_without_a_thread_hop(counting_site):
    loop_threads: list[int] = []

    async def probe():
        loop_threads.append(threading.get_ident())

    counting_site._run(probe())
    for path in ("/", "/users/5", "/no-such-page"):  # process_view, and the unmatched path
        assert counting_site.get(path, CHROME).status_code in (200, 404)
    assert [name for name, _ in counting_site.engine.calls] == ["ainspect"] * 3
    assert {thread for _, thread in counting_site.engine.calls} == set(loop_threads)


@pytest.mark.parametrize("counting_site", ["wsgi"], indirect=True)
def test_wsgi_decides_with_the_sync_path(counting_site):
    counting_site.get("/users/5", CHROME)
    counting_site.get("/nowhere", CHROME)
    assert [name for name, _ in counting_site.engine.calls] == ["inspect"] * 2


@pytest.mark.parametrize("counting_site", ["wsgi", "asgi"], indirect=True)
def test_each_request_is_inspected_exactly_once(counting_site):
    for path in ("/", "/users/5", "/users/5000", "/nowhere", "/static/app.css"):
        counting_site.get(path, CHROME)
    assert len(counting_site.engine.calls) == 5


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_headers_reach_every_answer_and_statuses_of_protected_reads_reach_the_engine(kind):
    # The view is kept on the request only for protected reads; the answers to every other
    # request still get the decision's headers.
    engine = StatusSpy({"secret_key": STRONG, "rate_limit_headers": True}, clock=ManualClock())
    site = build_django(engine, kind)
    try:
        answers = [site.get(path, CHROME) for path in ("/", "/users/5", "/users/5000",
                                                       "/nowhere")]
    finally:
        site.close()
    assert [a.status_code for a in answers] == [200, 200, 404, 404]
    assert all(a.headers["ratelimit-limit"] for a in answers)
    # Only a protected read's miss is handed back: the engine counts nothing else, so a 200
    # costs no call (see Engine.recorded_statuses).
    assert engine.statuses == [("/users/5000", 404)]


# -- replies rendered the Django way ---------------------------------------------------------

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "OPTIONS": {"loaders": [("django.template.loaders.locmem.Loader", {
        "antiscrape/throttle.html":
            "<div class=site>{{ body }}<p id=why>{{ reason }}</p>"
            "<p id=wait>{{ retry_after }}</p><p id=status>{{ status }}</p></div>",
    })]},
}]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_an_overriding_template_renders_html_replies(kind):
    engine = Engine({"secret_key": STRONG, "budgets": {"default": {"ip": "1/minute"}},
                     "expose_reasons": True}, clock=ManualClock())
    site = build_django(engine, kind)
    try:
        with override_settings(TEMPLATES=TEMPLATES):
            site.get("/", CHROME)
            page = site.get("/", CHROME)
            problem = site.get("/", {**CURL, "accept": "application/json"},
                               peer="198.51.100.3")
            problem = site.get("/", {**CURL, "accept": "application/json"},
                               peer="198.51.100.3")
    finally:
        site.close()
    assert page.status_code == 429
    assert page.text.startswith("<div class=site><!doctype html>")
    assert "budget 1/min per IP exceeded" in page.text.split("<p id=why>")[1]
    assert f"<p id=wait>{page.headers['retry-after']}</p>" in page.text
    assert "<p id=status>429</p>" in page.text
    assert int(page.headers["content-length"]) == len(page.content)
    assert problem.status_code == 429  # JSON stays as the core wrote it
    assert problem.headers["content-type"] == "application/problem+json"


def test_without_an_override_the_core_page_is_sent_as_is():
    engine = Engine({"secret_key": STRONG, "budgets": {"default": {"ip": "1/minute"}}},
                    clock=ManualClock())
    site = build_django(engine, "wsgi")
    try:
        site.get("/", CHROME)
        page = site.get("/", CHROME)
    finally:
        site.close()
    assert page.status_code == 429 and page.text.startswith("<!doctype html>")


# -- route templates -------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "expected"), [
    ("users/<int:user_id>", "/users/{user_id}"),
    ("users/<user_id>/", "/users/{user_id}/"),
    ("api/items/<slug:item>/comments", "/api/items/{item}/comments"),
    ("", "/"),
    ("^users/(?P<pk>[0-9]+)/$", "/users/{pk}/"),
    (r"^items/(?P<item>\d+(?:-\d+)?)/comments\.json$", "/items/{item}/comments.json"),
    (r"^archive/(\d{4})/$", None),  # unnamed groups: no template, path matching applies
    (r"^feed/(rss|atom)$", None),
    (None, None),
])
def test_django_route_templates(route, expected):
    assert adapter.django_route(route) == expected


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_engine_sees_route_template_params_marker_account_and_peer(kind):
    seen = []
    engine = Engine({"secret_key": STRONG}, clock=ManualClock())
    engine.add_observer(lambda view, decision, seconds: seen.append(view))
    site = build_django(engine, kind)
    try:
        answer = site.get("/users/0042?tab=posts",
                          {**CHROME, "x-test-account": "7", "x-forwarded-for": "1.2.3.4"},
                          peer="198.51.100.5")
        site.get("/nowhere", CHROME)
    finally:
        site.close()
    assert answer.text == "user 42"
    view, unmatched = seen
    assert view.route == "/users/{user_id}"
    assert dict(view.path_params) == {"user_id": "42"}
    assert view.protect is not None and view.protect.kind == "profile"
    assert view.user_id == "7"
    assert view.peer == "198.51.100.5"  # the socket peer, never the forwarded value
    assert view.headers["x-forwarded-for"] == "1.2.3.4"
    assert view.headers["user-agent"] == CHROME["user-agent"]
    assert view.query == "tab=posts" and view.method == "GET" and view.scheme == "http"
    assert unmatched.route is None and unmatched.protect is None and unmatched.user_id is None
