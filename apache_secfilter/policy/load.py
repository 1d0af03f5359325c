"""Load a flat rules file: Sec* directives at server level, Includes followed.

A rules file (as named by ``PythonOption SecFilterConfig``, or given to
``secfilter check``/``eval``) holds Sec* directives, optionally wrapped in the
``<IfModule mod_security.c>`` or ``<IfModule secfilter_module>`` lines that
old 1.x configurations carry, and ``Include``/``IncludeOptional`` lines
(relative paths are relative to the including file).  Whole Apache
configurations with sections are read by ``apacheconf``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import ConfigError, ConfigWarning, Location
from ..language.ast import Directive, ParsedFile, SectionClose, SectionOpen
from ..language.directives import lookup
from ..language.grammar import read_file
from .compile import compile_context
from .files import FileChecks
from .inherit import build_policy
from .model import Policy

#: Module names whose <IfModule> sections hold our directives (compared in
#: lower case: the wrapper's name is ours, not a module Apache looks up).
SECFILTER_MODULES = frozenset({"mod_security.c", "secfilter_module", "security_module",
                               "mod_security", "mod_secfilter.c"})
MAX_INCLUDE_DEPTH = 32


@dataclass
class LoadedFiles:
    """Every directive of a file tree in order, the files read, the warnings."""

    directives: list[Directive] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)


def _include_targets(pattern: str, base_dir: str, optional: bool,
                     location: Location) -> list[str]:
    path = pattern if os.path.isabs(pattern) else os.path.join(base_dir, pattern)
    if glob.has_magic(path):
        return sorted(p for p in glob.glob(path) if os.path.isfile(p))
    if os.path.isdir(path):
        return sorted(os.path.join(path, n) for n in os.listdir(path)
                      if os.path.isfile(os.path.join(path, n)))
    if not os.path.exists(path):
        if optional:
            return []
        raise ConfigError(f"Include: '{path}' does not exist", location)
    return [path]


def _wrapper_active(node: SectionOpen) -> bool:
    """Whether an <IfModule> wrapper's body applies in a flat rules file."""
    if node.key != "ifmodule" or len(node.args) != 1:
        raise ConfigError(f"<{node.name}> sections belong in an Apache configuration: "
                          "check it with 'secfilter check apache2.conf' (a rules file holds "
                          "only Sec* directives, Include and <IfModule> wrappers)",
                          node.location)
    name = node.args[0]
    negated = name.startswith("!")
    present = name.lstrip("!").lower() in SECFILTER_MODULES
    return present != negated


def _walk(path: str, loaded: LoadedFiles, stack: tuple[str, ...],
          included_at: Location | None = None, parsed: ParsedFile | None = None) -> None:
    real = os.path.realpath(path)
    if real in stack:
        raise ConfigError(f"Include loop: '{path}' is already being read", included_at)
    if len(stack) >= MAX_INCLUDE_DEPTH:
        raise ConfigError(f"Include nested deeper than {MAX_INCLUDE_DEPTH} files at '{path}'",
                          included_at)
    try:
        parsed = parsed if parsed is not None else read_file(path)
    except ConfigError as exc:
        if exc.location is None and included_at is not None:
            raise ConfigError(exc.message, included_at) from None
        raise
    loaded.files.append(path)
    loaded.warnings.extend(parsed.warnings)
    for directive in _active(parsed.nodes):
        if directive.key in ("include", "includeoptional"):
            if len(directive.args) != 1:
                raise ConfigError(f"{directive.name} takes one path", directive.location)
            for target in _include_targets(directive.args[0], os.path.dirname(path),
                                           directive.key == "includeoptional",
                                           directive.location):
                _walk(target, loaded, stack + (real,), directive.location)
        else:
            loaded.directives.append(directive)


def _active(nodes: tuple) -> Iterator[Directive]:
    """Directives outside skipped <IfModule> blocks; section tags must balance."""
    open_sections: list[tuple[SectionOpen, bool]] = []
    for node in nodes:
        if isinstance(node, SectionOpen):
            active = _wrapper_active(node) and all(a for _, a in open_sections)
            open_sections.append((node, active))
        elif isinstance(node, SectionClose):
            if not open_sections or open_sections[-1][0].key != node.key:
                expected = f"</{open_sections[-1][0].name}>" if open_sections else "nothing"
                raise ConfigError(f"</{node.name}> closes no open section (expected "
                                  f"{expected})", node.location)
            open_sections.pop()
        elif all(active for _, active in open_sections):
            yield node
    if open_sections:
        section = open_sections[-1][0]
        raise ConfigError(f"<{section.name}> is never closed", section.location)


def _check_server_level(directive: Directive) -> None:
    """A rules file is server level: refuse what only a section may hold."""
    spec = lookup(directive)
    if "S" not in spec.contexts and spec.kind != "unsupported":
        raise ConfigError(f"{spec.name} is not allowed at server level (a rules file is read "
                          "as server level): it belongs inside <Directory>, <Location> or "
                          "<Files> in an Apache configuration", directive.location)


def load_directives(path: str, root: ParsedFile | None = None) -> LoadedFiles:
    """Read a rules file and everything it includes; ``root``: the file already parsed."""
    loaded = LoadedFiles()
    _walk(path, loaded, (), parsed=root)
    return loaded


def load_policy(path: str, files: FileChecks | None = None, *,
                root: ParsedFile | None = None) -> Policy:
    """Read, validate and compile a flat rules file into a Policy.

    ``root``: ``path`` already parsed (``read_file``), not to parse it twice.
    """
    loaded = load_directives(path, root)
    for directive in loaded.directives:
        _check_server_level(directive)
    context = compile_context(loaded.directives, "server", files)
    policy = build_policy([context], loaded.files)
    warnings = tuple(loaded.warnings) + policy.warnings
    return Policy(policy.settings, policy.rules, policy.output_rules, warnings, policy.sources)
