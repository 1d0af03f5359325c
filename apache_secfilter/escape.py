"""Escaping of text written into logs and alert lines (decisions G1, G8).

Layer 0.  Request data and patterns must never forge a log line or reach a
terminal as an escape sequence: quotes and backslashes are escaped, and every
control or non-ASCII character becomes ``\\xHH``.
"""

from __future__ import annotations

_TABLE = {i: f"\\x{i:02x}" for i in list(range(32)) + list(range(127, 256))}
_TABLE[ord("\\")] = "\\\\"
_TABLE[ord('"')] = '\\"'


def escape_log(text: str) -> str:
    """Escape text (Latin-1 characters) for one line of a log."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return text
    return text.translate(_TABLE)
