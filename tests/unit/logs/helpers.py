"""Shared builders for the log tests: a sample record, policies from text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apache_secfilter import Clocks, Request, Response, ServerFacts, inspect, load_policy
from apache_secfilter.engine.verdict import Match, Verdict
from apache_secfilter.logs.record import AuditRecord
from apache_secfilter.policy.model import Policy

WHEN = datetime(2006, 3, 21, 10, 15, 2, tzinfo=UTC)
UID = "RNzb5X8AAAEAAB@xAAAAAA"
MESSAGE = ('Access denied with code 403. Pattern match "<script" at THE_REQUEST '
           '[id "1001"] [msg "XSS probe"]')
ALERT = (f"mod_security: {MESSAGE} [hostname \"www.example.test\"] "
         f"[uri \"/search.php?q=%3Cscript%3E\"] [unique_id \"{UID}\"]")


def sample_request(**changes: Any) -> Request:
    request = Request(
        "GET", "/search.php?q=%3Cscript%3E", "HTTP/1.1",
        (("Host", "www.example.test"), ("User-Agent", "Mozilla/4.0")),
        "192.0.2.10", 51234,
        facts=ServerFacts(server_name="www.example.test", server_addr="192.0.2.1",
                          server_port=80, unique_id=UID,
                          handler="application/x-httpd-php"))
    return replace(request, **changes)


def sample_verdict(**changes: Any) -> Verdict:
    match = Match("1001", "XSS probe", None, "THE_REQUEST", "<script",
                  "/etc/apache2/secfilter.rules", 12, action="deny")
    verdict = Verdict(action="deny", status=403, phase="request", matches=(match,),
                      alerts=(ALERT,), relevant=True, message_header=MESSAGE,
                      action_header="403")
    return replace(verdict, **changes)


def sample_record(**changes: Any) -> AuditRecord:
    record = AuditRecord(
        time=WHEN, unique_id=UID, request=sample_request(), verdict=sample_verdict(),
        status=403,
        response_headers=(("Content-Length", "297"), ("Connection", "close"),
                          ("Content-Type", "text/html; charset=iso-8859-1")),
        bytes_sent=297, handler="application/x-httpd-php",
        timings=(("request", 812), ("total", 1520)), server_addr="192.0.2.1", server_port=80)
    return replace(record, **changes)


def policy_from(tmp_path: Path, text: str, name: str = "rules.conf") -> Policy:
    path = tmp_path / name
    path.write_text(text)
    return load_policy(str(path))


def run(policy: Policy, request: Request, body: bytes = b"",
        response: Response | None = None) -> Verdict:
    """The engine's verdict at a fixed time (the clock never matters here)."""
    clocks = Clocks(WHEN, lambda: 0.0)
    return inspect(policy, request, body, response, clocks=clocks)


def record_for(request: Request, verdict: Verdict, status: int, **changes: Any) -> AuditRecord:
    record = AuditRecord(time=WHEN, unique_id=request.facts.unique_id or UID, request=request,
                         verdict=verdict, status=status, server_addr="192.0.2.1",
                         server_port=80)
    return replace(record, **changes)
