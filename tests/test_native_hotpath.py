"""The C versions of two per-request steps give exactly what their Python versions give.

Every ASGI request's headers are decoded by ``native.decode_asgi_headers`` and every protected
read builds ``identity.fingerprint_material``; both run in C when the extension is built. A
difference would change fingerprints (and so budgets) depending on whether a machine had a
compiler, so the two are compared on generated input, odd bytes and odd mappings included.
"""

from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antiscrape import native
from antiscrape.identity import (
    FINGERPRINT_HEADERS,
    fingerprint_material,
    python_fingerprint_material,
)
from antiscrape.integrations.starlette import AntiScrapeMiddleware

SECRET = "native-hotpath-secret-0123456789abcdef"


def test_the_extension_is_built_and_used() -> None:
    """On this project's machines the extension is always built: a silent fallback would
    leave the C code untested here."""
    assert native.native_available(), "antiscrape._native is not built: run `make install`"
    assert native.decode_asgi_headers is native.C.decode_headers
    assert fingerprint_material is native.C.fingerprint_material


NAMES = st.sampled_from([b"host", b"user-agent", b"accept", b"cookie", b"x-odd", b"sec-ch-ua",
                         b"content-length", b"\xff\xfe", b""])
RAW = st.binary(max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, RAW), max_size=12), st.booleans())
def test_header_decoding_matches_the_python_version(pairs: list[tuple[bytes, bytes]],
                                                    as_lists: bool) -> None:
    raw: list = [list(p) for p in pairs] if as_lists else pairs
    c = native.C.decode_headers(raw)
    python = native._decode_asgi_headers(raw)
    assert c == python
    if len({name for name, _ in pairs}) < len(pairs):
        assert c is None  # a repeated name is the fold's to join
    else:
        assert c == {n.decode("latin-1"): v.decode("latin-1") for n, v in pairs}


@pytest.mark.parametrize("pairs", [
    [(b"a", "text")], [("a", b"text")], [(b"a", b"1", b"2")], [(b"a",)], [b"ab"],
    ((b"a", bytearray(b"1")),),
])
def test_pairs_that_are_not_two_bytes_objects_go_to_the_fold(pairs: list) -> None:
    assert native.C.decode_headers(pairs) is None


def test_the_starlette_adapter_folds_repeated_headers_and_keeps_odd_bytes() -> None:
    middleware = AntiScrapeMiddleware(lambda scope, receive, send: None,
                                      {"secret_key": SECRET})
    middleware._routes = []
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"",
             "client": ("203.0.113.5", 1234),
             "headers": [(b"cookie", b"a=1"), (b"user-agent", b"\xffbot"), (b"cookie", b"b=2")]}
    view = middleware.view(scope)
    assert view.headers == {"cookie": "a=1; b=2", "user-agent": "\xffbot"}
    scope["headers"] = [(b"accept", b"*/*"), (b"user-agent", b"x")]
    assert middleware.view(scope).headers == {"accept": "*/*", "user-agent": "x"}


HEADER_NAMES = st.sampled_from([*FINGERPRINT_HEADERS, "cookie", "content-length", "host",
                                "x-tls", "referer"])
VALUES = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(HEADER_NAMES, VALUES, max_size=12),
       st.sampled_from(["", "x-tls", "x-missing"]))
def test_fingerprint_material_matches_the_python_version(headers: dict[str, str],
                                                         tls_header: str) -> None:
    expected = python_fingerprint_material(headers, tls_header)
    assert native.C.fingerprint_material(headers, tls_header) == expected
    if not tls_header:
        assert native.C.fingerprint_material(headers) == expected


def test_fingerprint_material_reads_the_header_order_without_cookie_and_length() -> None:
    headers = {"host": "h", "cookie": "c=1", "user-agent": "ua", "content-length": "3",
               "accept": "*/*"}
    material = fingerprint_material(headers)
    assert material.split("\x1f")[-1] == "host,user-agent,accept"
    assert material.split("\x1f")[:2] == ["ua", "*/*"]


def test_other_mappings_and_bad_values_behave_as_in_python() -> None:
    headers = {"user-agent": "ua", "cookie": "c"}
    proxy = MappingProxyType(headers)
    assert fingerprint_material(proxy) == python_fingerprint_material(headers)
    for bad in ({"user-agent": 3}, {"accept": None}):
        with pytest.raises(TypeError):
            python_fingerprint_material(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            fingerprint_material(bad)  # type: ignore[arg-type]


@pytest.mark.slow
def test_without_the_extension_the_behaviour_suite_passes_on_the_python_versions() -> None:
    """A machine without a compiler installs no extension: the Python versions must then
    carry every framework's behaviour on their own (``ANTISCRAPE_PURE_PYTHON`` stands in for
    the missing build)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "ANTISCRAPE_PURE_PYTHON": "1"}
    probe = ("from antiscrape import native, identity; "
             "from antiscrape.state import open_storage, MemoryStorage; "
             "assert native.C is None; "
             "assert identity.fingerprint_material is identity.python_fingerprint_material; "
             "assert type(open_storage('memory://', cap=1000, prefix='x', timeout=1.0)[0]) "
             "is MemoryStorage")
    subprocess.run([sys.executable, "-c", probe], cwd=root, env=env, check=True)
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/behaviour",
         "tests/test_enumeration.py"], cwd=root, env=env, capture_output=True, text=True)
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-2000:]
    assert " passed" in suite.stdout.splitlines()[-1]
