"""The time budget counts CPU time: a request that waits for the processor is not denied."""

from __future__ import annotations

import time

from apache_secfilter import Request, real_clocks
from apache_secfilter.adapters.common import clocks
from apache_secfilter.engine.transaction import Transaction
from tests.unit.engine.test_fastpath import load_text


def test_the_budget_clock_is_the_threads_cpu_time() -> None:
    assert clocks().monotonic is time.thread_time
    assert real_clocks().monotonic is time.thread_time


def test_waiting_spends_none_of_the_budget() -> None:
    policy = load_text('SecFilterEngine On\nSecFilterTimeLimit 50\n'
                       'SecFilterSelective ARG_q "a+b"\n')
    request = Request("GET", "/?q=aab", "HTTP/1.1", (("Host", "a.test"),))
    tx = Transaction(policy, request, clocks())
    time.sleep(0.12)  # preempted, or waiting for the core, longer than the budget
    verdict = tx.finish_request()
    assert verdict.error is None and verdict.action == "deny" and verdict.matches
