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

Reading and replaying bodies (also through mod_request's kept body, with
``SecFilterKeptBodySize``) is in ``modpython_io``.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import replace
from http import HTTPStatus

from mod_python import apache  # type: ignore[import-not-found]

from ..engine.quick import NEEDS_BODY, PASS
from ..engine.transaction import Transaction
from ..engine.verdict import Verdict
from ..request.model import Response
from . import modpython_audit as audit
from .common import POLICIES, clocks, env_updates, run_side_effects
from .modpython_io import (
    feed,
    first_request,
    is_form,
    log,
    read_all,
    replay_body,
    threaded,
    write,
)
from .modpython_request import build_request, request_line, with_script_facts
from .programs import ProgramRunner

CONFIG_OPTION = "SecFilterConfig"
#: Server-level option: where compiled configurations are kept (apacheconf.cache).
CACHE_OPTION = "SecFilterCacheDir"
OUTPUT_FILTER = "SECFILTER_OUTPUT"
_state = {"threaded_warned": False}



def fixuphandler(req) -> int:
    """Inspect the request; DECLINED lets Apache go on, a status answers it."""
    if req.main is not None:
        return apache.DECLINED  # subrequests are not inspected (decisions R7)
    if req.prev is not None:
        return _after_internal_redirect(req)
    try:
        return _inspect(req)
    except Exception:  # noqa: BLE001 - fail closed (decisions R6)
        log(req, "mod_security: internal error, request denied:\n" + traceback.format_exc())
        tx = getattr(req, "secfilter_tx", None)
        if tx is not None and tx.settings.on_error == "Pass":
            return apache.DECLINED
        return apache.HTTP_INTERNAL_SERVER_ERROR


def _inspect(req) -> int:
    path = req.get_options().get(CONFIG_OPTION)
    if not path:
        log(req, f"mod_security: PythonOption {CONFIG_OPTION} is not set; request denied")
        return apache.HTTP_INTERNAL_SERVER_ERROR
    loaded = POLICIES.get(path)
    for line in POLICIES.first_warnings(loaded):
        log(req, line, apache.APLOG_WARNING)
    if loaded.source is None:
        log(req, f"mod_security: configuration error, request denied: {loaded.error}")
        return apache.HTTP_INTERNAL_SERVER_ERROR
    is_threaded = threaded()
    early: bytes | None = None
    answer: str | None = None
    if loaded.quick is not None:
        method, uri, protocol = request_line(req)
        headers = req.headers_in.items()
        answer = loaded.judge_quickly(method, uri, protocol, headers, req.subprocess_env)
        if answer == PASS:
            return apache.DECLINED  # certainly passes, nothing to log: no transaction
        if answer == NEEDS_BODY and not is_threaded and is_form(req):
            early = read_all(req)
            if early is not None and loaded.body_passes_quickly(uri, headers, early):
                replay_body(req, early)
                req.secfilter_body = early  # for internal redirects (R8)
                return apache.DECLINED
    started = audit.begin(req)
    if is_threaded and not _state["threaded_warned"]:
        _state["threaded_warned"] = True
        log(req, "mod_security: Apache runs a threaded MPM; mod_python filters crash there, "
                 "so request bodies and responses are not inspected. Use the prefork MPM, "
                 "or the mod_wsgi adapter.")
    request = build_request(req, no_body=is_threaded)  # with a unique id
    policy = loaded.policy_for(request)
    request = with_script_facts(request, policy)
    tx = Transaction(policy, request, clocks(), ProgramRunner(lambda m: log(req, m)))
    req.secfilter_tx = tx
    req.register_cleanup(_cleanup, req)
    if tx.wants_body:
        body = feed(req, tx, early)
    else:  # read for the quick lane but not inspected (MODSEC_NOPOSTBUFFERING...)
        body = req.secfilter_body = early  # the content handler still needs it
    verdict = tx.finish_request()
    if answer is not None:  # the quick lane was asked
        loaded.lane_missed(verdict)
    audit.note_phase(req, "request", started)
    if body is not None and not verdict.blocks:
        replay_body(req, body)
    if not is_threaded and verdict.action == "pass" and tx.enabled and tx.settings.scan_output \
            and policy.output_rules:
        _add_output_filter(req)
    return _answer(req, tx, verdict)


def _after_internal_redirect(req) -> int:
    """The first request was inspected; re-use its body and output scanning (R8).

    The body is replayed from the copy the hook holds (``_replay``), also when
    the first request had mod_request keep it: Apache does not hand a kept body
    on to an internal redirect.
    """
    first = first_request(req)
    body = getattr(first, "secfilter_body", None)
    if body is not None:
        replay_body(req, body)
    tx = getattr(first, "secfilter_tx", None)
    if tx is not None and tx.request_verdict is not None and not threaded() \
            and tx.request_verdict.action == "pass" and tx.settings.scan_output \
            and tx.policy.output_rules:
        req.secfilter_tx = tx
        _add_output_filter(req)
    return apache.DECLINED


def _answer(req, tx: Transaction, verdict: Verdict) -> int:
    """Apply the verdict to Apache: logs, headers, env, notes, then the status."""
    _apply_side_channels(req, verdict)
    run_side_effects(tx.request, verdict, ProgramRunner(lambda m: log(req, m)))
    if verdict.action == "deny":
        return verdict.status or apache.HTTP_FORBIDDEN
    if verdict.action == "redirect":
        req.err_headers_out["Location"] = verdict.location or "/"
        return apache.HTTP_MOVED_TEMPORARILY
    return apache.DECLINED


def _apply_side_channels(req, verdict: Verdict) -> None:
    for line in verdict.alerts:
        log(req, line)
    if verdict.error_detail:
        log(req, verdict.error_detail)
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
        log(req, f"mod_security: response larger than {tx.limits.output_bytes} bytes is "
                  "not scanned", apache.APLOG_WARNING)
        req.secfilter_out_mode = "stream"
        write(filter, req, b"".join(req.secfilter_out))
        req.secfilter_out = []
        return
    raise apache.SERVER_RETURN(apache.OK)  # keep mod_python from flushing the headers


def _stream(filter, req) -> None:  # noqa: A002 - mod_python's name
    """Pass an unscanned response on: what this call holds, then leave the rest to
    mod_python's C passthrough (no Python, and no block kept alive per call)."""
    data = filter.read()
    while data:
        write(filter, req, data)
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
            log(req, "mod_security: internal error in output scanning:\n"
                 + traceback.format_exc())
            verdict = Verdict(action="deny", status=500, phase="response")
        audit.note_output(req, first_request(req), verdict, body, started)
        if verdict.blocks and verdict.phase == "response":
            _apply_side_channels(req, _added_since(tx.request_verdict, verdict))
            body = _replace_response(req, verdict)
    write(filter, req, body)
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
        audit.finish(req, tx, lambda message: log(req, message))
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
