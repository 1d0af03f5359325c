"""A rule's regular expression, compiled when a search first needs it.

Compiling thousands of patterns is most of what loading a large rule set
costs, and a compiled pattern is most of what a rule weighs in memory, while
the prefilter (``engine.prefilter``) lets only a handful of rules ever search.
So a pattern is checked when the configuration is loaded (an invalid one is
an error at its file:line, decisions R6) but kept as text, and compiled again
on its first search; a policy read back from the compiled-policy cache
(``policy.cache``) skips the check, which the process that wrote it made.
Both compiles use ``REGEX_FLAGS``, so a search is exactly what an eager
compile would have given.
"""

from __future__ import annotations

import re
import threading
import warnings
from re import _parser as sre_parse
from typing import Any

import regex

#: 1.x matched case-insensitively; ``.`` matches newlines; version 0 (re-compatible).
REGEX_FLAGS = regex.IGNORECASE | regex.DOTALL | regex.V0

_lock = threading.Lock()
_QUANTIFIER = re.compile(r"\{(?:\d+(?:,\d*)?|,\d+)\}")
_POSIX = re.compile(r"\[:\^?[A-Za-z_]+:\]")
_SAFE_CLASS_ESCAPE = re.compile(r"\\(?:[^0-9A-Za-z]|x[0-9A-Fa-f]{2}|[ntrfv])")
_VERBOSE = re.compile(r"\(\?[A-Za-z-]*x")
_ANY = "(?s:.)"


class LazyPattern:
    """Pattern text that behaves as the compiled ``regex`` pattern it stands for."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: Any = None

    @property
    def compiled(self) -> Any:
        compiled = self._compiled
        if compiled is None:
            with _lock:
                if self._compiled is None:
                    self._compiled = regex.compile(self.pattern, REGEX_FLAGS)
                compiled = self._compiled
        return compiled

    def search(self, value: str, *args: Any, **kwargs: Any) -> Any:
        return self.compiled.search(value, *args, **kwargs)

    def __getstate__(self) -> str:
        return self.pattern

    def __setstate__(self, state: str) -> None:
        self.pattern, self._compiled = state, None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyPattern) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r})"


def check_pattern(pattern: str) -> LazyPattern:
    """Report an invalid pattern now (``regex.error`` raises); keep only the text.

    Python's own parser checks the syntax the two modules share in a fifth of
    the time ``regex.compile`` takes; a pattern it cannot read as ``regex``
    does (``re_compatible``) or refuses is compiled by ``regex`` itself.  In
    the shared syntax ``regex`` (V0) accepts whatever ``re`` does, and should
    a first search ever find otherwise, the engine fails that request closed
    naming the rule (``evaluate.Matcher``).
    """
    if not _python_reads(pattern):
        regex.compile(pattern, REGEX_FLAGS)
    return LazyPattern(pattern)


def _python_reads(pattern: str) -> bool:
    if re_compatible(pattern) != pattern:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sre_parse.parse(pattern, re.IGNORECASE | re.DOTALL)
    except (re.error, OverflowError, RecursionError, ValueError):
        return False
    return True


def _class_end(source: str, start: int) -> int | None:
    """Index of the ``]`` closing the class opened at ``start`` (V0 rules)."""
    k = start + 1
    if source.startswith("^", k):
        k += 1
    if source.startswith("]", k):
        k += 1
    while k < len(source):
        char = source[k]
        if char == "\\":
            k += 2
        elif char == "[":
            posix = _POSIX.match(source, k)
            if posix is None:
                return None
            k = posix.end()
        elif char == "]":
            return k
        else:
            k += 1
    return None


def _class_text(body: str) -> str:
    """The class as ``re`` should read it: itself, or any character.

    ``re`` does not know POSIX classes, and could read other escapes than
    ``regex`` does; "any character" is a superset of what the class matches.
    """
    if _POSIX.search(body) or "\\" in _SAFE_CLASS_ESCAPE.sub("", body):
        return _ANY
    return body


def re_compatible(source: str) -> str | None:
    """``source`` rewritten so that ``re`` reads a superset of it, or None."""
    if _VERBOSE.search(source):
        return None
    out: list[str] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            out.append(source[i:i + 2])
            i += 2
        elif char == "[":
            end = _class_end(source, i)
            if end is None:
                return None
            out.append(_class_text(source[i:end + 1]))
            i = end + 1
        elif char == "{" and not _QUANTIFIER.match(source, i):
            return None
        else:
            out.append(char)
            i += 1
    return "".join(out)
