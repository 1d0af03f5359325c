"""The serial audit log (spec §9.3, decisions G2): byte-exact, parts, escaping."""

from __future__ import annotations

import pytest

from apache_secfilter.logs.record import BODY_LOG_LIMIT
from apache_secfilter.logs.serial import MIDDLE, TOP, format_serial

from .helpers import sample_record, sample_request, sample_verdict

EXPECTED = (
    "========================================\n"
    'Request: www.example.test 192.0.2.10 - - [21/Mar/2006:10:15:02 +0000] '
    '"GET /search.php?q=%3Cscript%3E HTTP/1.1" 403 297 "-" "Mozilla/4.0" '
    'RNzb5X8AAAEAAB@xAAAAAA "-"\n'
    "Handler: application/x-httpd-php\n"
    'Message: Access denied with code 403. Pattern match "<script" at THE_REQUEST '
    '[id "1001"] [msg "XSS probe"] [hostname "www.example.test"] '
    '[uri "/search.php?q=%3Cscript%3E"] [unique_id "RNzb5X8AAAEAAB@xAAAAAA"]\n'
    'Matched-Rule: [id "1001"] [msg "XSS probe"] [file "/etc/apache2/secfilter.rules"] '
    '[line "12"] [at "THE_REQUEST"] [action "deny"] [phase "request"]\n'
    "Action: Intercepted (phase request, deny 403)\n"
    "Stopwatch: 1142936102000000 1520 (request 812)\n"
    "----------------------------------------\n"
    "GET /search.php?q=%3Cscript%3E HTTP/1.1\n"
    "Host: www.example.test\n"
    "User-Agent: Mozilla/4.0\n"
    'mod_security-message: Access denied with code 403. Pattern match "<script" at '
    'THE_REQUEST [id "1001"] [msg "XSS probe"]\n'
    "mod_security-action: 403\n"
    "\n"
    "HTTP/1.1 403 Forbidden\n"
    "Content-Length: 297\n"
    "Connection: close\n"
    "Content-Type: text/html; charset=iso-8859-1\n"
    "\n"
)


def test_byte_exact_sample() -> None:
    assert format_serial(sample_record()) == EXPECTED.encode("ascii")


def test_separators_are_40_characters() -> None:
    assert TOP == "=" * 40 and MIDDLE == "-" * 40


def test_request_body_after_headers_and_response_body_last() -> None:
    record = sample_record(request_body=b"a=1&b=2", response_body=b"<html>x</html>")
    text = format_serial(record).decode()
    head, _, rest = text.partition(MIDDLE + "\n")
    assert rest.index("mod_security-action: 403\n\na=1&b=2\n\nHTTP/1.1 403") >= 0
    assert rest.endswith("Content-Type: text/html; charset=iso-8859-1\n\n<html>x</html>\n\n")


def test_no_body_section_when_not_buffered() -> None:
    text = format_serial(sample_record(request_body=None)).decode()
    assert "mod_security-action: 403\n\nHTTP/1.1 403 Forbidden" in text


def test_empty_buffered_body_keeps_its_place() -> None:
    text = format_serial(sample_record(request_body=b"")).decode()
    assert "mod_security-action: 403\n\n\n\nHTTP/1.1 403" in text


@pytest.mark.parametrize("parts,present,absent", [
    ("AZ", [], ["Message:", "\nGET /search", "\nHTTP/1.1 403", "a=1"]),
    ("ABZ", ["\nGET /search"], ["Message:", "\nHTTP/1.1 403", "a=1"]),
    ("ABCZ", ["\nGET /search", "a=1"], ["\nHTTP/1.1 403"]),
    ("AFHZ", ["\nHTTP/1.1 403", "Message:", "Stopwatch:"], ["\nGET /search", "a=1"]),
    ("ABCEFHZ", ["\nGET /search", "a=1", "\nHTTP/1.1 403", "Message:", "<p>out"], []),
])
def test_parts_choose_sections(parts: str, present: list[str], absent: list[str]) -> None:
    record = sample_record(request_body=b"a=1", response_body=b"<p>out")
    text = format_serial(record, parts).decode()
    assert text.startswith(TOP + "\nRequest: ") and MIDDLE in text
    for item in present:
        assert item in text
    for item in absent:
        assert item not in text


def test_logparts_action_overrides_configured_parts() -> None:
    record = sample_record(request_body=b"a=1", verdict=sample_verdict(logparts="-C"))
    assert "a=1" not in format_serial(record, "ABCFHZ").decode()
    record = sample_record(request_body=b"a=1", verdict=sample_verdict(logparts="+C"))
    assert "a=1" in format_serial(record, "ABFHZ").decode()


def test_control_bytes_in_request_data_never_raw() -> None:
    evil = "/x?a=1\r\n========================================\r\nRequest: forged\x1b[2J"
    request = sample_request(uri=evil, headers=(("Host", "h"), ("X-Evil", "a\nb\x1b]0;t\x07"),
                                                ("Referer", 'q"uote\\')))
    body = b"line1\r\nline2\n" + TOP.encode() + b"\n\x1b[31m\xff"
    data = format_serial(sample_record(request=request, request_body=body,
                                       response_body=b"\x00\x9b"))
    assert b"\r" not in data and b"\x1b" not in data and b"\x07" not in data
    assert b"\x00" not in data and b"\x9b" not in data and b"\xff" not in data
    lines = data.decode("ascii").split("\n")
    assert lines.count(TOP) == 1 and not any(x.startswith("Request: forged") for x in lines)
    assert 'X-Evil: a\\x0ab\\x1b]0;t\\x07' in lines
    assert "line1\\x0d\\x0aline2\\x0a========================================\\x0a\\x1b[31m\\xff" \
        in lines
    assert '"q\\"uote\\\\"' in lines[1]


def test_long_body_is_cut_and_says_so() -> None:
    body = b"a" * (BODY_LOG_LIMIT + 10)
    text = format_serial(sample_record(request_body=body)).decode()
    assert "[10 more bytes not logged]" in text
    assert "a" * BODY_LOG_LIMIT + "\n" in text


def test_null_handler_and_zero_bytes() -> None:
    text = format_serial(sample_record(handler=None, bytes_sent=0)).decode()
    assert "\nHandler: (null)\n" in text
    assert '" 403 - "-"' in text


def test_nolog_match_hidden_unless_auditlog() -> None:
    verdict = sample_verdict()
    hidden = verdict.matches[0].__class__(**{**verdict.matches[0].__dict__, "logged": False})
    text = format_serial(sample_record(verdict=sample_verdict(matches=(hidden,)))).decode()
    assert "Matched-Rule:" not in text
    text = format_serial(sample_record(verdict=sample_verdict(matches=(hidden,),
                                                              audit=True))).decode()
    assert "Matched-Rule: [id \"1001\"]" in text
