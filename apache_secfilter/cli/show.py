"""``secfilter check --show URL``: which rules apply to one request, and why.

The text answers an administrator's question ("is my rule on for
/upload.php?") without reading Apache's merge rules: the sections in the
order Apache merges them, the effective settings and who set them, the rules
in evaluation order with their file:line and origin, and what was dropped.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from ..apacheconf.explain import Explanation, RuleLine, explain
from ..apacheconf.source import PolicySource
from ..apacheconf.tree import short_path
from ..errors import RequestError
from ..request.model import Request, ServerFacts

_EVENTS = {"removed": "removed by SecFilterRemove in",
           "not-inherited": "not inherited: SecFilterInheritance Off in"}


def request_for_url(url: str, docroot: str | None = None,
                    filename: str | None = None, method: str = "GET") -> Request:
    """A request for ``http[s]://host[:port]/path?query`` (or a bare path, for localhost)."""
    parts = urlsplit(url if "://" in url else "http://localhost" + ("" if url.startswith("/")
                                                                     else "/") + url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError(f"--show wants a URL such as http://www.example.com/path, "
                           f"got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise RequestError(f"bad port in {url!r}") from None
    uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    facts = ServerFacts(server_name=parts.hostname, server_port=port,
                        document_root=docroot or "", script_filename=filename or "",
                        request_filename=filename or "")
    return Request(method, uri, "HTTP/1.1", (("Host", parts.netloc),), facts=facts)


def _short(source: PolicySource, path: str) -> str:
    return short_path(path, source.config.server_root if source.config else "")


def _rule_block(source: PolicySource, number: int, line: RuleLine) -> list[str]:
    rule = line.rule
    where = f"{_short(source, rule.location.path)}:{rule.location.line}"
    origin = line.origin or "server"
    text = [f"  {number}. {where}  {rule.describe()}",
            f"       {'own rule of' if line.own else 'inherited from'} {origin}"]
    if line.how:
        text[-1] += f"; {line.how}"
    return text


def format_explanation(source: PolicySource, ex: Explanation) -> str:
    """The whole report as text, one fact per line."""
    request = ex.request
    port = request.facts.server_port
    scheme, default = ("https", 443) if port == 443 else ("http", 80)
    out = [f"Request: {request.method} {scheme}://{request.host}"
           f"{'' if port == default else f':{port}'}{request.uri}"]
    if ex.resolution is not None:
        out.append(f"Virtual host: {ex.vhost or 'none (the main server answers)'}")
        out.append(f"URI path: {ex.resolution.uri_path}")
        out.append(f"File: {ex.resolution.filename or '(unknown: no DocumentRoot; use --docroot)'}")
    out.append("Sections applied, in merge order (* = holds Sec* directives):")
    out += [f"  {'*' if sec else ' '} {label}" for label, sec in ex.applied]
    out.append("Effective settings:")
    out += [f"  {s.directive} {s.value}  ({s.context})" for s in ex.settings]
    for title, lines in (("Rules, in order", ex.rules), ("Output rules, in order",
                                                          ex.output_rules)):
        if lines or title.startswith("Rules"):
            out.append(f"{title} ({len(lines)}):")
        for number, line in enumerate(lines, start=1):
            out += _rule_block(source, number, line)
    if ex.dropped:
        out.append(f"Not applied here ({len(ex.dropped)}):")
        for unit in ex.dropped:
            rule = unit.rules[0]
            where = f"{_short(source, rule.location.path)}:{rule.location.line}"
            ident = f" id {rule.id}" if rule.id else ""
            out.append(f"  - {where}{ident} (from {unit.origin}): {_EVENTS[unit.event]} "
                       f"{unit.context}")
    out += [f"Note: {note}" for note in ex.notes]
    out += [str(w) for w in ex.htaccess]
    return "\n".join(out)


def cmd_show(source: PolicySource, args: argparse.Namespace) -> str:
    """Build the request from the command line and explain it."""
    request = request_for_url(args.show, args.docroot, getattr(args, "filename", None))
    return format_explanation(source, explain(source, request))
