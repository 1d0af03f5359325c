"""The fixed 1.x normalisation: data-driven vectors and properties.

Vectors live in ``tests/vectors/normalise/*.json``: a list of objects with
``name``, the input as ``input`` (Latin-1 text) or ``input_hex``, the
expected result as ``output`` (Latin-1 text) or ``output_hex``, and an
optional ``plus_as_space`` (default true).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apache_secfilter.request.normalise import (
    compress_path,
    latin1_bytes,
    normalise,
    normalise_each,
    replace_nuls,
    url_decode,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "normalise"


def _load(name: str) -> list[dict]:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="ascii"))


def _bytes(row: dict, key: str) -> bytes:
    if f"{key}_hex" in row:
        return bytes.fromhex(row[f"{key}_hex"])
    return row[key].encode("latin-1")


def _cases(name: str) -> list:
    return [pytest.param(row, id=row["name"]) for row in _load(name)]


@pytest.mark.parametrize("row", _cases("url_decode"))
def test_url_decode_vectors(row: dict) -> None:
    plus = row.get("plus_as_space", True)
    assert url_decode(_bytes(row, "input"), plus_as_space=plus) == _bytes(row, "output")


@pytest.mark.parametrize("row", _cases("compress_path"))
def test_compress_path_vectors(row: dict) -> None:
    assert compress_path(_bytes(row, "input")) == _bytes(row, "output")


@pytest.mark.parametrize("row", _cases("replace_nuls"))
def test_replace_nuls_vectors(row: dict) -> None:
    assert replace_nuls(_bytes(row, "input")) == _bytes(row, "output")


@pytest.mark.parametrize("row", _cases("normalise"))
def test_normalise_vectors(row: dict) -> None:
    plus = row.get("plus_as_space", True)
    expected = _bytes(row, "output").decode("latin-1")
    data = _bytes(row, "input")
    assert normalise(data, plus_as_space=plus) == expected
    assert normalise(data.decode("latin-1"), plus_as_space=plus) == expected


@pytest.mark.parametrize("byte", range(256))
def test_every_pair_decodes_in_any_case(byte: int) -> None:
    pair = f"{byte:02x}"
    for spelling in {pair, pair.upper(), pair[0].upper() + pair[1], pair[0] + pair[1].upper()}:
        assert url_decode(f"x%{spelling}y".encode()) == b"x" + bytes([byte]) + b"y"


def test_normalise_returns_the_same_object_when_nothing_can_change() -> None:
    """The fast path: a value without ``%``, ``+``, ``/`` or NUL is not copied."""
    value = "Mozilla 5.0 (X11; Linux x86_64) Gecko Firefox"
    assert normalise(value) is value


def test_plus_alone_is_kept_without_plus_as_space() -> None:
    value = "a+b"
    assert normalise(value, plus_as_space=False) is value


def test_str_beyond_latin1_passes_through() -> None:
    assert normalise("\u20ac%20/./\u20ac") == "\u20ac /\u20ac"


def test_latin1_bytes() -> None:
    assert latin1_bytes("caf\u00e9") == b"caf\xe9"
    assert latin1_bytes(bytearray(b"ab")) == b"ab"
    assert latin1_bytes(memoryview(b"ab")) == b"ab"
    assert latin1_bytes("\u20ac") == "\u20ac".encode()


# --- properties -------------------------------------------------------------

_PATHISH = st.text(alphabet="/.ab%+\x00", max_size=40)
_ANY_BYTES = st.binary(max_size=200)


def _naive_compress(data: bytes) -> bytes:
    """The definition: replace ``/./`` and ``//`` until nothing changes."""
    while True:
        new = data.replace(b"/./", b"/").replace(b"//", b"/")
        if new == data:
            return data
        data = new


@given(st.one_of(_ANY_BYTES, _PATHISH.map(str.encode)), st.booleans())
def test_normalise_never_raises(data: bytes, plus: bool) -> None:
    result = normalise(data, plus_as_space=plus)
    assert isinstance(result, str)
    assert normalise(data.decode("latin-1"), plus_as_space=plus) == result


@given(st.text(max_size=60), st.booleans())
def test_normalise_never_raises_on_any_text(text: str, plus: bool) -> None:
    assert isinstance(normalise(text, plus_as_space=plus), str)


@given(st.one_of(_ANY_BYTES, _PATHISH.map(str.encode)))
def test_normalise_is_idempotent_without_percent_or_plus(data: bytes) -> None:
    data = data.replace(b"%", b"").replace(b"+", b"")
    once = normalise(data)
    assert normalise(once) == once


@given(st.one_of(_ANY_BYTES, _PATHISH.map(str.encode)))
def test_compress_path_leaves_no_double_slash_or_self_reference(data: bytes) -> None:
    result = compress_path(data)
    assert b"//" not in result
    assert b"/./" not in result
    assert result == _naive_compress(data)


@given(_ANY_BYTES)
def test_replace_nuls_leaves_no_nul(data: bytes) -> None:
    result = replace_nuls(data)
    assert b"\x00" not in result
    assert len(result) == len(data)


@given(st.one_of(_ANY_BYTES, _PATHISH.map(str.encode)), st.booleans())
def test_url_decode_never_grows_and_keeps_non_percent_text(data: bytes, plus: bool) -> None:
    result = url_decode(data, plus_as_space=plus)
    assert len(result) <= len(data)
    if b"%" not in data:
        assert result == (data.replace(b"+", b" ") if plus else data)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet="a/.%0Aa2F+\n\x00 %zzB", max_size=12), max_size=6),
       st.booleans())
def test_normalising_many_at_once_is_normalising_each(values: list[str], plus: bool) -> None:
    assert normalise_each(values, plus) == [normalise(v, plus) for v in values]
