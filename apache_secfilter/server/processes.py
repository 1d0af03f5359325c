"""Pid files and processes of a `secfilter serve` instance.

Apache and php-fpm detach from the command that starts them, so an instance
is known only by the pid files in its run directory.  These helpers make sure
a pid still names a live process of *that* instance before anyone signals it.
"""

from __future__ import annotations

import os


def read_pid(path: str) -> int | None:
    """The pid in a pid file, or None when absent or unreadable."""
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def belongs_to(pid: int, run_dir: str) -> bool:
    """Whether the process was started with a configuration from this run dir.

    Guards against a stale pid file whose pid the kernel gave to another
    process since: Apache's command line names ``<run-dir>/httpd.conf``,
    php-fpm's master names ``(<run-dir>/php-fpm.conf)``.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    names = (os.path.join(run_dir, "httpd.conf"), os.path.join(run_dir, "php-fpm.conf"))
    return any(f"{name} " in f"{cmdline} " or f"({name})" in cmdline for name in names)
