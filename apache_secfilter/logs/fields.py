"""Escaping and field helpers shared by every log format (decisions G1).

Request data reaches the audit and debug logs in three shapes, each escaped so
that no client can forge a line, a field or a terminal escape sequence:

* ``quoted``: inside ``"…"`` (request line, referer, user agent): quotes and
  backslashes escaped, control and non-ASCII bytes as ``\\xHH``; reversible
  with ``unescape``.
* ``bare``: a space-separated field (host, user, unique id): as ``quoted``,
  and a space becomes ``\\x20``; an empty value is ``-``.
* ``line``: a whole line of text (a header, the body): control and non-ASCII
  bytes as ``\\xHH``, quotes and backslashes left alone, so text the engine
  already escaped (alert messages) is not escaped twice.

Text is ``str`` decoded as Latin-1 (every byte one character, decisions L5).
"""

from __future__ import annotations

import re
from datetime import datetime

from ..escape import escape_log

_LINE_TABLE = {i: f"\\x{i:02x}" for i in list(range(32)) + list(range(127, 256))}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UNESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)", re.DOTALL)


def quoted(text: str) -> str:
    """A value for a ``"…"`` field, without the quotes."""
    return escape_log(text)


def bare(text: str | None) -> str:
    """A value for a space-separated field; ``-`` when empty."""
    if not text:
        return "-"
    return escape_log(text).replace(" ", "\\x20")


def line(text: str) -> str:
    """A whole line of text with every control and non-ASCII byte escaped."""
    if text.isascii() and text.isprintable():
        return text
    return text.translate(_LINE_TABLE)


def body_text(data: bytes) -> str:
    """A body as one escaped line (CR and LF included, so it cannot forge lines)."""
    return line(data.decode("latin-1"))


def unescape(text: str) -> str:
    """Undo ``quoted``/``bare`` escaping (``\\xHH``, ``\\\\``, ``\\"``)."""
    if "\\" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        return chr(int(code[1:], 16)) if len(code) == 3 and code[0] == "x" else code

    return _UNESCAPE.sub(one, text)


def apache_time(when: datetime) -> str:
    """``21/Mar/2006:10:15:02 +0000``: Apache's log time, independent of the locale."""
    return (f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when.year:04d}:"
            f"{when:%H:%M:%S} {when:%z}")


def parse_apache_time(text: str) -> datetime:
    """The inverse of ``apache_time``; ValueError on anything else."""
    day, month, rest = text.split("/", 2)
    if month not in _MONTHS:
        raise ValueError(f"bad month in time {text!r}")
    number = _MONTHS.index(month) + 1
    return datetime.strptime(f"{day}/{number:02d}/{rest}", "%d/%m/%Y:%H:%M:%S %z")
