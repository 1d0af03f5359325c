"""Audit/debug log writers: one write per entry, pipes restarted, errors throttled."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from apache_secfilter.adapters import access_audit, modpython_audit, sinks
from apache_secfilter.adapters.sinks import FileSink, LogWriters, PipeSink, Throttle
from apache_secfilter.logs.parse import parse_index, parse_json, parse_native, parse_serial
from apache_secfilter.policy.model import Settings

from .logs.helpers import UID, sample_record


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def serial_settings(path: Path, **changes: Any) -> Settings:
    return replace(Settings(audit_engine="On", audit_log=str(path)), **changes)


# -- files --------------------------------------------------------------------------

def test_file_sink_one_write_per_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_write = os.write
    monkeypatch.setattr(sinks.os, "write", lambda fd, data: calls.append(len(data))
                        or real_write(fd, data))
    writers = LogWriters()
    big = sample_record(request_body=b"x" * 200_000)
    for record in (sample_record(), big):
        assert writers.write_audit(serial_settings(tmp_path / "a.log"), record, print)
    assert len(calls) == 2 and calls[1] > 200_000
    entries, truncated = parse_serial((tmp_path / "a.log").read_text("latin-1"), "a.log")
    assert len(entries) == 2 and truncated is None
    assert stat.S_IMODE((tmp_path / "a.log").stat().st_mode) == 0o640


def test_json_file(tmp_path: Path) -> None:
    writers = LogWriters()
    settings = serial_settings(tmp_path / "a.json", audit_format="JSON")
    for _ in range(3):
        writers.write_audit(settings, sample_record(), print)
    entries, _ = parse_json((tmp_path / "a.json").read_text(), "a.json")
    assert [e.unique_id for e in entries] == [UID] * 3


def test_reopened_after_rotation(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "a.log"
    sink = FileSink(str(path), clock)
    sink.write(b"one\n")
    path.rename(tmp_path / "a.log.1")
    sink.write(b"two\n")  # within a second: still the old file
    clock.now += FileSink.REOPEN_CHECK
    sink.write(b"three\n")
    assert (tmp_path / "a.log.1").read_bytes() == b"one\ntwo\n"
    assert path.read_bytes() == b"three\n"
    sink.close()


def test_relative_paths_start_at_root(tmp_path: Path) -> None:
    writers = LogWriters(root=str(tmp_path))
    writers.write_audit(serial_settings(Path("logs.txt")), sample_record(), print)
    assert (tmp_path / "logs.txt").exists()


# -- errors ---------------------------------------------------------------------------

def test_unwritable_directory_reported_once_a_minute(tmp_path: Path, clock: Clock) -> None:
    (tmp_path / "file").write_text("")
    reports: list[str] = []
    writers = LogWriters(clock=clock)
    settings = serial_settings(tmp_path / "file" / "audit.log")
    for _ in range(5):
        assert writers.write_audit(settings, sample_record(), reports.append) is False
    assert len(reports) == 1 and "cannot write the audit log" in reports[0]
    assert "Not a directory" in reports[0]
    clock.now += 59
    writers.write_audit(settings, sample_record(), reports.append)
    assert len(reports) == 1
    clock.now += 1
    writers.write_audit(settings, sample_record(), reports.append)
    assert len(reports) == 2


def test_full_disk_never_raises(clock: Clock) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    reports: list[str] = []
    writers = LogWriters(clock=clock)
    assert not writers.write_audit(serial_settings(Path("/dev/full")), sample_record(),
                                   reports.append)
    assert "No space left on device" in reports[0]


def test_a_failing_reporter_does_not_raise(tmp_path: Path) -> None:
    def boom(_message: str) -> None:
        raise RuntimeError("error log gone")

    writers = LogWriters()
    settings = serial_settings(tmp_path / "missing" / "a.log")
    assert writers.write_audit(settings, sample_record(), boom) is False


def test_each_log_throttled_separately(clock: Clock) -> None:
    throttle, seen = Throttle(60, clock), []
    for key in ("a", "b", "a", "b"):
        throttle.report(key, key, seen.append)
    assert seen == ["a", "b"]


def test_concurrent_without_storage_dir_is_reported(tmp_path: Path) -> None:
    reports: list[str] = []
    settings = serial_settings(tmp_path / "index", audit_log_type="Concurrent")
    assert not LogWriters().write_audit(settings, sample_record(), reports.append)
    assert "SecAuditLogStorageDir" in reports[0]


# -- concurrent -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["Native", "JSON"])
def test_concurrent_entry_then_index(tmp_path: Path, fmt: str) -> None:
    settings = serial_settings(tmp_path / "index", audit_log_type="Concurrent",
                               audit_storage_dir=str(tmp_path / "store"), audit_format=fmt)
    record = sample_record(request_body=b"a=1")
    assert LogWriters().write_audit(settings, record, print)
    (item,), _ = parse_index((tmp_path / "index").read_text(), "index")
    assert item.entry_path == f"/20060321/20060321-1015/20060321-101502-{UID}"
    data = (tmp_path / "store" / item.entry_path.lstrip("/")).read_bytes()
    assert hashlib.md5(data).hexdigest() == item.entry_md5 and len(data) == item.entry_size
    if fmt == "JSON":
        (entry,), _ = parse_json(data.decode(), "e")
    else:
        entry = parse_native(data.decode(), "e")
    assert entry.rule_ids == ("1001",)
    mode = stat.S_IMODE((tmp_path / "store" / "20060321").stat().st_mode)
    assert mode & 0o007 == 0


def test_concurrent_boundaries_differ(tmp_path: Path) -> None:
    settings = serial_settings(tmp_path / "index", audit_log_type="Concurrent",
                               audit_storage_dir=str(tmp_path / "store"))
    writers = LogWriters()
    for uid in ("one", "two"):
        writers.write_audit(settings, sample_record(unique_id=uid), print)
    heads = {p.read_text().split("\n", 1)[0] for p in (tmp_path / "store").rglob("*-one")} | \
        {p.read_text().split("\n", 1)[0] for p in (tmp_path / "store").rglob("*-two")}
    assert len(heads) == 2


# -- pipes ----------------------------------------------------------------------------

def wait_for(path: Path, text: bytes, seconds: float = 5.0) -> bytes:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists() and text in path.read_bytes():
            break
        time.sleep(0.02)
    return path.read_bytes() if path.exists() else b""


def test_piped_log_restarted_when_it_died(tmp_path: Path, clock: Clock) -> None:
    out = tmp_path / "piped.log"
    sink = PipeSink(f"|/usr/bin/tee -a {out}", clock)
    sink.write(b"first\n")
    assert b"first" in wait_for(out, b"first")
    first = sink._proc
    assert first is not None
    first.kill()
    first.wait()
    with pytest.raises(OSError, match="restarting it shortly"):
        sink.write(b"lost\n")
    clock.now += PipeSink.RESTART_DELAY
    sink.write(b"second\n")
    assert b"second" in wait_for(out, b"second")
    assert sink._proc is not None and sink._proc.pid != first.pid
    sink.close()


def test_piped_log_through_writers_and_shell(tmp_path: Path) -> None:
    out = tmp_path / "piped.json"
    writers = LogWriters()
    settings = serial_settings(Path(f"|$ cat >> {out}"), audit_format="JSON")
    assert writers.write_audit(settings, sample_record(), print)
    data = wait_for(out, b"\n")
    writers.close()
    assert parse_json(data.decode(), "p")[0][0].unique_id == UID


def test_piped_log_without_program_is_reported() -> None:
    reports: list[str] = []
    assert not LogWriters().write_audit(serial_settings(Path("|  ")), sample_record(),
                                        reports.append)
    assert "names no program" in reports[0]


# -- debug log and unique ids ---------------------------------------------------------

def test_debug_writer(tmp_path: Path) -> None:
    writers = LogWriters()
    path = tmp_path / "debug.log"
    off = Settings(debug_log=str(path), debug_level=0)
    assert writers.write_debug(off, sample_record(), print) is False and not path.exists()
    on = Settings(debug_log=str(path), debug_level=2)
    assert writers.write_debug(on, sample_record(), print)
    assert path.read_text().count("\n") == 2  # the alert (1) and the request line (2)


def test_unique_ids() -> None:
    ids = {sinks.new_unique_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{24}", x) for x in ids)


# -- the mod_python end-of-request hook, with a stand-in request ------------------------

class Table(dict):
    pass


class FakeReq:
    def __init__(self, **attrs: Any) -> None:
        self.next = None
        self.status = 200
        self.headers_out = Table()
        self.err_headers_out = Table()
        self.content_type = None
        self.handler = None
        self.bytes_sent = 0
        self.__dict__.update(attrs)


class FakeTx:
    def __init__(self, settings: Settings, record: Any) -> None:
        self.settings = settings
        self.request = record.request
        self.request_verdict = record.verdict

        class View:
            now = record.time

        self.view = View()


def test_finish_writes_the_final_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(modpython_audit._writers, "main", LogWriters())
    record = sample_record()
    final = FakeReq(status=403, bytes_sent=297, handler="application/x-httpd-php",
                    headers_out=Table({"Content-Length": "297"}),
                    content_type="text/html")
    first = FakeReq(next=final, secfilter_body=b"a=1", secfilter_timings=[("request", 5)],
                    secfilter_started=time.monotonic())
    settings = replace(serial_settings(tmp_path / "a.log"), audit_engine="RelevantOnly")
    modpython_audit.finish(first, FakeTx(settings, record), print)  # type: ignore[arg-type]
    (entry,), _ = parse_serial((tmp_path / "a.log").read_text(), "a.log")
    assert entry.status == 403 and entry.rule_ids == ("1001",)
    text = entry.text
    assert "\na=1\n" in text and "Content-Type: text/html" in text
    assert re.search(r"Stopwatch: \d+ \d+ \(request 5\)", text)


def test_finish_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    reports: list[str] = []
    tx = FakeTx(Settings(audit_engine="On", audit_log="/x"), sample_record())
    modpython_audit.finish(object(), tx, reports.append)  # type: ignore[arg-type]
    assert reports and "audit logging failed" in reports[0]


def test_own_unique_id_only_without_apache_s() -> None:
    request = sample_record().request
    assert access_audit.with_unique_id(request) is request
    blank = replace(request, facts=replace(request.facts, unique_id=""))
    assert len(access_audit.with_unique_id(blank).facts.unique_id) == 24



def test_guardian_log_gets_one_summary_line_per_request(tmp_path: Path) -> None:
    """SecGuardianLog (spec §9.6): an access-log-style line for the external monitor."""
    record = sample_record()
    target = tmp_path / "guardian.log"
    writers = LogWriters()
    settings = Settings(guardian_log=str(target))
    assert writers.write_guardian(settings, record, lambda _m: None)
    assert writers.write_guardian(settings, record, lambda _m: None)
    writers.close()
    lines = target.read_text(encoding="latin-1").splitlines()
    assert len(lines) == 2
    assert f'"{record.request.the_request}"' in lines[0]
    assert record.request.remote_addr in lines[0]
