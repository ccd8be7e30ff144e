"""``Secure`` on the clearance cookie behind a TLS-terminating proxy.

Reported: the app speaks plain HTTP to its proxy, so the clearance cookie went out without
``Secure`` though the browser used HTTPS (a later plain-HTTP request would carry it in the
clear). ``X-Forwarded-Proto`` (or ``Forwarded: proto=``) from a trusted proxy, Django's
``SECURE_PROXY_SSL_HEADER`` and werkzeug's ``ProxyFix`` now count, and
``cookie_secure = "auto" | true | false`` decides.
"""

from __future__ import annotations

import pytest

from antiscrape.clock import ManualClock

from .drive import HEADLESS_API, answer, challenge, engine, solve

PROXY = "10.0.0.2"


def set_cookie(clock: ManualClock, peer: str, extra: dict[str, str], **config) -> str:
    e, _ = engine(clock, **config)
    headers = {**HEADLESS_API, **extra}
    ch = challenge(e, peer, headers)
    d = answer(e, ch["token"], solve(ch["seed"], ch["difficulty"]), peer, headers)
    assert d.reply is not None and d.reply.status == 303, d
    return dict(d.reply.headers)["set-cookie"]


@pytest.mark.parametrize(("extra", "config", "secure"), [
    ({"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7"},
     {"trusted_proxies": ["10.0.0.0/8"]}, True),
    ({"x-forwarded-proto": "http, https", "x-forwarded-for": "198.51.100.7"},
     {"trusted_proxies": ["10.0.0.0/8"]}, True),          # the nearest proxy's value counts
    ({"forwarded": "for=198.51.100.7;proto=https"},
     {"trusted_proxies": ["10.0.0.0/8"], "forwarded_header": "forwarded"}, True),
    ({"x-forwarded-proto": "http", "x-forwarded-for": "198.51.100.7"},
     {"trusted_proxies": ["10.0.0.0/8"]}, False),
    ({"x-forwarded-proto": "https"}, {}, False),            # nobody trusted: the client's text
    ({}, {"trusted_proxies": ["10.0.0.0/8"], "cookie_secure": True}, True),
    ({"x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7"},
     {"trusted_proxies": ["10.0.0.0/8"], "cookie_secure": False}, False),
])
def test_secure_behind_a_trusted_tls_proxy(clock: ManualClock, extra, config, secure) -> None:
    cookie = set_cookie(clock, PROXY, extra, **config)
    assert cookie.endswith("; Secure") is secure, cookie


def test_an_untrusted_peer_cannot_claim_https(clock: ManualClock) -> None:
    cookie = set_cookie(clock, "203.0.113.9", {"x-forwarded-proto": "https"},
                        trusted_proxies=["10.0.0.0/8"])
    assert "Secure" not in cookie


def test_django_secure_proxy_ssl_header_and_flask_proxyfix() -> None:
    """Through the real adapters: the operator's framework setting makes the request
    secure, and the clearance cookie says so."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from tests.behaviour.django_project import ensure_django
    from tests.behaviour.sites import build
    from tests.conftest import SECRET
    from tests.test_challenge_flow import LADDER

    from .drive import HEADLESS

    ensure_django()
    from django.test.utils import override_settings

    from antiscrape.engine import Engine

    for name in ("django-wsgi", "django-asgi", "flask"):
        site = build(name, Engine({"secret_key": SECRET, "challenge": {"ladder": LADDER}},
                                  clock=ManualClock()))
        try:
            if name == "flask":
                site.app.wsgi_app = ProxyFix(site.app.wsgi_app, x_proto=1)
            with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
                page = site.get("/", {**HEADLESS, "accept": "application/json",
                                      "x-forwarded-proto": "https"})
                ch = page.json()["challenge"]
                url = (f"/.antiscrape/verify?t={ch['answer']['query']['t']}"
                       f"&n={solve(ch['seed'], ch['difficulty'])}")
                r = site.post(url, {**HEADLESS, "accept": "application/json",
                                    "x-forwarded-proto": "https"})
            assert r.status_code == 303, (name, r.text)
            assert r.headers["set-cookie"].endswith("; Secure"), name
        finally:
            site.close()
