"""The mod_wsgi hook: ``WSGIAccessScript`` plus an ``ErrorDocument 403`` deny application.

For event/worker MPM sites (php-fpm), where mod_python filters crash.  The
access script sees the request line and headers only (apache-hooks.md §1):
no body, no response, no ``Authorization``, no ``SetEnv`` values.  Rules that
need those can never run here, and the start-up report names each of them.

mod_wsgi's access hook can only answer 403 (``False``).  To give the client
the configured status or redirect anyway, the decision is kept in a
thread-local and ``False`` returned; Apache's ``ErrorDocument 403`` then
redirects internally, in the same thread and interpreter, to
``deny_application``, which answers with the stored status.  The decision is
cleared at the start of every check and only used when ``REDIRECT_URL``
names the request it was made for, so none leaks into another request.

Generated scripts use exactly these names::

    # access.py (WSGIAccessScript ... application-group=%{GLOBAL})
    from apache_secfilter.adapters.modwsgi import make_access
    allow_access = make_access("/etc/apache_secfilter/site.rules")

    # deny.py (WSGIScriptAlias /__secfilter_deny ... application-group=%{GLOBAL})
    from apache_secfilter.adapters.modwsgi import deny_application as application
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from ..engine.transaction import Transaction
from ..language.ast import Directive
from ..policy.load import load_directives
from ..policy.model import Policy, Rule
from ..request.variables import VariableRef
from ..request.variables.collections import header_key
from .access_audit import with_unique_id, write_access_entry
from .common import POLICIES, clocks, run_side_effects
from .environ import is_subrequest, request_from_environ, request_head
from .programs import ProgramRunner
from .wsgi import StartResponse, answer, config_error_alert, errors_stream, write_log

ADAPTER = "the mod_wsgi adapter"
#: Where ``ErrorDocument 403`` sends denied requests (``WSGIScriptAlias`` of deny.py).
DENY_PATH = "/__secfilter_deny"
#: Tells the engine that no body is buffered here (as in mod_python's handler-only mode):
#: no body is expected and no chunked request is refused for it.
NO_BODY_ENV = {"MODSEC_NOPOSTBUFFERING": "mod_wsgi access hook"}
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})

_local = threading.local()
_reported: set[str] = set()
_report_lock = threading.Lock()


@dataclass(frozen=True)
class _Decision:
    """What the deny application must answer for one request."""

    request_uri: str
    path: str
    status: int
    location: str | None


# -- what this adapter cannot see ------------------------------------------------------
def _blind_spot(ref: VariableRef) -> str | None:
    """Why a variable is unavailable in the access phase, or None when it is available."""
    name = ref.written.upper()
    if ref.phase == "output":
        return f"{ref.written} needs the response, which an access script never sees"
    if name == "POST_PAYLOAD" or name.startswith(("FILE_", "FILES_")):
        return f"{ref.written} needs the request body (no wsgi.input in an access script)"
    if name.startswith("ENV_"):
        return (f"{ref.written} reads an Apache environment variable; SetEnv/SetEnvIf values "
                "are not visible in the access phase")
    if name.startswith(("HTTP_", "HEADER_")) and header_key(ref.key or "") in _AUTH_HEADERS:
        return (f"{ref.written}: mod_wsgi withholds this header from access scripts, so it is "
                "always tested as empty")
    return None


def _rule_lines(rule: Rule) -> list[str]:
    reasons = [why for ref in rule.variables if (why := _blind_spot(ref)) is not None]
    lines = []
    if reasons:
        whole = len(reasons) == len(rule.variables)
        what = "cannot work as written in" if whole else "works only in part in"
        lines.append(f"mod_security: {rule.location}: this {rule.directive} rule {what} "
                     f"{ADAPTER}: " + "; ".join(reasons))
    if rule.actions.setenv or rule.actions.setnote:
        lines.append(f"mod_security: {rule.location}: setenv/setnote of this rule have no "
                     f"effect in {ADAPTER} (an access script cannot set Apache variables or "
                     "notes)")
    return lines


def _last_directive(config_path: str, key: str, value: str) -> str:
    """file:line of the last ``key value`` directive (the settings keep no location)."""
    try:
        directives: list[Directive] = load_directives(config_path).directives
    except Exception:  # noqa: BLE001 - the report must not fail; name the file instead
        return config_path
    found = [d for d in directives
             if d.key == key and d.args and d.args[0].lower() == value.lower()]
    return str(found[-1].location) if found else config_path


def blind_spots(policy: Policy, config_path: str) -> list[str]:
    """One line per rule or setting that cannot work in the access phase, with file:line."""
    lines = []
    if policy.settings.scan_post:
        lines.append(f"mod_security: {_last_directive(config_path, 'secfilterscanpost', 'on')}"
                     f": SecFilterScanPOST On has no effect in {ADAPTER}: an access script "
                     "cannot read the request body (use the mod_python adapter or the WSGI "
                     "middleware to inspect bodies)")
    if policy.settings.scan_output:
        where = _last_directive(config_path, "secfilterscanoutput", "on")
        lines.append(f"mod_security: {where}: SecFilterScanOutput On has no effect in {ADAPTER}: "
                     "mod_wsgi has no output filter (use the mod_python adapter on prefork)")
    for rule in policy.rules + policy.output_rules:
        lines.extend(_rule_lines(rule))
    return lines


def _usable(config_path: str) -> tuple[Policy | None, str | None]:
    """The policy, or why every request must be denied (load error, DynamicOnly)."""
    loaded = POLICIES.get(config_path)
    if loaded.source is None:
        return None, loaded.error or "the configuration did not load"
    policy = loaded.policy
    if policy is None:  # an Apache configuration: resolved per request
        return None, None
    if policy.settings.engine == "DynamicOnly":
        where = _last_directive(config_path, "secfilterengine", "dynamiconly")
        return None, (f"{where}: SecFilterEngine DynamicOnly cannot be used with {ADAPTER}: "
                      "WSGIAccessScript runs before Apache chooses a handler, so it cannot tell "
                      "dynamic requests from static files. Use SecFilterEngine On here, or the "
                      "mod_python adapter (fixup phase), which knows the handler")
    return policy, None


# -- the access check -------------------------------------------------------------------
class AccessCheck:
    """The ``allow_access`` of one rules file; built once per process."""

    def __init__(self, config_path: str, log: IO[str] | None = None) -> None:
        self.config_path = config_path
        self.policy, self.error = _usable(config_path)
        self._startup_report(log or sys.stderr)

    def _startup_report(self, log: IO[str]) -> None:
        """Log, once per process and rules file, what can never run here."""
        with _report_lock:
            if self.config_path in _reported:
                return
            _reported.add(self.config_path)
        if self.policy is None and self.error is None:
            for line in POLICIES.first_warnings(POLICIES.get(self.config_path)):
                write_log(log, line)
            return
        if self.policy is None:
            write_log(log, f"mod_security: configuration error in {self.config_path}, every "
                           f"request is denied with 500: {self.error}")
            return
        for line in blind_spots(self.policy, self.config_path):
            write_log(log, line)

    def allow_access(self, environ: dict, host: str) -> bool | None:
        """mod_wsgi's hook: True lets the request on, False makes Apache answer 403."""
        if is_subrequest(environ):
            return None  # subrequests are not inspected (decisions R7): no opinion
        if _is_deny_request(environ):
            return True  # the ErrorDocument redirect of a request decided a moment ago
        _local.decision = None  # never let a previous request's decision leak
        errors = errors_stream(environ)
        try:
            return self._check(environ, host, errors)
        except Exception:  # noqa: BLE001 - fail closed (decisions R6)
            return self._internal_error(environ, errors)

    def _check(self, environ: dict, host: str, errors: IO[str]) -> bool:
        if self.error is not None:
            write_log(errors, config_error_alert(environ, self.config_path))
            _store(environ, 500, None)
            return False
        loaded = POLICIES.get(self.config_path)
        single = loaded.single  # DynamicOnly is refused below, never passed quickly
        asked = single is not None and single.settings.engine == "On"
        if asked and loaded.passes_quickly(*request_head(environ), environ):
            return True  # certainly passes, nothing to log: no transaction
        request = with_unique_id(request_from_environ(environ, remote_host=host,
                                                      extra_env=NO_BODY_ENV))
        policy = self.policy or loaded.policy_for(request)
        if policy.settings.engine == "DynamicOnly":  # decisions L11, per section
            write_log(errors, f"mod_security: SecFilterEngine DynamicOnly cannot be used with "
                              f"{ADAPTER}; request denied")
            _store(environ, 500, None)
            return False
        runner = ProgramRunner(lambda text: write_log(errors, text))
        tx = Transaction(policy, request, clocks(), runner)
        try:
            verdict = tx.finish_request()  # never a body: an access script has none
        finally:
            tx.close()
        if asked:
            loaded.lane_missed(verdict)
        write_access_entry(tx, verdict, lambda text: write_log(errors, text))
        for line in verdict.alerts:
            write_log(errors, line)
        if verdict.error_detail:
            write_log(errors, verdict.error_detail)
        run_side_effects(request, verdict, runner)
        if verdict.blocks:
            _store(environ, verdict.status or 403, verdict.location)
            return False
        return True

    def _internal_error(self, environ: dict, errors: IO[str]) -> bool:
        passing = self.policy is not None and self.policy.settings.on_error == "Pass"
        outcome = "passed uninspected (SecFilterOnError Pass)" if passing else "denied with 500"
        write_log(errors, f"mod_security: internal error, request {outcome}:\n"
                          + traceback.format_exc())
        if passing:
            return True
        _store(environ, 500, None)
        return False


def make_access(config_path: str) -> Callable[[dict, str], bool | None]:
    """The ``allow_access`` callable for a WSGIAccessScript, for one rules file.

    Loading happens here, so ``WSGIImportScript`` compiles the rules when a
    child starts; the start-up report goes to stderr, which mod_wsgi sends to
    Apache's error log.
    """
    return AccessCheck(config_path).allow_access


# -- the decision hand-over ---------------------------------------------------------------
def _is_deny_request(environ: Mapping[str, Any]) -> bool:
    """The deny application's own request, which must keep the stored decision.

    When the access script covers ``<Location />``, Apache runs it again for
    the ``ErrorDocument`` redirect to DENY_PATH (its per-directory
    configuration differs); clearing the decision there would lose it.  A
    client asking for DENY_PATH directly only ever gets the deny app's 404.
    """
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return path == DENY_PATH or path.startswith(DENY_PATH + "/")


def _store(environ: Mapping[str, Any], status: int, location: str | None) -> None:
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    _local.decision = _Decision(str(environ.get("REQUEST_URI", "")), path, status, location)


def _matches(decision: _Decision, environ: Mapping[str, Any]) -> bool:
    """Whether the ErrorDocument sub-request was made for the request that was decided.

    REDIRECT_URL is the first request's decoded path (a full URL with
    ``QualifyRedirectURL On``); REQUEST_URI comes from the unchanged request line.
    """
    redirect_url = environ.get("REDIRECT_URL")
    if not isinstance(redirect_url, str):
        return False
    if "://" in redirect_url:
        redirect_url = urlsplit(redirect_url).path
    raw_path = decision.request_uri.split("?", 1)[0]
    if redirect_url not in {p for p in (decision.path, raw_path) if p}:
        return False
    request_uri = environ.get("REQUEST_URI")
    return request_uri is None or request_uri == decision.request_uri


def _take(environ: Mapping[str, Any]) -> _Decision | None:
    """The stored decision if it belongs to this sub-request; cleared either way."""
    decision = getattr(_local, "decision", None)
    _local.decision = None
    if decision is not None and _matches(decision, environ):
        return decision
    return None


def _foreign_status(environ: Mapping[str, Any]) -> int:
    """Apache's own error (not ours): answer it plainly, 403 unless it was another error."""
    try:
        status = int(str(environ.get("REDIRECT_STATUS", "403")))
    except ValueError:
        return 403
    return status if 400 <= status <= 599 else 403


def deny_application(environ: dict, start_response: StartResponse) -> list[bytes]:
    """The ``ErrorDocument 403`` target: the stored status (and Location) for the request."""
    if "REDIRECT_STATUS" not in environ:  # requested directly, not an error document
        return answer(start_response, 404)
    decision = _take(environ)
    if decision is None:
        return answer(start_response, _foreign_status(environ))
    return answer(start_response, decision.status, decision.location)
