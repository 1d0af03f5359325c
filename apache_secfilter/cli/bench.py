"""``secfilter bench``: what a configuration costs per request, and which rules cost most.

An administrator who adds rules wants to know what they cost before Apache
pays for them, on this machine and with these rules.  The configuration is
loaded as ``secfilter check`` loads it (a flat rules file or a whole Apache
configuration), each request gets the policy of its sections as the hooks
resolve it, and the engine runs in-process with its default (fast) rule loop.

Two passes, so that measuring does not distort what is measured:

* the timed pass runs the engine exactly as the hooks do (plain ``Matcher``)
  and keeps the best of ``--repeat`` loops of at least ``--min-time`` seconds;
* the profiling pass runs every request again with ``engine.profile``'s
  matcher, which times each regex search per rule: a rule's *share* is its
  search time over the whole request time of that pass.

Timings vary between machines and runs; the structure of the report does not.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import real_clocks
from ..apacheconf.source import PolicySource, load_source
from ..engine.evaluate import Matcher
from ..engine.prefilter import plan_for
from ..engine.profile import ProfilingMatcher, RuleCost, RuleProfile
from ..engine.transaction import Clocks, Transaction
from ..engine.verdict import Verdict
from ..errors import RequestError
from ..policy.model import Policy
from ..request.model import Request
from ..request.wire import parse_raw_request
from .check import print_warnings
from .workloads import workloads

DEFAULT_REPEAT = 3
DEFAULT_MIN_TIME = 0.2
DEFAULT_TOP = 10
#: Longest pattern quoted in the text table (the JSON has it whole).
PATTERN_CHARS = 48
EXIT_OK = 0

#: Builds the matcher of one transaction (None: the engine's own).
MatcherFor = Callable[[Policy], Matcher | None]


@dataclass(frozen=True)
class BenchRequest:
    """One request to measure: a request file or a built-in workload."""

    name: str
    request: Request
    body: bytes = b""


@dataclass(frozen=True)
class Compiled:
    """The loaded configuration and what building it cost."""

    source: PolicySource
    load_s: float
    prefilter_s: float

    @property
    def compile_s(self) -> float:
        return self.load_s + self.prefilter_s


@dataclass(frozen=True)
class Figures:
    """One request's verdict and its best time."""

    name: str
    verdict: Verdict
    us: float


# ----------------------------------------------------------------- command line


def _positive(kind: type) -> Callable[[str], Any]:
    """An argparse type that refuses zero and negative numbers (a loop needs both)."""
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return value
    return convert


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``bench`` on the ``secfilter`` parser."""
    p = sub.add_parser("bench", help="measure µs per request and the costliest rules",
                       description="Measure what a configuration costs per request, "
                       "in-process, and which rules cost most.")
    p.add_argument("--config", required=True, metavar="FILE",
                   help="rules file or Apache configuration, as for check")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeat", type=_positive(int), default=DEFAULT_REPEAT, metavar="N",
                   help=f"timed loops per request; the best counts ({DEFAULT_REPEAT})")
    p.add_argument("--min-time", type=_positive(float), default=DEFAULT_MIN_TIME, metavar="S",
                   help=f"seconds each timed loop lasts at least ({DEFAULT_MIN_TIME:g})")
    p.add_argument("--top", type=_positive(int), default=DEFAULT_TOP, metavar="N",
                   help=f"how many of the costliest rules to list ({DEFAULT_TOP})")
    p.add_argument("requests", nargs="*", metavar="REQUEST_FILE",
                   help="raw HTTP requests (default: the built-in workloads)")
    p.set_defaults(func=cmd_bench)


# ----------------------------------------------------------------- inputs


def read_request(path: str) -> BenchRequest:
    """A raw request file; every problem names the file (and the line, when it has one)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise RequestError(f"cannot read request file {path}: {exc.strerror}") from None
    try:
        request, body = parse_raw_request(raw)
    except RequestError as exc:
        raise RequestError(f"{path}: {exc.message}") from None
    return BenchRequest(path, request, body)


def bench_requests(paths: Sequence[str]) -> list[BenchRequest]:
    """The request files, or the built-in workloads when none are given."""
    if paths:
        return [read_request(path) for path in paths]
    return [BenchRequest(w.name, w.request, w.body) for w in workloads()]


def load_config(path: str) -> tuple[PolicySource, float]:
    """Load as ``check`` does (its warnings on stderr); the seconds it took."""
    start = time.perf_counter()
    source = load_source(path)
    seconds = time.perf_counter() - start
    print_warnings(source.warnings)
    return source, seconds


def compile_policies(source: PolicySource, load_s: float,
                     requests: Sequence[BenchRequest]) -> Compiled:
    """Resolve each request's policy and build each prefilter once.

    The hooks do this before their first request (or, for a new combination
    of sections, on it), so it is reported apart from µs/request.
    """
    start = time.perf_counter()
    policies = {id(p): p for p in (source.policy_for(r.request) for r in requests)}
    resolved = time.perf_counter()
    for policy in policies.values():
        plan_for(policy)
    built = time.perf_counter()
    return Compiled(source, load_s + resolved - start, built - resolved)


# ----------------------------------------------------------------- measuring


def transaction_runner(source: PolicySource, item: BenchRequest, clocks: Clocks,
                       matcher_for: MatcherFor | None = None) -> Callable[[], Verdict]:
    """One request as a hook runs it: its policy, the transaction, body, verdict, close."""
    def run() -> Verdict:
        policy = source.policy_for(item.request)
        matcher = matcher_for(policy) if matcher_for else None
        tx = Transaction(policy, item.request, clocks, matcher=matcher)
        try:
            if tx.wants_body:
                tx.feed_body(item.body)
            return tx.finish_request()
        finally:
            tx.close()
    return run


def _loop(run: Callable[[], object], count: int) -> float:
    """Seconds for ``count`` calls: one clock read per loop, not per call."""
    start = time.perf_counter()
    for _ in range(count):
        run()
    return time.perf_counter() - start


def best_us(run: Callable[[], object], repeat: int, min_time: float) -> float:
    """Best µs per call over ``repeat`` loops of at least ``min_time`` s each.

    The best, not the mean: other work on the machine only ever adds time.
    """
    _loop(run, 1)  # warm-up: lazy compilation, caches
    count, elapsed = 1, _loop(run, 1)
    while elapsed < min_time:  # usually one step: the next count is estimated
        count = max(count + 1, math.ceil(count * 1.2 * min_time / max(elapsed, 1e-9)))
        elapsed = _loop(run, count)
    best = elapsed / count
    for _ in range(repeat - 1):
        best = min(best, _loop(run, count) / count)
    return best * 1e6


@dataclass
class ProfilePass:
    """The profiling pass: per-rule costs, and what the requests took in total."""

    profile: RuleProfile
    rounds: int = 0
    seconds: float = 0.0

    def share(self, cost: RuleCost) -> float:
        return cost.seconds / self.seconds if self.seconds > 0 else 0.0

    def per_round(self, count: int) -> int:
        """A count over one pass of the requests (every round does the same work)."""
        return round(count / self.rounds) if self.rounds else 0


def profile_rules(source: PolicySource, requests: Sequence[BenchRequest], clocks: Clocks,
                  min_time: float) -> ProfilePass:
    """Run every request, round after round, until ``min_time`` s, timing each search."""
    result = ProfilePass(RuleProfile())

    def matcher_for(policy: Policy) -> Matcher:
        return ProfilingMatcher(time.perf_counter, policy.settings.time_limit_ms,
                                result.profile)

    runners = [transaction_runner(source, r, clocks, matcher_for) for r in requests]
    while result.rounds == 0 or result.seconds < min_time:
        for run in runners:
            result.seconds += _loop(run, 1)
        result.rounds += 1
    return result


def measure(source: PolicySource, requests: Sequence[BenchRequest],
            args: argparse.Namespace) -> list[Figures]:
    """The timed pass, with the engine's own matcher; a request the engine failed on
    is said on stderr, since its time is that of an error, not of the rules."""
    clocks = real_clocks()
    figures = []
    for item in requests:
        run = transaction_runner(source, item, clocks)
        verdict = run()
        if verdict.error:
            print(f"secfilter bench: {item.name}: the engine failed: {verdict.error}",
                  file=sys.stderr)
        figures.append(Figures(item.name, verdict, best_us(run, args.repeat, args.min_time)))
    return figures


# ----------------------------------------------------------------- report


def _rule_entry(cost: RuleCost, profiled: ProfilePass) -> dict[str, Any]:
    rule = cost.rule
    return {"file": rule.location.path, "line": rule.location.line,
            "hits": profiled.per_round(cost.hits),
            "searches": profiled.per_round(cost.searches),
            "share": profiled.share(cost), "id": rule.id, "pattern": rule.pattern}


def build_report(compiled: Compiled, figures: Sequence[Figures], profiled: ProfilePass,
                 top: int) -> dict[str, Any]:
    """The JSON object: four keys other tools rely on, and the details behind them."""
    costs = [c for c in profiled.profile.costliest(top) if c.searches]
    request_rules, output_rules = compiled.source.rule_counts()
    return {
        "us_per_request": sum(f.us for f in figures) / len(figures),
        "compile_s": compiled.compile_s,
        "costliest": [_rule_entry(c, profiled) for c in costs],
        "load_s": compiled.load_s,
        "prefilter_s": compiled.prefilter_s,
        "config": compiled.source.path,
        "request_rules": request_rules,
        "output_rules": output_rules,
        "profile_rounds": profiled.rounds,
        "requests": [{"name": f.name, "action": f.verdict.action, "status": f.verdict.status,
                      "inspected": f.verdict.inspected, "us": f.us} for f in figures],
    }


def _verdict_text(entry: dict[str, Any]) -> str:
    """``deny 403``, ``pass``, or ``not inspected`` (engine off for it: no rule ran)."""
    if not entry["inspected"]:
        return "not inspected"
    return entry["action"] + (f" {entry['status']}" if entry["status"] else "")


def _short(pattern: str) -> str:
    if len(pattern) <= PATTERN_CHARS:
        return pattern
    return pattern[:PATTERN_CHARS - 1] + "…"


def format_table(report: dict[str, Any], args: argparse.Namespace) -> str:
    """The report for a person: requests, compile time, costliest rules."""
    rows = report["requests"]
    width = max(len("request"), *(len(r["name"]) for r in rows))
    verdicts = [_verdict_text(r) for r in rows]
    vwidth = max(len("verdict"), *map(len, verdicts))
    count = report["request_rules"]
    rules = f"{count} request rule{'s' if count != 1 else ''}"
    lines = [f"{report['config']}: {rules}; fast evaluator, best of {args.repeat} loops "
             f"of at least {args.min_time:g} s per request", "",
             f"{'request':<{width}}  {'verdict':<{vwidth}} {'µs':>10}"]
    lines += [f"{r['name']:<{width}}  {v:<{vwidth}} {r['us']:>10,.0f}"
              for r, v in zip(rows, verdicts, strict=True)]
    lines.append(f"{'mean':<{width}}  {'':<{vwidth}} {report['us_per_request']:>10,.0f}")
    lines += ["", f"compile: {report['compile_s']:.3f} s (load {report['load_s']:.3f} s, "
              f"prefilter {report['prefilter_s']:.3f} s)", ""]
    lines += _costliest_lines(report["costliest"])
    return "\n".join(lines)


def _costliest_lines(costliest: list[dict[str, Any]]) -> list[str]:
    if not costliest:
        return ["costliest rules: none ran a regex search on these requests"]
    lines = ["costliest rules (share of request time spent in the rule's regex searches; "
             "hits and searches over one pass of the requests)",
             f"{'share':>7} {'hits':>6} {'searches':>9}  rule"]
    for c in costliest:
        lines.append(f"{c['share'] * 100:6.1f}% {c['hits']:>6} {c['searches']:>9}  "
                     f"{c['file']}:{c['line']}  \"{_short(c['pattern'])}\"")
    return lines


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure, then print the table or exactly one JSON object on stdout."""
    source, load_s = load_config(args.config)
    requests = bench_requests(args.requests)
    compiled = compile_policies(source, load_s, requests)
    figures = measure(compiled.source, requests, args)
    profiled = profile_rules(compiled.source, requests, real_clocks(), args.min_time)
    report = build_report(compiled, figures, profiled, args.top)
    print(json.dumps(report) if args.json else format_table(report, args))
    return EXIT_OK
