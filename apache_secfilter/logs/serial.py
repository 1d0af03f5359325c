"""The serial audit-log entry (spec §9.3, decisions G2): many entries, one file.

Layout (``H`` lines are ours, between ``Handler:`` and the dashes, so that
the 1.x order stays: request, request body, response status and headers)::

    ========================================
    Request: <host> <client> <user> <ident> [<time>] "<request line>" <status> <bytes>
             "<referer>" "<user-agent>" <unique-id> "<session-id>"   (one line)
    Handler: <handler or (null)>
    Message: <alert>                       (one per alert)
    Matched-Rule: [id "…"] [file "…"] [line "…"] …
    Action: Intercepted (phase request, deny 403)
    Stopwatch: <start µs> <total µs> (request <µs>; response <µs>)
    ----------------------------------------
    <request line>
    <request headers, incl. mod_security-message / mod_security-action>

    <request body as one escaped line, when buffered>

    <response status line>
    <response headers>

    <response body as one escaped line, when output was scanned>

Each entry ends with an empty line.  ``SecAuditLogParts`` applies here too:
without C no request body, without E no response body, without F no response
section, without H no ``Message:``/``Matched-Rule:``/``Action:``/``Stopwatch:``
lines.  The caller writes the returned bytes with one ``write()``.
"""

from __future__ import annotations

from .fields import apache_time, bare, body_text, line, quoted
from .record import BODY_LOG_LIMIT, AuditRecord, action_text, choose_parts, match_tags

TOP = "=" * 40
MIDDLE = "-" * 40


def request_summary(record: AuditRecord) -> str:
    """The fields of the ``Request:`` line (also the start of the index line)."""
    req = record.request
    facts = req.facts
    sent = str(record.bytes_sent) if record.bytes_sent else "-"
    extra = record.summary_fields()
    return (f"{bare(record.host)} {bare(req.remote_addr)} {bare(facts.remote_user)} "
            f"{bare(facts.remote_ident)} [{apache_time(record.time)}] "
            f'"{quoted(req.the_request)}" {record.status} {sent} '
            f'"{quoted(extra["referer"])}" "{quoted(extra["user_agent"])}" '
            f'{bare(record.unique_id)} "{quoted(record.session_id or "-")}"')


def trailer_lines(record: AuditRecord) -> list[str]:
    """``Message:``/``Matched-Rule:``/``Action:``/``Stopwatch:`` lines (part H)."""
    lines = [f"Message: {line(text)}" for text in record.messages()]
    lines += [f"Matched-Rule: {match_tags(m)}" for m in record.logged_matches()]
    lines.append(f"Action: {action_text(record.verdict)}")
    lines.append(f"Stopwatch: {stopwatch(record)}")
    return lines


def stopwatch(record: AuditRecord) -> str:
    """``<start µs> <total µs> (request 812; response 230)``."""
    phases = "; ".join(f"{name} {micros}" for name, micros in record.timings
                       if name != "total")
    return f"{record.started_us()} {record.total_time()} ({phases})"


def body_lines(data: bytes) -> list[str]:
    """A body as one escaped line; a body over the limit is cut and says so."""
    if len(data) <= BODY_LOG_LIMIT:
        return [body_text(data)]
    return [body_text(data[:BODY_LOG_LIMIT]),
            f"[{len(data) - BODY_LOG_LIMIT} more bytes not logged]"]


def header_lines(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{line(name)}: {line(value)}" for name, value in headers]


def format_serial(record: AuditRecord, parts: str = "ABCEFHZ") -> bytes:
    """One serial entry, ready for a single ``write()``."""
    parts = choose_parts(parts, record.verdict.logparts)
    out = [TOP, f"Request: {request_summary(record)}",
           f"Handler: {line(record.handler or '(null)')}"]
    if "H" in parts:
        out += trailer_lines(record)
    out.append(MIDDLE)
    if "B" in parts:
        out += [line(record.request.the_request), *header_lines(record.request_headers()), ""]
    if "C" in parts and record.request_body is not None:
        out += [*body_lines(record.request_body), ""]
    if "F" in parts:
        out += [line(record.status_line), *header_lines(record.response_headers), ""]
    if "E" in parts and record.response_body is not None:
        out += [*body_lines(record.response_body), ""]
    if out[-1] != "":
        out.append("")
    return ("\n".join(out) + "\n").encode("latin-1")
