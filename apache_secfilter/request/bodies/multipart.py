"""``multipart/form-data`` as a strict push parser (1.9 had a strict parser).

A firewall and the application behind it must read a multipart body the same
way, or a payload hides in the difference.  So anything a lenient parser
would guess at is a ``BodyError`` (400) here, and every limit is a
``LimitExceeded`` (413).  The cases, each with its message:

* ``missing first boundary``: the body ends before ``--boundary``.
* ``data before the first boundary``: only empty lines (CRLF) may precede the
  first boundary; any other preamble is rejected, because parsers disagree
  about where a preamble ends.
* after a boundary only CRLF (next part) or ``--`` (end) may follow: no
  transport padding, no LF-only line end, no longer boundary-like string.
* ``boundary inside part content``: ``--boundary`` anywhere but right after a
  CRLF (RFC 2046 forbids it in content); after a bare LF it is reported as
  LF-only line endings.
* part headers: LF-only or bare CR line endings, header folding (a line that
  starts with white space), a line without colon, an invalid header name,
  a boundary before the empty line that ends the headers, a duplicate
  Content-Disposition or Content-Type, more than ``multipart_header_bytes``
  bytes or ``multipart_headers`` lines (413).
* Content-Disposition: missing, not ``form-data``, without ``name``, with
  ``name*``/``filename*`` (RFC 5987 forms other parsers prefer), with broken
  quoting, duplicate parameters or a missing ``;`` between parameters.
* Content-Transfer-Encoding other than 7bit/8bit/binary (the application
  might decode what the rules never saw).
* more than ``multipart_parts`` parts, more than ``body_bytes`` bytes (413).
* ``data after the final boundary``: only one CRLF may follow ``--boundary--``.
* ``missing final boundary`` / ``unterminated part headers`` at ``close()``:
  the body was truncated.

Inside a quoted parameter ``\\"`` is a quote and ``\\\\`` a backslash; any
other backslash is kept, so Windows paths (``C:\\dir\\f.txt``) survive.

The parser decides only on complete lines and complete boundaries, so the
result (or error) is the same however the body is cut into chunks.  The first
error is kept and raised again by later calls; temporary files of a failed
body are closed (deleted unless kept).
"""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from apache_secfilter.errors import BodyError, LimitExceeded, RequestError
from apache_secfilter.limits import Limits
from apache_secfilter.request.bodies.multipart_common import common_parts
from apache_secfilter.request.bodies.spool import BodySpool
from apache_secfilter.request.bodies.urlencoded import encode_urlencoded

__all__ = [
    "MultipartParser",
    "MultipartResult",
    "UploadedFile",
    "boundary_from_content_type",
]

CRLF = b"\r\n"
#: RFC 2046 ``bcharsnospace``; a space is allowed too, but not at the end.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
#: RFC 7230 ``token``, for header names and parameter names.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: A quoted parameter value; ``\\"`` and ``\\\\`` are escapes, other backslashes stay.
_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(rb'\\(["\\])')
_UNQUOTED = re.compile(rb'[^;" \t\\]+')
_IDENTITY_CODINGS = (b"7bit", b"8bit", b"binary")
#: Bytes handed to the state machine at once: bounds the cost of buffer moves.
_SLICE = 65536


def _error(message: str) -> BodyError:
    return BodyError(f"multipart: {message}", http_status=400)


@dataclass(frozen=True, eq=False)
class UploadedFile:
    """One file part; its content is in ``spool`` (which the caller closes)."""

    field: str
    filename: str
    content_type: str
    size: int
    spool: BodySpool


@dataclass(frozen=True)
class MultipartResult:
    """Non-file fields (raw bytes, in order) and file parts of one body."""

    fields: tuple[tuple[bytes, bytes], ...] = ()
    files: tuple[UploadedFile, ...] = ()

    def synthetic_urlencoded(self) -> bytes:
        """``name=value&...`` of the non-file fields, as 1.x showed multipart to ``ARGS``.

        ``& = % +`` and control bytes are ``%``-encoded, so splitting and
        URL-decoding the result gives the fields back exactly.
        """
        return encode_urlencoded(self.fields)

    def close_files(self) -> None:
        """Close every file's spool (its temporary file goes unless kept)."""
        for upload in self.files:
            upload.spool.close()


def _uploaded(name: bytes, filename: bytes, content_type: bytes,
              spool: BodySpool) -> UploadedFile:
    """A file part whose content is all in ``spool`` (names as Latin-1 text)."""
    return UploadedFile(field=name.decode("latin-1"), filename=filename.decode("latin-1"),
                        content_type=content_type.decode("latin-1"), size=spool.size,
                        spool=spool)


# --------------------------------------------------------------------------- parameters


def _read_param(value: bytes, pos: int, what: str) -> tuple[bytes, bytes, int]:
    """Read ``name=value`` or ``name="value"`` at ``pos``; strict about the ``=``."""
    match = _TOKEN.match(value, pos)
    if match is None:
        raise _error(f"invalid parameter in {what}")
    name, pos = match.group().lower(), match.end()
    if value[pos : pos + 1] != b"=":
        raise _error(f"parameter without '=' (or white space around it) in {what}")
    if value[pos + 1 : pos + 2] == b'"':
        quoted = _QUOTED.match(value, pos + 1)
        if quoted is None:
            raise _error(f"unterminated quoted string in {what}")
        return name, _ESCAPE.sub(rb"\1", quoted.group(1)), quoted.end()
    plain = _UNQUOTED.match(value, pos + 1)
    if plain is None or value[plain.end() : plain.end() + 1] in (b'"', b"\\"):
        raise _error(f"invalid value of parameter {name.decode('latin-1')} in {what}")
    return name, plain.group(), plain.end()


def _parse_params(value: bytes, what: str) -> tuple[bytes, dict[bytes, bytes]]:
    """Split ``type; a=b; c="d"`` into the lower-cased type and its parameters."""
    semicolon = value.find(b";")
    kind, rest = (value, b"") if semicolon < 0 else (value[:semicolon], value[semicolon:])
    params: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(rest):
        if rest[pos : pos + 1] != b";":
            raise _error(f"missing ';' between parameters in {what}")
        pos = _skip_space(rest, pos + 1)
        if pos == len(rest):
            break
        name, text, pos = _read_param(rest, pos, what)
        if name in params:
            raise _error(f"duplicate parameter {name.decode('latin-1')} in {what}")
        params[name] = text
        pos = _skip_space(rest, pos)
    return kind.strip(b" \t").lower(), params


def _skip_space(data: bytes, pos: int) -> int:
    while data[pos : pos + 1] in (b" ", b"\t"):
        pos += 1
    return pos


def boundary_from_content_type(content_type: str) -> bytes:
    """The boundary of ``multipart/form-data; boundary=...`` (quoted or not).

    Missing, empty, duplicated, longer than 70 characters, or using
    characters RFC 2046 does not allow: ``BodyError`` 400.
    """
    try:
        raw = content_type.encode("latin-1")
    except UnicodeEncodeError:
        raise _error("Content-Type is not Latin-1 text") from None
    _, params = _parse_params(raw, "Content-Type")
    boundary = params.get(b"boundary")
    if boundary is None:
        raise _error("no boundary in Content-Type")
    if not _BOUNDARY.fullmatch(boundary):
        raise _error("invalid boundary in Content-Type (1 to 70 RFC 2046 characters)")
    return boundary


# --------------------------------------------------------------------------- parser


class _State(enum.Enum):
    PREAMBLE = "preamble"
    AFTER_BOUNDARY = "after boundary"
    HEADERS = "headers"
    DATA = "data"
    EPILOGUE = "epilogue"


@dataclass
class _Part:
    """The part being read: its headers, then its content."""

    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_bytes: int = 0
    header_count: int = 0
    name: bytes = b""
    filename: bytes | None = None
    value: bytearray = field(default_factory=bytearray)
    spool: BodySpool | None = None


class MultipartParser:
    """Feed a multipart body in chunks of any size; ``close()`` gives the result."""

    def __init__(
        self, boundary: bytes, limits: Limits, spool_factory: Callable[[], BodySpool]
    ) -> None:
        if not _BOUNDARY.fullmatch(boundary):
            raise _error("invalid boundary (1 to 70 RFC 2046 characters)")
        self._dash = b"--" + boundary
        self._limits = limits
        self._spool_factory = spool_factory
        self._buf = bytearray()
        self._state = _State.PREAMBLE
        self._scan = 0
        self._total = 0
        self._parts = 0
        self._part = _Part()
        self._fields: list[tuple[bytes, bytes]] = []
        self._files: list[UploadedFile] = []
        self._spools: list[BodySpool] = []
        self._error: RequestError | None = None
        self._result: MultipartResult | None = None
        self._steps: dict[_State, Callable[[], bool]] = {
            _State.PREAMBLE: self._preamble,
            _State.AFTER_BOUNDARY: self._after_boundary,
            _State.HEADERS: self._headers,
            _State.DATA: self._data,
            _State.EPILOGUE: self._epilogue,
        }

    def feed(self, chunk: bytes) -> None:
        """Parse ``chunk``; raise the first error of the body (again on every later call)."""
        if self._error is not None:
            raise self._error
        if self._result is not None:
            raise ValueError("MultipartParser.feed() after close()")
        allowed = max(self._limits.body_bytes - self._total, 0)
        try:
            if self._state is _State.PREAMBLE and not self._total and self._take_whole(chunk):
                return
            for start in range(0, min(len(chunk), allowed), _SLICE):
                piece = chunk[start : min(start + _SLICE, allowed)]
                self._total += len(piece)
                self._buf += piece
                self._run()
            if len(chunk) > allowed:
                raise LimitExceeded(f"multipart: body larger than {self._limits.body_bytes} bytes")
        except RequestError as exc:
            self._fail(exc)
            raise

    def _take_whole(self, body: bytes) -> bool:
        """A first chunk that is a whole body of the common shape, read at C speed.

        ``multipart_common.common_parts`` finds the same parts, names and
        contents as the state machine would (or gives up); the body then ends
        in the epilogue state, so that anything fed later is judged as after
        the final boundary.  The chunking tests compare both ways.
        """
        parts = common_parts(body, self._dash[2:], self._limits)
        if parts is None:
            return False
        whole = memoryview(body) if type(body) is bytes else memoryview(bytes(body))
        for part in parts:
            self._parts += 1
            if part.filename is None:
                self._fields.append((part.name, body[part.start:part.end]))
                continue
            spool = self._spool_factory()
            self._spools.append(spool)
            spool.write(whole[part.start:part.end])  # a view: a file's bytes are not copied
            self._files.append(_uploaded(part.name, part.filename, part.content_type, spool))
        self._total = len(body)
        self._buf = bytearray(CRLF if body.endswith(CRLF) else b"")  # after "--boundary--"
        self._state = _State.EPILOGUE
        return True

    def close(self) -> MultipartResult:
        """Check that the body ended after its final boundary; return fields and files."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            try:
                self._check_end()
            except RequestError as exc:
                self._fail(exc)
                raise
            self._result = MultipartResult(tuple(self._fields), tuple(self._files))
        return self._result

    def _fail(self, exc: RequestError) -> None:
        """Keep the first error and release every temporary file of this body."""
        self._error = exc
        for spool in self._spools:
            with contextlib.suppress(RequestError):
                spool.close()

    def _check_end(self) -> None:
        state, buf = self._state, bytes(self._buf)
        if state is _State.PREAMBLE:
            raise _error("missing first boundary")
        if state is _State.HEADERS:
            raise _error("unterminated part headers (body truncated)")
        if state is not _State.EPILOGUE:
            raise _error("missing final boundary (body truncated)")
        if buf not in (b"", CRLF):
            raise _error("data after the final boundary")

    def _run(self) -> None:
        """Advance the state machine until it needs more data."""
        while self._steps[self._state]():
            pass

    def _preamble(self) -> bool:
        """Skip empty lines, then expect ``--boundary``."""
        buf, pos = self._buf, 0
        while buf.startswith(CRLF, pos):
            pos += 2
        del buf[:pos]
        if buf.startswith(self._dash):
            del buf[: len(self._dash)]
            self._state = _State.AFTER_BOUNDARY
            return True
        if self._dash.startswith(buf) or buf == b"\r":
            return False
        raise _error("data before the first boundary")

    def _after_boundary(self) -> bool:
        """After ``--boundary``: CRLF starts a part, ``--`` ends the body."""
        head = bytes(self._buf[:2])
        if head == CRLF:
            del self._buf[:2]
            self._start_part()
            return True
        if head == b"--":
            del self._buf[:2]
            self._state = _State.EPILOGUE
            return True
        if head in (b"", b"\r", b"-"):
            return False
        if head[:1] == b"\n":
            raise _error("LF-only line ending after boundary (CRLF required)")
        if head[:1] in (b" ", b"\t"):
            raise _error("white space after boundary (transport padding is rejected)")
        raise _error("unexpected data after boundary")

    def _epilogue(self) -> bool:
        if not CRLF.startswith(self._buf):
            raise _error("data after the final boundary")
        return False

    def _start_part(self) -> None:
        self._parts += 1
        if self._parts > self._limits.multipart_parts:
            raise LimitExceeded(f"multipart: more than {self._limits.multipart_parts} parts")
        self._part = _Part()
        self._scan = 0
        self._state = _State.HEADERS

    # ----------------------------------------------------------------------- headers

    def _headers(self) -> bool:
        """Consume complete header lines; switch to content at the empty line."""
        buf, part, limit = self._buf, self._part, self._limits.multipart_header_bytes
        while True:
            end = buf.find(b"\n", self._scan)
            if end < 0:
                if part.header_bytes + len(buf) > limit:
                    raise LimitExceeded(f"multipart: part headers longer than {limit} bytes")
                self._scan = len(buf)
                return False
            if part.header_bytes + end + 1 > limit:
                raise LimitExceeded(f"multipart: part headers longer than {limit} bytes")
            line = bytes(buf[: end + 1])
            del buf[: end + 1]
            self._scan = 0
            part.header_bytes += len(line)
            if self._header_line(line):
                self._begin_content()
                return True

    def _header_line(self, line: bytes) -> bool:
        """Check and record one header line; True for the empty line ending the headers."""
        if not line.endswith(CRLF):
            raise _error("LF-only line ending in part headers (CRLF required)")
        text = line[:-2]
        if b"\r" in text:
            raise _error("bare CR in part headers")
        if not text:
            return True
        if text.startswith(self._dash):
            raise _error("unterminated part headers (boundary before the empty line)")
        if text[:1] in (b" ", b"\t"):
            raise _error("header folding in part headers is rejected")
        self._part.header_count += 1
        if self._part.header_count > self._limits.multipart_headers:
            raise LimitExceeded(
                f"multipart: more than {self._limits.multipart_headers} headers in a part"
            )
        name, colon, value = text.partition(b":")
        if not colon:
            raise _error("part header line without colon")
        if not _TOKEN.fullmatch(name):
            raise _error("invalid part header name")
        key = name.lower()
        if key in self._part.headers and key in (b"content-disposition", b"content-type"):
            raise _error(f"duplicate {name.decode('latin-1')} header in part")
        self._part.headers[key] = value.strip(b" \t")
        return False

    def _begin_content(self) -> None:
        """Validate the part's headers; open a spool for a file part."""
        part = self._part
        disposition = part.headers.get(b"content-disposition")
        if disposition is None:
            raise _error("part without Content-Disposition")
        kind, params = _parse_params(disposition, "Content-Disposition")
        if kind != b"form-data":
            raise _error("Content-Disposition of a part is not form-data")
        if b"name*" in params or b"filename*" in params:
            raise _error("extended parameter (name* or filename*) in Content-Disposition")
        if b"name" not in params:
            raise _error("part without name in Content-Disposition")
        coding = part.headers.get(b"content-transfer-encoding")
        if coding is not None and coding.lower() not in _IDENTITY_CODINGS:
            raise _error("Content-Transfer-Encoding other than 7bit, 8bit or binary")
        part.name, part.filename = params[b"name"], params.get(b"filename")
        if part.filename is not None:
            part.spool = self._spool_factory()
            self._spools.append(part.spool)
        self._state = _State.DATA

    # ----------------------------------------------------------------------- content

    def _data(self) -> bool:
        """Pass content on, holding back what could still start a delimiter."""
        buf, dash = self._buf, self._dash
        at = buf.find(dash)
        if at < 0:
            keep = len(dash) + 1
            if len(buf) > keep:
                self._emit(bytes(buf[:-keep]))
                del buf[:-keep]
            return False
        if at < 2 or buf[at - 2 : at] != CRLF:
            if at >= 1 and buf[at - 1 : at] == b"\n":
                raise _error("LF-only line ending before boundary (CRLF required)")
            raise _error("boundary inside part content (not at the start of a line)")
        self._emit(bytes(buf[: at - 2]))
        del buf[: at + len(dash)]
        self._finish_part()
        self._state = _State.AFTER_BOUNDARY
        return True

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        if self._part.spool is not None:
            self._part.spool.write(data)
        else:
            self._part.value += data

    def _finish_part(self) -> None:
        part = self._part
        if part.spool is None:
            self._fields.append((part.name, bytes(part.value)))
            return
        content_type = part.headers.get(b"content-type", b"")
        self._files.append(
            _uploaded(part.name, part.filename or b"", content_type, part.spool))
