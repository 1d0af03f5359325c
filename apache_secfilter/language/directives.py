"""The DIRECTIVES table: every 1.x directive (and our extensions) in one place.

Each row says how many arguments a directive takes, which values are valid,
where it may stand (S server, V virtual host, D directory/location/files) and
which ``Settings`` field it sets.  ``validate`` checks one parsed directive
against its row and returns the converted value; the policy compiler gives it
meaning.  Directive names compare case-insensitively, keyword values too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import regex

from ..errors import ConfigError, Location
from .ast import Directive

Converter = Callable[[tuple[str, ...], Location], Any]


@dataclass(frozen=True)
class DirectiveSpec:
    """One row of the table."""

    name: str
    kind: str  # setting | rule | template | restrict | inheritance | include | unsupported
    min_args: int
    max_args: int
    convert: Converter | None = None
    setting: str | None = None
    contexts: str = "SVD"
    extension: bool = False
    doc: str = ""


def _keyword(*values: str) -> Converter:
    def convert(args: tuple[str, ...], loc: Location) -> str:
        for value in values:
            if args[0].lower() == value.lower():
                return value
        raise ConfigError(f"expected one of {', '.join(values)}, got '{args[0]}'", loc)
    return convert


def _on_off(args: tuple[str, ...], loc: Location) -> bool:
    return _keyword("On", "Off")(args, loc) == "On"


def _integer(low: int, high: int) -> Converter:
    def convert(args: tuple[str, ...], loc: Location) -> int:
        text = args[0]
        if not text.isdigit() or not low <= int(text) <= high:
            raise ConfigError(f"expected a whole number from {low} to {high}, got '{text}'", loc)
        return int(text)
    return convert


def _byte_range(args: tuple[str, ...], loc: Location) -> tuple[int, int]:
    low, high = (_integer(0, 255)((a,), loc) for a in args)
    if low > high:
        raise ConfigError(f"byte range {low} {high}: the first number must not exceed the second",
                          loc)
    return (low, high)


def _text(args: tuple[str, ...], loc: Location) -> str:
    if not args[0].strip():
        raise ConfigError("expected a value, got an empty argument", loc)
    return args[0]


def _regex(args: tuple[str, ...], loc: Location) -> str:
    try:
        regex.compile(args[0], regex.V0)
    except regex.error as exc:
        raise ConfigError(f"invalid regular expression '{args[0]}': {exc}", loc) from exc
    return args[0]


def _mime_types(args: tuple[str, ...], loc: Location) -> tuple[str, ...]:
    types = tuple(t.lower() for t in " ".join(args).split())
    if not types:
        raise ConfigError("expected one or more MIME types, e.g. \"(null) text/html\"", loc)
    return types


def _parts(args: tuple[str, ...], loc: Location) -> str:
    letters = args[0].upper()
    bad = sorted(set(letters) - set("ABCEFHZ"))
    if bad or "A" not in letters or "Z" not in letters:
        raise ConfigError(f"audit log parts '{args[0]}': use letters from ABCEFHZ, "
                          "always including A and Z", loc)
    return "".join(sorted(set(letters), key="ABCEFHZ".index))


def _token_off(args: tuple[str, ...], loc: Location) -> bool:
    """apache_secfilter never adds a token to the banner: only Off can be honoured."""
    if _on_off(args, loc):
        raise ConfigError("SecServerResponseToken On cannot be honoured: apache_secfilter does "
                          "not add a token to Apache's Server banner; remove the line or say Off",
                          loc)
    return False


def _ids(args: tuple[str, ...], loc: Location) -> tuple[str, ...]:
    return tuple(args)


def _setting(name: str, setting: str, convert: Converter, n: int = 1, contexts: str = "SVD",
             extension: bool = False, doc: str = "") -> DirectiveSpec:
    return DirectiveSpec(name, "setting", n, n, convert, setting, contexts, extension, doc)


_ROWS = [
    _setting("SecFilterEngine", "engine", _keyword("On", "Off", "DynamicOnly")),
    _setting("SecFilterScanPOST", "scan_post", _on_off),
    _setting("SecFilterCheckURLEncoding", "check_url_encoding", _on_off),
    _setting("SecFilterCheckUnicodeEncoding", "check_unicode_encoding", _on_off),
    _setting("SecFilterForceByteRange", "byte_range", _byte_range, n=2),
    _setting("SecFilterCheckCookieFormat", "check_cookie_format", _on_off),
    _setting("SecFilterCookieFormat", "cookie_format", _integer(0, 1)),
    _setting("SecFilterNormalizeCookies", "normalize_cookies", _on_off),
    _setting("SecFilterScanOutput", "scan_output", _on_off),
    DirectiveSpec("SecFilterOutputMimeTypes", "setting", 1, 64, _mime_types,
                  "output_mime_types"),
    _setting("SecAuditEngine", "audit_engine",
             _keyword("On", "Off", "RelevantOnly", "DynamicOrRelevant")),
    _setting("SecAuditLog", "audit_log", _text, contexts="SV"),
    _setting("SecAuditLogType", "audit_log_type", _keyword("Serial", "Concurrent"),
             contexts="SV"),
    _setting("SecAuditLogStorageDir", "audit_storage_dir", _text, contexts="SV"),
    _setting("SecAuditLogRelevantStatus", "audit_relevant_status", _regex),
    _setting("SecAuditLogParts", "audit_parts", _parts),
    _setting("SecAuditLogFormat", "audit_format", _keyword("Native", "JSON"), extension=True),
    _setting("SecFilterDebugLog", "debug_log", _text, contexts="SV"),
    _setting("SecFilterDebugLevel", "debug_level", _integer(0, 9)),
    _setting("SecGuardianLog", "guardian_log", _text, contexts="S"),
    _setting("SecUploadDir", "upload_dir", _text),
    _setting("SecUploadKeepFiles", "upload_keep_files", _keyword("On", "Off", "RelevantOnly")),
    _setting("SecUploadApproveScript", "upload_approve_script", _text),
    _setting("SecUploadInMemoryLimit", "upload_in_memory_limit", _integer(1, 2**31)),
    _setting("SecServerResponseToken", "server_response_token", _token_off, contexts="S"),
    _setting("SecFilterCompatibility", "compatibility", _keyword("1.9", "1.8"), extension=True),
    _setting("SecFilterChunkedBody", "chunked_body", _keyword("Reject", "Pass"), extension=True),
    _setting("SecFilterOnError", "on_error", _keyword("Deny", "Pass"), extension=True),
    _setting("SecFilterTimeLimit", "time_limit_ms", _integer(1, 60000), extension=True),
    DirectiveSpec("SecFilter", "rule", 1, 2),
    DirectiveSpec("SecFilterSelective", "rule", 2, 3),
    DirectiveSpec("SecFilterDefaultAction", "template", 1, 1),
    DirectiveSpec("SecFilterSignatureAction", "template", 1, 1),
    DirectiveSpec("SecFilterActionsRestricted", "restrict", 1, 1, _on_off),
    DirectiveSpec("SecFilterInheritance", "inheritance", 1, 1, _on_off),
    DirectiveSpec("SecFilterInheritanceMandatory", "inheritance", 1, 1, _on_off),
    DirectiveSpec("SecFilterImport", "inheritance", 1, 1000, _ids, contexts="D"),
    DirectiveSpec("SecFilterRemove", "inheritance", 1, 1000, _ids, contexts="D"),
    DirectiveSpec("Include", "include", 1, 1),
    DirectiveSpec("IncludeOptional", "include", 1, 1),
    DirectiveSpec("SecChrootDir", "unsupported", 0, 99, doc=(
        "an internal chroot cannot be done from Python inside Apache 2.4; "
        "use Apache's own ChrootDir directive (mod_unixd) instead")),
    DirectiveSpec("SecServerSignature", "unsupported", 0, 99, doc=(
        "Apache 2.4 writes the Server header itself and a Python hook cannot change its "
        "banner; use 'ServerTokens Prod' to shorten it")),
    DirectiveSpec("SecChrootLock", "unsupported", 0, 99, doc=(
        "only needed with SecChrootDir; use Apache's own ChrootDir directive instead")),
]

DIRECTIVES: dict[str, DirectiveSpec] = {row.name.lower(): row for row in _ROWS}

#: ModSecurity 2.x directives, refused with a message of their own (decisions L14).
TWO_X_DIRECTIVES = frozenset(name.lower() for name in (
    "SecRule", "SecAction", "SecDefaultAction", "SecRuleEngine", "SecRequestBodyAccess",
    "SecResponseBodyAccess", "SecRequestBodyLimit", "SecRequestBodyInMemoryLimit",
    "SecResponseBodyMimeType", "SecResponseBodyLimit", "SecCharset", "SecArgumentSeparator",
    "SecTmpDir", "SecDataDir", "SecAuditLogStorageDirMode", "SecDebugLog", "SecDebugLogLevel",
    "SecRuleRemoveById", "SecRuleRemoveByMsg", "SecRuleRemoveByTag", "SecRuleUpdateActionById",
    "SecRuleUpdateTargetById", "SecRuleInheritance", "SecMarker", "SecComponentSignature",
    "SecCookieFormat", "SecPcreMatchLimit", "SecPcreMatchLimitRecursion",
    "SecRequestBodyLimitAction",
    "SecResponseBodyLimitAction", "SecUploadFileMode", "SecUploadFileLimit", "SecCollectionTimeout",
    "SecStatusEngine", "SecUnicodeMapFile", "SecHashEngine", "SecGeoLookupDb", "SecWebAppId",
))

#: Names that look like 1.x but never existed, with the likely meaning.
NEAR_MISSES = {
    "secfilternormalizeencoding": "no such directive ever existed in ModSecurity 1.x "
                                  "(normalisation is always on)",
}


def lookup(directive: Directive) -> DirectiveSpec:
    """Find a directive's row or raise a ConfigError that says what is wrong."""
    key = directive.key
    if key in DIRECTIVES:
        return DIRECTIVES[key]
    if key in TWO_X_DIRECTIVES:
        raise ConfigError(f"ModSecurity 2.x syntax is not 1.x: '{directive.name}' is a "
                          "ModSecurity 2.x directive; write the rule with SecFilter or "
                          "SecFilterSelective", directive.location)
    hint = NEAR_MISSES.get(key)
    if hint:
        raise ConfigError(f"unknown directive '{directive.name}': {hint}", directive.location)
    raise ConfigError(f"unknown directive '{directive.name}' (not a ModSecurity 1.x "
                      "directive; see docs/directives.md)", directive.location)


def validate(directive: Directive) -> tuple[DirectiveSpec, Any]:
    """Check arguments against the row; return the row and the converted value."""
    spec = lookup(directive)
    if spec.kind == "unsupported":
        raise ConfigError(f"{spec.name} is not supported: {spec.doc}", directive.location)
    count = len(directive.args)
    if spec.name == "SecFilter" and count == 3:
        raise ConfigError("SecFilter takes a pattern and an optional action list; to test one "
                          "variable use SecFilterSelective", directive.location)
    if not spec.min_args <= count <= spec.max_args:
        want = (str(spec.min_args) if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}")
        raise ConfigError(f"{spec.name} takes {want} argument(s), got {count}",
                          directive.location)
    value = spec.convert(directive.args, directive.location) if spec.convert else None
    return spec, value
