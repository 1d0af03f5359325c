"""Per-rule actions through the mod_python hook: redirect, exec, status; and
the subrequests that must not be inspected (decisions R7)."""

from __future__ import annotations

import os
import time

import pytest

from .conftest import Site

pytestmark = pytest.mark.apache


def test_redirect_gives_302_with_its_location(main_site: Site) -> None:
    reply = main_site.get("/post.php?go=redirect-me")
    assert reply.status == 302
    assert reply.headers.get("location") == "http://www.example.test/landing"


def test_exec_runs_its_program(main_site: Site) -> None:
    marker = os.path.join(main_site.markers, "exec-ran")
    reply = main_site.get("/post.php?run=exec-me")
    assert reply.status == 500  # the template's deny,status:500 still applies
    deadline = time.monotonic() + 5
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)  # exec is synchronous (R5); the wait only absorbs fs latency
    assert os.path.exists(marker), "the exec: program did not run"
    with open(marker, encoding="utf-8") as handle:
        assert "run=exec-me" in handle.read()  # it got the request's CGI environment


def test_status_gives_its_code(main_site: Site) -> None:
    assert main_site.get("/post.php?brew=status-me").status == 406


def test_a_benign_request_passes(main_site: Site) -> None:
    assert main_site.get("/post.php?go=elsewhere&brew=tea").status == 200


def test_directory_index_subrequests_are_not_inspected(main_site: Site) -> None:
    """GET / looks up dirindex.html in a subrequest: the rule on that URI must not fire."""
    assert main_site.get("/dirindex.html").status == 403  # the rule works on a main request
    reply = main_site.get("/")
    assert reply.status == 200
    assert b"directory index page" in reply.body
