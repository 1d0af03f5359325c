"""WSGI middleware: the whole engine, body and output included, for Python web apps.

``SecFilterMiddleware(app, "/etc/apache_secfilter/app.rules")`` wraps any WSGI
application.  Unlike mod_wsgi's access hook it sees everything: the request
body is read here (never more than CONTENT_LENGTH), inspected, and replayed to
the application byte for byte; responses whose type ``SecFilterScanOutput``
covers are buffered whole, scanned, and replaced by the deny page when an
``OUTPUT``/``OUTPUT_STATUS`` rule fires.  The deny page helpers here are also
what the mod_wsgi deny application answers with.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from html import escape
from http import HTTPStatus
from typing import IO, Any

from ..engine.alerts import AlertContext, alert_line, message, outcome_text
from ..engine.transaction import Transaction
from ..engine.verdict import Verdict
from ..policy.model import Policy
from ..request.model import Request, Response
from .common import POLICIES, clocks, env_updates, run_side_effects
from .environ import request_from_environ
from .programs import ProgramRunner

CHUNK = 65536
#: The handler a request served by a WSGI application has (mod_wsgi's name):
#: every request reaching the middleware is dynamic for ``DynamicOnly``.
WSGI_HANDLER = "wsgi-script"

StartResponse = Callable[..., Callable[[bytes], Any]]
Application = Callable[[dict, StartResponse], Iterable[bytes]]


# -- answers and logging, shared with the mod_wsgi adapter ----------------------------
def status_line(status: int) -> str:
    """``403 Forbidden``: the code with its standard reason phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def deny_page(status: int, location: str | None = None) -> tuple[str, list[tuple[str, str]],
                                                                 bytes]:
    """Status line, headers and a small HTML body for a deny or a redirect."""
    line = status_line(status)
    title = escape(line)
    text = f"<h1>{title}</h1>"
    headers = [("Content-Type", "text/html; charset=iso-8859-1")]
    if location:
        location = location.replace("\r", "").replace("\n", "")
        headers.append(("Location", location))
        text += f'<p>The document has moved <a href="{escape(location)}">here</a>.</p>'
    body = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
            f"<html><head><title>{title}</title></head><body>{text}</body></html>\n"
            ).encode("latin-1", "replace")
    headers.append(("Content-Length", str(len(body))))
    return line, headers, body


def answer(start_response: StartResponse, status: int,
           location: str | None = None) -> list[bytes]:
    """Send the deny page through a WSGI start_response."""
    line, headers, body = deny_page(status, location)
    start_response(line, headers)
    return [body]


def errors_stream(environ: Mapping[str, Any]) -> IO[str]:
    """``wsgi.errors`` (Apache's error log under mod_wsgi), or stderr without one."""
    stream = environ.get("wsgi.errors")
    return stream if stream is not None else sys.stderr


def write_log(stream: IO[str], text: str) -> None:
    """One write per line, so each becomes one error-log entry."""
    for line in text.splitlines() or [""]:
        stream.write(line + "\n")
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()


def config_error_alert(environ: Mapping[str, Any], source: str) -> str:
    """The per-request line when the policy could not be used (details logged at start)."""
    try:
        request = request_from_environ(environ)
        context = AlertContext(request.host, request.uri, request.facts.unique_id)
    except Exception:  # noqa: BLE001 - the alert must be written whatever the environ holds
        context = AlertContext("", "")
    text = message(outcome_text("deny", 500, None),
                   f"Configuration {source} could not be used (see the error logged at "
                   "start-up)")
    return alert_line(text, context)


# -- the response wrapper ---------------------------------------------------------------
class ClosingIterable:
    """The response body; ``close()`` also ends the transaction, after the server is done."""

    def __init__(self, iterable: Iterable[bytes], closers: list[Callable[[], Any]]) -> None:
        self._iterable = iterable
        self._closers = closers

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._iterable)

    def close(self) -> None:
        failure: BaseException | None = None
        for closer in self._closers:
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - run every closer, report the first
                failure = failure or exc
        self._closers = []
        if failure is not None:
            raise failure


def _closer(obj: object) -> Callable[[], Any]:
    return getattr(obj, "close", None) or (lambda: None)


# -- the middleware --------------------------------------------------------------------
class SecFilterMiddleware:
    """Inspect every request (and scanned responses) of a WSGI application."""

    def __init__(self, app: Application, config_path: str | None = None,
                 policy: Policy | None = None) -> None:
        if (config_path is None) == (policy is None):
            raise TypeError("SecFilterMiddleware needs exactly one of config_path or policy")
        self.app = app
        self.source = config_path or "(policy object)"
        self.error: str | None = None
        if policy is None:
            loaded = POLICIES.get(config_path or "")
            policy, self.error = loaded.policy, loaded.error
            if policy is None and self.error is None:
                self.error = (f"{self.source} is an Apache configuration; the WSGI middleware "
                              "takes a rules file of Sec* directives")
            if policy is None:
                write_log(sys.stderr, f"mod_security: configuration error in {self.source}, "
                                      f"every request is denied with 500: {self.error}")
        self.policy = policy

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self.policy is None:  # fail closed (decisions R6)
            write_log(errors_stream(environ), config_error_alert(environ, self.source))
            return answer(start_response, 500)
        return _Exchange(self, environ, start_response).run()


class _Exchange:
    """One request through the middleware: request phase, application, output phase."""

    def __init__(self, owner: SecFilterMiddleware, environ: dict,
                 start_response: StartResponse) -> None:
        self.owner, self.environ, self.start_response = owner, environ, start_response
        self.policy: Policy = owner.policy  # type: ignore[assignment]
        self.errors = errors_stream(environ)
        self.runner = ProgramRunner(lambda text: write_log(self.errors, text))
        self.request: Request | None = None
        self.tx: Transaction | None = None
        self.spool: IO[bytes] | None = None
        self.reported: Verdict | None = None
        # output capture
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.buffering: bool | None = None
        self.sent = False
        self.chunks: list[bytes] = []
        self.size = 0
        self.downstream_write: Callable[[bytes], Any] | None = None

    # -- request phase ------------------------------------------------------------------
    def run(self) -> Iterable[bytes]:
        try:
            verdict = self._inspect_request()
        except Exception:  # noqa: BLE001 - fail closed (decisions R6)
            return self._internal_error()
        if verdict.blocks:
            self._close()
            return answer(self.start_response, verdict.status or 403, verdict.location)
        self._hand_over(verdict)
        if self._scans_output(verdict):
            return self._call_app(self._capture_start_response, scanned=True)
        return self._call_app(self.start_response, scanned=False)

    def _inspect_request(self) -> Verdict:
        self.request = request_from_environ(self.environ, handler=WSGI_HANDLER)
        self.tx = Transaction(self.policy, self.request, clocks(), self.runner)
        if self.tx.wants_body:
            self._read_body(self.tx)
        verdict = self.tx.finish_request()
        self._report(verdict)
        return verdict

    def _read_body(self, tx: Transaction) -> None:
        """Read at most CONTENT_LENGTH bytes, feed them, and replay them to the app."""
        limit = min(_content_length(self.environ), tx.limits.body_bytes + 1)
        stream = self.environ.get("wsgi.input")
        # the spool outlives this call: it becomes the application's wsgi.input
        spool = tempfile.SpooledTemporaryFile(max_size=tx.limits.body_in_memory)  # noqa: SIM115
        self.spool = spool
        done = 0
        try:
            while stream is not None and done < limit:
                chunk = stream.read(min(CHUNK, limit - done))
                if not chunk:
                    break
                spool.write(chunk)
                tx.feed_body(chunk)
                done += len(chunk)
        except OSError as exc:  # client went away: inspect and replay what arrived
            write_log(self.errors, f"mod_security: reading the request body failed after "
                                   f"{done} bytes: {exc}")
        finally:
            spool.seek(0)
            self.environ["wsgi.input"] = spool
            self.environ["CONTENT_LENGTH"] = str(done)

    def _report(self, verdict: Verdict) -> None:
        """Alerts, traceback and exec:/pause: that this verdict adds to the last one."""
        new = _since(verdict, self.reported)
        self.reported = verdict
        for line in new.alerts:
            write_log(self.errors, line)
        if verdict.error_detail:
            write_log(self.errors, verdict.error_detail)
        if self.request is not None:
            run_side_effects(self.request, new, self.runner)

    def _hand_over(self, verdict: Verdict) -> None:
        """setenv values and the mod_security-* request headers, for the application."""
        for name, value in env_updates(verdict).items():
            self.environ[name] = value
        if verdict.message_header:
            self.environ["HTTP_MOD_SECURITY_MESSAGE"] = verdict.message_header
        if verdict.action_header:
            self.environ["HTTP_MOD_SECURITY_ACTION"] = verdict.action_header

    def _scans_output(self, verdict: Verdict) -> bool:
        tx = self.tx
        return bool(tx is not None and tx.enabled and tx.settings.scan_output
                    and self.policy.output_rules and verdict.action == "pass")

    def _internal_error(self) -> Iterable[bytes]:
        passing = self.policy.settings.on_error == "Pass"
        outcome = "passed uninspected (SecFilterOnError Pass)" if passing else "denied with 500"
        write_log(self.errors, f"mod_security: internal error, request {outcome}:\n"
                               + traceback.format_exc())
        if passing:
            return self._call_app(self.start_response, scanned=False)
        self._close()
        return answer(self.start_response, 500)

    def _call_app(self, start_response: StartResponse, scanned: bool) -> Iterable[bytes]:
        try:
            result = self.owner.app(self.environ, start_response)
        except BaseException:
            self._close()
            raise
        body = self._scanned(result) if scanned else result
        closers = [_closer(body)] if scanned else []
        return ClosingIterable(body, closers + [_closer(result), self._close])

    def _close(self) -> None:
        try:
            if self.tx is not None:
                self.tx.close()
        finally:
            if self.spool is not None:
                self.spool.close()

    # -- output phase -------------------------------------------------------------------
    def _capture_start_response(self, status: str, headers: list[tuple[str, str]],
                                exc_info: Any = None) -> Callable[[bytes], Any]:
        if self.sent:
            return self.start_response(status, headers, exc_info)  # downstream decides
        self.status, self.headers = status, list(headers)
        self.chunks, self.size = [], 0
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        self.buffering = self.tx is not None and self.tx.wants_output(content_type)
        if not self.buffering:
            return self._send_head(exc_info)
        return self._write

    def _send_head(self, exc_info: Any = None) -> Callable[[bytes], Any]:
        self.sent = True
        extra = () if exc_info is None else (exc_info,)
        self.downstream_write = self.start_response(self.status, self.headers, *extra)
        return self.downstream_write

    def _write(self, data: bytes) -> None:
        """The write() callable for buffered responses (legacy applications)."""
        if self.sent and self.downstream_write is not None:
            self.downstream_write(data)
        elif self._buffer(data):
            pending = self._give_up()
            if self.downstream_write is not None:
                self.downstream_write(pending)

    def _buffer(self, data: bytes) -> bool:
        """Hold a piece of the response; True when it grew past the output limit."""
        self.chunks.append(data)
        self.size += len(data)
        return self.tx is not None and self.size > self.tx.limits.output_bytes

    def _give_up(self) -> bytes:
        limit = self.tx.limits.output_bytes if self.tx is not None else 0
        write_log(self.errors, f"mod_security: response larger than {limit} bytes is not "
                               "scanned")
        self._send_head()
        pending, self.chunks = b"".join(self.chunks), []
        return pending

    def _scanned(self, result: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in result:
            if self.sent:
                yield chunk
            elif self.buffering is None:
                raise RuntimeError("the WSGI application sent body data before calling "
                                   "start_response")
            elif self._buffer(chunk):
                yield self._give_up()
        if not self.sent:
            yield self._finish()

    def _finish(self) -> bytes:
        """Scan the buffered response; send it, or the deny page instead."""
        if self.status is None or self.tx is None or self.request is None:
            raise RuntimeError("the WSGI application never called start_response")
        body, self.chunks = b"".join(self.chunks), []
        verdict = self._inspect_output(self.tx, self.request, body)
        if verdict.blocks and verdict.phase == "response":
            line, headers, page = deny_page(verdict.status or 500, verdict.location)
            self.sent = True
            self.start_response(line, headers)
            return page
        self._send_head()
        return body

    def _inspect_output(self, tx: Transaction, request: Request, body: bytes) -> Verdict:
        code, _, reason = (self.status or "").partition(" ")
        try:
            response = Response(int(code), tuple(self.headers), body, request.protocol, reason)
            verdict = tx.inspect_output(response)
        except Exception:  # noqa: BLE001 - fail closed (decisions R6)
            passing = self.policy.settings.on_error == "Pass"
            write_log(self.errors, "mod_security: internal error in output scanning, response "
                                   + ("passed" if passing else "replaced by 500") + ":\n"
                                   + traceback.format_exc())
            return Verdict() if passing else Verdict("deny", 500, phase="response")
        self._report(verdict)
        return verdict


def _content_length(environ: Mapping[str, Any]) -> int:
    """CONTENT_LENGTH as a number; anything unusable counts as no body."""
    try:
        return max(0, int(str(environ.get("CONTENT_LENGTH") or "0").strip()))
    except ValueError:
        return 0


def _since(verdict: Verdict, before: Verdict | None) -> Verdict:
    """What a later verdict of the same transaction adds (the engine's lists grow)."""
    if before is None:
        return verdict
    return replace(verdict, alerts=verdict.alerts[len(before.alerts):],
                   exec_programs=verdict.exec_programs[len(before.exec_programs):],
                   pause_ms=max(0, verdict.pause_ms - before.pause_ms))
