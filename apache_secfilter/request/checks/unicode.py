"""``SecFilterCheckUnicodeEncoding``: URL-decoded data must be UTF-8.

The algorithm is the one of the earliest surviving successor code (2.1.0-rc7,
spec §7), the closest record of what 1.9 did, and it is followed exactly even
where it is lenient: a lead byte ``110xxxxx`` needs one continuation byte
(``10xxxxxx``), ``1110xxxx`` two, ``11110xxx`` three, ``111110xx`` four and
``1111110x`` five; the only other test is that a multi-byte form must not
encode a value below 0x80 (``%C0%AF``, ``%E0%80%AF`` are caught, ``%E0%82%80``
is not).  Stray continuation bytes, ``0xFE``/``0xFF`` and 5/6-byte forms are
accepted, as are surrogates and values above U+10FFFF.  Being stricter would
reject requests 1.x let through.

Speed: ASCII and well-formed UTF-8 (a subset of what is accepted) are
settled by C code; anything else by one regular expression that matches the
longest accepted prefix.  Only the character where that prefix stops is
examined in Python, to name the reason.
"""

from __future__ import annotations

import re

from apache_secfilter.request.normalise import latin1_bytes

__all__ = ["INVALID_BYTE", "NOT_ENOUGH_BYTES", "OVERLONG", "check_utf8"]

NOT_ENOUGH_BYTES = "Invalid Unicode encoding: not enough bytes in character"
INVALID_BYTE = "Invalid Unicode encoding: invalid byte value in character"
OVERLONG = "Invalid Unicode encoding: overlong character detected"

_C = rb"[\x80-\xBF]"  # a continuation byte

#: One accepted character, the alternatives told apart by their lead byte.
#: Overlong forms are excluded by the second byte range: for each length the
#: value is below 0x80 only when the lead's payload bits are 0 and the
#: following continuation bytes carry 0 (or, for the last one before the
#: final byte, at most 1).
_ACCEPTED_CHAR = b"|".join(
    [
        rb"[\x00-\xBF\xFE\xFF]",  # ASCII, stray continuation, 0xFE, 0xFF
        rb"[\xC2-\xDF]" + _C,
        rb"\xE0[\x82-\xBF]" + _C,
        rb"[\xE1-\xEF]" + _C * 2,
        rb"\xF0\x80[\x82-\xBF]" + _C,
        rb"\xF0[\x81-\xBF]" + _C * 2,
        rb"[\xF1-\xF7]" + _C * 3,
        rb"\xF8\x80\x80[\x82-\xBF]" + _C,
        rb"\xF8\x80[\x81-\xBF]" + _C * 2,
        rb"\xF8[\x81-\xBF]" + _C * 3,
        rb"[\xF9-\xFB]" + _C * 4,
        rb"\xFC\x80\x80\x80[\x82-\xBF]" + _C,
        rb"\xFC\x80\x80[\x81-\xBF]" + _C * 2,
        rb"\xFC\x80[\x81-\xBF]" + _C * 3,
        rb"\xFC[\x81-\xBF]" + _C * 4,
        rb"\xFD" + _C * 5,
    ]
)
_ACCEPTED_PREFIX = re.compile(rb"(?:" + _ACCEPTED_CHAR + rb")*+")


def _continuations(lead: int) -> int:
    """How many continuation bytes a lead byte announces (0: single byte)."""
    if lead & 0xE0 == 0xC0:
        return 1
    if lead & 0xF0 == 0xE0:
        return 2
    if lead & 0xF8 == 0xF0:
        return 3
    if lead & 0xFC == 0xF8:
        return 4
    if lead & 0xFE == 0xFC:
        return 5
    return 0


def _reason_at(data: bytes, start: int) -> str | None:
    """Judge the one character starting at ``start`` as the 2007 code did.

    The tests run in its order: enough bytes left, then each continuation
    byte in turn, then the overlong test on the decoded value.
    """
    count = _continuations(data[start])
    if count == 0:
        return None
    if len(data) - start < count + 1:
        return NOT_ENOUGH_BYTES
    value = data[start] & (0x7F >> (count + 1))
    for byte in data[start + 1 : start + 1 + count]:
        if byte & 0xC0 != 0x80:
            return INVALID_BYTE
        value = (value << 6) | (byte & 0x3F)
    if value < 0x80:
        return OVERLONG
    return None


def check_utf8(decoded: bytes) -> str | None:
    """Return ``None`` when ``decoded`` passes the 2007 UTF-8 test.

    Otherwise return the reason for the first bad character.  ``decoded``
    must already be URL-decoded (``%E9`` alone fails only once it is the
    byte 0xE9); it may also be Latin-1 text.  Nothing raises.
    """
    data = latin1_bytes(decoded)
    if data.isascii():
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return None
    end = _ACCEPTED_PREFIX.match(data).end()
    if end == len(data):
        return None
    return _reason_at(data, end) or INVALID_BYTE
