"""Flask-specific behaviour of the extension: ``init_app`` and app factories, ``ANTISCRAPE_*``
config keys, the account hook, what the engine is told about each request, and the error an
install without Flask gets. The shared behaviours live in ``tests/behaviour``."""

from __future__ import annotations

import importlib
import sys

import pytest
from flask import Flask, g, request

from antiscrape.clock import ManualClock
from antiscrape.engine import Engine
from antiscrape.errors import ConfigError, MissingExtraError
from antiscrape.integrations.flask import AntiScrape, config_from_flask
from tests.browsers import CHROME
from tests.conftest import SECRET
from tests.status_spy import StatusSpy


def make_app(**config) -> Flask:
    app = Flask(__name__)
    app.config.update({"ANTISCRAPE_SECRET_KEY": SECRET, **config})

    @app.route("/")
    def home() -> str:
        return "home"

    return app


def browse(app: Flask, n: int, path: str = "/", ip: str = "203.0.113.7", **headers) -> list[int]:
    client = app.test_client()
    return [client.get(path, headers={**CHROME, **headers},
                       environ_base={"REMOTE_ADDR": ip}).status_code for _ in range(n)]


def test_init_app_keeps_no_app_and_one_extension_serves_two_apps():
    antiscrape = AntiScrape()
    tight = make_app(ANTISCRAPE_BUDGETS={"default": {"ip": "2/minute"}})
    roomy = make_app(ANTISCRAPE_BUDGETS={"default": {"ip": "50/minute"}})
    antiscrape.init_app(tight)
    antiscrape.init_app(roomy)
    assert not hasattr(antiscrape, "app")
    assert AntiScrape.engine(tight) is not AntiScrape.engine(roomy)
    assert browse(tight, 3) == [200, 200, 429]
    assert browse(roomy, 3) == [200, 200, 200]  # its own engine, its own budgets


def test_config_keys_and_config_file(tmp_path):
    path = tmp_path / "antiscrape.toml"
    path.write_text('monitor = false\n[budgets.default]\nip = "9/minute"\n')
    app = make_app(ANTISCRAPE_CONFIG=str(path), ANTISCRAPE_MONITOR=True,
                   ANTISCRAPE_TRUSTED_PROXIES=["10.0.0.0/8"])
    AntiScrape(app)
    config = AntiScrape.engine(app).config
    assert config.budgets["default"].ip == "9/minute"  # from the file
    assert config.monitor is True  # ANTISCRAPE_MONITOR wins over the file
    assert config.trusted_proxies == ("10.0.0.0/8",)
    assert "ANTISCRAPE_MONITOR" in app.config and "ANTISCRAPE_STORAGE" not in app.config


def test_config_may_be_a_dict():
    data = config_from_flask({"ANTISCRAPE_CONFIG": {"monitor": True, "secret_key": "a"},
                              "ANTISCRAPE_SECRET_KEY": "b", "OTHER": 1})
    assert data == {"monitor": True, "secret_key": "b"}


def test_a_misspelt_key_fails_at_start_up():
    with pytest.raises(ConfigError, match="ANTISCRAPE_MONTOR"):
        AntiScrape(make_app(ANTISCRAPE_MONTOR=True))


def test_a_missing_secret_fails_at_start_up():
    app = Flask(__name__)
    with pytest.raises(ConfigError, match="secret_key"):
        AntiScrape(app)


def test_the_engine_sees_route_template_params_marker_account_and_peer():
    seen = []
    engine = Engine({"secret_key": SECRET}, clock=ManualClock())
    engine.add_observer(lambda view, decision, seconds: seen.append(view))
    app = Flask(__name__)
    antiscrape = AntiScrape(engine=engine)

    @antiscrape.account_loader
    def account() -> str | None:
        return request.headers.get("x-user")

    @antiscrape.protect(kind="profile", id_param="user_id")  # above the route works too
    @app.route("/users/<int:user_id>/posts/<path:rest>")
    def posts(user_id: int, rest: str) -> str:
        return f"{g.antiscrape_decision.action} {user_id}"

    antiscrape.init_app(app)
    client = app.test_client()
    answer = client.get("/users/0042/posts/a/b?page=3",
                        headers={**CHROME, "x-user": "7", "x-forwarded-for": "1.2.3.4"},
                        environ_base={"REMOTE_ADDR": "198.51.100.5"})
    assert answer.text == "allow 42"
    (view,) = seen
    assert view.route == "/users/{user_id}/posts/{rest}"
    assert dict(view.path_params) == {"user_id": "42", "rest": "a/b"}
    assert view.protect is not None and view.protect.kind == "profile"
    assert view.protect.id_param == "user_id"
    assert view.user_id == "7"
    assert view.peer == "198.51.100.5"  # the socket peer, never the forwarded value
    assert view.headers["x-forwarded-for"] == "1.2.3.4"
    assert view.headers["user-agent"] == CHROME["user-agent"]
    assert view.query == "page=3" and view.method == "GET"
    client.get("/nowhere", headers=CHROME)
    assert seen[-1].route is None and seen[-1].protect is None


def test_one_view_on_two_rules_is_seen_under_each_rule():
    # Templates and markers are worked out once per rule, not per endpoint.
    seen = []
    engine = Engine({"secret_key": SECRET}, clock=ManualClock())
    engine.add_observer(lambda view, decision, seconds: seen.append(view))
    app = Flask(__name__)
    antiscrape = AntiScrape(app, engine=engine)

    @antiscrape.protect(kind="profile", id_param="user_id")
    def profile(user_id: int) -> str:
        return str(user_id)

    app.add_url_rule("/users/<int:user_id>", view_func=profile)
    app.add_url_rule("/people/<int:user_id>", view_func=profile)
    client = app.test_client()
    for path in ("/users/1", "/people/2", "/users/3", "/people/4"):
        assert client.get(path, headers=CHROME).status_code == 200
    assert [(v.route, dict(v.path_params)) for v in seen] == [
        ("/users/{user_id}", {"user_id": "1"}), ("/people/{user_id}", {"user_id": "2"}),
        ("/users/{user_id}", {"user_id": "3"}), ("/people/{user_id}", {"user_id": "4"})]
    assert all(v.protect is not None and v.protect.kind == "profile" for v in seen)


def test_headers_reach_every_answer_and_statuses_of_protected_reads_reach_the_engine():
    engine = StatusSpy({"secret_key": SECRET, "rate_limit_headers": True}, clock=ManualClock())
    app = make_app()
    antiscrape = AntiScrape(app, engine=engine)

    @app.route("/users/<int:user_id>")
    @antiscrape.protect(kind="profile", id_param="user_id")
    def profile(user_id: int) -> tuple[str, int]:
        return "no such user", 404

    client = app.test_client()
    for path, status in (("/", 200), ("/users/5", 404), ("/nowhere", 404)):
        answer = client.get(path, headers=CHROME)
        assert answer.status_code == status
        assert answer.headers["ratelimit-limit"]
    assert engine.statuses == [("/users/5", 404)]  # only protected reads are handed back


def test_an_earlier_before_request_answer_is_left_alone():
    app = make_app(ANTISCRAPE_RATE_LIMIT_HEADERS=True)

    @app.before_request
    def maintenance():
        return "down for maintenance", 503

    AntiScrape(app)  # registered after: never runs for these requests
    answer = app.test_client().get("/", headers=CHROME)
    assert answer.status_code == 503 and "ratelimit-limit" not in answer.headers


@pytest.mark.parametrize(("module", "extra"),
                         [("flask", "flask"), ("django", "django"), ("starlette", "starlette")])
def test_importing_an_adapter_without_its_framework_names_the_extra(monkeypatch, module, extra):
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delitem(sys.modules, f"antiscrape.integrations.{module}", raising=False)
    with pytest.raises(MissingExtraError, match=rf"pip install 'antiscrape\[{extra}\]'"):
        importlib.import_module(f"antiscrape.integrations.{module}")
