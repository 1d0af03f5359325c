"""Start and stop a private Apache 2.4 (and php-fpm) for `secfilter serve`.

One instance = one run directory holding its generated configuration, pid
files, runtime files and logs.  Nothing here touches the system's own Apache:
``/usr/sbin/apache2`` is always started with ``-f <run-dir>/httpd.conf``, and
stopping sends SIGTERM only to the pids recorded in the run directory (after
checking that each really is this instance's process).

When started by root, Apache refuses to run its children as root, so they
(and php-fpm's workers) run as ``www-data``: the run directory is then made
world-readable, its log directory writable by ``www-data``, and the document
root, the rules and the installed package are checked to be readable by it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sysconfig
import time
from dataclasses import asdict, dataclass
from http.client import HTTPConnection, HTTPException

from ..errors import SecFilterError
from .instance_config import (
    ADAPTERS,
    MODULES_DIR,
    STACK_MODULES,
    InstanceSpec,
    UnsafePath,
    render_access_script,
    render_deny_script,
    render_fpm_conf,
    render_httpd_conf,
)
from .permissions import read_problem
from .processes import belongs_to, pid_alive, read_pid

APACHE = "/usr/sbin/apache2"
PHP_FPM = "/usr/sbin/php-fpm8.2"
INFO_FILE = "instance.json"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class InstanceError(SecFilterError):
    """The instance cannot be set up, started or stopped; the message says why."""


def default_run_dir() -> str:
    """Per-user, fixed, so that `secfilter stop` finds it without options."""
    return f"/tmp/apache_secfilter-{os.getuid()}"


def package_dir() -> str:
    """The directory Apache's embedded Python must put on sys.path.

    The installed (non-editable) copy in this interpreter's site-packages is
    preferred: a checkout run from its own directory would otherwise point
    Apache at the checkout, which its user may not be allowed to read.
    """
    purelib = sysconfig.get_path("purelib")
    if os.path.isfile(os.path.join(purelib, "apache_secfilter", "__init__.py")):
        return purelib
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def missing_requirements(adapter: str) -> list[str]:
    """Programs and Apache modules this adapter needs that are not installed."""
    needed = [APACHE] + [os.path.join(MODULES_DIR, so) for _, so in STACK_MODULES[adapter]]
    if adapter == "mod_wsgi":
        needed.append(PHP_FPM)
    return [path for path in needed if not os.path.exists(path)]


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port (or on all addresses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Running:
    """A started instance: its spec and the pids that belong to it."""

    spec: InstanceSpec
    apache_pid: int
    fpm_pid: int | None = None

    @property
    def pids(self) -> list[int]:
        return [p for p in (self.apache_pid, self.fpm_pid) if p]


def make_spec(rules: str, docroot: str, run_dir: str | None = None, port: int = 8080,
              adapter: str = "mod_python", directory_extra: str = "") -> InstanceSpec:
    """A spec with absolute paths, the Apache user when root, a php-fpm port."""
    if adapter not in ADAPTERS:
        raise InstanceError(f"unknown adapter '{adapter}' (use {' or '.join(ADAPTERS)})")
    user = "www-data" if os.geteuid() == 0 else None
    fpm_port = free_port() if adapter == "mod_wsgi" else None
    return InstanceSpec(rules=os.path.abspath(rules), docroot=os.path.abspath(docroot),
                        run_dir=os.path.abspath(run_dir or default_run_dir()),
                        package_dir=package_dir(), port=port, adapter=adapter,
                        fpm_port=fpm_port, user=user, group=user,
                        directory_extra=directory_extra)


def _check_inputs(spec: InstanceSpec, rule_files: list[str]) -> None:
    missing = missing_requirements(spec.adapter)
    if missing:
        raise InstanceError(f"not installed: {', '.join(missing)} (run apache/install-deps.sh)")
    if not os.path.isdir(spec.docroot):
        raise InstanceError(f"document root '{spec.docroot}' is not a directory")
    if spec.user:
        _check_readable(spec, spec.docroot, "the document root", directory=True)
        for path in rule_files:
            _check_readable(spec, path, "the rules file")
        _check_readable(spec, os.path.join(spec.package_dir, "apache_secfilter", "__init__.py"),
                        "the apache_secfilter package (install it where Apache can read it: "
                        "bash apache/install-deps.sh)")


def _check_readable(spec: InstanceSpec, path: str, what: str, directory: bool = False) -> None:
    """Apache's children run as spec.user: fail now rather than with a bare 403 later."""
    problem = read_problem(spec.user or "", path, directory)
    if problem:
        raise InstanceError(f"{what} '{path}' is not readable by {spec.user}, the user "
                            f"Apache's children run as when started by root: {problem}")


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise InstanceError(f"port {port} is not a TCP port number")
    if port_in_use(port):
        raise InstanceError(f"port {port} on 127.0.0.1 is already in use; "
                            "choose another with --port")


def _write(path: str, text: str, mode: int = 0o644) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


def make_dirs(spec: InstanceSpec) -> None:
    """The run dir and its subdirectories, readable by all.

    Apache's root parent opens its own logs and lock files, so only the
    engine's log directory is given to the Apache user: a child could
    otherwise plant a symlink there for root to write through.
    """
    _check_run_dir(spec.run_dir)
    shutil.rmtree(spec.runtime_dir, ignore_errors=True)  # no stale lock files
    for path in (spec.run_dir, spec.log_dir, spec.engine_log_dir, spec.runtime_dir):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)
    if spec.user:
        shutil.chown(spec.engine_log_dir, spec.user, spec.group or spec.user)


def _check_run_dir(run_dir: str) -> None:
    """Refuse a run dir someone else could have prepared (the default is in /tmp)."""
    try:
        st = os.lstat(run_dir)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise InstanceError(f"run dir {run_dir} is not a directory (a symlink?); remove it "
                            "or choose another with --run-dir")
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise InstanceError(f"run dir {run_dir} belongs to another user or is writable by "
                            "others; remove it or choose another with --run-dir")


def write_files(spec: InstanceSpec) -> None:
    """Generate every configuration file of the instance into its run dir."""
    make_dirs(spec)
    try:
        _write(spec.conf_path, render_httpd_conf(spec))
        if spec.adapter == "mod_wsgi":
            _write(spec.fpm_conf_path, render_fpm_conf(spec))
            _write(spec.access_script, render_access_script(spec))
            _write(spec.deny_script, render_deny_script())
    except UnsafePath as exc:
        raise InstanceError(str(exc)) from None


def _env() -> dict[str, str]:
    """A small, predictable environment for apache2 and php-fpm."""
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C", "LC_ALL": "C"}


def _run(argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def config_test(spec: InstanceSpec) -> None:
    """`apache2 -t` (and `php-fpm -t`) on the generated files; their output on failure."""
    result = _run([APACHE, "-f", spec.conf_path, "-t"])
    if result.returncode != 0:
        raise InstanceError(f"apache2 -t rejected {spec.conf_path}:\n"
                            + (result.stdout + result.stderr).strip())
    if spec.adapter == "mod_wsgi":
        result = _run([PHP_FPM, "-t", "-y", spec.fpm_conf_path])
        if result.returncode != 0:
            raise InstanceError(f"php-fpm -t rejected {spec.fpm_conf_path}:\n"
                                + (result.stdout + result.stderr).strip())


def log_tail(path: str, lines: int = 20) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:]).rstrip()
    except OSError:
        return f"({path} could not be read)"


def _wait_pid_file(path: str, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = read_pid(path)
        if pid and pid_alive(pid):
            return pid
        time.sleep(0.05)
    return None


def _start_fpm(spec: InstanceSpec) -> int:
    result = _run([PHP_FPM, "-y", spec.fpm_conf_path])
    pid = _wait_pid_file(spec.fpm_pid_file, 10.0) if result.returncode == 0 else None
    if pid is None:
        raise InstanceError("php-fpm did not start:\n" + (result.stdout + result.stderr).strip()
                            + "\n" + log_tail(spec.fpm_error_log))
    return pid


def _start_apache(spec: InstanceSpec) -> int:
    result = _run([APACHE, "-f", spec.conf_path, "-k", "start"])
    pid = _wait_pid_file(spec.pid_file, 10.0) if result.returncode == 0 else None
    if pid is None:
        raise InstanceError("apache2 did not start:\n" + (result.stdout + result.stderr).strip()
                            + "\n" + log_tail(spec.error_log))
    return pid


def wait_until_answering(spec: InstanceSpec, timeout: float = START_TIMEOUT) -> bool:
    """Poll until Apache answers any HTTP response on its port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = HTTPConnection("127.0.0.1", spec.port, timeout=2)
        try:
            conn.request("GET", "/", headers={"User-Agent": "secfilter-serve-probe"})
            conn.getresponse().read()
            return True
        except (OSError, HTTPException):
            time.sleep(0.1)
        finally:
            conn.close()
    return False


def _save_info(running: Running) -> None:
    info = {"apache_pid": running.apache_pid, "fpm_pid": running.fpm_pid,
            "url": running.spec.url, "spec": asdict(running.spec)}
    _write(os.path.join(running.spec.run_dir, INFO_FILE), json.dumps(info, indent=2) + "\n")


def start(spec: InstanceSpec, rule_files: list[str] | None = None,
          timeout: float = START_TIMEOUT) -> Running:
    """Check, generate, test and start the instance; return once it answers HTTP."""
    if find_running(spec.run_dir):
        raise InstanceError(f"an instance already runs in {spec.run_dir}; "
                            f"stop it first: secfilter stop --run-dir {spec.run_dir}")
    _check_inputs(spec, rule_files or [spec.rules])
    _check_port(spec.port)
    write_files(spec)
    config_test(spec)
    fpm_pid = _start_fpm(spec) if spec.adapter == "mod_wsgi" else None
    try:
        running = Running(spec, _start_apache(spec), fpm_pid)
    except InstanceError:
        _stop_pids(spec.run_dir, [fpm_pid] if fpm_pid else [])
        raise
    _save_info(running)
    if not wait_until_answering(spec, timeout):
        _stop_pids(spec.run_dir, running.pids)
        raise InstanceError(f"Apache did not answer on {spec.url} within {timeout:.0f} s; "
                            f"the end of {spec.error_log}:\n{log_tail(spec.error_log)}")
    return running


def find_running(run_dir: str) -> list[int]:
    """The live pids (Apache, php-fpm) recorded in a run dir."""
    run_dir = os.path.abspath(run_dir)
    pids = [read_pid(os.path.join(run_dir, name)) for name in ("httpd.pid", "php-fpm.pid")]
    return [p for p in pids if p and pid_alive(p) and belongs_to(p, run_dir)]


def _stop_pids(run_dir: str, pids: list[int], timeout: float = STOP_TIMEOUT) -> list[int]:
    """SIGTERM each pid, wait for all to exit; return those that would not."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if pid_alive(p)]


def stop(run_dir: str | None = None) -> list[int]:
    """Stop the instance of a run dir (Apache first, then php-fpm); return the pids stopped.

    Raises InstanceError when nothing runs there, or when a process does not
    exit within the timeout.
    """
    run_dir = os.path.abspath(run_dir or default_run_dir())
    pids = find_running(run_dir)
    if not pids:
        _clean(run_dir)
        raise InstanceError(f"nothing runs in {run_dir} (no live Apache or php-fpm pid file)")
    stuck = _stop_pids(run_dir, pids)
    if stuck:
        raise InstanceError(f"pid {', '.join(map(str, stuck))} did not exit within "
                            f"{STOP_TIMEOUT:.0f} s of SIGTERM")
    _clean(run_dir)
    return pids


def _clean(run_dir: str) -> None:
    """Remove what only matters while running; keep configuration and logs."""
    for name in ("httpd.pid", "php-fpm.pid", INFO_FILE):
        with contextlib.suppress(OSError):
            os.remove(os.path.join(run_dir, name))
    shutil.rmtree(os.path.join(run_dir, "runtime"), ignore_errors=True)


__all__ = ["InstanceError", "InstanceSpec", "Running", "config_test", "default_run_dir",
           "find_running", "free_port", "log_tail", "make_dirs", "make_spec",
           "missing_requirements", "package_dir", "pid_alive", "port_in_use", "read_pid",
           "start", "stop", "wait_until_answering", "write_files"]
