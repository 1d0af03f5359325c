"""One transaction as the audit log sees it: plain data, no I/O.

Adapters build an ``AuditRecord`` at the end of a request (they know the
final status, the bytes sent, the handler and the timings); the formatters in
``serial``, ``native`` and ``jsonlog`` turn it into bytes; nothing here reads
the clock or touches a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus

from ..engine.alerts import tags
from ..engine.verdict import Match, Verdict
from ..request.model import Request

#: Adapters pass ``apache_secfilter/<version>``; the default keeps formatters pure.
PRODUCER = "apache_secfilter"
ALL_PARTS = "ABCEFHZ"
#: Bodies longer than this are cut in the audit log (the entry says so).
BODY_LOG_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class AuditRecord:
    """Everything an audit entry holds (decisions G2-G4).

    ``request_body`` is the body as read when it was buffered (``None``
    otherwise); ``response_body`` the response as scanned by output rules
    (``None`` when output was not scanned).  ``timings`` are (phase,
    microseconds) pairs; ``time`` is when the request started.
    """

    time: datetime
    unique_id: str
    request: Request
    verdict: Verdict
    status: int
    request_body: bytes | None = None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes | None = None
    response_protocol: str = "HTTP/1.1"
    bytes_sent: int = 0
    handler: str | None = None
    timings: tuple[tuple[str, int], ...] = ()
    server_addr: str = ""
    server_port: int = 0
    session_id: str = ""
    producer: str = PRODUCER

    @property
    def host(self) -> str:
        """The virtual host name: the Host header, else the server name."""
        return self.request.host or self.request.facts.server_name

    @property
    def status_line(self) -> str:
        """``HTTP/1.1 403 Forbidden``."""
        return f"{self.response_protocol} {self.status} {reason_phrase(self.status)}"

    def request_headers(self) -> list[tuple[str, str]]:
        """The request headers as Apache held them, with the 1.x side channels (§6.5)."""
        headers = list(self.request.headers)
        if self.verdict.message_header:
            headers.append(("mod_security-message", self.verdict.message_header))
        if self.verdict.action_header:
            headers.append(("mod_security-action", self.verdict.action_header))
        return headers

    def logged_matches(self) -> list[Match]:
        """Matches that belong in the entry: ``nolog`` ones only with ``auditlog`` (G9)."""
        if self.verdict.audit:
            return list(self.verdict.matches)
        return [m for m in self.verdict.matches if m.logged]

    def messages(self) -> list[str]:
        """The alert texts without the ``mod_security: `` prefix."""
        return [a.removeprefix("mod_security: ") for a in self.verdict.alerts]

    def summary_fields(self) -> dict[str, str]:
        """The fields shared by the serial ``Request:`` line and the index line."""
        return {"referer": self.request.header("Referer") or "-",
                "user_agent": self.request.header("User-Agent") or "-"}

    def total_time(self) -> int:
        return dict(self.timings).get("total", 0)

    def started_us(self) -> int:
        return int(self.time.timestamp() * 1_000_000)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def choose_parts(configured: str, logparts: str | None) -> str:
    """The parts of this entry: SecAuditLogParts, changed by a ``logparts:`` action.

    ``logparts:ABFHZ`` replaces the set; ``logparts:+E`` and ``logparts:-C``
    add or remove letters.  Unknown letters are ignored; A and Z always stay.
    """
    letters = set(configured.upper())
    if logparts:
        text = logparts.strip().upper()
        if text[:1] in "+-" and text:
            sign = text[0]
            for char in text[1:]:
                if char in "+-":
                    sign = char
                elif sign == "+":
                    letters.add(char)
                else:
                    letters.discard(char)
        else:
            letters = set(text)
    letters |= {"A", "Z"}
    return "".join(p for p in ALL_PARTS if p in letters)


def action_text(verdict: Verdict) -> str:
    """What happened, for the ``Action:`` line of the trailer."""
    if verdict.action in ("deny", "redirect"):
        return f"Intercepted (phase {verdict.phase or 'request'}, {verdict.action} " \
               f"{verdict.status})"
    if verdict.action == "allow":
        return "Allowed"
    return "Passed" if verdict.inspected else "Not inspected"


def match_tags(match: Match) -> str:
    """``[id "1001"] [file "…"] [line "12"] …`` for a ``Matched-Rule:`` line."""
    return tags(id=match.id, rev=match.rev, msg=match.msg, severity=match.severity,
                file=match.file, line=str(match.line), at=match.location,
                action=match.action, phase=match.phase).lstrip()
