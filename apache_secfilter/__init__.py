"""apache_secfilter: the ModSecurity 1.x rule language for Apache 2.4, in Python.

The public API::

    policy = load_policy("/etc/apache2/secfilter.rules")
    verdict = inspect(policy, request, body=b"...")

``Transaction`` is the staged object adapters drive (start -> body chunks ->
request verdict -> output); ``inspect`` runs it in one call with the real
clock, for tools and tests.
"""

from __future__ import annotations

import time
from datetime import datetime

from .engine.transaction import Clocks, Services, Transaction
from .engine.verdict import Match, Verdict
from .errors import ConfigError, RequestError, SecFilterError
from .policy.load import load_policy
from .policy.model import Policy
from .request.model import Request, Response, ServerFacts
from .version import __version__


def real_clocks() -> Clocks:
    """The wall clock for TIME_* variables and a monotonic clock for budgets."""
    return Clocks(datetime.now().astimezone(), time.thread_time)


def inspect(policy: Policy, request: Request, body: bytes = b"",
            response: Response | None = None, services: Services | None = None,
            clocks: Clocks | None = None, fast: bool | None = None) -> Verdict:
    """Run a whole transaction: request (with body) and, if given, the response.

    ``fast=False`` uses the plain reference loop instead of the prefiltered
    one (same verdicts; see engine.fastpath); None follows the engine default.
    """
    tx = Transaction(policy, request, clocks or real_clocks(), services, fast=fast)
    try:
        if tx.wants_body:
            tx.feed_body(body)
        verdict = tx.finish_request()
        if response is not None and not verdict.blocks and verdict.action != "allow":
            verdict = tx.inspect_output(response)
        return verdict
    finally:
        tx.close()


__all__ = ["Clocks", "ConfigError", "Match", "Policy", "Request", "RequestError", "Response",
           "SecFilterError", "ServerFacts", "Transaction", "Verdict", "__version__", "inspect",
           "load_policy", "real_clocks"]
