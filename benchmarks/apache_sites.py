"""Private Apache 2.4 instances for the in-Apache benchmark (``apache_bench.py``).

Every variant shares one base configuration (prefork, mod_php 8.2, the same
document root, KeepAlive, no access log, ``LogLevel warn``) so that the only
difference between two figures is the firewall in front of PHP:

* ``bare``: no firewall;
* ``secfilter-mod_python``: the mod_python fixup hook, set up as
  ``apache/secfilter.conf`` does (with mod_request's kept body, which hands
  bodies of up to 1 MiB to PHP from C);
* ``secfilter-mod_wsgi``: mod_wsgi's access hook and deny application, as
  ``apache/secfilter_wsgi.conf`` (under prefork + mod_php here, so that PHP
  runs the same way in every variant);
* ``modsecurity2``: Debian's mod_security2 with the same rules translated to
  ``SecRule`` (no Core Rule Set, nothing from ``/etc/modsecurity``).

Nothing here touches the system's Apache: each instance is started with
``-f <run-dir>/httpd.conf`` on a free 127.0.0.1 port, pinned to one core, and
stopped by the pid it wrote, after checking the pid is still that instance.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from apache_secfilter.server.instance import log_tail
from apache_secfilter.server.instance_config import (
    KEPT_BODY_SIZE,
    RunDirLayout,
    kept_body_lines,
)
from apache_secfilter.server.processes import read_pid

APACHE = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
VARIANTS = ("bare", "python-empty", "secfilter-mod_python", "secfilter-mod_wsgi",
            "modsecurity2")
#: mod_python with a fixup handler that does nothing: what entering Python costs,
#: the base the mod_python hook's own cost is measured against.
EMPTY_HANDLER = ("from mod_python import apache\n\n\n"
                 "def fixuphandler(req):\n    return apache.DECLINED\n")
APACHE_USER = "www-data"
#: Prefork children: one per wrk connection (8) and two spare, fixed so that no
#: child is started (and compiles the rules) or stopped while measuring.
CHILDREN = 10
#: Printed by every PHP page, so a check can tell PHP really ran.
PHP_MARKER = "SECFILTER-BENCH-PHP-OK"
DENY_PATH = "/__secfilter_deny"

PAGES = {
    "catalogue/product.php": """<?php
// The GET page: reads its query string as a catalogue page would.
$id = (int)($_GET['id'] ?? 0);
$colour = htmlspecialchars($_GET['colour'] ?? '', ENT_QUOTES);
header('Content-Type: text/html; charset=utf-8');
echo "<!DOCTYPE html><html><head><title>Product $id</title></head><body>\\n";
echo "<h1>Garden chair $id</h1><p>Colour: $colour, page ", (int)($_GET['page'] ?? 1), "</p>\\n";
echo "<p>", str_repeat('A sturdy chair for the garden. ', 40), "</p>\\n";
echo "<!-- SECFILTER-BENCH-PHP-OK product=$id --></body></html>\\n";
""",
    "contact.php": """<?php
// The 1 KB urlencoded POST: reads every field, as a contact form would.
$fields = count($_POST);
$length = array_sum(array_map('strlen', $_POST));
echo "SECFILTER-BENCH-PHP-OK fields=$fields length=$length\\n";
""",
    "upload.php": """<?php
// The 100 KB multipart POST: looks at the uploaded file, as an upload form would.
$photo = $_FILES['photo'] ?? ['error' => -1, 'size' => 0];
echo "SECFILTER-BENCH-PHP-OK fields=", count($_POST), " error=", $photo['error'],
     " size=", $photo['size'], "\\n";
""",
    "index.html": "<!DOCTYPE html><html><body>apache_secfilter benchmark</body></html>\n",
    "static/css/site.min.css": "".join(
        f".c{i}{{margin:0 {i % 7}px;padding:{i % 5}px;color:#{i * 2654435761 % 0xFFFFFF:06x}}}"
        for i in range(300)) + "\n",
}


@dataclass(frozen=True)
class Site(RunDirLayout):
    """One instance's inputs: variant, rules, shared document root, own run directory."""

    variant: str
    run_dir: str
    docroot: str
    rules: str
    secrules: str
    package_dir: str
    port: int

    @property
    def wsgi_dir(self) -> str:
        return os.path.join(self.run_dir, "wsgi")

    @property
    def modsec_tmp(self) -> str:
        return os.path.join(self.run_dir, "modsec-tmp")

    @property
    def cache_dir(self) -> str:
        """The compiled-policy cache (kept across the repetitions of a run)."""
        return os.path.join(self.run_dir, "policy-cache")


def write_file(path: str, content: str | bytes) -> None:
    """A file readable by Apache's children (they run as www-data when root starts Apache)."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
    os.chmod(path, 0o644)


def make_docroot(docroot: str, vulnerable_php: str) -> None:
    """The pages every variant serves; vulnerable.php is the seed article's."""
    for name, content in {**PAGES, "vulnerable.php": vulnerable_php}.items():
        write_file(os.path.join(docroot, name), content)
    for root, dirs, _ in os.walk(docroot):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)


def modules(variant: str) -> list[tuple[str, str]]:
    modules = [("mpm_prefork_module", "mod_mpm_prefork.so"),
               ("authz_core_module", "mod_authz_core.so"), ("unixd_module", "mod_unixd.so"),
               ("dir_module", "mod_dir.so"), ("mime_module", "mod_mime.so"),
               ("php_module", "libphp8.2.so")]
    extra = {"secfilter-mod_python": [("python_module", "mod_python.so"),
                                      ("request_module", "mod_request.so")],
             "python-empty": [("python_module", "mod_python.so")],
             "secfilter-mod_wsgi": [("wsgi_module", "mod_wsgi.so")],
             "modsecurity2": [("unique_id_module", "mod_unique_id.so"),
                              ("security2_module", "mod_security2.so")]}
    return modules + extra.get(variant, [])


def builtin_modules() -> set[str]:
    """Modules compiled into apache2 (Debian's has unixd, log_config ...): no .so to load."""
    out = subprocess.run([APACHE, "-l"], capture_output=True, text=True, env=_env(),
                         check=False).stdout
    return {line.strip().removesuffix(".c") + ".so" for line in out.splitlines()
            if line.strip().endswith(".c")}


def _base_lines(site: Site) -> list[str]:
    """What every variant has in common."""
    lines = [f"<IfModule !{name}>\n    LoadModule {name} {MODULES_DIR}/{so}\n</IfModule>"
             for name, so in modules(site.variant)]
    lines += [
        f'ServerRoot "{site.run_dir}"',
        f'DefaultRuntimeDir "{site.runtime_dir}"',
        f'PidFile "{site.pid_file}"',
        f"Mutex file:{site.runtime_dir} default",
        f"Listen 127.0.0.1:{site.port}",
        "ServerName 127.0.0.1",
        "ServerTokens Prod",
        "Timeout 60",
        "KeepAlive On",
        "MaxKeepAliveRequests 100",
        "KeepAliveTimeout 5",
        f'ErrorLog "{site.error_log}"',
        "LogLevel warn",
        'TypesConfig "/etc/mime.types"',
        f"StartServers {CHILDREN}", "MinSpareServers 1", f"MaxSpareServers {CHILDREN}",
        f"ServerLimit {CHILDREN}", f"MaxRequestWorkers {CHILDREN}",
        "MaxConnectionsPerChild 0",
        "<Directory />\n    Options None\n    AllowOverride None\n    Require all denied\n"
        "</Directory>",
        f'DocumentRoot "{site.docroot}"',
        "DirectoryIndex index.html",
        '<FilesMatch "\\.php$">\n    SetHandler application/x-httpd-php\n</FilesMatch>',
    ]
    if os.geteuid() == 0:
        lines += [f"User {APACHE_USER}", f"Group {APACHE_USER}"]
    return lines


def _mod_python_lines(site: Site) -> tuple[list[str], list[str]]:
    """Server-level and docroot lines of apache/secfilter.conf."""
    server = [
        f"PythonPath \"['{site.package_dir}'] + sys.path\"",
        "PythonInterpreter main_interpreter",
        "PythonAutoReload Off",
        "PythonImport apache_secfilter.adapters.modpython main_interpreter",
        f'PythonOption SecFilterConfig "{site.rules}"',
        f'PythonOption SecFilterCacheDir "{site.cache_dir}"',
        f'PythonOption mod_python.mutex_directory "{site.runtime_dir}"',
        f"PythonOption SecFilterKeptBodySize {KEPT_BODY_SIZE}",
        *kept_body_lines(KEPT_BODY_SIZE),
    ]
    return server, ["PythonFixupHandler apache_secfilter.adapters.modpython"]


def _python_empty_lines(site: Site) -> tuple[list[str], list[str]]:
    """mod_python as the hook configures it, with a handler that does nothing."""
    server = [
        f"PythonPath \"['{site.wsgi_dir}'] + sys.path\"",
        "PythonInterpreter main_interpreter",
        "PythonAutoReload Off",
        f'PythonOption mod_python.mutex_directory "{site.runtime_dir}"',
    ]
    return server, ["PythonFixupHandler empty_fixup"]


def _mod_wsgi_lines(site: Site) -> tuple[list[str], list[str]]:
    """Server-level and docroot lines of apache/secfilter_wsgi.conf."""
    access = os.path.join(site.wsgi_dir, "access.wsgi")
    deny = os.path.join(site.wsgi_dir, "deny.wsgi")
    server = [
        f'WSGIPythonPath "{site.package_dir}"',
        f'WSGIImportScript "{access}" process-group=%{{GLOBAL}} application-group=%{{GLOBAL}}',
        f'WSGIScriptAlias {DENY_PATH} "{deny}" application-group=%{{GLOBAL}}',
        f'<Directory "{site.wsgi_dir}">\n    <Files deny.wsgi>\n        Require all granted\n'
        "    </Files>\n</Directory>",
    ]
    docroot = [f'WSGIAccessScript "{access}" application-group=%{{GLOBAL}}',
               f"ErrorDocument 403 {DENY_PATH}"]
    return server, docroot


def _modsecurity2_lines(site: Site) -> tuple[list[str], list[str]]:
    """mod_security2 with the translated rules and nothing from /etc/modsecurity.

    The audit log is off because the 1.x rule sets write none (the seed's
    SecAuditLog line is dropped); PCRE limits stay at the module's defaults.
    """
    server = [
        "<IfModule security2_module>",
        "    SecStatusEngine Off",
        "    SecAuditEngine Off",
        "    SecDebugLogLevel 0",
        f'    SecTmpDir "{site.modsec_tmp}"',
        f'    SecDataDir "{site.modsec_tmp}"',
        f'    Include "{site.secrules}"',
        "</IfModule>",
    ]
    return server, []


def render_conf(site: Site) -> str:
    """The whole httpd.conf of one variant."""
    hooks = {"secfilter-mod_python": _mod_python_lines, "secfilter-mod_wsgi": _mod_wsgi_lines,
             "modsecurity2": _modsecurity2_lines, "python-empty": _python_empty_lines}
    server, docroot = hooks[site.variant](site) if site.variant in hooks else ([], [])
    directory = [f'<Directory "{site.docroot}">', "    Options FollowSymLinks",
                 "    AllowOverride None", "    Require all granted"]
    directory += [f"    {line}" for line in docroot] + ["</Directory>"]
    head = [f"# apache_bench.py: variant {site.variant}; generated, rewritten at every start"]
    return "\n".join(head + _base_lines(site) + server + directory) + "\n"


def write_site(site: Site) -> None:
    """The run directory: configuration, logs, runtime, the variant's own files."""
    for path in (site.run_dir, os.path.dirname(site.error_log), site.wsgi_dir):
        os.makedirs(path, mode=0o755, exist_ok=True)
        os.chmod(path, 0o755)
    shutil.rmtree(site.runtime_dir, ignore_errors=True)  # no stale lock files
    os.makedirs(site.runtime_dir, mode=0o755)
    for private in (site.modsec_tmp, site.cache_dir):  # written by the children only
        os.makedirs(private, mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(private, APACHE_USER, APACHE_USER)
    write_file(os.path.join(site.wsgi_dir, "empty_fixup.py"), EMPTY_HANDLER)
    write_file(os.path.join(site.wsgi_dir, "access.wsgi"),
               "from apache_secfilter.adapters.modwsgi import make_access\n\n"
               f"allow_access = make_access({site.rules!r})\n")
    write_file(os.path.join(site.wsgi_dir, "deny.wsgi"),
               "from apache_secfilter.adapters.modwsgi import deny_application as application"
               "  # noqa: F401\n")
    write_file(site.conf_path, render_conf(site))


class ApacheError(RuntimeError):
    """An instance would not pass its configuration test, start or stop."""


def _env() -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", "LC_ALL": "C"}


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def is_instance(pid: int, site: Site) -> bool:
    """Whether pid is an apache2 started with this site's httpd.conf (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return site.conf_path.encode() in argv


def children(pid: int) -> list[int]:
    """The live child processes of pid (Apache's prefork children)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.append(int(entry))
    return sorted(found)


def cpu_ticks(pids: list[int]) -> int:
    """User + system clock ticks used so far by these processes."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total


def core_ticks(core: int) -> int:
    """All clock ticks (busy, idle, stolen) a core has counted so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(f"cpu{core} "):
                return sum(int(x) for x in line.split()[1:9])
    raise ValueError(f"no cpu{core} in /proc/stat")


def config_test(site: Site) -> None:
    """`apache2 -t` on the generated file; its output on failure."""
    result = subprocess.run([APACHE, "-f", site.conf_path, "-t"], capture_output=True,
                            text=True, env=_env(), timeout=120, check=False)
    if result.returncode != 0:
        raise ApacheError(f"apache2 -t rejected {site.conf_path}:\n"
                          + (result.stdout + result.stderr).strip())


def start(site: Site, core: int) -> int:
    """Start Apache pinned to one core (the parent, before it forks); return its pid."""
    result = subprocess.run(["taskset", "-c", str(core), APACHE, "-f", site.conf_path,
                             "-k", "start"], capture_output=True, text=True, env=_env(),
                            timeout=120, check=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pid = read_pid(site.pid_file)
        if pid and alive(pid) and is_instance(pid, site):
            return pid
        if result.returncode != 0:
            break
        time.sleep(0.02)
    stop(site)  # in case it started after all, but too late
    raise ApacheError(f"apache2 did not start ({site.conf_path}):\n"
                      + (result.stdout + result.stderr).strip() + "\n" + log_tail(site.error_log))


def stop(site: Site, pid: int | None = None, timeout: float = 20.0) -> None:
    """SIGTERM the instance's parent, wait for it and its children to exit; verify."""
    pid = pid or read_pid(site.pid_file)
    if not pid or not alive(pid) or not is_instance(pid, site):
        return
    kids = children(pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in [pid, *kids]):
        time.sleep(0.05)
    left = [p for p in [pid, *kids] if alive(p)]
    if left:
        raise ApacheError(f"{site.conf_path}: pid {left} still running {timeout:.0f} s "
                          "after SIGTERM")


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB: VmRSS counts shared pages fully, PSS shares them."""
    rss = pss = 0
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            rss = next((int(ln.split()[1]) for ln in handle if ln.startswith("VmRSS:")), 0)
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            pss = next((int(ln.split()[1]) for ln in handle if ln.startswith("Pss:")), 0)
    return rss, pss
