"""The compiled, immutable policy: settings and rules, ready to evaluate.

Built once per configuration (and, with Apache sections, once per distinct
combination of sections); shared by every request and thread, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import regex

from ..errors import ConfigWarning, Location
from ..request.variables import Exclusions, VariableRef
from .actions import BUILTIN_DEFAULT, ActionSet


@dataclass(frozen=True)
class Settings:
    """Every per-context setting with its 1.x default (spec §3.2, decisions)."""

    engine: str = "Off"  # On | Off | DynamicOnly
    scan_post: bool = False
    check_url_encoding: bool = False
    check_unicode_encoding: bool = False
    byte_range: tuple[int, int] = (0, 255)
    check_cookie_format: bool = False
    cookie_format: int = 0
    normalize_cookies: bool = False
    scan_output: bool = False
    output_mime_types: tuple[str, ...] = ("(null)", "text/html", "text/plain")
    audit_engine: str = "Off"  # On | Off | RelevantOnly | DynamicOrRelevant
    audit_log: str | None = None
    audit_log_type: str = "Serial"
    audit_storage_dir: str | None = None
    audit_relevant_status: str | None = None
    audit_parts: str = "ABCEFHZ"
    audit_format: str = "Native"
    debug_log: str | None = None
    debug_level: int = 0
    guardian_log: str | None = None
    upload_dir: str | None = None
    upload_keep_files: str = "Off"
    upload_approve_script: str | None = None
    upload_in_memory_limit: int = 65536
    server_response_token: bool = False
    compatibility: str = "1.9"
    chunked_body: str = "Reject"
    on_error: str = "Deny"
    time_limit_ms: int = 100
    #: The default action list in force at the end of the context; used for
    #: built-in check failures, whose status is the default action's.
    default_action: ActionSet = BUILTIN_DEFAULT
    #: False when no SecFilterDefaultAction was seen (decisions L1 warning).
    default_action_set: bool = False


@dataclass(frozen=True)
class Rule:
    """One SecFilter / SecFilterSelective directive, compiled.

    ``variables`` is empty for SecFilter (which tests the request line, each
    header and the body).  ``regex`` is a compiled ``regex`` pattern;
    ``negated`` is True for a pattern written with a leading ``!``.
    """

    directive: str
    pattern: str
    regex: Any
    negated: bool
    variables: tuple[VariableRef, ...]
    exclusions: Exclusions
    actions: ActionSet
    location: Location
    phase: str = "request"  # "request" or "output"
    #: where the rule was inherited from / imported (filled by inheritance)
    origin: str = ""

    @property
    def id(self) -> str | None:
        return self.actions.id

    @property
    def is_simple(self) -> bool:
        return self.directive == "SecFilter"

    def describe(self) -> str:
        """The rule as one line, for ``secfilter check --show``."""
        targets = "|".join(("!" if v.negated else "") + v.written for v in self.variables)
        head = f"{self.directive} {targets} " if targets else f"{self.directive} "
        return f'{head}"{self.pattern}" "{self.actions.describe()}"'


@dataclass(frozen=True)
class Policy:
    """Settings and ordered rules for one context, plus what loading noticed."""

    settings: Settings
    rules: tuple[Rule, ...]
    output_rules: tuple[Rule, ...] = ()
    warnings: tuple[ConfigWarning, ...] = ()
    sources: tuple[str, ...] = field(default=())
    #: What the engine derives from these rules once and keeps with them (the
    #: prefilter, engine.prefilter); not a setting, never compared, and not
    #: carried over by dataclasses.replace(), so a changed policy starts empty.
    derived: dict[str, Any] = field(default_factory=dict, init=False, compare=False,
                                    repr=False)

    @property
    def rule_count(self) -> int:
        return len(self.rules) + len(self.output_rules)


@lru_cache(maxsize=64)
def _status_pattern(pattern: str) -> Any:
    return regex.compile(pattern, regex.V0)


def status_relevant(pattern: str | None, status: int | None) -> bool:
    """True when a status matches SecAuditLogRelevantStatus (decisions G6)."""
    return bool(pattern and status and _status_pattern(pattern).search(str(status)))
