"""How Apache compares a request with one section (``server/request.c``).

* ``<Directory>``: each directory on the way down to the file is compared in
  full with the section's path (trailing ``/``), by ``fnmatch`` with
  ``FNM_PATHNAME`` when the path has wildcards; ``<DirectoryMatch>`` searches
  the whole file name.
* ``<Files>``: the last component of the file name, compared in full (or
  searched, for ``<FilesMatch>``).
* ``<Location>``: a prefix of the decoded URI path that ends at a ``/`` (or
  at the end of the path) unless the section's own path ends with ``/``;
  wildcards compare the whole path; ``<LocationMatch>`` searches it.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote_to_bytes

import regex

from ..errors import ConfigError, Location
from .tree import DIRECTORY, FILES, Section

_GLOB_CHARS = re.compile(r"[*?\[]")
_UNRESERVED = re.compile(r"%(2[dDeE]|5[fF]|7[eE]|[46][1-9a-fA-F]|[57][0-9aA]|3[0-9])")
REGEX_FLAGS = regex.V0


def has_wildcards(text: str) -> bool:
    return _GLOB_CHARS.search(text) is not None


def fnmatch_regex(pattern: str) -> regex.Pattern[str]:
    """``apr_fnmatch(pattern, x, APR_FNM_PATHNAME)`` as a regex: wildcards stop at ``/``."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and index < len(pattern):
            out.append(re.escape(pattern[index]))
            index += 1
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
                continue
            body = pattern[index:end].replace("\\", "\\\\")
            body = "^" + body[1:] if body.startswith("!") else body
            out.append(f"(?!/)[{body}]")
            index = end + 1
        else:
            out.append(re.escape(char))
    try:
        return regex.compile("".join(out), REGEX_FLAGS)
    except regex.error:  # a class apr_fnmatch accepts but a regex does not ([z-a])
        return regex.compile(re.escape(pattern), REGEX_FLAGS)


def compile_section_regex(text: str, location: Location | None) -> regex.Pattern[str]:
    """A section's regular expression (Apache uses PCRE; ``regex`` reads the same)."""
    try:
        return regex.compile(text, REGEX_FLAGS)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise ConfigError(f"invalid regular expression '{text}': {exc}", location) from exc


# --------------------------------------------------------------------------- URI


def _remove_dot_segments(path: str) -> str:
    """``ap_getparents``: drop ``.`` segments and ``..`` with the segment before it."""
    out: list[str] = []
    segments = path.split("/")
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out) or "/"


def request_uri_path(raw_path: str) -> str:
    """``r->uri`` for a raw request path: decoded, dot segments removed, slashes merged.

    As Apache 2.4.51+: unreserved characters are decoded first (so ``%2e%2e``
    counts as ``..``), then dot segments go, then ``//`` is merged
    (``MergeSlashes On``), then the rest is decoded.  Text stays Latin-1.
    """
    path = _UNRESERVED.sub(lambda m: chr(int(m.group(1), 16)), raw_path or "/")
    if not path.startswith("/"):
        path = "/" + path
    path = re.sub("/{2,}", "/", _remove_dot_segments(path))
    return unquote_to_bytes(path).decode("latin-1")


# --------------------------------------------------------------------------- file name


def _alias_target(uri_path: str, aliases: list[tuple[str, str]]) -> tuple[str, str] | None:
    """(directory, rest of the path) for the first Alias whose URL prefix matches."""
    for url, directory in aliases:
        if url.endswith("/"):
            if uri_path.startswith(url):
                return directory, "/" + uri_path[len(url):]
        elif uri_path == url or uri_path.startswith(url + "/"):
            return directory, uri_path[len(url):]
    return None


def map_to_file(uri_path: str, document_root: str,
                aliases: list[tuple[str, str]] | None = None) -> str:
    """The file Apache would serve (``r->filename``), without its PATH_INFO.

    ``Alias``/``ScriptAlias`` first, else the document root.  Like the
    directory walk, components below that directory are looked at on disk: a
    regular file ends the name (the rest is PATH_INFO), and so does a missing
    component.  When the directory itself is not on this machine (checking a
    server's configuration elsewhere), the path is taken as written.
    """
    base, rest = _alias_target(uri_path, aliases or []) or (document_root, uri_path)
    base = base.rstrip("/") or "/"
    if not os.path.isdir(base):
        return base.rstrip("/") + rest
    return _walk_disk(base, rest)


def _walk_disk(base: str, rest: str) -> str:
    current = base.rstrip("/")
    parts = rest.split("/")[1:]
    for position, part in enumerate(parts):
        if not part:
            return current + "/" if position == len(parts) - 1 else current
        current = f"{current}/{part}"
        if not os.path.isdir(current):
            return current
    return current + "/"


def walked_directories(filename: str) -> list[str]:
    """The directories the directory walk visits, each with a trailing ``/``.

    A name ending in ``/`` is a directory itself; otherwise its last
    component is the file and is not visited.
    """
    if not filename.startswith("/"):
        return []
    parts = filename.split("/")[1:-1]
    found = ["/"]
    current = ""
    for part in parts:
        if part:
            current += "/" + part
            found.append(current + "/")
    return found


# --------------------------------------------------------------------------- sections


def directory_matches(section: Section, directories: list[str], filename: str) -> bool:
    """Whether a ``<Directory>``/``<DirectoryMatch>`` section applies to this file."""
    if section.is_regex:
        return bool(filename) and section.matcher.search(filename) is not None
    if section.pattern == "/":
        return bool(directories)
    count = section.components
    for directory in directories:
        if directory.count("/") != count:
            continue
        if section.matcher is not None:
            return section.matcher.fullmatch(directory) is not None
        return directory == section.pattern
    return False


def files_matches(section: Section, filename: str) -> bool:
    """``<Files>``/``<FilesMatch>`` against the last component of the file name."""
    if not filename:
        return False
    base = filename.rsplit("/", 1)[-1]
    if section.is_regex:
        return section.matcher.search(base) is not None
    if section.matcher is not None:
        return section.matcher.fullmatch(base) is not None
    return base == section.pattern


def location_matches(section: Section, uri_path: str) -> bool:
    """``<Location>``/``<LocationMatch>`` against the decoded, merged URI path."""
    if section.is_regex:
        return section.matcher.search(uri_path) is not None
    if section.matcher is not None:
        return section.matcher.fullmatch(uri_path) is not None
    pattern = section.pattern
    if not uri_path.startswith(pattern):
        return False
    return (not pattern or pattern.endswith("/") or len(uri_path) == len(pattern)
            or uri_path[len(pattern)] == "/")


def prepare_matcher(section: Section, server_root: str) -> None:
    """Fill ``pattern``/``matcher``/``is_regex`` from the section's arguments."""
    args = section.args
    regex_tag = section.tag.lower().endswith("match")
    if regex_tag or (len(args) == 2 and args[0] == "~"):
        text = args[-1]
        if len(args) != (1 if regex_tag else 2):
            raise ConfigError(f"<{section.tag}> takes one regular expression",
                              section.location)
        section.is_regex, section.pattern = True, text
        section.matcher = compile_section_regex(text, section.location)
        return
    if len(args) != 1:
        raise ConfigError(f"<{section.tag}> takes one path", section.location)
    pattern = args[0]
    if section.kind == DIRECTORY:
        if not os.path.isabs(pattern):
            pattern = os.path.join(server_root, pattern)
        pattern = re.sub("/{2,}", "/", pattern).rstrip("/") + "/"
    elif section.kind != FILES:
        pattern = re.sub("/{2,}", "/", pattern)
    section.pattern = pattern
    if has_wildcards(pattern):
        section.matcher = fnmatch_regex(pattern)
