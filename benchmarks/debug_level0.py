"""What SecFilterDebugLevel costs on the request path (decisions G5).

Level 0 must cost nothing: the engine collects debug messages only when the
level is above 0.  This script times the request phase of one transaction
against a 60-rule policy (no rule matches, so every rule and target is
tested) at levels 0, 3 and 9, best of several runs, and prints microseconds
per request.  Run it before and after a change to the engine, on an idle
machine::

    python benchmarks/debug_level0.py [--requests 3000] [--repeat 7]

It is not a test: timings vary between machines and runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from apache_secfilter import Clocks, Request, Transaction, load_policy

RULES = 60


def policy_text(level: int) -> str:
    lines = ["SecFilterEngine On", "SecFilterDefaultAction \"deny,log,status:403\"",
             f"SecFilterDebugLevel {level}"]
    for i in range(RULES):
        if i % 3 == 0:
            lines.append(f'SecFilter "attack{i}[0-9]+" "id:{1000 + i}"')
        elif i % 3 == 1:
            lines.append(f'SecFilterSelective ARGS "union{i}.+select" "id:{1000 + i}"')
        else:
            lines.append(f'SecFilterSelective "HTTP_USER_AGENT|ARG_q" "bot{i}$" "id:{1000 + i}"')
    return "\n".join(lines) + "\n"


REQUEST = Request("GET", "/search.php?q=hello+world&page=2&sort=asc", "HTTP/1.1",
                  (("Host", "www.example.test"), ("User-Agent", "Mozilla/5.0 (X11)"),
                   ("Accept", "text/html"), ("Cookie", "sid=abc123")), "192.0.2.10")


def time_level(level: int, requests: int, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.conf"
        path.write_text(policy_text(level))
        policy = load_policy(str(path))
    clocks = Clocks(datetime(2024, 1, 2, tzinfo=UTC), time.monotonic)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(requests):
            Transaction(policy, REQUEST, clocks).finish_request()
        best = min(best, time.perf_counter() - start)
    return best / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--levels", default="0,3,9")
    args = parser.parse_args()
    for level in (int(x) for x in args.levels.split(",")):
        micros = time_level(level, args.requests, args.repeat)
        print(f"SecFilterDebugLevel {level}: {micros:8.1f} us per request ({RULES} rules)")


if __name__ == "__main__":
    main()
