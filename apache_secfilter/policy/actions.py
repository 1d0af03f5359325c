"""The 1.x actions: one row per action in a table, slots, and list merging.

An action list (``deny,log,status:500``) becomes an ``ActionSet``: one field
per *slot* of decisions L7.  Merging a rule's own list into the template in
force (1.9) is then a field-by-field override; 1.8 replaces the whole set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..errors import ConfigError
from ..language.ast import ActionItem

SEVERITY_NAMES = ("EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")
DISRUPTIVE = ("deny", "allow", "pass", "redirect")
META = ("id", "rev", "msg", "severity")


@dataclass(frozen=True)
class ActionSet:
    """The actions of one list, one field per slot; ``None`` = not said.

    Fields left ``None`` take the template's value when merging (1.9) and a
    documented default when the rule runs (``effective``).
    """

    disruptive: str | None = None
    redirect_url: str | None = None
    status: int | None = None
    chain: bool | None = None
    skipnext: int | None = None
    log: bool | None = None
    auditlog: bool | None = None
    id: str | None = None
    rev: str | None = None
    msg: str | None = None
    severity: int | None = None
    mandatory: bool | None = None
    exec_path: str | None = None
    pause_ms: int | None = None
    logparts: str | None = None
    setenv: tuple[tuple[str, str], ...] = field(default=())
    setnote: tuple[tuple[str, str], ...] = field(default=())

    def merged_into(self, template: ActionSet) -> ActionSet:
        """1.9 semantics: every slot this list says replaces the template's.

        ``setenv``/``setnote`` accumulate (template first), as decisions L7 says.
        """
        changes: dict[str, Any] = {}
        for f in fields(self):
            mine = getattr(self, f.name)
            if f.name in ("setenv", "setnote"):
                changes[f.name] = getattr(template, f.name) + mine
            elif mine is not None:
                changes[f.name] = mine
            if f.name == "disruptive" and mine is not None and mine != "redirect":
                changes["redirect_url"] = None
        return replace(template, **changes)

    def restricted(self) -> ActionSet:
        """Only the meta-data slots (SecFilterActionsRestricted On)."""
        return ActionSet(id=self.id, rev=self.rev, msg=self.msg, severity=self.severity)

    @property
    def flow_items(self) -> bool:
        return bool(self.chain) or bool(self.skipnext)

    @property
    def severity_name(self) -> str | None:
        return None if self.severity is None else SEVERITY_NAMES[self.severity]

    def describe(self) -> str:
        """Print the set back as an action list (for ``secfilter check --show``)."""
        items: list[str] = []
        if self.disruptive == "redirect":
            items.append(f"redirect:{self.redirect_url}")
        elif self.disruptive:
            items.append(self.disruptive)
        for name, value in (("status", self.status), ("skipnext", self.skipnext),
                            ("exec", self.exec_path), ("pause", self.pause_ms),
                            ("id", self.id), ("rev", self.rev), ("severity", self.severity),
                            ("logparts", self.logparts)):
            if value is not None:
                items.append(f"{name}:{value}")
        if self.msg is not None:
            items.append(f"msg:'{self.msg}'")
        for flag, yes, no in ((self.chain, "chain", None), (self.log, "log", "nolog"),
                              (self.auditlog, "auditlog", "noauditlog"),
                              (self.mandatory, "mandatory", None)):
            if flag is not None and (yes if flag else no):
                items.append(yes if flag else no)  # type: ignore[arg-type]
        items += [f"setenv:{k}={v}" for k, v in self.setenv]
        items += [f"setnote:{k}={v}" for k, v in self.setnote]
        return ",".join(items)


def _name_value(value: str) -> tuple[str, str]:
    name, _, val = value.partition("=")
    return name.strip(), (val if "=" in value else "1")


def _severity(value: str) -> int:
    if value.isdigit():
        return int(value)
    return SEVERITY_NAMES.index(value.upper())


Setter = Callable[[ActionItem], dict[str, Any]]

#: One row per 1.x action: what it sets in an ActionSet.  The grammar
#: (language/actionlist.py) already checked the syntax of every value.
ACTIONS: dict[str, Setter] = {
    "deny": lambda item: {"disruptive": "deny"},
    "allow": lambda item: {"disruptive": "allow"},
    "pass": lambda item: {"disruptive": "pass"},
    "redirect": lambda item: {"disruptive": "redirect", "redirect_url": item.value},
    "status": lambda item: {"status": int(item.value or 0)},
    "chain": lambda item: {"chain": True},
    "skipnext": lambda item: {"skipnext": int(item.value or 1)},
    "log": lambda item: {"log": True},
    "nolog": lambda item: {"log": False},
    "auditlog": lambda item: {"auditlog": True},
    "noauditlog": lambda item: {"auditlog": False},
    "id": lambda item: {"id": item.value},
    "rev": lambda item: {"rev": item.value},
    "msg": lambda item: {"msg": item.value},
    "severity": lambda item: {"severity": _severity(item.value or "0")},
    "mandatory": lambda item: {"mandatory": True},
    "exec": lambda item: {"exec_path": item.value},
    "pause": lambda item: {"pause_ms": int(item.value or 0)},
    "logparts": lambda item: {"logparts": item.value},
    "setenv": lambda item: {"setenv": (_name_value(item.value or ""),)},
    "setnote": lambda item: {"setnote": (_name_value(item.value or ""),)},
}

#: Actions 1.x had that cannot be honoured from inside Apache 2.4 by Python,
#: with what to use instead (decisions L13).
UNSUPPORTED = {
    "proxy": "proxying from the firewall is not supported; use mod_rewrite's [P] flag "
             "or ProxyPass for the backend, and deny or allow here",
}


def build_action_set(items: tuple[ActionItem, ...]) -> ActionSet:
    """Turn parsed items into one ActionSet; within a list the last item of a slot wins."""
    values: dict[str, Any] = {}
    for item in items:
        if item.name in UNSUPPORTED:
            raise ConfigError(f"action '{item.name}' is not supported: {UNSUPPORTED[item.name]}",
                              item.location)
        setter = ACTIONS.get(item.name)
        if setter is None:
            raise ConfigError(f"unknown action '{item.name}'", item.location)
        for key, value in setter(item).items():
            if key in ("setenv", "setnote"):
                values[key] = values.get(key, ()) + value
            else:
                values[key] = value
        if item.name in ("chain", "skipnext"):
            values.pop("skipnext" if item.name == "chain" else "chain", None)
    if values.get("disruptive") not in (None, "redirect"):
        values["redirect_url"] = None
    return ActionSet(**values)


#: decisions L1: the list used where no SecFilterDefaultAction was given.
BUILTIN_DEFAULT = ActionSet(disruptive="deny", log=True, status=403)
