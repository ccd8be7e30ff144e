"""Access-log line parsers: nginx/Apache combined and common format, and JSON lines.

Replay must keep up with tens of thousands of lines per second, so the hot path is built
around two facts about real logs: almost no line contains a backslash escape, and many lines
share a timestamp (busy sites log many requests per second). A line without a backslash is
parsed by one possessive regex that also splits the request line and checks the method and
target (no backtracking, one C call); only the rare escaped line takes the slower
escape-aware pattern. Timestamps are parsed once per distinct string (bounded cache), and
once per distinct day for the epoch arithmetic.

The *field* parsers (``combined_fields``, ``json_fields``) return a plain tuple in
:class:`LogRecord` order, or None for a malformed line (the caller counts and skips it; a bad
line is never fatal): that is what the replay loop uses. ``combined_parser`` and
``json_parser`` wrap them into :class:`LogRecord` values for everything else.
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple


class LogRecord(NamedTuple):
    """One logged request: what the replayer feeds to the engine."""

    ip: str
    timestamp: float
    method: str
    target: str
    """The request target as logged: path plus optional ``?query``."""
    protocol: str
    status: int
    user_agent: str
    referer: str


Fields = tuple[str, float, str, str, str, int, str, str]
"""A :class:`LogRecord`'s values as a plain tuple (cheaper to build on the hot path)."""
FieldParser = Callable[[str], Fields | None]

# %h %l %u [%t] "%r" %>s %b ["%{Referer}i" "%{User-Agent}i"]. The request line must be
# ``METHOD target [protocol]`` with an upper-case ASCII method and an origin-form
# (``/...``), absolute-form (``http...``) or ``*`` target; anything else (TLS handshakes
# logged as ``\x16\x03``, ``-`` for a dropped connection) is malformed. The user agent's
# closing quote is optional: servers truncate over-long agents. Possessive quantifiers: none
# of these fields can ever need to give characters back, so the engine never backtracks.
_PLAIN = re.compile(
    r'(\S++) \S++ (?:\S++|"[^"]*+") \[([^\]]++)\] '
    r'"([A-Z]++) (/[^ "]*+|http[^ "]*+|\*)(?: ([^ "]++))?" (\d{3}) \S++'
    r'(?: "([^"]*+)" "([^"\r\n]*+)"?)?'
)
# The same for lines holding ``\"`` or ``\\`` escapes (nginx, Apache): quoted fields may
# then hold escaped quotes.
_ESC = r'(?:[^"\\]|\\.)*+'
_TOKEN_ESC = r'(?:[^ "\\]|\\[^ ])'
_ESCAPED = re.compile(
    r'(\S++) \S++ (?:\S++|"[^"]*+") \[([^\]]++)\] '
    rf'"([A-Z]++) ((?:/|http){_TOKEN_ESC}*+|\*)(?: ({_TOKEN_ESC}++))?" (\d{{3}}) \S++'
    rf'(?: "({_ESC})" "((?:[^"\\\r\n]|\\.)*+)"?)?'
)

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_CACHE_MAX = 65_536
_SECONDS = {f"{i:02d}": i for i in range(61)}
_MISSING: Any = object()


class ClfTime:
    """Parses ``10/Oct/2000:13:55:36 -0700`` to epoch seconds.

    Every distinct string is parsed once (bounded caches, cleared when full: hot values come
    straight back); a new second within a known minute costs one more look-up, and the
    calendar arithmetic runs once per distinct day.
    """

    __slots__ = ("_days", "_minutes", "seen")

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self._minutes: dict[str, float] = {}
        self._days: dict[str, int] = {}

    def __call__(self, text: str) -> float | None:
        value = self.seen.get(text)
        if value is not None:
            return value
        minute = self._minutes.get(text[:17] + text[20:])
        if minute is not None and text[17] == ":":
            second = _SECONDS.get(text[18:20])
            value = None if second is None else minute + second
        else:
            value = self._parse(text)
        if value is not None:
            if len(self.seen) >= _CACHE_MAX:
                self.seen.clear()
            self.seen[text] = value
        return value

    def _parse(self, text: str) -> float | None:
        try:
            day_start = self._days.get(text[:11])
            if day_start is None:
                day, month, year = int(text[0:2]), _MONTHS[text[3:6]], int(text[7:11])
                if not 1 <= day <= 31 or text[2] != "/" or text[6] != "/":
                    return None
                day_start = calendar.timegm((year, month, day, 0, 0, 0))
                if len(self._days) >= _CACHE_MAX:
                    self._days.clear()
                self._days[text[:11]] = day_start
            hour, minute, second = int(text[12:14]), int(text[15:17]), int(text[18:20])
            offset = 0
            if len(text) >= 26:
                sign = -1 if text[21] == "-" else 1
                offset = sign * (int(text[22:24]) * 3600 + int(text[24:26]) * 60)
        except (ValueError, KeyError, IndexError):
            return None
        if not (hour < 24 and minute < 60 and second < 61) or text[11] != ":":
            return None
        minute_start = float(day_start + hour * 3600 + minute * 60 - offset)
        if len(self._minutes) >= _CACHE_MAX:
            self._minutes.clear()
        self._minutes[text[:17] + text[20:]] = minute_start
        return minute_start + second


def _unescape(value: str | None) -> str:
    if not value or value == "-":
        return ""
    if "\\" in value:
        value = value.replace('\\"', '"').replace("\\\\", "\\")
    return value


def split_request_line(line: str) -> tuple[str, str, str] | None:
    """``GET /a?b=1 HTTP/1.1`` -> (method, target, protocol); None for junk (TLS bytes, ``-``).

    The same rules as the combined-format pattern, for logs that give the request line as
    one field (JSON).
    """
    parts = line.split(" ")
    if len(parts) == 3:
        method, target, protocol = parts
    elif len(parts) == 2:  # HTTP/0.9 style, or a server that logs no protocol
        method, target = parts
        protocol = "HTTP/0.9"
    else:
        return None
    if not method.isascii() or not method.isalpha() or not method.isupper() or not target:
        return None
    if not (target.startswith("/") or target.startswith("http") or target == "*"):
        return None
    return method, target, protocol


def combined_fields() -> FieldParser:
    """Field parser for combined *and* common format lines (the latter have no referer/UA)."""
    plain = _PLAIN.match
    escaped = _ESCAPED.match
    parse_time = ClfTime()
    seen = parse_time.seen
    statuses: dict[str, int] = {}

    def parse(line: str) -> Fields | None:
        if "\\" in line:
            found = escaped(line)
            if found is None:
                return None
            ip, when, method, target, protocol, status, referer, agent = found.groups()
            referer, agent = _unescape(referer), _unescape(agent)
        else:
            found = plain(line)
            if found is None:
                return None
            ip, when, method, target, protocol, status, referer, agent = found.groups()
            if not referer or referer == "-":
                referer = ""
            if not agent or agent == "-":
                agent = ""
        timestamp = seen.get(when)
        if timestamp is None:
            timestamp = parse_time(when)
            if timestamp is None:
                return None
        code = statuses.get(status)
        if code is None:
            code = statuses[status] = int(status)  # at most 1,000 distinct three-digit codes
        return (ip, timestamp, method, target, protocol or "HTTP/0.9", code, agent, referer)

    return parse


def combined_client(line: str) -> str:
    """The client address a combined-format line starts with: what :func:`combined_fields`
    reads as ``ip`` whenever the line is valid (its first field ends at the first space)."""
    end = line.find(" ")
    return line[:end] if end >= 0 else line


def combined_clock() -> Callable[[str, float], float | None]:
    """``later(line, now)``: the line's timestamp if the line is valid and later than ``now``,
    else None. All a replay worker needs from a line another worker handles.

    Exact, and cheap in the common case: when the first ``[`` follows three plain fields
    (exactly three spaces and no quote before it), it is where the pattern would find the
    timestamp, so a timestamp no later than ``now`` settles it without matching the line (on
    a busy log, most lines share the previous line's second). Otherwise the line is matched.
    """
    parse_time = ClfTime()
    plain = _PLAIN.match
    escaped = _ESCAPED.match

    def later(line: str, now: float) -> float | None:
        start = line.find("[")
        end = line.find("]", start)
        if start > 0 and end > 0 and line.count(" ", 0, start) == 3 and \
                line.find('"', 0, start) < 0:
            timestamp = parse_time(line[start + 1:end])
            if timestamp is not None and timestamp <= now:
                return None
        found = (escaped if "\\" in line else plain)(line)
        if found is None:
            return None
        timestamp = parse_time(found.group(2))
        return timestamp if timestamp is not None and timestamp > now else None

    return later


def combined_parser() -> Callable[[str], LogRecord | None]:
    """Like :func:`combined_fields`, answering :class:`LogRecord` values."""
    fields = combined_fields()

    def parse(line: str) -> LogRecord | None:
        found = fields(line.rstrip("\r\n"))
        return None if found is None else LogRecord._make(found)

    return parse


# Field names used by common JSON access-log setups (nginx escape=json, Caddy, Traefik, ...).
_IP_KEYS = ("remote_addr", "client_ip", "ip", "remote_ip", "clientip", "ClientHost", "client")
_TIME_KEYS = ("time", "timestamp", "@timestamp", "time_local", "time_iso8601", "ts",
              "StartUTC", "msec")
_UA_KEYS = ("http_user_agent", "user_agent", "useragent", "agent", "ua",
            "request_User-Agent")
_REF_KEYS = ("http_referer", "referer", "referrer", "request_Referer")
_STATUS_KEYS = ("status", "status_code", "DownstreamStatus", "response")
_METHOD_KEYS = ("request_method", "method", "RequestMethod", "verb")
_PATH_KEYS = ("request_uri", "uri", "path", "url", "RequestPath")
_PROTO_KEYS = ("server_protocol", "protocol", "proto", "RequestProtocol", "httpversion")


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = obj.get(key)
        if value not in (None, ""):
            return value
    return None


def parse_time_value(value: Any, clf: ClfTime) -> float | None:
    """Epoch seconds from a number (s or ms), ISO 8601 text, or CLF text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if not isinstance(value, str):
        return None
    if "/" in value:  # CLF (nginx $time_local): neither a number nor ISO 8601
        return clf(value)
    try:
        return float(value) / 1000.0 if float(value) > 1e11 else float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return clf(value)
    if parsed.tzinfo is None:
        return float(calendar.timegm(parsed.timetuple())) + parsed.microsecond / 1e6
    return parsed.timestamp()


_FIELD_KEYS = (_IP_KEYS, _TIME_KEYS, _STATUS_KEYS, _METHOD_KEYS, _PATH_KEYS, _PROTO_KEYS,
               _UA_KEYS, _REF_KEYS)


class _Shape:
    """Where the fields of one JSON key set are: per field, the candidate names present in
    priority order (``present``), the first of them (``firsts``; None: the field is absent),
    and whether any field has a second name to fall back on (``more``)."""

    __slots__ = ("firsts", "more", "present")

    def __init__(self, obj: dict[str, Any]) -> None:
        self.present = tuple(tuple(k for k in keys if k in obj) for keys in _FIELD_KEYS)
        self.firsts = [keys[0] if keys else None for keys in self.present]
        self.more = any(len(keys) > 1 for keys in self.present)


def json_fields() -> FieldParser:
    """Field parser for JSON lines; the request may be one ``request`` string or separate
    fields. Caddy-style nesting (``{"request": {"remote_ip": ..., "headers": {...}}}``) is
    accepted too.

    A log writes the same keys on every line, so which of the candidate names each field can
    be found under is worked out once per key set (``shapes``) rather than tried name by name
    on every line; timestamp strings are parsed once each.
    """
    clf = ClfTime()
    shapes: dict[tuple[str, ...], _Shape] = {}
    times: dict[str, float | None] = {}

    def parse(line: str) -> Fields | None:
        try:
            obj = json.loads(line)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        request = obj.get("request")
        if isinstance(request, dict):  # Caddy: request details nested, headers as lists
            headers = request.get("headers") or {}
            flat = {**obj, **request}
            flat.pop("request", None)
            for name, key in (("User-Agent", "user_agent"), ("Referer", "referer")):
                value = headers.get(name)
                if isinstance(value, list) and value:
                    flat[key] = value[0]
            obj, request = flat, None
        shape = tuple(obj)
        known = shapes.get(shape)
        if known is None:
            if len(shapes) >= 1_024:
                shapes.clear()
            known = shapes[shape] = _Shape(obj)
        # One C-level pass reads every field under its first candidate name present.
        values = list(map(obj.get, known.firsts))
        if "" in values or (known.more and None in values):
            values = [_first(obj, keys) for keys in known.present]  # the rare careful way
        ip, when, status, method, target, protocol, agent, referer = values
        if isinstance(when, str):
            timestamp = times.get(when, _MISSING)
            if timestamp is _MISSING:
                if len(times) >= _CACHE_MAX:
                    times.clear()
                timestamp = times[when] = parse_time_value(when, clf)
        else:
            timestamp = parse_time_value(when, clf)
        if isinstance(request, str):
            parts = split_request_line(request)
        else:
            query = obj.get("query") or obj.get("query_string") or obj.get("args")
            if isinstance(target, str) and isinstance(query, str) and query and "?" not in target:
                target = f"{target}?{query}"
            protocol = protocol or "HTTP/1.1"
            ok = isinstance(method, str) and isinstance(target, str)
            parts = (method.upper(), target, str(protocol)) if ok else None  # type: ignore[union-attr]
        try:
            status_code = int(status)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if not isinstance(ip, str) or timestamp is None or parts is None:
            return None
        return (ip, timestamp, parts[0], parts[1], parts[2], status_code,
                agent if isinstance(agent, str) and agent != "-" else "",
                referer if isinstance(referer, str) and referer != "-" else "")

    return parse


def json_parser() -> Callable[[str], LogRecord | None]:
    """Like :func:`json_fields`, answering :class:`LogRecord` values."""
    fields = json_fields()

    def parse(line: str) -> LogRecord | None:
        found = fields(line)
        return None if found is None else LogRecord._make(found)

    return parse


FORMATS: dict[str, Callable[[], FieldParser]] = {
    "combined": combined_fields, "common": combined_fields, "json": json_fields}
"""Field parser factory per ``--format`` name (each call gets its own timestamp cache)."""

ShardHelpers = tuple[Callable[[str], str], Callable[[], Callable[[str, float], float | None]]]
SHARD_HELPERS: dict[str, ShardHelpers] = {
    "combined": (combined_client, combined_clock), "common": (combined_client, combined_clock)}
"""Per format, what lets a replay worker pass over other workers' lines without parsing
them: the line's client, and its timestamp when it moves the clock. Formats without an
entry (JSON) are parsed in full by every worker."""


def sniff_format(first_line: str) -> str:
    """``json`` when the first non-empty line looks like a JSON object, else ``combined``."""
    return "json" if first_line.lstrip().startswith("{") else "combined"
