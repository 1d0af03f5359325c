"""The quick lane: most requests are decided "pass" from their raw head alone.

Almost every request a site receives matches no rule.  For those, building
the whole ``Request``/``RequestView``/``Transaction`` machinery costs far
more than the answer is worth, above all inside Apache, where every Python
object touched is a cache miss.  The quick lane answers "this request passes,
with nothing to log" from the request line and the headers, in one
Aho-Corasick scan, or says "don't know" and the caller runs the transaction.
It never says "pass" where the transaction would do anything else.

Why the answer is exact.  Every rule of the policy has required strings
(``engine.factors``): whenever its regex matches a value, the case-folded
value holds one of them.  The lane accepts only policies whose request rules
all have such strings and read only values that are, after normalisation,
substrings of the request line or of a ``Name: value`` header line
normalised as a whole (the list is ``HEAD_FAMILIES``).  That holds when the
head has no ``%`` (URL-decoding would create characters the raw text lacks):
normalisation is then path compression, NUL replacement and, for query
values, ``+`` as a space, and all three act alike on a value and on any
stretch of text containing it, because every value is cut out of its line at
characters those steps do not touch (``?``, ``&``, ``=``, ``;``, ``,``,
quotes, blanks, ``:``).  So when neither form of the joined head (``+`` kept,
``+`` as a space) holds any required string, no rule can match.  What the
transaction checks besides the rules (the URL-encoding, UTF-8 and byte-range
checks, the parameter and cookie limits, a request body) is either shown to
pass here or makes the lane step aside; policies that log or act on passing
requests (audit ``On``, relevant statuses, debug or guardian logs, output
scanning) are never decided here.

``tests/unit/engine/test_quick.py`` runs both on the conformance battery and
on generated policies and requests, and demands that a quick "pass" is the
transaction's plain pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick

from ..policy.model import Policy, Rule
from ..request.normalise import normalise
from ..request.variables import resolve
from .factors import fold_text
from .prefilter import plan_for

#: Variables whose every value is a substring of a normalised head line.
HEAD_VARIABLES = (
    "THE_REQUEST", "REQUEST_URI", "QUERY_STRING", "REQUEST_METHOD", "SERVER_PROTOCOL",
    "ARGS", "ARGS_NAMES", "ARGS_VALUES", "ARG_x",
    "HEADERS", "HEADERS_NAMES", "HEADERS_VALUES", "HTTP_x", "HEADER_x",
    "COOKIES", "COOKIES_NAMES", "COOKIES_VALUES", "COOKIE_x",
    "POST_PAYLOAD",  # absent: the lane only takes requests without a body
)
_AUDITS_PASSING = ("On", "DynamicOrRelevant")
#: An Apache environment variable that changes the engine mode per request.
ENV_OVERRIDE = "MODSEC_ENABLE"
_BODY_HEADERS = ("content-length", "transfer-encoding")


def _head_families() -> list[Any]:
    return [resolve(name).family for name in HEAD_VARIABLES]


HEAD_FAMILIES = _head_families()


def _family_ok(rule: Rule) -> bool:
    if rule.is_simple:
        return True
    for ref in rule.variables:
        if not any(ref.family is family for family in HEAD_FAMILIES):
            return False
    # ARGS or COOKIES without some of their items are rebuilt as one string the head
    # does not hold: the items either side of a removed one become neighbours
    written = {ref.written.upper() for ref in rule.variables}
    return not ((rule.exclusions.args and "ARGS" in written)
                or (rule.exclusions.cookies and "COOKIES" in written))


def _settings_ok(policy: Policy) -> bool:
    """Settings under which a passing request leaves no trace the lane would skip."""
    s = policy.settings
    return (s.engine in ("On", "DynamicOnly") and s.debug_level == 0
            and s.audit_engine not in _AUDITS_PASSING and not s.audit_relevant_status
            and not s.guardian_log and not s.check_cookie_format
            and not (s.scan_output and policy.output_rules))


@dataclass(frozen=True)
class QuickLane:
    """What one policy's quick answer needs, worked out once."""

    iterate: Any  # the request plan's ``Automaton.iter``
    unicode_keys: bool
    check_utf8: bool
    out_of_range: re.Pattern[str] | None
    max_args: int
    max_cookies: int

    def passes(self, method: str, uri: str, protocol: str,
               headers: Sequence[tuple[str, str]]) -> bool:
        """True only when the transaction would pass the request and log nothing.

        The caller has checked that no ``MODSEC_ENABLE`` override is set
        (``ENV_OVERRIDE``) and that the request is not a subrequest.
        """
        the_request = f"{method} {uri} {protocol}" if protocol else f"{method} {uri}"
        lines = [the_request]
        for name, value in headers:
            if name.lower() in _BODY_HEADERS and value.strip() not in ("", "0"):
                return False
            lines.append(f"{name}: {value}")
        head = "\n".join(lines)
        if "%" in head or head.count("\n") != len(headers):
            return False
        if not (self._checks_pass(the_request, headers, head)
                and self._limits_hold(uri, headers)):
            return False
        return not self._any_string(head)

    def _any_string(self, head: str) -> bool:
        """Whether a required string occurs in the head as any rule could see it:
        normalised, raw (cookies, names, method), and with ``+`` as a space."""
        text = normalise(head, plus_as_space=False)
        if text != head:
            text += "\n" + head
        if "+" in head:
            text += "\n" + text.replace("+", " ")
        folded = fold_text(text)
        if folded is None:
            return True
        for _ in self.iterate(folded if self.unicode_keys else folded.encode("latin-1")):
            return True
        return False

    def _checks_pass(self, the_request: str, headers: Sequence[tuple[str, str]],
                     head: str) -> bool:
        """The UTF-8 and byte-range checks (the head holds no ``%`` here)."""
        if self.check_utf8 and not head.isascii():
            return False
        if self.out_of_range is None:
            return True
        found = self.out_of_range.search
        if found(the_request.replace("+", " ")):
            return False
        return not any(found(value) for _, value in headers)

    def _limits_hold(self, uri: str, headers: Sequence[tuple[str, str]]) -> bool:
        """Parameters and cookies within their limits, and ARGS spelled as sent."""
        query = uri.partition("?")[2]
        if query:
            pieces = query.split("&")
            if len(pieces) > self.max_args or not all("=" in piece for piece in pieces):
                return False  # "&&", "a&" or "b" are rebuilt as text not sent
        cookies = [v for n, v in headers if n.lower() == "cookie"]
        if len(cookies) > 1:
            return False  # joined by "; ", which was not sent
        pieces = sum(v.count(";") + v.count(",") + 1 for v in cookies)
        return pieces <= self.max_cookies


def _out_of_range(low: int, high: int) -> re.Pattern[str] | None:
    if (low, high) == (0, 255):
        return None
    return re.compile(f"[^\\x{low:02x}-\\x{high:02x}]")


def _build(policy: Policy, max_args: int, max_cookies: int) -> QuickLane | None:
    if not _settings_ok(policy):
        return None
    plan = plan_for(policy).request
    if plan.always or not all(_family_ok(rule) for rule in plan.rules):
        return None
    automaton = plan.automaton
    iterate = _no_hits if automaton is None else automaton.iter
    s = policy.settings
    return QuickLane(iterate, bool(ahocorasick.unicode), s.check_unicode_encoding,
                     _out_of_range(*s.byte_range), max_args, max_cookies)


def _no_hits(_text: object) -> tuple[()]:
    return ()


def quick_lane(policy: Policy, max_args: int, max_cookies: int) -> QuickLane | None:
    """The policy's quick lane, or None when its requests need the transaction."""
    cache = policy.derived.setdefault("quick", {})
    key = (max_args, max_cookies)
    if key not in cache:
        cache[key] = _build(policy, max_args, max_cookies)
    return cache[key]
