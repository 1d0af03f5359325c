"""Debug-log lines (decisions G5, spec §9.5).

``[<dd/Mon/yyyy:HH:MM:SS +zzzz>] [<host>][rid#<unique id>][<uri>][<level>] <message>``

What each level adds (a level includes every lower one):

1. significant events: alerts, engine errors, ignored ``MODSEC_ENABLE`` values;
2. one line per request: what was decided, and how long it took;
3. one line per rule decision (match, no match, skipped) and the checks;
4. and up: every value a rule tested (cut to 256 characters below level 9).

The engine notes levels 3 and up (and the level-1 warnings it alone sees)
only when the level is above 0; levels 1 and 2 are built here from the
verdict, so nothing is spent on them on the request path.
"""

from __future__ import annotations

from .fields import apache_time, line
from .record import AuditRecord


def _decision(record: AuditRecord) -> str:
    verdict = record.verdict
    if not verdict.inspected:
        what = "not inspected (engine off for this request)"
    elif verdict.action in ("deny", "redirect"):
        what = f"{verdict.action} {verdict.status} in phase {verdict.phase or 'request'}"
    else:
        what = verdict.action
    total = record.total_time()
    took = f", {total} us" if total else ""
    return (f'Request "{record.request.the_request}": {what}, {len(verdict.matches)} '
            f"rule(s) matched, status {record.status}{took}")


def debug_messages(record: AuditRecord, level: int) -> list[tuple[int, str]]:
    """Every (level, message) pair of a transaction up to ``level``."""
    if level <= 0:
        return []
    out = [(1, alert) for alert in record.verdict.alerts]
    if record.verdict.error:
        out.append((1, f"Engine error: {record.verdict.error}"))
    if level >= 2:
        out.append((2, _decision(record)))
    out += [(lvl, text) for lvl, text in record.verdict.debug if lvl <= level]
    return sorted(out, key=lambda pair: pair[0] > 2)


def format_debug(record: AuditRecord, level: int) -> bytes:
    """The debug-log lines of one transaction, for one ``write()`` (empty at level 0)."""
    messages = debug_messages(record, level)
    if not messages:
        return b""
    prefix = (f"[{apache_time(record.time)}] [{line(record.host)}]"
              f"[rid#{line(record.unique_id or '-')}][{line(record.request.uri)}]")
    text = "".join(f"{prefix}[{lvl}] {line(message)}\n" for lvl, message in messages)
    return text.encode("latin-1")
