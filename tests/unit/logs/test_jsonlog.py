"""The JSON audit entry (decisions G4): one object per line, same content as the parts."""

from __future__ import annotations

import json

import pytest

from apache_secfilter.logs.jsonlog import entry_object, format_json
from apache_secfilter.logs.record import BODY_LOG_LIMIT

from .helpers import MESSAGE, UID, sample_record, sample_request, sample_verdict


def test_one_line_with_everything() -> None:
    data = format_json(sample_record(request_body=b"q=1", response_body=b"<p>"))
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    obj = json.loads(data)
    tx = obj["transaction"]
    assert tx["time"] == "21/Mar/2006:10:15:02 +0000" and tx["unique_id"] == UID
    assert (tx["client_ip"], tx["client_port"], tx["server_ip"], tx["server_port"]) == \
        ("192.0.2.10", 51234, "192.0.2.1", 80)
    assert tx["request_line"] == "GET /search.php?q=%3Cscript%3E HTTP/1.1"
    assert tx["status"] == 403 and tx["bytes_sent"] == 297
    req = obj["request"]
    assert ["mod_security-message", MESSAGE] in req["headers"]
    assert ["mod_security-action", "403"] in req["headers"]
    assert req["body"] == "q=1" and req["body_size"] == 3 and not req["body_truncated"]
    assert obj["response"]["status_line"] == "HTTP/1.1 403 Forbidden"
    assert obj["response"]["body"] == "<p>"
    data_h = obj["audit_data"]
    assert data_h["messages"][0].startswith("Access denied with code 403.")
    assert data_h["matches"][0]["id"] == "1001"
    assert data_h["matches"][0]["file"] == "/etc/apache2/secfilter.rules"
    assert data_h["matches"][0]["line"] == 12
    assert data_h["handler"] == "application/x-httpd-php"
    assert data_h["stopwatch"] == {"start": 1142936102000000, "total": 1520, "request": 812}
    assert obj["parts"] == "ABCEFHZ"


@pytest.mark.parametrize("parts,keys", [
    ("AZ", {"transaction", "parts"}),
    ("ABZ", {"transaction", "parts", "request"}),
    ("AFZ", {"transaction", "parts", "response"}),
    ("AHZ", {"transaction", "parts", "audit_data"}),
])
def test_parts_choose_keys(parts: str, keys: set[str]) -> None:
    assert set(entry_object(sample_record(), parts)) == keys


def test_body_parts_respected() -> None:
    obj = entry_object(sample_record(request_body=b"x", response_body=b"y"), "ABFZ")
    assert "body" not in obj["request"] and "body" not in obj["response"]
    obj = entry_object(sample_record(request_body=b"x",
                                     verdict=sample_verdict(logparts="+C")), "ABFZ")
    assert obj["request"]["body"] == "x"


def test_bytes_survive_and_no_raw_control_characters() -> None:
    raw = bytes(range(256))
    request = sample_request(uri="/a\r\nb\x1b[0m", headers=(("X", "\x00\x1b\x9b\xff"),))
    data = format_json(sample_record(request=request, request_body=raw))
    assert all(32 <= b < 127 for b in data[:-1])
    obj = json.loads(data)
    assert obj["request"]["body"].encode("latin-1") == raw
    assert obj["request"]["uri"] == "/a\r\nb\x1b[0m"
    assert obj["request"]["headers"][0] == ["X", "\x00\x1b\x9b\xff"]


def test_long_body_cut_with_size() -> None:
    obj = entry_object(sample_record(request_body=b"a" * (BODY_LOG_LIMIT + 1)))
    assert obj["request"]["body_truncated"] and obj["request"]["body_size"] == BODY_LOG_LIMIT + 1
    assert len(obj["request"]["body"]) == BODY_LOG_LIMIT
