"""Multi-valued variables: parameters, headers, cookies, files, body, environment.

Each element is its own target, and the location names it the way 1.x printed
it (``ARGS_NAMES(id)``, ``HEADER("USER-AGENT")``, ``COOKIES_VALUES(sessionid)``).
Exclusions (``!ARG_x``, ``!COOKIE_x``, ``!HTTP_x``) drop elements (decisions L4);
absent ``ARG_x``/``COOKIE_x``/``ENV_x``/``FILE_*_x`` are not tested while an
absent header is tested as ``""`` (decisions L3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..view import RequestView, header_key
from .registry import Exclusions, Target, register, register_prefix

Elements = Callable[[RequestView, Exclusions], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Listing:
    """Every element of a collection, located as ``PREFIX(name)``."""

    elements: Elements
    label: str
    pick: str  # "name", "value" or "pair"
    domain: str | None = None
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        label, elements = self.label, self.elements(view, excl)
        if self.pick == "value":
            return [Target(f"{label}({name})", value) for name, value in elements]
        if self.pick == "name":
            return [Target(f"{label}({name})", name) for name, _ in elements]
        return [Target(f"{label}({name})", f"{name}: {value}") for name, value in elements]


@dataclass(frozen=True)
class Count:
    """The number of elements of a collection, as a decimal string."""

    elements: Elements
    domain: str | None = None
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        return [Target(written, str(sum(1 for _ in self.elements(view, excl))))]


def _params(view: RequestView, excl: Exclusions) -> Iterable[tuple[str, str]]:
    return ((p.name, p.value) for p in view.params if p.key not in excl.args)


def _headers(view: RequestView, excl: Exclusions) -> Iterable[tuple[str, str]]:
    if not excl.headers:  # the usual case: no name to compare
        return view.headers
    return ((n, v) for n, v in view.headers if header_key(n) not in excl.headers)


def _cookies(view: RequestView, excl: Exclusions) -> Iterable[tuple[str, str]]:
    return ((n, v) for n, v in view.cookies if n.lower() not in excl.cookies)


def _files(view: RequestView, excl: Exclusions) -> Iterable[tuple[str, str]]:
    return ((u.field, u.filename) for u in view.uploads)


def _file_sizes(view: RequestView, excl: Exclusions) -> Iterable[tuple[str, str]]:
    return ((u.field, str(u.size)) for u in view.uploads)


@dataclass(frozen=True)
class ArgsString:
    """ARGS: one combined string of every parameter (1.x, not a collection)."""

    domain: str | None = "args"
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        return [Target("ARGS", view.args_string(excl.args))]


@dataclass(frozen=True)
class NamedArg:
    """ARG_x: every value of parameter x; absent parameter not tested."""

    domain: str | None = "args"
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        if key is None or key.lower() in excl.args:
            return []
        return [Target(written, p.value) for p in view.params_named(key)]


@dataclass(frozen=True)
class NamedHeader:
    """HTTP_x / HEADER_x: every value of header x; absent header tested as ""."""

    domain: str | None = "headers"
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        if key is None or header_key(key) in excl.headers:
            return []
        location = f'HEADER("{key.replace("_", "-")}")'
        values = view.header_values(key) or [""]
        return [Target(location, v) for v in values]


@dataclass(frozen=True)
class NamedCookie:
    """COOKIE_x: every value of cookie x; absent cookie not tested."""

    domain: str | None = "cookies"
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        if key is None or key.lower() in excl.cookies:
            return []
        wanted = key.lower()
        return [Target(written, v) for n, v in view.cookies if n.lower() == wanted]


@dataclass(frozen=True)
class NamedFile:
    """FILE_NAME_x / FILE_SIZE_x: the upload in field x; absent field not tested."""

    size: bool
    domain: str | None = None
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        wanted = (key or "").lower()
        return [Target(written, str(u.size) if self.size else u.filename)
                for u in view.uploads if u.field.lower() == wanted]


@dataclass(frozen=True)
class NamedEnv:
    """ENV_x: Apache environment variable x; absent variable not tested."""

    domain: str | None = None
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        value = view.request.env.get(key or "")
        return [] if value is None else [Target(written, value)]


@dataclass(frozen=True)
class PostPayload:
    """POST_PAYLOAD: the request body, when it was buffered (SecFilterScanPOST)."""

    domain: str | None = None
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        payload = view.post_payload
        return [] if payload is None else [Target("POST_PAYLOAD", payload)]


@dataclass(frozen=True)
class RawCookies:
    """COOKIES: the raw cookie data (every Cookie header, joined by ``; ``)."""

    domain: str | None = "cookies"
    phase: str = "request"

    def collect(self, view: RequestView, key: str | None, written: str,
                excl: Exclusions) -> list[Target]:
        raw = view.cookies_raw
        if excl.cookies:  # decisions L4: rebuilt without the excluded cookies
            raw = "; ".join(f"{n}={v}" for n, v in _cookies(view, excl))
        return [Target("COOKIES", raw)] if raw else []


register("ARGS", ArgsString())
register("ARGS_NAMES", Listing(_params, "ARGS_NAMES", "name", "args"))
register("ARGS_VALUES", Listing(_params, "ARGS_VALUES", "value", "args"))
register("ARGS_COUNT", Count(_params, "args"))
register("HEADERS", Listing(_headers, "HEADERS", "pair", "headers"))
register("HEADERS_NAMES", Listing(_headers, "HEADERS_NAMES", "name", "headers"))
register("HEADERS_VALUES", Listing(_headers, "HEADERS_VALUES", "value", "headers"))
register("HEADERS_COUNT", Count(_headers, "headers"))
register("COOKIES", RawCookies())
for _spelling in ("COOKIES", "COOKIE"):
    register(f"{_spelling}_NAMES", Listing(_cookies, "COOKIES_NAMES", "name", "cookies"))
    register(f"{_spelling}_VALUES", Listing(_cookies, "COOKIES_VALUES", "value", "cookies"))
register("COOKIES_COUNT", Count(_cookies, "cookies"))
register("POST_PAYLOAD", PostPayload())
register("FILES_COUNT", Count(_files))
register("FILES_NAMES", Listing(_files, "FILES_NAMES", "value"))
register("FILES_SIZES", Listing(_file_sizes, "FILES_SIZES", "value"))

register_prefix("ARG_", NamedArg())
register_prefix("HTTP_", NamedHeader())
register_prefix("HEADER_", NamedHeader())
register_prefix("COOKIE_", NamedCookie())
register_prefix("FILE_NAME_", NamedFile(size=False))
register_prefix("FILE_SIZE_", NamedFile(size=True))
register_prefix("ENV_", NamedEnv())
