"""The bodies antiscrape answers with: a small HTML page for browsers, problem+json for APIs.

Every adapter sends these as they are, so the answers cannot drift between frameworks. The
reason is the only request-derived text and it is always escaped.
"""

from __future__ import annotations

import html
import json

from .decision import Headers, Reply

TITLES = {
    403: "Access denied",
    429: "Too many requests",
    503: "Service temporarily unavailable",
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;
color:#222}}h1{{font-size:1.4rem}}p.r{{color:#555}}</style></head>
<body><main role="main"><h1>{title}</h1><p role="status">{message}</p>
<p class="r">Reason: {reason}</p></main></body></html>
"""

_MESSAGES = {
    403: "This request was refused by the site's abuse protection.",
    429: "You are sending requests faster than this site allows. Please wait {wait} and retry.",
    503: "The site's protection could not be checked. Please retry in a moment.",
}


GENERIC_REASONS = {
    403: "refused by the site's abuse protection",
    429: "request budget exceeded",
    503: "protection temporarily unavailable",
}
"""What a client is told unless ``expose_reasons``: naming the exact budget or signal that
caught it ("budget 1/min per IP") teaches a scraper what to change. Logs and the status page
keep the detail."""


def public_reason(status: int, reason: str, expose: bool) -> str:
    return reason if expose else GENERIC_REASONS.get(status, "request refused")


def protective_headers(content_type: str, csp: str, vary: str = "Accept"
                       ) -> list[tuple[str, str]]:
    """Headers every page antiscrape answers with carries: never cached or sniffed, never
    framed (a refusal or challenge page inside another site's frame is a clickjacking
    surface), never indexed, and a ``Vary`` naming what the body was chosen by (HTML or
    JSON by ``Accept``)."""
    if "frame-ancestors" not in csp:
        csp += "; frame-ancestors 'none'"
    return [
        ("content-type", content_type),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-robots-tag", "noindex, nofollow"),
        ("content-security-policy", csp),
        ("x-frame-options", "DENY"),
        ("vary", vary),
    ]


def wants_html(accept: str) -> bool:
    """Browsers navigating ask for HTML; API clients (JSON, ``*/*``, no Accept) get JSON.

    The one test every answer of ours uses (refusals and challenges alike), so a client never
    gets a JSON 429 and an HTML challenge for the same request.
    """
    accept = accept.lower()
    return "text/html" in accept or "application/xhtml+xml" in accept


def _seconds(n: int | None) -> str:
    if not n:
        return "a moment"
    return "1 second" if n == 1 else f"{n} seconds"


def refusal(status: int, reason: str, accept: str, retry_after: int | None = None,
            extra: Headers = ()) -> Reply:
    """A 403/429/503 answer in the form the client asked for."""
    title = TITLES.get(status, "Request refused")
    if wants_html(accept):
        message = _MESSAGES.get(status, "").format(wait=_seconds(retry_after))
        body = _PAGE.format(title=title, message=html.escape(message),
                            reason=html.escape(reason)).encode()
        headers = protective_headers("text/html; charset=utf-8",
                                     "default-src 'none'; style-src 'unsafe-inline'")
    else:
        problem: dict[str, object] = {"type": "about:blank", "title": title, "status": status,
                                      "detail": reason}
        if retry_after is not None:
            problem["retry_after"] = retry_after
        body = json.dumps(problem).encode()
        headers = protective_headers("application/problem+json", "default-src 'none'")
    if retry_after is not None:
        headers.append(("retry-after", str(retry_after)))
    headers.append(("content-length", str(len(body))))
    headers.extend(extra)
    return Reply(status, tuple(headers), body)
