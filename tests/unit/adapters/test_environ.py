"""WSGI/CGI environ -> engine Request: what each key becomes."""

from __future__ import annotations

from typing import Any

import pytest

from apache_secfilter.adapters.environ import header_name, latin1, request_from_environ

#: What mod_wsgi gives a WSGIAccessScript for a POST (apache-hooks.md §1.2).
ACCESS_ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "POST",
    "REQUEST_URI": "/app/post.php/extra?a=%27x&b=1",
    "SCRIPT_NAME": "/app/post.php",
    "PATH_INFO": "/extra",
    "QUERY_STRING": "a=%27x&b=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_HOST": "www.example.com:8080",
    "HTTP_USER_AGENT": "curl/8",
    "HTTP_COOKIE": "a=1; b=2, c=3",
    "HTTP_X_FORWARDED_FOR": "10.0.0.1",
    "CONTENT_TYPE": "application/x-www-form-urlencoded",
    "CONTENT_LENGTH": "7",
    "REMOTE_ADDR": "192.0.2.7",
    "REMOTE_PORT": "51234",
    "SERVER_NAME": "www.example.com",
    "SERVER_ADDR": "127.0.0.1",
    "SERVER_PORT": "8080",
    "SERVER_ADMIN": "root@example.com",
    "SERVER_SOFTWARE": "Apache/2.4",
    "DOCUMENT_ROOT": "/var/www/html",
    "apache.version": (2, 4, 62),
    "mod_wsgi.process_group": "",
    "wsgi.errors": object(),
}


@pytest.fixture
def request_() -> Any:
    return request_from_environ(ACCESS_ENVIRON, remote_host="client.example.net")


@pytest.mark.parametrize(("attribute", "expected"), [
    ("method", "POST"),
    ("uri", "/app/post.php/extra?a=%27x&b=1"),
    ("protocol", "HTTP/1.1"),
    ("remote_addr", "192.0.2.7"),
    ("remote_port", 51234),
    ("query_string", "a=%27x&b=1"),
    ("host", "www.example.com"),
])
def test_request_line_and_client(request_: Any, attribute: str, expected: object) -> None:
    assert getattr(request_, attribute) == expected


@pytest.mark.parametrize(("attribute", "expected"), [
    ("server_name", "www.example.com"),
    ("server_addr", "127.0.0.1"),
    ("server_port", 8080),
    ("server_admin", "root@example.com"),
    ("server_software", "Apache/2.4"),
    ("document_root", "/var/www/html"),
    ("path_info", "/extra"),
    ("remote_host", "client.example.net"),
    ("handler", None),
    ("is_subrequest", False),
])
def test_server_facts(request_: Any, attribute: str, expected: object) -> None:
    assert getattr(request_.facts, attribute) == expected


def test_headers_keep_environ_order_then_content_headers(request_: Any) -> None:
    assert request_.headers == (
        ("Host", "www.example.com:8080"),
        ("User-Agent", "curl/8"),
        ("Cookie", "a=1; b=2, c=3"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", "7"),
    )


def test_env_holds_string_entries_that_are_not_headers(request_: Any) -> None:
    env = request_.env
    assert env["REQUEST_METHOD"] == "POST" and env["DOCUMENT_ROOT"] == "/var/www/html"
    assert "HTTP_HOST" not in env and "apache.version" not in env and "wsgi.errors" not in env


def test_cgi_facts_and_extra_env() -> None:
    request = request_from_environ({
        "REQUEST_METHOD": "GET", "REQUEST_URI": "/cgi-bin/x", "SCRIPT_FILENAME": "/srv/x.cgi",
        "REMOTE_USER": "alice", "AUTH_TYPE": "Basic", "UNIQUE_ID": "YWJj", "REMOTE_HOST": "h.net",
    }, remote_host="ignored", handler="cgi-script", extra_env={"MODSEC_ENABLE": "Off"})
    facts = request.facts
    assert (facts.script_filename, facts.request_filename) == ("/srv/x.cgi", "/srv/x.cgi")
    assert (facts.remote_user, facts.auth_type, facts.unique_id) == ("alice", "Basic", "YWJj")
    assert facts.remote_host == "h.net" and facts.handler == "cgi-script" and facts.is_dynamic
    assert request.env["MODSEC_ENABLE"] == "Off"


@pytest.mark.parametrize(("environ", "uri"), [
    ({"SCRIPT_NAME": "/app", "PATH_INFO": "/a b/%", "QUERY_STRING": "x=%27"},
     "/app/a%20b/%25?x=%27"),
    ({"SCRIPT_NAME": "", "PATH_INFO": "/caf\xe9", "QUERY_STRING": ""}, "/caf%E9"),
    ({"SCRIPT_NAME": "", "PATH_INFO": ""}, "/"),
    ({"RAW_URI": "/raw?q=%2F", "PATH_INFO": "/raw"}, "/raw?q=%2F"),
])
def test_uri_rebuilt_without_request_uri(environ: dict[str, str], uri: str) -> None:
    assert request_from_environ({"REQUEST_METHOD": "GET", **environ}).uri == uri


@pytest.mark.parametrize(("key", "name"), [
    ("HTTP_USER_AGENT", "User-Agent"),
    ("HTTP_ACCEPT", "Accept"),
    ("HTTP_X_REQUESTED_WITH", "X-Requested-With"),
    ("HTTP_DNT", "Dnt"),
])
def test_header_names(key: str, name: str) -> None:
    assert header_name(key) == name


def test_http_content_type_duplicates_are_not_doubled() -> None:
    request = request_from_environ({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/plain",
                                    "HTTP_CONTENT_TYPE": "text/plain"})
    assert request.header_values("Content-Type") == ["text/plain"]


def test_empty_content_headers_are_absent() -> None:
    request = request_from_environ({"REQUEST_METHOD": "GET", "CONTENT_TYPE": "",
                                    "CONTENT_LENGTH": ""})
    assert request.headers == ()


def test_cgi_surrogates_become_latin1_bytes() -> None:
    # os.environ decodes undecodable bytes with surrogateescape
    assert latin1("a\udcffb") == "a\xffb"
    assert latin1("\u20ac") == "\xe2\x82\xac"  # UTF-8 text back to its bytes
    assert latin1("plain") == "plain"


def test_missing_numbers_take_defaults() -> None:
    request = request_from_environ({"REMOTE_PORT": "x", "SERVER_PORT": ""})
    assert request.method == "GET" and request.remote_port == 0
    assert request.facts.server_port == 80 and request.protocol == "HTTP/1.1"


def test_subrequest_protocol_marks_subrequest() -> None:
    request = request_from_environ({"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "INCLUDED"})
    assert request.facts.is_subrequest
