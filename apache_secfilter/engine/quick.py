"""The quick lane: most requests are decided "pass" from their raw head (and form).

Almost every request a site receives matches no rule.  For those, building
the whole ``Request``/``RequestView``/``Transaction`` machinery costs far
more than the answer is worth, above all inside Apache, where every Python
object touched is a cache miss.  The quick lane answers "this request passes,
with nothing to log" from the request line, the headers and an urlencoded
body, in one search for the rules' strings, or says "don't know" and the
caller runs the transaction.
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
quotes, blanks, ``:``).  A form body is decoded as a whole for the same reason
(a ``%xx`` pair never spans ``&`` or ``=``).  So when no form of the joined
head (``+`` kept, ``+`` as a space, raw) and not the form's text hold any
required string, no rule can match: every value lies within one of them.
The head is searched first, and the body is read only when it passes (what
``judge_body`` finishes).  What the
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import contains
from typing import Any

import ahocorasick

from ..errors import RequestError
from ..limits import Limits
from ..policy.model import Policy, Rule
from ..request.bodies.multipart import boundary_from_content_type
from ..request.bodies.multipart_common import common_fields
from ..request.bodies.spool import can_spill
from ..request.bodies.urlencoded import encode_urlencoded
from ..request.checks.cookies import most_cookies
from ..request.checks.url_encoding import BAD_PERCENT as _BAD_PERCENT
from ..request.normalise import normalise
from ..request.variables import resolve
from .body import body_kind
from .factors import fold_text
from .prefilter import plan_for

#: Variables whose every value is a substring of a normalised head line.
HEAD_VARIABLES = (
    "THE_REQUEST", "REQUEST_URI", "QUERY_STRING", "REQUEST_METHOD", "SERVER_PROTOCOL",
    "ARGS", "ARGS_NAMES", "ARGS_VALUES", "ARG_x",
    "HEADERS", "HEADERS_NAMES", "HEADERS_VALUES", "HTTP_x", "HEADER_x",
    "COOKIES", "COOKIES_NAMES", "COOKIES_VALUES", "COOKIE_x",
    "POST_PAYLOAD",  # absent, or the urlencoded form the lane decodes as a whole
)
#: Of those, the variables whose values are not normalised: the raw head holds them.
RAW_VARIABLES = ("REQUEST_METHOD", "SERVER_PROTOCOL", "HEADERS_NAMES", "COOKIES",
                 "COOKIES_NAMES", "COOKIES_VALUES", "COOKIE_x")
_AUDITS_PASSING = ("On", "DynamicOrRelevant")
#: An Apache environment variable that changes the engine mode per request.
ENV_OVERRIDE = "MODSEC_ENABLE"
#: ``QuickLane.judge``'s answers.
PASS, NEEDS_BODY, UNSURE = "pass", "needs body", "unsure"


def _families(names: tuple[str, ...]) -> list[Any]:
    return [resolve(name).family for name in names]


HEAD_FAMILIES = _families(HEAD_VARIABLES)


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


RAW_FAMILIES = _families(RAW_VARIABLES)


def _reads_raw(rule: Rule) -> bool:
    return any(ref.family is family for ref in rule.variables for family in RAW_FAMILIES)


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

    #: Whether one of the plan's strings occurs in a folded text (``_presence``).
    occurs: Callable[[str], bool]
    check_utf8: bool
    out_of_range: re.Pattern[str] | None
    #: Some rule reads a value normalisation never touches (``RAW_VARIABLES``).
    reads_raw: bool
    check_url_encoding: bool
    #: Bodies are inspected (SecFilterScanPOST On); otherwise the lane ignores them too.
    scans_body: bool
    #: Multipart bodies may be judged here: no upload is kept or handed to a script.
    judges_uploads: bool
    limits: Limits
    #: Bodies above this size would be spilled (SecUploadInMemoryLimit) to ``spool_dir``.
    in_memory: int
    spool_dir: str | None

    def passes(self, method: str, uri: str, protocol: str,
               headers: Sequence[tuple[str, str]], body: bytes | None = None) -> bool:
        """True only when the transaction would pass the request and log nothing.

        ``body`` is the whole request body when the caller has read it (an
        urlencoded one, or a multipart one of the common shape, can be judged
        here).  The caller has checked that no ``MODSEC_ENABLE`` override is
        set (``ENV_OVERRIDE``) and that the request is not a subrequest.
        """
        return self.judge(method, uri, protocol, headers, body) == PASS

    def judge(self, method: str, uri: str, protocol: str,
              headers: Sequence[tuple[str, str]], body: bytes | None = None) -> str:
        """``PASS`` as ``passes`` says; ``NEEDS_BODY`` when only a form body not
        given yet stands between the request and ``PASS`` (read it, ask again);
        ``UNSURE`` otherwise: the transaction decides.

        Written for speed: a few C-level passes over the joined head, the
        details (body, cookie and parameter counts) only when a cheap test
        says so.
        """
        the_request = f"{method} {uri} {protocol}" if protocol else f"{method} {uri}"
        head = "\n".join([the_request, *[f"{n}: {v}" for n, v in headers]])
        if "%" in head or head.count("\n") != len(headers):
            return UNSURE
        names = ",".join([n for n, _ in headers]).lower()
        content_type = None
        if ("content-length" in names or "transfer-encoding" in names) and self.scans_body:
            has_body, content_type = _form_body(headers)
            if has_body and content_type is None:
                return UNSURE
        if "cookie" in names and not self._cookies_hold(names, headers):
            return UNSURE
        query = uri.partition("?")[2]
        if query and not self._query_holds(query):
            return UNSURE
        if (self.check_utf8 or self.out_of_range is not None) and not self._checks_pass(
                the_request, headers, head):
            return UNSURE
        if self._any_string(the_request, head, names):
            return UNSURE  # the head alone holds a rule's string: no body changes that
        if content_type is None:
            return PASS
        return NEEDS_BODY if body is None else self._judge_form(query, content_type, body)

    def judge_body(self, uri: str, headers: Sequence[tuple[str, str]], body: bytes) -> str:
        """``PASS`` or ``UNSURE`` for the whole body of a request whose head
        ``judge`` answered ``NEEDS_BODY``: what ``judge`` with the body says,
        without doing the head's work again.  Only after that answer: the head's
        checks are not repeated here."""
        content_type = _form_body(headers)[1]
        if content_type is None:
            return UNSURE
        return self._judge_form(uri.partition("?")[2], content_type, body)

    def _judge_form(self, query: str, content_type: str, body: bytes) -> str:
        """The body's part of the answer: its text as rules see it holds no string."""
        form = self._body_text(query, body, content_type)
        if form is None:
            return UNSURE
        folded = fold_text(form)
        return UNSURE if folded is None or self.occurs(folded) else PASS

    def _body_text(self, query: str, body: bytes, content_type: str) -> str | None:
        """A form body as its rules see it (payload, parameters, ARGS with the
        query's), or None when the transaction must judge it.

        A multipart body's rules see the urlencoded text of its non-file
        fields (spec §8.1), which is what is judged here.  Neither the body
        nor an upload is written to a temporary file: no rule and no log
        reads them when the request passes.  Where the transaction would
        spill them and could not (decisions R3), it is left to deny.
        """
        if self.check_utf8 or self.out_of_range is not None \
                or len(body) > self.limits.body_bytes:
            return None
        if len(body) > self.in_memory and not can_spill(self.spool_dir):
            return None
        if body_kind(content_type) == "urlencoded":
            if self.check_url_encoding and _BAD_PERCENT.search(body):
                return None
            return self._form_text(query, body)
        fields = self._multipart_fields(body, content_type)
        return None if fields is None else self._form_text(query, encode_urlencoded(fields))

    def _multipart_fields(self, body: bytes,
                          content_type: str) -> tuple[tuple[bytes, bytes], ...] | None:
        if not self.judges_uploads:
            return None
        try:
            boundary = boundary_from_content_type(content_type)
        except RequestError:
            return None
        return common_fields(body, boundary, self.limits)

    def _form_text(self, query: str, body: bytes) -> str | None:
        """Urlencoded text as ARGS and POST_PAYLOAD hold it, or None when unsure."""
        pieces = body.split(b"&")
        # "&&", "a&" or "b" are rebuilt as text that was not sent ("b="); map: no frames
        if len(pieces) + query.count("&") + 1 > self.limits.args \
                or not all(map(contains, pieces, repeat(b"="))):
            return None
        text = normalise(body.decode("latin-1"))
        return f"{text}\n{normalise(query)}&{text}" if query else text

    def _any_string(self, the_request: str, head: str, names: str) -> bool:
        """Whether a required string occurs in the head as some rule could see it.

        Normalised (headers keep ``+``); the request line also with ``+`` as a
        space (its query parameters); and raw when a rule reads raw values
        (method, protocol, header names, cookies) or a header name is one
        normalisation would change.
        """
        text = normalise(head, plus_as_space=False)
        if "+" in the_request:
            text += "\n" + normalise(the_request)
        if text != head and (self.reads_raw or _changes(names)):
            text += "\n" + head
        folded = fold_text(text)
        return folded is None or self.occurs(folded)

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

    def _query_holds(self, query: str) -> bool:
        """Parameters within their limit, and ARGS spelled as sent."""
        pieces = query.split("&")
        # "&&", "a&" or "b" are rebuilt as text that was not sent ("b=")
        return len(pieces) <= self.limits.args and all(map(contains, pieces, repeat("=")))

    def _cookies_hold(self, names: str, headers: Sequence[tuple[str, str]]) -> bool:
        """Cookies within their limit, in one header (several are joined by "; ").

        ``names``: the header names, lower case, joined by commas (as in ``judge``).
        """
        listed = names.split(",")
        if len(listed) != len(headers) or listed.count("cookie") > 1:
            return False
        value = headers[listed.index("cookie")][1] if "cookie" in listed else ""
        return most_cookies([value]) <= self.limits.cookies


def _changes(names: str) -> bool:
    """Whether normalising could change a header name (no valid name holds these)."""
    return "/" in names or "\x00" in names


def _form_body(headers: Sequence[tuple[str, str]]) -> tuple[bool, str | None]:
    """Whether the headers announce a body, as the transaction judges it (a
    Transfer-Encoding or a Content-Length not 0), and the Content-Type of a body
    the lane may judge (a form sent with a Content-Length), or None.

    One plain loop: it runs on every request with a body.
    """
    has_body = chunked = False
    kind = None
    for name, value in headers:
        key = name.lower()
        if key == "content-length" or key == "transfer-encoding":
            chunked = chunked or key == "transfer-encoding"
            if value.strip() not in ("", "0"):
                has_body = True
        elif key == "content-type" and kind is None:
            kind = value
    if not has_body or chunked or kind is None or body_kind(kind) == "raw":
        return has_body, None
    return True, kind


def _out_of_range(low: int, high: int) -> re.Pattern[str] | None:
    if (low, high) == (0, 255):
        return None
    return re.compile(f"[^\\x{low:02x}-\\x{high:02x}]")


def _build(policy: Policy, limits: Limits) -> QuickLane | None:
    if not _settings_ok(policy):
        return None
    plan = plan_for(policy).request
    if plan.always or not all(_family_ok(rule) for rule in plan.rules):
        return None
    s = policy.settings
    return QuickLane(_presence(plan.main_strings), s.check_unicode_encoding,
                     _out_of_range(*s.byte_range),
                     any(_reads_raw(rule) for rule in plan.rules), s.check_url_encoding,
                     s.scan_post, s.upload_keep_files != "On" and not s.upload_approve_script,
                     limits, s.upload_in_memory_limit, s.upload_dir)


#: Up to this many strings, ``str.__contains__`` (a fast C search per string)
#: beats one Aho-Corasick pass; above it the automaton wins.
FEW_STRINGS = 24


def _presence(strings: Sequence[str]) -> Callable[[str], bool]:
    """A test for "one of these strings occurs", as cheap as their number allows.

    Only the strings that make a rule live count (``Plan.main_strings``).
    """
    if not strings:
        return _never
    # a string holding a shorter one occurs only where that one does
    minimal: list[str] = []
    for text in sorted(strings, key=len):
        if not any(shorter in text for shorter in minimal):
            minimal.append(text)
    if len(minimal) <= FEW_STRINGS:
        return _Substrings(tuple(minimal))
    automaton = ahocorasick.Automaton()
    for text in minimal:
        automaton.add_word(text if ahocorasick.unicode else text.encode("latin-1"), 0)
    automaton.make_automaton()
    return _Scan(automaton)


def _never(_text: str) -> bool:
    return False


@dataclass(frozen=True)
class _Substrings:
    """Few strings: one C-level substring search each."""

    strings: tuple[str, ...]

    def __call__(self, text: str) -> bool:
        for string in self.strings:  # noqa: SIM110 - no generator to set up per call
            if string in text:
                return True
        return False


@dataclass(frozen=True)
class _Scan:
    """Many strings: one Aho-Corasick pass, stopping at the first hit."""

    automaton: ahocorasick.Automaton

    def __call__(self, text: str) -> bool:
        data = text if ahocorasick.unicode else text.encode("latin-1")
        return next(self.automaton.iter(data), None) is not None


def quick_lane(policy: Policy, limits: Limits) -> QuickLane | None:
    """The policy's quick lane, or None when its requests need the transaction.

    ``limits``: the transaction's (``DEFAULT_LIMITS`` in the hooks).
    """
    cache = policy.derived.setdefault("quick", {})
    if limits not in cache:
        cache[limits] = _build(policy, limits)
    return cache[limits]
