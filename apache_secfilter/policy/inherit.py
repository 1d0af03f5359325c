"""From the compiled contexts a request falls in to one Policy (spec §10).

Settings follow Apache's rule, "the more specific context overrides what it
sets".  Rules follow 1.x inheritance, one merge per context, outermost first:

* the parent's rules come first, then the child's own;
* ``SecFilterInheritance Off`` drops the parent's rules, except those the
  child re-imports with ``SecFilterImport`` and the mandatory ones;
* ``SecFilterRemove`` drops parent rules by id, except mandatory ones;
* a rule is mandatory when it carries ``mandatory``, or when a context with
  ``SecFilterInheritanceMandatory On`` holds it: that context's rules *in
  force* (its own and those it inherited) survive into every context below
  it.  A child cannot undo that by saying ``Off`` itself: the flag protects
  what its context passes down, not the child's own rules.
* ``SecFilterSignatureAction`` is never inherited (``compile_context`` starts
  each context without one).

A chain is inherited, imported or removed as one unit (its id is the first
id among its links).  ``Trace`` records every decision for
``secfilter check --show``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigWarning
from .compile import ContextPolicy
from .model import Policy, Rule, Settings

Unit = list[Rule]


@dataclass(frozen=True)
class Fate:
    """What one context did with one rule unit.

    ``event`` is one of ``own`` (defined there), ``inherited``, ``imported``
    (SecFilterImport after SecFilterInheritance Off), ``mandatory`` (kept
    although Off or SecFilterRemove would have dropped it), ``removed``
    (SecFilterRemove) or ``not-inherited`` (SecFilterInheritance Off).
    """

    rules: tuple[Rule, ...]
    context: str
    event: str


@dataclass
class Trace:
    """Every decision of one merge, plus ids that Import/Remove did not find."""

    fates: list[Fate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, unit: Unit, context: str, event: str) -> None:
        self.fates.append(Fate(tuple(unit), context, event))


def chains(rules: Sequence[Rule]) -> list[Unit]:
    """Group rules into units: a chain's links together, others alone."""
    units: list[Unit] = []
    current: Unit = []
    for rule in rules:
        current.append(rule)
        if not rule.actions.chain:
            units.append(current)
            current = []
    if current:
        units.append(current)
    return units


def _unit_id(unit: Unit) -> str | None:
    return next((r.id for r in unit if r.id is not None), None)


def _is_mandatory(unit: Unit) -> bool:
    return any(r.actions.mandatory for r in unit)


def _own(unit: Unit, origin: str) -> Unit:
    return [replace(rule, origin=rule.origin or origin) for rule in unit]


def _mandatory(unit: Unit) -> Unit:
    """The unit with every link marked mandatory (SecFilterInheritanceMandatory On)."""
    if all(rule.actions.mandatory for rule in unit):
        return unit
    return [replace(rule, actions=replace(rule.actions, mandatory=True)) for rule in unit]


def _fate(unit: Unit, child: ContextPolicy) -> str:
    """What ``child`` does with one parent unit."""
    uid = _unit_id(unit)
    if child.inheritance is False:
        if uid is not None and uid in child.imports:
            return "imported"
        return "mandatory" if _is_mandatory(unit) else "not-inherited"
    if uid is not None and uid in child.removes:
        return "mandatory" if _is_mandatory(unit) else "removed"
    return "inherited"


def inherit(parent: list[Unit], child: ContextPolicy, trace: Trace | None = None) -> list[Unit]:
    """The parent's rule units that survive into ``child``, in order."""
    kept: list[Unit] = []
    for unit in parent:
        event = _fate(unit, child)
        if event in ("inherited", "imported", "mandatory"):
            kept.append(unit)
        if trace is not None:
            trace.add(unit, child.name, event)
    if trace is not None:
        _note_unmatched(parent, child, trace)
    return kept


def _note_unmatched(parent: list[Unit], child: ContextPolicy, trace: Trace) -> None:
    ids = {_unit_id(unit) for unit in parent}
    for directive, wanted in (("SecFilterImport", child.imports),
                              ("SecFilterRemove", child.removes)):
        if directive == "SecFilterImport" and child.inheritance is not False and wanted:
            trace.notes.append(f"{directive} in {child.name} has no effect: the context "
                               "inherits every rule (SecFilterInheritance is not Off)")
            continue
        for rule_id in wanted:
            if rule_id not in ids:
                trace.notes.append(f"{directive} {rule_id} in {child.name}: no inherited "
                                   f"rule has id {rule_id}")


def build_policy(contexts: Sequence[ContextPolicy], sources: Sequence[str] = (),
                 trace: Trace | None = None) -> Policy:
    """Merge the contexts (outermost first) into the policy for a request."""
    overrides: dict[str, Any] = {}
    units: list[Unit] = []
    warnings: list[ConfigWarning] = []
    for ctx in contexts:
        overrides.update(ctx.overrides)
        warnings.extend(ctx.warnings)
        units = inherit(units, ctx, trace)
        own = [_own(unit, ctx.name) for unit in chains(ctx.rules)]
        if trace is not None:
            for unit in own:
                trace.add(unit, ctx.name, "own")
        units += own
        if ctx.inheritance_mandatory:
            units = [_mandatory(unit) for unit in units]
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
