"""Request bodies: inspected by the mod_python hook, then delivered to PHP intact.

post.php prints md5 digests of what PHP received (php://input, $_POST,
$_FILES), so byte-identical delivery is checked without trusting PHP's
parsing of what we sent.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse

import pytest

from .conftest import Site, php_digest, raw_status, send

pytestmark = pytest.mark.apache

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ALL_BYTES = bytes(range(256))


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def urlencoded_body() -> bytes:
    """Every byte value percent-encoded, plus ordinary fields."""
    value = urllib.parse.quote_from_bytes(ALL_BYTES, safe="")
    return f"name=J%C3%BCrgen+M%C3%BCller&empty=&bytes={value}&n=42".encode()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "secfilter" + os.urandom(8).hex()
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value.encode() + b"\r\n")
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                     .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_urlencoded_body_reaches_php_byte_identical(main_site: Site) -> None:
    body = urlencoded_body()
    reply = main_site.request("POST", "/post.php", body, FORM)
    assert reply.status == 200, reply.body
    seen = php_digest(reply.body)
    assert seen["raw_len"] == str(len(body))
    assert seen["raw_md5"] == md5(body)
    assert seen["post_bytes"] == md5(ALL_BYTES)


def post_multipart(site: Site, binary: bytes) -> dict[str, str]:
    """Upload ``binary`` with a field; check what PHP received; return its digests."""
    body, content_type = multipart({"title": "a binary file"},
                                   {"upload": ("all-bytes.bin", binary)})
    reply = site.request("POST", "/post.php", body, {"Content-Type": content_type})
    assert reply.status == 200, reply.body
    seen = php_digest(reply.body)
    assert seen["file_upload_error"] == "0"
    assert seen["file_upload_size"] == str(len(binary))
    assert seen["file_upload_md5"] == md5(binary)
    assert seen["post_title"] == md5(b"a binary file")
    return seen


def test_multipart_body_with_a_binary_file_reaches_php_byte_identical(main_site: Site) -> None:
    post_multipart(main_site, ALL_BYTES * 64 + os.urandom(4096))


def test_several_posts_on_one_keep_alive_connection(main_site: Site) -> None:
    conn = main_site.connect()
    try:
        first_socket = None
        for i, size in enumerate((10, 70_000, 0, 300_000, 5)):
            body = f"i={i}&data=".encode() + b"a" * size
            reply = send(conn, "POST", "/post.php", body, FORM)
            assert reply.status == 200, reply.body
            assert php_digest(reply.body)["raw_md5"] == md5(body)
            first_socket = first_socket or conn.sock
            assert conn.sock is first_socket, "the server closed the keep-alive connection"
            if i == 2:  # a GET in between must not see a stale body
                reply = send(conn, "GET", "/post.php")
                assert php_digest(reply.body)["raw_len"] == "0"
    finally:
        conn.close()


def test_the_last_block_of_a_replayed_body_is_intact(main_site: Site) -> None:
    """mod_python's filter.write() does not copy: each block must outlive the call.

    These sizes lost their last bytes to the allocator when the block written
    last was freed before PHP read it.
    """
    assert_forms_intact(main_site, (*range(70_001, 70_008), 80_002))


def assert_forms_intact(site: Site, sizes: tuple[int, ...]) -> None:
    """Forms of these sizes on one connection, each reaching PHP byte for byte."""
    conn = site.connect()
    try:
        for size in sizes:
            body = b"b=" + b"x" * (size - 2)
            reply = send(conn, "POST", "/post.php", body, FORM)
            assert reply.status == 200, reply.body
            assert php_digest(reply.body)["raw_md5"] == md5(body), size
    finally:
        conn.close()


def test_an_internal_redirect_still_delivers_the_body(main_site: Site) -> None:
    """mod_rewrite's per-directory rule re-runs the fixup: the body is replayed (R8)."""
    body = urlencoded_body()
    reply = main_site.request("POST", "/pretty/some/page", body, FORM)
    assert reply.status == 200, reply.body
    assert php_digest(reply.body)["raw_md5"] == md5(body)


def test_the_attack_behind_an_internal_redirect_is_blocked(main_site: Site) -> None:
    reply = main_site.request("POST", "/pretty/x", b"file=%2Fetc%2Fpasswd", FORM)
    assert reply.status == 500


def chunked_post(site: Site, pieces: list[bytes]) -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    return site.raw(b"POST /post.php HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)


def test_a_chunked_body_is_refused_with_411(main_site: Site) -> None:
    """decisions R1: SecFilterScanPOST On cannot inspect a chunked body."""
    assert raw_status(chunked_post(main_site, [b"a=123", b"&b=", b"4"])) == 411


def test_a_chunked_body_passes_with_chunked_body_pass(chunk_pass_site: Site) -> None:
    reply = chunked_post(chunk_pass_site, [b"a=123", b"&b=", b"4"])
    assert raw_status(reply) == 200, reply
    body = reply.split(b"\r\n\r\n", 1)[1]
    assert b"raw_md5=" + md5(b"a=123&b=4").encode() in body, reply
