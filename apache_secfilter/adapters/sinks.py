"""Writers for the audit and debug logs: files, piped programs, entry trees.

Many Apache processes write the same logs at once, so every entry is handed
to the kernel whole:

* a file is opened ``O_APPEND`` once per process and each entry is one
  ``os.write()``; Linux appends one ``write()`` to a regular file as a unit,
  whatever its size (PIPE_BUF only bounds pipes), so entries never interleave;
* a piped log (``"|/path/program args"``) is one program per Apache process,
  so no other writer shares its pipe; it is restarted when it has died;
* a concurrent entry is written whole to its own file, and only then is its
  index line appended (one ``write()``), so an index line never points to a
  partial entry.

A full disk or an unwritable directory must not break request handling: every
failure is caught and reported to the given error-log callable at most once
per minute per log.  See docs/logs.md.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import secrets
import shlex
import subprocess
import threading
import time
from collections.abc import Callable

from ..logs.debug import format_debug
from ..logs.jsonlog import format_json
from ..logs.native import entry_path, format_native, index_line
from ..logs.record import AuditRecord
from ..logs.serial import format_serial, request_summary
from ..policy.model import Settings

Report = Callable[[str], None]
FILE_MODE, DIR_MODE = 0o640, 0o750
_FILE_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_ENTRY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
_counter = itertools.count()


def new_unique_id(now: Callable[[], float] = time.time) -> str:
    """24 characters (base64-url of time, pid, a counter and randomness).

    Used when mod_unique_id gave no ``UNIQUE_ID``: unique across processes
    (pid), within one (counter) and across restarts (time, randomness).
    """
    raw = (int(now() * 1000) % (1 << 48)).to_bytes(6, "big") \
        + (os.getpid() % (1 << 32)).to_bytes(4, "big") \
        + (next(_counter) % (1 << 32)).to_bytes(4, "big") + secrets.token_bytes(4)
    return base64.urlsafe_b64encode(raw).decode("ascii")


def new_boundary() -> str:
    """The 8 hex digits that separate the parts of one native entry."""
    return secrets.token_hex(4)


class Throttle:
    """Reports each problem key at most once per ``interval`` seconds."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.interval, self.clock = interval, clock
        self._last: dict[str, float] = {}

    def report(self, key: str, message: str, report: Report) -> None:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return
        self._last[key] = now
        with contextlib.suppress(Exception):  # reporting must never raise either
            report(message)


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until done; a regular file takes it in one call."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FileSink:
    """An append-only file kept open per process, reopened after rotation."""

    REOPEN_CHECK = 1.0  # seconds between checks that the path is still our file

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.clock = path, clock
        self._fd: int | None = None
        self._pid = 0
        self._checked = 0.0
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        """Append ``data`` with one ``write()``; OSError goes to the caller."""
        with self._lock:
            fd = self._current_fd()
            written = os.write(fd, data)
            if written != len(data):  # only on a full disk: finish the entry anyway
                _write_all(fd, data[written:])
                raise OSError(f"short write ({written} of {len(data)} bytes)")

    def _current_fd(self) -> int:
        if self._fd is None or self._pid != os.getpid() or self._replaced():
            self.close()
            self._fd, self._pid = os.open(self.path, _FILE_FLAGS, FILE_MODE), os.getpid()
            self._checked = self.clock()
        return self._fd

    def _replaced(self) -> bool:
        """True when logrotate moved the file away (checked once a second)."""
        now = self.clock()
        if now - self._checked < self.REOPEN_CHECK or self._fd is None:
            return False
        self._checked = now
        try:
            on_disk, ours = os.stat(self.path), os.fstat(self._fd)
        except OSError:
            return True
        return (on_disk.st_dev, on_disk.st_ino) != (ours.st_dev, ours.st_ino)

    def close(self) -> None:
        """Close this process's descriptor (after a fork, only the child's copy)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class PipeSink:
    """A piped log: ``"|/path/program args"`` started per process, restarted if it died.

    As Apache 2.4, ``|`` and ``||`` run the program without a shell and ``|$``
    through ``/bin/sh -c``.  A program that keeps dying is restarted at most
    every ``RESTART_DELAY`` seconds; entries in between are lost (and reported).
    """

    RESTART_DELAY = 5.0

    def __init__(self, target: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.target, self.clock = target, clock
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._started = -self.RESTART_DELAY
        self._lock = threading.Lock()

    def _argv(self) -> list[str]:
        command = self.target.lstrip("|")
        if command.startswith("$"):
            return ["/bin/sh", "-c", command[1:].strip()]
        argv = shlex.split(command)
        if not argv:
            raise OSError(f"piped log '{self.target}' names no program")
        return argv

    def write(self, data: bytes) -> None:
        with self._lock:
            proc = self._running()
            try:
                _write_all(proc.stdin.fileno(), data)  # type: ignore[union-attr]
            except BrokenPipeError:  # it died since the last entry: start it again
                self.close()
                proc = self._running()
                _write_all(proc.stdin.fileno(), data)  # type: ignore[union-attr]

    def _running(self) -> subprocess.Popen[bytes]:
        proc = self._proc
        if proc is not None and self._pid == os.getpid() and proc.poll() is None:
            return proc
        if self.clock() - self._started < self.RESTART_DELAY and self._pid == os.getpid():
            code = proc.returncode if proc is not None else "?"
            raise OSError(f"piped log program exited ({code}); restarting it shortly")
        self.close()
        self._started, self._pid = self.clock(), os.getpid()
        self._proc = subprocess.Popen(self._argv(), stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, close_fds=True,
                                      start_new_session=True)
        return self._proc

    def close(self) -> None:
        """Close our end of the pipe (the program sees EOF); reap it if it is ours."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if self._pid == os.getpid():
            proc.poll()


Sink = FileSink | PipeSink


class LogWriters:
    """Per-process writers for every audit and debug log a policy names."""

    def __init__(self, root: str | None = None, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root, self.clock = root, clock
        self.throttle = Throttle(interval, clock)
        self._sinks: dict[str, Sink] = {}
        self._lock = threading.Lock()

    def _path(self, path: str) -> str:
        if self.root and not path.startswith("|") and not os.path.isabs(path):
            return os.path.join(self.root, path)
        return path

    def sink(self, target: str) -> Sink:
        target = self._path(target)
        with self._lock:
            sink = self._sinks.get(target)
            if sink is None:
                sink = PipeSink(target, self.clock) if target.startswith("|") \
                    else FileSink(target, self.clock)
                self._sinks[target] = sink
        return sink

    def write_audit(self, settings: Settings, record: AuditRecord, report: Report) -> bool:
        """Write one audit entry as the settings say; never raises."""
        target = settings.audit_log or ""
        try:
            if settings.audit_log_type == "Concurrent":
                self._write_concurrent(settings, record)
            elif settings.audit_format == "JSON":
                self.sink(target).write(format_json(record, settings.audit_parts))
            else:
                self.sink(target).write(format_serial(record, settings.audit_parts))
            return True
        except Exception as exc:  # noqa: BLE001 - logging never breaks a request
            self.throttle.report(f"audit:{target}", f"mod_security: cannot write the audit "
                                 f"log {target}: {_reason(exc)}", report)
            return False

    def _write_concurrent(self, settings: Settings, record: AuditRecord) -> None:
        if not settings.audit_storage_dir:
            raise OSError("SecAuditLogType Concurrent needs SecAuditLogStorageDir")
        if settings.audit_format == "JSON":
            entry = format_json(record, settings.audit_parts)
        else:
            entry = format_native(record, new_boundary(), settings.audit_parts)
        relative = entry_path(record)
        full = self._path(settings.audit_storage_dir).rstrip("/") + relative
        _make_dirs(os.path.dirname(full))
        fd = os.open(full, _ENTRY_FLAGS, FILE_MODE)
        try:
            _write_all(fd, entry)
        finally:
            os.close(fd)
        self.sink(settings.audit_log or "").write(index_line(record, relative, entry))

    def write_debug(self, settings: Settings, record: AuditRecord, report: Report) -> bool:
        """Write the transaction's debug lines (nothing at level 0); never raises."""
        if settings.debug_level <= 0 or not settings.debug_log:
            return False
        try:
            data = format_debug(record, settings.debug_level)
            if data:
                self.sink(settings.debug_log).write(data)
            return True
        except Exception as exc:  # noqa: BLE001 - logging never breaks a request
            self.throttle.report(f"debug:{settings.debug_log}", "mod_security: cannot write "
                                 f"the debug log {settings.debug_log}: {_reason(exc)}", report)
            return False

    def write_transaction(self, settings: Settings, record: AuditRecord, report: Report,
                          audit: bool) -> None:
        """Everything the settings ask to log about one transaction; never raises."""
        if settings.guardian_log:
            self.write_guardian(settings, record, report)
        if audit:
            self.write_audit(settings, record, report)
        self.write_debug(settings, record, report)

    def write_guardian(self, settings: Settings, record: AuditRecord, report: Report) -> bool:
        """SecGuardianLog: one access-log-style line per request for an external
        monitor such as httpd-guardian (spec §9.6); never raises."""
        target = settings.guardian_log
        if not target:
            return False
        try:
            self.sink(target).write((request_summary(record) + "\n").encode("latin-1"))
            return True
        except Exception as exc:  # noqa: BLE001 - logging never breaks a request
            self.throttle.report(f"guardian:{target}", "mod_security: cannot write the "
                                 f"guardian log {target}: {_reason(exc)}", report)
            return False

    def close(self) -> None:
        with self._lock:
            for sink in self._sinks.values():
                sink.close()
            self._sinks.clear()


def _make_dirs(path: str) -> None:
    """Create missing directories, each private to Apache's user (``os.makedirs``
    gives the mode to the last one only)."""
    if not path or os.path.isdir(path):
        return
    _make_dirs(os.path.dirname(path))
    with contextlib.suppress(FileExistsError):  # another process was quicker
        os.mkdir(path, DIR_MODE)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__
