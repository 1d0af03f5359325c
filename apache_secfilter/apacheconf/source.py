"""One loaded configuration, and the policy for each request: what adapters and the CLI share.

``load_source(path)`` reads either a flat rules file (Sec*, ``Include`` and
``<IfModule>`` wrappers only: one policy for every request) or a whole Apache
configuration (``apache2.conf`` and what it includes).  For the latter every
section's Sec* directives are compiled at load, so a configuration error
anywhere stops loading with its file:line before a request is served; per
request, ``policy_for`` resolves the sections that apply (a few lookups) and
returns the policy of that combination, merged once and then cached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigWarning
from ..language.grammar import read_file
from ..policy.compile import ContextPolicy, compile_context
from ..policy.files import FileChecks
from ..policy.inherit import Trace, build_policy
from ..policy.load import load_policy
from ..policy.model import Policy
from ..request.model import Request
from .htaccess import htaccess_warnings
from .reader import is_rules_file, read_config
from .resolve import Resolution, Resolver, Target
from .tree import ApacheConfig, Section

Key = tuple[int, ...]


def request_target(request: Request) -> Target:
    """Apache's view of a request for section matching, from the request and its facts."""
    facts = request.facts
    path = request.path
    if path.lower().startswith(("http://", "https://")):  # absolute-form request target
        rest = path.split("://", 1)[1]
        path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return Target(host=request.host, port=facts.server_port, address=facts.server_addr,
                  raw_path=path, filename=facts.script_filename or facts.request_filename,
                  document_root=facts.document_root)


class PolicySource:
    """A loaded configuration: ``policy_for(request)`` and the load-time ``warnings``."""

    def __init__(self, path: str, *, policy: Policy | None = None,
                 config: ApacheConfig | None = None, files: FileChecks | None = None) -> None:
        self.path = path
        self.flat_policy = policy
        self.config = config
        self._checks = files or FileChecks()
        self._lock = threading.Lock()
        self._contexts: dict[Key, ContextPolicy] = {}
        self._policies: dict[Key, Policy] = {}
        self._sections: dict[int, Section] = {}
        self._resolver: Resolver | None = None
        self.warnings: tuple[ConfigWarning, ...] = policy.warnings if policy else ()
        self.files: tuple[str, ...] = policy.sources if policy else ()
        #: .htaccess files below a document root that hold Sec* lines (L20).
        self.htaccess: tuple[ConfigWarning, ...] = ()
        if config is not None:
            self._sections = {s.index: s for s in config.sections()}
            self._resolver = Resolver(config)
            self.files = tuple(config.files)

    def __getstate__(self) -> dict[str, Any]:
        """For the compiled-policy cache: everything but the lock and the resolver
        (its cache of answers), which are made again."""
        state = dict(self.__dict__)
        del state["_lock"], state["_resolver"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._resolver = Resolver(self.config) if self.config is not None else None

    @property
    def is_apache_config(self) -> bool:
        return self.config is not None

    # ------------------------------------------------------------------ per request

    def resolve(self, request: Request) -> Resolution | None:
        """The sections that apply to ``request`` (``None`` for a flat rules file)."""
        if self._resolver is None:
            return None
        return self._resolver.resolve(request_target(request))

    def policy_for(self, request: Request) -> Policy:
        """The policy for one request: a resolution and, usually, one dict lookup."""
        if self.flat_policy is not None:
            return self.flat_policy
        resolution = self.resolve(request)
        assert resolution is not None
        return self.policy_for_key(resolution.key)

    def single_policy(self) -> Policy | None:
        """The policy of every request when no section below the server holds Sec*
        lines (a rules file, or apache2.conf with its rules at server level): the
        hooks then need no resolution, and can decide a request from its head
        alone (``engine.quick``).  None when sections make policies differ."""
        if self.flat_policy is not None:
            return self.flat_policy
        keys = self.lexical_keys()
        return self.policy_for_key(keys[0]) if keys == [(0,)] else None

    def policy_for_key(self, key: Key) -> Policy:
        policy = self._policies.get(key)
        if policy is not None:
            return policy
        with self._lock:
            policy = self._policies.get(key)
            if policy is None:
                policy = build_policy(self.contexts(key), self.files)
                self._policies[key] = policy
        return policy

    def contexts(self, key: Key) -> list[ContextPolicy]:
        """The compiled contexts of a combination, each compiled once per prefix."""
        out: list[ContextPolicy] = []
        inherited: dict[str, Any] = {}
        for length in range(1, len(key) + 1):
            prefix = key[:length]
            context = self._contexts.get(prefix)
            if context is None:
                section = self._sections[prefix[-1]]
                context = compile_context(section.directives, self.label(section),
                                          self._checks, inherited)
                self._contexts[prefix] = context
            out.append(context)
            inherited.update(context.overrides)
        return out

    def label(self, section: Section) -> str:
        root = self.config.server_root if self.config else ""
        return section.label(root)

    def trace(self, key: Key) -> tuple[Policy, Trace, list[ContextPolicy]]:
        """The policy of a combination with every inheritance decision recorded."""
        trace = Trace()
        with self._lock:
            contexts = self.contexts(key)
        return build_policy(contexts, self.files, trace), trace, contexts

    # ------------------------------------------------------------------ load time

    def lexical_keys(self) -> list[Key]:
        """For each section with Sec* lines: it and its enclosing sections with Sec* lines."""
        keys: list[Key] = []
        for section in self._sections.values():
            if not section.has_sec and section.index != 0:
                continue
            chain: list[int] = []
            current: Section | None = section
            while current is not None:
                if current.has_sec or current.index == 0:
                    chain.append(current.index)
                current = current.parent
            keys.append(tuple(reversed(chain)))
        return keys

    def validate(self, scan_htaccess: bool = True) -> None:
        """Compile every section now (errors surface at load) and collect the warnings."""
        assert self.config is not None
        warnings: list[ConfigWarning] = list(self.config.warnings)
        for key in self.lexical_keys():
            warnings += self.policy_for_key(key).warnings
        if scan_htaccess and self.config.sec_directive_count:
            names = self.config.server.access_file_names or (".htaccess",)
            self.htaccess = tuple(htaccess_warnings(self.config.document_roots(), names))
            warnings += self.htaccess
        self.warnings = tuple(dict.fromkeys(warnings))

    def rule_counts(self) -> tuple[int, int]:
        """Request and output rules written in the whole configuration (each once)."""
        if self.flat_policy is not None:
            return len(self.flat_policy.rules), len(self.flat_policy.output_rules)
        request = output = 0
        for key in self.lexical_keys():
            rules = self.contexts(key)[-1].rules
            output += sum(1 for r in rules if r.phase == "output")
            request += sum(1 for r in rules if r.phase != "output")
        return request, output


def load_source(path: str, *, server_root: str | None = None, defines: Iterable[str] = (),
                environ: Mapping[str, str] | None = None, files: FileChecks | None = None,
                scan_htaccess: bool = True) -> PolicySource:
    """Load a flat rules file or an Apache configuration; errors name file:line."""
    root = read_file(path)
    if is_rules_file(root):
        return PolicySource(path, policy=load_policy(path, files, root=root), files=files)
    config = read_config(path, server_root=server_root, defines=defines, environ=environ)
    source = PolicySource(path, config=config, files=files)
    source.validate(scan_htaccess)
    return source

