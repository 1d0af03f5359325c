"""The rule loop: order, chain, skipnext, pass/allow/deny/redirect (spec §4.4, §6).

This is the reference evaluator: plain, one rule after another, every target
of a rule tested until one fires.  It reads requests only through the
RequestView and records what happened in an Outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import regex

from ..errors import InspectionFailed, InspectionTimeout
from ..policy.actions import ActionSet
from ..policy.model import Rule
from ..request.variables import Target
from ..request.view import RequestView
from .alerts import AlertContext, alert_line, message, outcome_text, pattern_reason
from .verdict import Match


class Matcher:
    """Runs one regex search under the request's time budget (decisions L21)."""

    def __init__(self, clock: Callable[[], float], budget_ms: int) -> None:
        self.clock = clock
        self.deadline = clock() + budget_ms / 1000.0

    def search(self, rule: Rule, value: str) -> bool:
        remaining = self.deadline - self.clock()
        if remaining <= 0:
            raise InspectionTimeout("time limit for pattern matching exhausted before "
                                    f"rule at {rule.location}", rule.location)
        try:
            return rule.regex.search(value, timeout=remaining) is not None
        except TimeoutError:
            raise InspectionTimeout(f"pattern matching timed out in rule at {rule.location} "
                                    f"(SecFilterTimeLimit)", rule.location) from None
        except regex.error as exc:  # compiled on first use (policy.pattern)
            raise InspectionFailed(f"pattern of rule at {rule.location} does not compile: "
                                   f"{exc}", rule.location) from None


def simple_targets(view: RequestView) -> list[Target]:
    """What SecFilter tests: the request line, each header, the body (spec §4.2)."""
    targets = [Target("THE_REQUEST", view.the_request)]
    targets += [Target("HEADER", f"{name}: {value}") for name, value in view.headers]
    if view.post_payload is not None:
        targets.append(Target("POST_PAYLOAD", view.post_payload))
    return targets


def rule_targets(rule: Rule, view: RequestView) -> list[Target]:
    if rule.is_simple:
        return simple_targets(view)
    out: list[Target] = []
    for ref in rule.variables:
        out.extend(ref.collect(view, rule.exclusions))
    return out


def first_hit(rule: Rule, view: RequestView, matcher: Matcher) -> Target | None:
    """The first target on which the rule fires (inverted patterns included)."""
    for target in rule_targets(rule, view):
        if matcher.search(rule, target.value) != rule.negated:
            return target
    return None


#: Longest value quoted in the debug log at levels 4-8 (level 9 quotes all).
DEBUG_VALUE_CHARS = 256


def traced_first_hit(outcome: Outcome) -> Callable[[Rule, RequestView, Matcher], Target | None]:
    """``first_hit`` that also notes every value tested (debug levels 4 and up)."""
    limit = None if outcome.debug_level >= 9 else DEBUG_VALUE_CHARS

    def find(rule: Rule, view: RequestView, matcher: Matcher) -> Target | None:
        for target in rule_targets(rule, view):
            value = target.value if limit is None else target.value[:limit]
            cut = "" if len(value) == len(target.value) else f" ({len(target.value)} chars)"
            outcome.trace(4, f'Testing {target.location} = "{value}"{cut}')
            if matcher.search(rule, target.value) != rule.negated:
                return target
        return None

    return find


def _rule_name(rule: Rule) -> str:
    return f"Rule {rule.id or '-'} at {rule.location}"


@dataclass
class Outcome:
    """What the rules of a transaction did so far, across both phases."""

    alert_context: AlertContext
    action: str = "pass"
    status: int | None = None
    location: str | None = None
    phase: str | None = None
    matches: list[Match] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    relevant: bool = False
    audit: bool | None = None
    message_header: str | None = None
    action_header: str | None = None
    env: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    exec_programs: list[str] = field(default_factory=list)
    pause_ms: int = 0
    logparts: str | None = None
    #: (level, message) pairs for the debug log; None at SecFilterDebugLevel 0,
    #: so that level 0 costs one test per rule and nothing else (decisions G5).
    debug: list[tuple[int, str]] | None = None
    debug_level: int = 0

    def trace(self, level: int, text: str) -> None:
        """Note a debug message when the level asks for it."""
        if self.debug is not None and level <= self.debug_level:
            self.debug.append((level, text))

    @property
    def stopped(self) -> bool:
        return self.action != "pass"

    def reject(self, action: str, status: int | None, url: str | None, phase: str,
               reason: str, log: bool = True, **meta: str | None) -> None:
        """Record a disruptive decision and its alert (checks, errors, rules)."""
        self.action, self.phase = action, phase
        self.status = 302 if action == "redirect" else status
        self.location = url if action == "redirect" else None
        text = message(outcome_text(action, self.status, url), reason, **meta)
        self.message_header = text
        self.action_header = str(self.status) if self.status else None
        if log:
            self.alerts.append(alert_line(text, self.alert_context))
            self.relevant = True

    def fire(self, links: Sequence[tuple[Rule, Target]], phase: str) -> int:
        """Apply a matched rule (or completed chain); return how many rules to skip."""
        last_rule, last_target = links[-1]
        acts = last_rule.actions
        meta = _chain_meta([rule.actions for rule, _ in links])
        disruptive = acts.disruptive or "deny"
        status = (acts.status or 403) if disruptive == "deny" else None
        self.matches.append(Match(
            id=meta["id"], msg=meta["msg"], severity=meta["severity"],
            location=last_target.location, pattern=last_rule.pattern,
            file=last_rule.location.path, line=last_rule.location.line, rev=meta["rev"],
            phase=phase, action=disruptive, logged=bool(acts.log)))
        self._side_effects(acts)
        reason = pattern_reason(last_rule.pattern, last_target.location)
        if disruptive in ("deny", "redirect", "allow"):
            self.reject(disruptive, status, acts.redirect_url, phase, reason,
                        log=bool(acts.log), **meta)
            if disruptive == "allow":
                self.status = None
        else:
            self.phase = phase
            text = message(outcome_text("pass", None, None), reason, **meta)
            self.message_header = text
            if acts.log:
                self.alerts.append(alert_line(text, self.alert_context))
                self.relevant = True
        return acts.skipnext or 0

    def _side_effects(self, acts: ActionSet) -> None:
        self.env.extend(acts.setenv)
        self.notes.extend(acts.setnote)
        if acts.exec_path:
            self.exec_programs.append(acts.exec_path)
        self.pause_ms += acts.pause_ms or 0
        if acts.auditlog is not None:
            self.audit = acts.auditlog
        if acts.logparts:
            self.logparts = acts.logparts


def _chain_meta(lists: Sequence[ActionSet]) -> dict[str, str | None]:
    """id/rev/msg/severity from the first link that has each (decisions L8, G7)."""
    meta: dict[str, str | None] = {"id": None, "rev": None, "msg": None, "severity": None}
    for acts in lists:
        for key in meta:
            value = acts.severity_name if key == "severity" else getattr(acts, key)
            if meta[key] is None and value is not None:
                meta[key] = value
    return meta


def evaluate(rules: Sequence[Rule], view: RequestView, matcher: Matcher, outcome: Outcome,
             phase: str) -> None:
    """Run rules in order until one stops processing (deny, redirect, allow)."""
    skip = 0
    links: list[tuple[Rule, Target]] = []
    chain_failed = False
    trace = outcome.debug is not None
    find = traced_first_hit(outcome) if trace and outcome.debug_level >= 4 else first_hit
    for rule in rules:
        is_link = bool(rule.actions.chain)
        if skip:
            skip -= 1
            if trace:
                outcome.trace(3, f"{_rule_name(rule)}: skipped (skipnext)")
            links, chain_failed = ([], False) if not is_link else (links, chain_failed)
            continue
        if chain_failed:
            if trace:
                outcome.trace(3, f"{_rule_name(rule)}: skipped (earlier chain link failed)")
            if not is_link:
                links, chain_failed = [], False
            continue
        hit = find(rule, view, matcher)
        if trace:
            outcome.trace(3, f"{_rule_name(rule)}: " + (
                "no match" if hit is None else f"match at {hit.location}"))
        if hit is None:
            chain_failed = is_link
            links = []
            continue
        links.append((rule, hit))
        if is_link:
            continue
        skip = outcome.fire(links, phase)
        links = []
        if outcome.stopped:
            return
