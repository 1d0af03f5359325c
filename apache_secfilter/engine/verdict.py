"""The verdict: what the engine decided, as plain data for adapters and tools.

Adapters turn it into Apache's answer (status, Location, environment, notes,
headers); logs turn it into alert lines and audit entries; ``secfilter eval``
prints it as JSON.  It holds no reference to the request or the policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Match:
    """One rule (or chain) that matched, located in its configuration file."""

    id: str | None
    msg: str | None
    severity: str | None
    location: str
    pattern: str
    file: str
    line: int
    rev: str | None = None
    phase: str = "request"
    action: str = "pass"
    logged: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "msg": self.msg, "severity": self.severity,
                "location": self.location, "pattern": self.pattern,
                "file": self.file, "line": self.line}


@dataclass(frozen=True)
class Verdict:
    """What to do with a transaction.

    ``action`` is ``deny``, ``redirect``, ``allow`` or ``pass``; ``status`` is
    what the client gets for deny and redirect, ``None`` otherwise.
    ``alerts`` are complete error-log lines (decisions G1) without Apache's
    date/level/client prefix.  ``relevant`` marks the transaction for the audit
    log (decisions G6); ``audit`` is an explicit auditlog (True) or noauditlog
    (False) decision, ``None`` when no rule said.  ``debug`` holds the debug-log
    messages the engine noted (only when SecFilterDebugLevel is above 0).
    """

    action: str = "pass"
    status: int | None = None
    location: str | None = None
    phase: str | None = None
    matches: tuple[Match, ...] = ()
    alerts: tuple[str, ...] = ()
    relevant: bool = False
    audit: bool | None = None
    message_header: str | None = None
    action_header: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    exec_programs: tuple[str, ...] = ()
    pause_ms: int = 0
    logparts: str | None = None
    inspected: bool = True
    error: str | None = None
    error_detail: str | None = field(default=None, compare=False)
    #: (level, message) pairs for SecFilterDebugLog; empty at debug level 0.
    debug: tuple[tuple[int, str], ...] = field(default=(), compare=False)

    @property
    def blocks(self) -> bool:
        """True when the client must not get the content (deny or redirect)."""
        return self.action in ("deny", "redirect")

    def to_json(self) -> dict[str, Any]:
        """The object ``secfilter eval`` prints (its first keys are a fixed contract)."""
        return {
            "action": self.action,
            "status": self.status,
            "location": self.location,
            "phase": self.phase,
            "matches": [m.to_json() for m in self.matches],
            "alerts": list(self.alerts),
            "relevant": self.relevant,
            "audit": self.audit,
            "env": dict(self.env),
            "notes": dict(self.notes),
            "exec": list(self.exec_programs),
            "pause_ms": self.pause_ms,
            "headers": {k: v for k, v in (("mod_security-message", self.message_header),
                                          ("mod_security-action", self.action_header)) if v},
            "inspected": self.inspected,
            "error": self.error,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
