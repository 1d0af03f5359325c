"""The mod_python hook's logic with a stand-in for mod_python (no Apache).

The end-to-end tests drive the real module under prefork; these cover what a
live prefork server cannot show: the threaded-MPM handler-only mode, the
subrequest and internal-redirect paths, and failing closed.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

import pytest

RULES = """SecFilterEngine On
SecFilterScanPOST On
SecFilterDefaultAction "deny,log,status:500"
SecFilter /etc/passwd
SecFilterSelective ARG_go "^away$" "redirect:http://example.test/x"
"""


class ServerReturn(Exception):
    pass


def fake_apache(threaded: bool) -> types.ModuleType:
    apache = types.ModuleType("mod_python.apache")
    apache.DECLINED, apache.OK = -1, 0
    apache.HTTP_FORBIDDEN, apache.HTTP_INTERNAL_SERVER_ERROR = 403, 500
    apache.HTTP_MOVED_TEMPORARILY = 302
    apache.APLOG_ERR, apache.APLOG_WARNING = 3, 4
    apache.REMOTE_NOLOOKUP = 2
    apache.AP_MPMQ_IS_THREADED = 2
    apache.SERVER_RETURN = ServerReturn
    apache.mpm_query = lambda _q: 1 if threaded else 0
    apache.log_error = lambda *a, **k: None
    apache.main_server = types.SimpleNamespace(get_options=lambda: {})
    apache.server_root = lambda: "/"
    return apache


class Table(dict):
    def items(self):  # noqa: ANN201 - mp_table keeps duplicates; a dict is enough here
        return list(super().items())


class FakeRequest:
    def __init__(self, config: str, method: str = "GET", uri: str = "/", body: bytes = b"",
                 headers: dict[str, str] | None = None) -> None:
        self.the_request = f"{method} {uri} HTTP/1.1"
        self.method, self.unparsed_uri, self.uri, self.protocol = method, uri, uri, "HTTP/1.1"
        hdrs = {"Host": "www.example.test", **(headers or {})}
        if body:
            hdrs["Content-Length"] = str(len(body))
        self.headers_in, self.headers_out, self.err_headers_out = Table(hdrs), Table(), Table()
        self.subprocess_env, self.notes = Table(), Table()
        self.main = self.prev = None
        self.filename, self.path_info, self.handler = "/var/www/x.php", "", "php-script"
        self.user = self.ap_auth_type = None
        self.connection = types.SimpleNamespace(client_ip="192.0.2.9", client_addr=("", 5555),
                                                local_addr=("127.0.0.1", 80))
        self.server = types.SimpleNamespace(server_hostname="www.example.test", port=80,
                                            server_admin="")
        self.status, self.content_type, self.bytes_sent = 200, "text/html", 0
        self._body, self._options = body, {"SecFilterConfig": config}
        self.logged: list[str] = []
        self.input_filters: list[str] = []
        self.output_filters: list[str] = []
        self.cleanups: list[Any] = []

    def get_options(self) -> dict[str, str]:
        return self._options

    def document_root(self) -> str:
        return "/var/www"

    def get_remote_host(self, _how: int) -> str:
        return ""

    def log_error(self, message: str, _level: int = 3) -> None:
        self.logged.append(message)

    def read(self, size: int = -1) -> bytes:
        chunk, self._body = self._body[:size], self._body[size:]
        return chunk

    def register_cleanup(self, func: Any, data: Any) -> None:
        self.cleanups.append((func, data))

    def register_input_filter(self, name: str, _handler: str) -> None:
        pass

    def add_input_filter(self, name: str) -> None:
        self.input_filters.append(name)

    def register_output_filter(self, name: str, _handler: str) -> None:
        pass

    def add_output_filter(self, name: str) -> None:
        self.output_filters.append(name)


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "rules.conf"
    path.write_text(RULES)
    return str(path)


def load_hook(monkeypatch: pytest.MonkeyPatch, threaded: bool = False) -> Any:
    package = types.ModuleType("mod_python")
    apache = fake_apache(threaded)
    package.apache = apache
    monkeypatch.setitem(sys.modules, "mod_python", package)
    monkeypatch.setitem(sys.modules, "mod_python.apache", apache)
    for name in ("modpython", "modpython_io"):  # both import mod_python.apache
        monkeypatch.delitem(sys.modules, f"apache_secfilter.adapters.{name}", raising=False)
    return importlib.import_module("apache_secfilter.adapters.modpython")


def test_attack_in_the_body_is_denied_and_a_clean_body_replayed(
        monkeypatch: pytest.MonkeyPatch, config: str) -> None:
    hook = load_hook(monkeypatch)
    req = FakeRequest(config, "POST", "/x.php", b"file=/etc/passwd",
                      {"Content-Type": "application/x-www-form-urlencoded"})
    assert hook.fixuphandler(req) == 500
    assert any("Pattern match" in line for line in req.logged)
    clean = FakeRequest(config, "POST", "/x.php", b"a=1",
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert hook.fixuphandler(clean) == -1
    assert clean.input_filters == ["SECFILTER_REPLAY"] and clean.secfilter_replay == b"a=1"


def test_redirect_sets_location(monkeypatch: pytest.MonkeyPatch, config: str) -> None:
    hook = load_hook(monkeypatch)
    req = FakeRequest(config, uri="/x.php?go=away")
    assert hook.fixuphandler(req) == 302
    assert req.err_headers_out["Location"] == "http://example.test/x"
    assert req.subprocess_env["mod_security-relevant"] == "1"
    assert req.headers_in["mod_security-action"] == "302"


def test_threaded_mpm_runs_handler_only_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                    config: str) -> None:
    hook = load_hook(monkeypatch, threaded=True)
    req = FakeRequest(config, "POST", "/x.php", b"file=/etc/passwd",
                      {"Content-Type": "application/x-www-form-urlencoded"})
    assert hook.fixuphandler(req) == -1  # the body is not read, so not inspected
    assert req._body == b"file=/etc/passwd" and req.input_filters == []
    assert any("threaded MPM" in line for line in req.logged)
    attack = FakeRequest(config, uri="/x.php?f=/etc/passwd")
    assert hook.fixuphandler(attack) == 500  # the request line still is


def test_subrequests_are_not_inspected(monkeypatch: pytest.MonkeyPatch, config: str) -> None:
    hook = load_hook(monkeypatch)
    req = FakeRequest(config, uri="/x.php?f=/etc/passwd")
    req.main = object()
    assert hook.fixuphandler(req) == -1 and req.logged == []


def test_internal_redirect_replays_the_first_body(monkeypatch: pytest.MonkeyPatch,
                                                  config: str) -> None:
    hook = load_hook(monkeypatch)
    first = FakeRequest(config, "POST", "/pretty/x", b"a=1",
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert hook.fixuphandler(first) == -1
    second = FakeRequest(config, "POST", "/post.php")
    second.prev = first
    assert hook.fixuphandler(second) == -1
    assert second.secfilter_replay == b"a=1" and second.input_filters == ["SECFILTER_REPLAY"]


def test_configuration_error_fails_closed(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    hook = load_hook(monkeypatch)
    bad = tmp_path / "bad.conf"
    bad.write_text("SecFilterEngine On\nSecRule ARGS x\n")
    req = FakeRequest(str(bad))
    assert hook.fixuphandler(req) == 500
    assert any(f"{bad}:2:" in line and "2.x" in line for line in req.logged)


def test_engine_fault_fails_closed(monkeypatch: pytest.MonkeyPatch, config: str) -> None:
    hook = load_hook(monkeypatch)
    monkeypatch.setattr(hook, "build_request", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(hook, "request_line", lambda *a, **k: 1 / 0)  # the quick lane's
    req = FakeRequest(config)
    assert hook.fixuphandler(req) == 500
    assert any("ZeroDivisionError" in line for line in req.logged)


def test_a_benign_head_passes_without_a_transaction(monkeypatch: pytest.MonkeyPatch,
                                                    config: str) -> None:
    hook = load_hook(monkeypatch)
    req = FakeRequest(config, "GET", "/x.php?id=4&sort=price", headers={"Accept": "*/*"})
    assert hook.fixuphandler(req) == -1
    assert not hasattr(req, "secfilter_tx") and not req.cleanups  # the quick lane
    attack = FakeRequest(config, "GET", "/x.php?file=/etc/passwd")
    assert hook.fixuphandler(attack) == 500 and attack.secfilter_tx is not None
    overridden = FakeRequest(config, "GET", "/x.php?id=4")
    overridden.subprocess_env["MODSEC_ENABLE"] = "Off"
    assert hook.fixuphandler(overridden) == -1 and overridden.secfilter_tx is not None


def test_a_benign_form_is_replayed_without_a_transaction(monkeypatch: pytest.MonkeyPatch,
                                                         config: str) -> None:
    hook = load_hook(monkeypatch)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    clean = FakeRequest(config, "POST", "/x.php", b"name=J%41ne&city=Paris", form)
    assert hook.fixuphandler(clean) == -1 and not hasattr(clean, "secfilter_tx")
    assert clean.secfilter_replay == b"name=J%41ne&city=Paris"
    attack = FakeRequest(config, "POST", "/x.php", b"f=%2Fetc%2Fpasswd", form)
    assert hook.fixuphandler(attack) == 500 and attack.secfilter_tx is not None
    assert attack.secfilter_body == b"f=%2Fetc%2Fpasswd"  # read once, fed to the engine


@pytest.mark.parametrize("env", [("MODSEC_ENABLE", "Off"), ("MODSEC_NOPOSTBUFFERING", "1")])
def test_a_body_the_transaction_does_not_inspect_still_reaches_the_handler(
        monkeypatch: pytest.MonkeyPatch, config: str, env: tuple[str, str]) -> None:
    """Read early for the quick lane (which it did not satisfy) or not read at all."""
    hook = load_hook(monkeypatch)
    body = b"a=1&f=/etc/passwd"  # the lane cannot pass it; unbuffered, nothing inspects it
    req = FakeRequest(config, "POST", "/x.php", body,
                      {"Content-Type": "application/x-www-form-urlencoded"})
    req.subprocess_env[env[0]] = env[1]
    assert hook.fixuphandler(req) == -1
    if req._body:  # never read: the handler reads it from the connection
        assert req._body == body and req.input_filters == []
    else:
        assert req.input_filters == ["SECFILTER_REPLAY"] and req.secfilter_replay == body
