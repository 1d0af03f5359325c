"""Build the engine's Request from a mod_python request object.

Kept apart from the hook so it can be tested with a stand-in object; it only
reads attributes mod_python 3.5 documents for Apache 2.4.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from dataclasses import replace
from functools import cache
from typing import Any

from ..policy.model import Policy
from ..request.model import Request, ServerFacts
from .sinks import new_unique_id

_SCRIPT_FACTS = ("SCRIPT_UID", "SCRIPT_GID", "SCRIPT_USERNAME", "SCRIPT_GROUPNAME",
                 "SCRIPT_MODE")
_needs_stat: dict[int, bool] = {}


def _policy_needs_stat(policy: Policy) -> bool:
    """Whether any rule reads SCRIPT_UID & co. (a stat() per request otherwise saved)."""
    key = id(policy)
    if key not in _needs_stat:
        _needs_stat[key] = any(v.written in _SCRIPT_FACTS
                               for rule in policy.rules + policy.output_rules
                               for v in rule.variables)
    return _needs_stat[key]


def _script_facts(filename: str) -> dict[str, Any]:
    try:
        st = os.stat(filename)
    except OSError:
        return {}
    facts: dict[str, Any] = {"script_uid": st.st_uid, "script_gid": st.st_gid,
                             "script_mode": st.st_mode}
    with contextlib.suppress(KeyError):
        facts["script_username"] = pwd.getpwuid(st.st_uid).pw_name
    with contextlib.suppress(KeyError):
        facts["script_groupname"] = grp.getgrgid(st.st_gid).gr_name
    return facts


def _client(req) -> tuple[str, int]:
    conn = req.connection
    ip = getattr(req, "useragent_ip", None) or getattr(conn, "client_ip", None) \
        or getattr(conn, "remote_ip", "")
    addr = getattr(conn, "client_addr", None) or getattr(conn, "remote_addr", None)
    port = addr[1] if isinstance(addr, tuple) and len(addr) > 1 else 0
    return str(ip), int(port)


def _local(req) -> tuple[str, int]:
    addr = getattr(req.connection, "local_addr", None)
    if isinstance(addr, tuple) and len(addr) > 1:
        return str(addr[0]), int(addr[1])
    return "", int(getattr(req.server, "port", 0) or 0)


def _remote_host(req) -> str:
    """The client's host name only when Apache already resolved it (no lookup)."""
    try:
        return req.get_remote_host(apache_noresolve()) or ""
    except Exception:  # noqa: BLE001 - optional fact
        return ""


@cache
def apache_noresolve() -> int:
    """mod_python's ``REMOTE_NOLOOKUP``, imported on first use only (this module is
    tested without mod_python), never per request."""
    from mod_python import apache  # type: ignore[import-not-found]
    return apache.REMOTE_NOLOOKUP


def request_line(req) -> tuple[str, str, str]:
    parts = (req.the_request or "").split(" ")
    if len(parts) >= 3:
        return parts[0], " ".join(parts[1:-1]), parts[-1]
    return req.method, req.unparsed_uri or req.uri, req.protocol or ""


def with_script_facts(request: Request, policy: Policy) -> Request:
    """Add the script's owner and mode when a rule of the policy reads them."""
    filename = request.facts.script_filename
    if not filename or not _policy_needs_stat(policy):
        return request
    return replace(request, facts=replace(request.facts, **_script_facts(filename)))


def build_request(req, no_body: bool = False) -> Request:
    """The engine's view of a mod_python request at the fixup phase."""
    method, uri, protocol = request_line(req)
    remote_ip, remote_port = _client(req)
    local_ip, local_port = _local(req)
    env = {k: v for k, v in req.subprocess_env.items() if isinstance(v, str)}
    if no_body:
        env["MODSEC_NOPOSTBUFFERING"] = "handler-only mode"
    filename = req.filename or ""
    facts = ServerFacts(
        server_name=req.server.server_hostname or "", server_addr=local_ip,
        server_port=local_port, server_admin=req.server.server_admin or "",
        document_root=req.document_root() or "", script_filename=filename,
        request_filename=filename, path_info=req.path_info or "", handler=req.handler,
        remote_host=_remote_host(req),
        remote_user=req.user or "", auth_type=req.ap_auth_type or "",
        is_subrequest=req.main is not None,
        unique_id=env.get("UNIQUE_ID") or new_unique_id())  # ours without mod_unique_id
    headers = tuple((str(k), str(v)) for k, v in req.headers_in.items())
    return Request(method, uri, protocol, headers, remote_ip, remote_port, env, facts)
