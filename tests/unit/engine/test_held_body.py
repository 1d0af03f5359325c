"""A body the caller holds in memory is not spilled to files nobody reads (feed_body held).

The mod_python hook keeps the whole body until the request ends, so writing it
and its uploads to temporary files past SecUploadInMemoryLimit (decisions R3)
saves no memory.  Everything else must stay as with a spilled body: the
verdict, kept uploads, what an approval script sees, and the denial when the
files could not be created.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apache_secfilter import Clocks, Policy, Request, Transaction, Verdict
from apache_secfilter.adapters.programs import ProgramRunner
from tests.unit.engine.test_fastpath import load_text

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
BOUNDARY = "XyZ"
CONTENT = b"quarterly numbers\n" * 6000  # about 100 KB: above every in-memory limit here
RULES = """SecFilterEngine On
SecFilterScanPOST On
SecFilterDefaultAction "deny,log,status:406"
SecUploadInMemoryLimit 1024
SecUploadDir {up}
SecFilterSelective ARG_title "attack"
"""


def upload(title: bytes) -> tuple[Request, bytes]:
    dash = b"--" + BOUNDARY.encode()
    body = (dash + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\n' + title
            + b"\r\n" + dash + b'\r\nContent-Disposition: form-data; name="upload"; '
            b'filename="report.txt"\r\nContent-Type: text/plain\r\n\r\n' + CONTENT
            + b"\r\n" + dash + b"--\r\n")
    headers = (("Host", "www.example.test"),
               ("Content-Type", f"multipart/form-data; boundary={BOUNDARY}"),
               ("Content-Length", str(len(body))))
    return Request("POST", "/upload.php", "HTTP/1.1", headers, "192.0.2.10", 50000), body


def run(policy: Policy, title: bytes, held: bool,
        up: Path) -> tuple[Verdict, list[str], list[str]]:
    """The verdict, the files in ``up`` before the transaction closes, and after."""
    request, body = upload(title)
    tx = Transaction(policy, request, Clocks(NOW, lambda: 0.0), ProgramRunner())
    try:
        tx.feed_body(body, held=held)
        verdict = tx.finish_request()
        during = sorted(os.listdir(up)) if up.is_dir() else []
    finally:
        tx.close()
    return verdict, during, sorted(os.listdir(up)) if up.is_dir() else []


def summary(verdict: Verdict) -> tuple:
    """What must not differ (a temporary file's random name may)."""
    alerts = tuple(re.sub(r"request_body-\w{6}", "request_body-XXXXXX", a)
                   for a in verdict.alerts)
    return (verdict.action, verdict.status, alerts, verdict.matches)


@pytest.mark.parametrize("title", [b"garden bench", b"an attack"])
def test_a_held_body_is_judged_alike_without_temporary_files(title: bytes,
                                                            tmp_path: Path) -> None:
    (up := tmp_path / "up").mkdir()
    policy = load_text(RULES.format(up=up))
    held, during, after = run(policy, title, True, up)
    spilled, spilled_during, spilled_after = run(policy, title, False, up)
    assert summary(held) == summary(spilled)
    assert during == [] and after == []
    assert len(spilled_during) == 2 and spilled_after == []  # the body and the upload


def test_kept_uploads_of_a_held_body_are_written_at_close(tmp_path: Path) -> None:
    (up := tmp_path / "up").mkdir()
    policy = load_text((RULES + "SecUploadKeepFiles On\n").format(up=up))
    verdict, during, after = run(policy, b"x", True, up)
    assert verdict.action == "pass" and during == []
    assert len(after) == 1 and "-request_body-" in after[0]
    assert (up / after[0]).read_bytes() == CONTENT


def test_an_approval_script_sees_the_files_of_a_held_body(tmp_path: Path) -> None:
    (up := tmp_path / "up").mkdir()
    (seen := tmp_path / "seen").mkdir()
    script = tmp_path / "snapshot.sh"
    script.write_text(f"#!/bin/sh\ncp {up}/* {seen}/\necho 1\n")
    script.chmod(0o755)
    policy = load_text(RULES.format(up=up) + f"SecUploadApproveScript {script}\n")
    verdict, _, after = run(policy, b"x", True, up)
    assert verdict.action == "pass" and after == []
    assert len(os.listdir(seen)) == 2  # the spilled body and the upload, as 1.x wrote them


def test_a_held_body_is_denied_where_its_files_could_not_be_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    policy = load_text(RULES.format(up=missing))
    held, _, _ = run(policy, b"x", True, missing)
    spilled, _, _ = run(policy, b"x", False, missing)
    assert summary(held) == summary(spilled)
    assert held.action == "deny" and "Failed to create file" in held.alerts[0]
