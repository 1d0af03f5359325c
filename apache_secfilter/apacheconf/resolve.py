"""Which sections apply to a request, in the order Apache merges them.

Apache's "How the sections are merged": the virtual host is chosen by the
connection's address and port, then by ``Host`` against ``ServerName`` and
``ServerAlias`` (the first virtual host of the address is the default).
Then, each group after the one before, and within a group server-level
sections before the virtual host's:

1. ``<Directory>`` sections, shortest path first (file order among equals);
2. ``<DirectoryMatch>`` and ``<Directory ~>``, in file order;
3. ``<Files>``/``<FilesMatch>``: the server's, the virtual host's, then those
   nested in each ``<Directory>`` that applied, in that order;
4. ``<Location>``/``<LocationMatch>``, in file order.

The answer is a tuple of sections; callers key their caches by it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from .match import (
    directory_matches,
    files_matches,
    location_matches,
    map_to_file,
    request_uri_path,
    walked_directories,
)
from .tree import DIRECTORY, FILES, LOCATION, Address, ApacheConfig, Section

RESOLVE_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Target:
    """What resolution looks at: Apache's view of one request."""

    host: str = ""
    port: int = 80
    address: str = "127.0.0.1"
    raw_path: str = "/"
    #: r->filename when the caller knows it (adapters do); "" = map it here.
    filename: str = ""
    #: overrides the virtual host's DocumentRoot for mapping (``--docroot``).
    document_root: str = ""


@dataclass(frozen=True)
class Resolution:
    """The sections that apply to one request, server first, in merge order."""

    vhost: Section | None
    sections: tuple[Section, ...]
    uri_path: str
    filename: str

    @property
    def key(self) -> tuple[int, ...]:
        """The sections that hold Sec* directives (the server always): the cache key."""
        return tuple(s.index for s in self.sections if s.has_sec or s.index == 0)


@dataclass(frozen=True)
class _View:
    """One virtual host's sections, sorted once the way Apache sorts them."""

    vhost: Section | None
    directories: tuple[Section, ...]
    files: tuple[Section, ...]
    locations: tuple[Section, ...]
    document_root: str
    aliases: tuple[tuple[str, str], ...]


def _children(owner: Section | None, kind: str) -> list[Section]:
    return [] if owner is None else [c for c in owner.children if c.kind == kind]


def _view(config: ApacheConfig, vhost: Section | None) -> _View:
    directories = _children(config.server, DIRECTORY) + _children(vhost, DIRECTORY)
    plain = sorted((d for d in directories if not d.is_regex), key=lambda d: d.components)
    regexes = [d for d in directories if d.is_regex]
    root = (vhost.document_root if vhost else None) or config.server.document_root or ""
    aliases = (vhost.aliases if vhost else []) + config.server.aliases
    return _View(vhost, tuple(plain + regexes),
                 tuple(_children(config.server, FILES) + _children(vhost, FILES)),
                 tuple(_children(config.server, LOCATION) + _children(vhost, LOCATION)),
                 root, tuple(aliases))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _port_ok(address: Address, port: int) -> bool:
    return address.port is None or address.port == port


class Resolver:
    """Request facts -> applicable sections, with a bounded cache of answers."""

    def __init__(self, config: ApacheConfig) -> None:
        self.config = config
        self._views = {id(v): _view(config, v) for v in config.vhosts}
        self._main_view = _view(config, None)
        self.resolve = lru_cache(maxsize=RESOLVE_CACHE_SIZE)(self._resolve)

    def choose_vhost(self, host: str, port: int, address: str) -> Section | None:
        """Apache's choice: exact address first, then ``*``, then ``_default_``; by name."""
        groups: list[list[Section]] = [[], [], []]
        local = address.lower().strip("[]")
        for vhost in self.config.vhosts:
            for addr in vhost.addresses:
                if not _port_ok(addr, port):
                    continue
                rank = (0 if addr.host.strip("[]") == local else
                        2 if addr.host == "_default_" else
                        1 if addr.wildcard or not _is_ip(addr.host) else None)
                if rank is not None and vhost not in groups[rank]:
                    groups[rank].append(vhost)
        candidates = next((group for group in groups if group), [])
        if not candidates:
            return None
        wanted = host.lower().rstrip(".")
        for vhost in candidates:
            if wanted and self._name_matches(vhost, wanted):
                return vhost
        return candidates[0]

    def _name_matches(self, vhost: Section, host: str) -> bool:
        name = vhost.server_name or self.config.server.server_name
        if name == host:
            return True
        return any(fnmatchcase(host, alias) for alias in vhost.server_aliases)

    def _resolve(self, target: Target) -> Resolution:
        vhost = self.choose_vhost(target.host, target.port, target.address)
        view = self._views[id(vhost)] if vhost is not None else self._main_view
        uri_path = request_uri_path(target.raw_path)
        filename = target.filename or self._map(view, uri_path, target.document_root)
        sections = [self.config.server] + ([vhost] if vhost is not None else [])
        sections += self._file_sections(view, filename)
        sections += [s for s in view.locations if location_matches(s, uri_path)]
        return Resolution(vhost, tuple(sections), uri_path, filename)

    @staticmethod
    def _map(view: _View, uri_path: str, document_root: str) -> str:
        root = document_root or view.document_root
        if not root:
            return ""
        return map_to_file(uri_path, root, list(view.aliases))

    @staticmethod
    def _file_sections(view: _View, filename: str) -> list[Section]:
        directories = walked_directories(filename)
        applied = [d for d in view.directories if directory_matches(d, directories, filename)]
        files = list(view.files) + [f for d in applied for f in d.children if f.kind == FILES]
        return applied + [f for f in files if files_matches(f, filename)]
