"""Apache's read-time conditionals: <IfModule>, <IfDefine>, <IfVersion>, <IfFile>...

Apache decides these sections while it reads the files, in order: a
``LoadModule`` line only counts for the ``<IfModule>`` sections after it, and
a ``Define`` only for the ``<IfDefine>`` sections after it.  The reader calls
``Conditions.holds`` at the moment it meets a section, so the same order
applies here.  What we cannot know (which directives some module registers)
is answered the way that keeps Sec* lines out of Apache's sight.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import regex

from ..errors import ConfigError, Location
from ..language.ast import SectionOpen
from ..policy.load import SECFILTER_MODULES

#: The modules compiled into Debian's apache2 binary (``apache2 -l``), as
#: (identifier, source file).  Every other module comes from ``LoadModule``.
BUILTIN_MODULES = (
    ("core_module", "core.c"), ("so_module", "mod_so.c"),
    ("watchdog_module", "mod_watchdog.c"), ("http_module", "http_core.c"),
    ("log_config_module", "mod_log_config.c"), ("logio_module", "mod_logio.c"),
    ("version_module", "mod_version.c"), ("unixd_module", "mod_unixd.c"),
)

#: The Apache version <IfVersion> compares with (Debian 12's apache2 package).
APACHE_VERSION = (2, 4, 71)

CONDITIONAL_SECTIONS = frozenset({"ifmodule", "ifdefine", "ifversion", "iffile",
                                  "ifdirective", "ifsection"})


def is_secfilter_wrapper(node: SectionOpen) -> bool:
    """``<IfModule secfilter_module>`` or ``<IfModule mod_security.c>`` (not negated)."""
    return (node.key == "ifmodule" and len(node.args) == 1
            and node.args[0].lower() in SECFILTER_MODULES)


def _source_names(identifier: str, path: str) -> set[str]:
    """The names ``<IfModule>`` may use for a loaded module.

    Apache matches the identifier given to ``LoadModule`` and the module's
    source file name (``mod_ssl.c``), which the shared object's name gives
    for every module Debian ships.
    """
    names = {identifier}
    stem = os.path.basename(path).rsplit(".", 1)[0]
    if stem.startswith("mod_"):
        names.add(stem + ".c")
    if identifier.endswith("_module"):
        names.add("mod_" + identifier.removesuffix("_module") + ".c")
    return names


@dataclass
class Conditions:
    """What read-time conditionals test: loaded modules, defines, files, version."""

    server_root: str
    defines: dict[str, str] = field(default_factory=dict)
    modules: set[str] = field(default_factory=lambda: {n for pair in BUILTIN_MODULES
                                                        for n in pair})
    version: tuple[int, int, int] = APACHE_VERSION

    def load_module(self, identifier: str, path: str) -> None:
        """Record a ``LoadModule`` line."""
        self.modules |= _source_names(identifier, path)

    def module_loaded(self, name: str) -> bool:
        """Apache compares module names case-sensitively."""
        return name in self.modules

    def holds(self, node: SectionOpen) -> bool:
        """Whether Apache reads the body of this conditional section."""
        if not node.args:
            raise ConfigError(f"<{node.name}> needs an argument", node.location)
        if node.key == "ifversion":
            return version_matches(node.args, self.version, node.location)
        if len(node.args) != 1:
            raise ConfigError(f"<{node.name}> takes one argument", node.location)
        word = node.args[0]
        negated = word.startswith("!")
        name = word[1:] if negated else word
        return self._test(node.key, name) != negated

    def _test(self, key: str, name: str) -> bool:
        if key == "ifmodule":
            return self.module_loaded(name)
        if key == "ifdefine":
            return name in self.defines
        if key == "iffile":
            path = name if os.path.isabs(name) else os.path.join(self.server_root, name)
            return os.path.exists(path)
        # <IfDirective>/<IfSection>: no Apache module registers our Sec* names;
        # any other name is assumed present (we cannot ask Apache).
        return not name.lower().startswith("sec")


_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_OPERATORS = ("==", ">=", "<=", "=", ">", "<", "~")


def _parse_version(text: str, location: Location) -> tuple[int, int, int]:
    match = _VERSION.fullmatch(text)
    if match is None:
        raise ConfigError(f"<IfVersion>: '{text}' is not a version such as 2.4 or 2.4.1",
                          location)
    return tuple(int(part or 0) for part in match.groups())  # type: ignore[return-value]


def version_matches(args: tuple[str, ...], version: tuple[int, int, int],
                    location: Location) -> bool:
    """mod_version: ``[[!]operator] version``; ``~`` and ``/re/`` match the text."""
    words = list(args)
    negated = words[0].startswith("!")
    if negated:
        words[0] = words[0][1:]
        if not words[0]:
            words.pop(0)
    operator = "="
    if len(words) == 2:
        operator, text = words
    elif len(words) == 1:
        text = words[0]
        for candidate in _OPERATORS:
            if text.startswith(candidate) and text != candidate:
                operator, text = candidate, text[len(candidate):]
                break
    else:
        raise ConfigError("<IfVersion> takes an operator and a version", location)
    return _compare(operator, text, version, location) != negated


def _compare(operator: str, text: str, version: tuple[int, int, int],
             location: Location) -> bool:
    written = ".".join(str(part) for part in version)
    if operator == "~" or (len(text) > 1 and text.startswith("/") and text.endswith("/")):
        pattern = text.strip("/") if operator != "~" else text
        try:
            return regex.search(pattern, written) is not None
        except regex.error as exc:
            raise ConfigError(f"<IfVersion>: invalid regular expression '{pattern}': {exc}",
                              location) from exc
    want = _parse_version(text, location)
    if operator in ("=", "=="):
        return version == want
    if operator not in (">", ">=", "<", "<="):
        raise ConfigError(f"<IfVersion>: unknown operator '{operator}'", location)
    return {">": version > want, ">=": version >= want,
            "<": version < want, "<=": version <= want}[operator]
