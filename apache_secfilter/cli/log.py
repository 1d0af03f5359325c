"""``secfilter log``: read serial, concurrent and JSON audit logs.

Answers "which rule blocked me, and why?" without a parser of one's own: one
line per transaction (time, client, status, request, rule ids, unique id,
message), ``--full`` for whole entries, ``--stats`` for the top rules,
clients and URIs.  Filters combine with AND.  A truncated last entry is
reported on stderr and the others are kept; anything else malformed stops
with one line naming the file and line (exit 2, via ``LogFormatError``).
Everything printed is escaped, so a log cannot send escape sequences to the
terminal.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

from ..errors import SecFilterError
from ..logs.fields import line, parse_apache_time, quoted, unescape
from ..logs.parse import (
    LogEntry,
    LogFormatError,
    Truncated,
    detect_format,
    iter_by_line,
    iter_serial,
    parse_index_line,
    parse_json_entry,
    parse_native,
)

FORMATS = ("auto", "serial", "concurrent", "json")


class LogUsageError(SecFilterError):
    """A bad option value (a regex that does not compile, a time we cannot read)."""


def add_log_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``secfilter log`` on the main parser's subcommands."""
    p = sub.add_parser("log", help="read audit logs (serial, concurrent, JSON)",
                       description="Read audit logs: one line per transaction by default.")
    p.add_argument("--format", choices=FORMATS, default="auto")
    p.add_argument("--rule", action="append", metavar="ID",
                   help="matched rule id, or FILE:LINE of a rule without one (repeatable)")
    p.add_argument("--client", metavar="IP", help="client address or network (CIDR)")
    p.add_argument("--status", metavar="N", help="final status: 403, or 4xx")
    p.add_argument("--uri", metavar="REGEX", help="regular expression searched in the URI")
    p.add_argument("--since", metavar="T", help="from this time: 2024-01-31, "
                   "2024-01-31T10:00[+01:00] or 31/Jan/2024:10:00:00 +0100")
    p.add_argument("--until", metavar="T", help="up to this time (same forms)")
    p.add_argument("--storage-dir", metavar="DIR",
                   help="SecAuditLogStorageDir, to read entries named by a concurrent index")
    p.add_argument("--full", action="store_true", help="print whole entries")
    p.add_argument("--stats", action="store_true", help="print top rules, clients and URIs")
    p.add_argument("--top", type=int, default=10, metavar="N", help="rows per --stats table")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log file, concurrent index file, or storage directory")
    p.set_defaults(func=cmd_log)


# -- reading ------------------------------------------------------------------------

def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise LogUsageError(f"cannot read {path}: {exc.strerror}") from None


def read_head(path: str, size: int = 4096) -> str:
    """The start of a file, to tell its format."""
    try:
        with open(path, "rb") as handle:
            return handle.read(size).decode("latin-1")
    except OSError as exc:
        raise LogUsageError(f"cannot read {path}: {exc.strerror}") from None


def read_lines(path: str) -> Iterator[str]:
    """A file's lines with their LF, decoded as Latin-1, read as they are needed."""
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                yield raw.decode("latin-1")
    except OSError as exc:
        raise LogUsageError(f"cannot read {path}: {exc.strerror}") from None


def entry_file_data(path: str) -> str:
    return _read_bytes(path).decode("latin-1")


def entries_of(path: str, fmt: str, storage_dir: str | None) -> Iterator[LogEntry | Truncated]:
    """Every entry of one PATH (file or storage directory)."""
    if os.path.isdir(path):
        if fmt not in ("auto", "concurrent"):
            raise LogUsageError(f"{path} is a directory: only concurrent logs are directories")
        yield from _storage_dir(path)
        return
    kind = _kind(path, fmt)
    if kind == "serial":
        yield from iter_serial(read_lines(path), path)
    elif kind == "json":
        yield from iter_by_line(read_lines(path), path, parse_json_entry)
    elif kind == "native":
        yield _entry_file(path)
    elif kind == "index":
        yield from _index(path, storage_dir)


def _kind(path: str, fmt: str) -> str:
    head = read_head(path)
    if not head.strip():  # an empty log of the kind asked for: no entries
        return {"json": "json", "concurrent": "index"}.get(fmt, "serial")
    found = detect_format(head) or "unknown"
    allowed = {"auto": ("serial", "json", "native", "index"), "serial": ("serial",),
               "json": ("json",), "concurrent": ("native", "index", "json")}[fmt]
    if found not in allowed:
        wanted = "an audit log" if fmt == "auto" else f"a {fmt} audit log"
        raise LogFormatError(path, _first_line(head), f"not {wanted} (serial, JSON, "
                             "concurrent index or entry)")
    return found


def _first_line(head: str) -> int:
    return len(head) - len(head.lstrip("\n")) + 1


def _entry_file(path: str, data: str | None = None) -> LogEntry | Truncated:
    """One concurrent entry file (native or JSON); a cut one is ``Truncated``."""
    text = data if data is not None else entry_file_data(path)
    if text.startswith("{"):
        try:
            return parse_json_entry(text.rstrip("\n"), path, 1)
        except LogFormatError as exc:
            return Truncated(path, 1, f"entry is incomplete or damaged: {exc.message}")
    if "-Z--" not in text[-20:] and text.startswith("--"):
        return Truncated(path, 1, "entry has no Z part (incomplete)")
    return parse_native(text, path)


def _storage_dir(root: str) -> Iterator[LogEntry | Truncated]:
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield _entry_file(os.path.join(folder, name))


def _index(path: str, storage_dir: str | None) -> Iterator[LogEntry | Truncated]:
    root = storage_dir or os.path.dirname(os.path.abspath(path))
    missing = 0
    for item in iter_by_line(read_lines(path), path, parse_index_line):
        if isinstance(item, LogEntry) and item.entry_path:
            missing += not _attach_entry(item, root)
        yield item
    if missing:
        print(f"secfilter log: {path}: {missing} entry file(s) not found under {root}; "
              "rules and messages unknown for them (use --storage-dir)", file=sys.stderr)


def _attach_entry(item: LogEntry, root: str) -> bool:
    """Read the entry an index line names; False when the file is not there."""
    full = os.path.join(root, (item.entry_path or "").lstrip("/"))
    if not os.path.isfile(full):
        return False
    raw = _read_bytes(full)
    digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if (len(raw), digest) != (item.entry_size, item.entry_md5):
        raise LogFormatError(item.source, item.line, f"entry file {full} does not match its "
                             f"index line (size {len(raw)}, md5 {digest})")
    entry = _entry_file(full, raw.decode("latin-1"))
    if isinstance(entry, LogEntry):
        item.merge_entry(entry)
    return True


# -- filtering ------------------------------------------------------------------------

def parse_time(text: str) -> datetime:
    """ISO 8601 (date, or date and time, optional offset) or Apache's log time."""
    value = text.strip()
    try:
        if "/" in value:
            return parse_apache_time(value)
        when = datetime.fromisoformat(value)
    except ValueError:
        raise LogUsageError(f"cannot read the time {text!r}: use 2024-01-31, "
                            "2024-01-31T10:00:00+01:00 or 31/Jan/2024:10:00:00 +0100") from None
    return when if when.tzinfo else when.astimezone()


class Filters:
    """The AND of every filter option given."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.rules = set(args.rule or ())
        self.network = _network(args.client) if args.client else None
        self.status = _status_pattern(args.status) if args.status else None
        try:
            self.uri = re.compile(args.uri) if args.uri else None
        except re.error as exc:
            raise LogUsageError(f"--uri: bad regular expression: {exc}") from None
        self.since = parse_time(args.since) if args.since else None
        self.until = parse_time(args.until) if args.until else None

    def accepts(self, entry: LogEntry) -> bool:
        checks = (
            not self.rules or any(_rule_matches(r, want) for r in entry.rule_ids
                                  for want in self.rules),
            self.network is None or _in_network(entry.client_ip, self.network),
            self.status is None or bool(self.status.fullmatch(str(entry.status or "-"))),
            self.uri is None or bool(self.uri.search(_unescaped_uri(entry))),
            self.since is None or (entry.time is not None and entry.time >= self.since),
            self.until is None or (entry.time is not None and entry.time <= self.until),
        )
        return all(checks)


def _rule_matches(key: str, wanted: str) -> bool:
    """``--rule 1001``, or ``--rule rules.conf:12`` for a rule without an id."""
    return key == wanted or (":" in wanted and key.endswith("/" + wanted.lstrip("/")))


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise LogUsageError(f"--client: {text!r} is not an IP address or network") from None


def _in_network(ip: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(ip) in network
    except ValueError:
        return False


def _status_pattern(text: str) -> re.Pattern[str]:
    if not re.fullmatch(r"[1-5][0-9x]{2}", text.strip().lower()):
        raise LogUsageError(f"--status: {text!r} is not a status (403) or a class (4xx)")
    return re.compile(text.strip().lower().replace("x", "[0-9]"))


def _unescaped_uri(entry: LogEntry) -> str:
    return unescape(entry.uri) if entry.format == "native" else entry.uri


# -- printing -------------------------------------------------------------------------

def one_line(entry: LogEntry) -> str:
    """``<time> <client> <status> "<request line>" rules=<ids> id=<unique id> msg="…"``."""
    when = entry.time.strftime("%Y-%m-%dT%H:%M:%S%z") if entry.time else "-"
    request = unescape(entry.request_line) if entry.format == "native" else entry.request_line
    rules = ",".join(entry.rule_ids) or "-"
    text = (f"{when} {line(entry.client_ip)} {entry.status or '-'} \"{quoted(request)}\" "
            f"rules={line(rules)} id={line(entry.unique_id)}")
    if entry.rule_msgs:
        text += f' msg="{quoted(entry.rule_msgs[0])}"'
    return text


def safe_block(text: str) -> str:
    """A whole entry for the terminal: every line escaped, line breaks kept."""
    return "\n".join(line(part) for part in text.rstrip("\n").split("\n"))


def print_stats(entries: list[LogEntry], top: int) -> None:
    rules = Counter(r for e in entries for r in dict.fromkeys(e.rule_ids))
    msgs: dict[str, str] = {}
    for e in entries:
        for rule_id, msg in zip(e.rule_ids, e.rule_msgs, strict=False):
            msgs.setdefault(rule_id, msg)
    clients = Counter(e.client_ip for e in entries)
    uris = Counter(_unescaped_uri(e).split("?", 1)[0] for e in entries)
    statuses = Counter(str(e.status or "-") for e in entries)
    print(f"transactions: {len(entries)}")
    print("statuses: " + (", ".join(f"{s} {n}" for s, n in statuses.most_common()) or "-"))
    for title, counter, notes in (("rules", rules, msgs), ("clients", clients, {}),
                                  ("URIs", uris, {})):
        print(f"top {title}:")
        for key, count in counter.most_common(top):
            note = f"  {quoted(notes[key])}" if key in notes else ""
            print(f"{count:8d}  {line(key)}{note}")


def cmd_log(args: argparse.Namespace) -> int:
    filters = Filters(args)
    kept: list[LogEntry] = []
    for path in args.paths:
        if not os.path.exists(path):
            raise LogUsageError(f"{path}: no such file or directory")
        for item in entries_of(path, args.format, args.storage_dir):
            if isinstance(item, Truncated):
                print(f"secfilter log: {item} (skipped)", file=sys.stderr)
            elif filters.accepts(item):
                if args.stats:
                    kept.append(item)
                elif args.full:
                    print(safe_block(item.text) + "\n")
                else:
                    print(one_line(item))
    if args.stats:
        print_stats(kept, args.top)
    return 0
