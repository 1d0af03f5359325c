"""Errors raised by every layer, and where in a file they come from.

Layer 0: imports nothing from the package.  Every configuration problem is a
``ConfigError`` that names ``file:line``; every problem with a request or body
is a ``RequestError`` carrying the HTTP status a server should answer with.
Callers catch ``SecFilterError`` to be sure nothing else escapes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a configuration file: path, 1-based line, optional column."""

    path: str
    line: int
    column: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class SecFilterError(Exception):
    """Base of every error apache_secfilter raises on purpose."""


class ConfigError(SecFilterError):
    """A configuration file cannot be used as written.

    ``str(error)`` is ``FILE:LINE: message`` so that command-line tools can
    print it as it is.
    """

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class RequestError(SecFilterError):
    """A request (or its body) cannot be inspected as sent.

    ``http_status`` is the status the server should answer with when no
    configured action says otherwise (400 malformed, 411 length required,
    413 too large, 415 unsupported body).
    """

    http_status = 400

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if http_status is not None:
            self.http_status = http_status


class BodyError(RequestError):
    """A request body is malformed (multipart structure, bad encoding)."""

    http_status = 400


class LimitExceeded(RequestError):
    """A request goes past one of the finite limits in ``limits.Limits``."""

    http_status = 413


class InspectionFailed(SecFilterError):
    """A rule could not be evaluated; the request fails as SecFilterOnError says (R6)."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.location = location


class InspectionTimeout(InspectionFailed):
    """The request's regular-expression time budget ran out (decisions L21)."""


@dataclass(frozen=True)
class ConfigWarning:
    """A configuration oddity that loads but deserves the author's attention."""

    message: str
    location: Location | None = None

    def __str__(self) -> str:
        if self.location is None:
            return f"warning: {self.message}"
        return f"{self.location}: warning: {self.message}"

