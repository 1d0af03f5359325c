"""The text of a private Apache (and php-fpm) configuration for `secfilter serve`.

Pure functions from an ``InstanceSpec`` to file contents, so the generated
configuration can be read and tested without starting anything.  Every path
lives in the run directory; nothing refers to the system's own Apache
configuration, its ``APACHE_*`` environment variables or port 80.

Two stacks, because mod_python and mod_wsgi cannot share one Apache and
mod_python's filters crash under threaded MPMs (see docs/serve.md):

* ``mod_python``: prefork + mod_php + mod_python (full inspection: body,
  output, any status);
* ``mod_wsgi``: event + php-fpm (through mod_proxy_fcgi) + mod_wsgi's
  ``WSGIAccessScript`` with the ``ErrorDocument 403`` deny application.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MODULES_DIR = "/usr/lib/apache2/modules"
#: mod_request's ``KeptBodySize`` and the hook's ``SecFilterKeptBodySize`` (one value): a
#: request body of up to half of it reaches PHP from mod_request's C filters, not
#: through a Python input filter call per block PHP reads (docs/apache-config.md).
KEPT_BODY_SIZE = 2 * 1024 * 1024
ADAPTERS = ("mod_python", "mod_wsgi")
DENY_PATH = "/__secfilter_deny"
WHITESPACE = " \t"

#: (module name, file) loaded by both stacks, in load order.
COMMON_MODULES = (
    ("authz_core_module", "mod_authz_core.so"),
    ("unixd_module", "mod_unixd.so"),
    ("dir_module", "mod_dir.so"),
    ("mime_module", "mod_mime.so"),
    ("log_config_module", "mod_log_config.so"),
    ("env_module", "mod_env.so"),
    ("setenvif_module", "mod_setenvif.so"),
    ("rewrite_module", "mod_rewrite.so"),
    ("alias_module", "mod_alias.so"),
    ("unique_id_module", "mod_unique_id.so"),
)
REQUEST_MODULE = ("request_module", "mod_request.so")
STACK_MODULES = {
    "mod_python": (
        ("mpm_prefork_module", "mod_mpm_prefork.so"),
        ("php_module", "libphp8.2.so"),
        ("python_module", "mod_python.so"),
    ),
    "mod_wsgi": (
        ("mpm_event_module", "mod_mpm_event.so"),
        ("proxy_module", "mod_proxy.so"),
        ("proxy_fcgi_module", "mod_proxy_fcgi.so"),
        ("wsgi_module", "mod_wsgi.so"),
    ),
}


class RunDirLayout:
    """Where a private Apache keeps its files inside its run directory.

    Shared by ``InstanceSpec`` and the benchmark's sites, so that both write
    and read the same paths (``run_dir`` is the subclass's field).
    """

    run_dir: str

    @property
    def conf_path(self) -> str:
        return os.path.join(self.run_dir, "httpd.conf")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.run_dir, "httpd.pid")

    @property
    def log_dir(self) -> str:
        return os.path.join(self.run_dir, "logs")

    @property
    def error_log(self) -> str:
        return os.path.join(self.log_dir, "error.log")

    @property
    def runtime_dir(self) -> str:
        return os.path.join(self.run_dir, "runtime")


@dataclass(frozen=True)
class InstanceSpec(RunDirLayout):
    """Everything that decides one private Apache instance.

    ``package_dir`` is the directory that holds the ``apache_secfilter``
    package Apache's embedded Python must import (a site-packages directory).
    ``user`` is the account Apache's children (and php-fpm's workers) run as
    when the instance is started by root, ``None`` otherwise.
    ``directory_extra`` holds Apache directives added inside
    ``<Directory docroot>`` (e.g. mod_rewrite rules, ``DirectoryIndex``).
    ``kept_body_size`` (mod_python only): ``KeptBodySize`` and
    ``SecFilterKeptBodySize``, with mod_request loaded; 0 leaves all three out.
    """

    rules: str
    docroot: str
    run_dir: str
    package_dir: str
    port: int = 8080
    adapter: str = "mod_python"
    fpm_port: int | None = None
    user: str | None = None
    group: str | None = None
    directory_extra: str = ""
    log_level: str = "notice"
    kept_body_size: int = KEPT_BODY_SIZE

    @property
    def engine_log_dir(self) -> str:
        """Where the demo's audit and debug logs go: written by Apache's children."""
        return os.path.join(self.log_dir, "secfilter")

    @property
    def fpm_conf_path(self) -> str:
        return os.path.join(self.run_dir, "php-fpm.conf")

    @property
    def fpm_pid_file(self) -> str:
        return os.path.join(self.run_dir, "php-fpm.pid")

    @property
    def fpm_error_log(self) -> str:
        return os.path.join(self.log_dir, "php-fpm.log")

    @property
    def access_script(self) -> str:
        return os.path.join(self.run_dir, "access.wsgi")

    @property
    def deny_script(self) -> str:
        return os.path.join(self.run_dir, "deny.wsgi")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class UnsafePath(ValueError):
    """A path that cannot be written into an Apache configuration safely."""


def bare(path: str, forbidden: str = "") -> str:
    """A path checked for use in an Apache configuration, unquoted.

    Apache's quoting rules for backslashes differ between directives, so a
    path with a quote, a backslash or a control character is refused rather
    than escaped in a way one directive might read differently.
    """
    if (any(c in path for c in '"\\' + forbidden)
            or any(ord(c) < 32 or ord(c) == 127 for c in path)):
        raise UnsafePath(f"cannot use the path {path!r} in the generated Apache configuration "
                         "(quotes, backslashes, control characters are refused"
                         + (", and white space here)" if " " in forbidden else ")"))
    return path


def quote(path: str) -> str:
    """A path as a double-quoted Apache argument."""
    return f'"{bare(path)}"'


def _load_modules(spec: InstanceSpec) -> list[str]:
    """LoadModule lines, each guarded: Debian compiles some (unixd, log_config) in.

    mod_request with a kept body size, where it is installed (Debian's
    apache2-bin has it); without it the hook replays every body in Python.
    """
    modules = STACK_MODULES[spec.adapter][:1] + COMMON_MODULES + STACK_MODULES[spec.adapter][1:]
    if _kept_body(spec):
        modules += (REQUEST_MODULE,)
    return [f"<IfModule !{name}>\n    LoadModule {name} {quote(os.path.join(MODULES_DIR, so))}"
            "\n</IfModule>" for name, so in modules]


def _kept_body(spec: InstanceSpec) -> bool:
    """Whether the instance gets mod_request, ``KeptBodySize`` and the hook's option."""
    return spec.adapter == "mod_python" and spec.kept_body_size > 0 \
        and os.path.exists(os.path.join(MODULES_DIR, REQUEST_MODULE[1]))


def kept_body_lines(size: int) -> list[str]:
    """mod_request's ``KeptBodySize``, for the bodies the mod_python hook has it keep.

    ``KEEP_BODY`` counts a kept body twice (the hook's read, then PHP's) and
    answers 413 beyond ``KeptBodySize``; mod_request also adds it, as a hard
    limit, to every request of a directory with a ``KeptBodySize``.  So the
    size is in effect only for a body of a known length of at most half of it,
    the bodies the hook keeps (``SecFilterKeptBodySize``, the same value); any
    other body is neither kept nor limited.
    """
    half = size // 2
    return [
        "<IfModule request_module>",
        f"    <If \"-z req_novary('Transfer-Encoding') && req_novary('Content-Length') "
        f"=~ /^[0-9]{{1,{len(str(half))}}}$/ && req_novary('Content-Length') -le {half}\">",
        f"        KeptBodySize {size}",
        "    </If>",
        "</IfModule>",
    ]


def _server_block(spec: InstanceSpec) -> list[str]:
    lines = [
        f"ServerRoot {quote(spec.run_dir)}",
        f"DefaultRuntimeDir {quote(spec.runtime_dir)}",
        f"PidFile {quote(spec.pid_file)}",
        f"Mutex file:{bare(spec.runtime_dir, WHITESPACE)} default",
        f"Listen 127.0.0.1:{spec.port}",
        "ServerName 127.0.0.1",
        "ServerAdmin webmaster@localhost",
        "ServerTokens Prod",
        "ServerSignature Off",
        "Timeout 60",
        "KeepAlive On",
        "MaxKeepAliveRequests 100",
        "KeepAliveTimeout 5",
        "HostnameLookups Off",
        f"ErrorLog {quote(spec.error_log)}",
        f"LogLevel {spec.log_level}",
        'LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{User-Agent}i\\"" combined',
        f"CustomLog {quote(os.path.join(spec.log_dir, 'access.log'))} combined",
    ]
    if spec.user:
        lines += [f"User {spec.user}", f"Group {spec.group or spec.user}"]
    if os.path.exists("/etc/mime.types"):
        lines.append('TypesConfig "/etc/mime.types"')
    return lines


def _mpm_block(spec: InstanceSpec) -> list[str]:
    """Small process counts: this is a private test/demo server, not production."""
    if spec.adapter == "mod_python":
        return ["StartServers 2", "MinSpareServers 2", "MaxSpareServers 4",
                "MaxRequestWorkers 16", "MaxConnectionsPerChild 0"]
    return ["StartServers 1", "ServerLimit 2", "ThreadsPerChild 16", "MaxRequestWorkers 32",
            "MinSpareThreads 8", "MaxSpareThreads 32", "ThreadLimit 16"]


def _php_block(spec: InstanceSpec) -> list[str]:
    if spec.adapter == "mod_python":
        handler = "application/x-httpd-php"
    else:
        handler = f"proxy:fcgi://127.0.0.1:{spec.fpm_port}"
    return ['<FilesMatch "\\.php$">', f'    SetHandler "{handler}"', "</FilesMatch>"]


def _python_server_block(spec: InstanceSpec) -> list[str]:
    if spec.adapter == "mod_python":
        return [
            f"PythonPath \"['{bare(spec.package_dir, chr(39))}'] + sys.path\"",
            "PythonInterpreter main_interpreter",
            "PythonAutoReload Off",
            "PythonImport apache_secfilter.adapters.modpython main_interpreter",
            f"PythonOption SecFilterConfig {quote(spec.rules)}",
            f"PythonOption mod_python.mutex_directory {quote(spec.runtime_dir)}",
        ] + ([f"PythonOption SecFilterKeptBodySize {spec.kept_body_size}",
              *kept_body_lines(spec.kept_body_size)] if _kept_body(spec) else [])
    return [
        f"WSGIPythonPath {quote(spec.package_dir)}",
        f"WSGIImportScript {quote(spec.access_script)} "
        "process-group=%{GLOBAL} application-group=%{GLOBAL}",
        f"WSGIScriptAlias {DENY_PATH} {quote(spec.deny_script)} application-group=%{{GLOBAL}}",
        f"<Directory {quote(spec.run_dir)}>",
        "    Require all granted",
        "</Directory>",
    ]


def _docroot_block(spec: InstanceSpec) -> list[str]:
    lines = [
        f"<Directory {quote(spec.docroot)}>",
        "    Options FollowSymLinks",
        "    AllowOverride None",
        "    Require all granted",
    ]
    if spec.adapter == "mod_python":
        lines.append("    PythonFixupHandler apache_secfilter.adapters.modpython")
    else:
        lines += [f"    WSGIAccessScript {quote(spec.access_script)} "
                  "application-group=%{GLOBAL}",
                  f"    ErrorDocument 403 {DENY_PATH}"]
    lines += ["    " + line.strip() for line in spec.directory_extra.splitlines() if line.strip()]
    lines.append("</Directory>")
    return lines


def render_httpd_conf(spec: InstanceSpec) -> str:
    """The whole httpd.conf of the instance."""
    if spec.adapter not in ADAPTERS:
        raise ValueError(f"unknown adapter {spec.adapter!r}")
    sections = [
        ["# Generated by `secfilter serve`; rewritten at every start. Do not edit.",
         f"# adapter: {spec.adapter}; rules: {spec.rules}"],
        _load_modules(spec),
        _server_block(spec),
        _mpm_block(spec),
        ["<Directory />", "    Options None", "    AllowOverride None",
         "    Require all denied", "</Directory>",
         '<Files ".ht*">', "    Require all denied", "</Files>"],
        [f"DocumentRoot {quote(spec.docroot)}", "DirectoryIndex index.html index.php"],
        _php_block(spec),
        _python_server_block(spec),
        _docroot_block(spec),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def render_fpm_conf(spec: InstanceSpec) -> str:
    """php-fpm's configuration: one pool on 127.0.0.1:fpm_port, files in the run dir."""
    lines = [
        "; Generated by `secfilter serve`; rewritten at every start. Do not edit.",
        "[global]",
        f"pid = {spec.fpm_pid_file}",
        f"error_log = {spec.fpm_error_log}",
        "daemonize = yes",
        "",
        "[secfilter]",
        f"listen = 127.0.0.1:{spec.fpm_port}",
        "listen.allowed_clients = 127.0.0.1",
        "pm = dynamic",
        "pm.max_children = 8",
        "pm.start_servers = 2",
        "pm.min_spare_servers = 1",
        "pm.max_spare_servers = 4",
        "catch_workers_output = yes",
    ]
    if spec.user:
        lines += [f"user = {spec.user}", f"group = {spec.group or spec.user}"]
    return "\n".join(lines) + "\n"


def render_access_script(spec: InstanceSpec) -> str:
    """The WSGIAccessScript: compiles the rules once per Apache child."""
    return (
        '"""Generated by `secfilter serve`: the mod_wsgi access hook of this instance."""\n\n'
        "from apache_secfilter.adapters.modwsgi import make_access\n\n"
        f"allow_access = make_access({spec.rules!r})\n"
    )


def render_deny_script() -> str:
    """The ErrorDocument 403 target that answers with the rule's own status."""
    return (
        '"""Generated by `secfilter serve`: answers denied requests with their status."""\n\n'
        "from apache_secfilter.adapters.modwsgi import deny_application as application  "
        "# noqa: F401\n"
    )
