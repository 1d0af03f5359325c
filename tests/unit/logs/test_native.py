"""The concurrent native entry and index line (spec §9.4, decisions G3)."""

from __future__ import annotations

import hashlib
import re

import pytest

from apache_secfilter.logs.native import BOUNDARY, entry_path, format_native, index_line
from apache_secfilter.logs.record import choose_parts

from .helpers import UID, sample_record, sample_verdict

EXPECTED = (
    "--5e1b0c2a-A--\n"
    "[21/Mar/2006:10:15:02 +0000] RNzb5X8AAAEAAB@xAAAAAA 192.0.2.10 51234 192.0.2.1 80\n"
    "\n"
    "--5e1b0c2a-B--\n"
    "GET /search.php?q=%3Cscript%3E HTTP/1.1\n"
    "Host: www.example.test\n"
    "User-Agent: Mozilla/4.0\n"
    'mod_security-message: Access denied with code 403. Pattern match "<script" at '
    'THE_REQUEST [id "1001"] [msg "XSS probe"]\n'
    "mod_security-action: 403\n"
    "\n"
    "--5e1b0c2a-C--\n"
    "q=%3Cscript%3E\n"
    "\n"
    "--5e1b0c2a-F--\n"
    "HTTP/1.1 403 Forbidden\n"
    "Content-Length: 297\n"
    "Connection: close\n"
    "Content-Type: text/html; charset=iso-8859-1\n"
    "\n"
    "--5e1b0c2a-H--\n"
    'Message: Access denied with code 403. Pattern match "<script" at THE_REQUEST '
    '[id "1001"] [msg "XSS probe"] [hostname "www.example.test"] '
    '[uri "/search.php?q=%3Cscript%3E"] [unique_id "RNzb5X8AAAEAAB@xAAAAAA"]\n'
    'Matched-Rule: [id "1001"] [msg "XSS probe"] [file "/etc/apache2/secfilter.rules"] '
    '[line "12"] [at "THE_REQUEST"] [action "deny"] [phase "request"]\n'
    "Apache-Handler: application/x-httpd-php\n"
    "Action: Intercepted (phase request, deny 403)\n"
    "Stopwatch: 1142936102000000 1520 (request 812)\n"
    "Producer: apache_secfilter\n"
    "\n"
    "--5e1b0c2a-Z--\n"
)


def test_byte_exact_sample() -> None:
    record = sample_record(request_body=b"q=%3Cscript%3E")
    assert format_native(record, "5e1b0c2a") == EXPECTED.encode("ascii")


def letters(data: bytes) -> str:
    return "".join(m.group(2) for m in (BOUNDARY.match(x) for x in data.decode().split("\n"))
                   if m)


@pytest.mark.parametrize("configured,logparts,expected", [
    ("ABCEFHZ", None, "ABCEFHZ"),
    ("ABFHZ", None, "ABFHZ"),
    ("BF", None, "ABFZ"),
    ("ABCEFHZ", "ABZ", "ABZ"),
    ("ABFHZ", "+CE", "ABCEFHZ"),
    ("ABCEFHZ", "-CE", "ABFHZ"),
    ("ABCEFHZ", "-AZ", "ABCEFHZ"),
    ("ABHZ", "+C-H", "ABCZ"),
    ("ABHZ", "QX", "AZ"),
])
def test_parts(configured: str, logparts: str | None, expected: str) -> None:
    assert choose_parts(configured, logparts) == expected
    record = sample_record(request_body=b"a=1", response_body=b"<p>",
                           verdict=sample_verdict(logparts=logparts))
    assert letters(format_native(record, "0badcafe", configured)) == expected


def test_bodies_only_when_there_was_one() -> None:
    assert letters(format_native(sample_record(), "00000000")) == "ABFHZ"


def test_boundary_must_be_hex() -> None:
    with pytest.raises(ValueError):
        format_native(sample_record(), "not-hex!")


def test_request_data_cannot_end_a_part() -> None:
    body = b"x\n--5e1b0c2a-Z--\n--5e1b0c2a-H--\nMessage: forged\n"
    data = format_native(sample_record(request_body=body), "5e1b0c2a")
    lines = data.split(b"\n")
    assert lines.count(b"--5e1b0c2a-Z--") == 1 and b"Message: forged" not in lines


def test_entry_path_layout() -> None:
    path = entry_path(sample_record())
    assert path == f"/20060321/20060321-1015/20060321-101502-{UID}"
    odd = entry_path(sample_record(unique_id="../../etc/x y"))
    assert "/.." not in odd and " " not in odd and odd.count("/") == 3


def test_index_line_fields_and_md5() -> None:
    record = sample_record()
    entry = format_native(record, "5e1b0c2a")
    text = index_line(record, entry_path(record), entry).decode()
    digest = hashlib.md5(entry).hexdigest()
    assert text == (
        'www.example.test 192.0.2.10 - - [21/Mar/2006:10:15:02 +0000] '
        '"GET /search.php?q=%3Cscript%3E HTTP/1.1" 403 297 "-" "Mozilla/4.0" '
        f'{UID} "-" /20060321/20060321-1015/20060321-101502-{UID} 0 {len(entry)} '
        f"md5:{digest}\n")
    assert text.count("\n") == 1 and re.search(r" md5:[0-9a-f]{32}\n$", text)
