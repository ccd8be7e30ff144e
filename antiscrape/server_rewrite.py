"""Noticing that the application server rewrote the socket peer before antiscrape saw it.

uvicorn (``--proxy-headers`` is on by default and trusts 127.0.0.1), gunicorn running uvicorn
workers, hypercorn's and werkzeug's ``ProxyFix`` replace the ASGI ``client`` / WSGI
``REMOTE_ADDR`` with an address taken from ``X-Forwarded-For`` (or ``Forwarded``) when the
connection comes from a host *they* trust. antiscrape then never sees the real peer, so its
own ``trusted_proxies`` cannot apply: with ``trusted_proxies = []`` a value the server
believed is counted as the client, whoever wrote it.

The rewrite leaves a mark: the forwarding header stays in the request, and the peer the
application is handed is that header's right-most address. A client that connects directly
and writes its own address there looks the same, so this is a warning, logged once, never a
decision. The safe server flags are in docs/deploying-behind-a-proxy.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from .identity import forwarded_for, parse_ip

log = logging.getLogger("antiscrape")

DOCS = "docs/deploying-behind-a-proxy.md"


def rewritten_from(peer: str | None, headers: Mapping[str, str]) -> str | None:
    """The forwarding header the server apparently took ``peer`` from, or None.

    Pure and cheap: most requests carry no forwarding header and cost two look-ups.
    """
    if not peer:
        return None
    for name in ("x-forwarded-for", "forwarded"):
        value = headers.get(name)
        if not value:
            continue
        hops = forwarded_for(value) if name == "forwarded" else value.split(",")
        if not hops:
            continue
        last = parse_ip(hops[-1])
        own = parse_ip(peer)
        if last is not None and last == own:
            return name
    return None


def warning_text(header: str, peer_trusted: bool) -> str:
    """What the operator reads: what happened, why it matters, what to change."""
    consequence = (
        "antiscrape cannot check the real sender against trusted_proxies, and with "
        "trusted_proxies = [] it counts whatever address the server believed")
    if peer_trusted:
        consequence = "antiscrape and the server both walk the chain; their trust lists " \
                      "must agree"
    return (f"antiscrape: the application server seems to have replaced the socket peer "
            f"with the last address of '{header}' (uvicorn --proxy-headers, the default, "
            f"gunicorn with uvicorn workers, hypercorn or werkzeug ProxyFix): {consequence}. "
            f"Run uvicorn with --no-proxy-headers (or --forwarded-allow-ips set to your "
            f"proxy alone) and list the proxy in trusted_proxies; see {DOCS}. (A client "
            f"connecting directly that writes its own address in '{header}' looks the same.)")


class ServerRewriteCheck:
    """Looks at clients until it has warned once, then costs one attribute read."""

    __slots__ = ("trusted", "warned")

    def __init__(self, trusted: bool) -> None:
        self.trusted = trusted
        self.warned = False

    def __call__(self, peer: str | None, headers: Mapping[str, str]) -> None:
        if self.warned:
            return
        header = rewritten_from(peer, headers)
        if header is not None:
            self.warned = True
            log.warning(warning_text(header, self.trusted))


def environment_warnings(environ: Mapping[str, str]) -> list[str]:
    """Server settings visible in the process environment that make a forged forwarding
    header count as the peer (read once at start-up, e.g. by a Django system check)."""
    out = []
    if environ.get("FORWARDED_ALLOW_IPS", "").strip() == "*":
        out.append("FORWARDED_ALLOW_IPS='*': uvicorn and gunicorn believe X-Forwarded-For "
                   "from every peer, so any client chooses the address antiscrape counts; "
                   f"set it to your proxy's address (see {DOCS})")
    return out
