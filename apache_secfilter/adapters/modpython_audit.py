"""Audit and debug logging for the mod_python hook, at the end of a request.

The hook calls ``begin`` when the fixup starts, ``note_phase``/``note_output``
as the phases end, and ``finish`` from its request-pool cleanup, when Apache
has sent the response and knows the final status and the bytes sent.  Writing
there adds nothing to the client's wait.  Nothing here may raise into Apache:
``finish`` catches everything and reports it to the error log.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from ..engine.transaction import Transaction
from ..engine.verdict import Verdict
from ..logs.decide import should_audit
from ..logs.record import AuditRecord
from .sinks import LogWriters


def _producer() -> str:
    try:
        from importlib.metadata import version
        return f"apache_secfilter/{version('apache_secfilter')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "apache_secfilter"


PRODUCER = _producer()
_writers: dict[str, LogWriters] = {}


def writers() -> LogWriters:
    """This process's writers (relative log paths start at Apache's ServerRoot)."""
    if "main" not in _writers:
        try:
            from mod_python import apache  # type: ignore[import-not-found]
            root = apache.server_root()
        except Exception:  # noqa: BLE001 - outside Apache: paths as given
            root = None
        _writers["main"] = LogWriters(root=root)
    return _writers["main"]


def begin(req: Any) -> float:
    """Note when inspection started; returns the monotonic start for ``note_phase``."""
    start = time.monotonic()
    req.secfilter_started = start
    req.secfilter_timings = []
    return start


def note_phase(req: Any, phase: str, start: float) -> None:
    timings = getattr(req, "secfilter_timings", None)
    if timings is not None:
        timings.append((phase, int((time.monotonic() - start) * 1_000_000)))


def note_output(req: Any, first: Any, verdict: Verdict, body: bytes, start: float) -> None:
    """Keep the output verdict and the scanned body for the audit entry."""
    first.secfilter_out_verdict = verdict
    first.secfilter_out_body = body
    note_phase(first, "response", start)


def _final(req: Any) -> Any:
    final = req
    while getattr(final, "next", None) is not None:
        final = final.next
    return final


def _response_headers(final: Any) -> tuple[tuple[str, str], ...]:
    headers = [(str(k), str(v)) for k, v in final.headers_out.items()]
    seen = {k.lower() for k, _ in headers}
    headers += [(str(k), str(v)) for k, v in final.err_headers_out.items()
                if k.lower() not in seen]
    if final.content_type and "content-type" not in seen:
        headers.append(("Content-Type", str(final.content_type)))
    return tuple(headers)


def build_record(req: Any, tx: Transaction, verdict: Verdict) -> AuditRecord:
    """The AuditRecord of a finished request, from the first and last request_rec."""
    final = _final(req)
    timings = list(getattr(req, "secfilter_timings", []))
    started = getattr(req, "secfilter_started", None)
    if started is not None:
        timings.append(("total", int((time.monotonic() - started) * 1_000_000)))
    facts = tx.request.facts
    scanned = getattr(req, "secfilter_out_body", None)
    return AuditRecord(
        time=tx.view.now, unique_id=facts.unique_id, request=tx.request, verdict=verdict,
        status=int(final.status or 0), request_body=getattr(req, "secfilter_body", None),
        response_headers=_response_headers(final), response_body=scanned,
        bytes_sent=int(getattr(final, "bytes_sent", 0) or 0),
        handler=final.handler or facts.handler, timings=tuple(timings),
        server_addr=facts.server_addr, server_port=facts.server_port, producer=PRODUCER)


def finish(req: Any, tx: Transaction, report: Any) -> None:
    """Write the audit entry and debug lines of this transaction; never raises."""
    try:
        settings = tx.settings
        debug = settings.debug_level > 0 and bool(settings.debug_log)
        guardian = bool(settings.guardian_log)
        if settings.audit_engine == "Off" and not debug and not guardian:
            return
        verdict = getattr(req, "secfilter_out_verdict", None) or tx.request_verdict \
            or Verdict(inspected=False)
        final = _final(req)
        dynamic = tx.request.facts.is_dynamic or bool(final.handler and final.handler
                                                     not in ("default-handler",))
        audit = should_audit(settings, verdict, int(final.status or 0), dynamic)
        if not audit and not debug and not guardian:
            return
        writers().write_transaction(settings, build_record(req, tx, verdict), report, audit)
    except Exception:  # noqa: BLE001 - the request is over; never raise into Apache
        report("mod_security: audit logging failed:\n" + traceback.format_exc())
