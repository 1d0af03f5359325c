"""What the mod_python hook reads from and hands back to Apache: request bodies, log lines.

The body is read once (``read_all``), inspected, and handed to the content
handler again (``replay_body``) through a per-request input filter
(``replay``).  Replaying a body from Python costs a filter call per block PHP
reads (28 calls, about 230 µs, for a 100 KB upload).  With
``SecFilterKeptBodySize`` the hook instead has mod_request keep the body while
it reads it (``keep_body``), and mod_request's ``KEPT_BODY`` filter hands that
copy to PHP in C; the replay filter's first call checks that the kept body is
there and is the body, then steps aside.  A kept body that is not there
(mod_request not loaded, ``KeptBodySize`` not in effect) loses no byte: the
held copy is replayed from Python, and the error log says so once per process.

mod_python 3.5's ``filter.write`` does not copy what it is given: every block
written goes through ``write``, which keeps it alive until the request ends.
"""

from __future__ import annotations

import re

from mod_python import apache  # type: ignore[import-not-found]

from ..engine.body import body_kind
from ..engine.transaction import Transaction
from .modpython_filter import AP_MODE_GETLINE, input_filter_registered, requested_bytes

#: Option: the ``KeptBodySize`` mod_request has for the same requests (bytes); bodies
#: of up to half of it are handed to the content handler by mod_request's C filters.
KEPT_BODY_OPTION = "SecFilterKeptBodySize"
CHUNK = 65536
#: Largest body read in one call (``read_all``).
ONE_READ = 1 << 20
REPLAY_FILTER = "SECFILTER_REPLAY"
KEEP_BODY_FILTER = "KEEP_BODY"  # mod_request's
#: Request note (``%{secfilter-body}n`` in a LogFormat): how a replayed body reached
#: the content handler, ``kept`` (mod_request's kept body) or ``python``.
BODY_NOTE = "secfilter-body"
_DIGITS = re.compile(r"[0-9]{1,18}")
_state = {"threaded": None, "kept_warned": False}


def threaded() -> bool:
    """Whether Apache runs a threaded MPM (asked once per process)."""
    if _state["threaded"] is None:
        try:
            _state["threaded"] = bool(apache.mpm_query(apache.AP_MPMQ_IS_THREADED))
        except Exception:  # noqa: BLE001 - assume the safe answer
            _state["threaded"] = True
    return bool(_state["threaded"])


def log(req, message: str, level: int | None = None) -> None:
    """One error-log line per line of ``message`` (APLOG_ERR unless told)."""
    for line in message.splitlines() or [""]:
        req.log_error(line, apache.APLOG_ERR if level is None else level)


def first_request(req):
    """The request an internal redirect started from."""
    first = req
    while first.prev is not None:
        first = first.prev
    return first


def is_form(req) -> bool:
    """A body worth reading early for the quick lane: a form, urlencoded or multipart."""
    length = (req.headers_in.get("Content-Length") or "").strip()
    return length not in ("", "0") \
        and body_kind(req.headers_in.get("Content-Type") or "") in ("urlencoded", "multipart")


def read_all(req) -> bytes | None:
    """Read the whole body once (Apache bounds it by Content-Length).

    A body of a known length up to ``ONE_READ`` bytes is asked for in one read
    (mod_python allocates what is asked for, so a larger claim is read in
    ``CHUNK``s): each read is a call into mod_python.
    """
    length = _content_length(req)
    keep_body(req, length)
    size = length if length and length <= ONE_READ else CHUNK
    chunks = []
    try:
        while True:
            chunk = req.read(size)
            if not chunk:
                break
            chunks.append(chunk)
            if size != CHUNK and len(chunk) == size:
                break  # all Content-Length announced: no read to find the end
            size = CHUNK
    except apache.SERVER_RETURN:
        return None
    return b"".join(chunks)


def _content_length(req) -> int | None:
    """The announced body length (``Content-Length`` as digits), or None."""
    length = (req.headers_in.get("Content-Length") or "").strip()
    return int(length) if _DIGITS.fullmatch(length) else None


def keep_body(req, length: int | None) -> None:
    """Before the body is first read: have mod_request keep a copy of it, when that is safe.

    With its ``KEEP_BODY`` filter in the chain while the hook reads, mod_request
    keeps the body in ``r->kept_body``, and the ``KEPT_BODY`` filter it adds
    before the handler serves PHP from that copy in C: no Python call per block
    PHP reads.  ``KEEP_BODY`` counts every byte that passes it, the hook's read
    and then PHP's, against ``KeptBodySize`` and answers 413 beyond it, so it is
    used only for a body of a known length (no ``Transfer-Encoding``) of at most
    half of ``SecFilterKeptBodySize``, which must equal ``KeptBodySize``.  Never
    on a threaded MPM (no body is read there).  ``req.secfilter_kept`` says
    whether it was added; the replay filter checks that the kept body is really
    there before it relies on it (``_pass_kept_body``).  ``length``: the
    body's announced length (``_content_length``).
    """
    req.secfilter_kept = False
    req.secfilter_limit = limit = kept_body_limit(req)
    if not limit or threaded() or req.headers_in.get("Transfer-Encoding") is not None:
        return
    if length is None or not 0 < 2 * length <= limit:
        return
    if not input_filter_registered(KEEP_BODY_FILTER):
        _warn_kept(req, "mod_request is not loaded (a2enmod request)")
        return
    req.add_input_filter(KEEP_BODY_FILTER)
    req.secfilter_kept = True


def kept_body_limit(req) -> int:
    """``SecFilterKeptBodySize`` for this request in bytes; 0 when unset or not a number."""
    value = (req.get_options().get(KEPT_BODY_OPTION) or "").strip()
    if not value:
        return 0
    if not _DIGITS.fullmatch(value):
        _warn_kept(req, f"PythonOption {KEPT_BODY_OPTION} {value!r} is not a number of bytes")
        return 0
    return int(value)


def _warn_kept(req, why: str) -> None:
    """Once per process: the kept body is configured but not used."""
    if not _state["kept_warned"]:
        _state["kept_warned"] = True
        log(req, f"mod_security: {KEPT_BODY_OPTION} is set, but mod_request's KeptBodySize is "
                 f"not in effect: {why}; request bodies are replayed in Python (slower, "
                 "never lost). See the documentation of the option.", apache.APLOG_WARNING)


def feed(req, tx: Transaction, early: bytes | None) -> bytes | None:
    """Give the engine the body: the one read for the quick lane, or read it now.

    In one piece: the hook holds it whole anyway, and a multipart body of the
    common shape given whole is read without the parser's state machine.  As
    ``held``: spilling it to temporary files would save no memory here.
    """
    body = early if early is not None else read_all(req)
    if body is None:
        return None
    tx.feed_body(body, held=True)  # req.secfilter_body holds it until the request ends
    req.secfilter_body = body
    return body


def replay_body(req, body: bytes) -> None:
    """Hand the held body to the content handler (``replay``) once inspection passed.

    When the hook had mod_request keep the body (``keep_body``), the filter
    first checks what mod_request's ``KEPT_BODY`` serves below it.  After an
    internal redirect it replays from its own copy: Apache 2.4 hands a kept
    body on to subrequests only, not to the redirected request.  Whenever a
    kept body or mod_request's ``KEEP_BODY`` may be below (the hook kept the
    body, or ``SecFilterKeptBodySize`` is set), the filter never passes reads
    through to it after replaying from its own copy: a kept body would be
    handed over a second time, and ``KEEP_BODY``, which mod_request adds to
    every request with a ``KeptBodySize``, answers 413 to a body above it.
    """
    kept = bool(getattr(first_request(req), "secfilter_kept", False))
    req.secfilter_pos = 0
    req.secfilter_replay = body
    req.secfilter_written = []
    req.secfilter_check = kept and req.prev is None
    limit = getattr(req, "secfilter_limit", None)  # set when this request read the body
    req.secfilter_hold = kept or bool(kept_body_limit(req) if limit is None else limit)
    if not req.secfilter_check:
        req.notes[BODY_NOTE] = "python"
    req.register_input_filter(REPLAY_FILTER, "apache_secfilter.adapters.modpython_io::replay")
    req.add_input_filter(REPLAY_FILTER)


def replay(filter) -> None:  # noqa: A002 - mod_python's name
    """Input filter: hand the held body to the content handler, then EOS.

    With a kept body (``replay_body``), the first call hands on what mod_request's
    ``KEPT_BODY`` serves, if that is the body, and steps aside for good: every
    later read goes through mod_python's C passthrough to ``KEPT_BODY``.
    Otherwise the body is written from the held copy.  The caller asks for a
    number of bytes and mod_php throws away whatever a filter returns beyond
    it, so each call writes at most what was asked for.
    """
    req = filter.req
    body = getattr(req, "secfilter_replay", b"")
    pos = getattr(req, "secfilter_pos", 0)
    wanted, mode = requested_bytes(filter)
    if getattr(req, "secfilter_check", False):
        req.secfilter_check = False
        # GETLINE: KEPT_BODY would answer with readbytes bytes, not a line
        if mode != AP_MODE_GETLINE and _pass_kept_body(filter, req, body, pos):
            req.notes[BODY_NOTE] = "kept"
            return
        req.notes[BODY_NOTE] = "python"
    chunk = body[pos:pos + wanted]
    if mode == AP_MODE_GETLINE and b"\n" in chunk:
        chunk = chunk[:chunk.index(b"\n") + 1]
    if chunk:
        write(filter, req, chunk)
        req.secfilter_pos = pos + len(chunk)
    if req.secfilter_pos >= len(body):
        filter.close()
        if not getattr(req, "secfilter_hold", False):
            # the body is out: later reads (PHP's next call, Apache discarding the rest)
            # pass straight through mod_python's C code, which only finds the end of it
            filter.disable()
        # else every later call answers EOS here: below may wait a kept body (served
        # again from its start) or mod_request's KEEP_BODY (413 for a large body)


def write(filter, req, data: bytes) -> None:  # noqa: A002 - mod_python's name
    """``filter.write(data)``, keeping ``data`` alive until the request ends.

    mod_python 3.5's ``write`` hands Apache an immortal bucket that points into
    the bytes object, without copying it or holding a reference: once the last
    reference went, PHP (or a filter that set the bucket aside, as mod_request's
    ``KEEP_BODY`` does) would read whatever the allocator put there since.
    Seen: the last bytes of a 70,002-byte form replaced by garbage.
    """
    written = getattr(req, "secfilter_written", None)
    if written is None:
        req.secfilter_written = written = []
    written.append(data)
    filter.write(data)


def _pass_kept_body(filter, req, body: bytes, pos: int) -> bool:  # noqa: A002
    """Hand on the first block mod_request's kept body gives, if it is the body's next.

    Nothing (the end: no kept body, as with ``KeptBodySize`` 0 or unset here) or
    other bytes mean the kept body is not in effect: False, and the caller
    replays the held copy instead, for the rest of the request.  The block is
    read whole, as one brigade, so nothing read is dropped whatever the size.
    """
    try:
        data = filter.read()
    except OSError:  # mod_python's "Input filter read error"; never seen: KEPT_BODY
        data = None  # serves memory, and HTTP_IN is at the end of the body
    if data and body.startswith(data, pos):
        write(filter, req, data)
        req.secfilter_pos = pos + len(data)
        filter.disable()
        return True
    _warn_kept(req, "no kept body below the hook (KeptBodySize unset or 0 for this request?)"
               if not data else "the kept body differs from the body read")
    return False


