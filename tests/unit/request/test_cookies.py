"""Cookie parsing and ``SecFilterCheckCookieFormat``: vectors and properties.

Vectors live in ``tests/vectors/checks/cookies.json``: a list of objects with
``name``, ``headers`` (the ``Cookie`` header values), ``version`` (0 or 1),
the expected ``cookies`` as ``[name, value]`` pairs, the expected ``error``
(or null), and optional ``max_cookies`` (default 200) and ``truncated``.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apache_secfilter.request.checks import CookieJar, check_cookie_format, parse_cookies

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "checks" / "cookies.json"
ROWS = json.loads(VECTORS.read_text(encoding="ascii"))


@pytest.mark.parametrize("row", [pytest.param(row, id=row["name"]) for row in ROWS])
def test_cookie_vectors(row: dict) -> None:
    limit = row.get("max_cookies", 200)
    jar = parse_cookies(row["headers"], row["version"], limit)
    assert [list(cookie) for cookie in jar.cookies] == row["cookies"]
    assert jar.error == row["error"]
    assert jar.truncated == row.get("truncated", False)
    assert check_cookie_format(row["headers"], row["version"], limit) == row["error"]


def test_jar_is_frozen_and_lists_names_and_values() -> None:
    jar = parse_cookies(["a=1; b=2"], 0, 10)
    assert isinstance(jar, CookieJar)
    assert jar.names == ["a", "b"]
    assert jar.values == ["1", "2"]
    with pytest.raises(FrozenInstanceError):
        jar.error = "x"  # type: ignore[misc]


def test_a_single_header_string_is_accepted() -> None:
    assert parse_cookies("a=1; b=2", 0, 10).cookies == (("a", "1"), ("b", "2"))


def test_check_cookie_format_has_a_default_limit() -> None:
    assert check_cookie_format(["a=1"], 0) is None
    assert check_cookie_format(["; ".join(f"c{i}=1" for i in range(201))], 0) == (
        "too many cookies (limit 200)"
    )


@given(
    st.lists(st.text(alphabet='ab=;, \t"\\$\x00', max_size=30), max_size=3),
    st.sampled_from([0, 1]),
    st.integers(0, 5),
)
def test_parser_never_raises_and_respects_the_limit(
    headers: list[str], version: int, limit: int
) -> None:
    jar = parse_cookies(headers, version, limit)
    assert len(jar.cookies) <= limit
    assert jar.error is None or isinstance(jar.error, str)
    if jar.truncated:
        assert jar.error is not None


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9_%+/.]{0,8}", fullmatch=True),
        ),
        max_size=6,
    ),
    st.sampled_from([0, 1]),
)
def test_well_formed_headers_round_trip(pairs: list[tuple[str, str]], version: int) -> None:
    header = "; ".join(f"{name}={value}" for name, value in pairs)
    jar = parse_cookies([header], version, 100)
    assert jar.cookies == tuple(pairs)
    assert jar.error is None
