"""Properties of the text layer, over generated input (hypothesis)."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from apache_secfilter.errors import ConfigError, Location
from apache_secfilter.language.actionlist import parse_action_list
from apache_secfilter.language.ast import Directive, ParsedFile
from apache_secfilter.language.grammar import (
    format_directive,
    parse_bytes,
    parse_text,
    quote_argument,
)

# Characters that make quoting hard, over-represented on purpose.
_TRICKY = st.sampled_from(list("\\\"' \t\x0b\x0c#<>,:|!$^\xa0\x85\x93\u201c"))
_ARG_CHAR = st.one_of(
    _TRICKY,
    st.characters(blacklist_characters="\x00\r\n", blacklist_categories=("Cs",)),
)
ARGUMENT = st.text(_ARG_CHAR, max_size=20)


@given(st.lists(ARGUMENT, max_size=5))
@settings(max_examples=500)
def test_print_then_parse_gives_the_same_arguments(args: list[str]) -> None:
    directive = Directive("SecFilter", tuple(args), Location("p.conf", 1))
    parsed = parse_text(format_directive(directive), "p.conf")
    (node,) = parsed.nodes
    assert isinstance(node, Directive)
    assert node.name == "SecFilter"
    assert node.args == tuple(args)


@given(ARGUMENT)
@settings(max_examples=300)
def test_quoted_argument_never_ends_a_line_with_a_backslash(arg: str) -> None:
    assert not quote_argument(arg).endswith("\\")


@given(st.lists(st.lists(ARGUMENT, max_size=4), max_size=6))
@settings(max_examples=200)
def test_printed_files_parse_back_line_by_line(rules: list[list[str]]) -> None:
    text = "\n".join(
        format_directive(Directive("SecFilterSelective", tuple(args), Location("p", 1)))
        for args in rules
    )
    parsed = parse_text(text)
    assert [node.args for node in parsed.nodes] == [tuple(args) for args in rules]
    assert [node.location.line for node in parsed.nodes] == list(range(1, len(rules) + 1))


_TEXT_CHAR = st.one_of(
    st.sampled_from(list("\\\"'<>/# \t\r\n\x00\x0bSecFilter")),
    st.characters(blacklist_categories=("Cs",)),
)


@given(st.text(_TEXT_CHAR, max_size=200))
@settings(max_examples=500)
def test_arbitrary_text_gives_parsed_file_or_config_error(text: str) -> None:
    try:
        parsed = parse_text(text, "any.conf")
    except ConfigError as error:
        assert error.location is not None
        assert error.location.path == "any.conf"
        return
    assert isinstance(parsed, ParsedFile)
    for node in parsed.nodes:
        assert node.location.line >= 1


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_arbitrary_bytes_give_parsed_file_or_config_error(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        assert isinstance(parse_bytes(data, "any.conf"), ParsedFile)


@given(st.text(_TEXT_CHAR, max_size=80))
@settings(max_examples=500)
def test_arbitrary_action_list_gives_items_or_config_error(text: str) -> None:
    here = Location("a.conf", 3)
    try:
        items = parse_action_list(text, here)
    except ConfigError as error:
        assert error.location == here
        return
    assert items and all(item.name == item.name.lower() for item in items)
