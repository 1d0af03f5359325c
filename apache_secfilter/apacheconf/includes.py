"""Which files an ``Include``/``IncludeOptional`` line names, as Apache 2.4 finds them.

Relative paths are relative to ``ServerRoot`` (not to the including file).
Wildcards may stand in any path component and never match a leading dot; a
directory means every file below it, recursively, in sorted order.
``Include`` fails when nothing matches, ``IncludeOptional`` is then silent.
"""

from __future__ import annotations

import glob
import os

from ..errors import ConfigError, Location

#: Apache's own limit on nested includes (AP_MAX_INCLUDE_DEPTH).
MAX_INCLUDE_DEPTH = 128


def _files_below(directory: str) -> list[str]:
    """Every file under ``directory``, depth first, each level sorted (as Apache reads)."""
    found: list[str] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return found
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            found += _files_below(path)
        elif os.path.isfile(path):
            found.append(path)
    return found


def _expand(path: str) -> list[str]:
    found: list[str] = []
    for match in sorted(glob.glob(path)):
        found += _files_below(match) if os.path.isdir(match) else [match]
    return found


def include_targets(pattern: str, server_root: str, optional: bool,
                    location: Location) -> list[str]:
    """The files to read for one Include line, in the order Apache reads them."""
    path = pattern if os.path.isabs(pattern) else os.path.join(server_root, pattern)
    if glob.has_magic(path):
        found = _expand(path)
        if not found and not optional:
            raise ConfigError(f"Include: no file matches '{path}' (Apache refuses to start; "
                              "IncludeOptional accepts a pattern that matches nothing)",
                              location)
        return found
    if os.path.isdir(path):
        return _files_below(path)
    if os.path.isfile(path):
        return [path]
    if optional:
        return []
    raise ConfigError(f"Include: '{path}' does not exist", location)


class IncludeGuard:
    """Refuses include loops and runaway nesting, naming the Include line."""

    def __init__(self) -> None:
        self._stack: list[str] = []

    def enter(self, path: str, location: Location | None) -> None:
        real = os.path.realpath(path)
        if real in self._stack:
            raise ConfigError(f"Include loop: '{path}' is already being read (it includes "
                              "itself, directly or through other files)", location)
        if len(self._stack) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(f"Include nested deeper than {MAX_INCLUDE_DEPTH} files at "
                              f"'{path}'", location)
        self._stack.append(real)

    def leave(self) -> None:
        self._stack.pop()
