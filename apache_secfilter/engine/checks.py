"""The built-in validations of spec §7, run before any rule.

As spec §2.2 says, they run over the request line (with its query string),
every header value and the parameters: URL-encoding validity over the raw
data, UTF-8 validity and the byte range over the URL-decoded data.  A
multipart body is not checked itself, but the fields taken from it are; the
cookie format is checked over the Cookie headers.  The first failure is the
reason the request is rejected.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..escape import escape_log
from ..policy.model import Settings
from ..request.checks.byte_range import check_byte_range
from ..request.checks.cookies import check_cookie_format
from ..request.checks.unicode import check_utf8
from ..request.checks.url_encoding import check_url_encoding
from ..request.model import Request
from ..request.normalise import url_decode
from .body import BodyResult


def _encoded_items(request: Request, body: BodyResult | None) -> Iterator[tuple[str, bytes]]:
    """Data whose format is URL encoding, raw, with the location to report."""
    yield "THE_REQUEST", request.the_request.encode("latin-1")
    for name, value in request.headers:
        yield f'HEADER("{escape_log(name)}")', value.encode("latin-1")
    if body is not None and body.raw_checked is not None:
        yield "POST_PAYLOAD", body.raw_checked


def _decoded_items(request: Request, body: BodyResult | None) -> Iterator[tuple[str, bytes]]:
    """Data after URL decoding, for the UTF-8 and byte-range checks."""
    for location, raw in _encoded_items(request, body):
        yield location, url_decode(raw, plus_as_space=not location.startswith("HEADER"))
    if body is not None:
        for value in body.field_values:
            yield "POST_PAYLOAD", value


def _may_hold_bad_encoding(request: Request, body: BodyResult | None) -> bool:
    """False when no value holds a ``%``: then no URL encoding can be bad.

    Almost every request is like that, and this costs one substring test per
    value instead of encoding each one and naming its location.
    """
    if "%" in request.the_request or any("%" in value for _, value in request.headers):
        return True
    raw = body.raw_checked if body is not None else None
    return raw is not None and b"%" in raw


def run_checks(settings: Settings, request: Request,
               body: BodyResult | None) -> str | None:
    """Return the first failure as ``reason at LOCATION``, or None when all pass."""
    if settings.check_url_encoding and _may_hold_bad_encoding(request, body):
        for location, raw in _encoded_items(request, body):
            reason = check_url_encoding(raw)
            if reason:
                return f"{reason} at {location}"
    low, high = settings.byte_range
    check_range = (low, high) != (0, 255)
    if settings.check_unicode_encoding or check_range:
        for location, data in _decoded_items(request, body):
            reason = settings.check_unicode_encoding and check_utf8(data)
            if not reason and check_range:
                reason = check_byte_range(data, low, high)
            if reason:
                return f"{reason} at {location}"
    if settings.check_cookie_format:
        values = request.header_values("Cookie")
        reason = check_cookie_format(values, settings.cookie_format) if values else None
        if reason:
            return f"{reason} at COOKIES"
    return None
