"""Field escaping shared by the log formats (decisions G1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apache_secfilter.logs.fields import bare, body_text, line, quoted

latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=60)


@pytest.mark.parametrize("text,expected", [
    ("plain", "plain"),
    ("a\r\nb", "a\\x0d\\x0ab"),
    ("\x1b[31m", "\\x1b[31m"),
    ("tab\there", "tab\\x09here"),
    ("caf\xe9", "caf\\xe9"),
    ('keeps "quotes" and \\', 'keeps "quotes" and \\'),
])
def test_line(text: str, expected: str) -> None:
    assert line(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("", "-"), (None, "-"), ("a b", "a\\x20b"), ('x"y', 'x\\"y'), ("\n", "\\x0a"),
])
def test_bare(text: str | None, expected: str) -> None:
    assert bare(text) == expected


@given(latin1)
def test_every_escape_is_printable_ascii_on_one_line(text: str) -> None:
    for escaped in (line(text), bare(text), quoted(text)):
        assert escaped.isascii() and escaped.isprintable()
    assert " " not in bare(text)
    assert '"' not in quoted(text).replace('\\"', "")


@given(latin1)
def test_line_is_idempotent_on_safe_text(text: str) -> None:
    assert line(line(text)) == line(text)


def test_body_text_bytes() -> None:
    assert body_text(b"a=1\r\n\x00\xff") == "a=1\\x0d\\x0a\\x00\\xff"
