"""What each rule's regex searches cost: a Matcher that keeps count, for ``secfilter bench``.

Both rule loops (``evaluate`` and ``fastpath``) run every search through
``Matcher.search``, so timing that one call per rule tells an administrator
which rules a request pays for, without touching the loops.  The profile is
keyed by the rule's ``file:line``: with an Apache configuration the same
written rule may sit in several merged policies, and the user edits it in
one place.

Like the rest of the engine this never reads the clock itself: the caller
gives it one (``time.perf_counter`` for the command line).  Timing every
search has a cost of its own, so callers measure µs per request with the
plain ``Matcher`` and use this one in a separate pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InspectionFailed, Location
from ..policy.model import Rule
from .evaluate import Matcher


@dataclass
class RuleCost:
    """One rule's searches: how many, how many fired, and the seconds spent in them."""

    rule: Rule
    searches: int = 0
    #: searches on which the rule fired (its pattern matched, or did not for ``!``):
    #: a loop stops testing a rule's values at the first, so this counts requests.
    hits: int = 0
    seconds: float = 0.0


class RuleProfile:
    """Per-rule search counts and time, accumulated over many transactions."""

    def __init__(self) -> None:
        self.costs: dict[Location, RuleCost] = {}

    def record(self, rule: Rule, fired: bool, seconds: float) -> None:
        """Add one search of ``rule`` that took ``seconds``."""
        cost = self.costs.get(rule.location)
        if cost is None:
            cost = self.costs[rule.location] = RuleCost(rule)
        cost.searches += 1
        cost.hits += fired
        cost.seconds += seconds

    def costliest(self, count: int) -> list[RuleCost]:
        """The ``count`` rules with the most search time (ties: most searches, then
        file order), so that the table is stable when times are equal."""
        ranked = sorted(self.costs.values(),
                        key=lambda c: (-c.seconds, -c.searches, c.rule.location.path,
                                       c.rule.location.line))
        return ranked[:count]


class ProfilingMatcher(Matcher):
    """``Matcher`` that records every search's duration and outcome in a profile.

    The budget (decisions L21) is enforced exactly as by ``Matcher``, with the
    same clock, so a profiled transaction gets the verdict an unprofiled one gets.
    """

    def __init__(self, clock: Callable[[], float], budget_ms: int,
                 profile: RuleProfile) -> None:
        super().__init__(clock, budget_ms)
        self.profile = profile

    def search(self, rule: Rule, value: str) -> bool:
        start = self.clock()
        try:
            found = super().search(rule, value)
        except InspectionFailed:
            self.profile.record(rule, False, self.clock() - start)
            raise
        self.profile.record(rule, found != rule.negated, self.clock() - start)
        return found
