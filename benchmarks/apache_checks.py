"""What must hold before the benchmark measures, and what is left after it.

Before: the programs, modules and permissions the variants need.  Then, for
each instance, one request per workload; after: its error log, and no
Apache process of the run still alive.  A figure is only worth something
when the request did what it was meant to: the benign ones reached PHP
(which printed its marker and saw the whole body) or got the stylesheet, and
the seed attack was refused with the article's 500 by every firewall.  A
failed check stops the benchmark.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import time
from collections import Counter

import apache_sites as sites

from apache_secfilter.cli.workloads import POST_FIELDS, UPLOAD_SIZE, Workload


def package_dir(venv: str) -> str:
    """The site-packages directory of the venv Apache's embedded Python imports from."""
    python = os.path.join(venv, "bin", "python")
    out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    if not os.path.isfile(os.path.join(out, "apache_secfilter", "__init__.py")):
        raise SystemExit(f"apache_secfilter is not installed in {venv}: "
                         "run SECFILTER_VENV=... bash apache/install-deps.sh")
    return out


def check_requirements(variants: list[str], pkg_dir: str) -> None:
    """Fail before starting anything when a program, module or permission is missing."""
    needed = [sites.APACHE, shutil.which("wrk") or "wrk", shutil.which("taskset") or "taskset"]
    builtin = sites.builtin_modules()
    needed += [f"{sites.MODULES_DIR}/{so}" for variant in variants
               for _, so in sites.modules(variant) if so not in builtin]
    missing = sorted({path for path in needed if not os.path.exists(path)})
    if missing:
        raise SystemExit("missing: " + ", ".join(missing) + " (run apache/install-deps.sh and "
                         "apache/install-bench-deps.sh)")
    init = os.path.join(pkg_dir, "apache_secfilter", "__init__.py")
    if os.geteuid() == 0 and subprocess.run(["runuser", "-u", sites.APACHE_USER, "--", "test",
                                             "-r", init], check=False).returncode:
        raise SystemExit(f"{init} is not readable by {sites.APACHE_USER}, the user Apache's "
                         "children run as")


def leftover_apache(base: str, wait: float = 10.0) -> str:
    """`pgrep -a apache2`, once this run's processes are gone (or after `wait` seconds).

    A stopped Apache parent stays a zombie until init reaps it, so the list
    is polled for a moment before it is reported.
    """
    deadline = time.monotonic() + wait
    while True:
        left = subprocess.run(["pgrep", "-a", "apache2"], capture_output=True, text=True,
                              check=False).stdout.strip()
        if not left or (base not in left and "<defunct>" not in left) \
                or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


class CheckFailed(RuntimeError):
    """An instance answered a check request with the wrong status or body."""


def send(port: int, raw: bytes, timeout: float = 15.0) -> tuple[int, bytes]:
    """Send a request's wire bytes as they are; return the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read()


def expected_body(work: Workload) -> bytes:
    """What the body must contain for a benign request: PHP's marker and what it read."""
    path = work.request.uri.split("?", 1)[0]
    if path.endswith(".css"):
        return sites.PAGES[path.lstrip("/")].encode()
    detail = {"/catalogue/product.php": "product=4711",
              "/contact.php": f"fields={len(POST_FIELDS)}",
              "/upload.php": f"error=0 size={UPLOAD_SIZE}"}[path]
    return detail.encode()


#: Variants without a firewall: the attack reaches PHP.
UNFILTERED = ("bare", "python-empty")


def _expected_status(work: Workload, variant: str, size: str) -> int | None:
    """None: any status (the attack against generated rules is just another request)."""
    if not work.attack:
        return 200
    if variant in UNFILTERED:
        return 200
    return 500 if size == "seed" else None


def check_site(site: sites.Site, size: str, works: list[Workload]) -> list[dict]:
    """One request per workload; raise CheckFailed on a wrong answer, return what was seen."""
    seen = []
    for work in works:
        status, body = send(site.port, work.raw())
        want = _expected_status(work, site.variant, size)
        problem = None
        if want is not None and status != want:
            problem = f"status {status}, expected {want}"
        elif not work.attack:
            marker = expected_body(work)
            needs_php = not work.request.uri.split("?")[0].endswith(".css")
            if marker not in body or (needs_php and sites.PHP_MARKER.encode() not in body):
                problem = f"body does not show that the request was served: {body[:200]!r}"
        elif site.variant in UNFILTERED and b"root:" not in body:
            problem = "the attack did not reach PHP's include() on the bare server"
        if problem:
            raise CheckFailed(f"{size}/{site.variant}/{work.name}: {problem}\n"
                              + sites.log_tail(site.error_log))
        seen.append({"size": size, "variant": site.variant, "workload": work.name,
                     "status": status})
    return seen


#: Parts of an error log line that differ between otherwise equal messages.
_LINE_NOISE = (
    (re.compile(r"^\[[^]]*\d{4}\] "), ""),                      # timestamp
    (re.compile(r"\[pid \d+(:tid \d+)?\] "), ""),
    (re.compile(r"\[client [^]]*\] "), ""),
    (re.compile(r'\[(unique_id|hostname|uri|file|line|data|msg|id) "[^"]*"\]'), r"[\1 …]"),
    (re.compile(r"\d+"), "N"),
)


def _normalise(line: str) -> str:
    for pattern, replacement in _LINE_NOISE:
        line = pattern.sub(replacement, line)
    return line.strip()[:220]


def summarise_log(path: str, top: int = 6) -> dict:
    """Line count, tracebacks, and the most frequent distinct messages of one error log."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {"path": path, "lines": 0, "tracebacks": 0, "top": [], "traceback_text": ""}
    text = "\n".join(lines)
    first = text.find("Traceback")
    counts = Counter(_normalise(line) for line in lines if line.strip())
    return {"path": path, "lines": len(lines), "tracebacks": text.count("Traceback"),
            "top": counts.most_common(top),
            "traceback_text": "\n".join(text[first:].splitlines()[:40]) if first >= 0 else ""}


def error_log_summary(base: str, sizes: list[str], variants: list[str]) -> list[dict]:
    """Every instance's error log (all repetitions of a size and variant share one)."""
    out = []
    for size in sizes:
        for variant in variants:
            path = os.path.join(base, "runs", f"{size}-{variant}", "logs", "error.log")
            if os.path.exists(path):
                out.append({"size": size, "variant": variant, **summarise_log(path)})
    return out
