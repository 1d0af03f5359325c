"""The variable registry: every 1.x variable name resolved to a family object.

``resolve("HTTP_USER_AGENT")`` gives a ``VariableRef`` once, when a policy is
compiled; at request time the engine only calls ``ref.collect(view, excl)``.
Families are small objects registered in ``FAMILIES`` (exact names) and
``PREFIXES`` (``ARG_x``, ``HTTP_x`` …); the modules beside this one define
them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, Protocol

from ..view import RequestView


class Target(NamedTuple):
    """One value a rule tests, and the location printed when it matches.

    A named tuple: a request makes dozens, and building one is a single C call.
    """

    location: str
    value: str


@dataclass(frozen=True)
class Exclusions:
    """What ``!VAR`` items removed from a variable list (decisions L4)."""

    args: frozenset[str] = frozenset()
    cookies: frozenset[str] = frozenset()
    headers: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()  # whole variables, e.g. !REMOTE_ADDR

    def __bool__(self) -> bool:
        return bool(self.args or self.cookies or self.headers or self.names)


NO_EXCLUSIONS = Exclusions()


class Family(Protocol):
    """A variable family: how to collect its targets from a view."""

    phase: str  # "request" or "output"
    #: exclusion domain a ``!NAME_key`` of this family removes from ("args" …)
    domain: str | None

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]: ...


@dataclass(frozen=True)
class Scalar:
    """A variable with one value computed from the view (REMOTE_ADDR …)."""

    getter: Callable[[RequestView], str | None]
    phase: str = "request"
    domain: str | None = None

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        value = self.getter(view)
        return [] if value is None else [Target(written, value)]


@dataclass(frozen=True)
class VariableRef:
    """One item of a rule's variable list, resolved at compile time."""

    written: str  # as printed in alerts: "ARG_highlight", "REMOTE_ADDR"
    family: Family
    key: str | None = None
    negated: bool = False

    @property
    def phase(self) -> str:
        return self.family.phase

    def __reduce__(self) -> tuple[object, tuple[str]]:
        """Pickled by name (the compiled-policy cache): families hold functions,
        and resolving the name again gives this very reference."""
        return resolve, (("!" if self.negated else "") + self.written,)

    def collect(self, view: RequestView, excl: Exclusions = NO_EXCLUSIONS) -> list[Target]:
        return self.family.collect(view, self.key, self.written, excl)


FAMILIES: dict[str, Family] = {}
PREFIXES: dict[str, Family] = {}

#: ModSecurity 2.x variable names that 1.x never had (decisions L14).
TWO_X_NAMES = frozenset({
    "ARGS_GET", "ARGS_POST", "ARGS_GET_NAMES", "ARGS_POST_NAMES", "ARGS_COMBINED_SIZE",
    "REQUEST_HEADERS", "REQUEST_HEADERS_NAMES", "REQUEST_BODY", "REQUEST_LINE",
    "REQUEST_BASENAME", "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES", "REQUEST_PROTOCOL",
    "SCRIPT_BASENAME", "FILES_TMPNAMES", "FILES", "RESPONSE_BODY", "RESPONSE_STATUS",
    "RESPONSE_HEADERS", "TX", "IP", "SESSION", "USER", "GLOBAL", "RESOURCE", "MATCHED_VAR",
    "MATCHED_VARS", "XML", "REQBODY_PROCESSOR", "MULTIPART_STRICT_ERROR", "UNIQUE_ID",
    "DURATION", "FULL_REQUEST", "REQUEST_FILENAME_BASENAME", "RULE", "WEBSERVER_ERROR_LOG",
})


class UnknownVariable(ValueError):
    """A name that is no 1.x variable; ``two_x`` tells it is a 2.x name."""

    def __init__(self, name: str, two_x: bool = False) -> None:
        super().__init__(name)
        self.name = name
        self.two_x = two_x


@lru_cache(maxsize=4096)
def resolve(item: str) -> VariableRef:
    """Resolve one list item (``ARG_x``, ``!HTTP_Referer``) or raise UnknownVariable."""
    negated = item.startswith("!")
    name = item[1:] if negated else item
    if not name:
        raise UnknownVariable(item)
    upper = name.upper()
    if ":" in name or upper in TWO_X_NAMES:
        raise UnknownVariable(name, two_x=True)
    if upper in FAMILIES:
        return VariableRef(upper, FAMILIES[upper], None, negated)
    for prefix in sorted(PREFIXES, key=len, reverse=True):
        if upper.startswith(prefix) and len(name) > len(prefix):
            key = name[len(prefix):]
            return VariableRef(prefix + key, PREFIXES[prefix], key, negated)
    raise UnknownVariable(name)


def register(name: str, family: Family) -> None:
    FAMILIES[name] = family


def register_prefix(prefix: str, family: Family) -> None:
    PREFIXES[prefix] = family


def known_names() -> list[str]:
    """Every registered name (prefixes end with ``x``), for error messages and docs."""
    return sorted(FAMILIES) + sorted(p + "x" for p in PREFIXES)
