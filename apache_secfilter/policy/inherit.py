"""From the compiled contexts a request falls in to one Policy (spec §10).

Settings follow Apache's rule, "the more specific context overrides what it
sets".  Rules follow 1.x inheritance: the parent's rules first, then the
child's; ``SecFilterInheritance Off`` drops the parent's rules except those
re-imported by ``SecFilterImport`` and the mandatory ones; ``SecFilterRemove``
drops rules by id unless mandatory.  A chain is inherited, imported or removed
as one unit (its id is the first id among its links).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..errors import ConfigWarning
from .compile import ContextPolicy
from .model import Policy, Rule, Settings


def chains(rules: Sequence[Rule]) -> list[list[Rule]]:
    """Group rules into units: a chain's links together, others alone."""
    units: list[list[Rule]] = []
    current: list[Rule] = []
    for rule in rules:
        current.append(rule)
        if not rule.actions.chain:
            units.append(current)
            current = []
    if current:
        units.append(current)
    return units


def _unit_id(unit: list[Rule]) -> str | None:
    return next((r.id for r in unit if r.id is not None), None)


def _is_mandatory(unit: list[Rule]) -> bool:
    return any(r.actions.mandatory for r in unit)


def _mark(unit: list[Rule], origin: str, mandatory: bool) -> list[Rule]:
    out = []
    for rule in unit:
        actions = replace(rule.actions, mandatory=True) if mandatory else rule.actions
        out.append(replace(rule, actions=actions, origin=rule.origin or origin))
    return out


def inherit(parent: list[list[Rule]], child: ContextPolicy) -> list[list[Rule]]:
    """The parent's rule units that survive into ``child``, in order."""
    imports, removes = set(child.imports), set(child.removes)
    kept = []
    for unit in parent:
        uid = _unit_id(unit)
        if _is_mandatory(unit):
            kept.append(unit)
        elif child.inheritance is False:
            if uid is not None and uid in imports:
                kept.append(unit)
        elif uid is None or uid not in removes:
            kept.append(unit)
    return kept


def build_policy(contexts: Sequence[ContextPolicy], sources: Sequence[str] = ()) -> Policy:
    """Merge the contexts (outermost first) into the policy for a request."""
    overrides: dict[str, Any] = {}
    units: list[list[Rule]] = []
    warnings: list[ConfigWarning] = []
    for ctx in contexts:
        overrides.update(ctx.overrides)
        warnings.extend(ctx.warnings)
        units = inherit(units, ctx) if units else []
        mandatory = bool(ctx.inheritance_mandatory)
        units += [_mark(u, ctx.name, mandatory) for u in chains(ctx.rules)]
    settings = Settings(**overrides)
    rules = [r for unit in units for r in unit]
    if not settings.default_action_set and rules:
        where = contexts[-1].name if contexts else "server"
        warnings.append(ConfigWarning(
            f"no SecFilterDefaultAction in {where}: rules without their own actions use "
            "deny,log,status:403"))
    return Policy(settings=settings,
                  rules=tuple(r for r in rules if r.phase == "request"),
                  output_rules=tuple(r for r in rules if r.phase == "output"),
                  warnings=tuple(warnings), sources=tuple(sources))
