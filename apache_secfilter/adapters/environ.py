"""Build the engine's Request from a WSGI or CGI environ.

Both WSGI adapters (mod_wsgi's ``WSGIAccessScript`` and the WSGI middleware)
see the request only as an environ dictionary.  This module turns it into the
engine's plain Request, keeping the request line raw (``REQUEST_URI`` is still
%-encoded, which is what 1.x rules match against) and every value Latin-1 text
(decisions L5), whatever the server decoded it with.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from ..request.model import Headers, Request, ServerFacts

#: Characters kept as they are when a path has to be re-encoded (RFC 3986 pchar).
_PATH_SAFE = "/;:@&=+$,!~*'()"
#: The SERVER_PROTOCOL Apache gives every subrequest (ap_set_sub_req_protocol).
SUBREQUEST_PROTOCOL = "INCLUDED"
#: Environ keys that hold request headers without the ``HTTP_`` prefix (CGI).
_PLAIN_HEADERS = (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length"))


def latin1(value: str) -> str:
    """The value as Latin-1 text: one character per byte on the wire.

    WSGI servers give Latin-1 "native strings" already; ``os.environ`` (CGI)
    decodes with the file-system encoding and ``surrogateescape``.  Both are
    turned back into the bytes the client sent, read as Latin-1.
    """
    try:
        value.encode("latin-1")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")


def header_name(key: str) -> str:
    """``HTTP_USER_AGENT`` -> ``User-Agent`` (the CGI mangling, undone as far as it can be)."""
    return "-".join(part.capitalize() for part in key[5:].split("_"))


def _headers(environ: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Request headers: every ``HTTP_*`` key, then Content-Type and Content-Length."""
    headers = [(header_name(key), latin1(value)) for key, value in environ.items()
               if key.startswith("HTTP_") and isinstance(value, str)
               and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")]
    for key, name in _PLAIN_HEADERS:
        value = environ.get(key)
        if isinstance(value, str) and value != "":
            headers.append((name, latin1(value)))
    return tuple(headers)


def request_uri(environ: Mapping[str, Any]) -> str:
    """The raw request URI: REQUEST_URI (or gunicorn's RAW_URI) as sent, else rebuilt.

    Without either, SCRIPT_NAME and PATH_INFO (already decoded by the server)
    are %-encoded again and QUERY_STRING (still raw) is appended.
    """
    for key in ("REQUEST_URI", "RAW_URI"):
        value = environ.get(key)
        if isinstance(value, str) and value:
            return latin1(value)
    path = _text(environ, "SCRIPT_NAME") + _text(environ, "PATH_INFO")
    uri = quote(path.encode("latin-1"), safe=_PATH_SAFE) or "/"
    query = _text(environ, "QUERY_STRING")
    return f"{uri}?{query}" if query else uri


def _text(environ: Mapping[str, Any], key: str, default: str = "") -> str:
    value = environ.get(key)
    return latin1(value) if isinstance(value, str) else default


def _number(environ: Mapping[str, Any], key: str, default: int) -> int:
    value = environ.get(key)
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def environment(environ: Mapping[str, Any],
                extra: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """ENV_x: the string-valued entries that are not request headers."""
    env = {key: latin1(value) for key, value in environ.items()
           if isinstance(value, str) and not key.startswith("HTTP_")}
    if extra:
        env.update(extra)
    return MappingProxyType(env)


def is_subrequest(environ: Mapping[str, Any]) -> bool:
    """Apache subrequests (mod_dir, mod_include …) carry the protocol ``INCLUDED``."""
    return environ.get("SERVER_PROTOCOL") == SUBREQUEST_PROTOCOL


def server_facts(environ: Mapping[str, Any], remote_host: str | None = None,
                 handler: str | None = None) -> ServerFacts:
    """What the server told the application about itself and the request."""
    script_filename = _text(environ, "SCRIPT_FILENAME")
    return ServerFacts(
        server_name=_text(environ, "SERVER_NAME"),
        server_addr=_text(environ, "SERVER_ADDR"),
        server_port=_number(environ, "SERVER_PORT", 80),
        server_admin=_text(environ, "SERVER_ADMIN"),
        server_software=_text(environ, "SERVER_SOFTWARE", "Apache"),
        document_root=_text(environ, "DOCUMENT_ROOT"),
        script_filename=script_filename,
        request_filename=script_filename,
        path_info=_text(environ, "PATH_INFO"),
        handler=handler,
        remote_host=_text(environ, "REMOTE_HOST") or latin1(remote_host or ""),
        remote_user=_text(environ, "REMOTE_USER"),
        remote_ident=_text(environ, "REMOTE_IDENT"),
        auth_type=_text(environ, "AUTH_TYPE"),
        is_subrequest=is_subrequest(environ),
        unique_id=_text(environ, "UNIQUE_ID"),
    )


def request_head(environ: Mapping[str, Any]) -> tuple[str, str, str, Headers]:
    """Method, URI, protocol and headers: all the quick lane needs (engine.quick)."""
    return (_text(environ, "REQUEST_METHOD", "GET") or "GET", request_uri(environ),
            _text(environ, "SERVER_PROTOCOL", "HTTP/1.1"), _headers(environ))


def request_from_environ(environ: Mapping[str, Any], *, remote_host: str | None = None,
                         handler: str | None = None,
                         extra_env: Mapping[str, str] | None = None) -> Request:
    """The engine's Request for one WSGI/CGI environ.

    ``remote_host`` is mod_wsgi's ``host`` argument (used when the environ has
    no REMOTE_HOST); ``handler`` is the Apache handler when the adapter knows
    it (it decides ``DynamicOnly``, decisions L11); ``extra_env`` adds
    adapter-made variables such as ``MODSEC_NOPOSTBUFFERING``.
    """
    method, uri, protocol, headers = request_head(environ)
    return Request(
        method=method, uri=uri, protocol=protocol, headers=headers,
        remote_addr=_text(environ, "REMOTE_ADDR"),
        remote_port=_number(environ, "REMOTE_PORT", 0),
        env=environment(environ, extra_env),
        facts=server_facts(environ, remote_host, handler),
    )
