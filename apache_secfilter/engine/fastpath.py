"""The rule loop over live rules only, with the plain loop's exact results.

``evaluate.evaluate`` visits every rule; this visits only the rules the
prefilter found live (``engine.prefilter``) and jumps over the rest, and a
live rule runs its regex only on the values where one of its required strings
occurred.  A skipped rule is one that provably matches nothing, and a rule
that matches nothing changes the plain loop's state in only two ways, both
reproduced here without visiting it:

* as part of a chain (a link, or the rule that ends the chain) it fails the
  chain: the loop goes on after the chain's end (``chain_end``), so later
  live rules of that chain never fire;
* as a rule in the middle of a ``skipnext`` it is counted: the count is
  applied as a jump over rule indices, dead or live alike.

Everything else (which target fires first, the actions of a completed chain,
alerts, the first disruptive match, the time budget of each search) is the
plain loop's own code: ``Outcome.fire`` and ``Matcher.search``.
"""

from __future__ import annotations

from bisect import bisect_left

from ..policy.model import Rule
from ..request.variables import Target
from ..request.view import RequestView
from .evaluate import Matcher, Outcome
from .prefilter import Plan, Scan


def first_hit(scan: Scan, number: int, matcher: Matcher) -> Target | None:
    """``evaluate.first_hit``, skipping values that cannot match the rule."""
    rule = scan.plan.rules[number]
    keys = scan.plan.rule_keys[number]
    # Both collect the rule's variables in order before any search, so a variable
    # that cannot be read (a limit) fails here, as in the plain loop.  Inverted
    # patterns have no keys: they search every value.
    targets = scan.rule_targets(number) if keys is None else scan.candidates(number, keys)
    for target in targets:
        if matcher.search(rule, target.value) != rule.negated:
            return target
    return None


def _next_start(plan: Plan, live: list[int], position: int) -> int | None:
    """The next rule to evaluate from ``position`` with no chain in progress.

    Rules before the next live rule match nothing.  If one of them is an
    earlier link of that live rule's chain (counted from ``position``, where
    a ``skipnext`` may have landed mid-chain), the chain has failed: go on
    after it and look again.
    """
    while True:
        k = bisect_left(live, position)
        if k == len(live):
            return None
        candidate = live[k]
        if max(position, plan.chain_start[candidate]) == candidate:
            return candidate
        position = plan.chain_end[candidate] + 1


def evaluate_fast(plan: Plan, view: RequestView, matcher: Matcher, outcome: Outcome,
                  phase: str) -> None:
    """Run the live rules in order until one stops processing (as ``evaluate``)."""
    scan = Scan(plan, view)
    live = scan.live()
    if not live:
        return
    live_set = set(live)
    links: list[tuple[Rule, Target]] = []
    position, count = 0, len(plan.rules)
    while position < count:
        if not links:
            start = _next_start(plan, live, position)
            if start is None:
                return
            position = start
        elif position not in live_set:  # a dead link or chain end: the chain fails
            links = []
            position = plan.chain_end[position] + 1
            continue
        hit = first_hit(scan, position, matcher)
        is_link = plan.is_link[position]
        if hit is None:
            links = []
            position = plan.chain_end[position] + 1 if is_link else position + 1
            continue
        links.append((plan.rules[position], hit))
        position += 1
        if is_link:
            continue
        skip = outcome.fire(links, phase)
        links = []
        if outcome.stopped:
            return
        position += skip
