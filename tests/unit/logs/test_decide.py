"""Which transactions reach the audit log: every SecAuditEngine value, relevance,
SecAuditLogRelevantStatus, auditlog/noauditlog and nolog (decisions G6, G9)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from apache_secfilter.engine.verdict import Verdict
from apache_secfilter.logs.decide import (
    AUDIT_ENGINE_VALUES,
    is_relevant,
    should_audit,
    status_relevant,
)
from apache_secfilter.policy.model import Settings

from .helpers import policy_from, run, sample_request

RULES = """SecFilterEngine On
SecAuditEngine {mode}
SecAuditLog {tmp}/audit.log
SecAuditLogRelevantStatus "^5"
SecFilterDefaultAction "deny,log,status:403"
SecFilterSelective ARG_a attack "id:1"
SecFilterSelective ARG_b warn "pass,id:2"
SecFilterSelective ARG_c quiet "pass,nolog,id:3"
SecFilterSelective ARG_d kept "pass,nolog,auditlog,id:4"
SecFilterSelective ARG_e hidden "pass,log,noauditlog,id:5"
SecFilterSelective ARG_f denyquiet "deny,nolog,id:6"
"""

# query, final status, dynamic -> expected audit decision per mode
CASES = [
    # name          query           status dynamic  On    Off    Relevant Dynamic
    ("clean",       "x=1",          200,   False,  True, False, False,   False),
    ("clean-php",   "x=1",          200,   True,   True, False, False,   True),
    ("deny-log",    "a=attack",     403,   False,  True, False, True,    True),
    ("pass-log",    "b=warn",       200,   False,  True, False, True,    True),
    ("nolog",       "c=quiet",      200,   False,  True, False, False,   False),
    ("nolog-audit", "d=kept",       200,   False,  True, False, True,    True),
    ("noauditlog",  "e=hidden",     200,   False,  True, False, False,   False),
    ("deny-nolog",  "f=denyquiet",  403,   False,  True, False, False,   False),
    ("status-500",  "x=1",          500,   False,  True, False, True,    True),
    ("noaudit-500", "e=hidden",     503,   False,  True, False, True,    True),
    ("status-404",  "x=1",          404,   False,  True, False, False,   False),
]


@pytest.mark.parametrize("mode", AUDIT_ENGINE_VALUES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_audit_decision(tmp_path: Path, mode: str, case: tuple) -> None:
    _name, query, status, dynamic, *expected = case
    policy = policy_from(tmp_path, RULES.format(mode=mode, tmp=tmp_path))
    assert policy.settings.audit_engine == mode
    verdict = run(policy, sample_request(uri=f"/p?{query}"))
    want = dict(zip(("On", "Off", "RelevantOnly", "DynamicOrRelevant"), expected,
                    strict=True))[mode]
    assert should_audit(policy.settings, verdict, status, dynamic) is want


def test_no_audit_log_means_no_entry() -> None:
    settings = Settings(audit_engine="On", audit_log=None)
    assert not should_audit(settings, Verdict(), 200, True)


def test_alert_still_written_for_noauditlog(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, RULES.format(mode="RelevantOnly", tmp=tmp_path))
    verdict = run(policy, sample_request(uri="/p?e=hidden"))
    assert verdict.alerts and verdict.audit is False


def test_nolog_writes_no_alert(tmp_path: Path) -> None:
    policy = policy_from(tmp_path, RULES.format(mode="RelevantOnly", tmp=tmp_path))
    assert run(policy, sample_request(uri="/p?c=quiet")).alerts == ()
    assert run(policy, sample_request(uri="/p?f=denyquiet")).alerts == ()


@pytest.mark.parametrize("pattern,status,expected", [
    ("^5", 500, True), ("^5", 503, True), ("^5", 200, False), ("^(4|5)0[0-9]$", 404, True),
    (None, 500, False), ("^5", None, False), ("^5", 0, False),
])
def test_relevant_status(pattern: str | None, status: int | None, expected: bool) -> None:
    assert status_relevant(pattern, status) is expected


def test_failed_check_is_relevant_even_with_noauditlog() -> None:
    verdict = Verdict(action="deny", status=400, relevant=True, audit=False)
    assert is_relevant(Settings(), verdict, 400)
    assert is_relevant(Settings(), replace(verdict, action="pass", error="boom"), 200)
