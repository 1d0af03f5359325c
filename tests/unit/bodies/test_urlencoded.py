"""Splitting urlencoded bodies and query strings into raw pairs."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apache_secfilter.errors import LimitExceeded
from apache_secfilter.request.bodies import encode_urlencoded, percent_encode, split_urlencoded

SPLITS = {
    "empty": (b"", []),
    "one_pair": (b"a=1", [(b"a", b"1")]),
    "two_pairs": (b"a=1&b=2", [(b"a", b"1"), (b"b", b"2")]),
    "no_equals": (b"flag", [(b"flag", b"")]),
    "empty_value": (b"a=", [(b"a", b"")]),
    "empty_name": (b"=v", [(b"", b"v")]),
    "only_equals": (b"=", [(b"", b"")]),
    "first_equals_splits": (b"a=b=c", [(b"a", b"b=c")]),
    "empty_pieces_skipped": (b"&&a=1&&&b=2&", [(b"a", b"1"), (b"b", b"2")]),
    "only_ampersands": (b"&&&", []),
    "stays_encoded": (b"a%20b=c+d%26", [(b"a%20b", b"c+d%26")]),
    "duplicates_kept_in_order": (b"a=1&a=2", [(b"a", b"1"), (b"a", b"2")]),
    "semicolon_is_not_a_separator": (b"a=1;b=2", [(b"a", b"1;b=2")]),
    "binary": (b"\x00=\xff&\r\n", [(b"\x00", b"\xff"), (b"\r\n", b"")]),
}


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_split(name: str) -> None:
    data, expected = SPLITS[name]
    assert split_urlencoded(data, 1000) == expected


def test_limit_counts_pairs_not_pieces() -> None:
    assert len(split_urlencoded(b"a&&b&&&c", 3)) == 3
    with pytest.raises(LimitExceeded) as info:
        split_urlencoded(b"a&b&c&d", 3)
    assert info.value.http_status == 413
    assert "more than 3 parameters" in info.value.message


def test_zero_limit_allows_only_empty() -> None:
    assert split_urlencoded(b"&&", 0) == []
    with pytest.raises(LimitExceeded):
        split_urlencoded(b"a", 0)


def test_many_separators_are_cheap() -> None:
    assert split_urlencoded(b"&" * 5_000_000 + b"a=1", 1) == [(b"a", b"1")]


def test_percent_encode() -> None:
    assert percent_encode(b"a b&c=d%e+f\x00\x1f\x7f\x80\xff") == (
        b"a b%26c%3Dd%25e%2Bf%00%1F%7F\x80\xff"
    )


def test_encode_urlencoded() -> None:
    assert encode_urlencoded([(b"a", b"1"), (b"b&", b"=")]) == b"a=1&b%26=%3D"
    assert encode_urlencoded([]) == b""


@given(st.binary(max_size=200))
def test_split_never_raises_below_limit(data: bytes) -> None:
    pairs = split_urlencoded(data, 10_000)
    assert all(b"&" not in name + value for name, value in pairs)
    assert all(b"=" not in name for name, _ in pairs)


@given(st.lists(st.tuples(st.binary(max_size=10), st.binary(max_size=10)), max_size=8))
def test_encode_then_split_round_trip(pairs: list[tuple[bytes, bytes]]) -> None:
    decoded = [
        (urllib.parse.unquote_to_bytes(n), urllib.parse.unquote_to_bytes(v))
        for n, v in split_urlencoded(encode_urlencoded(pairs), 1000)
    ]
    assert decoded == pairs
