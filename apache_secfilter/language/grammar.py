"""Configuration text -> located syntax nodes, read the way Apache 2.4 reads it.

Layer 1.  Rules written for ModSecurity 1.x were loaded by Apache's own config
reader, so a rule means what ``ap_cfg_getline`` and ``ap_getword_conf``
(``server/util.c``) made of it, not what its author may have hoped.  This
module reproduces that reading (decisions L16-L19) and adds warnings where
Apache was silent but the result is almost never what was meant.

The grammar knows nothing about which directives exist; ``policy`` does.
It raises nothing but ``ConfigError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyparsing as pp

from ..errors import ConfigError, ConfigWarning, Location
from .ast import Directive, Node, ParsedFile, SectionClose, SectionOpen

__all__ = [
    "format_directive",
    "parse_bytes",
    "parse_text",
    "quote_argument",
    "read_file",
    "split_words",
]

#: ``apr_isspace`` in the C locale.  Python's ``str.isspace`` is wider
#: (``\x1c``, ``\x85``, ``\xa0``...), and Apache treats those as text.
C_SPACE = " \t\n\v\f\r"

#: Typographic quotes as they appear after Latin-1 decoding (L19): UTF-8
#: encodings of U+201C U+201D U+2018 U+2019, the Windows-1252 bytes, and the
#: real code points for callers that pass already-decoded text.
_TYPOGRAPHIC = re.compile(
    "\xe2\x80[\x98\x99\x9c\x9d]|[\x91\x92\x93\x94]|[\u2018\u2019\u201c\u201d]"
)
_UTF8_BOM = "\xef\xbb\xbf"

_QUOTED_PAIR = {'"': re.compile(r'\\([\\"])'), "'": re.compile(r"\\([\\'])")}
_DOUBLE_BACKSLASH = re.compile(r"\\\\")
_SECTION_NAME = re.compile(rf"[^{C_SPACE}]*")


@dataclass(frozen=True, slots=True)
class _Word:
    """One argument as ``ap_getword_conf`` returns it, plus whether its quote closed."""

    text: str
    unclosed: bool = False


def _word_pattern() -> str:
    """One regular expression for the three kinds of word ``ap_getword_conf`` knows.

    A quoted word runs from its quote to the same quote, or to the end of the
    line (L18).  The scan mirrors ``ap_getword_conf``: a backslash followed by
    the quote or by a backslash skips both, so ``\\"`` does not close the
    word.  The word ends at its closing quote even when text follows at once;
    that text starts the next word.  A bare word runs to the next C space.
    """
    quoted = [
        rf"{q}(?P<{name}>(?:\\[\\{q}]|[^{q}])*)(?P<{name}_end>{q}?)"
        for q, name in (('"', "dq"), ("'", "sq"))
    ]
    return "|".join([*quoted, rf"(?P<bare>[^{C_SPACE}]+)"])


def _word_action(tokens: pp.ParseResults) -> _Word:
    """Apply ``substring_conf`` to one matched word.

    ``\\\\`` loses a backslash in every word, and so does a backslash before
    the word's own quote in a quoted word; every other backslash is kept (L16).
    """
    match: re.Match[str] = tokens[0]
    if match["bare"] is not None:
        return _Word(_DOUBLE_BACKSLASH.sub(r"\\", match["bare"]))
    kind, quote = ("dq", '"') if match["dq"] is not None else ("sq", "'")
    body = _QUOTED_PAIR[quote].sub(r"\1", match[kind])
    return _Word(body, unclosed=not match[f"{kind}_end"])


def _build_tokenizer() -> pp.ParserElement:
    """Compile the word grammar once; each logical line is one ``parse_string``."""
    word = pp.Regex(_word_pattern(), flags=re.DOTALL, as_match=True)
    word.set_parse_action(_word_action)
    end = pp.StringEnd()
    line = pp.ZeroOrMore(word) + end
    for element in (word, end, line):
        element.set_whitespace_chars(C_SPACE, copy_defaults=False)
    return line.parse_with_tabs()


_TOKENIZER = _build_tokenizer()


def _tokenize(line: str, location: Location | None = None) -> tuple[_Word, ...]:
    """Split one logical line into words; any pyparsing failure is a ConfigError."""
    try:
        return tuple(_TOKENIZER.parse_string(line))
    except pp.ParseBaseException as exc:  # not expected: every character belongs to a word
        raise ConfigError(f"cannot split line into words: {exc.msg}", location) from None


def split_words(line: str) -> tuple[str, ...]:
    """The arguments ``ap_getword_conf`` would return for ``line``, one after another."""
    return tuple(word.text for word in _tokenize(line))


# --------------------------------------------------------------------------- printing


def quote_argument(arg: str) -> str:
    """Write ``arg`` so that ``ap_getword_conf`` reads it back unchanged.

    Plain words stay bare, so printed rules look like the ones people write.
    Anything else goes in double quotes, where ``"`` is written ``\\"`` and a
    backslash is doubled only where it would otherwise pair up with the next
    character (another backslash, a quote, or the closing quote).  A trailing
    backslash is therefore never last on the line, which would make it a
    continuation (L17).
    """
    if _is_bare(arg):
        return arg
    out: list[str] = []
    for index, char in enumerate(arg):
        if char == '"':
            out.append('\\"')
        elif char == "\\" and (index + 1 == len(arg) or arg[index + 1] in '\\"'):
            out.append("\\\\")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _is_bare(arg: str) -> bool:
    """Whether ``arg`` reads back as itself without quotes."""
    return (
        arg != ""
        and arg[0] not in "\"'#<"
        and "\\\\" not in arg
        and not arg.endswith("\\")
        and not any(char in C_SPACE for char in arg)
    )


def format_directive(directive: Directive) -> str:
    """One line of configuration that parses back to the same name and args."""
    return " ".join(quote_argument(word) for word in (directive.name, *directive.args))


# --------------------------------------------------------------------------- lines


@dataclass(frozen=True, slots=True)
class _Logical:
    """A logical line: text, first physical line, and how continuation ended."""

    text: str
    line: int
    last_line: int
    #: Set when a trailing ``\\`` continued onto a blank line (its number) or
    #: onto the end of the file (0).
    dangling: int | None = None


def _physical_lines(text: str) -> list[tuple[str, bool]]:
    """Split on LF only (as ``apr_file_gets``); say which pieces had their LF."""
    pieces = text.split("\n")
    lines = [(piece, True) for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append((pieces[-1], False))
    return lines


def _continues(piece: str, had_lf: bool) -> bool:
    """L17: a single ``\\`` right before (CR)LF joins the next line; ``\\\\`` does not."""
    if not had_lf:
        return False
    body = piece[:-1] if piece.endswith("\r") else piece
    return body.endswith("\\") and not body.endswith("\\\\")


def _logical_lines(text: str) -> Iterator[_Logical]:
    """Join continued physical lines as ``ap_cfg_getline`` does, then trim them."""
    lines = _physical_lines(text)
    index = 0
    while index < len(lines):
        first = index
        parts: list[str] = []
        dangling: int | None = None
        while True:
            piece, had_lf = lines[index]
            index += 1
            if not _continues(piece, had_lf):
                parts.append(piece)
                break
            parts.append(piece[: piece.rindex("\\")])
            if index == len(lines):
                dangling = 0
                break
            if not lines[index][0].strip(C_SPACE):
                index += 1
                dangling = index
                break
        yield _Logical("".join(parts).strip(C_SPACE), first + 1, index, dangling)


# --------------------------------------------------------------------------- nodes


def _node(logical: _Logical, path: str, warnings: list[ConfigWarning]) -> Node | None:
    """Turn one logical line into a node, or ``None`` for blank lines and comments."""
    text = logical.text
    location = Location(path, logical.line)
    if not text:
        return None
    if text[0] == "#":
        _warn_swallowed_by_comment(logical, path, warnings)
        return None
    _warn_dangling(logical, path, warnings)
    if "\0" in text:
        raise ConfigError("NUL character in configuration line (Apache would cut the line "
                          "there)", location)
    if text[0] == "<":
        return _section(text, location, warnings)
    return _directive(text, location, warnings)


def _warn_swallowed_by_comment(logical: _Logical, path: str,
                               warnings: list[ConfigWarning]) -> None:
    """Apache joins continuation lines before it sees ``#``: say what a comment ate."""
    swallowed = [n for n in range(logical.line + 1, logical.last_line + 1)
                 if n != logical.dangling]
    if swallowed:
        where = (f"line {swallowed[0]} is" if len(swallowed) == 1
                 else f"lines {swallowed[0]}-{swallowed[-1]} are")
        warnings.append(ConfigWarning(
            f"comment ends with '\\' (line continuation), so {where} part of the comment "
            "and not read", Location(path, logical.line)))


def _warn_dangling(logical: _Logical, path: str, warnings: list[ConfigWarning]) -> None:
    """L17: a continuation onto a blank line or the end of file ends the directive."""
    if logical.dangling is None:
        return
    if logical.dangling == 0:
        warnings.append(ConfigWarning(
            "line ends with '\\' (line continuation) but the file ends there",
            Location(path, logical.last_line)))
        return
    warnings.append(ConfigWarning(
        f"line {logical.dangling - 1} ends with '\\' (line continuation) but this line is "
        f"blank: the directive begun at line {logical.line} ends here",
        Location(path, logical.dangling)))


def _directive(text: str, location: Location, warnings: list[ConfigWarning]) -> Directive:
    """``Name arg...``: the name is a word like the others (Apache reads it the same way)."""
    words = _tokenize(text, location)
    name = words[0].text
    if not name:
        raise ConfigError("empty directive name", location)
    _warn_unclosed(words, location, warnings)
    if name.lower().startswith("sec") and _TYPOGRAPHIC.search(text):
        warnings.append(ConfigWarning(
            "typographic (curly) quote in a directive: Apache reads it as ordinary text, "
            "not as a quote, so this rule cannot match what was meant; use plain \" or '",
            location))
    return Directive(name, tuple(word.text for word in words[1:]), location, text)


def _warn_unclosed(words: tuple[_Word, ...], location: Location,
                   warnings: list[ConfigWarning], first: int = 0) -> None:
    """L18: an unclosed quote runs to the end of the line and usually ate the actions.

    ``first`` is the number of ``words[0]``: 0 when it is the directive name.
    """
    for number, word in enumerate(words, start=first):
        if word.unclosed:
            what = "the directive name" if number == 0 else f"argument {number}"
            warnings.append(ConfigWarning(
                f"unclosed quote in {what}: it runs to the end of the line, which may have "
                "swallowed the following arguments (the action list)", location))


def _section(text: str, location: Location, warnings: list[ConfigWarning]) -> Node:
    """``<Name args>`` or ``</Name>``; args between the name and the last ``>``."""
    end = text.rfind(">")
    if end < 0:
        tag = text.split(maxsplit=1)[0]
        raise ConfigError(f"section tag {tag} is missing '>'", location)
    if text[end + 1:].strip(C_SPACE):
        warnings.append(ConfigWarning(
            f"text after '>' is ignored: {text[end + 1:].strip(C_SPACE)!r}", location))
    if text.startswith("</"):
        name = text[2:end].strip(C_SPACE)
        if not name or any(char in C_SPACE for char in name):
            raise ConfigError(f"malformed closing tag {text[:end + 1]}", location)
        return SectionClose(name, location)
    inner = text[1:end]
    name = _SECTION_NAME.match(inner).group()
    if not name:
        raise ConfigError(f"section tag {text[:end + 1]} has no name", location)
    words = _tokenize(inner[len(name):], location)
    _warn_unclosed(words, location, warnings, first=1)
    return SectionOpen(name, tuple(word.text for word in words), location)


# --------------------------------------------------------------------------- entry points


def parse_text(text: str, path: str = "<string>") -> ParsedFile:
    """Parse configuration text into nodes; warnings ride along in the result."""
    if text.startswith(_UTF8_BOM):
        text = text[len(_UTF8_BOM):]
    elif text.startswith("\ufeff"):
        text = text[1:]
    nodes: list[Node] = []
    warnings: list[ConfigWarning] = []
    for logical in _logical_lines(text):
        node = _node(logical, path, warnings)
        if node is not None:
            nodes.append(node)
    return ParsedFile(path, tuple(nodes), tuple(warnings))


def parse_bytes(data: bytes, path: str) -> ParsedFile:
    """Parse file contents: Latin-1, so every byte is one character (L19)."""
    return parse_text(data.decode("latin-1"), path)


def read_file(path: str) -> ParsedFile:
    """Read and parse one configuration file; an unreadable file is a ConfigError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read configuration file {path}: {reason}") from None
    return parse_bytes(data, path)
