"""``application/x-www-form-urlencoded`` bodies and query strings: split, and build.

1.x matched rules against parameters after its own normalisation, so this
module only cuts the data into ``(name, value)`` pairs and leaves every byte
as sent (still ``%``-encoded, ``+`` not yet a space): the caller normalises,
and the built-in checks (``SecFilterCheckURLEncoding``) still see the raw form.

The splitter is a single pass with a C-level regular expression, so a body of
a million ``&`` costs no Python loop and no list of empty pieces, and it stops
at the parameter limit instead of holding everything first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from apache_secfilter.errors import LimitExceeded

__all__ = ["encode_urlencoded", "percent_encode", "split_urlencoded"]

#: One non-empty piece between ``&`` separators.
_PIECE = re.compile(rb"[^&]+")

#: Bytes that would change the meaning of a synthetic body if left raw: the
#: separators, the escape characters themselves, and control bytes.
_UNSAFE = re.compile(rb"[\x00-\x1f\x7f%&+=]")


def split_urlencoded(data: bytes, max_args: int) -> list[tuple[bytes, bytes]]:
    """Split ``a=1&b&c=`` into raw pairs ``[(b"a", b"1"), (b"b", b""), (b"c", b"")]``.

    Empty pieces (``&&``) are skipped; a piece without ``=`` is a name with an
    empty value; only the first ``=`` separates.  More than ``max_args`` pairs
    raise ``LimitExceeded`` (413), because every pair costs rule evaluations.
    Nothing else raises: any byte string is a valid list of parameters.
    """
    pairs: list[tuple[bytes, bytes]] = []
    for match in _PIECE.finditer(data):
        if len(pairs) >= max_args:
            raise LimitExceeded(f"more than {max_args} parameters")
        name, _, value = match.group().partition(b"=")
        pairs.append((name, value))
    return pairs


def percent_encode(data: bytes) -> bytes:
    """Escape ``& = % +`` and control bytes as ``%XX``; every other byte stays.

    Enough for ``split_urlencoded`` followed by URL-decoding to give ``data``
    back, and minimal so that rules still see readable text.
    """
    return _UNSAFE.sub(lambda match: b"%%%02X" % match.group()[0], data)


def encode_urlencoded(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Join pairs as ``name=value&...``, each side escaped by ``percent_encode``."""
    return b"&".join(percent_encode(name) + b"=" + percent_encode(value) for name, value in pairs)
