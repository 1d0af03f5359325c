"""Nothing lost, nothing interleaved: 4 processes write 1,200 entries each, at once,
to a serial log, a JSON log and a concurrent log (index + entry files).

Some entries are far above PIPE_BUF (4 KiB and 64 KiB bodies), where pipe
atomicity would not hold, to show that one write() per entry on an O_APPEND
file is what keeps them whole.  Every entry must be present exactly once and
parse, with its body intact.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.synchronize
from collections import Counter
from dataclasses import replace
from pathlib import Path

from apache_secfilter.adapters.sinks import LogWriters
from apache_secfilter.logs.parse import parse_index, parse_json, parse_native, parse_serial
from apache_secfilter.policy.model import Settings

from .helpers import sample_record

PROCESSES, ENTRIES = 4, 1200


def body_for(uid: str, index: int) -> bytes:
    size = 70_000 if index % 97 == 0 else 5_000 if index % 11 == 0 else 40 + index % 300
    unit = (uid + "|").encode()
    return (unit * (size // len(unit) + 1))[:size]


def settings_for(base: Path) -> list[Settings]:
    common = Settings(audit_engine="On")
    return [replace(common, audit_log=str(base / "serial.log")),
            replace(common, audit_log=str(base / "audit.json"), audit_format="JSON"),
            replace(common, audit_log=str(base / "index"), audit_log_type="Concurrent",
                    audit_storage_dir=str(base / "store"))]


def worker(base: str, number: int, start: multiprocessing.synchronize.Event) -> int:
    writers, failures = LogWriters(), []
    all_settings = settings_for(Path(base))
    start.wait()
    for index in range(ENTRIES):
        uid = f"p{number}-{index:05d}"
        record = sample_record(unique_id=uid, request_body=body_for(uid, index))
        for settings in all_settings:
            if not writers.write_audit(settings, record, failures.append):
                return 1
    return 0


def expected_ids() -> set[str]:
    return {f"p{n}-{i:05d}" for n in range(PROCESSES) for i in range(ENTRIES)}


def body_line(text: str) -> str:
    """The request body line of a serial or native entry (after the headers' blank line)."""
    lines = text.split("\n")
    return lines[lines.index("mod_security-action: 403") + 2]


def check_serial(base: Path) -> None:
    entries, truncated = parse_serial((base / "serial.log").read_text("latin-1"), "serial")
    assert truncated is None
    counts = Counter(e.unique_id for e in entries)
    assert set(counts) == expected_ids() and set(counts.values()) == {1}
    writers = [e.unique_id.split("-")[0] for e in entries]
    switches = sum(a != b for a, b in zip(writers, writers[1:], strict=False))
    assert switches > PROCESSES * 10, "the processes did not write at the same time"
    for entry in entries:
        index = int(entry.unique_id.split("-")[1])
        assert body_line(entry.text) == body_for(entry.unique_id, index).decode()
        assert entry.rule_ids == ("1001",)


def check_json(base: Path) -> None:
    import json
    text = (base / "audit.json").read_text("latin-1")
    entries, truncated = parse_json(text, "json")
    assert truncated is None
    counts = Counter(e.unique_id for e in entries)
    assert set(counts) == expected_ids() and set(counts.values()) == {1}
    for raw in text.splitlines():
        obj = json.loads(raw)
        uid = obj["transaction"]["unique_id"]
        assert obj["request"]["body"] == body_for(uid, int(uid.split("-")[1])).decode()


def check_concurrent(base: Path) -> None:
    items, truncated = parse_index((base / "index").read_text("latin-1"), "index")
    assert truncated is None
    counts = Counter(i.unique_id for i in items)
    assert set(counts) == expected_ids() and set(counts.values()) == {1}
    for item in items:
        data = (base / "store" / (item.entry_path or "").lstrip("/")).read_bytes()
        assert hashlib.md5(data).hexdigest() == item.entry_md5
        entry = parse_native(data.decode("latin-1"), item.entry_path or "")
        assert entry.unique_id == item.unique_id
    assert sum(1 for p in (base / "store").rglob("*") if p.is_file()) == len(items)


def run_worker(base: str, number: int, start: multiprocessing.synchronize.Event) -> None:
    raise SystemExit(worker(base, number, start))


def test_many_processes_at_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [context.Process(target=run_worker, args=(str(tmp_path), n, start))
                 for n in range(PROCESSES)]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    check_serial(tmp_path)
    check_json(tmp_path)
    check_concurrent(tmp_path)
