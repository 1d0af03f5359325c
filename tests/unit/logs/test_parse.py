"""Round trips: every format written, then read back by the parsers of `secfilter log`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apache_secfilter.logs.fields import apache_time, parse_apache_time, quoted, unescape
from apache_secfilter.logs.jsonlog import format_json
from apache_secfilter.logs.native import entry_path, format_native, index_line
from apache_secfilter.logs.parse import (
    LogFormatError,
    Truncated,
    detect_format,
    parse_index,
    parse_json,
    parse_native,
    parse_serial,
)
from apache_secfilter.logs.serial import format_serial

from .helpers import UID, WHEN, sample_record, sample_request

latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=40)


def serial_text(*records) -> str:  # type: ignore[no-untyped-def]
    return b"".join(format_serial(r) for r in records).decode("latin-1")


def json_text(*records) -> str:  # type: ignore[no-untyped-def]
    return b"".join(format_json(r) for r in records).decode("latin-1")


def check(entry, record) -> None:  # type: ignore[no-untyped-def]
    assert entry.time == record.time and entry.unique_id == record.unique_id
    assert entry.client_ip == record.request.remote_addr and entry.status == record.status
    assert entry.rule_ids == ("1001",) and entry.rule_msgs == ("XSS probe",)
    assert entry.messages[0].startswith("Access denied with code 403")


def test_serial_round_trip() -> None:
    records = [sample_record(), sample_record(unique_id="second", status=500,
                                              request_body=b"a=1\nb=2")]
    entries, truncated = parse_serial(serial_text(*records), "audit.log")
    assert truncated is None and len(entries) == 2
    for entry, record in zip(entries, records, strict=True):
        check(entry, record)
        assert entry.request_line == record.request.the_request and entry.host == record.host
    assert entries[1].line == serial_text(records[0]).count("\n") + 1


def test_json_round_trip() -> None:
    records = [sample_record(), sample_record(unique_id="b", time=WHEN + timedelta(hours=1))]
    entries, truncated = parse_json(json_text(*records), "audit.json")
    assert truncated is None and [e.line for e in entries] == [1, 2]
    for entry, record in zip(entries, records, strict=True):
        check(entry, record)
        assert entry.request_line == record.request.the_request


def test_native_and_index_round_trip() -> None:
    record = sample_record(request_body=b"q=1")
    entry_bytes = format_native(record, "1234abcd")
    entry = parse_native(entry_bytes.decode("latin-1"), "entry")
    check(entry, record)
    assert entry.request_line == record.request.the_request
    line = index_line(record, entry_path(record), entry_bytes).decode("latin-1")
    (item,), truncated = parse_index(line, "index")
    assert truncated is None and item.entry_path == entry_path(record)
    assert item.entry_size == len(entry_bytes) and item.status == 403
    assert item.request_line == record.request.the_request and item.unique_id == UID


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(uri=latin1, agent=latin1, referer=latin1, host=latin1, client=latin1)
def test_any_request_data_survives_serial_and_index(uri: str, agent: str, referer: str,
                                                    host: str, client: str) -> None:
    request = sample_request(uri="/" + uri, remote_addr=client or "-",
                             headers=(("Host", host), ("User-Agent", agent),
                                      ("Referer", referer)))
    record = sample_record(request=request)
    (entry,), truncated = parse_serial(serial_text(record), "s")
    assert truncated is None and entry.request_line == request.the_request
    assert entry.client_ip == (client or "-")
    assert entry.host == (record.host or "-")
    text = format_serial(record)
    assert all(32 <= b < 127 or b == 10 for b in text)
    data = format_native(record, "00000000")
    line = index_line(record, entry_path(record), data).decode("ascii")
    (item,), _ = parse_index(line, "i")
    assert item.request_line == request.the_request
    (json_entry,), _ = parse_json(json_text(record), "j")
    assert json_entry.request_line == request.the_request


@given(latin1)
def test_quoted_unescape_inverse(text: str) -> None:
    assert unescape(quoted(text)) == text


def test_apache_time_round_trip() -> None:
    assert apache_time(WHEN) == "21/Mar/2006:10:15:02 +0000"
    assert parse_apache_time(apache_time(WHEN)) == WHEN
    with pytest.raises(ValueError):
        parse_apache_time("21/Foo/2006:10:15:02 +0000")


@pytest.mark.parametrize("cut", [1, 50, 200, -30, -2, -1])
def test_serial_truncated_last_entry(cut: int) -> None:
    full = serial_text(sample_record(), sample_record(unique_id="last"))
    first_len = len(serial_text(sample_record()))
    text = full[:first_len + cut] if cut > 0 else full[:cut]
    entries, truncated = parse_serial(text, "audit.log")
    assert [e.unique_id for e in entries] == [UID]
    start = serial_text(sample_record()).count("\n") + 1
    assert isinstance(truncated, Truncated) and truncated.line == start and \
        str(truncated).startswith(f"audit.log:{truncated.line}: last entry is incomplete")


@pytest.mark.parametrize("cut", [1, 10, 100, -2])
def test_json_truncated_last_line(cut: int) -> None:
    full = json_text(sample_record(), sample_record(unique_id="last"))
    first_len = len(json_text(sample_record()))
    text = full[:first_len + cut] if cut > 0 else full[:cut]
    entries, truncated = parse_json(text, "a.json")
    assert [e.unique_id for e in entries] == [UID]
    assert truncated is not None and truncated.line == 2


def test_json_without_final_newline_but_complete_is_kept() -> None:
    entries, truncated = parse_json(json_text(sample_record()).rstrip("\n"), "a.json")
    assert len(entries) == 1 and truncated is None


def test_native_without_z_is_an_error() -> None:
    data = format_native(sample_record(), "00000000").decode()
    with pytest.raises(LogFormatError, match="no Z part"):
        parse_native(data[:-20], "entry")


@pytest.mark.parametrize("text,line,message", [
    ("garbage\n" + "=" * 40 + "\n", 1, "expected a serial entry"),
    ("=" * 40 + "\nRequest: nonsense\n", 2, "expected 'Request: …'"),
])
def test_serial_errors_name_the_line(text: str, line: int, message: str) -> None:
    good = serial_text(sample_record())
    with pytest.raises(LogFormatError) as info:
        parse_serial(text + good, "audit.log")
    assert info.value.line == line and message in info.value.message
    assert str(info.value).startswith(f"audit.log:{line}: ")


def test_json_error_in_the_middle_is_an_error() -> None:
    text = json_text(sample_record()) + "{not json}\n" + json_text(sample_record())
    with pytest.raises(LogFormatError) as info:
        parse_json(text, "a.json")
    assert info.value.line == 2


def test_json_missing_keys_is_an_error() -> None:
    with pytest.raises(LogFormatError, match="not a JSON audit entry"):
        parse_json('{"transaction": {}}\n', "a.json")


@pytest.mark.parametrize("maker,expected", [
    (lambda: serial_text(sample_record()), "serial"),
    (lambda: json_text(sample_record()), "json"),
    (lambda: format_native(sample_record(), "00000000").decode(), "native"),
    (lambda: index_line(sample_record(), "/x", b"").decode(), "index"),
    (lambda: "hello world\n", None),
])
def test_detect_format(maker, expected) -> None:  # type: ignore[no-untyped-def]
    assert detect_format(maker()) == expected
