"""Raw HTTP bytes to Request/Response, as ``secfilter eval`` reads them."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apache_secfilter.errors import RequestError
from apache_secfilter.request.wire import parse_raw_request, parse_raw_response

REQUESTS = {
    "get": (
        b"GET /index.php?a=1&b=%27 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: t\r\n\r\n",
        ("GET", "/index.php?a=1&b=%27", "HTTP/1.1"),
        (("Host", "www.example.com"), ("User-Agent", "t")),
        b"",
    ),
    "post_content_length": (
        b"POST /f HTTP/1.0\r\nContent-Length: 7\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\na=1&b=2EXTRA",
        ("POST", "/f", "HTTP/1.0"),
        (("Content-Length", "7"), ("Content-Type", "application/x-www-form-urlencoded")),
        b"a=1&b=2",
    ),
    "chunked": (
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        ("POST", "/c", "HTTP/1.1"),
        (("Transfer-Encoding", "chunked"),),
        b"hello, world",
    ),
    "chunked_wins_over_content_length": (
        b"POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\n",
        ("POST", "/", "HTTP/1.1"),
        (("Content-Length", "100"), ("Transfer-Encoding", "Chunked")),
        b"abc",
    ),
    "chunked_lf_only_upper_hex": (
        b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\nA\n0123456789\n0\n\n",
        ("POST", "/", "HTTP/1.1"),
        (("Transfer-Encoding", "chunked"),),
        b"0123456789",
    ),
    "folding": (
        b"GET / HTTP/1.1\r\nX-Long: first\r\n   second\r\n\tthird \r\nHost: h\r\n\r\n",
        ("GET", "/", "HTTP/1.1"),
        (("X-Long", "first second third"), ("Host", "h")),
        b"",
    ),
    "lf_only": (
        b"POST /x HTTP/1.1\nHost: h\nContent-Length: 3\n\nabc",
        ("POST", "/x", "HTTP/1.1"),
        (("Host", "h"), ("Content-Length", "3")),
        b"abc",
    ),
    "no_length_takes_the_rest": (
        b"POST /x HTTP/1.1\r\n\r\nline1\r\nline2",
        ("POST", "/x", "HTTP/1.1"),
        (),
        b"line1\r\nline2",
    ),
    "duplicates_in_order_values_stripped": (
        b"GET / HTTP/1.1\r\nCookie:  a=1 \r\nX: y\r\ncookie:\tb=2\t\r\nEmpty:\r\n\r\n",
        ("GET", "/", "HTTP/1.1"),
        (("Cookie", "a=1"), ("X", "y"), ("cookie", "b=2"), ("Empty", "")),
        b"",
    ),
    "no_blank_line_at_end": (
        b"GET / HTTP/1.1\r\nHost: h\r\n",
        ("GET", "/", "HTTP/1.1"),
        (("Host", "h"),),
        b"",
    ),
    "no_final_newline": (
        b"GET / HTTP/1.1\r\nHost: h",
        ("GET", "/", "HTTP/1.1"),
        (("Host", "h"),),
        b"",
    ),
    "http09": (b"GET /old\r\n", ("GET", "/old", ""), (), b""),
    "leading_blank_lines": (b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", ("GET", "/", "HTTP/1.1"), (), b""),
    "latin1_bytes": (
        b"GET /caf\xe9?\xa0x HTTP/1.1\r\nX-Bin: \xff\x01\r\n\r\n",
        ("GET", "/caf\xe9?\xa0x", "HTTP/1.1"),
        (("X-Bin", "\xff\x01"),),
        b"",
    ),
    "equal_duplicate_content_length": (
        b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nabc",
        ("POST", "/", "HTTP/1.1"),
        (("Content-Length", "2"), ("Content-Length", "2")),
        b"ab",
    ),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_parse_request(name: str) -> None:
    raw, (method, uri, protocol), headers, body = REQUESTS[name]
    request, got_body = parse_raw_request(raw)
    assert (request.method, request.uri, request.protocol) == (method, uri, protocol)
    assert request.headers == headers
    assert got_body == body


def test_chunked_request_keeps_its_transfer_encoding() -> None:
    request, _ = parse_raw_request(REQUESTS["chunked"][0])
    assert request.is_chunked


def test_client_address_is_passed_through() -> None:
    request, _ = parse_raw_request(b"GET / HTTP/1.1\r\n\r\n", remote_addr="10.1.2.3", remote_port=4)
    assert (request.remote_addr, request.remote_port) == ("10.1.2.3", 4)


HOSTS = {
    "name_only": ("www.example.com", "www.example.com", 80),
    "with_port": ("www.example.com:8080", "www.example.com", 8080),
    "ipv6": ("[::1]:8443", "[::1]", 8443),
    "ipv6_no_port": ("[::1]", "[::1]", 80),
    "bad_port": ("h:abc", "h", 80),
    "port_out_of_range": ("h:70000", "h", 80),
    "huge_port": ("h:" + "9" * 5000, "h", 80),
}


@pytest.mark.parametrize("name", sorted(HOSTS))
def test_server_facts_from_host(name: str) -> None:
    host, server_name, port = HOSTS[name]
    request, _ = parse_raw_request(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert (request.facts.server_name, request.facts.server_port) == (server_name, port)


def test_no_host_gives_defaults() -> None:
    request, _ = parse_raw_request(b"GET / HTTP/1.1\r\n\r\n")
    assert (request.facts.server_name, request.facts.server_port) == ("", 80)


REQUEST_ERRORS = {
    "empty": (b"", "empty request"),
    "only_blank_lines": (b"\r\n\n", "no request line"),
    "one_word": (b"GET\r\n\r\n", "line 1: request line is not"),
    "too_many_words": (b"GET / HTTP/1.1 x\r\n\r\n", "line 1: request line is not"),
    "bad_method": (b"G(T / HTTP/1.1\r\n\r\n", "line 1: invalid method"),
    "request_line_after_blank": (b"\r\nGET\r\n", "line 2: request line is not"),
    "header_without_colon": (b"GET / HTTP/1.1\r\nHost: h\r\nBroken\r\n\r\n", "line 3: header line"),
    "bad_header_name": (b"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", "line 2: invalid header name"),
    "continuation_first": (b"GET / HTTP/1.1\r\n folded\r\n\r\n", "line 2: continuation line"),
    "non_numeric_length": (
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12a\r\n\r\n",
        "line 3: Content-Length is not a valid number",
    ),
    "negative_length": (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "line 2: Content-Length"),
    "huge_length": (
        b"POST / HTTP/1.1\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
        "line 2: Content-Length is not a valid number",
    ),
    "conflicting_lengths": (
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "line 3: conflicting Content-Length",
    ),
    "body_shorter": (
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
        "body shorter than Content-Length (3 < 10 bytes)",
    ),
    "chunk_size_not_hex": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "line 4: invalid chunk size line",
    ),
    "chunk_truncated": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        "line 5: chunked body truncated in a chunk",
    ),
    "no_last_chunk": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        "line 6: chunked body truncated (no last chunk)",
    ),
    "chunk_without_line_end": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
        "line 5: chunk not followed by a line end",
    ),
    "chunk_size_too_long": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 17 + b"\r\n",
        "line 4: invalid chunk size line",
    ),
    "bad_trailer": (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbroken\r\n\r\n",
        "line 5: trailer line without colon",
    ),
}


@pytest.mark.parametrize("name", sorted(REQUEST_ERRORS))
def test_request_errors(name: str) -> None:
    raw, fragment = REQUEST_ERRORS[name]
    with pytest.raises(RequestError) as info:
        parse_raw_request(raw)
    assert fragment in info.value.message
    assert info.value.http_status == 400


RESPONSES = {
    "ok_with_length": (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhelloXX",
        ("HTTP/1.1", 200, "OK"),
        (("Content-Type", "text/html"), ("Content-Length", "5")),
        b"hello",
    ),
    "reason_with_spaces": (
        b"HTTP/1.0 500 Internal Server Error\r\n\r\nFatal error: x",
        ("HTTP/1.0", 500, "Internal Server Error"),
        (),
        b"Fatal error: x",
    ),
    "no_reason": (b"HTTP/1.1 204\r\n\r\n", ("HTTP/1.1", 204, ""), (), b""),
    "chunked": (
        b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nab\n0\n",
        ("HTTP/1.1", 200, "OK"),
        (("Transfer-Encoding", "chunked"),),
        b"ab",
    ),
}


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_parse_response(name: str) -> None:
    raw, (protocol, status, reason), headers, body = RESPONSES[name]
    response = parse_raw_response(raw)
    assert (response.protocol, response.status, response.reason) == (protocol, status, reason)
    assert response.headers == headers and response.body == body


RESPONSE_ERRORS = {
    "empty": (b"", "empty response"),
    "not_http": (b"200 OK\r\n\r\n", "line 1: status line is not"),
    "bad_status": (b"HTTP/1.1 20 OK\r\n\r\n", "line 1: status line is not"),
    "header_without_colon": (b"HTTP/1.1 200 OK\r\nnope\r\n\r\n", "line 2: header line"),
    "short_body": (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", "body shorter"),
}


@pytest.mark.parametrize("name", sorted(RESPONSE_ERRORS))
def test_response_errors(name: str) -> None:
    raw, fragment = RESPONSE_ERRORS[name]
    with pytest.raises(RequestError) as info:
        parse_raw_response(raw)
    assert fragment in info.value.message


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_request_errors(data: bytes) -> None:
    for parse in (parse_raw_request, parse_raw_response):
        with contextlib.suppress(RequestError):
            parse(data)


_LINES = st.sampled_from(
    [
        b"POST / HTTP/1.1",
        b"HTTP/1.1 200 OK",
        b"Host: h:1",
        b"Content-Length: 3",
        b"Transfer-Encoding: chunked",
        b" folded",
        b"",
        b"3",
        b"abc",
        b"0",
        b"x",
        b"Content-Length: z",
    ]
)


@settings(max_examples=300)
@given(st.lists(_LINES, max_size=12), st.sampled_from([b"\r\n", b"\n"]))
def test_line_soup_raises_only_request_errors(lines: list[bytes], ending: bytes) -> None:
    data = ending.join(lines)
    for parse in (parse_raw_request, parse_raw_response):
        with contextlib.suppress(RequestError):
            parse(data)
