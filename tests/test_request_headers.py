"""Two per-request steps every fingerprint depends on: decoding ASGI headers and building the
fingerprint material. A difference between the usual path and the folding one would change
fingerprints (and so budgets) depending on how a server sent its headers.
"""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antiscrape.identity import fingerprint_material
from antiscrape.integrations.starlette import AntiScrapeMiddleware
from antiscrape.request import asgi_headers, cookie_value, cookie_values, headers_from_pairs

SECRET = "request-headers-secret-0123456789abcdef"

NAMES = st.sampled_from([b"host", b"user-agent", b"accept", b"cookie", b"x-odd", b"sec-ch-ua",
                         b"content-length", b"\xff\xfe", b""])
RAW = st.binary(max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, RAW), max_size=12))
def test_asgi_headers_decode_like_the_fold(pairs: list[tuple[bytes, bytes]]) -> None:
    """Lower-case names (what ASGI servers send), odd bytes, repeated names: the usual path
    and the fold agree, and repeated names are joined, never dropped."""
    decoded = asgi_headers(pairs)
    assert decoded == headers_from_pairs(pairs)
    assert set(decoded) == {n.decode("latin-1") for n, _ in pairs}


def test_the_starlette_adapter_folds_repeated_headers_and_keeps_odd_bytes() -> None:
    middleware = AntiScrapeMiddleware(lambda scope, receive, send: None,
                                      {"secret_key": SECRET})
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
             "client": ("203.0.113.5", 1234),
             "headers": [(b"cookie", b"a=1"), (b"user-agent", b"\xffbot"), (b"cookie", b"b=2")]}
    view = middleware.view(scope)
    assert view.headers == {"cookie": "a=1; b=2", "user-agent": "\xffbot"}
    scope["headers"] = [(b"accept", b"*/*"), (b"user-agent", b"x")]
    assert middleware.view(scope).headers == {"accept": "*/*", "user-agent": "x"}


def test_fingerprint_material_reads_the_header_order_without_cookie_and_length() -> None:
    headers = {"host": "h", "cookie": "c=1", "user-agent": "ua", "content-length": "3",
               "accept": "*/*"}
    material = fingerprint_material(headers)
    assert material.split("\x1f")[-1] == "host,user-agent,accept"
    assert material.split("\x1f")[:2] == ["ua", "*/*"]
    assert fingerprint_material(headers, "x-tls") == material + "\x1f"
    assert fingerprint_material({**headers, "x-tls": "t1"}, "x-tls").endswith(
        "host,user-agent,accept,x-tls\x1ft1")


def test_other_mappings_give_the_same_material_and_bad_values_raise() -> None:
    headers = {"user-agent": "ua", "cookie": "c"}
    assert fingerprint_material(MappingProxyType(headers)) == fingerprint_material(headers)
    for bad in ({"user-agent": 3}, {"accept": None}):
        with pytest.raises(TypeError):
            fingerprint_material(bad)  # type: ignore[arg-type]


def _first_value(header: str, name: str) -> str | None:
    """The reading the engine promises, written the plain way: the first pair whose trimmed
    name matches, its trimmed value without one pair of surrounding double quotes."""
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return None


_COOKIE_TEXT = st.text(alphabet=st.sampled_from('ab=; "\t_-x9\x00é'), max_size=60)


@settings(max_examples=400, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(["a", "b", " a", "ab", "a b", ""]),
                                _COOKIE_TEXT), max_size=6),
       junk=_COOKIE_TEXT)
def test_cookie_values_reads_both_cookies_in_one_pass_like_reading_each(
        pairs: list[tuple[str, str]], junk: str) -> None:
    """One pass finds the clearance and the visitor cookie exactly as two separate reads
    would, whatever the header holds (repeated names, stray separators, quotes, control
    characters): never an exception, an empty name never found."""
    header = "; ".join(f"{k}={v}" for k, v in pairs) + junk
    assert cookie_values(header, ("a", "b")) == (_first_value(header, "a"),
                                                 _first_value(header, "b"))
    assert cookie_values(header, ("", "b")) == (None, _first_value(header, "b"))
    assert cookie_value(header, "a") == _first_value(header, "a")
    assert cookie_values("", ("a", "b")) == (None, None)
