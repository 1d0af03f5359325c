"""Every cap apache_secfilter applies, in one place, each finite.

Layer 0.  A firewall that reads attacker-controlled data must bound what it
holds: the defaults below are documented in ``docs/limits.md`` and printed by
``secfilter check``.  Directives (``SecUploadInMemoryLimit``,
``SecFilterTimeLimit``) and Apache's ``LimitRequestBody`` override some of them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    """Finite limits for one transaction."""

    #: Largest request body read at all (Apache's LimitRequestBody plays this role).
    body_bytes: int = 128 * 1024 * 1024
    #: Body bytes kept in memory before spilling to a file (SecUploadInMemoryLimit).
    body_in_memory: int = 65536
    #: Largest response body buffered for output scanning.
    output_bytes: int = 16 * 1024 * 1024
    #: Parameters (query string and body) parsed per request.
    args: int = 1000
    #: Cookies parsed per request.
    cookies: int = 200
    #: Parts of one multipart body.
    multipart_parts: int = 1000
    #: Bytes of the headers of one multipart part.
    multipart_header_bytes: int = 8192
    #: Headers of one multipart part.
    multipart_headers: int = 16
    #: Milliseconds of regular-expression matching per request (SecFilterTimeLimit).
    regex_time_ms: int = 100
    #: Seconds an exec: program or SecUploadApproveScript may run.
    program_seconds: float = 10.0

    def with_overrides(self, **changes: int | float) -> Limits:
        """Return a copy with some limits changed; every value must stay positive."""
        for name, value in changes.items():
            if value is None or value <= 0:
                raise ValueError(f"limit {name} must be positive, got {value!r}")
        return replace(self, **changes)

    def describe(self) -> list[str]:
        """One ``name = value`` line per limit, for ``secfilter check``."""
        return [f"{f.name} = {getattr(self, f.name)}" for f in fields(self)]


DEFAULT_LIMITS = Limits()
