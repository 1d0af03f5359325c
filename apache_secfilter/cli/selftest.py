"""``secfilter selftest URL``: the shipped battery of attacks, sent to a live server.

The article's readers got "a battery of tests … [that] simulate a series of
attacks and give you a pass/fail result".  This is that battery
(``apache_secfilter/data/selftest/*.yaml``), written for the article's
configuration: every attack must be answered with its default status, 500,
and ordinary requests must not be.

Requests are written to a plain socket byte for byte, because an HTTP
client library would re-encode ``%2f``, ``%zz`` or ``+`` and the test would
no longer be the attack.  Only the status line of each answer is read.  The
host name is resolved once and every request goes to that address and
port: nothing follows a redirect, a ``Location`` or another host.

Exit status: 0 when every case passed, 1 when one failed, 2 on bad usage,
a malformed battery, or a server that cannot be reached.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

from ..errors import SecFilterError

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
DEFAULT_TIMEOUT = 10.0
MAX_HEAD = 65536
BATTERY_DIR = "selftest"


class SelftestError(SecFilterError):
    """Bad usage, a malformed battery, or an unreachable server: exit status 2."""


@dataclass(frozen=True)
class Target:
    """Where every request goes: one address, one port, one base path."""

    url: str
    address: str
    port: int
    host_header: str
    base_path: str


@dataclass(frozen=True)
class Case:
    """One request of the battery and the status it must (or must not) get."""

    name: str
    description: str
    request: Any
    status: int | None = None
    not_status: int | None = None

    def expectation(self) -> str:
        return f"{self.status}" if self.status is not None else f"anything but {self.not_status}"

    def passes(self, status: int) -> bool:
        if self.status is not None:
            return status == self.status
        return status != self.not_status


@dataclass(frozen=True)
class Outcome:
    """What one case got: a status, or why there was none."""

    case: Case
    status: int | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status is not None and self.case.passes(self.status)


# -- the target ---------------------------------------------------------------------------
def parse_target(url: str) -> Target:
    """The server of an ``http://host[:port][/base/]`` URL, resolved once (never again)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError as exc:
        raise SelftestError(f"not a usable URL: {url!r} ({exc})") from None
    if parts.scheme != "http" or not parts.hostname:
        raise SelftestError(f"not an http://HOST[:PORT]/ URL: {url!r} "
                            "(for an https site, test it on its plain-http address)")
    if parts.query or parts.fragment:
        raise SelftestError(f"the URL names the site's base and takes no query: {url!r}")
    base = parts.path if parts.path.endswith("/") else parts.path + "/"
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise SelftestError(f"cannot resolve {host}: {exc.strerror}") from None
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == 80 else f"{shown}:{port}"
    return Target(url, str(infos[0][4][0]), port, host_header, base)


def check_reachable(target: Target, timeout: float) -> None:
    """Refuse to start (exit 2) when nothing accepts connections there."""
    try:
        with socket.create_connection((target.address, target.port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SelftestError(f"cannot connect to {target.address} port {target.port} "
                            f"({target.url}): {reason}") from None


# -- the battery --------------------------------------------------------------------------
def _case(data: Any, where: str) -> Case:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise SelftestError(f"{where}: a case needs a name")
    name = data["name"]
    expect = data.get("expect")
    if not isinstance(expect, dict) or len(expect) != 1 \
            or next(iter(expect)) not in ("status", "not_status") \
            or not isinstance(next(iter(expect.values())), int):
        raise SelftestError(f"{where}: case {name}: expect must be {{status: N}} "
                            "or {not_status: N}")
    if not isinstance(data.get("request"), str | dict):
        raise SelftestError(f"{where}: case {name}: request must be raw text or a mapping")
    return Case(name, str(data.get("description", "")), data["request"],
                expect.get("status"), expect.get("not_status"))


def parse_battery(text: str, where: str) -> list[Case]:
    """The cases of one YAML file (``cases:``, a list of name/request/expect)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SelftestError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise SelftestError(f"{where}: expected a mapping with a list of cases")
    return [_case(item, where) for item in data["cases"]]


def load_battery() -> list[Case]:
    """The shipped battery, file by file in name order; names must be unique."""
    folder = resources.files("apache_secfilter") / "data" / BATTERY_DIR
    cases: list[Case] = []
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if item.name.endswith(".yaml"):
            cases += parse_battery(item.read_text(encoding="utf-8"), item.name)
    seen: set[str] = set()
    for case in cases:
        if case.name in seen:
            raise SelftestError(f"the battery has two cases named {case.name}")
        seen.add(case.name)
    return cases


def select(cases: Sequence[Case], names: Iterable[str] | None) -> list[Case]:
    """The cases named by ``--case`` (all without it), in battery order."""
    wanted = list(names or ())
    if not wanted:
        return list(cases)
    known = {case.name for case in cases}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise SelftestError(f"no case named {', '.join(unknown)}; the cases are: "
                            + ", ".join(case.name for case in cases))
    return [case for case in cases if case.name in wanted]


# -- requests on the wire -----------------------------------------------------------------
def encode_text(text: str) -> bytes:
    """Latin-1, one byte per character (``"\\xe9"`` is the byte E9), else UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _headers(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in value.items()]
    return [(str(k), str(v)) for k, v in value or ()]


def build_request(spec: Any, target: Target) -> bytes:
    """The bytes to send for a case's request.

    Raw text: ``{base}`` is the base path, ``{host}`` the Host value, a
    bare LF becomes CRLF, and a head without a body gets its blank line.
    A mapping: ``uri`` is relative to the base path; Host, Content-Length
    and ``Connection: close`` are added unless given.
    """
    if isinstance(spec, str):
        text = spec.replace("{base}", target.base_path).replace("{host}", target.host_header)
        text = re.sub(r"(?<!\r)\n", "\r\n", text)
        if "\r\n\r\n" not in text:  # YAML's | keeps one newline of the blank line
            text = text.rstrip("\r\n") + "\r\n\r\n"
        return encode_text(text)
    body = bytes.fromhex(spec["body_hex"]) if "body_hex" in spec \
        else encode_text(str(spec.get("body", "")))
    headers = _headers(spec.get("headers"))
    names = {name.lower() for name, _ in headers}
    if "host" not in names:
        headers.insert(0, ("Host", target.host_header))
    if body and not names & {"content-length", "transfer-encoding"}:
        headers.append(("Content-Length", str(len(body))))
    if "connection" not in names:
        headers.append(("Connection", "close"))
    uri = target.base_path + str(spec.get("uri", "")).lstrip("/")
    line = f"{spec.get('method', 'GET')} {uri} {spec.get('protocol', 'HTTP/1.1')}\r\n"
    head = line + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return encode_text(head) + body


def parse_status(head: bytes) -> int:
    """The status code of ``HTTP/1.x NNN reason``."""
    match = re.match(rb"HTTP/\d\.\d (\d{3})(?: |\r|\n)", head)
    if match is None:
        raise ValueError(f"not an HTTP response: {head[:60]!r}")
    return int(match.group(1))


def _heads(sock: socket.socket) -> Iterable[bytes]:
    """Each response head the server sends (an interim 1xx, then the final one)."""
    data = b""
    while True:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            yield data[:end]
            data = data[end + 4:]
            continue
        chunk = sock.recv(4096) if len(data) < MAX_HEAD else b""
        if not chunk:
            if data:
                yield data  # a head cut short: the status line may still be there
            return
        data += chunk


def exchange(target: Target, data: bytes, timeout: float) -> int:
    """Send one request, return the final status (interim 1xx answers are skipped).

    A server may answer a refused request and close before reading all of
    it; the answer is read even when sending the rest failed.
    """
    with socket.create_connection((target.address, target.port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        for head in _heads(sock):
            status = parse_status(head)
            if status >= 200:
                return status
    raise ConnectionError("the server closed the connection without answering")


def run_case(case: Case, target: Target, timeout: float) -> Outcome:
    """One case: its request on a fresh connection, the status compared."""
    try:
        return Outcome(case, exchange(target, build_request(case.request, target), timeout))
    except TimeoutError:
        return Outcome(case, None, f"no answer within {timeout:g} s")
    except (OSError, ValueError) as exc:
        return Outcome(case, None, str(exc) or type(exc).__name__)
    except (KeyError, TypeError) as exc:
        raise SelftestError(f"case {case.name}: malformed request ({exc})") from None


def format_outcome(outcome: Outcome, width: int = 0) -> str:
    """``PASS  name  500  description``; a failure adds what was expected."""
    case = outcome.case
    result = str(outcome.status) if outcome.status is not None else str(outcome.error)
    if not outcome.passed:
        result += f" (expected {case.expectation()})"
    verdict = "PASS" if outcome.passed else "FAIL"
    return f"{verdict}  {case.name:<{width}}  {result}  {case.description}".rstrip()


# -- the command --------------------------------------------------------------------------
def add_selftest_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``selftest`` on the ``secfilter`` parser."""
    parser = sub.add_parser("selftest", help="send the shipped battery of attacks to a "
                            "live server, print pass/fail")
    parser.add_argument("url", metavar="URL", help="the site's base, http://HOST[:PORT]/")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds to wait for each answer ({DEFAULT_TIMEOUT:g})")
    parser.add_argument("--case", action="append", metavar="NAME",
                        help="run only this case (may be repeated)")
    parser.set_defaults(func=cmd_selftest)


def cmd_selftest(args: argparse.Namespace) -> int:
    """Run the battery; one line per case, then ``N passed, N failed``."""
    if not args.timeout > 0:
        raise SelftestError("--timeout must be a positive number of seconds")
    cases = select(load_battery(), args.case)
    target = parse_target(args.url)
    check_reachable(target, args.timeout)
    port = f" port {target.port}" if target.port != 80 else ""
    print(f"secfilter selftest: {len(cases)} cases against {target.url} "
          f"({target.address}{port})", flush=True)
    passed = failed = 0
    width = max(len(case.name) for case in cases)
    for case in cases:
        outcome = run_case(case, target, args.timeout)
        print(format_outcome(outcome, width), flush=True)
        passed, failed = (passed + 1, failed) if outcome.passed else (passed, failed + 1)
    print(f"{passed} passed, {failed} failed")
    return EXIT_OK if failed == 0 else EXIT_FAILED

