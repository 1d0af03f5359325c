"""``SecFilterForceByteRange min max``: every byte must lie in ``[min, max]``.

Used to keep binary data (NULs, control characters, high bytes) out of
applications that only ever expect text.  The check is a single
``bytes.translate`` that deletes the allowed bytes: whatever is left, in
order, is the offending bytes, so the first one is what the alert names.
"""

from __future__ import annotations

from functools import lru_cache

from apache_secfilter.request.normalise import latin1_bytes

__all__ = ["check_byte_range"]


@lru_cache(maxsize=64)
def _allowed(low: int, high: int) -> bytes:
    """The bytes in ``[low, high]``, clamped to 0..255 (empty when low > high)."""
    return bytes(range(max(low, 0), min(high, 255) + 1))


def check_byte_range(data: bytes, low: int, high: int) -> str | None:
    """Return ``None`` when every byte of ``data`` is in ``[low, high]``.

    Otherwise return ``"Invalid character detected [N]"``, N being the
    decimal value of the first offending byte.  Bounds outside 0..255 are
    clamped; ``low > high`` allows nothing, so only empty data passes.
    ``data`` may also be Latin-1 text; nothing raises.
    """
    low, high = int(low), int(high)
    if low <= 0 and high >= 255:
        return None
    bad = latin1_bytes(data).translate(None, _allowed(low, high))
    if not bad:
        return None
    return f"Invalid character detected [{bad[0]}]"
