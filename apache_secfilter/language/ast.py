"""Located syntax: what the grammar produces, before any meaning is given.

Layer 1.  Nothing here knows about requests or about what a directive does;
``policy`` gives meaning to these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigWarning, Location


@dataclass(frozen=True)
class Directive:
    """One logical configuration line: ``Name arg1 arg2 …``.

    ``args`` are the arguments after Apache's quoting rules were applied
    (decisions L16): quotes removed, ``\\\\`` made ``\\``, every other
    backslash kept.  ``name`` keeps the spelling of the file; compare with
    ``key`` (lower case).
    """

    name: str
    args: tuple[str, ...]
    location: Location
    raw: str = ""

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class SectionOpen:
    """An opening section tag such as ``<IfModule mod_security.c>``."""

    name: str
    args: tuple[str, ...]
    location: Location

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class SectionClose:
    """A closing section tag such as ``</IfModule>``."""

    name: str
    location: Location

    @property
    def key(self) -> str:
        return self.name.lower()


Node = Directive | SectionOpen | SectionClose


@dataclass(frozen=True)
class ParsedFile:
    """A file's nodes in order, with the warnings the grammar raised."""

    path: str
    nodes: tuple[Node, ...]
    warnings: tuple[ConfigWarning, ...] = field(default=())


@dataclass(frozen=True)
class ActionItem:
    """One item of an action list: ``deny``, ``status:500``, ``msg:'x, y'``.

    ``name`` is lower case; ``value`` is ``None`` for bare items and has its
    single quotes removed otherwise.
    """

    name: str
    value: str | None
    location: Location | None = None

    def __str__(self) -> str:
        if self.value is None:
            return self.name
        return f"{self.name}:{self.value}"
