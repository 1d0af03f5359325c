"""``common_fields`` gives the parser's fields or steps aside: never another answer.

Every body here goes through both; wherever ``common_fields`` answers, the
strict parser must accept the body and return the same non-file fields.  The
browser-shaped bodies must also be answered (else the shortcut is useless).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apache_secfilter.errors import RequestError
from apache_secfilter.limits import DEFAULT_LIMITS, Limits
from apache_secfilter.request.bodies import BodySpool, MultipartParser
from apache_secfilter.request.bodies.multipart_common import common_fields
from tests.unit.bodies.test_multipart import ACCEPTED, REJECTED, B, near_valid_bodies

BROWSER_B = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"


def parsed_fields(data: bytes, boundary: bytes, limits: Limits) -> list | None:
    """The parser's fields, or None when it rejects the body."""
    try:
        parser = MultipartParser(boundary, limits, lambda: BodySpool(1 << 30))
        parser.feed(data)
        result = parser.close()
    except RequestError:
        return None
    result.close_files()
    return list(result.fields)


def assert_agrees(data: bytes, boundary: bytes = B, limits: Limits = DEFAULT_LIMITS) -> bool:
    """Check the shortcut against the parser; True when the shortcut answered."""
    quick = common_fields(data, boundary, limits)
    if quick is None:
        return False
    assert parsed_fields(data, boundary, limits) == list(quick), data
    return True


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_the_parsers_accepted_cases(name: str) -> None:
    assert_agrees(ACCEPTED[name][0])


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_the_parsers_rejected_cases_are_never_answered(name: str) -> None:
    data, *_rest = REJECTED[name]
    limits = _rest[2] if len(_rest) == 3 else DEFAULT_LIMITS
    assert common_fields(data, B, limits) is None


@settings(max_examples=400, deadline=None)
@given(near_valid_bodies())
def test_structured_noise(data: bytes) -> None:
    assert_agrees(data, B, Limits(multipart_header_bytes=120, multipart_headers=3))


# -- bodies as browsers send them, then bent -------------------------------------------------

CONTENT_BYTES = st.lists(st.sampled_from(
    [b"\r\n", b"--", b"-", b"\r", b"\n", BROWSER_B, BROWSER_B[:9], b"--" + BROWSER_B[:-1], b"x",
     b"\x00", b"\xff", b"=", b"&", b"%", b'"', b"\\"]), max_size=8).map(b"".join)
NAME = st.lists(st.sampled_from([b"a", b"photo", b" ", b";", b"=", b"&", b"%", b"\xe9",
                                 b"\x00", b"--", b"name"]), max_size=4).map(b"".join)


@st.composite
def browser_parts(draw: st.DrawFn) -> bytes:
    head = b'Content-Disposition: form-data; name="' + draw(NAME) + b'"'
    if draw(st.booleans()):
        head += b'; filename="' + draw(NAME) + b'"'
        if draw(st.booleans()):
            head += b"\r\nContent-Type: " + draw(st.sampled_from(
                [b"image/jpeg", b"application/octet-stream", b"text/plain; charset=x"]))
    return head + b"\r\n\r\n" + draw(CONTENT_BYTES)


@st.composite
def browser_bodies(draw: st.DrawFn) -> tuple[bytes, bytes]:
    boundary = draw(st.sampled_from([BROWSER_B, b"abc", b"a-a", b"--a--", b"xx", b"b b"]))
    dash = b"--" + boundary
    parts = draw(st.lists(browser_parts(), max_size=4))
    body = b"".join(dash + b"\r\n" + part + b"\r\n" for part in parts) + dash
    body += draw(st.sampled_from([b"--\r\n", b"--", b"--\r\n\r\n", b"--x", b""]))
    if draw(st.integers(0, 3)) == 0:
        pos = draw(st.integers(0, len(body)))
        body = body[:pos] + draw(st.sampled_from([b"\r\n", b"-", dash, b"\n", b" "])) + body[pos:]
    return boundary, body


@settings(max_examples=600, deadline=None)
@given(browser_bodies(), st.sampled_from([DEFAULT_LIMITS, Limits(multipart_parts=2),
                                          Limits(multipart_header_bytes=70),
                                          Limits(body_bytes=60)]))
def test_browser_shaped_bodies(case: tuple[bytes, bytes], limits: Limits) -> None:
    boundary, body = case
    assert_agrees(body, boundary, limits)


def test_an_upload_as_a_browser_sends_it_is_answered() -> None:
    dash = b"--" + BROWSER_B
    photo = bytes(range(256)) * 400
    body = (dash + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nGarden bench\r\n'
            + dash + b'\r\nContent-Disposition: form-data; name="photo"; filename="b.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n" + photo + b"\r\n" + dash + b"--\r\n")
    assert assert_agrees(body, BROWSER_B)
    assert common_fields(body, BROWSER_B, DEFAULT_LIMITS) == ((b"title", b"Garden bench"),)


@pytest.mark.parametrize("body", [
    b"\r\n--abc\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--abc--",  # preamble
    b"--abc\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--abc--",  # unquoted
    b"--abc\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n--abc--",  # case
    b"--abc\r\nContent-Disposition: form-data; name=\"a\\\"b\"\r\n\r\n1\r\n--abc--",  # escape
    b"--abc\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1--abc\r\n--abc--",  # inside
])
def test_other_shapes_are_left_to_the_parser(body: bytes) -> None:
    assert common_fields(body, b"abc", DEFAULT_LIMITS) is None


def test_boundaries_that_can_overlap_themselves() -> None:
    body = b"--a-a\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--a-a--"
    assert common_fields(body, b"a-a", DEFAULT_LIMITS) is not None
    body = b"--a--\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n----a----"
    assert common_fields(body, b"a--", DEFAULT_LIMITS) is None
