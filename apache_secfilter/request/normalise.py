"""The fixed normalisation ModSecurity 1.x applied to every value (spec §5).

1.x had no per-rule transformations: before any rule or built-in check saw a
value, it URL-decoded it, reduced ``/./`` to ``/``, collapsed runs of ``/``
and replaced NUL bytes with spaces.  Exactly those steps are done here and
nothing more (no ``..`` resolution, no ``%uXXXX``, no double decoding),
because real 1.x rule sets were written against exactly this view of the
data.  Backslashes are left alone: 1.x turned ``\\`` into ``/`` on Windows
only, and Apache on this platform is not Windows.

Request values travel through the engine as Latin-1 text, one character per
byte (decisions L5), so the work is done on ``str``; the ``bytes`` functions
are thin wrappers for callers that hold raw bytes.  ``normalise`` runs for
every value a rule sees, so each step runs only when a substring test shows
it could change the value.
"""

from __future__ import annotations

import re

__all__ = [
    "compress_path",
    "latin1_bytes",
    "normalise",
    "normalise_each",
    "replace_nuls",
    "url_decode",
]

_HEX_DIGITS = "0123456789abcdefABCDEF"

#: Every two-character hex pair (any case) mapped to the character it encodes.
_HEX_PAIRS: dict[str, str] = {
    high + low: chr(int(high + low, 16)) for high in _HEX_DIGITS for low in _HEX_DIGITS
}

#: A ``/`` followed by any run of ``./`` and ``/``.  Replacing each match by
#: one ``/`` reaches the fixed point of "``/./`` -> ``/``, ``//`` -> ``/``" in
#: a single pass: a match is as long as it can be, so no ``//`` or ``/./`` is
#: left at, or created across, its edges.
_PATH_RUN = re.compile(r"/(?:\.?/)+")


def latin1_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    """Return ``data`` as bytes, a ``str`` being Latin-1 text (decisions L5).

    A character above U+00FF cannot come from a request decoded as Latin-1;
    should one arrive anyway it is encoded as UTF-8 rather than raising, so
    that the checks that call this never fail on their input.
    """
    if isinstance(data, str):
        try:
            return data.encode("latin-1")
        except UnicodeEncodeError:
            return data.encode("utf-8", "surrogatepass")
    return bytes(data)


def _latin1_text(data: bytes | bytearray | memoryview | str) -> str:
    """Return ``data`` as Latin-1 text (one character per byte)."""
    if isinstance(data, str):
        return data
    return bytes(data).decode("latin-1")


def _url_decode_text(text: str, plus_as_space: bool) -> str:
    """Decode ``%xx`` and (optionally) ``+`` in Latin-1 text.

    An invalid ``%`` sequence keeps its ``%`` and decoding carries on with
    the next character, as the 2.x decoder descended from 1.x does (spec
    §12.3 urlDecode): ``%%20`` -> ``% ``, ``%0g%20`` -> ``%0g ``.
    ``+`` is replaced first; this cannot create or spoil a ``%xx`` pair, and
    a decoded ``%2B`` therefore stays ``+``.
    """
    if plus_as_space and "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    parts = text.split("%")
    out = [parts[0]]
    pair = _HEX_PAIRS.get
    for part in parts[1:]:
        char = pair(part[:2])
        out.append("%" + part if char is None else char + part[2:])
    return "".join(out)


def _compress_path_text(text: str) -> str:
    """Reduce ``/./`` and runs of ``/`` to one ``/`` in Latin-1 text."""
    if "/" not in text:
        return text
    return _PATH_RUN.sub("/", text)


def url_decode(data: bytes, plus_as_space: bool = True) -> bytes:
    """Decode ``%xx`` (hex, either case); ``+`` becomes a space if asked.

    Invalid sequences are kept literally (``%``, ``%0``, ``%gg``, ``%%`` are
    unchanged) because 1.x left them for ``SecFilterCheckURLEncoding`` to
    judge rather than guessing what the application would make of them.
    """
    return _url_decode_text(_latin1_text(data), plus_as_space).encode("latin-1")


def compress_path(data: bytes) -> bytes:
    """Reduce ``/./`` to ``/`` and runs of ``/`` to one, to a fixed point.

    ``..`` is deliberately not resolved: 1.x did not, and rules such as
    ``"\\.\\./"`` depend on seeing it.
    """
    return _compress_path_text(_latin1_text(data)).encode("latin-1")


def replace_nuls(data: bytes) -> bytes:
    """Replace every NUL byte with a space (1.x "null byte attack prevention")."""
    return bytes(data).replace(b"\x00", b" ")


def normalise(data: bytes | str, plus_as_space: bool = True) -> str:
    """Apply the whole 1.x normalisation and return Latin-1 text.

    Order as in 1.x: URL-decode, then compress the path (so ``%2F%2F``
    collapses too), then replace NULs (including ones ``%00`` produced).
    ``bytes`` are read as Latin-1; a ``str`` is taken to be Latin-1 text
    already (characters above U+00FF, which such text never holds, pass
    through unchanged).  ``plus_as_space`` is for query strings and
    urlencoded bodies, where ``+`` means a space.
    """
    text = data if isinstance(data, str) else _latin1_text(data)
    if "%" in text or (plus_as_space and "+" in text):
        text = _url_decode_text(text, plus_as_space)
    if "//" in text or "/./" in text:  # what a run of ``_PATH_RUN`` needs
        text = _PATH_RUN.sub("/", text)
    if "\x00" in text:
        text = text.replace("\x00", " ")
    return text


def normalise_each(values: list[str], plus_as_space: bool = True) -> list[str]:
    """``[normalise(v) for v in values]``, in one pass over the values joined by LF.

    Every step acts alike on a value alone and inside the joined text: a
    ``%xx`` pair, a run of ``/`` and a NUL never span the LF.  Only when a
    value holds an LF itself, or decoding could make one (``%0a``), does each
    value go alone.
    """
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1 or "%0a" in joined.lower():
        return [normalise(value, plus_as_space) for value in values]
    return normalise(joined, plus_as_space).split("\n") if values else []
