"""The prefilter: which rules could match this request, found in one scan.

Compiled once per rule list (``plan_for(policy)``): every rule's required
strings (``engine.factors``) go into one Aho-Corasick automaton, and every
distinct variable a rule reads becomes a *source* (``ARGS``, ``HTTP_Referer``
with its exclusions, the targets of ``SecFilter`` …) that knows, for each
required string, which of its rules want it.

Per request (``Scan``) each source's targets are collected once, and its
values are folded and scanned in one pass, whatever the number of rules.  A
rule is *live* when one of its strings occurred in one of its values, or when
it has no strings (inverted patterns, patterns without a usable literal),
which then run on every value as in the plain loop.  Only live rules are
evaluated (``engine.fastpath``), and a live rule runs its regex only on the
values where one of its strings occurred: the others provably cannot match.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

import ahocorasick

from ..policy.model import Policy, Rule
from ..request.variables import Exclusions, Target, VariableRef
from ..request.view import RequestView
from .evaluate import simple_targets
from .factors import fold_text, required_sets

#: Joins a source's values for one scan: no required string spans it unless it
#: holds a NUL itself (normalised values have none).
SEPARATOR = "\0"


@dataclass(frozen=True)
class Source:
    """One distinct list of targets some rules read: a variable and its exclusions."""

    ref: VariableRef | None  # None: what SecFilter tests
    exclusions: Exclusions

    def collect(self, view: RequestView) -> list[Target]:
        if self.ref is None:
            return simple_targets(view)
        return self.ref.collect(view, self.exclusions)


def _chains(is_link: Sequence[bool]) -> tuple[list[int], list[int]]:
    """For each rule: the first rule of its chain, and the rule that ends it."""
    count = len(is_link)
    start, end = [0] * count, [count - 1] * count
    for i in range(count):
        start[i] = start[i - 1] if i and is_link[i - 1] else i
    for i in range(count - 2, -1, -1):
        end[i] = end[i + 1] if is_link[i] else i
    return start, end


@dataclass
class Plan:
    """Everything the fast path needs about one ordered rule list, built once."""

    rules: tuple[Rule, ...]
    is_link: list[bool] = field(default_factory=list)
    chain_start: list[int] = field(default_factory=list)
    chain_end: list[int] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    rule_sources: list[tuple[int, ...]] = field(default_factory=list)
    #: per rule: ids of its required strings; None when it runs on every value
    rule_keys: list[tuple[int, ...] | None] = field(default_factory=list)
    #: per rule: more sets of strings; a value must also hold one string of each.
    #: Checked only on the few values that hold one of ``rule_keys``, by substring
    #: tests, so they never enter the automaton (``;`` or ``=`` would hit everywhere)
    rule_also: list[tuple[frozenset[str], ...]] = field(default_factory=list)
    #: the strings that are some rule's ``rule_keys`` (they make rules live)
    main_strings: tuple[str, ...] = ()
    always: list[int] = field(default_factory=list)
    #: per source: string id -> the rules reading that source that want it
    owners: list[dict[int, list[int]]] = field(default_factory=list)
    source_rules: list[list[int]] = field(default_factory=list)
    automaton: ahocorasick.Automaton | None = None
    #: ids of strings holding a NUL (the separator of joined values)
    nul_keys: frozenset[int] = frozenset()

    @classmethod
    def build(cls, rules: Sequence[Rule]) -> Plan:
        plan = cls(tuple(rules))
        plan.is_link = [bool(rule.actions.chain) for rule in plan.rules]
        plan.chain_start, plan.chain_end = _chains(plan.is_link)
        strings: dict[str, int] = {}
        index: dict[Source, int] = {}
        for number, rule in enumerate(plan.rules):
            plan.rule_sources.append(tuple(plan._source(s, index) for s in _sources_of(rule)))
            sets = () if rule.negated else required_sets(rule.regex.pattern)
            ids = tuple(strings.setdefault(k, len(strings)) for k in sorted(sets[0])) \
                if sets else None
            plan.rule_keys.append(ids)
            plan.rule_also.append(sets[1:])
            plan._register(number, ids)
        plan.main_strings = tuple(strings)
        plan.automaton = _automaton(strings)
        plan.nul_keys = frozenset(n for text, n in strings.items() if SEPARATOR in text)
        return plan

    def _source(self, source: Source, index: dict[Source, int]) -> int:
        number = index.get(source)
        if number is None:
            number = index[source] = len(self.sources)
            self.sources.append(source)
            self.owners.append({})
            self.source_rules.append([])
        return number

    def _register(self, number: int, ids: tuple[int, ...] | None) -> None:
        if ids is None:
            self.always.append(number)
        for source in dict.fromkeys(self.rule_sources[number]):
            self.source_rules[source].append(number)
            for key in ids or ():
                self.owners[source].setdefault(key, []).append(number)


def _holds_all(folded: str | None, sets: tuple[frozenset[str], ...]) -> bool:
    """Whether a folded value holds a string of each set (True when unjudged: None).

    Plain loops: called for every rule a hit string owns, they cost less than
    nested generator expressions.
    """
    if folded is None:
        return True
    for strings in sets:
        for string in strings:
            if string in folded:
                break
        else:
            return False
    return True


def _sources_of(rule: Rule) -> list[Source]:
    """The sources in the order the plain loop collects them (rule_targets)."""
    if rule.is_simple:
        return [Source(None, rule.exclusions)]
    return [Source(ref, rule.exclusions) for ref in rule.variables]


def _automaton(strings: dict[str, int]) -> ahocorasick.Automaton | None:
    if not strings:
        return None
    automaton = ahocorasick.Automaton()
    for text, number in strings.items():
        automaton.add_word(text if ahocorasick.unicode else text.encode("latin-1"), number)
    automaton.make_automaton()
    return automaton


@dataclass
class SourceHits:
    """Where, among one source's targets, each required string occurred."""

    #: string id -> positions of the targets holding it, in order
    where: dict[int, list[int]] = field(default_factory=dict)
    #: positions of targets the prefilter cannot judge (every rule searches them)
    unjudged: list[int] = field(default_factory=list)
    #: each target's folded value (None: not Latin-1), for ``Plan.rule_also``
    folded: list[str | None] = field(default_factory=list)

    def positions(self, keys: tuple[int, ...]) -> list[int]:
        """Positions a rule with these string ids must search, in order."""
        if len(keys) == 1 and not self.unjudged:
            return self.where.get(keys[0], [])
        found = set(self.unjudged)
        for key in keys:
            found.update(self.where.get(key, ()))
        return sorted(found)


class Scan:
    """One request's view through a plan: targets and string hits, each computed once."""

    def __init__(self, plan: Plan, view: RequestView) -> None:
        self.plan, self.view = plan, view
        self._targets: dict[int, list[Target]] = {}
        self._sources: dict[int, SourceHits] = {}
        automaton = plan.automaton
        self._iter: Callable | None = automaton.iter if automaton is not None else None

    def targets(self, source: int) -> list[Target]:
        """A source's targets; collecting again after a failure raises again."""
        found = self._targets.get(source)
        if found is None:
            found = self._targets[source] = self.plan.sources[source].collect(self.view)
        return found

    def rule_targets(self, rule: int) -> list[Target]:
        """What ``evaluate.rule_targets`` returns for the rule, shared between rules."""
        sources = self.plan.rule_sources[rule]
        if len(sources) == 1:
            return self.targets(sources[0])
        return [t for source in sources for t in self.targets(source)]

    def candidates(self, rule: int, keys: tuple[int, ...]) -> list[Target]:
        """The rule's targets that hold one of its strings, and one of each of its
        other sets (``rule_also``), in ``rule_targets`` order."""
        also = self.plan.rule_also[rule]
        out: list[Target] = []
        for source in self.plan.rule_sources[rule]:
            targets = self.targets(source)
            hits = self.source_hits(source)
            positions = hits.positions(keys)
            if also:
                positions = [p for p in positions if _holds_all(hits.folded[p], also)]
            out += [targets[p] for p in positions]
        return out

    def source_hits(self, source: int) -> SourceHits:
        """Each string's positions among the source's targets (scanned once)."""
        found = self._sources.get(source)
        if found is None:
            values = [t.value for t in self.targets(source)]
            if not self._scan_joined([(source, values)]):
                found = SourceHits()
                if self._iter is not None and values:
                    self._scan_each(values, found)
                self._sources[source] = found
            found = self._sources[source]
        return found

    def _scan_joined(self, groups: list[tuple[int, list[str]]]) -> bool:
        """Scan the values of one or more sources in one pass, all joined by NUL,
        and store each source's hits; a hit belongs to the value it ends in.

        When no value holds a NUL, a string holding one can only be found
        across a separator, so its hits are ignored.  False (nothing stored)
        when a value holds a NUL itself or is not Latin-1, or there is nothing
        to scan: ``source_hits`` then scans that source's values one by one.
        """
        values = [value for _, found in groups for value in found]
        if self._iter is None or not values:
            return False
        joined = SEPARATOR.join(values)
        folded = fold_text(joined)
        if folded is None or joined.count(SEPARATOR) != len(values) - 1:
            return False
        each = folded.split(SEPARATOR)
        firsts = list(accumulate((len(found) for _, found in groups[:-1]), initial=0))
        results = [SourceHits(folded=each[first:first + len(found)])
                   for first, (_, found) in zip(firsts, groups, strict=True)]
        ends = list(accumulate(len(v) + 1 for v in values))
        spanning = self.plan.nul_keys
        for end, key in self._iter(folded if ahocorasick.unicode else folded.encode("latin-1")):
            if key in spanning:  # no value here holds a NUL: the hit spans two values
                continue
            value = bisect_right(ends, end)
            which = bisect_right(firsts, value) - 1  # the last source starting there
            position = value - firsts[which]
            positions = results[which].where.setdefault(key, [])
            if not positions or positions[-1] != position:
                positions.append(position)
        for (source, _), hits in zip(groups, results, strict=True):
            self._sources[source] = hits
        return True

    def _scan_each(self, values: list[str], found: SourceHits) -> None:
        for position, value in enumerate(values):
            folded = fold_text(value)
            found.folded.append(folded)
            if folded is None:
                found.unjudged.append(position)
                continue
            text = folded if ahocorasick.unicode else folded.encode("latin-1")
            for key in dict.fromkeys(key for _, key in self._iter(text)):
                found.where.setdefault(key, []).append(position)

    def live(self) -> list[int]:
        """Rules that could match, in order: the others provably match nothing."""
        plan = self.plan
        live = set(plan.always)
        wanted = [source for source, owners in enumerate(plan.owners) if owners]
        self._scan_together(wanted)
        for source in wanted:
            live.update(self._live_in(source, plan.owners[source]))
        return sorted(live)

    def _scan_together(self, sources: list[int]) -> None:
        """What ``source_hits`` finds for each of ``sources``, in one pass over all
        their values (one join, fold and automaton run instead of one per source).

        A source whose targets cannot be collected is left out: ``source_hits``
        raises it again where the rule loop needs it.  When a value holds a NUL
        or is not Latin-1, nothing is stored and each source is scanned alone.
        """
        groups: list[tuple[int, list[str]]] = []
        for source in sources:
            try:
                groups.append((source, [t.value for t in self.targets(source)]))
            except Exception:  # noqa: BLE001 - raised again, in order, by the rule that reads it
                continue
        if len(groups) > 1:
            self._scan_joined(groups)

    def _live_in(self, source: int, owners: dict[int, list[int]]) -> list[int]:
        try:
            found = self.source_hits(source)
        except Exception:  # noqa: BLE001 - the rule that reads it raises it again, in order
            return self.plan.source_rules[source]
        if found.unjudged:
            return self.plan.source_rules[source]
        out: list[int] = []
        also, folded = self.plan.rule_also, found.folded
        for key, positions in found.where.items():
            for rule in owners.get(key, ()):
                sets = also[rule]
                if not sets:
                    out.append(rule)
                    continue
                for position in positions:  # live only where a value holds one of each set
                    if _holds_all(folded[position], sets):
                        out.append(rule)
                        break
        return out


_LOCK = threading.Lock()


@dataclass(frozen=True)
class PolicyPlans:
    """The plans of a policy's request rules and output rules."""

    request: Plan
    output: Plan


def plan_for(policy: Policy) -> PolicyPlans:
    """The policy's plans, built on first use and kept with the policy."""
    plans = policy.derived.get("prefilter")
    if plans is None:
        with _LOCK:
            plans = policy.derived.get("prefilter")
            if plans is None:
                plans = PolicyPlans(Plan.build(policy.rules), Plan.build(policy.output_rules))
                policy.derived["prefilter"] = plans
    return plans
