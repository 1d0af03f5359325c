"""apache_secfilter inside Apache, side by side with Debian's mod_security2, under wrk.

For the seed article's rules and for 100 / 1,000 / 5,000 generated signatures
(``ruleset.py``, with the same rules translated to ``SecRule`` for
mod_security2), it starts one private Apache at a time (prefork + mod_php) in
the variants of ``apache_sites.VARIANTS``: ``bare`` (no firewall),
``python-empty`` (mod_python with a handler that does nothing),
``secfilter-mod_python``, ``secfilter-mod_wsgi`` and ``modsecurity2``; checks
that every request does what it must; and measures each workload of
``apache_secfilter.cli.workloads`` with wrk (8 connections).  Apache runs on
core 0 and wrk on core 1, so that 1e6 / requests-per-second is the CPU time
one request takes in Apache, and the difference to ``bare`` is what the
firewall adds; the CPU time Apache's processes really used is measured too,
which stays right when something else takes part of core 0.  Repetitions
alternate the variants and workloads, so slow drift of the machine affects
all of them.  Memory (RSS, PSS) of the children and the time each instance
needs to get ready are reported as well.

Run it as root from the project directory, on an idle machine, after
``apache/install-deps.sh`` and ``apache/install-bench-deps.sh``::

    .venv/bin/python benchmarks/apache_bench.py            # about 30 minutes
    .venv/bin/python benchmarks/apache_bench.py --quick    # about 3 minutes
    .venv/bin/python benchmarks/apache_bench.py --sizes seed,1000 --duration 8 --json out.json

Markdown tables go to standard output, progress to standard error.  Every
instance is stopped by its pid at the end, also after an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import apache_report
import apache_sites as sites
import apache_wrk
from apache_checks import (
    check_requirements,
    check_site,
    error_log_summary,
    leftover_apache,
    package_dir,
    send,
)
from ruleset import text_for

from apache_secfilter.cli.workloads import Workload, workloads

DEFAULT_VENV = "/opt/apache_secfilter/venv"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIN_REQUESTS_PER_CONNECTION = 10


@dataclass
class Instance:
    """A started Apache: its site, parent pid, and how long it took to get ready."""

    site: sites.Site
    pid: int
    first_answer_s: float = 0.0
    all_ready_s: float = 0.0


@dataclass
class Results:
    """Everything measured, by (size, variant, workload); JSON-ready."""

    runs: list[dict] = field(default_factory=list)
    ready: list[dict] = field(default_factory=list)
    memory: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    warmups: list[dict] = field(default_factory=list)
    logs: list[dict] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="seed,100,1000,5000",
                        help="rule sets: 'seed' and/or numbers of generated signatures")
    parser.add_argument("--variants", default=",".join(sites.VARIANTS))
    parser.add_argument("--duration", type=int, default=4, help="seconds per scenario")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--max-duration", type=int, default=20,
                        help="longest second run for a scenario that completed too few "
                        "requests (mod_security2 with thousands of rules)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="seconds of warm-up (benign requests in turn) per server start")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--apache-core", type=int, default=0)
    parser.add_argument("--wrk-core", type=int, default=1)
    parser.add_argument("--venv", default=DEFAULT_VENV,
                        help="virtual environment whose apache_secfilter Apache imports")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 repetition of 1 s per scenario (3 s at most for "
                        "slow ones), 1 s warm-up")
    parser.add_argument("--json", metavar="FILE", help="save the raw figures")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.max_duration, args.repeat, args.warmup = 1, 3, 1, 1
    return args


def make_base() -> str:
    """A fresh directory under /tmp that Apache's children (www-data) may enter."""
    base = tempfile.mkdtemp(prefix="secfilter-apache-bench-", dir="/tmp")
    os.chmod(base, 0o755)
    return base


WARMUP = "warm-up"


def prepare(base: str, sizes: list[str], works: list[Workload]) -> dict[str, str]:
    """Docroot, rules files (1.x and SecRule per size), wrk scripts; return scripts by name.

    The warm-up script sends every benign request in turn, so that each child
    has run each of them (first-use work: regex compilation, PHP's opcache)
    before anything is measured.
    """
    demo = resources.files("apache_secfilter") / "data" / "demo" / "vulnerable.php"
    sites.make_docroot(os.path.join(base, "htdocs"), demo.read_text(encoding="utf-8"))
    for size in sizes:
        sites.write_file(os.path.join(base, "rules", f"{size}.conf"), text_for(size))
        sites.write_file(os.path.join(base, "rules", f"{size}.secrule.conf"),
                         text_for(size, secrule=True))
    os.makedirs(os.path.join(base, "wrk"), exist_ok=True)
    stems = {w.name: os.path.join(base, "wrk", slug(w.name)) for w in works}
    scripts = {w.name: apache_wrk.write_script(w.raw(), stems[w.name]) for w in works}
    scripts[WARMUP] = apache_wrk.write_mix_script(
        [stems[w.name] for w in works if not w.attack], os.path.join(base, "wrk", "warm-up"))
    return scripts


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())


def make_site(base: str, size: str, variant: str, pkg_dir: str) -> sites.Site:
    return sites.Site(variant=variant, run_dir=os.path.join(base, "runs", f"{size}-{variant}"),
                      docroot=os.path.join(base, "htdocs"),
                      rules=os.path.join(base, "rules", f"{size}.conf"),
                      secrules=os.path.join(base, "rules", f"{size}.secrule.conf"),
                      package_dir=pkg_dir, port=free_port())


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(site: sites.Site, probe: Workload, core: int, running: list[Instance]) -> Instance:
    """Start one instance and time it: to its first 200, and until every child is idle.

    A child compiles the rules when it starts (mod_python's PythonImport,
    mod_wsgi's WSGIImportScript); mod_security2 parses them in the parent.
    "All ready" is when the children's CPU time stops growing.
    """
    sites.write_site(site)
    sites.config_test(site)
    start = time.monotonic()
    pid = sites.start(site, core)
    instance = Instance(site, pid)
    running.append(instance)
    instance.first_answer_s = wait_first_answer(site, probe, start)
    instance.all_ready_s = wait_children_idle(pid, start)
    return instance


def wait_first_answer(site: sites.Site, probe: Workload, start: float,
                      timeout: float = 180.0) -> float:
    """Seconds from start until the probe gets a 200 (a child has compiled the rules)."""
    while time.monotonic() - start < timeout:
        try:
            if send(site.port, probe.raw(), timeout=5.0)[0] == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.02)
    raise sites.ApacheError(f"{site.conf_path}: no 200 within {timeout:.0f} s:\n"
                            + sites.log_tail(site.error_log))


def wait_children_idle(pid: int, start: float, quiet: float = 0.5,
                       timeout: float = 300.0) -> float:
    """Seconds from start until all children exist and used no CPU for `quiet` seconds."""
    last_ticks, last_change = -1, time.monotonic()
    while time.monotonic() - start < timeout:
        kids = sites.children(pid)
        ticks = sites.cpu_ticks(kids) if len(kids) >= sites.CHILDREN else -1
        now = time.monotonic()
        if ticks != last_ticks or ticks < 0:
            last_ticks, last_change = ticks, now
        elif now - last_change >= quiet:
            return last_change - start
        time.sleep(0.05)
    raise sites.ApacheError(f"children of pid {pid} still busy after {timeout:.0f} s")


def stop_all(running: list[Instance]) -> list[str]:
    """Stop every instance still running; return what went wrong (never raises)."""
    problems = []
    while running:
        instance = running.pop()
        try:
            sites.stop(instance.site, instance.pid)
        except (sites.ApacheError, OSError) as exc:
            problems.append(str(exc))
    return problems


def measure_instance(instance: Instance, size: str, rep: int, scripts: dict[str, str],
                     works: list[Workload], args: argparse.Namespace, results: Results) -> None:
    """Check, warm up and measure every workload on one running instance."""
    site = instance.site
    results.checks += check_site(site, size, works)
    if args.warmup:
        res = apache_wrk.run(scripts[WARMUP], site.port, args.warmup, args.connections,
                             args.threads, args.wrk_core)
        results.warmups.append({"size": size, "variant": site.variant, "rep": rep,
                                **res.as_dict()})
        if res.non_2xx or res.socket_errors:
            progress(f"  warm-up: {res.non_2xx} non-2xx, {res.socket_errors} socket errors "
                     f"in {res.requests} benign requests")
    for work in rotate(works, rep):
        res, cpu = measured_run(instance, scripts[work.name], args, args.duration)
        seconds = longer_duration(res, args)
        if seconds:
            progress(f"  {work.name}: only {res.requests} requests in {args.duration} s, "
                     f"measuring again for {seconds} s")
            res, cpu = measured_run(instance, scripts[work.name], args, seconds)
        results.runs.append({"size": size, "variant": site.variant, "workload": work.name,
                             "attack": work.attack, "rep": rep, **res.as_dict(), **cpu})
        progress(f"  {size:>5} {site.variant:<21} {work.name:<22} {res.rps:9.1f} req/s "
                 f"p50 {res.p50_ms:7.2f} ms p99 {res.p99_ms:7.2f} ms "
                 f"cpu {cpu['apache_cpu_us']:7.0f} µs core {cpu['apache_core_share']:4.0%}"
                 + (f" non-2xx {res.non_2xx}" if res.non_2xx else "")
                 + (f" socket errors {res.socket_errors}" if res.socket_errors else ""))


def longer_duration(res: apache_wrk.WrkResult, args: argparse.Namespace) -> int:
    """Seconds for a second run when too few requests completed (0: none needed).

    Requests still in flight when wrk stops are lost (up to one per
    connection), so a figure needs many more completed requests than
    connections: MIN_REQUESTS_PER_CONNECTION each, within --max-duration.
    """
    wanted = MIN_REQUESTS_PER_CONNECTION * args.connections
    if res.requests >= wanted or args.duration >= args.max_duration:
        return 0
    per_request = args.duration / max(res.requests, 1)
    return min(args.max_duration, math.ceil(per_request * wanted) + 1)


def measured_run(instance: Instance, script: str, args: argparse.Namespace,
                 seconds: int) -> tuple[apache_wrk.WrkResult, dict]:
    """One wrk run, and the CPU time Apache used during it.

    Apache's own CPU time per request does not depend on what else runs on
    the machine; its share of its core says whether requests/s could (share
    near 100 %: Apache was the bottleneck and nothing else took its core).
    """
    pids = [instance.pid, *sites.children(instance.pid)]
    before = sites.cpu_ticks(pids), sites.core_ticks(args.apache_core)
    res = apache_wrk.run(script, instance.site.port, seconds, args.connections, args.threads,
                         args.wrk_core)
    used = sites.cpu_ticks(pids) - before[0]
    core = sites.core_ticks(args.apache_core) - before[1]
    cpu = {"apache_cpu_us": used * 1e6 / CLOCK_TICKS / max(res.requests, 1),
           "apache_core_share": used / core if core else 0.0}
    return res, cpu


def record_memory(instance: Instance, size: str, results: Results) -> None:
    """RSS and PSS of the parent and each child, after the measurements."""
    kids = sites.children(instance.pid)
    results.memory.append({"size": size, "variant": instance.site.variant,
                           "parent": sites.memory_kib(instance.pid),
                           "children": [sites.memory_kib(p) for p in kids]})


def rotate(items: list, n: int) -> list:
    n %= len(items)
    return items[n:] + items[:n]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_size(base: str, size: str, variants: list[str], scripts: dict[str, str],
             args: argparse.Namespace, ctx: dict, results: Results) -> None:
    """Every repetition of every variant for one rule set, one server at a time."""
    works = ctx["works"]
    for rep in range(args.repeat):
        for variant in rotate(variants, rep):
            site = make_site(base, size, variant, ctx["pkg_dir"])
            instance = launch(site, works[0], args.apache_core, ctx["running"])
            progress(f"{size} {variant} rep {rep + 1}/{args.repeat}: port {site.port}, first "
                     f"answer {instance.first_answer_s:.2f} s, all children ready "
                     f"{instance.all_ready_s:.2f} s")
            results.ready.append({"size": size, "variant": variant, "rep": rep,
                                  "first_answer_s": instance.first_answer_s,
                                  "all_ready_s": instance.all_ready_s})
            measure_instance(instance, size, rep, scripts, works, args, results)
            if rep == args.repeat - 1:
                record_memory(instance, size, results)
            sites.stop(site, instance.pid)
            ctx["running"].remove(instance)


def estimate_minutes(args: argparse.Namespace, sizes: int, variants: int, works: int) -> float:
    per_start = 3 + args.warmup + works * (args.duration + 0.2)
    return sizes * variants * args.repeat * per_start / 60


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes, variants = args.sizes.split(","), args.variants.split(",")
    unknown = set(variants) - set(sites.VARIANTS)
    if unknown or "bare" not in variants:
        raise SystemExit(f"variants must include bare and be among {', '.join(sites.VARIANTS)}")
    pkg_dir = package_dir(args.venv)
    check_requirements(variants, pkg_dir)
    os.sched_setaffinity(0, {args.wrk_core})  # keep this script off Apache's core
    # Ctrl-C and SIGTERM both stop the servers and print what was measured so far
    # (SIGINT too when started in the background, where it would be ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    works = workloads()
    machine = apache_report.machine_facts(args.venv)
    minutes = estimate_minutes(args, len(sizes), len(variants), len(works))
    progress(f"apache_bench: about {minutes:.0f} minutes")
    base, running, results = make_base(), [], Results()
    problems: list[str] = []
    started = time.time()
    try:
        scripts = prepare(base, sizes, works)
        ctx = {"works": works, "pkg_dir": pkg_dir, "running": running}
        for size in sizes:
            run_size(base, size, variants, scripts, args, ctx, results)
    except (Exception, KeyboardInterrupt) as exc:  # report what was measured, then fail
        progress(traceback.format_exc())
        problems.append(f"run aborted: {type(exc).__name__}: {exc}")
    finally:
        problems += stop_all(running)
        results.logs = error_log_summary(base, sizes, variants)
        left = leftover_apache(base)
        progress("pgrep -a apache2 after the run: " + (left or "(nothing)"))
        if base in left:
            problems.append(f"Apache processes of this run still running:\n{left}")
    apache_report.print_report(machine, args, sys.argv, results, problems, time.time() - started)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "args": vars(args),
                                               **vars(results), "problems": problems},
                                              indent=1) + "\n")
    tracebacks = any(log["tracebacks"] for log in results.logs)
    if args.keep or tracebacks:
        progress(f"run directory kept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if problems or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
