"""The mod_python hook: everything 1.x inspected, inside Apache, before PHP.

Apache configuration (what ``secfilter serve`` and ``apache/secfilter.conf`` write)::

    PythonInterpreter main_interpreter
    PythonAutoReload Off
    PythonImport apache_secfilter.adapters.modpython main_interpreter
    PythonOption SecFilterConfig /etc/apache2/secfilter.rules
    PythonFixupHandler apache_secfilter.adapters.modpython
    # optional, with mod_request (see below and docs/apache-config.md):
    PythonOption SecFilterKeptBodySize 2097152
    <If "... Content-Length of at most 1048576 ...">  KeptBodySize 2097152  </If>

One fixup handler inspects the request line, headers, cookies, arguments and
the body (read once, replayed to the content handler through a per-request
input filter, re-used after internal redirects, never ``pass_on()``), and
answers with the verdict.  Output scanning adds a buffering output filter.
Filters crash mod_python under threaded MPMs, so there the hook runs in
handler-only mode (no body, no output) and says so in the error log.
See research notes: apache-hooks.md §2.

Replaying a body from Python costs a filter call per block PHP reads (28
calls, about 230 µs, for a 100 KB upload).  With ``SecFilterKeptBodySize``
the hook instead has mod_request keep the body while it reads it, and
mod_request's ``KEPT_BODY`` filter hands that copy to PHP in C; the replay
filter's first call checks that the kept body is there and is the body, then
steps aside.  A kept body that is not there (mod_request not loaded,
``KeptBodySize`` not in effect) loses no byte: the held copy is replayed
from Python, and the error log says so once per process.
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import replace
from http import HTTPStatus

from mod_python import apache  # type: ignore[import-not-found]

from ..engine.body import body_kind
from ..engine.transaction import Transaction
from ..engine.verdict import Verdict
from ..request.model import Response
from . import modpython_audit as audit
from .common import POLICIES, clocks, env_updates, run_side_effects
from .modpython_filter import AP_MODE_GETLINE, input_filter_registered, requested_bytes
from .modpython_request import build_request, request_line, with_script_facts
from .programs import ProgramRunner

CONFIG_OPTION = "SecFilterConfig"
#: Server-level option: where compiled configurations are kept (apacheconf.cache).
CACHE_OPTION = "SecFilterCacheDir"
#: Option: the ``KeptBodySize`` mod_request has for the same requests (bytes); bodies
#: of up to half of it are handed to the content handler by mod_request's C filters.
KEPT_BODY_OPTION = "SecFilterKeptBodySize"
CHUNK = 65536
#: Largest body read in one call (``_read_all``).
ONE_READ = 1 << 20
REPLAY_FILTER = "SECFILTER_REPLAY"
OUTPUT_FILTER = "SECFILTER_OUTPUT"
KEEP_BODY_FILTER = "KEEP_BODY"  # mod_request's
#: Request note (``%{secfilter-body}n`` in a LogFormat): how a replayed body reached
#: the content handler, ``kept`` (mod_request's kept body) or ``python``.
BODY_NOTE = "secfilter-body"
_DIGITS = re.compile(r"[0-9]{1,18}")
_state = {"threaded": None, "threaded_warned": False, "kept_warned": False}


def _threaded() -> bool:
    if _state["threaded"] is None:
        try:
            _state["threaded"] = bool(apache.mpm_query(apache.AP_MPMQ_IS_THREADED))
        except Exception:  # noqa: BLE001 - assume the safe answer
            _state["threaded"] = True
    return bool(_state["threaded"])


def _log(req, message: str, level: int | None = None) -> None:
    for line in message.splitlines() or [""]:
        req.log_error(line, apache.APLOG_ERR if level is None else level)


def _first_request(req):
    first = req
    while first.prev is not None:
        first = first.prev
    return first


def fixuphandler(req) -> int:
    """Inspect the request; DECLINED lets Apache go on, a status answers it."""
    if req.main is not None:
        return apache.DECLINED  # subrequests are not inspected (decisions R7)
    if req.prev is not None:
        return _after_internal_redirect(req)
    try:
        return _inspect(req)
    except Exception:  # noqa: BLE001 - fail closed (decisions R6)
        _log(req, "mod_security: internal error, request denied:\n" + traceback.format_exc())
        tx = getattr(req, "secfilter_tx", None)
        if tx is not None and tx.settings.on_error == "Pass":
            return apache.DECLINED
        return apache.HTTP_INTERNAL_SERVER_ERROR


def _inspect(req) -> int:
    path = req.get_options().get(CONFIG_OPTION)
    if not path:
        _log(req, f"mod_security: PythonOption {CONFIG_OPTION} is not set; request denied")
        return apache.HTTP_INTERNAL_SERVER_ERROR
    loaded = POLICIES.get(path)
    for line in POLICIES.first_warnings(loaded):
        _log(req, line, apache.APLOG_WARNING)
    if loaded.source is None:
        _log(req, f"mod_security: configuration error, request denied: {loaded.error}")
        return apache.HTTP_INTERNAL_SERVER_ERROR
    threaded = _threaded()
    early: bytes | None = None
    if loaded.quick is not None:
        head = (*request_line(req), req.headers_in.items(), req.subprocess_env)
        if loaded.passes_quickly(*head):
            return apache.DECLINED  # certainly passes, nothing to log: no transaction
        if not threaded and loaded.quick.scans_body and _is_form(req):
            early = _read_all(req)
            if early is not None and loaded.passes_quickly(*head, early):
                _replay(req, early)
                req.secfilter_body = early  # for internal redirects (R8)
                return apache.DECLINED
    started = audit.begin(req)
    if threaded and not _state["threaded_warned"]:
        _state["threaded_warned"] = True
        _log(req, "mod_security: Apache runs a threaded MPM; mod_python filters crash there, "
                  "so request bodies and responses are not inspected. Use the prefork MPM, "
                  "or the mod_wsgi adapter.")
    request = build_request(req, no_body=threaded)  # with a unique id
    policy = loaded.policy_for(request)
    request = with_script_facts(request, policy)
    tx = Transaction(policy, request, clocks(), ProgramRunner(lambda m: _log(req, m)))
    req.secfilter_tx = tx
    req.register_cleanup(_cleanup, req)
    if tx.wants_body:
        body = _feed(req, tx, early)
    else:  # read for the quick lane but not inspected (MODSEC_NOPOSTBUFFERING...)
        body = req.secfilter_body = early  # the content handler still needs it
    verdict = tx.finish_request()
    audit.note_phase(req, "request", started)
    if body is not None and not verdict.blocks:
        _replay(req, body)
    if not threaded and verdict.action == "pass" and tx.enabled and tx.settings.scan_output \
            and policy.output_rules:
        _add_output_filter(req)
    return _answer(req, tx, verdict)


def _is_form(req) -> bool:
    """A body worth reading early for the quick lane: a form, urlencoded or multipart."""
    length = (req.headers_in.get("Content-Length") or "").strip()
    return length not in ("", "0") \
        and body_kind(req.headers_in.get("Content-Type") or "") in ("urlencoded", "multipart")


def _read_all(req) -> bytes | None:
    """Read the whole body once (Apache bounds it by Content-Length).

    A body of a known length up to ``ONE_READ`` bytes is asked for in one read
    (mod_python allocates what is asked for, so a larger claim is read in
    ``CHUNK``s): each read is a call into mod_python.
    """
    _keep_body(req)
    length = (req.headers_in.get("Content-Length") or "").strip()
    size = int(length) if _DIGITS.fullmatch(length) and 0 < int(length) <= ONE_READ else CHUNK
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


def _keep_body(req) -> None:
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
    there before it relies on it (``_pass_kept_body``).
    """
    req.secfilter_kept = False
    req.secfilter_limit = limit = _kept_body_limit(req)
    if not limit or _threaded() or req.headers_in.get("Transfer-Encoding") is not None:
        return
    length = (req.headers_in.get("Content-Length") or "").strip()
    if not _DIGITS.fullmatch(length) or not 0 < 2 * int(length) <= limit:
        return
    if not input_filter_registered(KEEP_BODY_FILTER):
        _warn_kept(req, "mod_request is not loaded (a2enmod request)")
        return
    req.add_input_filter(KEEP_BODY_FILTER)
    req.secfilter_kept = True


def _kept_body_limit(req) -> int:
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
        _log(req, f"mod_security: {KEPT_BODY_OPTION} is set, but mod_request's KeptBodySize is "
                  f"not in effect: {why}; request bodies are replayed in Python (slower, "
                  "never lost). See the documentation of the option.", apache.APLOG_WARNING)


def _feed(req, tx: Transaction, early: bytes | None) -> bytes | None:
    """Give the engine the body: the one read for the quick lane, or read it now."""
    body = early if early is not None else _read_all(req)
    if body is None:
        return None
    for start in range(0, len(body), CHUNK):
        tx.feed_body(body[start:start + CHUNK])
    req.secfilter_body = body
    return body


def _replay(req, body: bytes) -> None:
    """Hand the held body to the content handler (``replay``) once inspection passed.

    When the hook had mod_request keep the body (``_keep_body``), the filter
    first checks what mod_request's ``KEPT_BODY`` serves below it.  After an
    internal redirect it replays from its own copy: Apache 2.4 hands a kept
    body on to subrequests only, not to the redirected request.  Whenever a
    kept body or mod_request's ``KEEP_BODY`` may be below (the hook kept the
    body, or ``SecFilterKeptBodySize`` is set), the filter never passes reads
    through to it after replaying from its own copy: a kept body would be
    handed over a second time, and ``KEEP_BODY``, which mod_request adds to
    every request with a ``KeptBodySize``, answers 413 to a body above it.
    """
    kept = bool(getattr(_first_request(req), "secfilter_kept", False))
    req.secfilter_pos = 0
    req.secfilter_replay = body
    req.secfilter_written = []
    req.secfilter_check = kept and req.prev is None
    limit = getattr(req, "secfilter_limit", None)  # set when this request read the body
    req.secfilter_hold = kept or bool(_kept_body_limit(req) if limit is None else limit)
    if not req.secfilter_check:
        req.notes[BODY_NOTE] = "python"
    req.register_input_filter(REPLAY_FILTER, "apache_secfilter.adapters.modpython::replay")
    req.add_input_filter(REPLAY_FILTER)


def replay(filter) -> None:  # noqa: A002 - mod_python's name
    """Input filter: hand the held body to the content handler, then EOS.

    With a kept body (``_replay``), the first call hands on what mod_request's
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
        _write(filter, req, chunk)
        req.secfilter_pos = pos + len(chunk)
    if req.secfilter_pos >= len(body):
        filter.close()
        if not getattr(req, "secfilter_hold", False):
            # the body is out: later reads (PHP's next call, Apache discarding the rest)
            # pass straight through mod_python's C code, which only finds the end of it
            filter.disable()
        # else every later call answers EOS here: below may wait a kept body (served
        # again from its start) or mod_request's KEEP_BODY (413 for a large body)


def _write(filter, req, data: bytes) -> None:  # noqa: A002 - mod_python's name
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
        _write(filter, req, data)
        req.secfilter_pos = pos + len(data)
        filter.disable()
        return True
    _warn_kept(req, "no kept body below the hook (KeptBodySize unset or 0 for this request?)"
               if not data else "the kept body differs from the body read")
    return False


def _after_internal_redirect(req) -> int:
    """The first request was inspected; re-use its body and output scanning (R8).

    The body is replayed from the copy the hook holds (``_replay``), also when
    the first request had mod_request keep it: Apache does not hand a kept body
    on to an internal redirect.
    """
    first = _first_request(req)
    body = getattr(first, "secfilter_body", None)
    if body is not None:
        _replay(req, body)
    tx = getattr(first, "secfilter_tx", None)
    if tx is not None and tx.request_verdict is not None and not _threaded() \
            and tx.request_verdict.action == "pass" and tx.settings.scan_output \
            and tx.policy.output_rules:
        req.secfilter_tx = tx
        _add_output_filter(req)
    return apache.DECLINED


def _answer(req, tx: Transaction, verdict: Verdict) -> int:
    """Apply the verdict to Apache: logs, headers, env, notes, then the status."""
    _apply_side_channels(req, verdict)
    run_side_effects(tx.request, verdict, ProgramRunner(lambda m: _log(req, m)))
    if verdict.action == "deny":
        return verdict.status or apache.HTTP_FORBIDDEN
    if verdict.action == "redirect":
        req.err_headers_out["Location"] = verdict.location or "/"
        return apache.HTTP_MOVED_TEMPORARILY
    return apache.DECLINED


def _apply_side_channels(req, verdict: Verdict) -> None:
    for line in verdict.alerts:
        _log(req, line)
    if verdict.error_detail:
        _log(req, verdict.error_detail)
    for name, value in env_updates(verdict).items():
        req.subprocess_env[name] = value
    for name, value in verdict.notes:
        req.notes[name] = value
    if verdict.message_header:
        req.headers_in["mod_security-message"] = verdict.message_header
    if verdict.action_header:
        req.headers_in["mod_security-action"] = verdict.action_header


def _add_output_filter(req) -> None:
    req.register_output_filter(OUTPUT_FILTER, "apache_secfilter.adapters.modpython::output")
    req.add_output_filter(OUTPUT_FILTER)


def output(filter) -> None:  # noqa: A002 - mod_python's name
    """Output filter: buffer a scanned response whole, then pass or replace it."""
    req = filter.req
    tx: Transaction | None = getattr(req, "secfilter_tx", None)
    mode = getattr(req, "secfilter_out_mode", None)
    if mode is None:
        wanted = tx is not None and tx.wants_output(req.content_type)
        mode = req.secfilter_out_mode = "buffer" if wanted else "stream"
        req.secfilter_out = []
        req.secfilter_out_size = 0
    if mode == "stream":
        _stream(filter, req)
        return
    data = filter.read()
    while data:
        req.secfilter_out.append(data)
        req.secfilter_out_size += len(data)
        data = filter.read()
    if data is None:
        _finish_output(filter, req, tx)
        return
    if tx is not None and req.secfilter_out_size > tx.limits.output_bytes:
        _log(req, f"mod_security: response larger than {tx.limits.output_bytes} bytes is "
                  "not scanned", apache.APLOG_WARNING)
        req.secfilter_out_mode = "stream"
        _write(filter, req, b"".join(req.secfilter_out))
        req.secfilter_out = []
        return
    raise apache.SERVER_RETURN(apache.OK)  # keep mod_python from flushing the headers


def _stream(filter, req) -> None:  # noqa: A002 - mod_python's name
    """Pass an unscanned response on: what this call holds, then leave the rest to
    mod_python's C passthrough (no Python, and no block kept alive per call)."""
    data = filter.read()
    while data:
        _write(filter, req, data)
        data = filter.read()
    if data is None:
        filter.close()
    else:
        filter.disable()


def _finish_output(filter, req, tx: Transaction | None) -> None:
    body = b"".join(req.secfilter_out)
    req.secfilter_out = []
    if tx is not None:
        started = time.monotonic()
        try:
            verdict = tx.inspect_output(_response(req, body))
        except Exception:  # noqa: BLE001 - fail closed (decisions R6)
            _log(req, "mod_security: internal error in output scanning:\n"
                 + traceback.format_exc())
            verdict = Verdict(action="deny", status=500, phase="response")
        audit.note_output(req, _first_request(req), verdict, body, started)
        if verdict.blocks and verdict.phase == "response":
            _apply_side_channels(req, _added_since(tx.request_verdict, verdict))
            body = _replace_response(req, verdict)
    _write(filter, req, body)
    filter.close()


def _added_since(before: Verdict | None, after: Verdict) -> Verdict:
    """Only what the output phase added (the request phase was applied already)."""
    if before is None:
        return after
    return replace(after, alerts=after.alerts[len(before.alerts):],
                   env=after.env[len(before.env):], notes=after.notes[len(before.notes):],
                   relevant=after.relevant and not before.relevant)


def _response(req, body: bytes) -> Response:
    headers = tuple((k, v) for k, v in req.headers_out.items())
    if req.content_type and not any(k.lower() == "content-type" for k, _ in headers):
        headers += (("Content-Type", req.content_type),)
    return Response(req.status, headers, body)


def _replace_response(req, verdict: Verdict) -> bytes:
    status = verdict.status or 500
    req.status = status
    req.content_type = "text/html; charset=iso-8859-1"
    for name in ("Content-Length", "Content-Encoding", "ETag", "Last-Modified"):
        if name in req.headers_out:
            del req.headers_out[name]
    if verdict.action == "redirect":
        req.headers_out["Location"] = verdict.location or "/"
    reason = _reason(status)
    return (f"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head><title>"
            f"{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>\n"
            ).encode("latin-1")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _cleanup(req) -> None:
    tx = getattr(req, "secfilter_tx", None)
    if tx is not None:
        audit.finish(req, tx, lambda message: _log(req, message))
        tx.close()


def _preload() -> None:
    """At child start (PythonImport): compile the server-level configuration now.

    So a configuration error is in the error log, with its file:line, before
    the child serves a request; requests are still denied with it (R6).
    Options set only inside sections are compiled on their first request.
    """
    try:
        options = apache.main_server.get_options()
    except Exception:  # noqa: BLE001 - not inside Apache, or an older mod_python
        return
    path = options.get(CONFIG_OPTION) if options else None
    if not path:
        return
    POLICIES.cache_dir = options.get(CACHE_OPTION) or None
    loaded = POLICIES.get(path)
    for line in POLICIES.first_warnings(loaded):
        apache.log_error(line, apache.APLOG_WARNING, apache.main_server)
    if loaded.source is None:
        apache.log_error(f"mod_security: configuration error, every request will be denied: "
                         f"{loaded.error}", apache.APLOG_ERR, apache.main_server)


_preload()
