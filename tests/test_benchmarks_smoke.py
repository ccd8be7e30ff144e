"""Every benchmark script still runs: short rounds, exit status and tables only.

The figures of these runs mean nothing (a few dozen requests); what is checked is that no
script has rotted against today's engine, adapters and storage, including the side-by-side
modes that load an older revision next to today's code (``--before``), which broke once
when the engine started asking the guard for something older guards did not have.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_every_benchmark_runs_its_quick_rounds() -> None:
    out = run("benchmarks.run", "--quick")
    for name in ("bench_core", "bench_adapters", "bench_enumeration", "bench_challenge",
                 "bench_redis", "bench_replay", "bench_examples", "bench_instructions",
                 "bench_first_request", "bench_identity", "bench_throughput"):
        assert f"===== {name}" in out
    assert "failed:" not in out
    assert "added by the whole engine on a protected route" in out
    assert "flask antiscrape" in out and "django antiscrape" in out
    assert "flask storage-only" in out and "django storage-only" in out
    # scripts/ensure-test-services.sh installs valgrind; without it the script says so.
    if shutil.which("valgrind") is not None:
        assert "starlette guarded" in out and "instructions per request" in out
    else:
        assert "valgrind not found" in out
    # ... and wrk, the throughput benchmark's load generator.
    if shutil.which("wrk") is not None:
        assert "requests/s" in out and "antiscrape" in out.split("===== bench_throughput")[1]
    else:
        assert "wrk not found" in out


def _has_history() -> bool:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return False
    done = subprocess.run(["git", "cat-file", "-e", "HEAD:antiscrape/engine.py"], cwd=ROOT,
                          capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(not _has_history(), reason="needs the git history of a checkout (the "
                    "side-by-side modes load a revision with git)")
def test_side_by_side_modes_run_against_the_last_commit() -> None:
    out = run("benchmarks.bench_hotpath", "--before", "HEAD", "--rounds", "1", "--batch", "20")
    assert "before = HEAD" in out and out.count("before ") >= 4
    out = run("benchmarks.bench_enumeration", "--before", "HEAD", "--rounds", "1",
              "--batch", "20", "--reads", "500")
    assert "the guard at HEAD" in out
    out = run("benchmarks.bench_adapters", "--before", "HEAD", "--rounds", "1", "--batch", "20")
    assert "flask adapter-only@HEAD" in out and "django adapter-only@HEAD" in out


def test_replay_benchmark_given_no_line_says_so(tmp_path: Path) -> None:
    """An empty log has no speed: the script stops with a message, not a division by zero."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_replay", "--rounds", "1",
                           str(empty)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"no log lines in {empty}: nothing to measure" in done.stderr
    assert "Traceback" not in done.stderr
