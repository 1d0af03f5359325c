"""The request and response as the engine sees them: plain, immutable data.

Adapters (mod_python, mod_wsgi, WSGI, the command line) build these from what
they have; the engine never touches Apache.  All text is ``str`` decoded as
Latin-1, so every byte is one character and nothing is lost (decisions L5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

EMPTY_ENV: Mapping[str, str] = MappingProxyType({})
Headers = tuple[tuple[str, str], ...]


def header_values(headers: Headers, name: str) -> list[str]:
    """Every value of a header, in order, names compared case-insensitively."""
    lower = name.lower()
    return [value for key, value in headers if key.lower() == lower]


def first_header(headers: Headers, name: str) -> str | None:
    """The first value of a header, or None."""
    values = header_values(headers, name)
    return values[0] if values else None


@dataclass(frozen=True)
class ServerFacts:
    """What Apache knows about a request besides its bytes (all optional).

    ``handler`` is Apache's handler name at the fixup phase (``None`` when not
    known); a request is *dynamic* for ``DynamicOnly`` when it has a handler
    other than the static-file handler (decisions L11).
    """

    server_name: str = ""
    server_addr: str = "127.0.0.1"
    server_port: int = 80
    server_admin: str = ""
    server_software: str = "Apache"
    document_root: str = ""
    script_filename: str = ""
    request_filename: str = ""
    path_info: str = ""
    handler: str | None = None
    remote_host: str = ""
    remote_user: str = ""
    remote_ident: str = ""
    auth_type: str = ""
    is_subrequest: bool = False
    api_version: str = "20120211"
    script_uid: int | None = None
    script_gid: int | None = None
    script_username: str = ""
    script_groupname: str = ""
    script_mode: int | None = None
    unique_id: str = ""

    @property
    def is_dynamic(self) -> bool:
        """True when a handler other than Apache's static-file handler serves it."""
        return bool(self.handler) and self.handler not in ("default-handler", "(null)")


@dataclass(frozen=True)
class Request:
    """One HTTP request head: request line, headers in order, client, facts.

    The body is not part of the head: adapters feed it to the transaction in
    chunks (``Transaction.feed_body``).  ``env`` holds Apache environment
    variables (``SetEnv``/``SetEnvIf``), where ``MODSEC_ENABLE`` and
    ``MODSEC_NOPOSTBUFFERING`` come from.
    """

    method: str
    uri: str
    protocol: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()
    remote_addr: str = "127.0.0.1"
    remote_port: int = 0
    env: Mapping[str, str] = field(default_factory=lambda: EMPTY_ENV)
    facts: ServerFacts = field(default_factory=ServerFacts)

    @property
    def the_request(self) -> str:
        """The request line as sent (``GET /x?y HTTP/1.1``)."""
        if self.protocol:
            return f"{self.method} {self.uri} {self.protocol}"
        return f"{self.method} {self.uri}"

    @property
    def path(self) -> str:
        """The raw path part of the URI (before ``?``)."""
        return self.uri.split("?", 1)[0]

    @property
    def query_string(self) -> str:
        """The raw query string (after the first ``?``), or ``""``."""
        parts = self.uri.split("?", 1)
        return parts[1] if len(parts) == 2 else ""

    @cached_property
    def _by_name(self) -> dict[str, list[str]]:
        """Header values by lower-cased name, built once: the engine asks often."""
        found: dict[str, list[str]] = {}
        for key, value in self.headers:
            found.setdefault(key.lower(), []).append(value)
        return found

    def header(self, name: str) -> str | None:
        """The first value of a header, compared case-insensitively."""
        values = self._by_name.get(name.lower())
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, in order."""
        return list(self._by_name.get(name.lower(), ()))

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").strip()

    @property
    def is_chunked(self) -> bool:
        """True when the body is sent with ``Transfer-Encoding: chunked``."""
        coding = self.header("Transfer-Encoding") or ""
        return "chunked" in coding.lower()

    @property
    def host(self) -> str:
        """The ``Host`` header without its port (the server name when absent)."""
        host = self.header("Host") or self.facts.server_name
        if host.startswith("["):
            return host.split("]", 1)[0] + "]"
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass(frozen=True)
class Response:
    """A response as produced by the content handler, buffered for scanning."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    protocol: str = "HTTP/1.1"
    reason: str = ""

    def header(self, name: str) -> str | None:
        return first_header(self.headers, name)

    @property
    def content_type(self) -> str | None:
        """The bare MIME type (no parameters), or ``None`` when absent."""
        value = self.header("Content-Type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower() or None
