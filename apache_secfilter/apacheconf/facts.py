"""The few Apache directives the context model needs, read as Apache reads them.

``ServerRoot``, ``Define``/``UnDefine`` and ``LoadModule`` change how the
rest of the files are read; ``ServerName``, ``ServerAlias``, ``DocumentRoot``,
``Alias``/``ScriptAlias``, ``AccessFileName`` and ``Listen`` describe the
server and its virtual hosts for choosing sections per request.  Every other
Apache directive is skipped: Apache itself checks them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from ..errors import ConfigError, Location
from ..language.ast import Directive
from .conditions import Conditions
from .tree import SERVER, VHOST, Address, ApacheConfig, Section

Handler = Callable[[Directive, Section, Conditions, ApacheConfig], None]

_PORT = re.compile(r"\d{1,5}")


def server_relative(path: str, conditions: Conditions) -> str:
    """``ap_server_root_relative``: a relative path is taken below ServerRoot."""
    return os.path.normpath(path if os.path.isabs(path)
                            else os.path.join(conditions.server_root, path))


def host_name(text: str) -> str:
    """``ServerName [scheme://]name[:port]`` -> the lower-case name alone."""
    name = text.split("://", 1)[-1]
    if name.startswith("["):
        return name.split("]", 1)[0].lower() + "]"
    return name.rsplit(":", 1)[0].lower() if name.count(":") == 1 else name.lower()


def parse_address(text: str, location: Location | None) -> Address:
    """``addr[:port]``: ``*``, ``_default_``, an IP or a name; ``:*`` or none = any port."""
    host, port = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"<VirtualHost>: bad address '{text}'", location)
        host, port = text[: end + 1], text[end + 1:].removeprefix(":")
    elif text.count(":") == 1:
        host, port = text.split(":")
    if port in ("", "*"):
        return Address(host.lower(), None)
    if not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        raise ConfigError(f"<VirtualHost>: bad port in '{text}'", location)
    return Address(host.lower(), int(port))


def _need(d: Directive, low: int, high: int) -> None:
    if not low <= len(d.args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise ConfigError(f"{d.name} takes {want} argument(s)", d.location)


def _server_root(d: Directive, section: Section, cond: Conditions, _: ApacheConfig) -> None:
    _need(d, 1, 1)
    if section.kind == SERVER:
        cond.server_root = os.path.normpath(d.args[0]) if os.path.isabs(d.args[0]) else (
            os.path.normpath(os.path.join(os.getcwd(), d.args[0])))


def _define(d: Directive, _: Section, cond: Conditions, __: ApacheConfig) -> None:
    _need(d, 1, 2)
    cond.defines[d.args[0]] = d.args[1] if len(d.args) == 2 else ""


def _undefine(d: Directive, _: Section, cond: Conditions, __: ApacheConfig) -> None:
    _need(d, 1, 1)
    cond.defines.pop(d.args[0], None)


def _load_module(d: Directive, _: Section, cond: Conditions, __: ApacheConfig) -> None:
    _need(d, 2, 2)
    cond.load_module(d.args[0], d.args[1])


def _server_name(d: Directive, section: Section, _: Conditions, __: ApacheConfig) -> None:
    _need(d, 1, 1)
    if section.kind in (SERVER, VHOST):
        section.server_name = host_name(d.args[0])


def _server_alias(d: Directive, section: Section, _: Conditions, __: ApacheConfig) -> None:
    if section.kind == VHOST:
        section.server_aliases += [alias.lower() for alias in d.args]


def _document_root(d: Directive, section: Section, cond: Conditions, _: ApacheConfig) -> None:
    _need(d, 1, 1)
    if section.kind in (SERVER, VHOST):
        section.document_root = server_relative(d.args[0], cond)


def _alias(d: Directive, section: Section, cond: Conditions, _: ApacheConfig) -> None:
    if section.kind in (SERVER, VHOST) and len(d.args) == 2:
        section.aliases.append((d.args[0], server_relative(d.args[1], cond)))


def _access_file_name(d: Directive, section: Section, _: Conditions, __: ApacheConfig) -> None:
    if section.kind in (SERVER, VHOST) and d.args:
        section.access_file_names = tuple(d.args)


def _listen(d: Directive, _: Section, __: Conditions, config: ApacheConfig) -> None:
    if d.args:
        config.listen.append(d.args[0])


APACHE_DIRECTIVES: dict[str, Handler] = {
    "serverroot": _server_root, "define": _define, "undefine": _undefine,
    "loadmodule": _load_module, "servername": _server_name, "serveralias": _server_alias,
    "documentroot": _document_root, "alias": _alias, "scriptalias": _alias,
    "accessfilename": _access_file_name, "listen": _listen,
}
