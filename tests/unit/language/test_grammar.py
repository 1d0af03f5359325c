"""The text layer reads configuration exactly as Apache 2.4 does (decisions L16-L19)."""

from __future__ import annotations

import pytest

from apache_secfilter.errors import ConfigError, Location
from apache_secfilter.language.ast import Directive, SectionClose, SectionOpen
from apache_secfilter.language.grammar import (
    format_directive,
    parse_bytes,
    parse_text,
    quote_argument,
    read_file,
    split_words,
)


def only_directive(text: str) -> Directive:
    """Parse ``text`` and return its single node, which must be a directive."""
    parsed = parse_text(text)
    assert len(parsed.nodes) == 1, parsed.nodes
    node = parsed.nodes[0]
    assert isinstance(node, Directive)
    return node


# --------------------------------------------------------------------------- quoting (L16)

QUOTING_CASES = [
    # L16 examples
    (r'SecFilter "\.\./"', ("\\.\\./",)),
    (r'SecFilter "a\\.b"', ("a\\.b",)),
    (r"SecFilter cd\x20/tmp", ("cd\\x20/tmp",)),
    (r"SecFilter a\\.b", ("a\\.b",)),
    (r'SecFilter "\\\\"', ("\\\\",)),
    (r'SecFilter "say \"hi\""', ('say "hi"',)),
    (r"SecFilter 'it\'s'", ("it's",)),
    (r"SecFilter '\"x\"'", ('\\"x\\"',)),  # other quote's backslash is kept
    (r"""SecFilter "it\'s" """, ("it\\'s",)),
    (r"SecFilter \"bare\"", ('\\"bare\\"',)),  # unquoted: only \\ is special
    (r"SecFilter a\"b", ('a\\"b',)),
    ('SecFilter a"b c"d', ('a"b', 'c"d')),  # quotes inside a bare word are text
    ("SecFilter don't", ("don't",)),
    # spec / seed examples
    ('SecFilterSelective "HTTP_USER_AGENT|HTTP_HOST" "^$"', ("HTTP_USER_AGENT|HTTP_HOST", "^$")),
    ('SecFilterDefaultAction "deny,log,status:500"', ("deny,log,status:500",)),
    ("SecFilterSelective ARG_highlight %27", ("ARG_highlight", "%27")),
    ("SecFilter '/etc/passwd'", ("/etc/passwd",)),
    ("SecFilterSelective ARGS 'union select'", ("ARGS", "union select")),
    ("SecFilter /bin/sh deny,log,msg:'shell'", ("/bin/sh", "deny,log,msg:'shell'")),
    ('SecFilter "<script" "deny,log,msg:\'XSS, reflected\'"',
     ("<script", "deny,log,msg:'XSS, reflected'")),
    ('SecFilterSelective "ARGS|!ARG_comment" "select.+from"',
     ("ARGS|!ARG_comment", "select.+from")),
    # empty and adjacent quoted words
    ('SecFilter ""', ("",)),
    ("SecFilter '' x", ("", "x")),
    ('SecFilter "abc"def', ("abc", "def")),
    ("SecFilter 'a'\"b\"", ("a", "b")),
    # white space: any C space separates, Python-only spaces do not
    ("SecFilter\ta \t b", ("a", "b")),
    ('SecFilter "a\tb"', ("a\tb",)),
    ("SecFilter a\x0bb\x0cc", ("a", "b", "c")),
    ("SecFilter a\xa0b\x85c", ("a\xa0b\x85c",)),
    # a # after the start of the line is ordinary text (no trailing comments)
    ("SecFilter abc # not a comment", ("abc", "#", "not", "a", "comment")),
    ("SecFilter a#b", ("a#b",)),
    # the directive name alone
    ("SecFilterEngine", ()),
]


@pytest.mark.parametrize(("line", "args"), QUOTING_CASES)
def test_arguments_follow_ap_getword_conf(line: str, args: tuple[str, ...]) -> None:
    assert only_directive(line).args == args


def test_name_keeps_spelling_and_raw_is_logical_line() -> None:
    node = only_directive("   secFILTERselective   ARGS   foo  \n")
    assert node.name == "secFILTERselective"
    assert node.key == "secfilterselective"
    assert node.raw == "secFILTERselective   ARGS   foo"


def test_unknown_directive_names_are_accepted() -> None:
    assert only_directive("NoSuchThing 1 2").name == "NoSuchThing"


def test_split_words_matches_directive_tokenizing() -> None:
    assert split_words(r'a "b c" \\d') == ("a", "b c", "\\d")
    assert split_words("   ") == ()


# --------------------------------------------------------------------------- lines, comments


LINE_CASES = [
    ("SecFilter a\nSecFilter b\n", [("a",), ("b",)], [1, 2]),
    ("SecFilter a\r\nSecFilter b\r\n", [("a",), ("b",)], [1, 2]),
    ("SecFilter a\r\n\r\n  \r\nSecFilter b", [("a",), ("b",)], [1, 4]),
    ("# comment\n   # indented comment\nSecFilter a\n", [("a",)], [3]),
    ("\n\n\t\nSecFilter a", [("a",)], [4]),
    ("SecFilter a\rb\n", [("a", "b")], [1]),  # a lone CR is white space
    ("\xef\xbb\xbfSecFilter a\n", [("a",)], [1]),  # UTF-8 BOM read as Latin-1
]


@pytest.mark.parametrize(("text", "args", "lines"), LINE_CASES)
def test_physical_lines(text: str, args: list[tuple[str, ...]], lines: list[int]) -> None:
    parsed = parse_text(text, "rules.conf")
    assert [node.args for node in parsed.nodes] == args
    assert [node.location for node in parsed.nodes] == [Location("rules.conf", n) for n in lines]
    assert parsed.warnings == ()


def test_empty_text_gives_no_nodes() -> None:
    parsed = parse_text("", "empty.conf")
    assert parsed.path == "empty.conf"
    assert parsed.nodes == () and parsed.warnings == ()


# --------------------------------------------------------------------------- continuation (L17)


CONTINUATION_CASES = [
    ("SecFilter a \\\n  b\n", ("a", "b"), "SecFilter a   b"),
    ("SecFilter a\\\nb\n", ("ab",), "SecFilter ab"),
    ("SecFilter a \\\r\n  b\r\n", ("a", "b"), "SecFilter a   b"),
    ('SecFilter "a \\\n  b"\n', ("a   b",), 'SecFilter "a   b"'),  # leading space kept
    ("SecFilterSelective \\\n ARGS \\\n foo \\\n deny\n", ("ARGS", "foo", "deny"),
     "SecFilterSelective  ARGS  foo  deny"),
]


@pytest.mark.parametrize(("text", "args", "raw"), CONTINUATION_CASES)
def test_continuation_joins_lines(text: str, args: tuple[str, ...], raw: str) -> None:
    parsed = parse_text(text)
    (node,) = parsed.nodes
    assert node.args == args
    assert node.raw == raw
    assert node.location.line == 1
    assert parsed.warnings == ()


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("SecFilter a\\ \nSecFilter b\n", [("a\\",), ("b",)]),  # backslash then space
        ("SecFilter a\\\t\r\nSecFilter b\n", [("a\\",), ("b",)]),
        ("SecFilter a\\\\\nSecFilter b\n", [("a\\",), ("b",)]),  # \\ at the end
        ("SecFilter a \\", [("a", "\\")]),  # last line without LF: no continuation
    ],
)
def test_not_a_continuation(text: str, args: list[tuple[str, ...]]) -> None:
    parsed = parse_text(text)
    assert [node.args for node in parsed.nodes] == args
    assert parsed.warnings == ()


def test_location_is_first_physical_line() -> None:
    parsed = parse_text("# head\n\nSecFilter a \\\n b \\\n c\nSecFilter d\n", "x.conf")
    assert [node.location.line for node in parsed.nodes] == [3, 6]


def test_continuation_onto_blank_line_ends_directive_with_warning() -> None:
    parsed = parse_text("SecFilter a \\\n   \nSecFilter b\n", "x.conf")
    assert [node.args for node in parsed.nodes] == [("a",), ("b",)]
    assert [node.location.line for node in parsed.nodes] == [1, 3]
    (warning,) = parsed.warnings
    assert warning.location == Location("x.conf", 2)
    assert "blank" in warning.message and "line 1" in warning.message


def test_continuation_at_end_of_file_warns() -> None:
    parsed = parse_text("SecFilter a \\\n", "x.conf")
    assert parsed.nodes[0].args == ("a",)
    (warning,) = parsed.warnings
    assert warning.location == Location("x.conf", 1)
    assert "file ends" in warning.message


def test_comment_continued_onto_a_rule_swallows_it_and_warns() -> None:
    parsed = parse_text("# old rule \\\nSecFilter a\nSecFilter b\n", "x.conf")
    assert [node.args for node in parsed.nodes] == [("b",)]
    (warning,) = parsed.warnings
    assert warning.location == Location("x.conf", 1)
    assert "line 2" in warning.message


def test_comment_continued_onto_blank_line_is_quiet() -> None:
    parsed = parse_text("# ends with C:\\\n\nSecFilter b\n")
    assert [node.args for node in parsed.nodes] == [("b",)]
    assert parsed.warnings == ()


# --------------------------------------------------------------------------- unclosed quote (L18)


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ('SecFilter "/etc/passwd deny,log', ("/etc/passwd deny,log",)),
        ('SecFilterSelective ARGS "foo deny', ("ARGS", "foo deny")),
        ("SecFilter 'abc \"x\"", ('abc "x"',)),
        ('SecFilter "a\\" b', ('a" b',)),  # the escaped quote does not close it
        ('SecFilter "', ("",)),
    ],
)
def test_unclosed_quote_runs_to_end_of_line_and_warns(line: str, args: tuple[str, ...]) -> None:
    parsed = parse_text("\n" + line + "\n", "u.conf")
    assert parsed.nodes[0].args == args
    (warning,) = parsed.warnings
    assert warning.location == Location("u.conf", 2)
    assert "unclosed quote" in warning.message


# --------------------------------------------------------------------------- typographic (L19)


@pytest.mark.parametrize(
    "data",
    [
        "SecFilter “/etc/passwd”".encode(),  # UTF-8
        "SecFilter ‘/etc/passwd’".encode(),
        b"SecFilter \x93/etc/passwd\x94",  # Windows-1252
        b"SecFilter \x91/etc/passwd\x92",
        "SecFilterSelective ARGS foo “deny”".encode(),
    ],
)
def test_typographic_quotes_load_as_written_with_warning(data: bytes) -> None:
    parsed = parse_bytes(data, "t.conf")
    (node,) = parsed.nodes
    assert " ".join(node.args) in data.decode("latin-1")
    (warning,) = parsed.warnings
    assert warning.location == Location("t.conf", 1)
    assert "typographic" in warning.message


def test_typographic_quotes_in_other_directives_are_not_flagged() -> None:
    parsed = parse_bytes("ErrorDocument 403 “Forbidden”".encode(), "t.conf")
    assert parsed.warnings == ()


def test_parse_bytes_is_latin1() -> None:
    node = parse_bytes(b"SecFilter caf\xe9 \xff\x80", "b.conf").nodes[0]
    assert node.args == ("caf\xe9", "\xff\x80")


# --------------------------------------------------------------------------- sections


SECTION_CASES = [
    ("<IfModule mod_security.c>", SectionOpen, "IfModule", ("mod_security.c",)),
    ("<ifmodule mod_security.c>", SectionOpen, "ifmodule", ("mod_security.c",)),
    ("<IfModule !mod_security.c>", SectionOpen, "IfModule", ("!mod_security.c",)),
    ("  <Location /admin >  ", SectionOpen, "Location", ("/admin",)),
    ('<Directory "/var/www/my site">', SectionOpen, "Directory", ("/var/www/my site",)),
    ("<VirtualHost *:80 [::1]:80>", SectionOpen, "VirtualHost", ("*:80", "[::1]:80")),
    ("<Files>", SectionOpen, "Files", ()),
    ("</IfModule>", SectionClose, "IfModule", None),
    ("</ifmodule >", SectionClose, "ifmodule", None),
]


@pytest.mark.parametrize(("line", "kind", "name", "args"), SECTION_CASES)
def test_section_tags(line: str, kind: type, name: str, args: tuple[str, ...] | None) -> None:
    parsed = parse_text(line, "s.conf")
    (node,) = parsed.nodes
    assert isinstance(node, kind)
    assert node.name == name
    assert node.location == Location("s.conf", 1)
    if args is not None:
        assert node.args == args
    assert parsed.warnings == ()


def test_sections_and_directives_in_order() -> None:
    text = (
        "<IfModule mod_security.c>\n"
        "    SecFilterEngine On\n"
        '    SecFilter "\\.\\./"\n'
        "</IfModule>\n"
    )
    nodes = parse_text(text).nodes
    assert [type(node).__name__ for node in nodes] == [
        "SectionOpen", "Directive", "Directive", "SectionClose"]
    assert [node.location.line for node in nodes] == [1, 2, 3, 4]


def test_text_after_closing_bracket_warns() -> None:
    parsed = parse_text("<IfModule mod_security.c> SecFilter x")
    assert parsed.nodes[0].args == ("mod_security.c",)
    assert "ignored" in parsed.warnings[0].message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("<IfModule mod_security.c\n", 1, "missing '>'"),
        ("SecFilter a\n\n<Location /x\nSecFilter b\n", 3, "missing '>'"),
        ("</IfModule\n", 1, "missing '>'"),
        ("SecFilter a \\\n b\n<IfModule x \\\n y\n", 3, "missing '>'"),
        ("<>\n", 1, "no name"),
        ("< IfModule x>\n", 1, "no name"),
        ("</>\n", 1, "closing tag"),
        ("</If Module>\n", 1, "closing tag"),
        ('"" a b\n', 1, "empty directive name"),
        ("SecFilter a\x00b\n", 1, "NUL"),
    ],
)
def test_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_text(text, "e.conf")
    assert caught.value.location == Location("e.conf", line)
    assert fragment in caught.value.message
    assert str(caught.value).startswith(f"e.conf:{line}: ")


# --------------------------------------------------------------------------- files


def test_read_file_reads_bytes(tmp_path) -> None:
    path = tmp_path / "rules.conf"
    path.write_bytes(b'SecFilter "\\.\\./"\r\nSecFilter caf\xe9\r\n')
    parsed = read_file(str(path))
    assert parsed.path == str(path)
    assert [node.args for node in parsed.nodes] == [("\\.\\./",), ("caf\xe9",)]
    assert parsed.nodes[1].location == Location(str(path), 2)


def test_unreadable_file_is_a_config_error(tmp_path) -> None:
    missing = tmp_path / "nope.conf"
    with pytest.raises(ConfigError) as caught:
        read_file(str(missing))
    assert str(missing) in str(caught.value)
    assert "No such file" in str(caught.value)


def test_directory_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_file(str(tmp_path))
    assert str(tmp_path) in str(caught.value)


# --------------------------------------------------------------------------- printing


@pytest.mark.parametrize(
    ("arg", "printed"),
    [
        ("deny,log", "deny,log"),
        ("\\.\\./", "\\.\\./"),
        ("cd\\x20/tmp", "cd\\x20/tmp"),
        ("", '""'),
        ("a b", '"a b"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a\\", '"a\\\\"'),
        ("a\\\\b", '"a\\\\\\b"'),
        ("'x'", "\"'x'\""),
        ("#x", '"#x"'),
        ("<x", '"<x"'),
    ],
)
def test_quote_argument(arg: str, printed: str) -> None:
    assert quote_argument(arg) == printed
    assert only_directive("SecFilter " + printed).args == (arg,)


def test_format_directive_round_trips() -> None:
    directive = Directive("SecFilterSelective", ("ARGS|!ARG_x", "a b\\", "msg:'x, y'"),
                          Location("f", 1))
    again = only_directive(format_directive(directive))
    assert (again.name, again.args) == (directive.name, directive.args)
