"""Each logging directive, from a configuration file to the bytes on disk."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from apache_secfilter.adapters.sinks import LogWriters
from apache_secfilter.logs.decide import should_audit
from apache_secfilter.logs.parse import parse_index, parse_json, parse_native, parse_serial

from .helpers import policy_from, record_for, run, sample_request

BASE = """SecFilterEngine On
SecAuditEngine RelevantOnly
SecFilterDefaultAction "deny,log,status:403"
SecFilterSelective ARG_q "<script" "id:1001,msg:'XSS probe'"
"""


def write_blocked(tmp_path: Path, extra: str) -> None:
    policy = policy_from(tmp_path, BASE + extra.format(tmp=tmp_path))
    request = sample_request(uri="/s?q=<script>")
    verdict = run(policy, request)
    assert should_audit(policy.settings, verdict, 403, True)
    record = record_for(request, verdict, 403, request_body=b"a=1")
    writers = LogWriters()
    reports: list[str] = []
    assert writers.write_audit(policy.settings, record, reports.append), reports
    writers.write_debug(policy.settings, record, reports.append)
    writers.close()
    assert reports == []


def test_serial_native(tmp_path: Path) -> None:
    write_blocked(tmp_path, "SecAuditLog {tmp}/audit_log\nSecAuditLogType Serial\n"
                            "SecAuditLogFormat Native\n")
    (entry,), _ = parse_serial((tmp_path / "audit_log").read_text(), "a")
    assert entry.rule_ids == ("1001",) and "\na=1\n" in entry.text


def test_serial_json(tmp_path: Path) -> None:
    write_blocked(tmp_path, "SecAuditLog {tmp}/audit.json\nSecAuditLogFormat JSON\n")
    (entry,), _ = parse_json((tmp_path / "audit.json").read_text(), "a")
    assert entry.rule_ids == ("1001",)


@pytest.mark.parametrize("fmt", ["Native", "JSON"])
def test_concurrent(tmp_path: Path, fmt: str) -> None:
    write_blocked(tmp_path, "SecAuditLog {tmp}/index\nSecAuditLogType Concurrent\n"
                            f"SecAuditLogStorageDir {{tmp}}/store\nSecAuditLogFormat {fmt}\n")
    (item,), _ = parse_index((tmp_path / "index").read_text(), "i")
    text = (tmp_path / "store" / (item.entry_path or "").lstrip("/")).read_text()
    entry = parse_native(text, "e") if fmt == "Native" else parse_json(text, "e")[0][0]
    assert entry.rule_ids == ("1001",)


def test_parts(tmp_path: Path) -> None:
    write_blocked(tmp_path, "SecAuditLog {tmp}/index\nSecAuditLogType Concurrent\n"
                            "SecAuditLogStorageDir {tmp}/store\nSecAuditLogParts ABHZ\n")
    entry_file = next(p for p in (tmp_path / "store").rglob("*") if p.is_file())
    text = entry_file.read_text()
    assert "-B--\n" in text and "-H--\n" in text and "-C--\n" not in text
    assert "-F--\n" not in text


def test_piped_log(tmp_path: Path) -> None:
    write_blocked(tmp_path, 'SecAuditLog "|$ cat >> {tmp}/piped"\n')
    end = time.monotonic() + 5
    while time.monotonic() < end and not (tmp_path / "piped").exists():
        time.sleep(0.02)
    time.sleep(0.1)
    (entry,), _ = parse_serial((tmp_path / "piped").read_text(), "p")
    assert entry.rule_ids == ("1001",)


@pytest.mark.parametrize("level,lines", [(0, 0), (1, 1), (2, 2)])
def test_debug_log(tmp_path: Path, level: int, lines: int) -> None:
    write_blocked(tmp_path, "SecAuditLog {tmp}/audit_log\nSecFilterDebugLog {tmp}/debug\n"
                            f"SecFilterDebugLevel {level}\n")
    path = tmp_path / "debug"
    assert (path.read_text().count("\n") if path.exists() else 0) == lines
