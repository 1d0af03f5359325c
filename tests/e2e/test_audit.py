"""Audit and debug logs through the real mod_python hook (issue "Done when").

A blocked request must produce exactly one audit entry holding its alert, with
the same unique id as the alert line in Apache's error log, and every format
must read back through ``secfilter log``.  Entries are written when Apache
cleans the request up, just after the response, so the tests wait briefly.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid

import pytest

from apache_secfilter.cli.main import main
from apache_secfilter.logs.parse import parse_index, parse_native, parse_serial

from .conftest import Site, StartSite, article_rules

pytestmark = pytest.mark.apache

CONCURRENT = """\
SecAuditLogType Concurrent
SecAuditLogStorageDir {logs}/audit
SecAuditLogParts ABCFHZ
SecAuditLogRelevantStatus "^404$"
SecFilterDebugLog {logs}/debug_log
SecFilterDebugLevel 3
SecFilterSelective ARG_note "^quiet$" "pass,nolog,id:77"
"""


def logs_dir(site: Site) -> str:
    return os.path.join(site.running.spec.run_dir, "logs", "secfilter")


def wait_for(path: str, needle: str, seconds: float = 10.0) -> str:
    end = time.monotonic() + seconds
    text = ""
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path, encoding="latin-1") as handle:
                text = handle.read()
            if needle in text:
                return text
        time.sleep(0.05)
    return text


@pytest.fixture(scope="module")
def concurrent_site(start_site: StartSite) -> Site:
    rules = article_rules().replace("SecAuditLog {logs}/audit_log",
                                    "SecAuditLog {logs}/audit_index")
    return start_site(rules + CONCURRENT)


def test_blocked_request_gives_one_serial_entry_with_its_alert(main_site: Site) -> None:
    marker = uuid.uuid4().hex
    reply = main_site.get(f"/vulnerable.php?file=/etc/passwd&m={marker}")
    assert reply.status == 500
    path = os.path.join(logs_dir(main_site), "audit_log")
    text = wait_for(path, marker)
    entries, truncated = parse_serial(text, path)
    mine = [e for e in entries if marker in e.request_line]
    assert truncated is None and len(mine) == 1
    entry = mine[0]
    assert entry.status == 500 and entry.client_ip == "127.0.0.1"
    assert entry.messages and entry.messages[0].startswith(
        'Access denied with code 500. Pattern match "/etc/passwd" at THE_REQUEST')
    assert "\nmod_security-action: 500\n" in entry.text
    assert "\nHTTP/1.1 500 Internal Server Error\n" in entry.text
    assert re.search(r"\nHandler: application/x-httpd-php\n", entry.text)
    assert re.search(r"\nStopwatch: \d+ \d+ \(request \d+\)\n", entry.text)
    alerts = [x for x in main_site.error_log_text().splitlines() if marker in x]
    assert len(alerts) == 1 and f'[unique_id "{entry.unique_id}"]' in alerts[0]


def test_clean_request_is_not_in_a_relevant_only_log(main_site: Site) -> None:
    marker = uuid.uuid4().hex
    assert main_site.get(f"/index.html?m={marker}").status == 200
    blocked = uuid.uuid4().hex
    main_site.get(f"/vulnerable.php?file=/etc/passwd&m={blocked}")
    text = wait_for(os.path.join(logs_dir(main_site), "audit_log"), blocked)
    assert blocked in text and marker not in text


def test_concurrent_entry_index_and_debug_log(concurrent_site: Site,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    marker = uuid.uuid4().hex
    assert concurrent_site.get(f"/vulnerable.php?file=/etc/passwd&m={marker}").status == 500
    assert concurrent_site.get(f"/missing-{marker}.html").status == 404  # relevant status
    assert concurrent_site.get(f"/index.html?note=quiet&m={marker}").status == 200  # nolog
    logs = logs_dir(concurrent_site)
    index = wait_for(os.path.join(logs, "audit_index"), f"missing-{marker}")
    items, truncated = parse_index(index, "index")
    mine = [i for i in items if marker in i.request_line]
    assert truncated is None and sorted(i.status for i in mine) == [404, 500]
    blocked = next(i for i in mine if i.status == 500)
    with open(os.path.join(logs, "audit", blocked.entry_path.lstrip("/")), encoding="latin-1") \
            as handle:
        entry = parse_native(handle.read(), "entry")
    assert entry.messages[0].startswith("Access denied with code 500")
    assert re.search(r"^--[0-9a-f]{8}-C--$", entry.text, re.M) is None  # GET: no body
    debug = wait_for(os.path.join(logs, "debug_log"), f"m={marker}")
    assert re.search(rf"\[rid#{re.escape(blocked.unique_id)}\]\[[^\]]*\]\[2\] Request ", debug)
    assert "[3] Rule - at " in debug
    code = main(["log", "--storage-dir", os.path.join(logs, "audit"), "--status", "500",
                 os.path.join(logs, "audit_index")])
    out = capsys.readouterr().out
    assert code == 0 and marker in out and "rules=- " not in out.split(marker)[0][-300:]


def test_json_format_one_object_per_line(start_site: StartSite) -> None:
    site = start_site(article_rules().replace("SecAuditLog {logs}/audit_log",
                                              "SecAuditLog {logs}/audit.json")
                      + "SecAuditLogFormat JSON\n")
    marker = uuid.uuid4().hex
    site.request("POST", f"/vulnerable.php?m={marker}", b"file=/etc/passwd",
                 {"Content-Type": "application/x-www-form-urlencoded"})
    text = wait_for(os.path.join(logs_dir(site), "audit.json"), marker)
    objects = [json.loads(x) for x in text.splitlines() if marker in x]
    assert len(objects) == 1
    obj = objects[0]
    assert obj["transaction"]["status"] == 500
    assert obj["request"]["body"] == "file=/etc/passwd"
    assert obj["audit_data"]["messages"][0].startswith("Access denied with code 500")


def test_mod_wsgi_blocked_request_gives_one_serial_entry(wsgi_site: Site) -> None:
    """The mod_wsgi hook logs at its access phase: one entry per blocked request."""
    marker = uuid.uuid4().hex
    assert wsgi_site.get(f"/vulnerable.php?file=/etc/passwd&m={marker}").status == 500
    assert wsgi_site.get(f"/index.html?m=clean{marker}").status == 200
    path = os.path.join(logs_dir(wsgi_site), "audit_log")
    text = wait_for(path, marker)
    entries, truncated = parse_serial(text, path)
    mine = [e for e in entries if marker in e.request_line]
    assert truncated is None and len(mine) == 1
    assert mine[0].status == 500 and mine[0].messages[0].startswith(
        'Access denied with code 500. Pattern match "/etc/passwd" at THE_REQUEST')
    assert f"clean{marker}" not in text  # RelevantOnly
