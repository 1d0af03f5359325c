"""``secfilter check``: validate rules files and whole Apache configurations.

A flat rules file keeps the summary line other tools parse (``OK: N files,
R request rules, O output rules, SecFilterEngine X``).  An Apache
configuration (``apache2.conf`` and what it includes, the default) gets one
line of its own; ``--show URL`` explains the policy of one request instead.
"""

from __future__ import annotations

import argparse
import sys

from ..apacheconf.source import PolicySource, load_source
from ..errors import ConfigWarning, SecFilterError
from .show import cmd_show

#: Debian's main Apache configuration: what ``check`` reads without a FILE.
DEFAULT_MAIN = "/etc/apache2/apache2.conf"
EXIT_OK = 0


def add_check_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument("files", nargs="*", metavar="FILE", help=(
        f"rules files or Apache main configurations (default {DEFAULT_MAIN})"))
    check.add_argument("--show", metavar="URL", help=(
        "explain the policy for one request: sections applied, settings, rules"))
    check.add_argument("--docroot", metavar="DIR", help=(
        "document root to map the URL to a file (default: the virtual host's DocumentRoot)"))
    check.add_argument("--filename", metavar="FILE", help=(
        "the file the URL maps to, for <Directory> and <Files> matching"))


def print_warnings(warnings: tuple[ConfigWarning, ...]) -> None:
    for warning in warnings:
        print(str(warning), file=sys.stderr)


def _apache_summary(source: PolicySource) -> str:
    assert source.config is not None
    request, output = source.rule_counts()
    sections = sum(1 for s in source.config.sections() if s.has_sec)
    files = len(source.files)
    return (f"OK: {source.path}: Apache configuration, {files} file{'s' if files != 1 else ''}"
            f" read, {sections} section{'s' if sections != 1 else ''} with Sec* directives, "
            f"{request} request rules, {output} output rules")


def run_check(args: argparse.Namespace) -> int:
    """Validate every file; for flat files the historic one-line summary."""
    paths = args.files or [DEFAULT_MAIN]
    if args.show:
        if len(paths) != 1:
            raise SecFilterError("--show explains one configuration: give one FILE")
        source = load_source(paths[0])
        print_warnings(source.warnings)
        print(cmd_show(source, args))
        return EXIT_OK
    flat = total_rules = total_output = 0
    engine = "Off"
    for path in paths:
        source = load_source(path)
        print_warnings(source.warnings)
        if source.is_apache_config:
            print(_apache_summary(source))
            continue
        policy = source.flat_policy
        assert policy is not None
        flat += 1
        total_rules += len(policy.rules)
        total_output += len(policy.output_rules)
        engine = policy.settings.engine
    if flat:
        print(f"OK: {flat} file{'s' if flat != 1 else ''}, {total_rules} request rules, "
              f"{total_output} output rules, SecFilterEngine {engine}")
    return EXIT_OK
