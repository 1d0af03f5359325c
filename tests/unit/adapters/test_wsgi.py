"""The WSGI middleware against a small WSGI application, with no server."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from apache_secfilter import load_policy
from apache_secfilter.adapters import wsgi
from apache_secfilter.adapters.wsgi import SecFilterMiddleware
from apache_secfilter.engine.transaction import Transaction

RULES = """SecFilterEngine On
SecFilterScanPOST On
SecFilterScanOutput On
SecFilterDefaultAction "deny,log,status:500"
SecFilter /etc/passwd
SecFilterSelective ARG_go "^away$" "redirect:http://example.com/gone"
SecFilterSelective ARG_mark "^yes$" "pass,log,setenv:secfilter_mark=seen"
SecFilterSelective ARG_teapot "^x$" "status:418"
SecFilterSelective OUTPUT "root:x:0:0" "deny,log,status:503"
"""
BOUNDARY = "----pytestboundary"


@dataclass
class Reply:
    status: str
    headers: dict[str, str]
    body: bytes


@dataclass
class EchoApp:
    """Answers with the request body it read; remembers the environ it saw."""

    content_type: str = "text/plain"
    answer: bytes | None = None
    use_write: bool = False
    environ: dict[str, Any] | None = None
    closed: bool = False
    calls: int = 0
    body: bytes = field(default=b"")
    rest: bytes = field(default=b"")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        self.calls += 1
        self.environ = environ
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = environ["wsgi.input"].read(length) if length else b""
        self.rest = environ["wsgi.input"].read()
        payload = self.answer if self.answer is not None else self.body
        write = start_response("200 OK", [("Content-Type", self.content_type),
                                          ("Content-Length", str(len(payload)))])
        if self.use_write:
            half = len(payload) // 2
            write(payload[:half])
            return _Closing([payload[half:]], self)
        return _Closing([payload[:3], payload[3:]], self)


class _Closing(list):
    def __init__(self, items: list[bytes], app: EchoApp) -> None:
        super().__init__(items)
        self.app = app

    def close(self) -> None:
        self.app.closed = True


def environ_for(uri: str, method: str = "GET", body: bytes = b"",
                content_type: str | None = None, **extra: Any) -> dict[str, Any]:
    path, _, query = uri.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "SCRIPT_NAME": "", "PATH_INFO": path,
        "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(), "wsgi.url_scheme": "http",
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    environ.update(extra)
    return environ


def call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> Reply:
    """Drive the app as a WSGI server would, write() callable and close() included."""
    head: dict[str, Any] = {}
    out: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], None]:
        head["status"], head["headers"] = status, dict(headers)
        return out.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            out.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return Reply(head["status"], head["headers"], b"".join(out))


@pytest.fixture
def rules(tmp_path: Path) -> str:
    path = tmp_path / "rules.conf"
    path.write_text(RULES)
    return str(path)


def errors_of(environ: dict[str, Any]) -> str:
    return environ["wsgi.errors"].getvalue()


def multipart(file_bytes: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"upload\"; "
            f"filename=\"data.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + file_bytes + f"\r\n--{BOUNDARY}--\r\n".encode()


# -- request phase ---------------------------------------------------------------------------
def test_get_attack_blocked_with_configured_status(rules: str) -> None:
    app = EchoApp()
    environ = environ_for("/vulnerable.php?file=/etc/passwd")
    reply = call(SecFilterMiddleware(app, rules), environ)
    assert reply.status == "500 Internal Server Error" and app.calls == 0
    assert reply.headers["Content-Type"].startswith("text/html")
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    assert errors_of(environ).startswith("mod_security: Access denied with code 500.")


def test_post_attack_in_body_blocked(rules: str) -> None:
    app = EchoApp()
    environ = environ_for("/form", "POST", b"file=/etc/passwd&x=1",
                          "application/x-www-form-urlencoded")
    reply = call(SecFilterMiddleware(app, rules), environ)
    assert reply.status == "500 Internal Server Error" and app.calls == 0


def test_other_status_and_redirect(rules: str) -> None:
    assert call(SecFilterMiddleware(EchoApp(), rules), environ_for("/?teapot=x")).status \
        == "418 I'm a Teapot"
    reply = call(SecFilterMiddleware(EchoApp(), rules), environ_for("/?go=away"))
    assert reply.status == "302 Found"
    assert reply.headers["Location"] == "http://example.com/gone"
    assert b'href="http://example.com/gone"' in reply.body


@pytest.mark.parametrize(("body", "content_type"), [
    (b"name=value&other=%C3%A9+x", "application/x-www-form-urlencoded"),
    (multipart(bytes(range(256)) * 300), f"multipart/form-data; boundary={BOUNDARY}"),
    (bytes(range(256)) * 4, "application/octet-stream"),
])
def test_benign_post_body_reaches_app_byte_identical(rules: str, body: bytes,
                                                     content_type: str) -> None:
    app = EchoApp(content_type="application/octet-stream")
    environ = environ_for("/upload", "POST", body, content_type)
    reply = call(SecFilterMiddleware(app, rules), environ)
    assert reply.status == "200 OK"
    assert app.body == body and reply.body == body
    assert app.environ is not None and app.environ["CONTENT_LENGTH"] == str(len(body))


def test_body_is_read_no_further_than_content_length(rules: str) -> None:
    app = EchoApp()
    environ = environ_for("/form", "POST", b"a=1", "application/x-www-form-urlencoded")
    environ["wsgi.input"] = io.BytesIO(b"a=1&file=/etc/passwd")  # more than announced
    reply = call(SecFilterMiddleware(app, rules), environ)
    assert reply.status == "200 OK" and app.body == b"a=1"
    assert app.rest == b""  # the replayed input ends where CONTENT_LENGTH said


def test_short_body_is_replayed_with_corrected_length(rules: str) -> None:
    app = EchoApp()
    environ = environ_for("/form", "POST", b"a=1", "application/x-www-form-urlencoded",
                          CONTENT_LENGTH="10")
    call(SecFilterMiddleware(app, rules), environ)
    assert app.body == b"a=1" and app.environ is not None
    assert app.environ["CONTENT_LENGTH"] == "3"


def test_setenv_and_message_visible_to_app(rules: str) -> None:
    app = EchoApp()
    environ = environ_for("/page?mark=yes")
    assert call(SecFilterMiddleware(app, rules), environ).status == "200 OK"
    assert app.environ is not None
    assert app.environ["secfilter_mark"] == "seen"
    assert app.environ["mod_security-relevant"] == "1"
    assert app.environ["HTTP_MOD_SECURITY_MESSAGE"].startswith("Warning. Pattern match")
    assert "mod_security: Warning." in errors_of(environ)


# -- output phase ------------------------------------------------------------------------------
@pytest.mark.parametrize("use_write", [False, True])
def test_output_rule_replaces_response(rules: str, use_write: bool) -> None:
    app = EchoApp(content_type="text/html", answer=b"<pre>root:x:0:0:root:/root</pre>",
                  use_write=use_write)
    environ = environ_for("/page.php")
    reply = call(SecFilterMiddleware(app, rules), environ)
    assert reply.status == "503 Service Unavailable"
    assert b"root:x:0:0" not in reply.body and b"503 Service Unavailable" in reply.body
    assert errors_of(environ).count("mod_security: Access denied with code 503.") == 1
    assert app.closed


@pytest.mark.parametrize("use_write", [False, True])
def test_clean_scanned_response_is_untouched(rules: str, use_write: bool) -> None:
    app = EchoApp(content_type="text/html", answer=b"<p>hello world</p>", use_write=use_write)
    reply = call(SecFilterMiddleware(app, rules), environ_for("/page.php"))
    assert reply.status == "200 OK" and reply.body == b"<p>hello world</p>"
    assert reply.headers["Content-Length"] == "18"


def test_unscanned_type_streams_untouched(rules: str) -> None:
    app = EchoApp(content_type="application/octet-stream", answer=b"root:x:0:0")
    reply = call(SecFilterMiddleware(app, rules), environ_for("/file.bin"))
    assert reply.status == "200 OK" and reply.body == b"root:x:0:0"


def test_request_alerts_are_not_repeated_after_output(rules: str) -> None:
    app = EchoApp(content_type="text/html", answer=b"root:x:0:0")
    environ = environ_for("/p?mark=yes")
    assert call(SecFilterMiddleware(app, rules), environ).status == "503 Service Unavailable"
    log = errors_of(environ)
    assert log.count("mod_security: Warning.") == 1 and log.count("code 503") == 1


# -- lifetime and failures ---------------------------------------------------------------------
def test_transaction_closed_after_response_consumed(rules: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []
    original = Transaction.close
    monkeypatch.setattr(Transaction, "close",
                        lambda self, *a: (closed.append(True), original(self, *a))[1])
    app = EchoApp()
    environ = environ_for("/form", "POST", b"a=1", "application/x-www-form-urlencoded")
    result = SecFilterMiddleware(app, rules)(environ, lambda *_a: (lambda _d: None))
    assert b"".join(result) == b"a=1" and not closed
    result.close()  # type: ignore[attr-defined]
    assert closed == [True] and app.closed


def test_engine_exception_fails_closed(rules: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(wsgi, "Transaction", broken)
    app = EchoApp()
    environ = environ_for("/ok")
    reply = call(SecFilterMiddleware(app, rules), environ)
    assert reply.status == "500 Internal Server Error" and app.calls == 0
    log = errors_of(environ)
    assert log.count("Traceback") == 1 and "RuntimeError: engine exploded" in log


def test_output_scanning_exception_fails_closed(rules: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("scan exploded")

    monkeypatch.setattr(Transaction, "inspect_output", broken)
    environ = environ_for("/page")
    reply = call(SecFilterMiddleware(EchoApp(content_type="text/html", answer=b"ok"), rules),
                 environ)
    assert reply.status == "500 Internal Server Error" and reply.body != b"ok"
    assert errors_of(environ).count("Traceback") == 1


def test_on_error_pass_serves_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pass.conf"
    path.write_text(RULES + "SecFilterOnError Pass\n")
    monkeypatch.setattr(wsgi, "request_from_environ", lambda *a, **k: 1 / 0)
    app = EchoApp(answer=b"served")
    reply = call(SecFilterMiddleware(app, str(path)), environ_for("/ok"))
    assert reply.status == "200 OK" and reply.body == b"served"


def test_broken_policy_denies_every_request(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.conf"
    path.write_text('SecFilterEngine On\nSecFilterSelective ARG_x "(unclosed"\n')
    middleware = SecFilterMiddleware(EchoApp(), str(path))
    assert f"{path}:2:" in capsys.readouterr().err
    environ = environ_for("/")
    assert call(middleware, environ).status == "500 Internal Server Error"
    assert f"Configuration {path} could not be used" in errors_of(environ)


def test_policy_object_and_dynamic_only(tmp_path: Path) -> None:
    path = tmp_path / "dyn.conf"
    path.write_text("SecFilterEngine DynamicOnly\nSecFilter evil\n")
    middleware = SecFilterMiddleware(EchoApp(), policy=load_policy(str(path)))
    # every request reaching a WSGI application is dynamic
    assert call(middleware, environ_for("/?q=evil")).status == "403 Forbidden"


def test_needs_exactly_one_source(rules: str) -> None:
    with pytest.raises(TypeError):
        SecFilterMiddleware(EchoApp())
    with pytest.raises(TypeError):
        SecFilterMiddleware(EchoApp(), rules, policy=load_policy(rules))


def lazy_app(chunks: list[bytes], content_type: str = "text/html") -> Callable[..., Any]:
    """A generator application: start_response runs at the first next()."""
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", content_type)])
        yield from chunks
    return app


def test_generator_app_output_is_scanned(rules: str) -> None:
    reply = call(SecFilterMiddleware(lazy_app([b"a", b"root:x:0:0", b"b"]), rules),
                 environ_for("/"))
    assert reply.status == "503 Service Unavailable"
    reply = call(SecFilterMiddleware(lazy_app([b"a", b"b"]), rules), environ_for("/"))
    assert (reply.status, reply.body) == ("200 OK", b"ab")


@pytest.mark.parametrize("use_write", [False, True])
def test_output_past_the_limit_streams_unscanned(rules: str, use_write: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from apache_secfilter.limits import Limits

    monkeypatch.setattr(Transaction.__init__, "__defaults__", (None, Limits(output_bytes=8)))
    answer = b"0123456789root:x:0:0"
    app = EchoApp(content_type="text/html", answer=answer, use_write=use_write)
    environ = environ_for("/big")
    reply = call(SecFilterMiddleware(app, rules), environ)
    assert (reply.status, reply.body) == ("200 OK", answer)
    assert "response larger than 8 bytes is not scanned" in errors_of(environ)
