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

import threading
from typing import Any

import regex

#: 1.x matched case-insensitively; ``.`` matches newlines; version 0 (re-compatible).
REGEX_FLAGS = regex.IGNORECASE | regex.DOTALL | regex.V0

_lock = threading.Lock()


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
    """Compile once to report errors now; keep only the text (``regex.error`` raises)."""
    regex.compile(pattern, REGEX_FLAGS)
    return LazyPattern(pattern)
