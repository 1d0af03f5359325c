"""Audit, debug and guardian logging for hooks that only see the request.

The mod_wsgi access hook decides before Apache chooses a handler and never
sees the response: an entry is written right after the decision, with the
status the client gets for a block (or 0, "not known here", for a request
let through) and no response headers.  Nothing here raises into Apache.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import replace

from ..engine.transaction import Transaction
from ..engine.verdict import Verdict
from ..logs.decide import should_audit
from ..logs.record import AuditRecord
from ..request.model import Request
from .sinks import LogWriters, new_unique_id

_writers: dict[str, LogWriters] = {}


def writers() -> LogWriters:
    """This process's writers (paths as written: the hook has no ServerRoot)."""
    if "main" not in _writers:
        _writers["main"] = LogWriters()
    return _writers["main"]


def with_unique_id(request: Request) -> Request:
    """Apache's UNIQUE_ID when mod_unique_id gave one, else ours (alerts carry it)."""
    if request.facts.unique_id:
        return request
    return replace(request, facts=replace(request.facts, unique_id=new_unique_id()))


def write_access_entry(tx: Transaction, verdict: Verdict, report: Callable[[str], None],
                       server_addr: str = "") -> None:
    """Write what the settings ask for about one decided request; never raises."""
    try:
        settings = tx.settings
        debug = settings.debug_level > 0 and bool(settings.debug_log)
        guardian = bool(settings.guardian_log)
        status = verdict.status if verdict.blocks and verdict.status else 0
        audit = settings.audit_engine != "Off" and should_audit(settings, verdict, status,
                                                                 False)
        if not (audit or debug or guardian):
            return
        facts = tx.request.facts
        record = AuditRecord(time=tx.view.now, unique_id=facts.unique_id, request=tx.request,
                             verdict=verdict, status=status, handler=None,
                             server_addr=server_addr or facts.server_addr,
                             server_port=facts.server_port)
        writers().write_transaction(settings, record, report, audit)
    except Exception:  # noqa: BLE001 - logging never breaks a request
        report("mod_security: audit logging failed:\n" + traceback.format_exc())
