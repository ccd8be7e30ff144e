"""Who is asking: client IP behind trusted proxies, its network, and a fingerprint id.

The client IP is only taken from a forwarding header when the socket peer is a proxy the
operator trusts, and then by walking the chain from the right: every hop appended by a
trusted proxy is skipped, the first untrusted hop is the client. The left-most value is
whatever the client wrote, so it is never believed on its own.

Exactly one forwarding header is read: the one the operator's proxy writes
(``forwarded_header``). Proxies append to (or overwrite) their own header and pass every
other one through untouched, so a second header is whatever the client wrote: reading it,
or falling back to it when the first is absent, lets a client choose its own address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .cache import BoundedCache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_UNKNOWN = "unknown"


def parse_ip(value: str) -> IPAddress | None:
    """Parse an address as it appears in headers (brackets, ports, IPv4-mapped v6); None if bad."""
    value = value.strip().strip('"')
    if not value or len(value) > 64:
        return None
    if value.startswith("["):  # [v6]:port or [v6]
        end = value.find("]")
        if end < 0:
            return None
        value = value[1:end]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")
"""The forwarding headers an operator may name; the first is the default (what nginx's
``$proxy_add_x_forwarded_for``, HAProxy's ``option forwardfor``, Caddy and most load
balancers write)."""


def forwarded_for(header: str) -> list[str]:
    """The ``for=`` values of an RFC 7239 ``Forwarded`` header, in order."""
    out = []
    for element in header.split(","):
        for pair in element.split(";"):
            key, sep, value = pair.partition("=")
            if sep and key.strip().lower() == "for":
                out.append(value.strip().strip('"'))
    return out


def describe_client_ip(trusted_proxies: tuple[str, ...], header: str) -> str:
    """One sentence saying where the client IP comes from, for ``antiscrape check`` and logs:
    an operator reads exactly which header is believed, from whom, and which are ignored."""
    if not trusted_proxies:
        return ("client IP: the socket peer; no forwarding header is read (trusted_proxies "
                "is empty). Behind a proxy every client would share the proxy's address: "
                "list the proxy in trusted_proxies.")
    ignored = ", ".join(h for h in FORWARDING_HEADERS if h != header)
    return (f"client IP: from '{header}' when the socket peer is one of "
            f"{', '.join(trusted_proxies)}, read from the right past trusted hops; "
            f"{ignored} are ignored, also when '{header}' is missing (no fallback). "
            "Other peers: the socket peer.")


class ClientAddressing:
    """Turns a socket peer plus headers into (client key, network key), cached per peer.

    ``client key`` is the IP (IPv6: its /64, since one subscriber gets a whole /64);
    ``network key`` is the /24 or /48 the address sits in.
    """

    def __init__(self, trusted: tuple[Any, ...], v4_prefix: int = 24, v6_prefix: int = 48,
                 v6_client_prefix: int = 64, cache_size: int = 50_000,
                 header: str = FORWARDING_HEADERS[0]) -> None:
        if header not in FORWARDING_HEADERS:
            raise ValueError(f"forwarding header must be one of {FORWARDING_HEADERS}")
        self.trusted = trusted
        self.header = header
        """The one forwarding header believed (from trusted peers only); never another."""
        self.v4_prefix = v4_prefix
        self.v6_prefix = v6_prefix
        self.v6_client_prefix = v6_client_prefix
        self._keys: BoundedCache[str, tuple[str, str]] = BoundedCache(cache_size)
        self._trusted_peer: BoundedCache[str, bool] = BoundedCache(cache_size)

    def is_trusted(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.trusted)

    def _peer_trusted(self, peer: str) -> bool:
        known = self._trusted_peer.get(peer)
        if known is None:
            ip = parse_ip(peer)
            known = self._trusted_peer.put(peer, ip is not None and self.is_trusted(ip))
        return known

    def client_ip(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The client's address as text (or ``"unknown"`` when there is no usable peer)."""
        if not peer:
            return _UNKNOWN
        if not self.trusted or not self._peer_trusted(peer):
            return peer
        value = headers.get(self.header)
        if not value:  # no fallback to another header: that one would be the client's text
            return peer
        hops = forwarded_for(value) if self.header == "forwarded" else value.split(",")
        client = peer
        for raw in reversed(hops):
            ip = parse_ip(raw)
            if ip is None:
                # A trusted proxy would not write garbage: everything left of here is the
                # client's own text. The last trusted hop is the best we know.
                break
            client = str(ip)
            if not self.is_trusted(ip):
                break
        return client

    def keys(self, ip_text: str) -> tuple[str, str]:
        """(client key, network key) for an address, cached."""
        cached = self._keys.get(ip_text)
        if cached is not None:
            return cached
        ip = parse_ip(ip_text)
        if ip is None:
            result = (ip_text[:64] or _UNKNOWN, _UNKNOWN)
        elif ip.version == 4:
            net = ipaddress.ip_network(f"{ip}/{self.v4_prefix}", strict=False)
            result = (str(ip), str(net))
        else:
            client = ipaddress.ip_network(f"{ip}/{self.v6_client_prefix}", strict=False)
            net = ipaddress.ip_network(f"{ip}/{self.v6_prefix}", strict=False)
            key = str(ip) if self.v6_client_prefix == 128 else str(client)
            result = (key, str(net))
        return self._keys.put(ip_text, result)


#: Headers whose values (and order) say which client software built the request.
FINGERPRINT_HEADERS = (
    "user-agent", "accept", "accept-language", "accept-encoding", "sec-ch-ua",
    "sec-ch-ua-platform", "sec-ch-ua-mobile", "upgrade-insecure-requests",
)
_NO_VALUES = ("",) * len(FINGERPRINT_HEADERS)
_NOT_TRAITS = ("cookie", "content-length")
"""Header names left out of the order trait: they come and go within one client."""


def fingerprint_material(headers: Mapping[str, str], tls_header: str = "") -> str:
    """The non-IP traits a fingerprint id hashes: selected header values, the order in which
    the client sent its header names (HTTP libraries differ), and a proxy's TLS fingerprint.

    A crawler rotating IPs keeps all of these, so it keeps one fingerprint id.
    """
    # Computed on every protected read: the names are joined directly unless one of the two
    # left-out headers is present.
    parts = list(map(headers.get, FINGERPRINT_HEADERS, _NO_VALUES))
    if "cookie" in headers or "content-length" in headers:
        parts.append(",".join([n for n in headers if n not in _NOT_TRAITS]))
    else:
        parts.append(",".join(headers))
    if tls_header:
        parts.append(headers.get(tls_header, ""))
    return "\x1f".join(parts)

