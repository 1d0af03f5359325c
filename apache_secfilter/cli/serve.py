"""``secfilter serve`` and ``secfilter stop``: a private, protected Apache 2.4.

``serve`` validates the rules (``FILE:LINE: message``, exit 2), generates a
configuration in the run directory, checks it with ``apache2 -t``, starts
Apache (and php-fpm for ``--adapter mod_wsgi``) on 127.0.0.1 and waits until
it answers.  In the foreground it then shows the error log as it grows and
stops everything on Ctrl-C or SIGTERM; with ``--daemon`` it returns and
``secfilter stop`` ends it later.  ``--demo`` serves the article's scenario.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from dataclasses import replace
from importlib import resources

from ..apacheconf.source import PolicySource, load_source
from ..server import instance
from ..server.instance_config import ADAPTERS, InstanceSpec

EXIT_OK, EXIT_ERROR = 0, 2
LOG_DIR_PLACEHOLDER = "@LOG_DIR@"
STACKS = {"mod_python": "prefork MPM + mod_php + mod_python",
          "mod_wsgi": "event MPM + php-fpm + mod_wsgi"}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``serve`` and ``stop`` on the ``secfilter`` parser."""
    serve = sub.add_parser("serve", help="run a private Apache 2.4 protected by a rules file")
    serve.add_argument("--config", metavar="RULES_FILE",
                       help="the rules file (default with --demo: the article's configuration)")
    serve.add_argument("--docroot", metavar="DIR",
                       help="the document root (default with --demo: the demo pages)")
    serve.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (8080)")
    serve.add_argument("--adapter", choices=ADAPTERS, default="mod_python",
                       help="mod_python (prefork + mod_php, full inspection; the default) or "
                            "mod_wsgi (event + php-fpm, request line and headers only)")
    serve.add_argument("--run-dir", metavar="DIR",
                       help=f"configuration, pid files and logs ({instance.default_run_dir()})")
    serve.add_argument("--daemon", action="store_true",
                       help="return once the server answers; stop it with 'secfilter stop'")
    serve.add_argument("--demo", action="store_true",
                       help="serve the article's vulnerable.php behind the article's rules")
    serve.set_defaults(func=cmd_serve)
    stop = sub.add_parser("stop", help="stop the Apache that 'secfilter serve' started")
    stop.add_argument("--run-dir", metavar="DIR",
                      help=f"the run directory of the instance ({instance.default_run_dir()})")
    stop.set_defaults(func=cmd_stop)


def _demo_files(run_dir: str, log_dir: str) -> tuple[str, str]:
    """Copy the packaged demo into the run dir: (rules file, document root)."""
    source = resources.files("apache_secfilter") / "data" / "demo"
    docroot = os.path.join(run_dir, "htdocs")
    shutil.rmtree(docroot, ignore_errors=True)
    os.makedirs(docroot, mode=0o755)
    os.chmod(docroot, 0o755)
    for name in ("vulnerable.php", "index.html"):
        _write(os.path.join(docroot, name), (source / name).read_text(encoding="utf-8"))
    rules = os.path.join(run_dir, "demo.conf")
    text = (source / "demo.conf").read_text(encoding="utf-8")
    _write(rules, text.replace(LOG_DIR_PLACEHOLDER, log_dir))
    return rules, docroot


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o644)


def _spec(args: argparse.Namespace) -> InstanceSpec:
    """The instance to start, with the demo's files in place when asked for."""
    if not args.demo and not (args.config and args.docroot):
        missing = " and ".join(f"--{n}" for n in ("config", "docroot") if not getattr(args, n))
        raise instance.InstanceError(f"{missing} required (or use --demo)")
    run_dir = os.path.abspath(args.run_dir or instance.default_run_dir())
    if instance.find_running(run_dir):
        raise instance.InstanceError(f"an instance already runs in {run_dir}; stop it first: "
                                     f"secfilter stop --run-dir {run_dir}")
    # with --demo, the rules and docroot default to files made in the run dir
    spec = instance.make_spec(args.config or run_dir, args.docroot or run_dir, run_dir,
                              args.port, args.adapter)
    instance.make_dirs(spec)
    if args.demo:
        rules, docroot = _demo_files(run_dir, spec.engine_log_dir)
        spec = replace(spec, rules=spec.rules if args.config else rules,
                       docroot=spec.docroot if args.docroot else docroot)
    return spec


def _load(rules: str) -> PolicySource:
    """Validate the rules as ``secfilter check`` does; ConfigError reaches main().

    The rules file may be a flat list of Sec* directives or an Apache-style
    file with <Location>/<Directory> sections, resolved per request.
    """
    source = load_source(rules)
    for warning in source.warnings:
        print(str(warning), file=sys.stderr)
    return source


def _summary(source: PolicySource) -> str:
    request, output = source.rule_counts()
    text = f"{request} request rules, {output} output rules"
    if source.flat_policy is not None:
        text += f", SecFilterEngine {source.flat_policy.settings.engine}"
    return text


def _announce(running: instance.Running, source: PolicySource, demo: bool,
              daemon: bool) -> None:
    spec = running.spec
    fpm = f", php-fpm pid {running.fpm_pid}" if running.fpm_pid else ""
    lines = [
        f"secfilter serve: Apache 2.4 ({STACKS[spec.adapter]}) answers on {spec.url}",
        f"  pid {running.apache_pid}{fpm}; run dir {spec.run_dir}",
        f"  rules {spec.rules} ({_summary(source)})",
        f"  document root {spec.docroot}",
        f"  error log {spec.error_log}",
    ]
    if demo:
        base = spec.url.rstrip("/")
        lines += [
            "Try the article's attack (500, and the password file never appears):",
            f"  curl -i '{base}/vulnerable.php?file=/etc/passwd'",
            "and a harmless request (200, the demo page):",
            f"  curl -i '{base}/vulnerable.php?file=index.html'",
        ]
    stop_hint = f"secfilter stop --run-dir {spec.run_dir}"
    lines.append(f"Stop it with: {stop_hint}" if daemon
                 else f"Press Ctrl-C to stop (or run: {stop_hint}). Error log follows:")
    print("\n".join(lines), flush=True)


class _Stop(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived while serving in the foreground."""


def _raise_stop(_signum: int, _frame: object) -> None:
    raise _Stop


class _LogFollower:
    """Copies Apache's error log to our stderr as it grows, from the start.

    From the start, so that what the adapter reported while the children
    started (rules it cannot run, a rules file it could not load) is seen;
    Apache's notice-level chatter is left out.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def pump(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        shown = [line for line in lines if b":notice] " not in line]
        if shown:
            sys.stderr.write(b"\n".join(shown).decode("utf-8", "replace") + "\n")
            sys.stderr.flush()


def _foreground(running: instance.Running) -> int:
    """Serve until Ctrl-C/SIGTERM, then stop Apache (and php-fpm) by pid."""
    spec = running.spec
    info_file = os.path.join(spec.run_dir, instance.INFO_FILE)
    follower = _LogFollower(spec.error_log)
    # SIGINT too: a shell starting us in the background leaves it ignored
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, _raise_stop) for s in signals}
    try:
        while all(instance.pid_alive(p) for p in running.pids):
            follower.pump()
            time.sleep(0.25)
        follower.pump()
        if not os.path.exists(info_file):
            print("secfilter serve: stopped by 'secfilter stop'", file=sys.stderr)
            return EXIT_OK
        print("secfilter serve: Apache or php-fpm exited unexpectedly; see "
              f"{spec.error_log}", file=sys.stderr)
        _stop_quietly(spec)
        return EXIT_ERROR
    except (KeyboardInterrupt, _Stop):  # KeyboardInterrupt: before the handler was set
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    _stop_quietly(spec)
    follower.pump()
    print("secfilter serve: stopped", file=sys.stderr)
    return EXIT_OK


def _stop_quietly(spec: InstanceSpec) -> None:
    try:
        instance.stop(spec.run_dir)
    except instance.InstanceError as exc:
        print(f"secfilter serve: {exc}", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> int:
    """Start a private Apache serving the document root behind the rules."""
    spec = _spec(args)
    source = _load(spec.rules)
    running = instance.start(spec, rule_files=list(source.files) or [spec.rules])
    _announce(running, source, args.demo, args.daemon)
    if args.daemon:
        return EXIT_OK
    return _foreground(running)


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the instance recorded in the run dir: SIGTERM to its pids, wait, clean up."""
    run_dir = os.path.abspath(args.run_dir or instance.default_run_dir())
    pids = instance.stop(run_dir)
    print(f"secfilter stop: stopped pid {', '.join(map(str, pids))} ({run_dir})")
    return EXIT_OK
