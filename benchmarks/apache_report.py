"""The Markdown report of the in-Apache benchmark (``apache_bench.py``).

Figures are medians over the repetitions.  Because Apache runs on a single
core that nothing else uses, 1e6 / (requests per second) is the CPU time one
request takes, whichever process does the work; so the time a firewall adds
to a request is ``1e6/rps - 1e6/rps_bare`` µs.  The ratio column divides
apache_secfilter's added time by mod_security2's for the same rules and request.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
from collections.abc import Iterable

from ruleset import text_for

SECFILTER_VARIANTS = ("secfilter-mod_python", "secfilter-mod_wsgi")


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=30).stdout.strip()
    except OSError:
        return ""


def _package_version(name: str) -> str:
    return _run(["dpkg-query", "-W", "-f=${Version}", name]) or "not installed"


def machine_facts(venv: str) -> dict:
    """What the figures were measured on (printed at the top of the report)."""
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
        models = [ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")]
    apache = _run(["/usr/sbin/apache2", "-v"]).splitlines()
    return {
        "cpu": models[0] if models else platform.processor(),
        "cores": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "os": _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "apache": apache[0].split(":", 1)[-1].strip() if apache else "?",
        "php": _run(["php", "-r", "echo PHP_VERSION;"]),
        "python_embedded": _run(["/usr/bin/python3", "--version"]),
        "mod_python": _package_version("libapache2-mod-python"),
        "mod_wsgi": _package_version("libapache2-mod-wsgi-py3"),
        "mod_security2": _package_version("libapache2-mod-security2"),
        "wrk": _package_version("wrk"),
        "apache_secfilter": _run([os.path.join(venv, "bin", "python"), "-c",
                                  "import importlib.metadata as m; "
                                  "print(m.version('apache_secfilter'))"]),
        "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def rule_count(size: str) -> str:
    """How a rule set is named in the tables."""
    if size != "seed":
        return f"{int(size):,} generated signatures"
    rules = sum(ln.startswith("SecFilter ") or ln.startswith("SecFilterSelective ")
                for ln in text_for("seed").splitlines())
    return f"seed ({rules} rules + URL-encoding check)"


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def aggregate(runs: list[dict]) -> dict[tuple[str, str, str], dict]:
    """Medians and summed errors per (size, variant, workload)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["size"], run["variant"], run["workload"]), []).append(run)
    out = {}
    for key, items in groups.items():
        non_2xx = sum(r["non_2xx"] for r in items)
        sock = sum(r["socket_errors"] for r in items)
        out[key] = {"rps": _median(r["rps"] for r in items),
                    "p50": _median(r["p50_ms"] for r in items),
                    "p99": _median(r["p99_ms"] for r in items),
                    "cpu_us": _median(r["apache_cpu_us"] for r in items),
                    "share": _median(r["apache_core_share"] for r in items),
                    "requests": min(r["requests"] for r in items),
                    "non_2xx": non_2xx, "socket_errors": sock, "reps": len(items),
                    "valid": items[0]["attack"] or (non_2xx == 0 and sock == 0)}
    return out


def added_us(agg: dict, size: str, variant: str, workload: str,
             key: str = "rps") -> float | None:
    """µs one request spends in the firewall: the difference of per-request CPU times.

    key "rps": from requests/s (1e6/rps is the CPU time of a request while
    Apache saturates its core); key "cpu_us": from Apache's measured CPU time.
    """
    bare, this = agg.get((size, "bare", workload)), agg.get((size, variant, workload))
    if not bare or not this or variant == "bare" or not bare[key] or not this[key]:
        return None
    if key == "rps":
        return 1e6 / this["rps"] - 1e6 / bare["rps"]
    return this[key] - bare[key]


def _ratio(agg: dict, size: str, variant: str, workload: str, key: str = "rps") -> str:
    if variant not in SECFILTER_VARIANTS:
        return "–"
    ours, theirs = (added_us(agg, size, v, workload, key) for v in (variant, "modsecurity2"))
    if ours is None or theirs is None:
        return "–"
    if theirs <= 0:
        return "n/a (mod_security2 ≤ 0)"
    return f"{ours / theirs:.2f}×"


def _us(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


#: Fewer completed requests per repetition than this: the figure is rough.
FEW_REQUESTS = 100


def size_table(agg: dict, size: str, variants: list[str], workloads: list[str]) -> list[str]:
    """One rule set: every workload and variant."""
    lines = [f"### {rule_count(size)}", "",
             "| workload | variant | req/s | p50 (ms) | p99 (ms) | added µs/request "
             "| secfilter ÷ mod_security2 | Apache CPU µs/request | Apache's share of its core |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for workload in workloads:
        for variant in variants:
            row = agg.get((size, variant, workload))
            if not row:
                continue
            flag = "" if row["valid"] else " ⚠ invalid"
            few = f" (n={row['requests']})" if row["requests"] < FEW_REQUESTS else ""
            lines.append(f"| {workload} | {variant}{flag} | {row['rps']:,.0f}{few} "
                         f"| {row['p50']:.2f} | {row['p99']:.2f} "
                         f"| {_us(added_us(agg, size, variant, workload))} "
                         f"| {_ratio(agg, size, variant, workload)} "
                         f"| {row['cpu_us']:,.0f} | {row['share']:.0%} |")
    return lines + [""]


def summary_table(agg: dict, sizes: list[str], variants: list[str], workloads: list[str],
                  key: str = "rps") -> list[str]:
    """Added µs per request over bare, all rule sets at a glance (ratio in brackets)."""
    lines = ["| rules | variant | " + " | ".join(workloads) + " |",
             "|---|---|" + "---:|" * len(workloads)]
    for size in sizes:
        for variant in variants:
            if variant == "bare":
                continue
            cells = []
            for w in workloads:
                ratio = _ratio(agg, size, variant, w, key)
                cells.append(_us(added_us(agg, size, variant, w, key))
                             + (f" ({ratio})" if ratio != "–" else ""))
            lines.append(f"| {size} | {variant} | " + " | ".join(cells) + " |")
    return lines + [""]


def hook_table(agg: dict, sizes: list[str], workloads: list[str]) -> list[str]:
    """What the hook adds beyond entering Python at all (its adapter and engine)."""
    lines = ["| rules | " + " | ".join(workloads) + " |", "|---|" + "---:|" * len(workloads)]
    for size in sizes:
        cells = []
        for w in workloads:
            hook = agg.get((size, "secfilter-mod_python", w))
            empty = agg.get((size, "python-empty", w))
            ok = hook and empty and hook["cpu_us"] and empty["cpu_us"]
            cells.append(_us(hook["cpu_us"] - empty["cpu_us"]) if ok else "–")
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return lines + [""]


def memory_table(results, sizes: list[str], variants: list[str]) -> list[str]:  # noqa: ANN001
    """Resident memory after the run, and start-up time, per variant and rule set."""
    lines = ["| rules | variant | children | RSS per child (MiB) | PSS per child (MiB) "
             "| PSS parent + children (MiB) | start → first 200 (s) | start → all children "
             "ready (s) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    mib = 1024.0
    for size in sizes:
        for variant in variants:
            mem = next((m for m in results.memory
                        if m["size"] == size and m["variant"] == variant), None)
            ready = [r for r in results.ready if r["size"] == size and r["variant"] == variant]
            if not mem or not ready:
                continue
            kids = mem["children"] or [(0, 0)]
            rss = _median(k[0] for k in kids) / mib
            pss = _median(k[1] for k in kids) / mib
            total = (mem["parent"][1] + sum(k[1] for k in kids)) / mib
            first = _median(r["first_answer_s"] for r in ready)
            everyone = _median(r["all_ready_s"] for r in ready)
            lines.append(f"| {size} | {variant} | {len(mem['children'])} | {rss:.1f} | {pss:.1f} "
                         f"| {total:.1f} | {first:.2f} | {everyone:.2f} |")
    return lines + [""]


def _log_lines(results) -> list[str]:  # noqa: ANN001
    lines = ["| rules | variant | lines | tracebacks | most frequent messages (count) |",
             "|---|---|---:|---:|---|"]
    for log in results.logs:
        top = "<br>".join(f"{n}× `{msg.replace('|', '/')}`" for msg, n in log["top"][:4])
        lines.append(f"| {log['size']} | {log['variant']} | {log['lines']} | "
                     f"{log['tracebacks']} | {top or '–'} |")
    tracebacks = [log for log in results.logs if log["tracebacks"]]
    for log in tracebacks:
        lines += ["", f"First traceback in {log['path']}:", "", "```",
                  log["traceback_text"], "```"]
    return lines + [""]


def _attack_statuses(results, sizes: list[str]) -> list[str]:  # noqa: ANN001
    """What the attack got from each variant (the check request)."""
    lines = []
    for size in sizes:
        seen = {(c["variant"], c["status"]) for c in results.checks
                if c["size"] == size and c["workload"] == "seed attack"}
        lines.append(f"* {size}: " + ", ".join(f"{v} {s}" for v, s in sorted(seen)))
    return lines


def print_report(machine: dict, args: argparse.Namespace, argv: list[str], results,  # noqa: ANN001
                 problems: list[str], elapsed: float) -> None:
    sizes, variants = args.sizes.split(","), args.variants.split(",")
    agg = aggregate(results.runs)
    workloads = list(dict.fromkeys(r["workload"] for r in results.runs))
    out = ["## In-Apache benchmark: apache_secfilter and mod_security2", "",
           f"* Machine: {machine['cpu']}, {machine['cores']} cores; {machine['kernel']}; "
           f"{machine['os']}",
           f"* {machine['apache']} (prefork), PHP {machine['php']} (mod_php), "
           f"{machine['python_embedded']} embedded (mod_python {machine['mod_python']}, "
           f"mod_wsgi {machine['mod_wsgi']}), mod_security2 {machine['mod_security2']}, "
           f"wrk {machine['wrk']}, apache_secfilter {machine['apache_secfilter']}",
           f"* Load average at start: {machine['load_average_at_start']}; at end: "
           + " ".join(f"{x:.2f}" for x in os.getloadavg()),
           f"* Command: `{shlex.join(['python', *argv])}`",
           f"* wrk: {args.connections} connections, {args.threads} thread(s), {args.duration} s "
           f"per scenario (up to {args.max_duration} s when fewer than "
           f"{10 * args.connections} requests completed), {args.repeat} repetition(s) (median), "
           f"{args.warmup} s warm-up per server start; Apache pinned to core "
           f"{args.apache_core}, wrk to core {args.wrk_core}; "
           f"whole run {elapsed / 60:.1f} min", ""]
    for size in sizes:
        out += size_table(agg, size, variants, workloads)
    out += ["### Added µs per request over bare (1e6/rps − 1e6/rps_bare; secfilter ÷ "
            "mod_security2 in brackets)", ""]
    out += summary_table(agg, sizes, variants, workloads)
    out += ["### Added Apache CPU µs per request over bare (measured CPU time of Apache's "
            "processes; robust to other load on the machine)", ""]
    out += summary_table(agg, sizes, variants, workloads, key="cpu_us")
    if "python-empty" in variants and "secfilter-mod_python" in variants:
        out += ["### The mod_python hook over an empty mod_python fixup handler (Apache CPU "
                "µs per request)", ""]
        out += hook_table(agg, sizes, workloads)
    out += ["### Memory after the run, and start-up", ""]
    out += memory_table(results, sizes, variants)
    out += ["### Seed attack: status per variant (check request)", ""]
    out += _attack_statuses(results, sizes) + [""]
    out += ["### Error logs", ""] + _log_lines(results)
    invalid = [k for k, v in agg.items() if not v["valid"]]
    out += ["### Problems", ""]
    out += [f"* invalid (non-2xx or socket errors on a benign workload): {' / '.join(k)}: "
            f"{agg[k]['non_2xx']} non-2xx, {agg[k]['socket_errors']} socket errors"
            for k in invalid]
    cold = [w for w in results.warmups if w["non_2xx"] or w["socket_errors"]]
    out += [f"* during the warm-up (not measured): {w['size']} / {w['variant']} / rep "
            f"{w['rep'] + 1}: {w['non_2xx']} non-2xx and {w['socket_errors']} socket errors "
            f"in {w['requests']} benign requests" for w in cold]
    out += [f"* {p}" for p in problems]
    if not invalid and not problems and not cold:
        out.append("* none")
    print("\n".join(out))
