"""What the engine costs per request, in-process, as the rule set grows.

Prints one Markdown table: for the seed article's 11 rules (with its
URL-encoding check) and for 100 / 1,000 / 5,000 generated attack signatures
(``ruleset.py``), the microseconds one request takes from ``Transaction(...)``
to its verdict, for a GET of a page with a browser's headers, a GET of a
static file, a 1 KB urlencoded POST, a 100 KB multipart upload and the
article's attack, with the plain reference evaluator, the prefiltered fast
path, and what the hooks run ("hook": the quick lane of ``engine.quick``,
then the fast path when it cannot answer) side by side.  It also
prints how many regex searches a request runs, how long loading each rule
set takes, and how long building its prefilter takes (once per process).
The "none" row is the engine on with no rule: what parsing and normalising a
request costs before any rule runs.  Run it on an idle machine::

    python benchmarks/engine_cost.py [--sizes seed,100,1000,5000] [--repeat 5]

It is not a test: timings vary between machines and runs.  Best of
``--repeat`` runs, each at least ``--min-time`` seconds long.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ruleset import rules_text

import apache_secfilter
from apache_secfilter import Clocks, Policy, Transaction
from apache_secfilter.adapters.common import LoadedPolicy
from apache_secfilter.apacheconf.source import load_source
from apache_secfilter.cli.workloads import Workload, workloads
from apache_secfilter.engine import evaluate as evaluate_module
from apache_secfilter.engine.body import body_kind
from apache_secfilter.engine.prefilter import plan_for
from apache_secfilter.engine.quick import NEEDS_BODY, PASS

DEMO = Path(apache_secfilter.__file__).parent / "data" / "demo" / "demo.conf"
EVALUATORS = ("plain", "fast", "hook")
#: The engine on, bodies read, no rule: what a request costs before any rule runs.
NO_RULES = "SecFilterEngine On\nSecFilterScanPOST On\n"


def seed_text() -> str:
    """The article's configuration without its log files."""
    lines = DEMO.read_text().splitlines()
    keep = [ln for ln in lines if not ln.startswith(("SecAuditLog", "SecFilterDebugLog"))]
    return "\n".join(keep) + "\n"


def load(text: str) -> tuple[LoadedPolicy, float]:
    """The rules as the hooks hold them (their policy, quick lane and its rests)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.conf"
        path.write_text(text)
        start = time.perf_counter()
        loaded = LoadedPolicy(str(path), load_source(str(path)))
        return loaded, time.perf_counter() - start


def request_runner(policy: Policy, work: Workload, fast: bool,
                   loaded: LoadedPolicy | None = None) -> Callable[[], str]:
    """The transaction.  With ``loaded``, as the mod_python hook runs it: the body
    given as held, and the verdict told to the quick lane (``lane_missed``)."""
    clocks = Clocks(datetime(2024, 1, 2, tzinfo=UTC), time.monotonic)

    def run() -> str:
        tx = Transaction(policy, work.request, clocks, fast=fast)
        if tx.wants_body:
            tx.feed_body(work.body, held=loaded is not None)
        verdict = tx.finish_request()
        tx.close()
        if loaded is not None:
            loaded.lane_missed(verdict)
        return verdict.action

    return run


def hook_runner(loaded: LoadedPolicy, work: Workload) -> Callable[[], str]:
    """What the mod_python hook does: the quick lane (which rests after leaving many
    requests in a row to the transaction in vain), and the transaction when it
    cannot say "pass" (the body is read for the lane only when it is a form,
    urlencoded or multipart)."""
    policy = loaded.policy
    assert policy is not None
    transaction = request_runner(policy, work, True, loaded)
    req = work.request
    kind = body_kind(req.header("Content-Type") or "")
    form = work.body if kind in ("urlencoded", "multipart") else None
    head = (req.method, req.uri, req.protocol, req.headers, {})

    def run() -> str:
        answer = loaded.judge_quickly(*head)
        if answer == PASS or answer == NEEDS_BODY and form \
                and loaded.body_passes_quickly(req.uri, req.headers, form):
            return "pass"
        return transaction()

    return run


def best_us(run: Callable[[], object], repeat: int, min_time: float) -> float:
    """Best per-call time in µs over ``repeat`` runs of at least ``min_time`` s."""
    run()  # warm up: lazy compilation, caches
    count = 1
    while True:
        start = time.perf_counter()
        for _ in range(count):
            run()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        count *= 2
    best = elapsed / count
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(count):
            run()
        best = min(best, (time.perf_counter() - start) / count)
    return best * 1e6


def count_searches(run: Callable[[], object]) -> int:
    """How many regex searches one request runs (outside the timed loops)."""
    original = evaluate_module.Matcher.search
    calls = 0

    def counting(self, rule, value):  # noqa: ANN001, ANN202
        nonlocal calls
        calls += 1
        return original(self, rule, value)

    evaluate_module.Matcher.search = counting
    try:
        run()
    finally:
        evaluate_module.Matcher.search = original
    return calls


def build_prefilter(policy: Policy) -> float:
    """Seconds to build the policy's prefilter (done once, when a process loads it)."""
    start = time.perf_counter()
    plan_for(policy)
    return time.perf_counter() - start


def measure(name: str, text: str, evaluators: list[str], args: argparse.Namespace) -> list[str]:
    loaded, load_s = load(text)
    policy = loaded.policy
    assert policy is not None
    build_s = build_prefilter(policy)
    rows = []
    for evaluator in evaluators:
        cells, searches = [], []
        for work in workloads():
            run = hook_runner(loaded, work) if evaluator == "hook" else \
                request_runner(policy, work, evaluator == "fast")
            action = run()
            if work.attack and name == "seed" and action != "deny":
                raise SystemExit(f"{name}/{work.name}: unexpected verdict {action}")
            if not work.attack and action != "pass":
                raise SystemExit(f"{name}/{work.name}: a benign request got {action}")
            cells.append(f"{best_us(run, args.repeat, args.min_time):,.0f}")
            searches.append(str(count_searches(run)))
        rows.append(f"| {name} | {policy.rule_count} | {evaluator} | " + " | ".join(cells)
                    + f" | {' / '.join(searches)} | {load_s * 1000:,.0f} | "
                    + (f"{build_s * 1000:,.0f} |" if evaluator != "plain" else "– |"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="none,seed,100,1000,5000")
    parser.add_argument("--evaluators", default=",".join(EVALUATORS))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--time-limit-ms", type=int, default=60000,
                        help="SecFilterTimeLimit for every rule set")
    args = parser.parse_args()
    evaluators = args.evaluators.split(",")
    names = [w.name for w in workloads()]
    print("| rules | count | evaluator | " + " | ".join(f"{n} (µs)" for n in names)
          + " | regex searches | load (ms) | prefilter (ms) |")
    print("|---|---|---|" + "---|" * len(names) + "---|---|---|")
    for size in args.sizes.split(","):
        text = {"none": NO_RULES, "seed": seed_text()}.get(size) or rules_text(int(size))
        # the plain loop over 5,000 rules takes longer than the default 100 ms budget
        text = f"SecFilterTimeLimit {args.time_limit_ms}\n" + text
        for row in measure(size, text, evaluators, args):
            print(row, flush=True)


if __name__ == "__main__":
    main()
