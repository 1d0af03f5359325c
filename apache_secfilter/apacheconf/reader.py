"""Read an Apache configuration tree the way Apache reads it, keeping our Sec* lines.

Apache refuses directives no loaded module registers, but skips the body of
an ``<IfModule>`` whose module is not loaded.  Our Sec* directives therefore
live inside ``<IfModule secfilter_module>`` (or the 1.x wrapper ``<IfModule
mod_security.c>``): Apache never sees them, and this reader takes them from
there, wherever such a block stands, into the enclosing server, virtual host
or per-request section.  Everything else follows Apache: includes relative
to ``ServerRoot``, ``Define``/``${VAR}``, read-time conditionals evaluated in
file order, section tags balanced per file.  A Sec* directive Apache would
see (outside the wrapper) would stop Apache from starting, and is an error
here too; so is one in a section we cannot scope requests by (``<If>``...).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from ..errors import ConfigError, ConfigWarning
from ..language.ast import Directive, Node, ParsedFile, SectionOpen
from ..language.directives import TWO_X_DIRECTIVES, DirectiveSpec, lookup
from ..language.grammar import read_file, split_words
from .blocks import Block, Item, build_blocks
from .conditions import CONDITIONAL_SECTIONS, Conditions, is_secfilter_wrapper
from .facts import APACHE_DIRECTIVES, parse_address
from .includes import IncludeGuard, include_targets
from .match import prepare_matcher
from .tree import (
    ALLOWED_INSIDE,
    CONTEXT_LETTER,
    REQUEST_SECTIONS,
    SERVER,
    VHOST,
    ApacheConfig,
    Section,
)
from .variables import Variables, environment_for

_SCOPE_BY_EXPRESSION = (
    "its body applies only when an Apache expression holds at request time, and "
    "apache_secfilter does not evaluate Apache expressions; scope the directives with "
    "<Location>, <Directory> or <Files>, or test the condition in a rule")
_SCOPE_BY_METHOD = (
    "<Limit> scopes only access-control directives by HTTP method; Sec* directives in it "
    "would apply to every method. Test the method in a rule instead "
    "(SecFilterSelective REQUEST_METHOD ...)")
REFUSED_SECTIONS = {
    "if": _SCOPE_BY_EXPRESSION, "elseif": _SCOPE_BY_EXPRESSION, "else": _SCOPE_BY_EXPRESSION,
    "limit": _SCOPE_BY_METHOD, "limitexcept": _SCOPE_BY_METHOD,
    "proxy": "<Proxy> sections apply to requests Apache forwards to a backend, which "
             "apache_secfilter does not resolve; use <Location> with the URL path",
    "proxymatch": "<ProxyMatch> sections apply to requests Apache forwards to a backend, "
                  "which apache_secfilter does not resolve; use <LocationMatch>",
    "macro": "mod_macro bodies are expanded where 'Use' names them, and apache_secfilter "
             "does not expand macros",
    "requireall": "authorization containers hold Require directives only",
    "requireany": "authorization containers hold Require directives only",
    "requirenone": "authorization containers hold Require directives only",
}
_PLACES = {"S": "at server level", "V": "in <VirtualHost>",
           "D": "in <Directory>, <Files> and <Location> sections"}


def _refused_reason(node: SectionOpen) -> str:
    return REFUSED_SECTIONS.get(node.key, (
        f"<{node.name}> is not a section Apache merges into a request's configuration the "
        "way it merges <VirtualHost>, <Directory>, <Files> and <Location>"))


def _ours(key: str) -> bool:
    """A directive name that belongs to ModSecurity 1.x, to us, or to ModSecurity 2.x."""
    return key.startswith(("secfilter", "secaudit", "secupload", "secserver", "secchroot",
                           "secguardian")) or key in TWO_X_DIRECTIVES


@dataclass(frozen=True)
class _Frame:
    """Where the reader stands: the context, our wrapper, a section that refuses Sec*."""

    section: Section
    wrapper: SectionOpen | None = None
    refused: SectionOpen | None = None


class _Reader:
    """One pass over the tree, in Apache's order; see ``read_config``."""

    def __init__(self, main_file: str, server_root: str | None, defines: Iterable[str],
                 environ: Mapping[str, str] | None) -> None:
        self.main = os.path.abspath(main_file)
        root = os.path.abspath(server_root or os.path.dirname(self.main))
        self.conditions = Conditions(root, {name: "" for name in defines})
        self.variables = Variables(self.conditions.defines, environment_for(self.main, environ))
        self.guard = IncludeGuard()
        self.server = Section(SERVER, "server", (), None, 0)
        self.config = ApacheConfig(self.main, root, self.server,
                                   defines=self.conditions.defines)
        self.sections = 1
        self.grammar_warnings: dict[str, tuple[ConfigWarning, ...]] = {}
        self.sec_files: set[str] = set()
        #: Why the main file is an Apache configuration (for a rules-file author).
        self.apache_line: Node | None = None

    def read(self) -> ApacheConfig:
        self._file(self.main, _Frame(self.server), None)
        self.config.server_root = self.conditions.server_root
        for path in self.config.files:
            if path in self.sec_files:
                self.config.warnings += self.grammar_warnings.get(path, ())
        self.config.warnings += self.variables.warnings
        return self.config

    # ------------------------------------------------------------------ files

    def _file(self, path: str, frame: _Frame, include: Directive | None) -> None:
        self.guard.enter(path, include.location if include else None)
        try:
            parsed: ParsedFile = read_file(path)
            if include is None:
                self.apache_line = first_apache_line(parsed)
            self.config.files.append(path)
            self.grammar_warnings[path] = parsed.warnings
            self._items(build_blocks(parsed), frame)
        finally:
            self.guard.leave()

    def _items(self, items: list[Item], frame: _Frame) -> None:
        for item in items:
            if isinstance(item, Block):
                self._block(item, frame)
            else:
                self._directive(item, frame)

    def _include(self, d: Directive, frame: _Frame) -> None:
        if len(d.args) != 1:
            raise ConfigError(f"{d.name} takes one path", d.location)
        optional = d.key == "includeoptional"
        for target in include_targets(d.args[0], self.conditions.server_root, optional,
                                      d.location):
            self._file(target, frame, d)

    # ------------------------------------------------------------------ directives

    def _substituted(self, d: Directive) -> Directive:
        """``${VAR}`` replaced in the whole line, then split again (as Apache does)."""
        text = self.variables.substitute(d.raw, d.location) if d.raw else d.raw
        if text == d.raw:
            return d
        words = split_words(text)
        return Directive(words[0], words[1:], d.location, text) if words else d

    def _directive(self, d: Directive, frame: _Frame) -> None:
        d = self._substituted(d)
        if d.key in ("include", "includeoptional"):
            self._include(d, frame)
        elif _ours(d.key) or (frame.wrapper is not None and d.key.startswith("sec")):
            self._sec(d, frame)
        elif frame.wrapper is not None:
            self.config.warnings.append(ConfigWarning(
                f"{d.name} stands inside <IfModule {frame.wrapper.args[0]}>, whose body "
                "Apache skips: it has no effect there", d.location))
        elif d.key in APACHE_DIRECTIVES:
            APACHE_DIRECTIVES[d.key](d, frame.section, self.conditions, self.config)

    def _sec(self, d: Directive, frame: _Frame) -> None:
        if frame.refused is not None:
            node = frame.refused
            raise ConfigError(f"{d.name} inside <{node.name}> (line {node.location.line}): "
                              f"{_refused_reason(node)}", d.location)
        if frame.wrapper is None:
            self._bare_sec(d)
            return
        spec = lookup(d)
        self._check_context(d, spec, frame.section)
        frame.section.directives.append(d)
        self.sec_files.add(d.location.path)

    def _bare_sec(self, d: Directive) -> None:
        """A Sec* line Apache itself reads: an error, unless it is mod_security2's.

        A loaded mod_security2 registers the 2.x names, some of which 1.x used
        too (``SecAuditEngine``, ``SecUploadDir``...): those lines are its own
        configuration.  It never registered ``SecFilter*``.
        """
        if (self.conditions.module_loaded("security2_module")
                and not d.key.startswith("secfilter")):
            return
        lookup(d)
        hint = ""
        marker = self.apache_line
        if marker is not None and d.location.path == self.main:
            hint = (f" (this file is read as an Apache configuration because line "
                    f"{marker.location.line} holds {marker.name}; a rules file holds only Sec*, "
                    "Include and <IfModule> lines)")
        raise ConfigError(
            f"{d.name} stands outside <IfModule secfilter_module>: Apache itself refuses "
            f"to start on it (Invalid command '{d.name}'); put it inside "
            f"<IfModule secfilter_module> ... </IfModule>{hint}", d.location)

    @staticmethod
    def _check_context(d: Directive, spec: DirectiveSpec, section: Section) -> None:
        if CONTEXT_LETTER[section.kind] in spec.contexts:
            return
        here = "at server level" if section.kind == SERVER else f"in <{section.tag}>"
        allowed = ", ".join(_PLACES[letter] for letter in spec.contexts)
        raise ConfigError(f"{spec.name} is not allowed {here}: it may stand only {allowed}",
                          d.location)

    # ------------------------------------------------------------------ sections

    def _substituted_open(self, node: SectionOpen) -> SectionOpen:
        args = tuple(self.variables.substitute(arg, node.location) for arg in node.args)
        return node if args == node.args else replace(node, args=args)

    def _block(self, block: Block, frame: _Frame) -> None:
        node = self._substituted_open(block.open)
        if node.key in CONDITIONAL_SECTIONS:
            if is_secfilter_wrapper(node):
                self._items(block.items, replace(frame, wrapper=frame.wrapper or node))
            elif self.conditions.holds(node):
                self._items(block.items, frame)
        elif node.key in REQUEST_SECTIONS:
            self._request_section(node, block, frame)
        else:
            self._items(block.items, replace(frame, refused=frame.refused or node))

    def _request_section(self, node: SectionOpen, block: Block, frame: _Frame) -> None:
        kind = REQUEST_SECTIONS[node.key][0]
        parent = frame.section
        if kind == VHOST and frame.wrapper is not None:
            raise ConfigError(
                f"<{node.name}> inside <IfModule {frame.wrapper.args[0]}> (line "
                f"{frame.wrapper.location.line}): Apache skips that block, so this virtual "
                "host does not exist for Apache; put the <IfModule> inside the <VirtualHost>",
                node.location)
        if kind not in ALLOWED_INSIDE[parent.kind]:
            where = "the server" if parent.kind == SERVER else f"<{parent.tag}>"
            raise ConfigError(f"<{node.name}> is not allowed inside {where} "
                              "(Apache refuses it)", node.location)
        section = Section(kind, node.name, node.args, node.location, self.sections, parent)
        self.sections += 1
        if kind == VHOST:
            if not node.args:
                raise ConfigError("<VirtualHost> needs at least one address", node.location)
            section.addresses = tuple(parse_address(a, node.location) for a in node.args)
            self.config.vhosts.append(section)
        else:
            prepare_matcher(section, self.conditions.server_root)
        parent.children.append(section)
        self._items(block.items, _Frame(section, frame.wrapper, frame.refused))


def read_config(main_file: str, *, server_root: str | None = None,
                defines: Iterable[str] = (),
                environ: Mapping[str, str] | None = None) -> ApacheConfig:
    """Read ``main_file`` and everything it includes into the context model.

    ``server_root`` defaults to the directory of the main file (Debian's
    compiled-in ``/etc/apache2`` for ``/etc/apache2/apache2.conf``) until a
    ``ServerRoot`` line says otherwise; ``defines`` are ``-D`` names;
    ``environ`` replaces the process environment (``envvars`` next to the
    main file is read over it).
    """
    return _Reader(main_file, server_root, defines, environ).read()


def first_apache_line(parsed: ParsedFile) -> Node | None:
    """The first line that is neither Sec*, Include nor <IfModule>, if any."""
    for node in parsed.nodes:
        if isinstance(node, Directive):
            if not (node.key.startswith("sec") or node.key in ("include", "includeoptional")):
                return node
        elif node.key != "ifmodule":
            return node
    return None


def is_rules_file(parsed: ParsedFile) -> bool:
    """A flat rules file holds only Sec*, Include and <IfModule> lines.

    Anything else (another Apache directive, any other section) makes it an
    Apache configuration, read by ``read_config``.
    """
    return first_apache_line(parsed) is None
