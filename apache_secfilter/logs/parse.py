"""Reading audit logs back: serial, native entries, index lines and JSON.

The inverse of ``serial``, ``native`` and ``jsonlog`` for what a reader asks
("which rule blocked this, for whom, when"): every parser turns text into
``LogEntry`` objects.  Text is ``str`` decoded as Latin-1.  A malformed entry
raises ``LogFormatError`` naming the line; an incomplete *last* entry (the
writer was killed, the disk filled) is reported as ``Truncated`` instead, and
the entries before it are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import SecFilterError
from .fields import parse_apache_time, unescape
from .native import BOUNDARY
from .serial import MIDDLE, TOP

_Q = r'"((?:[^"\\]|\\.)*)"'
_S = r"(\S+)"
_SUMMARY = rf"{_S} {_S} {_S} {_S} \[([^\]]+)\] {_Q} (\d+|-) (\d+|-) {_Q} {_Q} {_S} {_Q}"
SUMMARY = re.compile(_SUMMARY)
REQUEST_LINE = re.compile(rf"^Request: {_SUMMARY}$")
INDEX_LINE = re.compile(rf"^{_SUMMARY} {_S} (\d+) (\d+) md5:([0-9a-f]{{32}})$")
_TAG = re.compile(r'\[(\w+) "((?:[^"\\]|\\.)*)"\]')


class LogFormatError(SecFilterError):
    """Input that is not an audit log of the expected format, at a line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source, self.line, self.message = source, line, message
        super().__init__(f"{source}:{line}: {message}")


@dataclass(frozen=True)
class Truncated:
    """An incomplete last entry: where it starts and what is missing."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass
class LogEntry:
    """One transaction as read from a log (fields a reader filters and prints)."""

    source: str
    line: int
    format: str
    time: datetime | None = None
    unique_id: str = "-"
    client_ip: str = "-"
    host: str = "-"
    request_line: str = ""
    status: int | None = None
    #: matched rules: the id, or ``file:line`` for a rule without one
    rule_ids: tuple[str, ...] = ()
    rule_msgs: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()
    text: str = ""
    #: index lines only: the entry file, its size and md5
    entry_path: str | None = None
    entry_size: int = 0
    entry_md5: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.request_line.split(" ", 1)[0] if self.request_line else "-"

    @property
    def uri(self) -> str:
        parts = self.request_line.split(" ")
        if len(parts) >= 3:
            return " ".join(parts[1:-1])
        return parts[1] if len(parts) == 2 else ""

    def merge_entry(self, other: LogEntry) -> None:
        """Take what only the entry file knows (rules, messages, its text)."""
        self.rule_ids, self.rule_msgs = other.rule_ids, other.rule_msgs
        self.messages, self.text = other.messages, self.text + other.text


def rule_key(rule_id: Any, file: Any, line: Any) -> str:
    """How a reader names a matched rule: its id, else ``file:line``."""
    if rule_id:
        return str(rule_id)
    return f"{file}:{line}" if file else "-"


def _summary_fields(entry: LogEntry, groups: tuple[str | Any, ...], where: str) -> None:
    host, client, _user, _ident, when, request, status = groups[:7]
    try:
        entry.time = parse_apache_time(when)
    except ValueError:
        raise LogFormatError(entry.source, entry.line, f"bad time [{when}] in {where}") from None
    entry.host, entry.client_ip = unescape(host), unescape(client)
    entry.request_line = unescape(request)
    entry.status = int(status) if status != "-" else None
    entry.unique_id = unescape(groups[10])


def _trailer(entry: LogEntry, lines: list[str]) -> None:
    """``Message:`` and ``Matched-Rule:`` lines (serial header or part H)."""
    ids, msgs, messages = [], [], []
    for text in lines:
        if text.startswith("Message: "):
            messages.append(text[9:])
        elif text.startswith("Matched-Rule: "):
            tags = {k: unescape(v) for k, v in _TAG.findall(text)}
            ids.append(rule_key(tags.get("id"), tags.get("file"), tags.get("line")))
            if tags.get("msg"):
                msgs.append(tags["msg"])
    entry.rule_ids, entry.rule_msgs, entry.messages = tuple(ids), tuple(msgs), tuple(messages)


# -- serial ---------------------------------------------------------------------------

def raw_lines(text: str) -> Iterator[str]:
    """Lines with their ``\n`` (only LF ends a line, as in a file read as bytes)."""
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end + 1
        yield text[pos:end]
        pos = end


def iter_serial(lines: Iterable[str], source: str) -> Iterator[LogEntry | Truncated]:
    """Entries of a serial log from raw lines; a damaged last entry ends as ``Truncated``."""
    start, current, ended = 0, None, True
    for number, raw in enumerate(lines, 1):
        value, ended = raw.rstrip("\n"), raw.endswith("\n")
        if value == TOP or (not ended and value and TOP.startswith(value)):
            if current is not None:
                yield _serial_entry(source, start, current)
            start, current = number, []
        elif current is not None:
            current.append(value)
        elif value.strip():
            raise LogFormatError(source, number, "expected a serial entry starting with "
                                                 f"{len(TOP)} '=' characters")
    if current is None:
        return
    if not ended or current[-1:] != [""]:
        yield Truncated(source, start, "last entry is incomplete")
        return
    try:
        yield _serial_entry(source, start, current)
    except LogFormatError as exc:
        yield Truncated(source, start, f"last entry is incomplete: {exc.message}")


def _serial_entry(source: str, start: int, lines: list[str]) -> LogEntry:
    entry = LogEntry(source, start, "serial", text="\n".join([TOP, *lines]))
    match = REQUEST_LINE.match(lines[0]) if lines else None
    if match is None:
        raise LogFormatError(source, start + 1, "expected 'Request: …' after the '=' line")
    _summary_fields(entry, match.groups(), "Request: line")
    if MIDDLE not in lines:
        raise LogFormatError(source, start, "entry has no line of 40 '-'")
    if len(lines) < 2 or lines[-1] != "":
        raise LogFormatError(source, start, "entry does not end with an empty line")
    entry.extra["handler"] = lines[1].removeprefix("Handler: ")
    _trailer(entry, lines[1:lines.index(MIDDLE)])
    return entry


def _collect(items: Iterable[LogEntry | Truncated]) -> tuple[list[LogEntry], Truncated | None]:
    entries: list[LogEntry] = []
    for item in items:
        if isinstance(item, Truncated):
            return entries, item
        entries.append(item)
    return entries, None


def parse_serial(text: str, source: str) -> tuple[list[LogEntry], Truncated | None]:
    """Entries of a serial audit log; a damaged last entry becomes ``Truncated``."""
    return _collect(iter_serial(raw_lines(text), source))


# -- native entries -------------------------------------------------------------------

def _native_parts(text: str, source: str) -> tuple[dict[str, list[str]], bool]:
    lines = text.split("\n")
    first = BOUNDARY.match(lines[0]) if lines else None
    if first is None or first.group(2) != "A":
        raise LogFormatError(source, 1, "expected a native entry starting with --<8 hex>-A--")
    boundary = first.group(1)
    parts: dict[str, list[str]] = {}
    current: list[str] = []
    for value in lines:
        found = BOUNDARY.match(value)
        if found and found.group(1) == boundary:
            current = parts.setdefault(found.group(2), [])
        else:
            current.append(value)
    return parts, "Z" in parts


def parse_native(text: str, source: str, line: int = 1) -> LogEntry:
    """One native (lettered) entry; ``LogFormatError`` when it is not one or is cut."""
    parts, complete = _native_parts(text, source)
    if not complete:
        raise LogFormatError(source, line, "entry has no Z part (incomplete entry)")
    entry = LogEntry(source, line, "native", text=text)
    head = parts["A"][0].split(" ") if parts["A"] else []
    if len(head) != 7:
        raise LogFormatError(source, line + 1, "part A: expected '[time] id client port "
                                               "server port'")
    try:
        entry.time = parse_apache_time(f"{head[0][1:]} {head[1][:-1]}")
    except ValueError:
        raise LogFormatError(source, line + 1, "part A: bad time") from None
    entry.unique_id, entry.client_ip = unescape(head[2]), unescape(head[3])
    if parts.get("B"):
        entry.request_line = parts["B"][0]
        host = [h.split(":", 1)[1].strip() for h in parts["B"] if h.lower().startswith("host:")]
        entry.host = host[0] if host else "-"
    if parts.get("F") and len(parts["F"][0].split(" ")) >= 2:
        status = parts["F"][0].split(" ")[1]
        entry.status = int(status) if status.isdigit() else None
    _trailer(entry, parts.get("H", []))
    return entry


# -- index lines and JSON -------------------------------------------------------------

def parse_index_line(text: str, source: str, line: int) -> LogEntry:
    match = INDEX_LINE.match(text)
    if match is None:
        raise LogFormatError(source, line, "not a concurrent index line (… md5:<hex>)")
    entry = LogEntry(source, line, "index", text=text + "\n")
    groups = match.groups()
    _summary_fields(entry, groups, "index line")
    entry.entry_path = unescape(groups[12])
    entry.entry_size, entry.entry_md5 = int(groups[14]), groups[15]
    return entry


def parse_index(text: str, source: str) -> tuple[list[LogEntry], Truncated | None]:
    return _collect(iter_by_line(raw_lines(text), source, parse_index_line))


def _json_fields(entry: LogEntry, obj: Any) -> None:
    tx = obj["transaction"]
    entry.time = parse_apache_time(tx["time"])
    entry.unique_id, entry.client_ip = str(tx["unique_id"]), str(tx["client_ip"])
    entry.host, entry.request_line = str(tx.get("host") or "-"), str(tx["request_line"])
    entry.status = int(tx["status"]) if tx.get("status") is not None else None
    data = obj.get("audit_data") or {}
    matches = data.get("matches") or []
    entry.rule_ids = tuple(rule_key(m.get("id"), m.get("file"), m.get("line"))
                           for m in matches)
    entry.rule_msgs = tuple(str(m["msg"]) for m in matches if m.get("msg"))
    entry.messages = tuple(str(m) for m in data.get("messages") or [])


def parse_json_entry(text: str, source: str, line: int) -> LogEntry:
    entry = LogEntry(source, line, "json")
    try:
        obj = json.loads(text)
        _json_fields(entry, obj)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LogFormatError(source, line, f"not a JSON audit entry ({exc})") from None
    entry.text = json.dumps(obj, indent=2, ensure_ascii=True) + "\n"
    return entry


def parse_json(text: str, source: str) -> tuple[list[LogEntry], Truncated | None]:
    return _collect(iter_by_line(raw_lines(text), source, parse_json_entry))


def iter_by_line(lines: Iterable[str], source: str,
                 parse_one: Callable[[str, str, int], LogEntry]
                 ) -> Iterator[LogEntry | Truncated]:
    """One entry per line; a damaged last line (cut short) ends as ``Truncated``."""
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(lines, 1):
        if pending is not None:
            yield parse_one(pending[1].rstrip("\n"), source, pending[0])
            pending = None
        if raw.strip():
            pending = (number, raw)
    if pending is None:
        return
    number, raw = pending
    try:
        yield parse_one(raw.rstrip("\n"), source, number)
    except LogFormatError as exc:
        if raw.endswith("\n"):
            raise
        yield Truncated(source, number, f"last entry is incomplete: {exc.message}")


def detect_format(head: str) -> str | None:
    """``serial``, ``json``, ``native`` or ``index`` from the start of a file."""
    first = head.lstrip("\n").split("\n", 1)[0]
    if first == TOP or (first and TOP.startswith(first) and "\n" not in head.lstrip("\n")):
        return "serial"  # a whole separator, or a file cut inside its first one
    if first.startswith("{"):
        return "json"
    if BOUNDARY.match(first):
        return "native"
    if SUMMARY.match(first):
        return "index"
    return None
