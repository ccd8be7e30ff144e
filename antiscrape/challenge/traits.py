"""Automation traits the challenge page observes in the browser that solves it.

The page's script (``assets/challenge.js``) looks at a few things an automated browser shows
and a person's does not, and sends their codes with its answer; the server keeps the ones it
knows in the signed clearance, so the clearance an automated browser earns keeps its
automation score and budget. Honest limits: the script runs on the client, so a crawler that
patches these properties away is not caught by them (its user agent, headers and reading
pattern still are); they catch the common case, a stock headless or WebDriver-driven browser.
"""

from __future__ import annotations

#: Code -> what it means (the codes are what the page sends, and what logs show).
TRAITS: dict[str, str] = {
    "webdriver": "navigator.webdriver is true (the browser is driven by automation)",
    "headless": "the browser says it is headless (HeadlessChrome in its user agent or brands)",
    "no-ua-data": "a Chromium user agent (not a WebView) in a secure context without "
                  "navigator.userAgentData",
    "ua-data-brands": "navigator.userAgentData without a Chromium brand",
    "ua-data-version": "navigator.userAgentData's Chromium version is not the user agent's",
    "ua-data-unexpected": "navigator.userAgentData in a browser whose user agent is not "
                          "Chromium",
    "automation-ua": "the user agent that solved the challenge is automated",
}

_MAX_CHARS = 200
"""More than every code together: anything longer is not our page's answer."""


def parse(text: str) -> str:
    """The known codes in ``text`` ("." separated), sorted and deduplicated, as one string.

    Unknown codes are dropped (never echoed anywhere), so the clearance carries only values
    of this table whatever the client sends.
    """
    if not text or len(text) > _MAX_CHARS:
        return ""
    return ".".join(sorted({code for code in text.split(".") if code in TRAITS}))


def describe(traits: str) -> str:
    """Short text for a reason: the codes, comma separated."""
    return ", ".join(traits.split(".")) if traits else ""
