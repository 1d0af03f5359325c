"""OUTPUT rules (SecFilterScanOutput On): the mod_python output filter buffers
the whole response and replaces it when a rule fires, however PHP flushed it."""

from __future__ import annotations

import hashlib

import pytest

from .conftest import Site, flush_loop_output

pytestmark = pytest.mark.apache


def test_an_output_rule_replaces_a_page_that_leaks(main_site: Site) -> None:
    reply = main_site.get("/leak.php")
    assert reply.status == 500
    assert b"root:x:0:0" not in reply.body


def test_an_output_rule_replaces_a_page_flushed_in_many_pieces(main_site: Site) -> None:
    """300 flush() calls: the status line must not go out before the end is scanned."""
    reply = main_site.get("/leak_flush.php")
    assert reply.status == 500
    assert b"root:x:0:0" not in reply.body
    assert b"line 299" not in reply.body


def test_a_clean_page_flushed_in_many_pieces_arrives_intact(main_site: Site) -> None:
    reply = main_site.get("/big_flush.php")
    assert reply.status == 200
    expected = flush_loop_output()
    assert hashlib.md5(reply.body).hexdigest() == hashlib.md5(expected).hexdigest()


def test_head_of_a_clean_page(main_site: Site) -> None:
    reply = main_site.request("HEAD", "/big_flush.php")
    assert reply.status == 200
    assert reply.body == b""
