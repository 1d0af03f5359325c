"""Action lists (``deny,log,status:500,msg:'a, b'``) -> checked ``ActionItem``s.

Layer 1.  This is the syntax of spec §4.1 and the vocabulary of §6.1: which
names exist in 1.x, which take a value, and what a value must look like.
What an action *does*, how lists merge (L7) and whether an ``exec:`` target
is executable are decided by ``policy``; a list that passes here is only
well formed.  Every error carries the caller's location so that it reads
``file:line: message``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError, Location
from .ast import ActionItem

__all__ = [
    "KNOWN_ACTIONS",
    "MODSEC2_ONLY_ACTIONS",
    "SEVERITY_NAMES",
    "parse_action_list",
]

#: Every action 1.x knew (spec §6.1), plus ``execute``, the synonym of L15.
KNOWN_ACTIONS: frozenset[str] = frozenset({
    "deny", "allow", "pass", "redirect", "proxy", "status", "exec", "execute", "pause",
    "chain", "skipnext", "log", "nolog", "auditlog", "noauditlog", "id", "rev", "msg",
    "severity", "mandatory", "setenv", "setnote", "logparts",
})

#: Spellings normalised to one name, so later layers see only one (L15).
_SYNONYMS = {"execute": "exec"}

#: Severity names in order: index = number (spec §6.1).
SEVERITY_NAMES: tuple[str, ...] = (
    "EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG",
)

#: Actions that exist only in ModSecurity 2.x (L14), lower case, with what a
#: 1.x author would use instead where there is an answer.
MODSEC2_ONLY_ACTIONS: dict[str, str] = {
    "phase": "1.x rules have no phases",
    "t": "1.x normalises every value itself; there are no transformations",
    "block": "use deny",
    "drop": "use deny",
    "ctl": "use the corresponding Sec* directive",
    "setvar": "use setenv or setnote",
    "capture": "",
    "nocapture": "",
    "tag": "use msg",
    "skip": "use skipnext",
    "skipafter": "use skipnext",
    "logdata": "use msg",
    "initcol": "",
    "setuid": "",
    "setsid": "",
    "setrsc": "",
    "expirevar": "",
    "deprecatevar": "",
    "multimatch": "",
    "sanitisearg": "",
    "sanitizearg": "",
    "sanitisematched": "",
    "sanitizematched": "",
    "sanitisematchedbytes": "",
    "sanitizematchedbytes": "",
    "sanitiserequestheader": "",
    "sanitizerequestheader": "",
    "sanitiseresponseheader": "",
    "sanitizeresponseheader": "",
    "accuracy": "",
    "maturity": "",
    "ver": "use rev",
    "xmlns": "",
    "append": "",
    "prepend": "",
    "auditlogparts": "use logparts",
}

_NO_VALUE = frozenset({
    "deny", "allow", "pass", "chain", "log", "nolog", "auditlog", "noauditlog", "mandatory",
})
_OPTIONAL_VALUE = frozenset({"skipnext"})


# --------------------------------------------------------------------------- splitting


def _split_items(text: str, location: Location | None) -> list[tuple[str, str | None]]:
    """Split on commas outside single-quoted values; strip the quotes.

    Returns ``(name, value)`` pairs, ``value`` ``None`` for a bare item.
    Spaces around commas and at both ends are tolerated.  Inside a quoted
    value ``\\'`` stands for a quote and ``\\\\`` for a backslash (the pairs
    Apache itself knows, L16); every other character is kept as written.
    """
    items: list[tuple[str, str | None]] = []
    pos = 0
    while True:
        item_end, pair = _read_item(text, pos, location)
        items.append(pair)
        if item_end >= len(text):
            return items
        pos = item_end + 1  # skip the comma


def _read_item(text: str, pos: int,
               location: Location | None) -> tuple[int, tuple[str, str | None]]:
    """Read one item starting at ``pos``; return the index of its comma (or end)."""
    comma = _next_stop(text, pos, ",:")
    name = text[pos:comma].strip()
    if not name:
        raise ConfigError(f"empty item in action list {text.strip()!r}", location)
    if comma == len(text) or text[comma] == ",":
        return comma, (name, None)
    start = comma + 1
    while start < len(text) and text[start].isspace():
        start += 1
    if start < len(text) and text[start] == "'":
        return _read_quoted(text, name, start, location)
    end = _next_stop(text, start, ",")
    return end, (name, text[start:end].rstrip())


def _read_quoted(text: str, name: str, start: int,
                 location: Location | None) -> tuple[int, tuple[str, str | None]]:
    """A value in single quotes, which may hold commas (``msg:'a, b'``)."""
    out: list[str] = []
    pos = start + 1
    while pos < len(text) and text[pos] != "'":
        if text.startswith(("\\'", "\\\\"), pos):
            pos += 1
        out.append(text[pos])
        pos += 1
    if pos >= len(text):
        raise ConfigError(f"unclosed quote in the value of action '{name}'", location)
    end = _next_stop(text, pos + 1, ",")
    if text[pos + 1:end].strip():
        raise ConfigError(
            f"unexpected text {text[pos + 1:end].strip()!r} after the quoted value of "
            f"action '{name}'", location)
    return end, (name, "".join(out))


def _next_stop(text: str, pos: int, stops: str) -> int:
    """Index of the first character of ``stops`` at or after ``pos``, or ``len(text)``."""
    for index in range(pos, len(text)):
        if text[index] in stops:
            return index
    return len(text)


# --------------------------------------------------------------------------- checking


def _check_name(raw: str, location: Location | None) -> str:
    """Lower-case the name and refuse 2.x and unknown actions with a useful message."""
    name = raw.lower()
    if name in KNOWN_ACTIONS:
        return _SYNONYMS.get(name, name)
    if name in MODSEC2_ONLY_ACTIONS:
        hint = MODSEC2_ONLY_ACTIONS[name]
        raise ConfigError(
            f"ModSecurity 2.x syntax is not 1.x: action '{raw}' does not exist in 1.x"
            + (f" ({hint})" if hint else ""), location)
    known = ", ".join(sorted(KNOWN_ACTIONS))
    raise ConfigError(f"unknown action '{raw}' (1.x actions: {known})", location)


def _integer(name: str, value: str, low: int, high: int | None,
             location: Location | None) -> str:
    """A decimal integer within ``[low, high]``, returned in canonical form."""
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise ConfigError(f"action '{name}' needs a whole number, got {value!r}", location)
    number = int(text)
    if number < low or (high is not None and number > high):
        span = f"{low}-{high}" if high is not None else f"of at least {low}"
        raise ConfigError(f"action '{name}' needs a number {span}, got {value!r}", location)
    return str(number)


def _check_status(value: str, location: Location | None) -> str:
    return _integer("status", value, 100, 599, location)


def _check_pause(value: str, location: Location | None) -> str:
    return _integer("pause", value, 0, None, location)


def _check_skipnext(value: str, location: Location | None) -> str:
    return _integer("skipnext", value, 1, None, location)


def _check_severity(value: str, location: Location | None) -> str:
    """0-7 or a severity name (any case): returned as a plain digit or an upper-case name."""
    text = value.strip()
    if text.isascii() and text.isdigit() and int(text) <= 7:
        return str(int(text))
    if text.upper() in SEVERITY_NAMES:
        return text.upper()
    raise ConfigError(
        f"action 'severity' needs 0-7 or one of {', '.join(SEVERITY_NAMES)}, got {value!r}",
        location)


def _check_assignment(name: str) -> Callable[[str, Location | None], str]:
    """``setenv``/``setnote``: ``NAME=VALUE``; a bare ``NAME`` means ``NAME=1``."""

    def check(value: str, location: Location | None) -> str:
        var, sep, rest = value.partition("=")
        if not var.strip() or any(char.isspace() for char in var.strip()):
            raise ConfigError(
                f"action '{name}' needs NAME=VALUE with a NAME without spaces, got {value!r}",
                location)
        return f"{var.strip()}={rest}" if sep else f"{var.strip()}=1"

    return check


_VALUE_CHECKS: dict[str, Callable[[str, Location | None], str]] = {
    "status": _check_status,
    "pause": _check_pause,
    "skipnext": _check_skipnext,
    "severity": _check_severity,
    "setenv": _check_assignment("setenv"),
    "setnote": _check_assignment("setnote"),
}


def _check_value(name: str, value: str | None, location: Location | None) -> str | None:
    """Enforce which actions take a value and what the value must look like."""
    if name in _NO_VALUE:
        if value is not None:
            raise ConfigError(f"action '{name}' takes no value, got '{name}:{value}'", location)
        return None
    if value is None and name in _OPTIONAL_VALUE:
        return None
    if value is None or not value.strip():
        if name == "redirect":
            raise ConfigError("redirect: needs a URL", location)
        raise ConfigError(f"action '{name}' needs a value ({name}:...)", location)
    check = _VALUE_CHECKS.get(name)
    return check(value, location) if check else value


# --------------------------------------------------------------------------- entry point


def parse_action_list(text: str, location: Location | None = None) -> tuple[ActionItem, ...]:
    """Parse and check one action list; the first problem is a ConfigError at ``location``.

    Names come back lower case (``execute`` as ``exec``).  Values lose their
    single quotes; ``status``, ``pause``, ``skipnext`` are canonical decimals,
    ``severity`` a digit or an upper-case name, ``setenv``/``setnote``
    always ``NAME=VALUE``.
    """
    if not text.strip():
        raise ConfigError("empty action list", location)
    items: list[ActionItem] = []
    for raw_name, raw_value in _split_items(text, location):
        name = _check_name(raw_name, location)
        value = _check_value(name, raw_value, location)
        items.append(ActionItem(name, value, location))
    return tuple(items)
