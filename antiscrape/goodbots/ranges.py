"""Published crawler IP ranges: loading the shipped data, fast membership, and refreshing it.

Membership is answered with a binary search over sorted integer intervals, so checking an IP
against a vendor's hundreds of prefixes costs a couple of comparisons, not one ``ipaddress``
object per prefix.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

SHIPPED = "bot-ranges.json"


def shipped_path() -> Path:
    """The ranges file that ships inside the package."""
    return Path(str(resources.files("antiscrape.goodbots") / "data" / SHIPPED))


class Intervals:
    """A set of IP networks as sorted, merged ``[start, end]`` integer intervals per family."""

    __slots__ = ("_v4", "_v6")

    def __init__(self, cidrs: Iterable[str]) -> None:
        spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for cidr in cidrs:
            net = ipaddress.ip_network(cidr, strict=False)
            spans[net.version].append((int(net.network_address), int(net.broadcast_address)))
        self._v4 = _merge(spans[4])
        self._v6 = _merge(spans[6])

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        starts, ends = self._v4 if ip.version == 4 else self._v6
        value = int(ip)
        i = bisect.bisect_right(starts, value) - 1
        return i >= 0 and value <= ends[i]

    def __bool__(self) -> bool:
        return bool(self._v4[0] or self._v6[0])


def _merge(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(spans):
        if ends and start <= ends[-1] + 1:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


@dataclass(frozen=True)
class RangeData:
    """Bot name -> CIDR strings, plus where each came from."""

    ranges: Mapping[str, tuple[str, ...]]
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    as_of: str = ""

    def tables(self) -> dict[str, Intervals]:
        return {name: Intervals(cidrs) for name, cidrs in self.ranges.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "as_of": self.as_of,
            "sources": {k: list(v) for k, v in self.sources.items()},
            "ranges": {k: list(v) for k, v in self.ranges.items()},
        }


def load_ranges(path: str | Path | None = None) -> RangeData:
    """Read a ranges file (the shipped one by default); every CIDR is checked on load."""
    p = Path(path) if path else shipped_path()
    with p.open("rb") as fh:
        raw = json.load(fh)
    if not isinstance(raw, dict) or not isinstance(raw.get("ranges"), dict):
        raise ValueError(f"{p}: not an antiscrape bot-ranges file (no 'ranges' table)")
    ranges: dict[str, tuple[str, ...]] = {}
    for name, cidrs in raw["ranges"].items():
        for cidr in cidrs:
            ipaddress.ip_network(cidr, strict=False)  # raises ValueError naming the bad value
        ranges[name] = tuple(cidrs)
    sources = {k: tuple(v) for k, v in raw.get("sources", {}).items()}
    return RangeData(ranges=ranges, sources=sources, as_of=str(raw.get("as_of", "")))


def prefixes_from_vendor(document: Any) -> list[str]:
    """Pull the CIDRs out of a vendor's published document.

    Google, Bing, Apple, OpenAI and Perplexity publish ``{"prefixes": [{"ipv4Prefix": ...} |
    {"ipv6Prefix": ...}]}``; a plain list of CIDR/IP strings is accepted too. Anything that does
    not parse as a network is rejected so a changed format cannot silently empty a list.
    """
    items: Iterable[Any]
    if isinstance(document, dict) and isinstance(document.get("prefixes"), list):
        items = document["prefixes"]
    elif isinstance(document, list):
        items = document
    else:
        raise ValueError("unknown format: expected {'prefixes': [...]} or a list")
    out: list[str] = []
    for item in items:
        values = item.values() if isinstance(item, dict) else [item]
        for value in values:
            if not isinstance(value, str):
                continue
            try:
                out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
            except ValueError:
                continue
    if not out:
        raise ValueError("no IP prefixes found in the document")
    return out


@dataclass
class UpdateReport:
    data: RangeData
    updated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def fetch_json(url: str, timeout: float) -> Any:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"only http(s) URLs are fetched, not {url!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "antiscrape-update-bot-ranges"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def refresh(current: RangeData, *, urls: Mapping[str, tuple[str, ...]] | None = None,
            timeout: float = 10.0) -> UpdateReport:
    """Fetch every vendor's list; keep the current ranges of any vendor that failed.

    A vendor counts as updated only when all of its URLs answered with usable prefixes, so a
    half-fetched vendor never loses the ranges it had.
    """
    sources = dict(urls) if urls is not None else dict(current.sources)
    ranges = dict(current.ranges)
    report = UpdateReport(data=current)
    for name, vendor_urls in sources.items():
        collected: list[str] = []
        try:
            for url in vendor_urls:
                collected.extend(prefixes_from_vendor(fetch_json(url, timeout)))
        except (OSError, ValueError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", None) or exc
            report.failed[name] = f"{vendor_urls[0] if vendor_urls else '?'}: {reason}"
            continue
        ranges[name] = tuple(dict.fromkeys(collected))
        report.updated.append(name)
    as_of = datetime.now(UTC).strftime("%Y-%m-%d") if report.updated else current.as_of
    report.data = RangeData(ranges=ranges, sources={**current.sources, **sources}, as_of=as_of)
    return report
