"""``make demo`` (``python -m example_apps.demo``): the non-interactive show CI runs, a clean stop
on Ctrl-C, a clear message for a busy port, and the table/verdict it prints."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from example_apps import demo
from example_apps.attacks.common import Outcome
from tests.fixtures.browser import free_port

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}


def run_demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "example_apps.demo", *args], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_make_demo_runs_the_show_and_keeps_the_promise() -> None:
    """The README's own command, in its non-interactive mode (the Makefile target, its
    virtualenv stamp and DEMO_ARGS included), as a newcomer would run it."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    args = f"--once --port {free_port()} --max-requests 120"
    done = subprocess.run(["make", "--no-print-directory", "demo", f"DEMO_ARGS={args}"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "profiles read" in out and "stopped because" in out
    for client in demo.clients(1, 0.0):
        assert client.label in out
    assert "Promise kept" in out


def test_demo_stops_cleanly_on_ctrl_c() -> None:
    process = subprocess.Popen([sys.executable, "-m", "example_apps.demo", "--no-show",
                                "--port", str(free_port())], cwd=REPO, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C stops the shop" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=20)
    assert process.returncode == 0, "".join(lines) + rest
    assert "antiscrape demo: stopped." in rest
    assert "Traceback" not in "".join(lines) + rest


def test_demo_says_so_when_the_port_is_taken() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = run_demo("--once", "--port", str(port), timeout=60)
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert f"--port {port + 1}" in done.stderr


def test_demo_refuses_a_public_host() -> None:
    with pytest.raises(SystemExit):
        demo.main(["--host", "0.0.0.0", "--once"])


def outcome(name: str, profiles: int, statuses: dict[int, int], refused_at: int | None) -> Outcome:
    return Outcome(name, sum(statuses.values()), {str(i) for i in range(profiles)},
                   Counter(statuses), "why", refused_at)


def test_table_and_verdict() -> None:
    cast = demo.clients(10, 0.0)
    outcomes = [outcome(c.label, 5 if not c.attacker else 12, {200: 12, 429: 3}
                        if c.attacker else {200: 20}, 13 if c.attacker else None)
                for c in cast]
    text = demo.table(cast, outcomes)
    lines = text.splitlines()
    assert lines[0].startswith("client") and set(lines[1]) <= {"-", " "}
    assert "never" in lines[2] and "request 13: " in lines[3] and "200: 12, 429: 3" in lines[3]
    assert demo.verdict(cast, outcomes) == []
    greedy = [*outcomes[:3], outcome(cast[3].label, demo.DEMO_PROFILE_BUDGET + 1, {200: 40},
                                     None), *outcomes[4:]]
    refused_person = [outcome(cast[0].label, 3, {200: 3, 429: 1}, 4), *outcomes[1:]]
    assert "budget" in demo.verdict(cast, greedy)[0]
    assert "refused 1 time" in demo.verdict(cast, refused_person)[0]
