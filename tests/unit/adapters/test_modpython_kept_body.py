"""The mod_python hook's use of mod_request's kept body, with stand-ins (no Apache).

The end-to-end tests (tests/e2e/test_kept_body.py) show the bodies reaching
PHP; these pin down what a live server cannot show: that ``KEEP_BODY`` is added
before the first read and only when it is safe, and each way the replay
filter's first call can go (kept body, none, other bytes, a line wanted).
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from .test_modpython import FakeRequest, config, load_hook  # noqa: F401 - config: fixture

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OPTION = "SecFilterKeptBodySize"
WARNING = "SecFilterKeptBodySize is set, but mod_request's KeptBodySize is not in effect"
READBYTES, GETLINE = 0, 1


class FakeFilter:
    """What the replay filter uses of mod_python's filter object."""

    def __init__(self, req: Any, wanted: int, below: list[bytes | None],
                 mode: int = READBYTES) -> None:
        self.req, self.wanted, self.mode = req, wanted, mode
        self.below = below  # what filter.read() returns, call by call
        self.written: list[bytes] = []
        self.closed = self.disabled = False
        self.reads = 0

    def read(self) -> bytes | None:
        self.reads += 1
        return self.below.pop(0) if self.below else None

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def disable(self) -> None:
        self.disabled = True


class BodyRequest(FakeRequest):
    """Records whether KEEP_BODY was in the chain when the body was first read."""

    def read(self, size: int = -1) -> bytes:
        self.filters_at_read = getattr(self, "filters_at_read", list(self.input_filters))
        return super().read(size)


def hook_for(monkeypatch: pytest.MonkeyPatch, registered: bool = True) -> Any:
    hook = load_hook(monkeypatch)
    monkeypatch.setattr(body_io(), "requested_bytes", lambda f: (f.wanted, f.mode))
    monkeypatch.setattr(body_io(), "input_filter_registered", lambda name: registered)
    return hook


def body_io() -> Any:
    """The hook's body module, as loaded with the stand-in mod_python."""
    return sys.modules["apache_secfilter.adapters.modpython_io"]


def post(config: str, body: bytes, option: str | None = "2097152",  # noqa: F811
         headers: dict[str, str] | None = None) -> BodyRequest:
    req = BodyRequest(config, "POST", "/x.php", body, {**FORM, **(headers or {})})
    if option is not None:
        req._options[OPTION] = option
    return req


def call(hook: Any, req: Any, wanted: int, below: list[bytes | None] | None = None,
         mode: int = READBYTES) -> FakeFilter:
    fltr = FakeFilter(req, wanted, list(below or []), mode)
    body_io().replay(fltr)
    return fltr


def test_keep_body_is_added_before_the_first_read(monkeypatch: pytest.MonkeyPatch,
                                                  config: str) -> None:  # noqa: F811
    hook = hook_for(monkeypatch)
    req = post(config, b"a=1&b=2")
    assert hook.fixuphandler(req) == -1
    assert req.filters_at_read == ["KEEP_BODY"]
    assert req.input_filters == ["KEEP_BODY", "SECFILTER_REPLAY"]
    assert (req.secfilter_kept, req.secfilter_check, req.secfilter_hold) == (True, True, True)


def test_the_kept_body_is_handed_on_and_the_filter_steps_aside(
        monkeypatch: pytest.MonkeyPatch, config: str) -> None:  # noqa: F811
    hook = hook_for(monkeypatch)
    body = b"a=" + b"x" * 9000
    req = post(config, body)
    hook.fixuphandler(req)
    first = call(hook, req, 5000, [body[:5000]])
    assert first.written == [body[:5000]] and first.disabled and not first.closed
    assert req.notes["secfilter-body"] == "kept" and req.secfilter_pos == 5000
    assert req.secfilter_written == [body[:5000]]  # alive until the request ends
    assert req.logged == []


@pytest.mark.parametrize(("below", "why"), [
    ([None], "no kept body below the hook"),
    ([b""], "no kept body below the hook"),
    ([b"a=y"], "the kept body differs from the body read"),
])
def test_without_the_kept_body_the_held_copy_is_replayed_and_it_says_so(
        monkeypatch: pytest.MonkeyPatch, config: str,  # noqa: F811
        below: list[bytes | None], why: str) -> None:
    hook = hook_for(monkeypatch)
    body = b"a=" + b"x" * 9000
    req = post(config, body)
    hook.fixuphandler(req)
    first = call(hook, req, 5000, below)
    assert first.written == [body[:5000]] and not first.disabled
    assert req.notes["secfilter-body"] == "python"
    second = call(hook, req, 5000)
    assert second.reads == 0 and second.written == [body[5000:]] and second.closed
    assert not second.disabled  # never passes through: a kept body may be below
    third = call(hook, req, 5000)
    assert third.written == [] and third.closed and not third.disabled
    assert [line for line in req.logged if WARNING in line] == [
        line for line in req.logged if why in line] != []
    again = post(config, body)  # once per process
    hook.fixuphandler(again)
    call(hook, again, 5000)
    assert not any(WARNING in line for line in again.logged)


def test_a_line_is_replayed_from_the_held_copy(monkeypatch: pytest.MonkeyPatch,
                                               config: str) -> None:  # noqa: F811
    hook = hook_for(monkeypatch)
    req = post(config, b"a=1\nb=2")
    hook.fixuphandler(req)
    first = call(hook, req, 8192, [b"a=1\nb=2"], mode=GETLINE)
    assert first.reads == 0 and first.written == [b"a=1\n"]
    assert req.notes["secfilter-body"] == "python" and req.logged == []


@pytest.mark.parametrize(("body", "option", "headers"), [
    (b"a=" + b"x" * 998, "2000", {}),  # 1000 bytes: twice fits
    (b"a=" + b"x" * 999, "2000", {}),  # 1001: not twice
    (b"a=1", None, {}),
    (b"a=1", "", {}),
    (b"a=1", "2097152", {"Transfer-Encoding": "chunked"}),
])
def test_keep_body_only_when_twice_the_length_fits(
        monkeypatch: pytest.MonkeyPatch, config: str, body: bytes,  # noqa: F811
        option: str | None, headers: dict[str, str]) -> None:
    hook_for(monkeypatch)
    req = post(config, body, option, headers)
    assert body_io().read_all(req) == body
    kept = option == "2000" and len(body) == 1000 or option == "2097152" and not headers
    assert req.input_filters == (["KEEP_BODY"] if kept else [])
    body_io().replay_body(req, body)
    assert req.secfilter_check is kept
    assert req.secfilter_hold is bool(option)
    if not kept:
        assert req.notes["secfilter-body"] == "python"


def test_without_the_option_the_filter_passes_through_after_the_body(
        monkeypatch: pytest.MonkeyPatch, config: str) -> None:  # noqa: F811
    hook = hook_for(monkeypatch)
    req = post(config, b"a=1", option=None)
    hook.fixuphandler(req)
    last = call(hook, req, 8192)
    assert last.written == [b"a=1"] and last.closed and last.disabled and last.reads == 0


def test_mod_request_not_loaded(monkeypatch: pytest.MonkeyPatch,
                                config: str) -> None:  # noqa: F811
    hook = hook_for(monkeypatch, registered=False)
    req = post(config, b"a=1")
    hook.fixuphandler(req)
    assert req.input_filters == ["SECFILTER_REPLAY"] and not req.secfilter_check
    assert any("mod_request is not loaded" in line for line in req.logged)
    last = call(hook, req, 8192)
    assert last.written == [b"a=1"] and last.reads == 0 and not last.disabled


def test_an_option_that_is_not_a_number_is_ignored(monkeypatch: pytest.MonkeyPatch,
                                                   config: str) -> None:  # noqa: F811
    hook = hook_for(monkeypatch)
    req = post(config, b"a=1", option="2M")
    hook.fixuphandler(req)
    assert req.input_filters == ["SECFILTER_REPLAY"]
    assert any("'2M' is not a number of bytes" in line for line in req.logged)


def test_an_internal_redirect_replays_the_held_copy(monkeypatch: pytest.MonkeyPatch,
                                                    config: str) -> None:  # noqa: F811
    """Apache hands a kept body on to subrequests only."""
    hook = hook_for(monkeypatch)
    first = post(config, b"a=1")
    hook.fixuphandler(first)
    second = FakeRequest(config, "POST", "/post.php")
    second.prev = first
    assert hook.fixuphandler(second) == -1
    assert (second.secfilter_check, second.secfilter_hold) == (False, True)
    last = call(hook, second, 8192)
    assert last.written == [b"a=1"] and last.reads == 0 and not last.disabled
    assert second.notes["secfilter-body"] == "python" and second.logged == []
