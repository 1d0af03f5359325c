"""The built-in checks (URL encoding, UTF-8, byte range): vectors and properties.

Vectors live in ``tests/vectors/checks/*.json``: a list of objects with the
input as ``input`` (Latin-1 text), ``input_hex`` or ``input_utf8`` (text to
encode as UTF-8), ``valid``, the expected ``reason`` when not valid, an
optional ``name``, and for the byte range ``low`` and ``high``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apache_secfilter.request.checks import check_byte_range, check_url_encoding, check_utf8
from apache_secfilter.request.checks.unicode import INVALID_BYTE, NOT_ENOUGH_BYTES, OVERLONG

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "checks"


def _input(row: dict) -> bytes:
    if "input_hex" in row:
        return bytes.fromhex(row["input_hex"])
    if "input_utf8" in row:
        return row["input_utf8"].encode("utf-8")
    return row["input"].encode("latin-1")


def _cases(name: str) -> list:
    rows = json.loads((VECTORS / f"{name}.json").read_text(encoding="ascii"))
    return [pytest.param(row, id=row.get("name") or _input(row)[:24].hex()) for row in rows]


def _expected(row: dict) -> str | None:
    assert row["valid"] == ("reason" not in row), "a vector names a reason exactly when invalid"
    return None if row["valid"] else row["reason"]


@pytest.mark.parametrize("row", _cases("url_encoding"))
def test_url_encoding_vectors(row: dict) -> None:
    assert check_url_encoding(_input(row)) == _expected(row)


@pytest.mark.parametrize("row", _cases("utf8"))
def test_utf8_vectors(row: dict) -> None:
    assert check_utf8(_input(row)) == _expected(row)


@pytest.mark.parametrize("row", _cases("byte_range"))
def test_byte_range_vectors(row: dict) -> None:
    assert check_byte_range(_input(row), row["low"], row["high"]) == _expected(row)


def test_checks_accept_latin1_text() -> None:
    assert check_url_encoding("%zz") is not None
    assert check_utf8("caf\u00e9") == NOT_ENOUGH_BYTES
    assert check_byte_range("caf\u00e9", 32, 126) == "Invalid character detected [233]"


def test_utf8_check_of_urlencoded_e_acute_is_about_decoded_data() -> None:
    """``%E9`` itself is ASCII; only its decoded byte fails (spec §7)."""
    assert check_utf8(b"%E9") is None
    assert check_utf8(b"\xe9") == NOT_ENOUGH_BYTES


# --- a straight transcription of the 2007 algorithm, to compare against ----


def _reference_utf8(data: bytes) -> str | None:
    """Walk the data one character at a time, as the C code did."""
    index = 0
    while index < len(data):
        lead = data[index]
        if lead & 0xE0 == 0xC0:
            count, value = 1, lead & 0x1F
        elif lead & 0xF0 == 0xE0:
            count, value = 2, lead & 0x0F
        elif lead & 0xF8 == 0xF0:
            count, value = 3, lead & 0x07
        elif lead & 0xFC == 0xF8:
            count, value = 4, lead & 0x03
        elif lead & 0xFE == 0xFC:
            count, value = 5, lead & 0x01
        else:
            index += 1
            continue
        if len(data) - index < count + 1:
            return NOT_ENOUGH_BYTES
        for offset in range(1, count + 1):
            byte = data[index + offset]
            if byte & 0xC0 != 0x80:
                return INVALID_BYTE
            value = (value << 6) | (byte & 0x3F)
        if value < 0x80:
            return OVERLONG
        index += count + 1
    return None


#: Bytes that make the interesting cases likely: every lead-byte class, the
#: continuation bytes at the edges of the overlong ranges, and ASCII.
_UTF8ISH = st.lists(
    st.sampled_from(
        [
            0x00,
            0x41,
            0x3B,
            0x80,
            0x81,
            0x82,
            0xA0,
            0xBF,
            0xC0,
            0xC1,
            0xC2,
            0xDF,
            0xE0,
            0xE1,
            0xED,
            0xEF,
            0xF0,
            0xF4,
            0xF7,
            0xF8,
            0xFB,
            0xFC,
            0xFD,
            0xFE,
            0xFF,
        ]
    ),
    max_size=24,
).map(bytes)


@given(st.one_of(st.binary(max_size=64), _UTF8ISH))
def test_utf8_check_matches_the_2007_algorithm(data: bytes) -> None:
    assert check_utf8(data) == _reference_utf8(data)


_LEADS = [0x41, 0x80, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEF, 0xF0, 0xF1, 0xF7, 0xF8]
_LEADS += [0xF9, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF]
_TAILS = [0x80, 0x81, 0x82, 0xBF, 0x41]


@pytest.mark.parametrize("lead", _LEADS, ids=lambda lead: f"{lead:02x}")
def test_utf8_check_matches_the_2007_algorithm_exhaustively(lead: int) -> None:
    """Every lead class with every tail that sits on an overlong edge, up to 6 bytes."""
    for size in range(6):
        for tail in itertools.product(_TAILS, repeat=size):
            data = bytes([lead, *tail])
            assert check_utf8(data) == _reference_utf8(data), data.hex()


@given(st.text(max_size=40))
def test_utf8_accepts_all_well_formed_text(text: str) -> None:
    assert check_utf8(text.encode("utf-8", "surrogatepass")) is None


def _reference_url_encoding(data: bytes) -> str | None:
    hexdigits = b"0123456789abcdefABCDEF"
    index = 0
    while index < len(data):
        if data[index] != 0x25:
            index += 1
            continue
        if index + 2 >= len(data):
            return "Invalid URL encoding: not enough characters at the end of input"
        if data[index + 1] not in hexdigits or data[index + 2] not in hexdigits:
            return "Invalid URL encoding: non-hexadecimal digits used"
        index += 3
    return None


@given(st.one_of(st.binary(max_size=64), st.text(alphabet="%0aFgz+", max_size=20).map(str.encode)))
def test_url_encoding_matches_a_left_to_right_scan(data: bytes) -> None:
    assert check_url_encoding(data) == _reference_url_encoding(data)


@given(st.binary(max_size=64), st.integers(-300, 600), st.integers(-300, 600))
def test_byte_range_never_raises_and_names_the_first_bad_byte(
    data: bytes, low: int, high: int
) -> None:
    bad = [byte for byte in data if not low <= byte <= high]
    expected = f"Invalid character detected [{bad[0]}]" if bad else None
    assert check_byte_range(data, low, high) == expected


@given(st.one_of(st.binary(max_size=64), st.text(max_size=32)))
def test_no_check_raises(data: bytes | str) -> None:
    for result in (check_url_encoding(data), check_utf8(data), check_byte_range(data, 32, 126)):
        assert result is None or isinstance(result, str)
