"""The mod_wsgi hook with fake environs: access answers, the deny app, the start-up report."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pytest

from apache_secfilter.adapters import modwsgi
from apache_secfilter.adapters.modwsgi import deny_application, make_access
from apache_secfilter.engine.quick import UNSURE, QuickLane

RULES = """SecFilterEngine On
SecFilterDefaultAction "deny,log,status:500"
SecFilter /etc/passwd
SecFilterSelective ARG_go "^away$" "redirect:http://example.com/gone"
SecFilterSelective ARG_teapot "^x$" "status:418"
"""


def write_rules(tmp_path: Path, text: str, name: str = "rules.conf") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def access_environ(uri: str, method: str = "GET", **extra: str) -> dict[str, Any]:
    """What mod_wsgi gives a WSGIAccessScript (apache-hooks.md §1.2)."""
    path, _, query = uri.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": path, "PATH_INFO": "",
        "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "localhost",
        "HTTP_USER_AGENT": "pytest", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.errors": io.StringIO(),
    }
    environ.update(extra)
    return environ


def error_document_environ(uri: str, status: str = "403") -> dict[str, Any]:
    """The ErrorDocument sub-request to /__secfilter_deny for ``uri``."""
    return {"REQUEST_METHOD": "GET", "REQUEST_URI": uri, "SCRIPT_NAME": "/__secfilter_deny",
            "PATH_INFO": "", "REDIRECT_STATUS": status, "REDIRECT_URL": uri.split("?")[0],
            "wsgi.errors": io.StringIO()}


class Reply:
    """What the deny application sent."""

    def __init__(self, app: Any, environ: dict[str, Any]) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}
        self.body = b"".join(app(environ, self.start_response))

    def start_response(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, dict(headers)


def errors_of(environ: dict[str, Any]) -> str:
    return environ["wsgi.errors"].getvalue()


@pytest.fixture
def allow_access(tmp_path: Path) -> Any:
    return make_access(write_rules(tmp_path, RULES))


def test_benign_request_is_allowed(allow_access: Any) -> None:
    environ = access_environ("/index.php?id=1")
    assert allow_access(environ, "127.0.0.1") is True
    assert errors_of(environ) == ""


def test_attack_denied_and_deny_app_answers_configured_status(allow_access: Any) -> None:
    environ = access_environ("/vulnerable.php?file=/etc/passwd")
    assert allow_access(environ, "127.0.0.1") is False
    log = errors_of(environ)
    assert log.startswith("mod_security: Access denied with code 500. Pattern match")
    assert log.count("\n") == 1
    reply = Reply(deny_application, error_document_environ("/vulnerable.php?file=/etc/passwd"))
    assert reply.status == "500 Internal Server Error"
    assert reply.headers["Content-Type"].startswith("text/html")
    assert b"500 Internal Server Error" in reply.body and "Location" not in reply.headers


def test_any_standard_status_is_served(allow_access: Any) -> None:
    assert allow_access(access_environ("/t?teapot=x"), "127.0.0.1") is False
    assert Reply(deny_application, error_document_environ("/t?teapot=x")).status \
        == "418 I'm a Teapot"


def test_redirect_gives_302_with_location(allow_access: Any) -> None:
    environ = access_environ("/page?go=away")
    assert allow_access(environ, "127.0.0.1") is False
    assert "Access denied with redirection to http://example.com/gone" in errors_of(environ)
    reply = Reply(deny_application, error_document_environ("/page?go=away"))
    assert reply.status == "302 Found"
    assert reply.headers["Location"] == "http://example.com/gone"


def test_qualified_redirect_url_matches(allow_access: Any) -> None:
    allow_access(access_environ("/page?go=away"), "127.0.0.1")
    environ = error_document_environ("/page?go=away")
    environ["REDIRECT_URL"] = "http://localhost/page"  # QualifyRedirectURL On
    assert Reply(deny_application, environ).status == "302 Found"


def test_stale_decision_never_leaks_to_next_request(allow_access: Any) -> None:
    assert allow_access(access_environ("/a?file=/etc/passwd"), "127.0.0.1") is False
    # the ErrorDocument never ran (e.g. a .htaccess overrode it); a benign request follows
    assert allow_access(access_environ("/a"), "127.0.0.1") is True
    reply = Reply(deny_application, error_document_environ("/a?file=/etc/passwd"))
    assert reply.status == "403 Forbidden"


def test_foreign_403_gets_plain_403_and_clears_decision(allow_access: Any) -> None:
    assert allow_access(access_environ("/x?file=/etc/passwd"), "127.0.0.1") is False
    assert Reply(deny_application, error_document_environ("/private/")).status \
        == "403 Forbidden"
    # the decision was cleared: even its own URL now gets the plain answer
    assert Reply(deny_application, error_document_environ("/x?file=/etc/passwd")).status \
        == "403 Forbidden"


def test_same_path_other_query_does_not_match(allow_access: Any) -> None:
    assert allow_access(access_environ("/x?file=/etc/passwd"), "127.0.0.1") is False
    assert Reply(deny_application, error_document_environ("/x?other=1")).status \
        == "403 Forbidden"


def test_foreign_error_status_is_kept() -> None:
    assert Reply(deny_application, error_document_environ("/y", status="401")).status \
        == "401 Unauthorized"


def test_direct_request_to_deny_app_is_404() -> None:
    reply = Reply(deny_application, {"REQUEST_METHOD": "GET", "REQUEST_URI": "/__secfilter_deny"})
    assert reply.status == "404 Not Found"


def test_decisions_are_per_thread(allow_access: Any) -> None:
    assert allow_access(access_environ("/t?file=/etc/passwd"), "127.0.0.1") is False
    seen: list[str] = []
    other = threading.Thread(target=lambda: seen.append(
        Reply(deny_application, error_document_environ("/t?file=/etc/passwd")).status))
    other.start()
    other.join()
    assert seen == ["403 Forbidden"]
    assert Reply(deny_application, error_document_environ("/t?file=/etc/passwd")).status \
        == "500 Internal Server Error"


def test_post_is_inspected_without_a_body(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, RULES + "SecFilterScanPOST On\n")
    allow_access = make_access(rules)
    post = access_environ("/form.php", "POST", CONTENT_TYPE="application/x-www-form-urlencoded",
                          CONTENT_LENGTH="9")
    assert allow_access(post, "127.0.0.1") is True
    chunked = access_environ("/form.php", "POST", HTTP_TRANSFER_ENCODING="chunked")
    assert allow_access(chunked, "127.0.0.1") is True  # no 411: the body is not read here


# -- the start-up report -------------------------------------------------------------------
BLIND_RULES = """SecFilterEngine On
SecFilterScanPOST On
SecFilterScanOutput On
SecFilterSelective POST_PAYLOAD "evil"
SecFilterSelective FILE_NAME_upload "\\.php$"
SecFilterSelective FILES_COUNT "^[1-9]"
SecFilterSelective HTTP_Authorization "evil"
SecFilterSelective HEADER_Proxy-Authorization "evil"
SecFilterSelective ENV_SECRET "x"
SecFilterSelective OUTPUT "root:x:0:0"
SecFilterSelective OUTPUT_STATUS "^500$"
SecFilterSelective ARG_id|ENV_X "union"
SecFilterSelective ARG_q "fine"
SecFilter "also fine"
"""


def test_startup_report_names_every_rule_that_cannot_run(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    rules = write_rules(tmp_path, BLIND_RULES)
    make_access(rules)
    lines = capsys.readouterr().err.splitlines()
    where = sorted(int(line.split(":")[2]) for line in lines)
    assert where == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert all(line.startswith(f"mod_security: {rules}:") for line in lines)
    by_line = {int(line.split(":")[2]): line for line in lines}
    assert "SecFilterScanPOST On has no effect" in by_line[2]
    assert "SecFilterScanOutput On has no effect" in by_line[3]
    assert "cannot work as written" in by_line[4] and "request body" in by_line[4]
    assert "withholds this header" in by_line[7] and "withholds this header" in by_line[8]
    assert "SetEnv" in by_line[9] and "response" in by_line[10]
    assert "works only in part" in by_line[12] and "ENV_X" in by_line[12]


def test_startup_report_is_once_per_process(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rules = write_rules(tmp_path, BLIND_RULES)
    make_access(rules)
    first = capsys.readouterr().err
    make_access(rules)
    assert first and capsys.readouterr().err == ""


def test_setenv_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = write_rules(tmp_path, 'SecFilterEngine On\nSecFilterSelective ARG_a "b" '
                                  '"pass,setenv:flag=1"\n')
    make_access(rules)
    assert f"{rules}:2: setenv/setnote of this rule have no effect" in capsys.readouterr().err


# -- configurations that cannot be used ---------------------------------------------------
def test_dynamic_only_denies_every_request(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rules = write_rules(tmp_path, "SecFilterEngine DynamicOnly\nSecFilter evil\n")
    allow_access = make_access(rules)
    err = capsys.readouterr().err
    assert f"{rules}:1: SecFilterEngine DynamicOnly cannot be used with the mod_wsgi" in err
    assert err.count("\n") == 1
    environ = access_environ("/harmless.html")
    assert allow_access(environ, "127.0.0.1") is False
    assert "Access denied with code 500" in errors_of(environ)
    assert Reply(deny_application, error_document_environ("/harmless.html")).status \
        == "500 Internal Server Error"


def test_broken_policy_denies_with_reason(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rules = write_rules(tmp_path, 'SecFilterEngine On\nSecFilterSelective ARG_x "(unclosed"\n')
    allow_access = make_access(rules)
    err = capsys.readouterr().err
    assert "every request is denied with 500" in err and f"{rules}:2:" in err
    for uri in ("/a", "/b?c=d"):
        environ = access_environ(uri)
        assert allow_access(environ, "127.0.0.1") is False
        log = errors_of(environ)
        assert log.count("\n") == 1 and f"Configuration {rules} could not be used" in log
    assert capsys.readouterr().err == ""  # the reason is logged once per process


def test_missing_policy_file_denies(tmp_path: Path) -> None:
    allow_access = make_access(str(tmp_path / "absent.conf"))
    assert allow_access(access_environ("/"), "127.0.0.1") is False


# -- internal errors (decisions R6) ------------------------------------------------------------
def test_adapter_error_fails_closed(allow_access: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(modwsgi, "Transaction", broken)
    monkeypatch.setattr(modwsgi, "request_head", broken)  # the quick lane's
    environ = access_environ("/ok")
    assert allow_access(environ, "127.0.0.1") is False
    log = errors_of(environ)
    assert log.count("Traceback") == 1 and "RuntimeError: boom" in log
    assert Reply(deny_application, error_document_environ("/ok")).status \
        == "500 Internal Server Error"


def test_engine_error_fails_closed(allow_access: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from apache_secfilter.engine import transaction

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("engine fault")

    monkeypatch.setattr(transaction, "evaluate", broken)  # the plain rule loop
    monkeypatch.setattr(transaction, "evaluate_fast", broken)  # the prefiltered one
    monkeypatch.setattr(QuickLane, "judge", lambda *a: UNSURE)  # reach the rule loop
    environ = access_environ("/ok")
    assert allow_access(environ, "127.0.0.1") is False
    log = errors_of(environ)
    assert "Access denied with code 500" in log and log.count("Traceback") == 1


def test_quick_lane_error_fails_closed(allow_access: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("lane fault")

    monkeypatch.setattr(QuickLane, "judge", broken)
    environ = access_environ("/ok")
    assert allow_access(environ, "127.0.0.1") is False
    log = errors_of(environ)
    assert "internal error, request denied with 500" in log and "lane fault" in log


def test_on_error_pass_lets_request_through(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    allow_access = make_access(write_rules(tmp_path, RULES + "SecFilterOnError Pass\n"))
    monkeypatch.setattr(modwsgi, "request_from_environ", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(modwsgi, "request_head", lambda *a, **k: 1 / 0)
    environ = access_environ("/ok")
    assert allow_access(environ, "127.0.0.1") is True
    assert "SecFilterOnError Pass" in errors_of(environ)


def test_error_document_request_through_the_access_script_keeps_decision(
        allow_access: Any) -> None:
    """With WSGIAccessScript on <Location />, Apache checks the ErrorDocument redirect too."""
    assert allow_access(access_environ("/v?file=/etc/passwd"), "127.0.0.1") is False
    redirect = access_environ("/v?file=/etc/passwd")
    redirect["SCRIPT_NAME"] = "/__secfilter_deny"  # r->uri of the internal redirect
    assert allow_access(redirect, "127.0.0.1") is True
    assert Reply(deny_application, error_document_environ("/v?file=/etc/passwd")).status \
        == "500 Internal Server Error"


def test_subrequests_are_not_inspected(allow_access: Any) -> None:
    """mod_dir's index lookups and mod_include carry SERVER_PROTOCOL=INCLUDED (R7)."""
    assert allow_access(access_environ("/v?file=/etc/passwd"), "127.0.0.1") is False
    sub = access_environ("/v?file=/etc/passwd", SERVER_PROTOCOL="INCLUDED")
    sub["SCRIPT_NAME"] = "/index.php"
    assert allow_access(sub, "127.0.0.1") is None and errors_of(sub) == ""
    # the main request's decision is still there for its ErrorDocument
    assert Reply(deny_application, error_document_environ("/v?file=/etc/passwd")).status \
        == "500 Internal Server Error"
