"""The strict multipart parser: every accepted shape and every rejected one, by name.

Each case runs whole, byte by byte and in random short chunks (as mod_python's
``req.read(n)`` or ``wsgi.input`` would deliver it) and must give the same
outcome every time.
"""

from __future__ import annotations

import os
import random
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apache_secfilter.errors import BodyError, LimitExceeded, RequestError
from apache_secfilter.limits import DEFAULT_LIMITS, Limits
from apache_secfilter.request.bodies import (
    BodySpool,
    MultipartParser,
    MultipartResult,
    boundary_from_content_type,
    split_urlencoded,
)

B = b"xYz-0123"
D = b"--" + B
CD = b"Content-Disposition: form-data"


def field(name: bytes, value: bytes, *headers: bytes) -> bytes:
    """One non-file part (without the delimiter before it)."""
    head = b"\r\n".join((CD + b'; name="' + name + b'"', *headers))
    return head + b"\r\n\r\n" + value


def upload(name: bytes, filename: bytes, content: bytes, ctype: bytes = b"text/plain") -> bytes:
    head = CD + b'; name="' + name + b'"; filename="' + filename + b'"'
    return head + b"\r\nContent-Type: " + ctype + b"\r\n\r\n" + content


def form(*parts: bytes, end: bytes = b"--\r\n") -> bytes:
    """A body: each part after a delimiter, then the close delimiter."""
    return b"".join(D + b"\r\n" + part + b"\r\n" for part in parts) + D + end


def chunkings(data: bytes) -> Iterator[tuple[str, list[bytes]]]:
    yield "whole", [data]
    yield "bytes", [data[i : i + 1] for i in range(len(data))]
    for seed in (1, 2, 3):
        rnd, chunks, pos = random.Random(seed), [], 0
        while pos < len(data):
            size = rnd.randint(1, 7)
            chunks.append(data[pos : pos + size])
            pos += size
        yield f"random{seed}", chunks


def run(chunks: list[bytes], limits: Limits, directory: str | None) -> tuple:
    """Parse and describe the outcome as plain data (files read and closed)."""

    def factory() -> BodySpool:
        return BodySpool(limits.body_in_memory, directory, "20260101-120000-127.0.0.1")

    try:
        parser = MultipartParser(B, limits, factory)
        for chunk in chunks:
            parser.feed(chunk)
        result = parser.close()
    except RequestError as exc:
        return ("error", type(exc), exc.message, exc.http_status)
    files = [
        (f.field, f.filename, f.content_type, f.size, f.spool.getvalue()) for f in result.files
    ]
    result.close_files()
    return ("ok", list(result.fields), files)


def parse_all_ways(
    data: bytes, limits: Limits = DEFAULT_LIMITS, directory: str | None = None
) -> tuple:
    """The outcome, after checking that every chunking gives the same one."""
    outcomes = {mode: run(chunks, limits, directory) for mode, chunks in chunkings(data)}
    first = outcomes["whole"]
    for mode, outcome in outcomes.items():
        assert outcome == first, f"{mode} differs from whole"
    return first


# --------------------------------------------------------------------------- accepted

ACCEPTED = {
    "two_fields": (
        form(field(b"a", b"1"), field(b"b", b"two words")),
        [(b"a", b"1"), (b"b", b"two words")],
        [],
    ),
    "empty_form": (D + b"--\r\n", [], []),
    "final_boundary_without_crlf": (form(field(b"a", b"1"), end=b"--"), [(b"a", b"1")], []),
    "blank_preamble_lines": (b"\r\n\r\n" + form(field(b"a", b"1")), [(b"a", b"1")], []),
    "empty_value": (form(field(b"a", b"")), [(b"a", b"")], []),
    "empty_name": (form(field(b"", b"v")), [(b"", b"v")], []),
    "value_with_crlf_and_dashes": (
        form(field(b"a", b"x\r\n--\r\n--" + B[:-1] + b"\r\n" + B)),
        [(b"a", b"x\r\n--\r\n--" + B[:-1] + b"\r\n" + B)],
        [],
    ),
    "value_ending_in_cr": (form(field(b"a", b"x\r")), [(b"a", b"x\r")], []),
    "escaped_quote_in_name": (form(field(b'a\\"b', b"1")), [(b'a"b', b"1")], []),
    "escaped_backslash_in_name": (form(field(b"a\\\\b", b"1")), [(b"a\\b", b"1")], []),
    "unquoted_name": (
        form(b"Content-Disposition: form-data; name=abc\r\n\r\nv"),
        [(b"abc", b"v")],
        [],
    ),
    "case_insensitive_names": (
        form(b'content-DISPOSITION: Form-Data; NAME="a"\r\n\r\nv'),
        [(b"a", b"v")],
        [],
    ),
    "unknown_header_and_parameter": (
        form(b'Content-Disposition: form-data; name="a"; size=3\r\nX-Foo: bar\r\n\r\nv'),
        [(b"a", b"v")],
        [],
    ),
    "trailing_semicolon": (
        form(b'Content-Disposition: form-data; name="a";\r\n\r\nv'),
        [(b"a", b"v")],
        [],
    ),
    "binary_transfer_encoding": (
        form(field(b"a", b"v", b"Content-Transfer-Encoding: binary")),
        [(b"a", b"v")],
        [],
    ),
    "file_and_field": (
        form(field(b"a", b"1"), upload(b"f", b"x.txt", b"hello\r\n")),
        [(b"a", b"1")],
        [("f", "x.txt", "text/plain", 7, b"hello\r\n")],
    ),
    "windows_path_filename": (
        form(upload(b"f", b"C:\\dir\\x.txt", b"x")),
        [],
        [("f", "C:\\dir\\x.txt", "text/plain", 1, b"x")],
    ),
    "latin1_filename": (
        form(upload(b"f", b"caf\xe9.txt", b"x")),
        [],
        [("f", "caf\xe9.txt", "text/plain", 1, b"x")],
    ),
    "empty_filename": (
        form(CD + b'; name="f"; filename=""\r\n\r\n'),
        [],
        [("f", "", "", 0, b"")],
    ),
    "binary_file_all_bytes": (
        form(upload(b"f", b"b.bin", bytes(range(256)) * 3, b"application/octet-stream")),
        [],
        [("f", "b.bin", "application/octet-stream", 768, bytes(range(256)) * 3)],
    ),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted(name: str) -> None:
    data, fields, files = ACCEPTED[name]
    assert parse_all_ways(data) == ("ok", fields, files)


# --------------------------------------------------------------------------- rejected

BAD_CD = b"Content-Disposition: "
REJECTED: dict[str, tuple[bytes, type, str] | tuple[bytes, type, str, Limits]] = {
    "missing_first_boundary_empty_body": (b"", BodyError, "missing first boundary"),
    "missing_first_boundary_blank_lines": (b"\r\n\r\n", BodyError, "missing first boundary"),
    "missing_first_boundary_truncated": (D[:5], BodyError, "missing first boundary"),
    "data_before_first_boundary": (
        b"preamble\r\n" + form(field(b"a", b"1")),
        BodyError,
        "data before the first boundary",
    ),
    "other_boundary": (b"--other\r\n" + field(b"a", b"1"), BodyError, "data before the first"),
    "lf_preamble": (b"\n" + form(field(b"a", b"1")), BodyError, "data before the first"),
    "lf_after_first_boundary": (D + b"\n" + field(b"a", b"1"), BodyError, "LF-only"),
    "padding_after_boundary": (D + b" \r\n" + field(b"a", b"1"), BodyError, "white space after"),
    "junk_after_boundary": (D + b"X\r\n" + field(b"a", b"1"), BodyError, "unexpected data after"),
    "longer_boundary_in_content": (
        form(field(b"a", b"1\r\n" + D + b"X")),
        BodyError,
        "unexpected data after boundary",
    ),
    "no_headers": (form(b"\r\nvalue"), BodyError, "part without Content-Disposition"),
    "no_content_disposition": (
        form(b"Content-Type: text/plain\r\n\r\nv"),
        BodyError,
        "part without Content-Disposition",
    ),
    "no_name": (form(CD + b'; filename="a"\r\n\r\nv'), BodyError, "without name"),
    "not_form_data": (form(BAD_CD + b'attachment; name="a"\r\n\r\nv'), BodyError, "not form-data"),
    "extended_filename": (
        form(CD + b"; name=\"a\"; filename*=UTF-8''x.txt\r\n\r\nv"),
        BodyError,
        "extended parameter",
    ),
    "duplicate_name": (form(CD + b'; name="a"; name="b"\r\n\r\nv'), BodyError, "duplicate param"),
    "missing_semicolon": (
        form(CD + b'; name="a" filename="b"\r\n\r\nv'),
        BodyError,
        "missing ';'",
    ),
    "unterminated_quote": (form(CD + b'; name="a\r\n\r\nv'), BodyError, "unterminated quoted"),
    "space_around_equals": (form(CD + b'; name = "a"\r\n\r\nv'), BodyError, "without '='"),
    "empty_unquoted_value": (form(CD + b"; name=\r\n\r\nv"), BodyError, "invalid value"),
    "quote_in_unquoted_value": (form(CD + b'; name=a"b\r\n\r\nv'), BodyError, "invalid value"),
    "unterminated_part_headers": (
        D + b"\r\n" + CD + b'; name="a"\r\n',
        BodyError,
        "unterminated part headers (body truncated)",
    ),
    "boundary_in_part_headers": (
        D + b"\r\n" + CD + b'; name="a"\r\n' + D + b"--\r\n",
        BodyError,
        "unterminated part headers (boundary before",
    ),
    "header_without_colon": (form(field(b"a", b"v", b"X-Foo bar")), BodyError, "without colon"),
    "invalid_header_name": (form(field(b"a", b"v", b"X Foo: bar")), BodyError, "header name"),
    "header_folding": (
        form(CD + b';\r\n name="a"\r\n\r\nv'),
        BodyError,
        "header folding",
    ),
    "lf_only_line_endings": (
        form(field(b"a", b"1")).replace(b"\r\n", b"\n"),
        BodyError,
        "LF-only line ending after boundary",
    ),
    "lf_only_part_headers": (
        D + b"\r\n" + CD + b'; name="a"\n\nv\r\n' + D + b"--",
        BodyError,
        "LF-only line ending in part headers",
    ),
    "lf_before_boundary": (
        D + b"\r\n" + field(b"a", b"v") + b"\n" + D + b"--",
        BodyError,
        "LF-only line ending before boundary",
    ),
    "bare_cr_in_header": (form(field(b"a", b"v", b"X-Foo: a\rb")), BodyError, "bare CR"),
    "duplicate_content_disposition": (
        form(field(b"a", b"v", CD + b'; name="b"')),
        BodyError,
        "duplicate Content-Disposition",
    ),
    "duplicate_content_type": (
        form(field(b"a", b"v", b"Content-Type: a/b", b"content-type: c/d")),
        BodyError,
        "duplicate content-type",
    ),
    "base64_transfer_encoding": (
        form(field(b"a", b"dg==", b"Content-Transfer-Encoding: base64")),
        BodyError,
        "Content-Transfer-Encoding",
    ),
    "boundary_inside_content": (
        form(field(b"a", b"abc" + D + b"def")),
        BodyError,
        "boundary inside part content",
    ),
    "boundary_right_after_headers": (
        D + b"\r\n" + CD + b'; name="a"\r\n\r\n' + D + b"--",
        BodyError,
        "boundary inside part content",
    ),
    "missing_final_boundary": (
        D + b"\r\n" + field(b"a", b"value"),
        BodyError,
        "missing final boundary (body truncated)",
    ),
    "missing_final_boundary_after_delimiter": (
        D + b"\r\n" + field(b"a", b"v") + b"\r\n" + D,
        BodyError,
        "missing final boundary",
    ),
    "data_after_final_boundary": (
        form(field(b"a", b"1")) + b"epilogue",
        BodyError,
        "data after the final boundary",
    ),
    "blank_line_after_final_boundary": (
        form(field(b"a", b"1")) + b"\r\n",
        BodyError,
        "data after the final boundary",
    ),
    "lone_cr_after_final_boundary": (
        form(field(b"a", b"1"), end=b"--\r"),
        BodyError,
        "data after the final boundary",
    ),
    "part_headers_too_long": (
        form(field(b"a", b"v", b"X-Long: " + b"x" * 100)),
        LimitExceeded,
        "part headers longer than 80 bytes",
        Limits(multipart_header_bytes=80),
    ),
    "unterminated_header_too_long": (
        D + b"\r\n" + b"X" * 200,
        LimitExceeded,
        "part headers longer than 80 bytes",
        Limits(multipart_header_bytes=80),
    ),
    "too_many_part_headers": (
        form(field(b"a", b"v", b"X-1: a", b"X-2: b")),
        LimitExceeded,
        "more than 2 headers",
        Limits(multipart_headers=2),
    ),
    "too_many_parts": (
        form(field(b"a", b"1"), field(b"b", b"2"), field(b"c", b"3")),
        LimitExceeded,
        "more than 2 parts",
        Limits(multipart_parts=2),
    ),
    "body_too_large": (
        form(field(b"a", b"x" * 100)),
        LimitExceeded,
        "body larger than 64 bytes",
        Limits(body_bytes=64),
    ),
    "malformed_before_body_limit": (
        b"junk" + form(field(b"a", b"x" * 100)),
        BodyError,
        "data before the first boundary",
        Limits(body_bytes=64),
    ),
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected(name: str) -> None:
    data, error, fragment, *rest = REJECTED[name]
    limits = rest[0] if rest else Limits()
    outcome = parse_all_ways(data, limits)
    assert outcome[:2] == ("error", error), outcome
    assert fragment in outcome[2]
    assert outcome[2].startswith("multipart: ")
    assert outcome[3] == (413 if error is LimitExceeded else 400)


def test_first_error_is_kept_and_raised_again() -> None:
    parser = MultipartParser(B, Limits(), lambda: BodySpool(10))
    with pytest.raises(BodyError) as first:
        parser.feed(b"junk")
    with pytest.raises(BodyError) as again:
        parser.feed(form(field(b"a", b"1")))
    assert again.value is first.value
    with pytest.raises(BodyError) as at_close:
        parser.close()
    assert at_close.value is first.value


def test_feed_after_close_is_a_usage_error() -> None:
    parser = MultipartParser(B, Limits(), lambda: BodySpool(10))
    parser.feed(form(field(b"a", b"1")))
    assert parser.close() is parser.close()
    with pytest.raises(ValueError):
        parser.feed(b"more")


def test_invalid_boundary_argument() -> None:
    with pytest.raises(BodyError):
        MultipartParser(b"", Limits(), lambda: BodySpool(10))


# --------------------------------------------------------------------------- spooling


def test_big_file_spills_to_directory_and_is_removed(tmp_path) -> None:
    content = os.urandom(5000)
    data = form(field(b"a", b"1"), upload(b"f", b"big.bin", content))
    limits = Limits(body_in_memory=1024)
    factory_spools: list[BodySpool] = []

    def factory() -> BodySpool:
        spool = BodySpool(limits.body_in_memory, str(tmp_path), "20260101-120000-10.0.0.1")
        factory_spools.append(spool)
        return spool

    parser = MultipartParser(B, limits, factory)
    for pos in range(0, len(data), 333):
        parser.feed(data[pos : pos + 333])
    result = parser.close()
    (upload_,) = result.files
    assert upload_.size == 5000 and upload_.spool.getvalue() == content
    path = upload_.spool.path
    assert path is not None and os.path.dirname(path) == str(tmp_path)
    assert os.path.basename(path).startswith("20260101-120000-10.0.0.1-request_body-")
    result.close_files()
    assert not os.path.exists(path) and os.listdir(tmp_path) == []


def test_failed_body_removes_its_files(tmp_path) -> None:
    data = D + b"\r\n" + upload(b"f", b"x", b"y" * 3000)
    parser = MultipartParser(B, Limits(), lambda: BodySpool(100, str(tmp_path), "p"))
    parser.feed(data)
    assert len(os.listdir(tmp_path)) == 1
    with pytest.raises(BodyError, match="missing final boundary"):
        parser.close()
    assert os.listdir(tmp_path) == []


def test_spool_creation_failure_is_a_500(tmp_path) -> None:
    missing = str(tmp_path / "missing")
    data = form(upload(b"f", b"x", b"y" * 50))
    for _, chunks in chunkings(data):
        outcome = run(chunks, Limits(body_in_memory=10), missing)
        assert outcome[0] == "error" and outcome[1] is RequestError and outcome[3] == 500
        assert outcome[2].startswith(f'Failed to create file "{missing}/20260101-120000-')
        assert outcome[2].endswith('" because 2("No such file or directory")')


# --------------------------------------------------------------------------- synthetic body


def decode(raw: bytes) -> bytes:
    return urllib.parse.unquote_to_bytes(raw.replace(b"+", b" "))


def test_synthetic_urlencoded_escapes_separators() -> None:
    result = MultipartResult(fields=((b"a&b", b"1=2%3+4"), (b"c", b"x\r\ny\x00")))
    assert result.synthetic_urlencoded() == b"a%26b=1%3D2%253%2B4&c=x%0D%0Ay%00"


@given(st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=20)), max_size=10))
def test_synthetic_urlencoded_round_trip(fields: list[tuple[bytes, bytes]]) -> None:
    synthetic = MultipartResult(fields=tuple(fields)).synthetic_urlencoded()
    pairs = split_urlencoded(synthetic, 1000)
    assert [(decode(n), decode(v)) for n, v in pairs] == fields


_NAME_BYTES = st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_NAME_BYTES, st.binary(max_size=30)), max_size=5))
def test_parsed_fields_round_trip_through_synthetic_body(fields) -> None:
    fields = [(n, v) for n, v in fields if D not in v and B not in n]
    quoted = [n.replace(b"\\", b"\\\\").replace(b'"', b'\\"') for n, _ in fields]
    data = form(*(field(q, v) for q, (_, v) in zip(quoted, fields, strict=True)))
    outcome = run([data], Limits(), None)
    assert outcome == ("ok", fields, [])
    synthetic = MultipartResult(fields=tuple(outcome[1])).synthetic_urlencoded()
    assert [(decode(n), decode(v)) for n, v in split_urlencoded(synthetic, 1000)] == fields


# --------------------------------------------------------------------------- fuzzing

FRAGMENTS = [
    D,
    b"\r\n",
    b"\n",
    b"\r",
    b"--",
    b" ",
    CD,
    b'; name="a"',
    b'; filename="f"',
    b"Content-Type: text/plain",
    b"x",
    b"\x00\xff",
    b":",
    b'"',
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_arbitrary_bytes_raise_only_request_errors(data: bytes, cuts: list[int]) -> None:
    whole, pieces = (run(chunks, Limits(), None) for chunks in _cut(data, cuts))
    assert whole == pieces


HEADER_LINES = [
    CD + b'; name="a"',
    CD + b'; name="f"; filename="x"',
    CD + b'; name="a"; name="b"',
    CD,
    b"Content-Type: text/plain",
    b"X-Foo: bar",
    b" folded",
    b"no colon",
]
_CONTENT = st.lists(st.sampled_from(FRAGMENTS), max_size=6).map(b"".join)
_VALID_CD = st.sampled_from([[CD + b'; name="a"'], [CD + b'; name="f"; filename="x"'], []])
_PART = st.tuples(
    st.tuples(_VALID_CD, st.lists(st.sampled_from(HEADER_LINES), max_size=2)).map(
        lambda both: both[0] + both[1]
    ),
    _CONTENT,
)


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> bytes:
    """A well-formed body, then a few fragments inserted and maybe a truncation."""
    parts = draw(st.lists(_PART, max_size=4))
    data = bytearray(form(*(b"\r\n".join(lines) + b"\r\n\r\n" + body for lines, body in parts)))
    for _ in range(draw(st.integers(0, 2))):
        pos = draw(st.integers(0, len(data)))
        data[pos:pos] = draw(st.sampled_from(FRAGMENTS))
    if draw(st.integers(0, 3)) == 0:
        del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(near_valid_bodies(), st.lists(st.integers(0, 400), max_size=6))
def test_structured_noise_is_chunking_independent(data: bytes, cuts: list[int]) -> None:
    limits = Limits(multipart_header_bytes=120, multipart_headers=3)
    byte_by_byte = [data[i : i + 1] for i in range(len(data))]
    outcomes = [run(chunks, limits, None) for chunks in [*_cut(data, cuts), byte_by_byte]]
    assert all(outcome == outcomes[0] for outcome in outcomes)


def _cut(data: bytes, cuts: list[int]) -> list[list[bytes]]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [[data], pieces]


# --------------------------------------------------------------------------- Content-Type

LONGEST = "a" * 70
BOUNDARIES = {
    "plain": ("multipart/form-data; boundary=abc123", b"abc123"),
    "quoted": ('multipart/form-data; boundary="abc123"', b"abc123"),
    "quoted_with_space": ('multipart/form-data; boundary="a b"', b"a b"),
    "webkit": (
        "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        b"----WebKitFormBoundary7MA4YWxkTrZu0gW",
    ),
    "rfc2046_specials": ('multipart/form-data; boundary="\'()+_,-./:=?"', b"'()+_,-./:=?"),
    "case_insensitive": ("Multipart/Form-Data; BOUNDARY=abc", b"abc"),
    "after_charset": ("multipart/form-data; charset=utf-8; boundary=abc", b"abc"),
    "seventy_chars": (f"multipart/form-data; boundary={LONGEST}", LONGEST.encode()),
}


@pytest.mark.parametrize("name", sorted(BOUNDARIES))
def test_boundary_from_content_type(name: str) -> None:
    content_type, expected = BOUNDARIES[name]
    assert boundary_from_content_type(content_type) == expected


BAD_BOUNDARIES = {
    "missing": "multipart/form-data",
    "empty": "multipart/form-data; boundary=",
    "empty_quoted": 'multipart/form-data; boundary=""',
    "too_long": f"multipart/form-data; boundary={LONGEST}a",
    "invalid_character": "multipart/form-data; boundary=a@b",
    "trailing_space": 'multipart/form-data; boundary="abc "',
    "duplicate": "multipart/form-data; boundary=a; boundary=b",
    "space_around_equals": "multipart/form-data; boundary = abc",
    "unterminated_quote": 'multipart/form-data; boundary="abc',
    "not_latin1": "multipart/form-data; boundary=\u20ac",
}


@pytest.mark.parametrize("name", sorted(BAD_BOUNDARIES))
def test_bad_boundary(name: str) -> None:
    with pytest.raises(BodyError) as info:
        boundary_from_content_type(BAD_BOUNDARIES[name])
    assert info.value.http_status == 400
