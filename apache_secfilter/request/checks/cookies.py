"""Cookie parsing (``COOKIE_name``, ``COOKIES_*``) and ``SecFilterCheckCookieFormat``.

1.8.7 shipped two parsers, chosen by ``SecFilterCookieFormat`` (spec §3.2):

* **Version 0** (Netscape, the default): cookies are separated by ``;``.
  Quotes mean nothing to the splitter, so ``a="x;y"`` is two pieces.
* **Version 1** (RFC 2965): ``,`` separates cookies too, a double-quoted
  value may hold ``;`` and ``,`` (with ``\\`` escaping the next character),
  and the attributes ``$Version``, ``$Path``, ``$Domain`` and ``$Port``
  (any case) are not cookies and are skipped.  Other ``$names`` are kept as
  cookies, so nothing can be hidden from ``COOKIES_*`` by a ``$`` prefix.

Both: white space (space, tab) around a piece, around its name and around
its value is trimmed; empty pieces (``a=1;;b=2``, a trailing ``;``) are
skipped without complaint, as browsers send them.  A value wrapped in double
quotes is stored without those two quotes and otherwise raw (escapes are not
undone, no URL decoding: that is ``SecFilterNormalizeCookies``' job).
Duplicates are kept, in order.

Each header value is parsed on its own.  Apache joins repeated ``Cookie``
headers with ``", "``; under version 0 such a joined value would run the
two headers together, so adapters pass the headers as a list.

Format problems, reported by ``SecFilterCheckCookieFormat On`` (only the
first one is kept, in the order met):

* ``#1`` "Invalid cookie format: Cookie value is missing #1" - a piece with
  no ``=`` (the 1.x text, spec §7).  The piece is kept as a cookie with that
  name and an empty value, so rules on ``COOKIES_NAMES`` still see it.
* ``#2`` "Invalid cookie format: Cookie name is missing #2" - a piece that
  starts with ``=`` (empty name).  Kept with an empty name.
* ``#3`` "Invalid cookie format: Cookie value has an unbalanced double quote
  #3" - a value that opens a double quote and does not close it.  Kept with
  its raw text (quote included).

More than ``max_cookies`` cookies stop the parser: the jar holds the first
``max_cookies``, ``truncated`` is set and, unless an earlier problem was
found, ``error`` is "too many cookies (limit N)".  Nothing raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from apache_secfilter.limits import DEFAULT_LIMITS

__all__ = [
    "NAME_MISSING",
    "UNBALANCED_QUOTE",
    "VALUE_MISSING",
    "CookieJar",
    "check_cookie_format",
    "most_cookies",
    "parse_cookies",
]

VALUE_MISSING = "Invalid cookie format: Cookie value is missing #1"
NAME_MISSING = "Invalid cookie format: Cookie name is missing #2"
UNBALANCED_QUOTE = "Invalid cookie format: Cookie value has an unbalanced double quote #3"

_BLANK = " \t"
_V1_ATTRIBUTES = frozenset({"$version", "$path", "$domain", "$port"})


@dataclass(frozen=True)
class CookieJar:
    """The cookies of a request, in order, duplicates kept.

    ``error`` is the first format problem (``None`` when there is none);
    ``truncated`` says the ``max_cookies`` limit stopped the parser early.
    """

    cookies: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    truncated: bool = False

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.cookies]

    @property
    def values(self) -> list[str]:
        return [value for _, value in self.cookies]


def _split_v0(header: str) -> list[str]:
    """Netscape cookies: every ``;`` separates, quotes or not."""
    return header.split(";")


def _split_v1(header: str) -> tuple[list[str], bool]:
    """RFC 2965 cookies: ``;`` and ``,`` separate, except inside quotes.

    Returns the pieces and whether a quote was left open at the end.
    """
    pieces: list[str] = []
    start = 0
    in_quotes = False
    index = 0
    length = len(header)
    while index < length:
        char = header[index]
        if in_quotes:
            if char == "\\":
                index += 1
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char in ";,":
            pieces.append(header[start:index])
            start = index + 1
        index += 1
    pieces.append(header[start:])
    return pieces, in_quotes


def _unquote(value: str, version: int) -> tuple[str, bool]:
    """Strip one pair of surrounding double quotes; report an unclosed one.

    Only version 1 knows the backslash escape, so only there can ``"a\\"``
    fail to close.
    """
    if not value.startswith('"'):
        return value, True
    closed = len(value) >= 2 and value.endswith('"')
    if closed and version >= 1 and _escaped_end(value):
        closed = False
    return (value[1:-1], True) if closed else (value, False)


def _escaped_end(value: str) -> bool:
    """True when the final quote of ``value`` is escaped by a backslash."""
    backslashes = len(value) - 1 - len(value[:-1].rstrip("\\"))
    return backslashes % 2 == 1


def _parse_piece(piece: str, version: int) -> tuple[tuple[str, str] | None, str | None]:
    """Turn one trimmed, non-empty piece into a cookie (or ``None``) and a problem."""
    name, sep, value = piece.partition("=")
    name = name.rstrip(_BLANK)
    if version >= 1 and name.lower() in _V1_ATTRIBUTES:
        return None, None
    if not sep:
        return (name, ""), VALUE_MISSING
    value, balanced = _unquote(value.strip(_BLANK), version)
    problem = None
    if not name:
        problem = NAME_MISSING
    elif not balanced:
        problem = UNBALANCED_QUOTE
    return (name, value), problem


def _headers(header_values: Iterable[str] | str) -> list[str]:
    """Accept one header value as well as a list of them."""
    if isinstance(header_values, str):
        return [header_values]
    return [value for value in header_values if isinstance(value, str)]


def most_cookies(header_values: Iterable[str]) -> int:
    """The most cookies these ``Cookie`` values can hold, without parsing them.

    Each ``;`` or ``,`` starts at most one more cookie (under either parser), so
    a request with fewer separators than the limit needs no parsing to know it
    is within it.
    """
    return sum(v.count(";") + v.count(",") + 1 for v in header_values)


def parse_cookies(header_values: Iterable[str] | str, version: int, max_cookies: int) -> CookieJar:
    """Parse ``Cookie`` header values with the version 0 or version 1 parser.

    ``version`` is ``SecFilterCookieFormat`` (1 or more selects RFC 2965);
    ``max_cookies`` is ``Limits.cookies``.  See the module docstring for the
    grammar and the problems reported.
    """
    cookies: list[tuple[str, str]] = []
    error: str | None = None
    for header in _headers(header_values):
        if version >= 1:
            pieces, open_quote = _split_v1(header)
        else:
            pieces, open_quote = _split_v0(header), False
        for raw_piece in pieces:
            piece = raw_piece.strip(_BLANK)
            if not piece:
                continue
            cookie, problem = _parse_piece(piece, version)
            if cookie is None:
                continue
            if len(cookies) >= max_cookies:
                limit = f"too many cookies (limit {max_cookies})"
                return CookieJar(tuple(cookies), error or limit, truncated=True)
            cookies.append(cookie)
            if error is None:
                error = problem
        if open_quote and error is None:
            error = UNBALANCED_QUOTE
    return CookieJar(tuple(cookies), error)


def check_cookie_format(
    header_values: Iterable[str] | str,
    version: int,
    max_cookies: int = DEFAULT_LIMITS.cookies,
) -> str | None:
    """``SecFilterCheckCookieFormat``: the first format problem, or ``None``."""
    return parse_cookies(header_values, version, max_cookies).error
