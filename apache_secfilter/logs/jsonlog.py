"""The JSON audit entry (our ``SecAuditLogFormat JSON``, decisions G4).

One object per transaction on one line, with the content of the native parts
(``SecAuditLogParts`` applies the same way): ``transaction`` (part A plus the
index-line summary), ``request`` (B, and C as ``body``), ``response`` (F, and
E as ``body``), ``audit_data`` (H).  Bytes are decoded as Latin-1 so that
nothing is lost, and ``ensure_ascii`` writes every control and non-ASCII
character as ``\\uXXXX``: no raw CR, LF or ESC can reach the file.
"""

from __future__ import annotations

import json
from typing import Any

from ..engine.verdict import Match
from .fields import apache_time
from .record import BODY_LOG_LIMIT, AuditRecord, action_text, choose_parts


def _transaction(record: AuditRecord) -> dict[str, Any]:
    req = record.request
    extra = record.summary_fields()
    return {"time": apache_time(record.time), "unique_id": record.unique_id,
            "client_ip": req.remote_addr, "client_port": req.remote_port,
            "server_ip": record.server_addr, "server_port": record.server_port,
            "host": record.host, "remote_user": req.facts.remote_user or None,
            "ident": req.facts.remote_ident or None, "request_line": req.the_request,
            "status": record.status, "bytes_sent": record.bytes_sent,
            "referer": extra["referer"], "user_agent": extra["user_agent"],
            "session_id": record.session_id or None}


def _body(data: bytes) -> dict[str, Any]:
    return {"body": data[:BODY_LOG_LIMIT].decode("latin-1"), "body_size": len(data),
            "body_truncated": len(data) > BODY_LOG_LIMIT}


def _request(record: AuditRecord, parts: str) -> dict[str, Any]:
    req = record.request
    out: dict[str, Any] = {}
    if "B" in parts:
        out.update(request_line=req.the_request, method=req.method, uri=req.uri,
                   protocol=req.protocol,
                   headers=[list(pair) for pair in record.request_headers()])
    if "C" in parts and record.request_body is not None:
        out.update(_body(record.request_body))
    return out


def _response(record: AuditRecord, parts: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "F" in parts:
        out.update(protocol=record.response_protocol, status=record.status,
                   status_line=record.status_line,
                   headers=[list(pair) for pair in record.response_headers])
    if "E" in parts and record.response_body is not None:
        out.update(_body(record.response_body))
    return out


def _match(match: Match) -> dict[str, Any]:
    return {"id": match.id, "rev": match.rev, "msg": match.msg, "severity": match.severity,
            "file": match.file, "line": match.line, "at": match.location,
            "pattern": match.pattern, "action": match.action, "phase": match.phase}


def _audit_data(record: AuditRecord) -> dict[str, Any]:
    stopwatch: dict[str, int] = {"start": record.started_us(), "total": record.total_time()}
    stopwatch.update((name, micros) for name, micros in record.timings if name != "total")
    return {"messages": record.messages(),
            "matches": [_match(m) for m in record.logged_matches()],
            "action": action_text(record.verdict), "handler": record.handler,
            "stopwatch": stopwatch, "producer": record.producer}


def entry_object(record: AuditRecord, parts: str = "ABCEFHZ") -> dict[str, Any]:
    """The entry as a dict (tests and ``secfilter log`` use the same shape)."""
    parts = choose_parts(parts, record.verdict.logparts)
    obj: dict[str, Any] = {"transaction": _transaction(record), "parts": parts}
    if "B" in parts or "C" in parts:
        obj["request"] = _request(record, parts)
    if "E" in parts or "F" in parts:
        obj["response"] = _response(record, parts)
    if "H" in parts:
        obj["audit_data"] = _audit_data(record)
    return obj


def format_json(record: AuditRecord, parts: str = "ABCEFHZ") -> bytes:
    """One JSON line (with its newline), ready for a single ``write()``."""
    text = json.dumps(entry_object(record, parts), ensure_ascii=True, separators=(",", ":"))
    return (text + "\n").encode("ascii")
