"""Request bodies handed to PHP from mod_request's kept body, and what happens without it.

With ``SecFilterKeptBodySize`` and mod_request's ``KeptBodySize`` (the main
site, as ``secfilter serve`` sets it up), the hook has mod_request keep the
body it reads and PHP reads that copy through mod_request's C filter.  A
misconfiguration (mod_request not loaded, ``KeptBodySize`` 0) must never cost
a body: the hook finds no kept body, replays its own copy in Python, and says
so once per Apache process.  post.php prints ``body_via``, the request note
the hook sets: ``kept`` or ``python``.
"""

from __future__ import annotations

import os

import pytest

from apache_secfilter.server.instance_config import KEPT_BODY_SIZE

from .conftest import Site, php_digest, send
from .test_bodies import (
    ALL_BYTES,
    FORM,
    assert_forms_intact,
    md5,
    multipart,
    post_multipart,
    urlencoded_body,
)

pytestmark = pytest.mark.apache

WARNING = "SecFilterKeptBodySize is set, but mod_request's KeptBodySize is not in effect"
#: The largest body the hook has mod_request keep (it is counted twice).
LARGEST_KEPT = KEPT_BODY_SIZE // 2


def post_form(site: Site, body: bytes) -> dict[str, str]:
    reply = site.request("POST", "/post.php", body, FORM)
    assert reply.status == 200, reply.body
    seen = php_digest(reply.body)
    assert seen["raw_len"] == str(len(body))
    assert seen["raw_md5"] == md5(body)
    return seen


def upload() -> bytes:
    """A 100 KB binary file, as in the benchmark's upload."""
    return ALL_BYTES * 64 + os.urandom(100_000 - 256 * 64)


# -- the kept body in effect ---------------------------------------------------------------
def test_a_multipart_upload_reaches_php_from_the_kept_body(main_site: Site) -> None:
    assert post_multipart(main_site, upload())["body_via"] == "kept"


def test_an_urlencoded_form_reaches_php_from_the_kept_body(main_site: Site) -> None:
    seen = post_form(main_site, urlencoded_body())
    assert seen["post_bytes"] == md5(ALL_BYTES)
    assert seen["body_via"] == "kept"


def test_the_largest_kept_body_and_one_byte_more(main_site: Site) -> None:
    """Up to half of KeptBodySize is kept; above it, the hook replays in Python."""
    assert post_form(main_site, b"a=" + b"k" * (LARGEST_KEPT - 2))["body_via"] == "kept"
    assert post_form(main_site, b"a=" + b"p" * (LARGEST_KEPT - 1))["body_via"] == "python"


def test_a_body_larger_than_kept_body_size_is_not_refused(main_site: Site) -> None:
    """mod_request answers 413 above KeptBodySize wherever it is in effect."""
    assert post_form(main_site, b"a=" + b"z" * (KEPT_BODY_SIZE + 1000))["body_via"] == "python"


def test_a_body_the_hook_does_not_read_is_not_limited(unfiltered_site: Site) -> None:
    """KeptBodySize is in effect only for the bodies the hook keeps (the <If>).

    A plain KeptBodySize would have mod_request refuse, with 413, any larger
    body PHP reads where the hook did not read it (here: engine Off).
    """
    for size in (LARGEST_KEPT - 100, KEPT_BODY_SIZE + 1000):
        body = b"a=" + b"u" * size
        reply = unfiltered_site.request("POST", "/post.php", body, FORM)
        assert reply.status == 200, reply.body[:300]
        assert php_digest(reply.body)["raw_md5"] == md5(body)


def test_kept_and_replayed_posts_on_one_keep_alive_connection(main_site: Site) -> None:
    conn = main_site.connect()
    try:
        first_socket = None
        for i, size in enumerate((10, 70_000, 0, LARGEST_KEPT + 10, 300_000, 5)):
            body = f"i={i}&data=".encode() + b"a" * size
            reply = send(conn, "POST", "/post.php", body, FORM)
            assert reply.status == 200, reply.body
            seen = php_digest(reply.body)
            assert seen["raw_md5"] == md5(body)
            assert seen["body_via"] == ("kept" if 2 * len(body) <= KEPT_BODY_SIZE else "python")
            first_socket = first_socket or conn.sock
            assert conn.sock is first_socket, "the server closed the keep-alive connection"
            if i == 2:  # a GET in between must not see a stale body
                reply = send(conn, "GET", "/post.php")
                assert php_digest(reply.body)["raw_len"] == "0"
        reply = send(conn, "POST", "/post.php", b"file=%2Fetc%2Fpasswd", FORM)
        assert reply.status == 500  # refused, and the connection still serves
        reply = send(conn, "POST", "/post.php", b"after=refusal", FORM)
        assert php_digest(reply.body)["raw_md5"] == md5(b"after=refusal")
    finally:
        conn.close()


def test_the_kept_body_is_still_inspected(main_site: Site) -> None:
    assert main_site.request("POST", "/post.php", b"file=%2Fetc%2Fpasswd", FORM).status == 500
    body, content_type = multipart({"cmd": "cat /etc/passwd"},
                                   {"upload": ("a.bin", upload())})
    assert main_site.request("POST", "/post.php", body,
                             {"Content-Type": content_type}).status == 500


def test_an_internal_redirect_replays_the_kept_body_in_python(main_site: Site) -> None:
    """Apache hands a kept body on to subrequests only: the hook replays its copy once."""
    body = urlencoded_body()
    reply = main_site.request("POST", "/pretty/some/page", body, FORM)
    assert reply.status == 200, reply.body
    seen = php_digest(reply.body)
    assert (seen["raw_md5"], seen["body_via"]) == (md5(body), "python")


def test_the_main_site_never_warns(main_site: Site) -> None:
    post_form(main_site, urlencoded_body())
    assert WARNING not in main_site.error_log_text()


# -- without the option: as before ---------------------------------------------------------
def test_without_the_option_bodies_are_replayed_in_python(replay_site: Site) -> None:
    assert post_multipart(replay_site, upload())["body_via"] == "python"
    assert post_form(replay_site, urlencoded_body())["body_via"] == "python"
    body = urlencoded_body()
    reply = replay_site.request("POST", "/pretty/x", body, FORM)
    assert php_digest(reply.body)["raw_md5"] == md5(body)
    assert replay_site.request("POST", "/post.php", b"file=%2Fetc%2Fpasswd", FORM).status == 500
    assert WARNING not in replay_site.error_log_text()


# -- misconfigured: bodies intact, and the error log says why ------------------------------
@pytest.mark.parametrize(("fixture", "why"), [
    ("unloaded_site", "mod_request is not loaded"),
    ("kept_off_site", "no kept body below the hook"),
])
def test_a_misconfiguration_replays_in_python_and_warns(request: pytest.FixtureRequest,
                                                        fixture: str, why: str) -> None:
    site: Site = request.getfixturevalue(fixture)
    conn = site.connect()
    try:
        for body in (urlencoded_body(), b"a=1", b"b=" + b"x" * 70_000):
            reply = send(conn, "POST", "/post.php", body, FORM)
            seen = php_digest(reply.body)
            assert (seen["raw_md5"], seen["body_via"]) == (md5(body), "python")
    finally:
        conn.close()
    assert post_multipart(site, upload())["body_via"] == "python"
    assert site.request("POST", "/post.php", b"file=%2Fetc%2Fpasswd", FORM).status == 500
    log = site.error_log_text()
    warnings = [line for line in log.splitlines() if WARNING in line]
    assert warnings and all(why in line for line in warnings), log[-2000:]


# -- replayed blocks stay intact until PHP has read them -----------------------------------
@pytest.mark.parametrize("fixture", ["replay_site", "unloaded_site"])
def test_the_last_block_of_a_replayed_body_is_intact(request: pytest.FixtureRequest,
                                                     fixture: str) -> None:
    """As test_bodies' test of the name, on the sites that replay in Python.

    mod_python's filter.write() does not copy: each block must outlive the call.
    """
    site: Site = request.getfixturevalue(fixture)
    assert_forms_intact(site, (*range(70_001, 70_008), 80_002, LARGEST_KEPT + 3))
