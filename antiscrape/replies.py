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
    headers: list[tuple[str, str]] = [("cache-control", "no-store")]
    if retry_after is not None:
        headers.append(("retry-after", str(retry_after)))
    if wants_html(accept):
        message = _MESSAGES.get(status, "").format(wait=_seconds(retry_after))
        body = _PAGE.format(title=title, message=html.escape(message),
                            reason=html.escape(reason)).encode()
        headers.append(("content-type", "text/html; charset=utf-8"))
        headers.append(("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'"))
    else:
        problem: dict[str, object] = {"type": "about:blank", "title": title, "status": status,
                                      "detail": reason}
        if retry_after is not None:
            problem["retry_after"] = retry_after
        body = json.dumps(problem).encode()
        headers.append(("content-type", "application/problem+json"))
    headers.append(("content-length", str(len(body))))
    headers.extend(extra)
    return Reply(status, tuple(headers), body)
