"""The ``secfilter`` command: check, eval (and more subcommands as they land).

Every error a user can cause (a bad configuration, an unreadable or malformed
request) is printed as one line on stderr with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace

from .. import inspect
from ..adapters.programs import ProgramRunner
from ..apacheconf.source import load_source
from ..errors import ConfigError, RequestError, SecFilterError
from ..request.model import Request
from ..request.wire import parse_raw_request, parse_raw_response
from .bench import add_bench_parser
from .check import add_check_arguments, print_warnings, run_check
from .log import add_log_parser
from .selftest import add_selftest_parser
from .serve import add_commands as add_serve_commands

EXIT_OK, EXIT_ERROR = 0, 2


def cmd_check(args: argparse.Namespace) -> int:
    """Parse and compile each file; a one-line summary, or FILE:LINE: message."""
    return run_check(args)


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise RequestError(f"cannot read {path}: {exc.strerror}") from None


def _with_options(request: Request, args: argparse.Namespace) -> Request:
    env = dict(request.env)
    for item in args.env or ():
        name, _, value = item.partition("=")
        env[name] = value
    facts = request.facts
    if args.handler:
        facts = replace(facts, handler=args.handler)
    if args.filename:
        facts = replace(facts, script_filename=args.filename, request_filename=args.filename)
    if args.docroot:
        facts = replace(facts, document_root=args.docroot)
    return replace(request, env=env, facts=facts)


def cmd_eval(args: argparse.Namespace) -> int:
    """Print the verdict for one raw request (and optionally its response) as JSON.

    With an Apache configuration the policy is the one of the sections the
    request falls in (Host, URI, --docroot/--filename), as the adapters do.
    """
    source = load_source(args.config)
    print_warnings(source.warnings)
    raw = _read_input(args.request)
    request, body = parse_raw_request(raw, remote_addr=args.remote_addr)
    request = _with_options(request, args)
    policy = source.policy_for(request)
    response = parse_raw_response(_read_input(args.response)) if args.response else None
    runner = ProgramRunner(lambda line: print(line, file=sys.stderr))
    verdict = inspect(policy, request, body, response, services=runner)
    if verdict.error_detail:
        print(verdict.error_detail, file=sys.stderr)
    print(json.dumps(verdict.to_json(), indent=2 if args.pretty else None))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secfilter", description=(
        "ModSecurity 1.x rules (SecFilter, SecFilterSelective) for Apache 2.4."))
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="parse and compile configuration files")
    add_check_arguments(check)
    check.set_defaults(func=cmd_check)
    ev = sub.add_parser("eval", help="decide one raw HTTP request, print JSON")
    ev.add_argument("--config", required=True, metavar="FILE")
    ev.add_argument("--remote-addr", default="127.0.0.1", metavar="IP")
    ev.add_argument("--response", metavar="RESPONSE_FILE")
    ev.add_argument("--handler", help="Apache handler (for SecFilterEngine DynamicOnly)")
    ev.add_argument("--filename", help="the file the request maps to (SCRIPT_FILENAME)")
    ev.add_argument("--docroot", metavar="DIR", help=(
        "with an Apache configuration: the document root the URI maps to"))
    ev.add_argument("--env", action="append", metavar="NAME=VALUE",
                    help="an Apache environment variable, e.g. MODSEC_ENABLE=Off")
    ev.add_argument("--pretty", action="store_true", help="indent the JSON")
    ev.add_argument("request", metavar="REQUEST_FILE", help="raw request bytes, or - for stdin")
    ev.set_defaults(func=cmd_eval)
    add_log_parser(sub)
    add_serve_commands(sub)
    add_selftest_parser(sub)
    add_bench_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
    except SecFilterError as exc:
        print(f"secfilter {args.command}: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
