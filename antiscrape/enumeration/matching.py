"""Which protected record a request reads: route templates matched without regular expressions.

Matching runs on every request before the application does, so it is built once: templates are
split into segments and indexed by segment count, and a request path is split once and
compared literal by literal against the few templates of its length. The id and page come from
path parameters or the query string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from ..cache import BoundedCache
from ..config import ProtectRule
from ..request import route_template

MAX_ID_LENGTH = 128
"""Longer ids are replaced by a digest: a client must not fill memory with huge ids."""



@dataclass(slots=True, unsafe_hash=True)
class Access:
    """One read of one protected record.

    Treat it as immutable. It is built on every protected request: a plain slotted dataclass,
    for the reason given in ``antiscrape/decision.py``.
    """

    kind: str
    id: str
    """The record id as the route carries it (cut to a digest when over 128 characters)."""
    page: int | None = None
    route: str = ""
    monitor: bool = False
    canary: bool = False

    @property
    def record(self) -> str:
        """What distinct counting counts: the id, plus the page for pages after the first."""
        if self.page is None or self.page <= 1:
            return self.id
        return f"{self.id}#{self.page}"


def normalize_template(route: str) -> str:
    """:func:`~antiscrape.request.route_template` without a trailing slash: the form the
    guard keys its rules by (``/users/<int:pk>/`` -> ``/users/{pk}``)."""
    route = route_template(route)
    return route.rstrip("/") if len(route) > 1 else route


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/")


def query_param(query: str, name: str) -> str | None:
    """First value of ``name`` in a query string, decoded; None if absent or empty."""
    if not query or name not in query:
        return None
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if key == name:
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            return value or None
    return None


def clean_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    raw = raw.strip()
    if not raw:
        return None
    if len(raw) > MAX_ID_LENGTH:
        return "~" + hashlib.blake2b(raw.encode("utf-8", "surrogatepass"),
                                     digest_size=12).hexdigest()
    return raw


def parse_page(raw: str | None) -> int | None:
    """A page number, or None when absent or not a plain number (treated as the first page)."""
    if raw is None or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw) if len(raw) <= 9 else 10**9


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: ProtectRule
    template: str
    literals: tuple[tuple[int, str], ...]
    params: tuple[tuple[int, str], ...]
    id_param: str | None
    """None: the id is the query parameter ``id`` (a template without parameters)."""


class RouteMatcher:
    """Maps a request (decorator spec, framework route, or raw path) to an :class:`Access`."""

    def __init__(self, rules: tuple[ProtectRule, ...],
                 canaries: Mapping[str, tuple[str, ...]]) -> None:
        self._by_length: dict[int, list[_Compiled]] = {}
        self._by_template: dict[str, _Compiled] = {}
        self._canaries = {kind: frozenset(ids) for kind, ids in canaries.items()}
        for rule in rules:
            compiled = self._compile(rule)
            self._by_length.setdefault(len(compiled.literals) + len(compiled.params),
                                       []).append(compiled)
            self._by_template.setdefault(compiled.template, compiled)
            self._by_template.setdefault(rule.route, compiled)
        self._route_cache: BoundedCache[str, _Compiled | None] = BoundedCache(4_096)

    @staticmethod
    def _compile(rule: ProtectRule) -> _Compiled:
        template = normalize_template(rule.route)
        literals: list[tuple[int, str]] = []
        params: list[tuple[int, str]] = []
        for i, seg in enumerate(_segments(template)):
            if seg.startswith("{") and seg.endswith("}"):
                params.append((i, seg[1:-1]))
            else:
                literals.append((i, seg))
        names = [name for _, name in params]
        id_param = rule.id_param or (names[-1] if names else None)
        if rule.page_param is not None and id_param == rule.page_param and len(names) > 1:
            id_param = names[-2]
        return _Compiled(rule, template, tuple(literals), tuple(params), id_param)

    # -- lookups ------------------------------------------------------------------------------

    def by_route(self, route: str) -> _Compiled | None:
        found = self._by_template.get(route)
        if found is not None:
            return found
        cache = self._route_cache
        if route in cache:
            return cache[route]
        return cache.put(route, self._by_template.get(normalize_template(route)))

    def by_path(self, path: str) -> tuple[_Compiled, dict[str, str]] | None:
        parts = path.strip("/").split("/")  # _segments, inline: runs on every request
        candidates = self._by_length.get(len(parts))
        if not candidates:
            return None
        for compiled in candidates:
            for i, literal in compiled.literals:
                if parts[i] != literal:
                    break
            else:
                params: dict[str, str] = {}
                for i, name in compiled.params:
                    value = parts[i]
                    if not value:
                        break
                    params[name] = value
                else:
                    return compiled, params
        return None

    # -- building accesses --------------------------------------------------------------------

    def access(self, kind: str, id_param: str | None, page_param: str | None,
               params: Mapping[str, str], query: str, route: str,
               monitor: bool = False) -> Access | None:
        if id_param is None:
            raw_id = query_param(query, "id")
        else:
            raw_id = params.get(id_param)
            if raw_id is None:
                raw_id = query_param(query, id_param)
        if raw_id is None:
            return None
        record_id = raw_id.strip()  # clean_id, inline: runs on every protected request
        if not record_id:
            return None
        if len(record_id) > MAX_ID_LENGTH:
            record_id = clean_id(record_id)  # type: ignore[assignment]
        page = None
        if page_param is not None:
            raw_page = params.get(page_param)
            page = parse_page(raw_page if raw_page is not None else query_param(query, page_param))
        canaries = self._canaries.get(kind) if self._canaries else None
        canary = canaries is not None and record_id in canaries
        return Access(kind, record_id, page, route, monitor, canary)

    def from_compiled(self, compiled: _Compiled, params: Mapping[str, str],
                      query: str) -> Access | None:
        rule = compiled.rule
        return self.access(rule.kind, compiled.id_param, rule.page_param, params, query,
                           compiled.template, rule.monitor)
