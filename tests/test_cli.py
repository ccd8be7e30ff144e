"""The ``antiscrape`` command: check, and update-bot-ranges against a local HTTP server."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from antiscrape.cli import main, redacted, to_toml
from antiscrape.config import Config
from antiscrape.goodbots import GoodBots
from antiscrape.typed_loader import dump

from .conftest import SECRET

GOOD = f"""
secret_key = "{SECRET}"
storage = "redis://:hunter2-password@127.0.0.1:6379/0"

[scoring]
challenge_at = 55

[budgets.default]
ip = "100/minute"

[[protect]]
route = "/users/{{user_id}}"
kind = "profile"

[enumeration.budgets.profile]
10m = 30
1d = 400

[status_page]
enabled = true
token = "status-token-0123456789"
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "antiscrape.toml"
    path.write_text(text)
    return str(path)


def test_check_prints_the_effective_config_with_secrets_masked(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", write(tmp_path, GOOD)]) == 0
    out = capsys.readouterr().out
    for secret in (SECRET, "hunter2-password", "status-token-0123456789"):
        assert secret not in out
    printed = tomllib.loads(out)
    assert printed["storage"] == "redis://:***@127.0.0.1:6379/0"
    assert printed["scoring"]["challenge_at"] == 55
    assert printed["scoring"]["block_at"] == 95  # defaults are filled in
    assert printed["protect"][0]["kind"] == "profile"
    expected = redacted(dump(Config.load(tmp_path / "antiscrape.toml")))
    assert printed == drop_none(expected)  # TOML has no null: None keys are left out


def drop_none(data: object) -> object:
    if isinstance(data, dict):
        return {k: drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [drop_none(v) for v in data]
    return data


def test_printed_config_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What check prints is a valid config again (secret re-supplied): same effective tree."""
    config = Config.load(write(tmp_path, GOOD))
    data = dump(config)
    again = Config.load(tomllib.loads(to_toml(data)))
    assert dump(again) == data


@pytest.mark.parametrize("text,path,expected", [
    ('secret_key = "' + SECRET + '"\n[budgets.default]\nip = 5\n', "budgets.default.ip",
     "expected string"),
    ('secret_key = "' + SECRET + '"\n[scoring]\nchalenge_at = 50\n', "scoring.chalenge_at",
     "unknown key"),
    ('secret_key = "' + SECRET + '"\n[[challenge.ladder]]\nmax_score = "high"\n',
     "challenge.ladder[0].max_score", "expected integer"),
    ('secret_key = "' + SECRET + '"\n[log]\nsample_allow = 3\n', "log.sample_allow",
     "between 0 and 1"),
    ('secret_key = "' + SECRET + '"\n[good_bots]\nverify = ["googlebot", "gogglebot"]\n',
     "good_bots.verify[1]", "unknown bot"),
    ('secret_key = "' + SECRET + '"\nfail = "sideways"\n', "fail", "'open' or 'closed'"),
    ('[[[not toml', "", "not valid TOML"),
])
def test_check_errors_name_the_key_path(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        text: str, path: str, expected: str) -> None:
    assert main(["check", write(tmp_path, text)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"invalid config: {path or '<config>'}: " in captured.err
    assert expected in captured.err
    assert "Traceback" not in captured.err


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.toml")]) == 1
    assert "config file not found" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("antiscrape")
    result = subprocess.run([str(script), "check", write(tmp_path, "debug = true\n"), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is True


# -- update-bot-ranges ---------------------------------------------------------------------

@pytest.fixture
def vendor_server() -> Iterator[str]:
    """A local stand-in for the vendors' JSON endpoints (tests never leave this machine)."""
    documents = {
        "/googlebot.json": {"creationTime": "2026-01-01",
                            "prefixes": [{"ipv4Prefix": "198.51.100.0/27"},
                                         {"ipv6Prefix": "2001:db8:1::/64"}]},
        "/broken.json": {"unexpected": True},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            doc = documents.get(self.path)
            body = json.dumps(doc).encode() if doc is not None else b"missing"
            self.send_response(200 if doc is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_update_bot_ranges_writes_a_file_the_config_can_use(
        tmp_path: Path, vendor_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ranges.json"
    code = main(["update-bot-ranges", "-o", str(out),
                 "--url", f"googlebot={vendor_server}/googlebot.json",
                 "--url", f"bingbot={vendor_server}/broken.json",
                 "--url", f"applebot={vendor_server}/missing.json"])
    captured = capsys.readouterr()
    assert code == 0
    assert "updated googlebot" in captured.out
    assert "bingbot: not updated" in captured.err and "applebot: not updated" in captured.err
    data = json.loads(out.read_text())
    assert data["ranges"]["googlebot"] == ["198.51.100.0/27", "2001:db8:1::/64"]
    assert data["ranges"]["bingbot"]  # a failed vendor keeps its shipped ranges
    cfg = Config.load({"secret_key": SECRET,
                       "good_bots": {"ranges_file": str(out), "reverse_dns": False}})
    bots = GoodBots(cfg)
    ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert bots.assess("198.51.100.7", ua).verified is True
    assert bots.assess("66.249.66.1", ua).verified is False  # replaced, not merged


def test_update_bot_ranges_without_network_fails_cleanly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on: connection refused, like no network
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    out = tmp_path / "ranges.json"
    code = main(["update-bot-ranges", "-o", str(out), "--timeout", "2",
                 "--url", f"googlebot={dead}/googlebot.json",
                 "--url", f"bingbot={dead}/bingbot.json"])
    err = capsys.readouterr().err
    assert code == 1
    assert "could not fetch any vendor's crawler ranges" in err
    assert "googlebot: not updated" in err and "Traceback" not in err
    assert not out.exists()


def test_update_bot_ranges_rejects_bad_url_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["update-bot-ranges", "--url", "googlebot"]) == 1
    assert "NAME=URL" in capsys.readouterr().err


# -- check builds what the engine builds -----------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ('storage = "redsi://127.0.0.1:6379/0"\n', "storage: unknown scheme 'redsi'; use one of "
                                               "memory://, redis://"),
    ('storage = "mongodb://x"\n', "storage: unknown scheme 'mongodb'"),
    ('storage = "redis://:pw@127.0.0.1/0"\n[storage_options]\nclock = "sundial"\n',
     "storage_options.clock: 'server' or 'caller'"),
    ('[[protect]]\nroute = "/users/{user_id}"\n', "protect[0].kind: required"),
    ('[[protect]]\nroute = "/users/{user_id"\nkind = "profile"\n',
     "protect[0].route: '{user_id': a parameter is a whole path segment"),
    ('[[protect]]\nroute = "/a/{id}"\nkind = "profile"\n[[protect]]\nkind = "comments"\n',
     "protect[1].route: required"),
])
def test_check_refuses_what_would_not_start(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            text: str, expected: str) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\n{text}')
    assert main(["check", path]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert f"invalid config: {expected}" in captured.err
    assert "pw@" not in captured.err  # only the scheme is quoted, never the URI


def test_check_refuses_metrics_without_the_prometheus_extra(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, f'secret_key = "{SECRET}"\n[metrics]\nenabled = true\n')
    assert main(["check", path]) == 0  # installed here (the dev extras pull it in)
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import now fails
    assert main(["check", path]) == 1
    assert "invalid config: metrics.enabled: prometheus-client is not installed: pip " \
           "install 'antiscrape[prometheus]'" in capsys.readouterr().err


def test_check_accepts_every_storage_family_without_connecting(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens on these addresses: check builds, it never connects."""
    for uri in ("memory://", "redis://127.0.0.1:9/0", "rediss://127.0.0.1:9/0",
                "redis+unix:///nonexistent.sock", "valkey://127.0.0.1:9",
                "redis+cluster://127.0.0.1:9", "redis+sentinel://127.0.0.1:9/mymaster"):
        path = write(tmp_path, f'secret_key = "{SECRET}"\nstorage = "{uri}"\n')
        assert main(["check", path]) == 0, (uri, capsys.readouterr().err)
        assert ": OK" in capsys.readouterr().err
