"""Access-log line parsers: nginx/Apache combined and common format, and JSON lines.

Each parser turns one line into a :class:`LogRecord` or ``None`` (malformed: the caller counts
and skips it; a bad line is never fatal). They are written for throughput, since replay must
keep up with tens of thousands of lines per second: one compiled regex per line and a
timestamp parser that remembers the last string it saw (consecutive lines mostly share it).
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


# %h %l %u [%t] "%r" %>s %b ["%{Referer}i" "%{User-Agent}i"]; quoted fields may hold \"
# escapes. The user agent's closing quote is optional: servers truncate over-long agents.
_CLF = re.compile(
    r'(\S+) \S+ (?:\S+|"[^"]*") \[([^\]]+)\] "([^"\\]*(?:\\.[^"\\]*)*)" (\d{3}) \S+'
    r'(?: "([^"\\]*(?:\\.[^"\\]*)*)" "([^"\\]*(?:\\.[^"\\]*)*)"?)?'
)

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


class ClfTime:
    """Parses ``10/Oct/2000:13:55:36 -0700`` to epoch seconds, caching the previous answer."""

    __slots__ = ("_last", "_value")

    def __init__(self) -> None:
        self._last = ""
        self._value = 0.0

    def __call__(self, text: str) -> float | None:
        if text == self._last:
            return self._value
        try:
            day = int(text[0:2])
            month = _MONTHS[text[3:6]]
            year = int(text[7:11])
            hour, minute, second = int(text[12:14]), int(text[15:17]), int(text[18:20])
            offset = 0
            if len(text) >= 26:
                sign = -1 if text[21] == "-" else 1
                offset = sign * (int(text[22:24]) * 3600 + int(text[24:26]) * 60)
            value = float(calendar.timegm((year, month, day, hour, minute, second)) - offset)
        except (ValueError, KeyError, IndexError):
            return None
        if not (1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
            return None
        self._last, self._value = text, value
        return value


def _unescape(value: str | None) -> str:
    if not value or value == "-":
        return ""
    if "\\" in value:
        value = value.replace('\\"', '"').replace("\\\\", "\\")
    return value


def split_request_line(line: str) -> tuple[str, str, str] | None:
    """``GET /a?b=1 HTTP/1.1`` -> (method, target, protocol); None for junk (TLS bytes, ``-``)."""
    parts = line.split(" ")
    if len(parts) == 3:
        method, target, protocol = parts
    elif len(parts) == 2:  # HTTP/0.9 style, or a server that logs no protocol
        method, target = parts
        protocol = "HTTP/0.9"
    else:
        return None
    if not method.isalpha() or not method.isupper() or not target:
        return None
    if not (target.startswith("/") or target.startswith("http") or target == "*"):
        return None
    return method, target, protocol


def combined_parser() -> Callable[[str], LogRecord | None]:
    """A parser for combined *and* common format lines (the latter have no referer/UA)."""
    match = _CLF.match
    parse_time = ClfTime()

    def parse(line: str) -> LogRecord | None:
        found = match(line)
        if found is None:
            return None
        ip, when, request, status, referer, agent = found.groups()
        timestamp = parse_time(when)
        parts = split_request_line(request)
        if timestamp is None or parts is None:
            return None
        return LogRecord(ip, timestamp, parts[0], parts[1], parts[2], int(status),
                         _unescape(agent), _unescape(referer))

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


def json_parser() -> Callable[[str], LogRecord | None]:
    """A parser for JSON lines; the request may be one ``request`` string or separate fields.

    Caddy-style nesting (``{"request": {"remote_ip": ..., "headers": {...}}}``) is accepted too.
    """
    clf = ClfTime()

    def parse(line: str) -> LogRecord | None:
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
        ip = _first(obj, _IP_KEYS)
        timestamp = parse_time_value(_first(obj, _TIME_KEYS), clf)
        status = _first(obj, _STATUS_KEYS)
        if isinstance(request, str):
            parts = split_request_line(request)
        else:
            method, target = _first(obj, _METHOD_KEYS), _first(obj, _PATH_KEYS)
            query = obj.get("query") or obj.get("query_string") or obj.get("args")
            if isinstance(target, str) and isinstance(query, str) and query and "?" not in target:
                target = f"{target}?{query}"
            protocol = _first(obj, _PROTO_KEYS) or "HTTP/1.1"
            ok = isinstance(method, str) and isinstance(target, str)
            parts = (method.upper(), target, str(protocol)) if ok else None  # type: ignore[union-attr]
        try:
            status_code = int(status)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if not isinstance(ip, str) or timestamp is None or parts is None:
            return None
        agent = _first(obj, _UA_KEYS)
        referer = _first(obj, _REF_KEYS)
        return LogRecord(ip, timestamp, parts[0], parts[1], parts[2], status_code,
                         agent if isinstance(agent, str) and agent != "-" else "",
                         referer if isinstance(referer, str) and referer != "-" else "")

    return parse


FORMATS = {"combined": combined_parser, "common": combined_parser, "json": json_parser}


def sniff_format(first_line: str) -> str:
    """``json`` when the first non-empty line looks like a JSON object, else ``combined``."""
    return "json" if first_line.lstrip().startswith("{") else "combined"
