"""The context model: server, virtual hosts and per-request sections, with their Sec* lines.

What the reader produces and the resolver walks.  A ``Section`` holds the
Sec* directives written directly in it (from every ``<IfModule
secfilter_module>`` block and included file, in file order) and the sections
nested in it.  Only what choosing sections needs is kept of Apache's own
directives: addresses and names of virtual hosts, document roots, aliases.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigWarning, Location
from ..language.ast import Directive

SERVER, VHOST, DIRECTORY, FILES, LOCATION = (
    "server", "virtualhost", "directory", "files", "location")

#: Section tag (lower case) -> (kind, written as regex by the tag itself).
REQUEST_SECTIONS = {
    "virtualhost": (VHOST, False),
    "directory": (DIRECTORY, False), "directorymatch": (DIRECTORY, True),
    "files": (FILES, False), "filesmatch": (FILES, True),
    "location": (LOCATION, False), "locationmatch": (LOCATION, True),
}

#: Which kinds each kind may hold, as Apache allows nesting.
ALLOWED_INSIDE = {
    SERVER: {VHOST, DIRECTORY, FILES, LOCATION},
    VHOST: {DIRECTORY, FILES, LOCATION},
    DIRECTORY: {FILES},
    FILES: set(),
    LOCATION: set(),
}

#: The DIRECTIVES table's context letter for each kind.
CONTEXT_LETTER = {SERVER: "S", VHOST: "V", DIRECTORY: "D", FILES: "D", LOCATION: "D"}


@dataclass(frozen=True)
class Address:
    """One ``<VirtualHost>`` address: ``host`` is an IP, ``*``, ``_default_`` or a name."""

    host: str
    port: int | None  # None = any port

    @property
    def wildcard(self) -> bool:
        return self.host in ("*", "_default_")


@dataclass(eq=False)
class Section:
    """One context: the server, a ``<VirtualHost>``, or a per-request section."""

    kind: str
    tag: str
    args: tuple[str, ...]
    location: Location | None
    index: int
    parent: Section | None = None
    #: Normalised path or shell pattern; for regex sections, the expression.
    pattern: str = ""
    matcher: Any = None  # compiled regex (regex sections and wildcard patterns)
    is_regex: bool = False
    directives: list[Directive] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)
    # Server and virtual host facts.
    addresses: tuple[Address, ...] = ()
    server_name: str | None = None
    server_aliases: list[str] = field(default_factory=list)
    document_root: str | None = None
    aliases: list[tuple[str, str]] = field(default_factory=list)
    access_file_names: tuple[str, ...] | None = None

    @property
    def has_sec(self) -> bool:
        return bool(self.directives)

    @property
    def components(self) -> int:
        """Apache's sort key for ``<Directory>``: slashes in the path, ``/`` counts 0."""
        return 0 if self.pattern == "/" else self.pattern.count("/")

    def walk(self) -> Iterator[Section]:
        """This section and every section inside it, in file order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def label(self, server_root: str = "") -> str:
        """``<Location /admin> sites-enabled/site.conf:12``, or ``server``."""
        if self.kind == SERVER:
            return "server"
        head = f"<{self.tag} {' '.join(self.args)}>" if self.args else f"<{self.tag}>"
        if self.location is None:
            return head
        return f"{head} {short_path(self.location.path, server_root)}:{self.location.line}"


def short_path(path: str, server_root: str) -> str:
    """``path`` relative to ServerRoot when it lies below it, for short messages."""
    if server_root:
        root = server_root.rstrip("/") + "/"
        if path.startswith(root):
            return path[len(root):]
    return path


@dataclass
class ApacheConfig:
    """Everything read from one main configuration file."""

    main_file: str
    server_root: str
    server: Section
    vhosts: list[Section] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)
    defines: dict[str, str] = field(default_factory=dict)
    listen: list[str] = field(default_factory=list)

    def sections(self) -> Iterator[Section]:
        """Every section, server first, in file order."""
        return self.server.walk()

    @property
    def sec_directive_count(self) -> int:
        return sum(len(s.directives) for s in self.sections())

    def document_roots(self) -> list[str]:
        """The server's and every virtual host's DocumentRoot, each once."""
        roots: list[str] = []
        for section in [self.server, *self.vhosts]:
            root = section.document_root
            if root and root not in roots:
                roots.append(os.path.normpath(root))
        return roots
