"""Signing keys from the environment: one rule for every entry point.

``ANTISCRAPE_SECRET_KEY`` and ``ANTISCRAPE_OLD_SECRET_KEYS`` fill what a config leaves empty,
whether the config reaches antiscrape through ``antiscrape check``, ``antiscrape replay
--config``, the Starlette middleware, the Flask extension, Django's settings and system
checks, or the example apps; the shipped example configs carry no secret and pass ``check``
with the variable set. A replay signs nothing and needs no secret at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from antiscrape.cli import main
from antiscrape.config import Config, secrets_from_environment
from antiscrape.errors import ConfigError

from .conftest import SECRET
from .corpora import access_log

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIGS = sorted((ROOT / "example_apps").glob("*/antiscrape.toml"))
OLD = "an-older-secret-key-0123456789"


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without either variable (a developer's shell may set them)."""
    monkeypatch.delenv("ANTISCRAPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("ANTISCRAPE_OLD_SECRET_KEYS", raising=False)
    return monkeypatch


def test_the_environment_fills_what_the_config_leaves_empty() -> None:
    env = {"ANTISCRAPE_SECRET_KEY": f" {SECRET}\n",
           "ANTISCRAPE_OLD_SECRET_KEYS": f"{OLD}, second-old-key-0123456789 ,"}
    assert secrets_from_environment({"monitor": True}, env) == {
        "monitor": True, "secret_key": SECRET,
        "old_secret_keys": [OLD, "second-old-key-0123456789"]}
    # What the config sets wins: never overridden behind the operator's back.
    given = {"secret_key": "from-the-file-0123456789", "old_secret_keys": ["file-old"]}
    assert secrets_from_environment(given, env) == given
    assert secrets_from_environment({}, {"ANTISCRAPE_SECRET_KEY": "  "}) == {}


def test_config_load_reads_the_environment(no_keys: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"secret_key: required.*ANTISCRAPE_SECRET_KEY"):
        Config.load({})
    no_keys.setenv("ANTISCRAPE_SECRET_KEY", SECRET)
    no_keys.setenv("ANTISCRAPE_OLD_SECRET_KEYS", OLD)
    config = Config.load({})
    assert config.secret_key == SECRET and config.old_secret_keys == (OLD,)
    assert config.signing_keys == (SECRET.encode(), OLD.encode())


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: p.parent.name)
def test_check_passes_each_example_config_with_the_key_in_the_environment(
        path: Path, no_keys: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(path)]) == 1
    assert "secret_key: required" in capsys.readouterr().err
    no_keys.setenv("ANTISCRAPE_SECRET_KEY", SECRET)
    assert main(["check", str(path)]) == 0
    captured = capsys.readouterr()
    assert f"{path}: OK" in captured.err
    assert SECRET not in captured.out and 'secret_key = "***"' in captured.out


def test_example_configs_exist() -> None:
    assert {p.parent.name for p in EXAMPLE_CONFIGS} == {"starlette_shop", "flask_shop",
                                                        "django_shop"}


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: p.parent.name)
def test_replay_needs_no_secret(path: Path, no_keys: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    log = access_log("webhawk-2018-12-15.log")
    assert main(["replay", str(log), "--config", str(path), "--no-progress"]) == 0
    assert "requests replayed: 4,961" in capsys.readouterr().out


def test_starlette_middleware_takes_the_key_from_the_environment(
        tmp_path: Path, no_keys: pytest.MonkeyPatch) -> None:
    from starlette.applications import Starlette

    from antiscrape.integrations.starlette import AntiScrapeMiddleware

    config = tmp_path / "antiscrape.toml"
    config.write_text("monitor = true\n")
    with pytest.raises(ConfigError, match="secret_key"):
        AntiScrapeMiddleware(Starlette(), config=str(config))
    no_keys.setenv("ANTISCRAPE_SECRET_KEY", SECRET)
    middleware = AntiScrapeMiddleware(Starlette(), config=str(config))
    assert middleware.engine.config.secret_key == SECRET


def test_flask_extension_takes_the_key_from_the_environment(
        no_keys: pytest.MonkeyPatch) -> None:
    from flask import Flask

    from antiscrape.integrations.flask import AntiScrape

    app = Flask(__name__)
    app.config["ANTISCRAPE_MONITOR"] = True
    no_keys.setenv("ANTISCRAPE_SECRET_KEY", SECRET)
    no_keys.setenv("ANTISCRAPE_OLD_SECRET_KEYS", OLD)
    AntiScrape(app)
    config = AntiScrape.engine(app).config
    assert (config.secret_key, config.old_secret_keys) == (SECRET, (OLD,))


def test_django_checks_and_middleware_take_the_key_from_the_environment(
        no_keys: pytest.MonkeyPatch) -> None:
    from tests.behaviour.django_project import ensure_django

    ensure_django()
    from django.test.utils import override_settings

    from antiscrape.integrations import django as adapter

    no_keys.delenv("WEB_CONCURRENCY", raising=False)
    no_keys.delenv("GUNICORN_CMD_ARGS", raising=False)
    strong = SECRET + "-with-more-entropy-XYZ"
    with override_settings(ANTISCRAPE={"monitor": True}, DEBUG=True):
        assert [m.id for m in adapter.check_settings()] == ["antiscrape.E001"]
        no_keys.setenv("ANTISCRAPE_SECRET_KEY", strong)
        assert adapter.check_settings() == []


def test_the_examples_run_without_debug_when_the_key_is_set(
        no_keys: pytest.MonkeyPatch) -> None:
    from example_apps.shop_config import shop_config
    from example_apps.shop_pages import ShopSite

    path = ROOT / "example_apps" / "starlette_shop" / "antiscrape.toml"
    site = ShopSite()
    assert shop_config(path, site).get("debug") is True
    no_keys.setenv("ANTISCRAPE_SECRET_KEY", SECRET)
    data = shop_config(path, site)
    assert "debug" not in data and Config.load(data).secret_key == SECRET
