"""The native lettered entry and its index line (spec §9.4, decisions G3).

An entry (one file per transaction under ``SecAuditLogStorageDir``)::

    --5e1b0c2a-A--
    [21/Mar/2006:10:15:02 +0000] RNzb5X8AAAEAAB@xAAAAAA 192.0.2.10 51234 192.0.2.1 80
    --5e1b0c2a-B--
    GET /search.php?q=%3Cscript%3E HTTP/1.1
    Host: www.example.test
    mod_security-message: Access denied with code 403. …
    mod_security-action: 403

    --5e1b0c2a-F--
    HTTP/1.1 403 Forbidden
    Content-Length: 297

    --5e1b0c2a-H--
    Message: Access denied with code 403. …
    …
    --5e1b0c2a-Z--

Each part starts with ``--<8 hex>-<letter>--`` and ends with an empty line;
``C`` (request body) and ``E`` (response body) appear only when there was one.
The boundary is random per entry (the caller passes it), so request data, all
escaped besides, cannot end a part.  One index line per entry is appended to
``SecAuditLog`` after the entry file is complete.
"""

from __future__ import annotations

import hashlib
import re

from .fields import apache_time, bare, line
from .record import AuditRecord, choose_parts
from .serial import body_lines, header_lines, request_summary, trailer_lines

BOUNDARY = re.compile(r"^--([0-9a-f]{8})-([A-Z])--$")


def _part_a(record: AuditRecord) -> list[str]:
    req = record.request
    return [f"[{apache_time(record.time)}] {bare(record.unique_id)} {bare(req.remote_addr)} "
            f"{req.remote_port} {bare(record.server_addr)} {record.server_port}"]


def _part_b(record: AuditRecord) -> list[str]:
    return [line(record.request.the_request), *header_lines(record.request_headers())]


def _part_f(record: AuditRecord) -> list[str]:
    return [line(record.status_line), *header_lines(record.response_headers)]


def _part_h(record: AuditRecord) -> list[str]:
    lines = trailer_lines(record)
    lines.insert(len(lines) - 2, f"Apache-Handler: {line(record.handler or '(null)')}")
    return [*lines, f"Producer: {line(record.producer)}"]


def _sections(record: AuditRecord, parts: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = [("A", _part_a(record))]
    if "B" in parts:
        out.append(("B", _part_b(record)))
    if "C" in parts and record.request_body is not None:
        out.append(("C", body_lines(record.request_body)))
    if "E" in parts and record.response_body is not None:
        out.append(("E", body_lines(record.response_body)))
    if "F" in parts:
        out.append(("F", _part_f(record)))
    if "H" in parts:
        out.append(("H", _part_h(record)))
    return out


def format_native(record: AuditRecord, boundary: str, parts: str = "ABCEFHZ") -> bytes:
    """One entry in the lettered format; ``boundary`` is 8 lowercase hex digits."""
    if not re.fullmatch(r"[0-9a-f]{8}", boundary):
        raise ValueError(f"boundary must be 8 lowercase hex digits, got {boundary!r}")
    parts = choose_parts(parts, record.verdict.logparts)
    out: list[str] = []
    for letter, lines in _sections(record, parts):
        out += [f"--{boundary}-{letter}--", *lines, ""]
    out += [f"--{boundary}-Z--", ""]
    return "\n".join(out).encode("latin-1")


def entry_path(record: AuditRecord) -> str:
    """``/<YYYYMMDD>/<YYYYMMDD-HHMM>/<YYYYMMDD-HHMMSS>-<unique id>`` (spec §9.4)."""
    t = record.time
    safe_id = re.sub(r"[^A-Za-z0-9@_-]", "_", record.unique_id) or "-"
    return f"/{t:%Y%m%d}/{t:%Y%m%d-%H%M}/{t:%Y%m%d-%H%M%S}-{safe_id}"


def index_line(record: AuditRecord, relative_path: str, entry: bytes) -> bytes:
    """The index line for an entry already written to ``relative_path``."""
    digest = hashlib.md5(entry, usedforsecurity=False).hexdigest()
    return (f"{request_summary(record)} {bare(relative_path)} 0 {len(entry)} "
            f"md5:{digest}\n").encode("latin-1")
