"""``SecFilterCheckURLEncoding``: every ``%`` must start a ``%xx`` pair.

Run on the raw data, before ``normalise`` decodes it, so that sequences the
decoder would keep literally (``%0g``, a ``%`` at the end) are reported
instead of slipping through.  ``+`` and ``%00`` are valid here: a NUL is the
business of the normaliser, which turns it into a space.  The order of the
tests follows the 2.x code that replaced the 1.x check (spec §7): when fewer
than two characters follow the ``%`` the data is "not enough characters",
even if the one that is there is not a hex digit.
"""

from __future__ import annotations

import re

from apache_secfilter.request.normalise import latin1_bytes

__all__ = ["BAD_PERCENT", "NON_HEX", "NOT_ENOUGH", "check_url_encoding"]

NON_HEX = "Invalid URL encoding: non-hexadecimal digits used"
NOT_ENOUGH = "Invalid URL encoding: not enough characters at the end of input"

#: A ``%`` that does not start a valid pair.  A valid pair holds no ``%``, so
#: the first match is the first ``%`` a left-to-right scan would reject.
BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def check_url_encoding(raw: bytes) -> str | None:
    """Return ``None`` when every ``%`` in ``raw`` is followed by two hex digits.

    Otherwise return the reason for the first bad ``%``.  ``raw`` may also be
    Latin-1 text; nothing raises.
    """
    data = latin1_bytes(raw)
    if b"%" not in data:
        return None
    bad = BAD_PERCENT.search(data)
    if bad is None:
        return None
    if len(data) - bad.start() < 3:
        return NOT_ENOUGH
    return NON_HEX
