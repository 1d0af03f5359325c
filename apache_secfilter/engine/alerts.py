"""Alert lines in the 1.x error-log format (decisions G1, G7, G8).

``mod_security: <outcome>. <reason> [id "…"] [rev "…"] [msg "…"]
[severity "…"] [hostname "…"] [uri "…"] [unique_id "…"]`` — tags only when
set; request data and patterns escaped so that no line can be forged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..escape import escape_log


def outcome_text(action: str, status: int | None, url: str | None) -> str:
    """The first sentence of an alert, by what the matching rule did."""
    if action == "deny":
        return f"Access denied with code {status}"
    if action == "redirect":
        return f"Access denied with redirection to {escape_log(url or '')}"
    if action == "allow":
        return "Access allowed"
    return "Warning"


def escape_location(location: str) -> str:
    """Escape a match location, keeping the quotes of 1.x's ``HEADER("Name")``."""
    if location.startswith('HEADER("') and location.endswith('")') and len(location) > 10:
        return f'HEADER("{escape_log(location[8:-2])}")'
    return escape_log(location)


def pattern_reason(pattern: str, location: str) -> str:
    return f'Pattern match "{escape_log(pattern)}" at {escape_location(location)}'


@dataclass(frozen=True)
class AlertContext:
    """Request facts every alert line ends with."""

    hostname: str
    uri: str
    unique_id: str = ""


def tags(**values: str | None) -> str:
    """``[name "value"]`` for every value that is set, in the order given."""
    return "".join(f' [{name} "{escape_log(value)}"]' for name, value in values.items()
                   if value)


def message(outcome: str, reason: str, *, id: str | None = None, rev: str | None = None,
            msg: str | None = None, severity: str | None = None) -> str:
    """The text of ``mod_security-message``: outcome, reason and rule tags."""
    return f"{outcome}. {reason}" + tags(id=id, rev=rev, msg=msg, severity=severity)


def alert_line(text: str, ctx: AlertContext) -> str:
    """The whole alert as written to Apache's error log (Apache adds its prefix)."""
    return (f"mod_security: {text}"
            + tags(hostname=ctx.hostname, uri=ctx.uri, unique_id=ctx.unique_id))
