"""The article's test, for real: vulnerable.php asked for /etc/passwd.

With the filter the request gets the configured 500 and the password file
never appears; the same request with ``SecFilterEngine Off`` does leak it, so
the blocking tests prove something.
"""

from __future__ import annotations

import urllib.parse

import pytest

from .conftest import Site

pytestmark = pytest.mark.apache

ATTACKS = [
    "/vulnerable.php?file=/etc/passwd",
    "/vulnerable.php?file=%2Fetc%2Fpasswd",
    "/vulnerable.php?file=//etc//passwd",
    "/vulnerable.php?file=/etc/./passwd",
]


def test_without_the_filter_the_attack_leaks_the_password_file(unfiltered_site: Site) -> None:
    reply = unfiltered_site.get("/vulnerable.php?file=/etc/passwd")
    assert reply.status == 200
    assert b"root:x:0:0" in reply.body


@pytest.mark.parametrize("path", ATTACKS)
def test_the_attack_gets_500_and_no_password_file(main_site: Site, path: str) -> None:
    reply = main_site.get(path)
    assert reply.status == 500
    assert b"root:" not in reply.body


def test_the_alert_goes_to_apaches_error_log_with_the_client(main_site: Site) -> None:
    main_site.get("/vulnerable.php?file=/etc/passwd&alert=probe")
    lines = [line for line in main_site.error_log_text().splitlines()
             if "alert=probe" in line]
    assert any("mod_security: Access denied with code 500" in line
               and "[client 127.0.0.1" in line for line in lines), lines


def test_a_harmless_include_is_served(main_site: Site) -> None:
    reply = main_site.get("/vulnerable.php?file=index.html")
    assert reply.status == 200
    assert b"apache_secfilter demo" in reply.body


def test_the_attack_in_a_urlencoded_post_body_is_blocked(main_site: Site,
                                                         unfiltered_site: Site) -> None:
    body = urllib.parse.urlencode({"file": "/etc/passwd"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    leaked = unfiltered_site.request("POST", "/vulnerable.php", body, headers)
    assert leaked.status == 200 and b"root:x:0:0" in leaked.body
    reply = main_site.request("POST", "/vulnerable.php", body, headers)
    assert reply.status == 500
    assert b"root:" not in reply.body


def test_the_attack_in_a_multipart_post_body_is_blocked(main_site: Site) -> None:
    boundary = "----secfilter-e2e-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
            f"/etc/passwd\r\n--{boundary}--\r\n").encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    reply = main_site.request("POST", "/vulnerable.php", body, headers)
    assert reply.status == 500
    assert b"root:" not in reply.body
