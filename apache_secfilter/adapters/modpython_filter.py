"""How many bytes the reader behind a mod_python input filter asked for.

mod_python 3.5 keeps the ``readbytes`` and ``mode`` Apache passes to an input
filter in its filter object but does not expose them to Python, and mod_php
discards every byte a filter returns beyond what it asked for: a replayed body
written in larger pieces reaches PHP truncated.  So the two fields are read
from the object's C layout (x86-64 and other LP64 systems: after the object
header, three pointers, then ``rc``, ``is_input`` and ``mode`` as C ints, and
``readbytes`` as a ``size_t``).  The layout is checked on every call against
the ``is_input`` attribute mod_python does expose; when it does not match,
one byte per call is returned, which is slow but never loses data.

It also asks Apache whether an input filter is registered at all
(``ap_get_input_filter_handle``, exported by the ``apache2`` binary): adding an
unknown filter is no error for mod_python, only a line in the error log on
every request, so the hook looks before it adds mod_request's ``KEEP_BODY``.
"""

from __future__ import annotations

import ctypes
import sys

AP_MODE_READBYTES, AP_MODE_GETLINE = 0, 1
_HEADER = 2 * ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD
_POINTERS = 3 * ctypes.sizeof(ctypes.c_void_p)  # f, bb_in, bb_out
_IS_INPUT = _HEADER + _POINTERS + ctypes.sizeof(ctypes.c_int)
_MODE = _IS_INPUT + ctypes.sizeof(ctypes.c_int)
_READBYTES = _MODE + ctypes.sizeof(ctypes.c_int)
_READBYTES += -_READBYTES % ctypes.alignment(ctypes.c_size_t)
_LIMIT = 1 << 31
_state: dict[str, object] = {"warned": False, "registered": {}}


def _layout_ok(filter) -> bool:  # noqa: A002 - mod_python's name
    if sys.implementation.name != "cpython" or not getattr(filter, "is_input", 0):
        return False
    address = id(filter)
    is_input = ctypes.c_int.from_address(address + _IS_INPUT).value
    mode = ctypes.c_int.from_address(address + _MODE).value
    return is_input == 1 and 0 <= mode <= 5


def requested_bytes(filter) -> tuple[int, int]:  # noqa: A002
    """(bytes asked for, Apache's read mode) for this input-filter call."""
    if _layout_ok(filter):
        address = id(filter)
        wanted = ctypes.c_size_t.from_address(address + _READBYTES).value
        mode = ctypes.c_int.from_address(address + _MODE).value
        if 0 < wanted < _LIMIT:
            return wanted, mode
    if not _state["warned"]:
        _state["warned"] = True
        filter.req.log_error("mod_security: cannot read mod_python's filter layout; the "
                             "request body is replayed one byte at a time")
    return 1, AP_MODE_READBYTES


def input_filter_registered(name: str) -> bool:
    """Whether an input filter of this name is registered in this Apache (once per process).

    True when Apache cannot be asked (not inside Apache, another platform):
    adding an unknown filter costs a line in the error log, nothing else.
    """
    known: dict[str, bool] = _state["registered"]  # type: ignore[assignment]
    if name not in known:
        try:
            lookup = ctypes.CDLL(None).ap_get_input_filter_handle
            lookup.restype, lookup.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
            known[name] = bool(lookup(name.encode("ascii")))
        except (OSError, AttributeError, ValueError):
            known[name] = True
    return known[name]
