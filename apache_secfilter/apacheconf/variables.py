"""``${VAR}`` in configuration lines, and Debian's ``envvars`` file.

Apache replaces ``${NAME}`` in each line it reads with a ``Define``d value,
else with the environment variable (``ap_resolve_env``), before it splits
the line into words; an unknown name stays as written, with a warning.  On
Debian the environment comes from ``/etc/apache2/envvars``, which
``apache2ctl`` sources before starting Apache: ``APACHE_LOG_DIR``,
``APACHE_RUN_DIR`` and friends.  We read that file rather than run it: only
plain assignments count, which is all Debian's file holds besides the
``SUFFIX`` computation for multi-instance setups, reproduced here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ConfigWarning, Location

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_SHELL_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGNMENT = re.compile(r"(export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)")
_EXPORT_ONLY = re.compile(r"export\s+([A-Za-z_][A-Za-z0-9_]*)\s*")

#: Debian's name for the file next to apache2.conf.
ENVVARS = "envvars"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split("#", 1)[0].strip() if " #" in value else value


def _debian_suffix(confdir: str) -> str:
    """``SUFFIX`` as envvars computes it: ``-NAME`` for ``/etc/apache2-NAME``."""
    prefix = "/etc/apache2-"
    return "-" + confdir[len(prefix):] if confdir.startswith(prefix) else ""


def read_envvars(path: str, confdir: str) -> dict[str, str]:
    """The variables an ``envvars`` file exports, with ``$X`` references expanded.

    Lines inside ``if``/``fi`` blocks are skipped (the only one in Debian's
    file computes ``SUFFIX``, done here by ``_debian_suffix``).
    """
    shell = {"APACHE_CONFDIR": confdir, "SUFFIX": _debian_suffix(confdir)}
    exported: dict[str, str] = {}
    depth = 0
    with open(path, encoding="latin-1") as handle:
        for raw in handle:
            line = raw.strip()
            first = line.split(None, 1)[0] if line else ""
            if first in ("if", "case"):
                depth += 1
            elif first in ("fi", "esac"):
                depth = max(0, depth - 1)
            if depth or not line or line.startswith("#"):
                continue
            _shell_line(line, shell, exported)
    return exported


def _shell_line(line: str, shell: dict[str, str], exported: dict[str, str]) -> None:
    """One ``[export] NAME=value`` or ``export NAME`` line."""
    only = _EXPORT_ONLY.fullmatch(line)
    if only:
        if only.group(1) in shell:
            exported[only.group(1)] = shell[only.group(1)]
        return
    match = _ASSIGNMENT.fullmatch(line)
    if match is None:
        return
    value = _SHELL_REFERENCE.sub(
        lambda m: shell.get(m.group(1) or m.group(2), ""), _unquote(match.group(3)))
    shell[match.group(2)] = value
    if match.group(1):
        exported[match.group(2)] = value


@dataclass
class Variables:
    """Where ``${NAME}`` is looked up: ``Define`` first, then the environment."""

    defines: dict[str, str]
    environment: Mapping[str, str] = field(default_factory=dict)
    warnings: list[ConfigWarning] = field(default_factory=list)
    _warned: set[str] = field(default_factory=set)

    def lookup(self, name: str) -> str | None:
        if name in self.defines:
            return self.defines[name]
        return self.environment.get(name)

    def substitute(self, text: str, location: Location) -> str:
        """Replace every known ``${NAME}``; warn once per unknown name, as Apache does."""
        if "${" not in text:
            return text

        def replace(match: re.Match[str]) -> str:
            value = self.lookup(match.group(1))
            if value is None:
                self._warn_unknown(match.group(1), location)
                return match.group(0)
            return value

        return _REFERENCE.sub(replace, text)

    def _warn_unknown(self, name: str, location: Location) -> None:
        if name in self._warned:
            return
        self._warned.add(name)
        self.warnings.append(ConfigWarning(
            f"${{{name}}} is not defined (no Define, no environment variable, not in "
            "envvars): Apache keeps the text as written", location))


def environment_for(main_file: str, environ: Mapping[str, str] | None) -> dict[str, str]:
    """The environment Apache would see: the process's, then ``envvars`` over it."""
    merged = dict(os.environ if environ is None else environ)
    confdir = os.path.dirname(os.path.abspath(main_file))
    envvars = os.path.join(confdir, ENVVARS)
    if os.path.isfile(envvars):
        merged.update(read_envvars(envvars, confdir))
    return merged
