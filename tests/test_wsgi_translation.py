"""The translation the WSGI-shaped adapters share (Flask, Django under WSGI and ASGI): header
names from environ keys, path parameters as text."""

from __future__ import annotations

import pytest

from antiscrape.integrations import _wsgi
from antiscrape.integrations._wsgi import environ_headers, text_params
from antiscrape.request import EMPTY

SERVER = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "a=1", "wsgi.input": None,
          "wsgi.url_scheme": "http", "REMOTE_ADDR": "192.0.2.1", "SERVER_NAME": "example"}


def test_header_names_come_lower_case_in_the_environ_order_and_server_keys_stay_out():
    environ = {**SERVER, "HTTP_USER_AGENT": "ua", "HTTP_ACCEPT": "*/*",
               "CONTENT_TYPE": "text/plain", "HTTP_SEC_FETCH_MODE": "navigate",
               "CONTENT_LENGTH": "3"}
    for _ in range(2):  # first with names never seen, then with the remembered ones
        headers = environ_headers(environ)
        assert list(headers.items()) == [
            ("user-agent", "ua"), ("accept", "*/*"), ("content-type", "text/plain"),
            ("sec-fetch-mode", "navigate"), ("content-length", "3")]


def test_empty_content_keys_are_the_servers_placeholders_but_empty_headers_are_headers():
    environ = {**SERVER, "CONTENT_TYPE": "", "CONTENT_LENGTH": "", "HTTP_X_EMPTY": ""}
    assert environ_headers(environ) == {"x-empty": ""}


def test_odd_header_names_and_values_never_raise():
    environ = {**SERVER, "HTTP_": "no name", "HTTP_X__Y": "\xff\x00", "HTTP_ÄÖ": "latin-1"}
    assert environ_headers(environ) == {"": "no name", "x--y": "\xff\x00", "äö": "latin-1"}


def test_names_are_translated_when_the_name_cache_is_full(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_wsgi, "_names", {})
    monkeypatch.setattr(_wsgi, "_NAME_CACHE_MAX", 2)
    invented = {f"HTTP_X_INVENTED_{i}": str(i) for i in range(5)}
    for _ in range(2):
        assert environ_headers({**SERVER, **invented}) == {
            f"x-invented-{i}": str(i) for i in range(5)}
    assert len(_wsgi._names) == 2  # a client inventing names cannot grow it


def test_path_parameters_become_text_and_none_is_the_shared_empty_mapping():
    assert text_params(None) is EMPTY and text_params({}) is EMPTY
    assert text_params({"user_id": 42, "slug": "a/b"}) == {"user_id": "42", "slug": "a/b"}
