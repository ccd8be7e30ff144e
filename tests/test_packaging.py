"""The wheel: built quietly, with every file the package reads at run time.

setuptools treats any folder inside a package as a package and prints a forty-line warning
for each one the configuration does not name; a newcomer's first ``make test`` showed three
of them. The data folders are declared as packages and their files listed, so the build says
nothing, and the wheel carries exactly the files of those folders.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_FOLDERS = ("antiscrape/challenge/assets", "antiscrape/goodbots/data", "antiscrape/state/lua")

pytestmark = pytest.mark.slow


def test_the_wheel_builds_without_warnings_and_carries_the_package_data(
        tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(tmp_path),
         str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    for noise in ("would be ignored", "BuildBackendWarning", "SetuptoolsDeprecationWarning"):
        assert noise not in output, output[-3000:]
    (wheel,) = tmp_path.glob("antiscrape-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in DATA_FOLDERS:
        shipped = {str(p.relative_to(ROOT)) for p in (ROOT / folder).iterdir() if p.is_file()}
        assert shipped and shipped <= names, folder
    assert "antiscrape/py.typed" in names
    assert not any(n.startswith(("tests/", "example_apps/", "benchmarks/")) for n in names)
