"""One request through the engine: start -> body chunks -> verdict -> output.

A sans-I/O, staged object (h11's shape): the caller builds it from a Request,
feeds the body if ``wants_body``, calls ``finish_request()`` for the request
verdict and, when ``wants_output(content_type)``, ``inspect_output(response)``.
It never imports Apache, never reads the clock (``now`` and ``clock`` are
given), and never runs programs (``services`` does, for upload approval).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..errors import InspectionFailed, LimitExceeded, RequestError
from ..escape import escape_log
from ..limits import DEFAULT_LIMITS, Limits
from ..policy.model import Policy, status_relevant
from ..request.bodies.spool import can_spill
from ..request.model import Request, Response
from ..request.view import RequestView, ViewOptions
from .alerts import AlertContext, alert_line
from .body import BodyCollector, BodyResult
from .checks import run_checks
from .evaluate import Matcher, Outcome, evaluate
from .fastpath import evaluate_fast
from .prefilter import plan_for
from .verdict import Verdict

#: Evaluate rules through the prefilter (engine.fastpath) unless a transaction
#: asks otherwise; False makes the plain reference loop (engine.evaluate) the
#: default, for comparisons.  Both give the same verdicts.
FAST_PATH = True


class Services(Protocol):
    """What the engine asks of the outside world (implemented by adapters)."""

    def approve_upload(self, script: str, path: str, timeout: float) -> bool: ...


def engine_mode(setting: str, env: dict | object) -> str:
    """The engine switch for this request: MODSEC_ENABLE overrides the setting (L10)."""
    override = getattr(env, "get", lambda _k: None)("MODSEC_ENABLE")
    if override and override.lower() in ("on", "off", "dynamiconly"):
        return {"on": "On", "off": "Off", "dynamiconly": "DynamicOnly"}[override.lower()]
    return setting


def _bad_mode_override(env: dict | object) -> str | None:
    """The MODSEC_ENABLE value L10 ignores (for a debug-log warning), if any."""
    override = getattr(env, "get", lambda _k: None)("MODSEC_ENABLE")
    if override is not None and override.lower() not in ("on", "off", "dynamiconly"):
        return override
    return None


@dataclass(frozen=True)
class Clocks:
    """The time facts a transaction needs, given by the caller.

    ``monotonic`` is the clock the time budget (L21) counts in: the adapters
    give the thread's CPU time (``time.thread_time``), so that waiting for the
    processor spends none of it; tests give counters.
    """

    now: datetime
    monotonic: Callable[[], float]


def _policy_limits(policy: Policy, limits: Limits) -> Limits:
    """The limits with the policy's own settings applied, worked out once per policy."""
    cache = policy.derived.setdefault("limits", {})
    found = cache.get(limits)
    if found is None:
        s = policy.settings
        found = cache[limits] = limits.with_overrides(
            body_in_memory=s.upload_in_memory_limit, regex_time_ms=s.time_limit_ms)
    return found


class Transaction:
    """Inspect one request (and optionally its response) against a policy."""

    def __init__(self, policy: Policy, request: Request, clocks: Clocks,
                 services: Services | None = None, limits: Limits = DEFAULT_LIMITS,
                 *, fast: bool | None = None, matcher: Matcher | None = None) -> None:
        self.policy, self.request, self.services = policy, request, services
        self.fast = FAST_PATH if fast is None else fast
        s = self.settings = policy.settings
        self.limits = _policy_limits(policy, limits)
        options = ViewOptions(s.cookie_format, s.normalize_cookies, self.limits.args,
                              self.limits.cookies)
        self.view = RequestView(request, clocks.now, options)
        self.outcome = Outcome(AlertContext(request.host, request.uri,
                                            request.facts.unique_id))
        if s.debug_level > 0:
            self._start_debug(s.debug_level)
        self.matcher = matcher or Matcher(clocks.monotonic, self.limits.regex_time_ms)
        self.mode = engine_mode(s.engine, request.env)
        self.enabled = self._enabled()
        self.body: BodyResult | None = None
        self._collector: BodyCollector | None = None
        self._body_error: RequestError | None = None
        self.wants_body = self.enabled and self._body_wanted()
        self.request_verdict: Verdict | None = None

    def _start_debug(self, level: int) -> None:
        """Collect debug messages for this transaction (never at level 0, G5)."""
        self.outcome.debug, self.outcome.debug_level = [], level
        bad = _bad_mode_override(self.request.env)
        if bad is not None:
            self.outcome.trace(1, f'MODSEC_ENABLE "{bad}" ignored: use On, Off or DynamicOnly')

    # -- stage 1: the request ------------------------------------------------
    def _enabled(self) -> bool:
        if self.request.facts.is_subrequest or self.mode == "Off":
            return False
        return self.mode == "On" or self.request.facts.is_dynamic

    def _has_body(self) -> bool:
        length = self.request.header("Content-Length")
        return self.request.is_chunked or bool(length and length.strip() not in ("", "0"))

    def _body_wanted(self) -> bool:
        if not self.settings.scan_post or not self._has_body():
            return False
        if "MODSEC_NOPOSTBUFFERING" in self.request.env:
            return False
        return not self.request.is_chunked

    def feed_body(self, chunk: bytes, *, held: bool = False) -> None:
        """Give the next piece of the body; errors are kept for the verdict.

        ``held``: ``chunk`` is the whole body, and the caller keeps it in memory
        until the transaction closes (the mod_python hook does).  Spilling it
        and its uploads to temporary files past SecUploadInMemoryLimit (R3)
        would then save no memory, so they stay in memory, unless something
        looks at those files (an approval script, which sees them while it runs)
        or creating them would fail (which denies the request): then they spill
        as always.  Uploads SecUploadKeepFiles keeps are written at ``close``.
        """
        if not self.wants_body or self._body_error is not None or not chunk:
            return
        try:
            if self._collector is None:
                prefix = f"{self.view.now:%Y%m%d-%H%M%S}-{self.request.remote_addr}"
                in_memory = len(chunk) if held and self._spill_unseen() else None
                self._collector = BodyCollector(self.request.content_type, self.limits,
                                                self.settings.upload_dir, prefix, in_memory)
            self._collector.feed(chunk)
        except RequestError as exc:
            self._body_error = exc

    def _spill_unseen(self) -> bool:
        """Whether temporary body files would go unseen and could be created."""
        return not self.settings.upload_approve_script and can_spill(self.settings.upload_dir)

    def finish_request(self) -> Verdict:
        """Run checks and rules on the request; the verdict for the request phase."""
        if self.request_verdict is None:
            if not self.enabled:
                self.request_verdict = Verdict(inspected=False)
            else:
                self.request_verdict = self._guarded(self._inspect_request, "request")
        return self.request_verdict

    def _inspect_request(self) -> None:
        if self._chunked_rejected():
            return
        if not self._take_body():
            return
        if self.view.cookies_over_limit():  # cookies past the limit would go unseen
            self.outcome.reject("deny", 413, None, "request",
                                f"Request rejected: more than {self.limits.cookies} cookies")
            return
        failure = run_checks(self.settings, self.request, self.body)
        if self.outcome.debug is not None:
            self.outcome.trace(3, f"Built-in checks: {failure or 'passed'}")
        if failure is not None:
            self._reject_default(failure, "request")
            return
        if not self._approve_uploads():
            return
        self._evaluate("request")

    def _evaluate(self, phase: str) -> None:
        """The rule loop of a phase: the fast path, or the plain one when asked or
        when the debug log wants a line for every rule (level 3 and up), which
        the fast path never visits."""
        rules = self.policy.rules if phase == "request" else self.policy.output_rules
        if not self.fast or (self.outcome.debug is not None and self.outcome.debug_level >= 3):
            evaluate(rules, self.view, self.matcher, self.outcome, phase)
            return
        plans = plan_for(self.policy)
        plan = plans.request if phase == "request" else plans.output
        evaluate_fast(plan, self.view, self.matcher, self.outcome, phase)

    def _chunked_rejected(self) -> bool:
        if not (self.settings.scan_post and self.request.is_chunked and self._has_body()):
            return False
        if "MODSEC_NOPOSTBUFFERING" in self.request.env:
            return False
        if self.settings.chunked_body == "Pass":
            self.outcome.relevant = True
            return False
        self.outcome.reject("deny", 411, None, "request",
                            "Chunked request bodies are not supported with "
                            "SecFilterScanPOST On (SecFilterChunkedBody Reject)")
        return True

    def _take_body(self) -> bool:
        """Parse the body fed so far; False when it was rejected."""
        try:
            if self._body_error is not None:
                raise self._body_error
            if self._collector is not None:
                self.body = self._collector.finish()
                self.view.body = self.body.info
        except LimitExceeded as exc:
            self.outcome.reject("deny", exc.http_status, None, "request",
                                f"Request body rejected: {escape_log(exc.message)}")
            return False
        except RequestError as exc:
            self._reject_default(f"Invalid request body: {escape_log(exc.message)}", "request")
            return False
        return True

    def _approve_uploads(self) -> bool:
        script = self.settings.upload_approve_script
        if not script or self.body is None or not self.body.uploads:
            return True
        if self.services is None:
            raise RuntimeError("SecUploadApproveScript is set but no program runner was given")
        for upload in self.body.uploads:
            path = upload.spool.materialise()
            if not self.services.approve_upload(script, path, self.limits.program_seconds):
                self._reject_default(f'Uploaded file "{escape_log(upload.filename)}" rejected '
                                     f"by approval script {script}", "request")
                return False
        return True

    def _reject_default(self, reason: str, phase: str) -> None:
        """A failed built-in check rejects whatever the default action (spec §2.2)."""
        default = self.settings.default_action
        action = "redirect" if default.disruptive == "redirect" else "deny"
        self.outcome.reject(action, default.status or 403, default.redirect_url, phase, reason)

    # -- stage 2: the response -----------------------------------------------
    def wants_output(self, content_type: str | None) -> bool:
        """True when the response must be buffered and scanned (SecFilterScanOutput)."""
        if not (self.enabled and self.settings.scan_output and self.policy.output_rules):
            return False
        if self.request_verdict is not None and self.request_verdict.action != "pass":
            return False
        mime = (content_type or "").split(";", 1)[0].strip().lower() or "(null)"
        return mime in self.settings.output_mime_types

    def inspect_output(self, response: Response) -> Verdict:
        """Run OUTPUT/OUTPUT_STATUS rules on the buffered response."""
        request_verdict = self.finish_request()
        if not request_verdict.inspected:
            return request_verdict
        self.view.response = response
        if not self.wants_output(response.content_type):
            return self._verdict(response.status)
        return self._guarded(lambda: self._evaluate("response"), "response", response.status)

    # -- verdicts --------------------------------------------------------------
    def _guarded(self, work: Callable[[], None], phase: str,
                 final_status: int | None = None) -> Verdict:
        """Run a stage; an internal error or timeout follows SecFilterOnError (R6)."""
        try:
            work()
        except RequestError as exc:  # a limit reached while reading the request
            self.outcome.reject("deny", exc.http_status, None, phase,
                                f"Request rejected: {escape_log(exc.message)}")
        except InspectionFailed as exc:
            return self._failed(str(exc), phase, None)
        except Exception as exc:  # noqa: BLE001 - fail closed on any engine fault
            return self._failed(f"internal error: {type(exc).__name__}: {exc}", phase,
                                traceback.format_exc())
        return self._verdict(final_status)

    def _failed(self, reason: str, phase: str, detail: str | None) -> Verdict:
        if self.settings.on_error == "Pass":
            text = f"Warning. {reason} (SecFilterOnError Pass)"
            self.outcome.alerts.append(alert_line(text, self.outcome.alert_context))
            return self._verdict(None, error=reason, detail=detail)
        self.outcome.reject("deny", 500, None, phase, reason)
        return self._verdict(None, error=reason, detail=detail)

    def _verdict(self, final_status: int | None, error: str | None = None,
                 detail: str | None = None) -> Verdict:
        o = self.outcome
        status = o.status if o.action in ("deny", "redirect") else final_status
        relevant = o.relevant or status_relevant(self.settings.audit_relevant_status, status)
        return Verdict(action=o.action, status=o.status, location=o.location, phase=o.phase,
                       matches=tuple(o.matches), alerts=tuple(o.alerts), relevant=relevant,
                       audit=o.audit, message_header=o.message_header,
                       action_header=o.action_header, env=tuple(o.env), notes=tuple(o.notes),
                       exec_programs=tuple(o.exec_programs), pause_ms=o.pause_ms,
                       logparts=o.logparts, error=error, error_detail=detail,
                       debug=tuple(o.debug) if o.debug else ())

    def close(self, relevant: bool | None = None) -> None:
        """Remove temporary body files (or keep uploads per SecUploadKeepFiles)."""
        if self._collector is None:
            return
        keep = self.settings.upload_keep_files
        is_relevant = self.outcome.relevant if relevant is None else relevant
        self._collector.close(keep=keep == "On" or (keep == "RelevantOnly" and is_relevant))
        self._collector = None
