"""What every adapter shares: the per-process policy cache, the clock, programs.

Adapters are the only code that touches Apache, files or the clock.  A policy
is compiled once per process and configuration path (and again only when the
file changes on disk and the process restarts); a configuration that does not
load is remembered as an error, so every request is denied with a reason
instead of being served with the filter silently off (decisions R6).
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from ..apacheconf import cache as policy_cache
from ..apacheconf.source import PolicySource, load_source
from ..engine.factors import forget_patterns
from ..engine.prefilter import plan_for
from ..engine.quick import ENV_OVERRIDE, PASS, UNSURE, QuickLane, quick_lane
from ..engine.transaction import Clocks
from ..engine.verdict import Verdict
from ..errors import ConfigWarning, SecFilterError
from ..limits import DEFAULT_LIMITS
from ..policy.model import Policy
from ..request.model import Request
from .programs import ProgramRunner

#: After this many requests in a row that the quick lane could not answer and the
#: transaction then passed with nothing to log, the lane is not asked about the
#: next ``LANE_REST`` requests (then asked again).  With thousands of signatures,
#: strings such as ``or`` and ``id`` occur in every browser request: the lane never
#: answers, and asking costs a request 30 to 60 µs inside Apache for nothing.
#: Requests the transaction refuses or logs (an attack flood) do not count: with
#: the article's rules the lane goes on passing the benign ones.  Per process; a
#: heuristic only: the transaction decides whatever the lane does not.
LANE_MISSES = 64
LANE_REST = 1024


@dataclass
class LoadedPolicy:
    """A loaded configuration (rules file or apache2.conf), or why it did not load."""

    path: str
    source: PolicySource | None
    error: str | None = None
    #: Requests in a row the quick lane left to a transaction that passed them
    #: with nothing to log (``lane_missed``).
    lane_misses: int = field(default=0, repr=False)
    #: Requests the lane is still not asked about, having missed too often.
    lane_rest: int = field(default=0, repr=False)

    @property
    def policy(self) -> Policy | None:
        """The one policy of a flat rules file (None for an Apache configuration)."""
        return self.source.flat_policy if self.source is not None else None

    def policy_for(self, request: Request) -> Policy:
        """The policy of the sections this request falls in (issue: contexts)."""
        assert self.source is not None
        return self.source.policy_for(request)

    @cached_property
    def single(self) -> Policy | None:
        """The one policy every request gets, when sections do not make them differ."""
        return self.source.single_policy() if self.source is not None else None

    @cached_property
    def quick(self) -> QuickLane | None:
        """The quick lane of the one policy every request gets, if there is one."""
        if self.single is None:
            return None
        return quick_lane(self.single, DEFAULT_LIMITS)

    def passes_quickly(self, method: str, uri: str, protocol: str,
                       headers: Sequence[tuple[str, str]], env: Container[str],
                       body: bytes | None = None) -> bool:
        """True when the request certainly passes with nothing to log: the hook can
        let Apache go on without building a transaction.  ``body``: the whole
        request body, when the hook has read it."""
        return self.judge_quickly(method, uri, protocol, headers, env, body) == PASS

    def body_passes_quickly(self, uri: str, headers: Sequence[tuple[str, str]],
                            body: bytes) -> bool:
        """After ``judge_quickly`` answered ``NEEDS_BODY`` for this head: whether
        the whole body read since lets the request pass (``QuickLane.judge_body``:
        the head's work is not done twice)."""
        lane = self.quick
        return lane is not None and lane.judge_body(uri, headers, body) == PASS

    def judge_quickly(self, method: str, uri: str, protocol: str,
                      headers: Sequence[tuple[str, str]], env: Container[str],
                      body: bytes | None = None) -> str:
        """The quick lane's answer (``engine.quick.QuickLane.judge``): ``PASS``,
        ``NEEDS_BODY`` (read the form, ask ``body_passes_quickly``) or ``UNSURE``."""
        lane = self.quick
        if lane is None or ENV_OVERRIDE in env:
            return UNSURE
        if self.lane_rest:  # it has not answered lately: don't spend the time asking
            self.lane_rest -= 1
            return UNSURE
        answer = lane.judge(method, uri, protocol, headers, body)
        if answer != UNSURE:
            self.lane_misses = 0
        return answer

    def lane_missed(self, verdict: Verdict) -> None:
        """After a transaction the quick lane left to the hook (it said ``UNSURE``,
        or ``NEEDS_BODY`` and then not ``PASS``): count it as asked in vain when the
        request passed with nothing to log; rest the lane after ``LANE_MISSES``."""
        if self.lane_rest or self.quick is None or verdict.action != "pass" \
                or verdict.alerts or verdict.relevant:
            return
        self.lane_misses += 1
        if self.lane_misses >= LANE_MISSES:
            self.lane_misses, self.lane_rest = 0, LANE_REST


class PolicyCache:
    """One compiled policy per configuration path, per process, thread-safe."""

    def __init__(self) -> None:
        #: Where compiled configurations are kept between processes (None: nowhere);
        #: the ``SECFILTER_CACHE_DIR`` environment variable when not set here.
        self.cache_dir: str | None = None
        self._lock = threading.Lock()
        self._loaded: dict[str, LoadedPolicy] = {}
        self._warned: set[str] = set()

    @staticmethod
    def _store(directory: str, path: str, source: PolicySource, started: float) -> None:
        """Write the cache entry; a failure is a warning, never a denial."""
        try:
            policy_cache.write(directory, path, source, compiled_at=started)
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
            warning = ConfigWarning(f"compiled-policy cache {directory} not written: {exc}")
            source.warnings = (*source.warnings, warning)

    def get(self, path: str) -> LoadedPolicy:
        loaded = self._loaded.get(path)
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._loaded.get(path)
            if loaded is None:
                loaded = self._load(path)
                self._loaded[path] = loaded
        return loaded

    def first_warnings(self, loaded: LoadedPolicy) -> list[str]:
        """The load warnings, once per process and path (for Apache's error log)."""
        if loaded.path in self._warned:  # every request but the first: no lock
            return []
        with self._lock:
            if loaded.path in self._warned:
                return []
            self._warned.add(loaded.path)
        if loaded.source is None:
            return []
        return [f"mod_security: {warning}" for warning in loaded.source.warnings]

    def _load(self, path: str) -> LoadedPolicy:
        try:
            directory = self.cache_dir or os.environ.get(CACHE_DIR_ENV)
            if not directory:
                return LoadedPolicy(path, _compiled(path))
            source = policy_cache.read(directory, path)
            if source is None:
                with policy_cache.compiling(directory, path):  # one child compiles
                    source = policy_cache.read(directory, path)  # one finished meanwhile?
                    if source is None:
                        started = time.time()
                        source = _compiled(path)
                        self._store(directory, path, source, started)
            return LoadedPolicy(path, source)
        except SecFilterError as exc:
            return LoadedPolicy(path, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - any load failure must fail closed
            return LoadedPolicy(path, None, f"{type(exc).__name__}: {exc}")


POLICIES = PolicyCache()
CACHE_DIR_ENV = "SECFILTER_CACHE_DIR"


def _compiled(path: str) -> PolicySource:
    source = load_source(path)
    prepare(source)
    return source


def prepare(source: PolicySource) -> None:
    """Build now, not on a request, what the first request would: the prefilter of
    every policy the configuration's own sections give, and the quick lane."""
    policies = [source.flat_policy] if source.flat_policy is not None else \
        [source.policy_for_key(key) for key in source.lexical_keys()]
    for policy in policies:
        plan_for(policy)
    single = source.single_policy()
    if single is not None:
        quick_lane(single, DEFAULT_LIMITS)
    forget_patterns()  # their required strings now live in the plans


def clocks() -> Clocks:
    """The real clocks, read here (the engine never reads them itself)."""
    return Clocks(datetime.now().astimezone(), time.thread_time)


def cgi_environment(request: Request, verdict: Verdict) -> dict[str, str]:
    """A CGI-like environment for exec: programs (decisions R5)."""
    facts = request.facts
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": request.method,
        "REQUEST_URI": request.uri,
        "QUERY_STRING": request.query_string,
        "SERVER_PROTOCOL": request.protocol,
        "REMOTE_ADDR": request.remote_addr,
        "REMOTE_PORT": str(request.remote_port),
        "SERVER_NAME": facts.server_name,
        "SERVER_ADDR": facts.server_addr,
        "SERVER_PORT": str(facts.server_port),
        "SCRIPT_FILENAME": facts.script_filename,
        "DOCUMENT_ROOT": facts.document_root,
        "UNIQUE_ID": facts.unique_id,
    }
    for name, value in request.headers:
        env.setdefault("HTTP_" + name.upper().replace("-", "_"), value)
    if verdict.message_header:
        env["HTTP_MOD_SECURITY_MESSAGE"] = verdict.message_header
    if verdict.action_header:
        env["HTTP_MOD_SECURITY_ACTION"] = verdict.action_header
    return {k: v for k, v in env.items() if "\0" not in v}


def run_side_effects(request: Request, verdict: Verdict, runner: ProgramRunner,
                     timeout: float = 10.0) -> None:
    """exec: programs and pause: of a verdict, in the order 1.x ran them."""
    if verdict.exec_programs:
        env = cgi_environment(request, verdict)
        for program in verdict.exec_programs:
            runner.run_exec(program, env, timeout)
    if verdict.pause_ms:
        time.sleep(min(verdict.pause_ms, 60_000) / 1000.0)


def env_updates(verdict: Verdict) -> Mapping[str, str]:
    """Environment variables a verdict sets, incl. mod_security-relevant (G6)."""
    updates = dict(verdict.env)
    if verdict.relevant:
        updates["mod_security-relevant"] = "1"
    return updates
