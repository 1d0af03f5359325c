"""Why a request gets the rules it gets: the data behind ``secfilter check --show``.

For one request: the sections that applied, each effective setting with the
context that set it, the rules in evaluation order with where each came from
(and whether it was imported, or kept because it is mandatory), and the rules
an enclosing context had that do not apply here, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..errors import ConfigWarning
from ..language.directives import DIRECTIVES
from ..policy.actions import ActionSet
from ..policy.compile import ContextPolicy
from ..policy.inherit import Fate, Trace
from ..policy.model import Policy, Rule, Settings
from ..request.model import Request
from .resolve import Resolution
from .source import PolicySource

#: Settings field -> directive name, from the DIRECTIVES table.
SETTING_DIRECTIVES = {spec.setting: spec.name for spec in DIRECTIVES.values() if spec.setting}
SETTING_DIRECTIVES["default_action"] = "SecFilterDefaultAction"
FLAT_CONTEXT = "rules file"


@dataclass(frozen=True)
class SettingLine:
    directive: str
    value: str
    context: str  # where it was set last, or "default"


@dataclass(frozen=True)
class RuleLine:
    rule: Rule
    origin: str  # the context that wrote it
    how: str  # "" (written here or plainly inherited), or what kept it
    own: bool = False  # written in the innermost context that applied


@dataclass(frozen=True)
class DroppedUnit:
    rules: tuple[Rule, ...]
    origin: str
    context: str
    event: str  # removed | not-inherited


@dataclass(frozen=True)
class Explanation:
    """Everything ``check --show`` prints for one request."""

    request: Request
    resolution: Resolution | None
    applied: tuple[tuple[str, bool], ...]  # (section label, holds Sec* lines)
    vhost: str | None
    settings: tuple[SettingLine, ...]
    rules: tuple[RuleLine, ...]
    output_rules: tuple[RuleLine, ...]
    dropped: tuple[DroppedUnit, ...]
    notes: tuple[str, ...]
    htaccess: tuple[ConfigWarning, ...]


def format_value(field_name: str, value: Any) -> str:
    """A setting's value written back as its directive's arguments."""
    if isinstance(value, ActionSet):
        return f'"{value.describe()}"'
    if isinstance(value, bool):
        return "On" if value else "Off"
    if field_name == "byte_range":
        return f"{value[0]} {value[1]}"
    if field_name == "output_mime_types":
        return '"' + " ".join(value) + '"'
    return str(value)


def _settings(policy: Policy, sources: dict[str, str]) -> tuple[SettingLine, ...]:
    lines = []
    for f in fields(Settings):
        name = f.name
        if name not in SETTING_DIRECTIVES or (name not in sources and name != "engine"):
            continue
        value = getattr(policy.settings, name)
        lines.append(SettingLine(SETTING_DIRECTIVES[name], format_value(name, value),
                                 sources.get(name, "default")))
    return tuple(lines)


def _unit_key(rules: tuple[Rule, ...] | list[Rule]) -> tuple[str, int]:
    return rules[0].location.path, rules[0].location.line


def _history(trace: Trace) -> dict[tuple[str, int], list[Fate]]:
    history: dict[tuple[str, int], list[Fate]] = {}
    for fate in trace.fates:
        history.setdefault(_unit_key(fate.rules), []).append(fate)
    return history


def _how(fates: list[Fate]) -> str:
    notes = []
    for fate in fates:
        if fate.event == "imported":
            notes.append(f"imported by SecFilterImport in {fate.context}")
        elif fate.event == "mandatory":
            notes.append(f"kept in {fate.context} because it is mandatory")
    return "; ".join(notes)


def _rule_lines(rules: tuple[Rule, ...], history: dict[tuple[str, int], list[Fate]],
                innermost: str) -> tuple[RuleLine, ...]:
    return tuple(RuleLine(rule, rule.origin, _how(history.get(_unit_key([rule]), [])),
                          rule.origin == innermost) for rule in rules)


def _set_by(contexts: list[ContextPolicy]) -> dict[str, str]:
    """Which context set each setting last.

    Every context after the first that has a default action carries it in
    its overrides (a child's rules start from it); only a new list counts.
    """
    set_by: dict[str, str] = {}
    previous: dict[str, Any] = {}
    for context in contexts:
        for name, value in context.overrides.items():
            inherited = name in ("default_action", "default_action_set") and (
                previous.get(name) is value)
            if not inherited:
                set_by[name] = context.name
            previous[name] = value
    return set_by


def _dropped(history: dict[tuple[str, int], list[Fate]]) -> tuple[DroppedUnit, ...]:
    out = []
    for fates in history.values():
        last = fates[-1]
        if last.event in ("removed", "not-inherited"):
            out.append(DroppedUnit(last.rules, last.rules[0].origin or fates[0].context,
                                   last.context, last.event))
    return tuple(out)


def explain(source: PolicySource, request: Request) -> Explanation:
    """Resolve ``request`` against ``source`` and say why each rule applies or not."""
    resolution = source.resolve(request)
    if resolution is None:
        return _explain_flat(source, request)
    policy, trace, contexts = source.trace(resolution.key)
    set_by = _set_by(contexts)
    history = _history(trace)
    innermost = contexts[-1].name
    applied = tuple((source.label(s), s.has_sec) for s in resolution.sections)
    vhost = source.label(resolution.vhost) if resolution.vhost else None
    return Explanation(request, resolution, applied, vhost, _settings(policy, set_by),
                       _rule_lines(policy.rules, history, innermost),
                       _rule_lines(policy.output_rules, history, innermost), _dropped(history),
                       tuple(trace.notes), source.htaccess)


def _explain_flat(source: PolicySource, request: Request) -> Explanation:
    policy = source.policy_for(request)
    defaults = Settings()
    set_by = {f.name: FLAT_CONTEXT for f in fields(Settings)
              if getattr(policy.settings, f.name) != getattr(defaults, f.name)}
    plain: dict[tuple[str, int], list[Fate]] = {}
    innermost = policy.rules[0].origin if policy.rules else ""
    return Explanation(request, None, ((FLAT_CONTEXT, True),), None,
                       _settings(policy, set_by), _rule_lines(policy.rules, plain, innermost),
                       _rule_lines(policy.output_rules, plain, innermost), (), (),
                       source.htaccess)
