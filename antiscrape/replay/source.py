"""Opening logs for streaming: plain or gzip (sniffed by magic bytes), file or stdin, with an
optional progress bar on stderr. Lines are read one at a time, so memory stays flat however
large the log."""

from __future__ import annotations

import gzip
import io
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, BinaryIO

_GZIP_MAGIC = b"\x1f\x8b"


def estimated_size(path: str) -> int:
    """Bytes of log text in ``path``: a gzip file's own trailer says (modulo 4 GiB, and for its
    last member only), which is plenty to tell a small log from a large one; 0 when unknown."""
    try:
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            if raw.read(2) != _GZIP_MAGIC or size < 18:
                return size
            raw.seek(-4, os.SEEK_END)
            return max(size, int.from_bytes(raw.read(4), "little"))
    except OSError:
        return 0


class LogSource:
    """Iterates the decoded lines of one log; ``position``/``size`` drive the progress bar.

    Undecodable bytes become U+FFFD instead of an exception: a corrupted line is then simply
    malformed (counted, skipped) rather than the end of the run.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        if path == "-":
            self._raw: BinaryIO = sys.stdin.buffer
            self.size = 0
        else:
            self._raw = open(path, "rb")  # noqa: SIM115 (closed in close())
            self.size = os.fstat(self._raw.fileno()).st_size
        stream: IO[bytes] = self._raw
        peek = getattr(self._raw, "peek", None)
        head = peek(2)[:2] if peek is not None else b""
        if path != "-" and not head:
            head = self._raw.read(2)
            self._raw.seek(0)
        if head == _GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=None)

    def position(self) -> int:
        """Bytes consumed of the (possibly compressed) input file."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._text)

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._text.close()
            self._raw.close()

    def __enter__(self) -> LogSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Progress:
    """A one-line progress bar on stderr, redrawn at most five times a second."""

    def __init__(self, source: LogSource, stream: IO[str] = sys.stderr,
                 enabled: bool | None = None) -> None:
        self.source = source
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._next = 0.0
        self._start = time.monotonic()

    def update(self, lines: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now < self._next and not force:
            return
        self._next = now + 0.2
        rate = lines / max(now - self._start, 1e-9)
        size = self.source.size
        if size:
            share = min(1.0, self.source.position() / size)
            filled = int(share * 30)
            bar = "#" * filled + "-" * (30 - filled)
            text = f"\r[{bar}] {share:6.1%}  {lines:,} lines  {rate:,.0f} lines/s"
        else:
            text = f"\r{lines:,} lines  {rate:,.0f} lines/s"
        self.stream.write(text)
        self.stream.flush()

    def finish(self, lines: int) -> None:
        if self.enabled:
            self.update(lines, force=True)
            self.stream.write("\n")
            self.stream.flush()
