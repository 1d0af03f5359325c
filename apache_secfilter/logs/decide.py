"""Whether a transaction goes to the audit log (spec §3.2, decisions G6, G9).

Decided at the end of the request, when the final status is known: a status
matching ``SecAuditLogRelevantStatus`` makes a transaction relevant even when
no rule looked at it (a 500 from the application, say).

* ``Off``: never.  ``On``: always (``noauditlog`` does not stop it).
* ``RelevantOnly``: relevant transactions: a rule with ``log`` or
  ``auditlog`` matched, a built-in check failed or the engine failed, or the
  final status matches.  ``noauditlog`` takes the rule's match out of that
  reckoning; ``nolog`` without ``auditlog`` too (G9).
* ``DynamicOrRelevant``: relevant ones and every request a handler other than
  the static-file handler served.
"""

from __future__ import annotations

from ..engine.verdict import Verdict
from ..policy.model import Settings, status_relevant

AUDIT_ENGINE_VALUES = ("On", "Off", "RelevantOnly", "DynamicOrRelevant")
__all__ = ["AUDIT_ENGINE_VALUES", "status_relevant"]



def rules_relevant(verdict: Verdict) -> bool:
    """Relevance from what the engine did, with auditlog/noauditlog applied."""
    if verdict.audit is True:
        return True
    if verdict.audit is False:
        # noauditlog: only what no rule decided still counts (checks, errors)
        return verdict.error is not None or (verdict.blocks and not verdict.matches)
    return verdict.relevant


def is_relevant(settings: Settings, verdict: Verdict, final_status: int | None) -> bool:
    """The relevance used for RelevantOnly (and ``mod_security-relevant`` at the end)."""
    return rules_relevant(verdict) or status_relevant(settings.audit_relevant_status,
                                                      final_status)


def should_audit(settings: Settings, verdict: Verdict, final_status: int | None,
                 is_dynamic: bool) -> bool:
    """The audit decision for one finished transaction."""
    mode = settings.audit_engine
    if mode == "Off" or not settings.audit_log:
        return False
    if mode == "On":
        return True
    relevant = is_relevant(settings, verdict, final_status)
    if mode == "DynamicOrRelevant":
        return relevant or is_dynamic
    return relevant
