"""Compile the Sec* directives of one context into settings and rules.

Parse once, compile once: every regex is compiled here, every variable name
resolved to its registered family, every action list merged with the template
in force (1.9) or used as written (1.8).  Anything that cannot work is a
ConfigError at its file:line; oddities that load are ConfigWarnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import regex

from ..errors import ConfigError, ConfigWarning, Location
from ..language.actionlist import parse_action_list
from ..language.ast import Directive
from ..language.directives import validate
from ..request.variables import (
    NO_EXCLUSIONS,
    Exclusions,
    UnknownVariable,
    VariableRef,
    resolve,
)
from ..request.variables.collections import header_key
from .actions import BUILTIN_DEFAULT, ActionSet, build_action_set
from .files import FileChecks
from .model import Rule
from .pattern import check_pattern

TWO_X_HINT = "ModSecurity 2.x syntax is not 1.x"


@dataclass(frozen=True)
class ContextPolicy:
    """What one context (server, vhost, directory …) says, compiled."""

    name: str
    overrides: Mapping[str, Any]
    rules: tuple[Rule, ...]
    inheritance: bool | None = None
    inheritance_mandatory: bool | None = None
    imports: tuple[str, ...] = ()
    removes: tuple[str, ...] = ()
    warnings: tuple[ConfigWarning, ...] = field(default=())


def compile_pattern(text: str, location: Location) -> tuple[Any, bool, str]:
    """Compile a 1.x pattern: a leading ``!`` inverts it (spec §4.3)."""
    negated = text.startswith("!")
    source = text[1:] if negated else text
    try:
        return check_pattern(source), negated, source
    except (regex.error, OverflowError, RecursionError) as exc:
        raise ConfigError(f"invalid regular expression '{source}': {exc}", location) from exc


def compile_variables(text: str, location: Location) -> tuple[tuple[VariableRef, ...],
                                                               Exclusions]:
    """Resolve ``VAR1|VAR2|!VAR3`` into the positive refs and the exclusions."""
    positive: list[VariableRef] = []
    excluded: dict[str, set[str]] = {"args": set(), "cookies": set(), "headers": set(),
                                     "names": set()}
    for item in text.split("|"):
        item = item.strip()
        if not item or item == "!":
            raise ConfigError(f"empty variable name in '{text}'", location)
        try:
            ref = resolve(item)
        except UnknownVariable as exc:
            if exc.two_x:
                raise ConfigError(f"{TWO_X_HINT}: '{exc.name}' is a ModSecurity 2.x variable",
                                  location) from None
            raise ConfigError(f"unknown variable '{exc.name}' (see docs/variables.md for the "
                              "1.x variables)", location) from None
        if not ref.negated:
            positive.append(ref)
        elif ref.key is not None and ref.family.domain in ("args", "cookies"):
            excluded[ref.family.domain].add(ref.key.lower())
        elif ref.key is not None and ref.family.domain == "headers":
            excluded["headers"].add(header_key(ref.key))
        else:
            excluded["names"].add(ref.written)
    kept = tuple(r for r in positive if r.written not in excluded["names"]
                 and not _excluded_by_key(r, excluded))
    if not kept:
        raise ConfigError(f"variable list '{text}' excludes everything: name at least one "
                          "variable to test", location)
    if not any(excluded.values()):
        return kept, NO_EXCLUSIONS  # one shared object: most rules exclude nothing
    return kept, Exclusions(**{k: frozenset(v) for k, v in excluded.items()})


def _excluded_by_key(ref: VariableRef, excluded: dict[str, set[str]]) -> bool:
    """``ARG_a|!ARG_a``: a named variable whose own key is excluded tests nothing."""
    domain = ref.family.domain
    if ref.key is None or domain not in ("args", "cookies", "headers"):
        return False
    key = header_key(ref.key) if domain == "headers" else ref.key.lower()
    return key in excluded[domain]


@dataclass
class _Templates:
    """The positional state while reading one context (spec §3.2)."""

    default: ActionSet = BUILTIN_DEFAULT
    default_seen: bool = False
    signature: ActionSet | None = None
    restricted: bool = False
    compatibility: str = "1.9"

    def effective(self, own: ActionSet | None) -> ActionSet:
        template = self.signature or self.default
        if own is None:
            return template
        if self.restricted:
            return own.restricted().merged_into(template)
        if self.compatibility == "1.8":
            return own
        return own.merged_into(template)


class _ContextCompiler:
    """Reads one context's directives in order; see compile_context."""

    def __init__(self, name: str, files: FileChecks, inherited: Mapping[str, Any]) -> None:
        self.name = name
        self.files = files
        self._action_sets: dict[ActionSet, ActionSet] = {}
        self.overrides: dict[str, Any] = {}
        self.rules: list[Rule] = []
        self.warnings: list[ConfigWarning] = []
        self.inheritance: dict[str, Any] = {}
        self.templates = _Templates(
            default=inherited.get("default_action", BUILTIN_DEFAULT),
            default_seen=bool(inherited.get("default_action_set", False)),
            compatibility=inherited.get("compatibility", "1.9"))

    def prepare(self, directives: list[Directive]) -> None:
        """1.8 semantics need the context's last default list before any rule."""
        for d in directives:
            if d.key == "secfiltercompatibility":
                self.templates.compatibility = validate(d)[1]
        if self.templates.compatibility == "1.8":
            for d in directives:
                if d.key == "secfilterdefaultaction":
                    self.templates.default = self._template_list(d)
                    self.templates.default_seen = True

    def add(self, d: Directive) -> None:
        spec, value = validate(d)
        if spec.kind == "setting":
            self.overrides[spec.setting or ""] = value
            self._check_setting_files(spec.setting or "", value, d.location)
        elif spec.kind == "rule":
            rule = self._rule(d)
            if self.rules and self.rules[-1].actions.chain and self.rules[-1].phase != rule.phase:
                raise ConfigError("a rule carrying 'chain' is followed by a rule of the other "
                                  "phase (OUTPUT rules cannot be chained)", self.rules[-1].location)
            self.rules.append(rule)
        elif spec.kind == "template":
            self._template(d)
        elif spec.kind == "restrict":
            self.templates.restricted = bool(value)
        elif spec.kind == "inheritance":
            self._inheritance(d, value)
        elif spec.kind == "include":
            raise ConfigError(f"{d.name} must be resolved before compiling", d.location)

    def _template(self, d: Directive) -> None:
        actions = self._template_list(d)
        if d.key == "secfiltersignatureaction":
            self.templates.signature = actions
        elif self.templates.compatibility != "1.8":
            self.templates.default = actions
            self.templates.default_seen = True
            self.templates.signature = None

    def _template_list(self, d: Directive) -> ActionSet:
        actions = build_action_set(parse_action_list(d.args[0], d.location))
        if actions.chain or actions.skipnext:
            raise ConfigError(f"{d.name} cannot contain 'chain' or 'skipnext': every rule "
                              "would carry it", d.location)
        self._check_action_files(actions, d.location)
        return actions

    def _inheritance(self, d: Directive, value: Any) -> None:
        if d.key in ("secfilterimport", "secfilterremove"):
            key = "imports" if d.key == "secfilterimport" else "removes"
            self.inheritance[key] = self.inheritance.get(key, ()) + tuple(value)
        else:
            key = "inheritance" if d.key == "secfilterinheritance" else "inheritance_mandatory"
            self.inheritance[key] = value

    def _rule(self, d: Directive) -> Rule:
        if d.key == "secfilter":
            if len(d.args) > 2:
                raise ConfigError("SecFilter takes a pattern and an optional action list; "
                                  "to test one variable use SecFilterSelective", d.location)
            variables, exclusions = (), NO_EXCLUSIONS
            pattern_text, action_text = d.args[0], (d.args[1] if len(d.args) > 1 else None)
        else:
            variables, exclusions = compile_variables(d.args[0], d.location)
            pattern_text, action_text = d.args[1], (d.args[2] if len(d.args) > 2 else None)
        compiled, negated, source = compile_pattern(pattern_text, d.location)
        own = None
        if action_text is not None:
            own = build_action_set(parse_action_list(action_text, d.location))
            self._check_action_files(own, d.location)
        actions = self._finish(self.templates.effective(own))
        # one object per distinct action set: thousands of rules share a few (memory)
        actions = self._action_sets.setdefault(actions, actions)
        phase = _phase(variables, d.location)
        if phase == "output" and (actions.chain or actions.skipnext):
            raise ConfigError("'chain' and 'skipnext' cannot be used on OUTPUT rules", d.location)
        return Rule(d.name if d.key != "secfilter" else "SecFilter", pattern_text, compiled,
                    negated, variables, exclusions, actions, d.location, phase)

    @staticmethod
    def _finish(actions: ActionSet) -> ActionSet:
        """Fill what no list said: deny (decisions L2: status 403), log on."""
        changes: dict[str, Any] = {}
        if actions.disruptive is None:
            changes["disruptive"] = "deny"
        if actions.log is None:
            changes["log"] = True
        return replace(actions, **changes) if changes else actions

    def _check_action_files(self, actions: ActionSet, location: Location) -> None:
        if actions.exec_path is not None:
            problem = self.files.executable_problem(actions.exec_path)
            if problem:
                raise ConfigError(f"exec: {problem}", location)

    def _check_setting_files(self, setting: str, value: Any, location: Location) -> None:
        if setting == "upload_approve_script":
            problem = self.files.executable_problem(value)
            if problem:
                raise ConfigError(f"SecUploadApproveScript: {problem}", location)
        elif setting in ("audit_log", "debug_log", "guardian_log") and not value.startswith("|"):
            problem = self.files.writable_file_problem(value)
            if problem:
                self.warnings.append(ConfigWarning(problem, location))
        elif setting in ("upload_dir", "audit_storage_dir"):
            problem = self.files.directory_problem(value)
            if problem:
                self.warnings.append(ConfigWarning(problem, location))

    def finish(self) -> ContextPolicy:
        if self.rules and self.rules[-1].actions.chain:
            raise ConfigError("the last rule carries 'chain' but no rule follows it: "
                              "the chain never ends", self.rules[-1].location)
        if self.templates.default_seen:
            self.overrides["default_action"] = self.templates.default
            self.overrides["default_action_set"] = True
        return ContextPolicy(self.name, MappingProxyType(dict(self.overrides)),
                             tuple(self.rules), warnings=tuple(self.warnings),
                             **self.inheritance)


def _phase(variables: tuple[VariableRef, ...], location: Location) -> str:
    phases = {v.phase for v in variables}
    if len(phases) > 1:
        raise ConfigError("OUTPUT and OUTPUT_STATUS cannot be mixed with request variables "
                          "in one rule", location)
    return phases.pop() if phases else "request"


def compile_context(directives: Iterable[Directive], name: str = "server",
                    files: FileChecks | None = None,
                    inherited: Mapping[str, Any] | None = None) -> ContextPolicy:
    """Compile one context's Sec* directives, in order.

    ``inherited`` holds the settings the enclosing contexts set (their merged
    ``overrides``): a child's rules start from the parent's default action list
    and compatibility, as Apache's per-directory merging gives them; the
    parent's SecFilterSignatureAction is not inherited (spec §3.2).
    """
    items = list(directives)
    compiler = _ContextCompiler(name, files or FileChecks(), inherited or {})
    compiler.prepare(items)
    for d in items:
        compiler.add(d)
    return compiler.finish()
