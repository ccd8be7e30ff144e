"""The C extension under valgrind's memcheck: no invalid read or write, no use of
uninitialised memory and no leak in ``_native``.

Its parity tests check answers; a use after free or an overrun can still give the right
answer and corrupt a server's memory later. ``tests/fixtures/native_workload.py`` drives every
path of the extension (checking each answer against the Python versions) under memcheck with
CPython's allocator off, and any error or definite leak whose stack passes through
``_native`` fails the test. Errors elsewhere (CPython's collector, RE2) are not this
project's and are ignored.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = ROOT / "tests" / "fixtures" / "native_workload.py"


def records(log: str) -> list[str]:
    """Memcheck's report split into its records (a blank ``==pid==`` line ends each)."""
    return re.split(r"^==\d+==\s*$", log, flags=re.MULTILINE)


@pytest.mark.slow
def test_the_extension_is_clean_under_memcheck(tmp_path: Path) -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind not found: run scripts/ensure-test-services.sh as root")
    log_file = tmp_path / "memcheck.log"
    env = {**os.environ, "PYTHONMALLOC": "malloc"}  # memcheck sees every object's block
    done = subprocess.run(
        [valgrind, "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite",
         "--errors-for-leak-kinds=definite", "--num-callers=30", f"--log-file={log_file}",
         sys.executable, str(WORKLOAD)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "native workload done" in done.stdout
    log = log_file.read_text()
    assert "ERROR SUMMARY" in log, log[-2000:]
    ours = [r for r in records(log) if "_native" in r and
            ("Invalid" in r or "uninitialised" in r or "definitely lost" in r
             or "Mismatched" in r or "overlap" in r)]
    assert not ours, "\n".join(ours)[:6000]
