"""Raw HTTP/1.x bytes to the request/response model, for ``secfilter eval`` and tests.

In production Apache has already parsed the request; this reader exists so
that a request saved from a log or written by hand can be replayed.  It is
therefore forgiving where hand-written files differ (bare LF line endings, a
missing blank line at the end, obsolete header folding, HTTP/0.9-style request
lines) and strict where the firewall's view of the body depends on it
(Content-Length, chunked framing).  Every problem is a ``RequestError`` whose
message names the line.

A chunked body is returned decoded, and the request keeps its
``Transfer-Encoding`` header so the engine can apply decisions R1.  When both
``Transfer-Encoding: chunked`` and ``Content-Length`` are present, chunked
wins (RFC 7230 §3.3.3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from apache_secfilter.errors import RequestError
from apache_secfilter.request.model import Request, Response, ServerFacts

__all__ = ["parse_raw_request", "parse_raw_response"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]{1,18}")
_BLANK = " \t"
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_STATUS_LINE = re.compile(r"(HTTP/[0-9]+\.[0-9]+)[ \t]+([0-9]{3})(?:[ \t]+(.*))?")


@dataclass
class _Head:
    """A message head: its first line, headers (with their line numbers), body offset."""

    first_line: str
    first_lineno: int
    headers: list[tuple[str, str]]
    linenos: list[int]
    body_offset: int


def _lines(data: bytes, pos: int, lineno: int) -> Iterator[tuple[int, str, int]]:
    """Yield ``(lineno, text, next_pos)`` for each line, CRLF or LF; the last may lack one."""
    while pos < len(data):
        end = data.find(b"\n", pos)
        stop = len(data) if end < 0 else end + 1
        line = data[pos : len(data) if end < 0 else end]
        if line.endswith(b"\r"):
            line = line[:-1]
        yield lineno, line.decode("latin-1"), stop
        pos, lineno = stop, lineno + 1


def _read_head(data: bytes, what: str) -> _Head:
    """Split the first line and the headers off ``data``; unfold folded headers."""
    if not data:
        raise RequestError(f"empty {what}")
    head: _Head | None = None
    for lineno, text, stop in _lines(data, 0, 1):
        if head is None:
            if text.strip(_BLANK):
                head = _Head(text.strip(_BLANK), lineno, [], [], len(data))
            continue
        if not text:
            head.body_offset = stop
            return head
        _add_header_line(head, lineno, text)
    if head is None:
        raise RequestError(f"no {what} line")
    return head


def _add_header_line(head: _Head, lineno: int, text: str) -> None:
    """Record ``Name: value``, or join an obsolete folded line to the previous header."""
    if text[:1] in (" ", "\t"):
        if not head.headers:
            raise RequestError(f"line {lineno}: continuation line without a header before it")
        name, value = head.headers[-1]
        joined = value + " " + text.strip(_BLANK)
        head.headers[-1] = (name, joined.strip(_BLANK))
        return
    name, colon, value = text.partition(":")
    if not colon:
        raise RequestError(f"line {lineno}: header line without colon")
    if not _TOKEN.fullmatch(name):
        raise RequestError(f"line {lineno}: invalid header name {name!r}")
    head.headers.append((name, value.strip(_BLANK)))
    head.linenos.append(lineno)


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _content_length(head: _Head) -> int | None:
    """The Content-Length value, or ``None``; a bad or conflicting one is an error."""
    found: int | None = None
    for (name, value), lineno in zip(head.headers, head.linenos, strict=True):
        if name.lower() != "content-length":
            continue
        if not _DIGITS.fullmatch(value):
            raise RequestError(f"line {lineno}: Content-Length is not a valid number: {value!r}")
        if found is not None and int(value) != found:
            raise RequestError(f"line {lineno}: conflicting Content-Length headers")
        found = int(value)
    return found


def _decode_chunked(data: bytes, pos: int) -> bytes:
    """Undo chunked framing from ``pos``; trailers are read and dropped."""
    out = bytearray()
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            where = _line_of(data, pos)
            raise RequestError(f"line {where}: chunked body truncated (no last chunk)")
        match = _CHUNK_SIZE.fullmatch(data[pos:end].rstrip(b"\r"))
        if match is None:
            raise RequestError(f"line {_line_of(data, pos)}: invalid chunk size line")
        size, pos = int(match.group(1), 16), end + 1
        if size == 0:
            _skip_trailers(data, pos)
            return bytes(out)
        if pos + size > len(data):
            raise RequestError(f"line {_line_of(data, pos)}: chunked body truncated in a chunk")
        out += data[pos : pos + size]
        pos += size
        for ending in (b"\r\n", b"\n"):
            if data.startswith(ending, pos):
                pos += len(ending)
                break
        else:
            raise RequestError(f"line {_line_of(data, pos)}: chunk not followed by a line end")


def _skip_trailers(data: bytes, pos: int) -> None:
    """Check the trailer section after the last chunk (it may end with the data)."""
    for lineno, text, _ in _lines(data, pos, _line_of(data, pos)):
        if not text:
            return
        if ":" not in text:
            raise RequestError(f"line {lineno}: trailer line without colon")


def _is_chunked(headers: list[tuple[str, str]]) -> bool:
    return any(
        name.lower() == "transfer-encoding" and "chunked" in value.lower()
        for name, value in headers
    )


def _body(data: bytes, head: _Head) -> bytes:
    """The body after the head: chunked (decoded), Content-Length bytes, or the rest."""
    if _is_chunked(head.headers):
        return _decode_chunked(data, head.body_offset)
    length = _content_length(head)
    rest = data[head.body_offset :]
    if length is None:
        return rest
    if len(rest) < length:
        raise RequestError(f"body shorter than Content-Length ({len(rest)} < {length} bytes)")
    return rest[:length]


def _server_facts(headers: list[tuple[str, str]]) -> ServerFacts:
    """Server name and port from ``Host`` (port 80 when absent or not a number)."""
    host = next((value for name, value in headers if name.lower() == "host"), "")
    name, port = host, ""
    if host.startswith("["):
        bracket = host.find("]")
        if bracket >= 0:
            name, port = host[: bracket + 1], host[bracket + 1 :].removeprefix(":")
    elif host.count(":") == 1:
        name, port = host.split(":")
    number = int(port) if _DIGITS.fullmatch(port) and 0 < int(port) < 65536 else 80
    return ServerFacts(server_name=name, server_port=number)


def _request_line(head: _Head) -> tuple[str, str, str]:
    """``METHOD URI [PROTOCOL]``; without a protocol it is an HTTP/0.9-style line."""
    parts = re.split(r"[ \t]+", head.first_line)
    where = f"line {head.first_lineno}"
    if len(parts) not in (2, 3):
        raise RequestError(f"{where}: request line is not 'METHOD URI [PROTOCOL]'")
    if not _TOKEN.fullmatch(parts[0]):
        raise RequestError(f"{where}: invalid method {parts[0]!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def parse_raw_request(
    data: bytes, *, remote_addr: str = "127.0.0.1", remote_port: int = 0
) -> tuple[Request, bytes]:
    """Parse a raw request into ``(Request, body)``; the body is de-chunked."""
    head = _read_head(data, "request")
    method, uri, protocol = _request_line(head)
    body = _body(data, head)
    request = Request(
        method=method,
        uri=uri,
        protocol=protocol,
        headers=tuple(head.headers),
        remote_addr=remote_addr,
        remote_port=remote_port,
        facts=_server_facts(head.headers),
    )
    return request, body


def parse_raw_response(data: bytes) -> Response:
    """Parse ``HTTP/1.1 200 OK``, headers and body (de-chunked) into a ``Response``."""
    head = _read_head(data, "response")
    match = _STATUS_LINE.fullmatch(head.first_line)
    if match is None:
        raise RequestError(f"line {head.first_lineno}: status line is not 'HTTP/x.y NNN reason'")
    return Response(
        status=int(match.group(2)),
        headers=tuple(head.headers),
        body=_body(data, head),
        protocol=match.group(1),
        reason=(match.group(3) or "").strip(),
    )
