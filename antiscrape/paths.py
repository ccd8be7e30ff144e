"""Path prefixes matched on segment boundaries (exempt paths, route classes).

A configured ``/health`` must exempt ``/health`` and ``/health/live``, never
``/healthcare/users/1``; ``/robots.txt`` must exempt that file, never ``/robots.txt.bak``. A
bare ``startswith`` does both wrong, and an exempt path is a hole in the protection, so an
entry matches the exact path, or the path continuing past it with ``/``. An entry that ends
in ``/`` (``/static/``) matches everything below it, as written.
"""

from __future__ import annotations


class PathPrefixes:
    """Matches a request path against configured entries; cheap when nothing matches (one
    C-level ``startswith`` over all entries, the usual case)."""

    __slots__ = ("entries",)

    def __init__(self, entries: tuple[str, ...] | list[str]) -> None:
        self.entries = tuple(entries)

    def matches(self, path: str) -> bool:
        entries = self.entries
        if not entries or not path.startswith(entries):
            return False
        for entry in entries:
            if path.startswith(entry) and (entry.endswith("/") or len(path) == len(entry)
                                           or path[len(entry)] == "/"):
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self.entries)
