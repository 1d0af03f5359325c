"""Single-valued variables: the CGI/mod_rewrite-style names of spec §4.5.

Request-derived text (request line, URI, query string, path info) is
normalised; server facts are used as Apache reports them.
"""

from __future__ import annotations

from ..normalise import normalise
from ..view import RequestView
from .registry import Scalar, register


def _fact(name: str):  # noqa: ANN202 - small getter factory
    return lambda view: str(getattr(view.request.facts, name))


def _optional_int(name: str):  # noqa: ANN202
    def get(view: RequestView) -> str:
        value = getattr(view.request.facts, name)
        return "" if value is None else str(value)
    return get


def _script_mode(view: RequestView) -> str:
    mode = view.request.facts.script_mode
    return "" if mode is None else f"{mode & 0o7777:04o}"


def _time(fmt: str):  # noqa: ANN202
    return lambda view: view.now.strftime(fmt)


def _wday(view: RequestView) -> str:
    return str((view.now.weekday() + 1) % 7)  # Sunday = 0, as C's tm_wday


def _remote_addr(view: RequestView) -> str:
    return view.request.remote_addr


def _remote_port(view: RequestView) -> str:
    return str(view.request.remote_port)


def _output_status(view: RequestView) -> str | None:
    return None if view.response is None else str(view.response.status)


def _output(view: RequestView) -> str | None:
    return view.output_body


STANDARD = {
    "REMOTE_ADDR": _remote_addr,
    "REMOTE_PORT": _remote_port,
    "REMOTE_HOST": _fact("remote_host"),
    "REMOTE_USER": _fact("remote_user"),
    "REMOTE_IDENT": _fact("remote_ident"),
    "REQUEST_METHOD": lambda v: v.request.method,
    "THE_REQUEST": lambda v: v.the_request,
    "REQUEST_URI": lambda v: v.request_uri,
    "QUERY_STRING": lambda v: v.query_string,
    "PATH_INFO": lambda v: normalise(v.request.facts.path_info),
    "SCRIPT_FILENAME": _fact("script_filename"),
    "REQUEST_FILENAME": _fact("request_filename"),
    "AUTH_TYPE": _fact("auth_type"),
    "DOCUMENT_ROOT": _fact("document_root"),
    "SERVER_ADMIN": _fact("server_admin"),
    "SERVER_NAME": _fact("server_name"),
    "SERVER_ADDR": _fact("server_addr"),
    "SERVER_PORT": _fact("server_port"),
    "SERVER_PROTOCOL": lambda v: v.request.protocol,
    "SERVER_SOFTWARE": _fact("server_software"),
    "API_VERSION": _fact("api_version"),
    "IS_SUBREQ": lambda v: "true" if v.request.facts.is_subrequest else "false",
    "SCRIPT_UID": _optional_int("script_uid"),
    "SCRIPT_GID": _optional_int("script_gid"),
    "SCRIPT_USERNAME": _fact("script_username"),
    "SCRIPT_GROUPNAME": _fact("script_groupname"),
    "SCRIPT_MODE": _script_mode,
    "TIME_YEAR": _time("%Y"),
    "TIME_MON": _time("%m"),
    "TIME_DAY": _time("%d"),
    "TIME_HOUR": _time("%H"),
    "TIME_MIN": _time("%M"),
    "TIME_SEC": _time("%S"),
    "TIME_WDAY": _wday,
    "TIME": _time("%Y%m%d%H%M%S"),
}

for _name, _getter in STANDARD.items():
    register(_name, Scalar(_getter))

register("OUTPUT", Scalar(_output, phase="output"))
register("OUTPUT_STATUS", Scalar(_output_status, phase="output"))
