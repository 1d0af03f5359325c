"""The literal text any match of a pattern must contain (the prefilter's keys).

For each rule pattern this finds a *required set*: a few strings such that
every match of the pattern, on any value, contains at least one of them.  A
value that contains none of them cannot match, so the rule's regex need not
run on it.  The strings are case-folded (``fold_text``), because 1.x matching
is case-insensitive; values are folded the same way before they are scanned.

The pattern is read with Python's own regex parser (``re._parser``), whose
syntax the ``regex`` module's V0 mode shares.  Where the two could read a
pattern differently, the pattern gets no required set and its rule simply
runs on every value, as in the plain evaluator:

* a ``{`` that is not a plain ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}``
  quantifier (``regex`` reads ``(?:x){e<=1}`` as fuzzy matching);
* verbose mode, and anything ``re`` refuses (``\\p{..}``, ``(?|..)``, ``\\K`` …);
* a bracket class holding a POSIX class (``[[:alpha:]]``) or an escape other
  than ``\\xHH`` and punctuation becomes "any character" before parsing, a
  superset of what it matches, so the strings found are still required.

Correctness rests on one property: when a pattern character ``p`` matches a
value character ``c`` (case-insensitively or not), ``fold_char(p) ==
fold_text(c)``.  It is checked against the ``regex`` module itself for every
character a pattern uses, and ``fold_text`` refuses values that are not
Latin-1 (the prefilter then lets every rule through for them).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

# re._parser (Python 3.11+) is the only parser of this syntax in the standard
# library; its tree is stable across 3.11-3.13 for the node kinds used here.
from re import _constants as C
from re import _parser as sre_parse

import regex

from ..policy.pattern import REGEX_FLAGS, re_compatible

#: Most strings a required set may hold (an alternation of keywords is one set).
MAX_SET = 64
#: Longest character class that is expanded into alternative characters.
MAX_CLASS = 4

_LATIN1 = [chr(c) for c in range(256)]


def fold_text(value: str) -> str | None:
    """A value as the prefilter scans it, or None when it is not Latin-1 text."""
    if value.isascii():
        return value.lower()
    if max(value) > "\xff":
        return None
    return value.lower()  # Latin-1 lowers to Latin-1, one character each


@lru_cache(maxsize=4096)
def fold_char(char: str) -> str | None:
    """The folded form of every Latin-1 character ``char`` matches, or None.

    None when ``char`` matches no Latin-1 character, or characters that do not
    fold alike (then it cannot be part of a required string).
    """
    pattern = regex.compile(regex.escape(char), REGEX_FLAGS)
    folded = {c.lower() for c in _LATIN1 if pattern.fullmatch(c)}
    return folded.pop() if len(folded) == 1 else None


@lru_cache(maxsize=65536)
def benign_cost(text: str) -> float:
    """How likely ``text`` is to occur in ordinary traffic: lower is better."""
    return (1.0 if text in BENIGN else 0.0) + 0.25 ** len(text)


def set_cost(strings: frozenset[str]) -> float:
    return sum(benign_cost(s) for s in strings)


@dataclass(frozen=True)
class Info:
    """What a node of the parse tree tells about the text it matches.

    ``exact``: the node always matches exactly one of these strings (folded);
    None when it can match other text.  ``best``: the cheapest required set
    found inside the node, with its cost, or None.
    """

    exact: frozenset[str] | None
    best: tuple[float, frozenset[str]] | None = None


EMPTY = Info(frozenset({""}))
OPAQUE = Info(None)


def _cheaper(a: tuple[float, frozenset[str]] | None,
             b: tuple[float, frozenset[str]] | None) -> tuple[float, frozenset[str]] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a[0] <= b[0] else b


def _candidate(strings: set[str] | frozenset[str]) -> tuple[float, frozenset[str]] | None:
    if not strings or "" in strings or len(strings) > MAX_SET:
        return None
    frozen = frozenset(strings)
    return set_cost(frozen), frozen


def _sequence(items: sre_parse.SubPattern | list) -> Info:
    """Consecutive exact nodes concatenate; anything else ends the run."""
    run: set[str] = {""}
    exact_ok = True
    best = None
    for node in items:
        info = _node(*node)
        best = _cheaper(best, info.best)
        if info.exact is not None and len(run) * len(info.exact) <= MAX_SET:
            run = {a + b for a in run for b in info.exact}
            continue
        exact_ok = False
        best = _cheaper(best, _candidate(run))
        run = set(info.exact) if info.exact is not None else {""}
    best = _cheaper(best, _candidate(run))
    return Info(frozenset(run) if exact_ok else None, best)


def _branch(alternatives: list) -> Info:
    infos = [_sequence(alt) for alt in alternatives]
    exact = None
    if all(i.exact is not None for i in infos):
        union = frozenset().union(*(i.exact for i in infos))
        exact = union if len(union) <= MAX_SET else None
    if any(i.best is None for i in infos):
        return Info(exact)
    strings = frozenset().union(*(i.best[1] for i in infos))
    if len(strings) > MAX_SET:
        return Info(exact)
    return Info(exact, (set_cost(strings), strings))


def _repeat(low: int, high: int, item: sre_parse.SubPattern) -> Info:
    info = _sequence(item)
    if high == 0:
        return EMPTY
    if low == 0:
        if high == 1 and info.exact is not None:
            return Info(info.exact | {""})
        return OPAQUE
    exact = None
    if low == high <= MAX_SET and info.exact is not None and len(info.exact) ** low <= MAX_SET:
        strings = {""}
        for _ in range(low):
            strings = {a + b for a in strings for b in info.exact}
        exact = frozenset(strings)
    return Info(exact, info.best)


def _char_class(items: list) -> Info:
    """A class of few characters is an alternation of them; else opaque."""
    chars: set[str] = set()
    for op, av in items:
        if op is C.LITERAL:
            chars.add(chr(av))
        elif op is C.RANGE and av[1] - av[0] < 256:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY, wide ranges
            return OPAQUE
    folded = {fold_char(c) for c in chars}
    if None in folded or not folded or len(folded) > MAX_CLASS:
        return OPAQUE
    return Info(frozenset(folded))


def _node(op: object, av: object) -> Info:  # noqa: PLR0911 - one case per node kind
    if op is C.LITERAL:
        folded = fold_char(chr(av))
        return OPAQUE if folded is None else Info(frozenset({folded}))
    if op is C.IN:
        return _char_class(av)
    if op is C.SUBPATTERN:
        return _sequence(av[3])
    if op is C.ATOMIC_GROUP:
        return _sequence(av)
    if op is C.BRANCH:
        return _branch(av[1])
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        return _repeat(av[0], av[1], av[2])
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return EMPTY  # zero-width: the text around it stays adjacent
    return OPAQUE  # ANY, NOT_LITERAL, CATEGORY, GROUPREF, GROUPREF_EXISTS …


def _tree(source: str) -> sre_parse.SubPattern | None:
    text = re_compatible(source)
    if text is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = sre_parse.parse(text, re.IGNORECASE | re.DOTALL)
    except (re.error, OverflowError, RecursionError, ValueError):
        return None
    return None if tree.state.flags & re.VERBOSE else tree


def required_strings(source: str) -> frozenset[str] | None:
    """Folded strings, one of which every match of ``source`` contains; or None
    (the first of ``required_sets``, which remembers it)."""
    sets = required_sets(source)
    return sets[0] if sets else None


#: Most required sets kept per pattern: the best, and the next rarest to confirm it.
MAX_SETS = 3


@lru_cache(maxsize=16384)
def required_sets(source: str) -> tuple[frozenset[str], ...]:
    """Sets of folded strings such that every match holds one string *of each*.

    The first is ``required_strings``' set (the rarest); the others come from
    the other parts every match goes through (``;\\s*id\\b`` needs ``id``
    and also ``;``), so that a value holding the first but not the others
    need not be searched.  Empty when the pattern gives no usable set.
    """
    tree = _tree(source)
    if tree is None:
        return ()
    best = _sequence(tree).best
    if best is None:
        return ()
    others = sorted({c for c in _mandatory(tree) if c[1] != best[1]},
                    key=lambda c: (c[0], sorted(c[1])))
    return (best[1], *(strings for _, strings in others[:MAX_SETS - 1]))


def _mandatory(items: sre_parse.SubPattern | list) -> list[tuple[float, frozenset[str]]]:
    """Candidate sets of every part a match of this sequence must go through."""
    found: list[tuple[float, frozenset[str]]] = []
    run: set[str] = {""}
    for op, av in items:
        info = _node(op, av)
        if info.exact is not None and len(run) * len(info.exact) <= MAX_SET:
            run = {a + b for a in run for b in info.exact}
            continue
        found += [c for c in (_candidate(run),) if c is not None]
        run = set(info.exact) if info.exact is not None else {""}
        found += _inner_mandatory(op, av, info)
    found += [c for c in (_candidate(run),) if c is not None]
    return found


def _inner_mandatory(op: object, av: object,
                     info: Info) -> list[tuple[float, frozenset[str]]]:
    """What a non-literal node itself requires: its group's parts, a repeated
    part that must occur, an alternation's best set."""
    if op is C.SUBPATTERN:
        return _mandatory(av[3])
    if op is C.ATOMIC_GROUP:
        return _mandatory(av)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
        return _mandatory(av[2])
    return [info.best] if op is C.BRANCH and info.best is not None else []


#: Text of ordinary requests (browser headers, URLs, form fields, prose),
#: folded: required strings found here are poor prefilter keys.  NUL joins
#: the samples because no request value holds one (normalisation replaces it).
BENIGN = "\0".join((
    "mozilla/5.0 (windows nt 10.0; win64; x64) applewebkit/537.36 (khtml, like gecko) "
    "chrome/124.0.0.0 safari/537.36 edg/124.0.0.0",
    "mozilla/5.0 (macintosh; intel mac os x 10_15_7) applewebkit/605.1.15 (khtml, like gecko) "
    "version/17.4 safari/605.1.15",
    "mozilla/5.0 (x11; linux x86_64; rv:125.0) gecko/20100101 firefox/125.0",
    "mozilla/5.0 (iphone; cpu iphone os 17_4 like mac os x) mobile/15e148",
    "mozilla/5.0 (linux; android 14; sm-s918b) applewebkit/537.36 chrome/124.0 mobile",
    "curl/8.5.0 wget/1.21.4 python-requests/2.31.0 go-http-client/1.1 googlebot/2.1 bingbot",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7 text/css application/json",
    "gzip, deflate, br, zstd en-gb,en;q=0.9,fr;q=0.8,de-de;q=0.7 keep-alive close",
    "max-age=0 no-cache same-origin cross-site navigate document empty cors ?0 ?1",
    '"chromium";v="124", "google chrome";v="124", "not-a.brand";v="99" "windows" "linux"',
    "phpsessid=9k2l1m3n4o5p6q7r8s9t0u1v2w; theme=light; consent=1; _ga=ga1.2.1234567890; "
    "wordpress_logged_in_abc; jsessionid=a1b2c3d4; csrftoken=xyz; lang=en-us; cart=3",
    "http://www.example.com/ https://www.example.org/index.php?page=products&id=42&sort=price",
    "/index.html /index.php /wp-admin/admin-ajax.php /wp-content/themes/site/style.css "
    "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1 /static/js/app.bundle.js "
    "/images/logo.png /favicon.ico /robots.txt /sitemap.xml /api/v1/users/me /login "
    "/search?q=garden+chairs /cart/checkout /account/orders/10482 /feed/ /xmlrpc.php",
    "bytes=0-1023 if-none-match w/\"5e1b-5f2\" tue, 02 jan 2024 03:04:05 gmt",
    "application/x-www-form-urlencoded multipart/form-data; boundary=----webkitformboundary "
    "content-disposition: form-data; name=\"file\"; filename=\"photo.jpg\" image/jpeg",
    "id=4711&colour=green&size=xl&page=2&per_page=20&order=asc&orderby=date&category=garden "
    "&action=edit&post=123&user=alice&email=alice@example.org&name=alice+martin&submit=send "
    "&redirect_to=%2fwp-admin%2f&utm_source=newsletter&utm_medium=email&utm_campaign=spring",
    "hello, i ordered two garden chairs and a small table last week and the confirmation "
    "said they would arrive within five working days. could you tell me whether the "
    "delivery date has changed? please select the option from the list, then update your "
    "profile and insert your address. the union of all our shops, or the user's choice, "
    "is shown in the table below; we will call you in the afternoon. kind regards",
))


def forget_patterns() -> None:
    """Drop what was remembered about patterns (their parse results, string costs):
    worth keeping while a configuration's sections are planned, not afterwards."""
    required_sets.cache_clear()
    benign_cost.cache_clear()
