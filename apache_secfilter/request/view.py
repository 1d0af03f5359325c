"""RequestView: a request's values normalised once, computed only when read.

Every rule of a policy reads its targets through one view per transaction, so
the 1.x normalisation (spec §5) of a value happens at most once per request
however many rules look at it.  Nothing here knows about rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from .bodies.urlencoded import split_urlencoded
from .checks.cookies import most_cookies, parse_cookies
from .model import Request, Response
from .normalise import normalise, normalise_each


def header_key(name: str) -> str:
    """Header names compare case-insensitively, with ``_`` matching ``-``."""
    return name.lower().replace("_", "-")


@dataclass(frozen=True)
class Param:
    """One request parameter: normalised name and value, and where it came from."""

    name: str
    value: str
    source: str  # "query" or "body"

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class UploadInfo:
    """One uploaded file as rules see it (FILE_NAME_x, FILE_SIZE_x)."""

    field: str
    filename: str
    size: int


@dataclass(frozen=True)
class BodyInfo:
    """What the transaction learnt from the request body, for the view."""

    payload: str | None = None  # POST_PAYLOAD as rules see it (normalised)
    params: tuple[tuple[bytes, bytes], ...] = ()  # raw body parameters
    uploads: tuple[UploadInfo, ...] = ()
    form_encoded: bool = False


@dataclass
class ViewOptions:
    """The settings the view needs (taken from the policy by the engine)."""

    cookie_format: int = 0
    normalize_cookies: bool = False
    max_args: int = 1000
    max_cookies: int = 200


@dataclass
class RequestView:
    """Lazy, cached, normalised values of one request (and later its response)."""

    request: Request
    now: datetime
    options: ViewOptions = field(default_factory=ViewOptions)
    body: BodyInfo = field(default_factory=BodyInfo)
    response: Response | None = None

    @cached_property
    def the_request(self) -> str:
        return normalise(self.request.the_request)

    @cached_property
    def request_uri(self) -> str:
        return normalise(self.request.uri)

    @cached_property
    def query_string(self) -> str:
        return normalise(self.request.query_string)

    @cached_property
    def query_params(self) -> tuple[Param, ...]:
        raw = self.request.query_string.encode("latin-1")
        pairs = split_urlencoded(raw, self.options.max_args)
        return tuple(Param(normalise(n), normalise(v), "query") for n, v in pairs)

    @cached_property
    def params(self) -> tuple[Param, ...]:
        """Query-string parameters, then body parameters (1.x ARGS order)."""
        body = tuple(Param(normalise(n), normalise(v), "body") for n, v in self.body.params)
        return self.query_params + body

    def params_named(self, name: str) -> list[Param]:
        key = name.lower()
        return [p for p in self.params if p.key == key]

    def args_string(self, excluded: frozenset[str] = frozenset()) -> str:
        """ARGS: one string of every parameter, ``name=value`` joined by ``&``."""
        if not excluded:
            return self._args_string
        return "&".join(f"{p.name}={p.value}" for p in self.params if p.key not in excluded)

    @cached_property
    def _args_string(self) -> str:
        return "&".join(f"{p.name}={p.value}" for p in self.params)

    @cached_property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Headers in order, values normalised (``+`` is not a space in headers)."""
        headers = self.request.headers
        values = normalise_each([value for _, value in headers], plus_as_space=False)
        return tuple(zip([name for name, _ in headers], values, strict=True))

    def header_values(self, name: str) -> list[str]:
        """Normalised values of one header; ``_`` in the name matches ``-``."""
        return list(self._headers_by_key.get(header_key(name), ()))

    @cached_property
    def _headers_by_key(self) -> dict[str, list[str]]:
        """Normalised values by ``header_key``, built once: rules name headers often."""
        found: dict[str, list[str]] = {}
        for name, value in self.headers:
            found.setdefault(header_key(name), []).append(value)
        return found

    @cached_property
    def cookie_jar(self):  # noqa: ANN201 - CookieJar from checks.cookies
        values = self.request.header_values("Cookie")
        return parse_cookies(values, self.options.cookie_format, self.options.max_cookies)

    def cookies_over_limit(self) -> bool:
        """True when the request holds more cookies than the limit allows
        (parsed only when ``most_cookies`` says it might)."""
        most = most_cookies(self.request.header_values("Cookie"))
        return most > self.options.max_cookies and self.cookie_jar.truncated

    @cached_property
    def cookies(self) -> tuple[tuple[str, str], ...]:
        """Cookies as (name, value); normalised only with SecFilterNormalizeCookies On."""
        jar = self.cookie_jar.cookies
        if not self.options.normalize_cookies:
            return tuple(jar)
        return tuple((normalise(n, plus_as_space=False), normalise(v, plus_as_space=False))
                     for n, v in jar)

    @cached_property
    def cookies_raw(self) -> str:
        return "; ".join(self.request.header_values("Cookie"))

    @property
    def post_payload(self) -> str | None:
        return self.body.payload

    @property
    def uploads(self) -> tuple[UploadInfo, ...]:
        return self.body.uploads

    @cached_property
    def output_body(self) -> str | None:
        if self.response is None:
            return None
        return self.response.body.decode("latin-1")
