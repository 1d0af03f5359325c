"""End-to-end fixtures: real Apache 2.4 and PHP instances on free 127.0.0.1 ports.

Each instance is started through ``apache_secfilter.server.instance`` (the
code behind ``secfilter serve``) from a fresh directory made with
``tempfile.mkdtemp(dir="/tmp")`` and opened to mode 0755: when the tests run
as root, Apache's children run as www-data, which cannot enter pytest's 0700
``tmp_path``.  Instances are stopped by pid at the end of the session, and
each one's error log must then hold no Python ``Traceback`` (issue "Done
when").

``SECFILTER_E2E_PACKAGE_DIR`` (optional) points Apache's embedded Python at
another directory holding an ``apache_secfilter`` package than the one
``instance.package_dir()`` finds (the installed copy), e.g. to try an
adapter before installing it.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

import pytest

from apache_secfilter.apacheconf.source import load_source
from apache_secfilter.server import instance
from apache_secfilter.server.instance_config import KEPT_BODY_SIZE

TIMEOUT = 15.0

#: PHP pages every site serves (besides the demo's vulnerable.php and index.html).
POST_PHP = r"""<?php
// Prints digests of what PHP received, so tests can compare bytes exactly.
header('Content-Type: text/plain');
$raw = file_get_contents('php://input');
echo "method=", $_SERVER['REQUEST_METHOD'], "\n";
echo "raw_len=", strlen($raw), "\n";
echo "raw_md5=", md5($raw), "\n";
ksort($_POST);
foreach ($_POST as $k => $v) { echo "post_", $k, "=", md5((string)$v), "\n"; }
foreach ($_FILES as $k => $f) {
    echo "file_", $k, "_error=", $f['error'], "\n";
    echo "file_", $k, "_size=", $f['size'], "\n";
    echo "file_", $k, "_md5=", ($f['error'] === 0 ? md5_file($f['tmp_name']) : ''), "\n";
}
// How the mod_python hook handed the body over: kept (mod_request) or python.
echo "body_via=", (function_exists('apache_note') ? apache_note('secfilter-body') : ''), "\n";
"""
LEAK_PHP = '<?php echo "root:x:0:0:root:/root:/bin/bash\\n";\n'
FLUSH_LOOP = r"""<?php
while (ob_get_level() > 0) { ob_end_flush(); }
for ($i = 0; $i < 300; $i++) { echo str_pad("line $i ", 1000, "x"), "\n"; flush(); }
"""
LEAK_FLUSH_PHP = FLUSH_LOOP + 'echo "root:x:0:0:root:/root:/bin/bash\\n"; flush();\n'
NOTIFY_SH = "#!/bin/sh\n# exec: target of the e2e rules: proves the program ran.\n" \
            'printf "%s\\n" "$REQUEST_URI" > "{markers}/exec-ran"\n'


def flush_loop_output() -> bytes:
    """What FLUSH_LOOP prints, computed independently."""
    return "".join(f"line {i} ".ljust(1000, "x") + "\n" for i in range(300)).encode()


def site_files() -> dict[str, str]:
    demo = resources.files("apache_secfilter") / "data" / "demo"
    files = {name: (demo / name).read_text(encoding="utf-8")
             for name in ("vulnerable.php", "index.html")}
    files.update({
        "post.php": POST_PHP,
        "leak.php": LEAK_PHP,
        "leak_flush.php": LEAK_FLUSH_PHP,
        "big_flush.php": FLUSH_LOOP,
        "dirindex.html": "<html><body>directory index page</body></html>\n",
    })
    return files


@dataclass
class Reply:
    """An HTTP response, read whole."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Site:
    """A running instance and the directory it was built from."""

    running: instance.Running
    base: str

    @property
    def port(self) -> int:
        return self.running.spec.port

    @property
    def error_log(self) -> str:
        return self.running.spec.error_log

    @property
    def markers(self) -> str:
        return os.path.join(self.base, "markers")

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        conn = self.connect()
        try:
            return send(conn, method, path, body, headers)
        finally:
            conn.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def raw(self, data: bytes) -> bytes:
        """Send bytes as they are; read until the server closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT) as sock:
            sock.sendall(data)
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)

    def error_log_text(self) -> str:
        with open(self.error_log, encoding="utf-8", errors="replace") as handle:
            return handle.read()


def send(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> Reply:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)


def raw_status(reply: bytes) -> int:
    """The status code of a raw HTTP/1.x response."""
    return int(reply.split(b"\r\n", 1)[0].split()[1])


def php_digest(body: bytes) -> dict[str, str]:
    """post.php's key=value lines as a dict."""
    pairs = (line.split("=", 1) for line in body.decode("latin-1").splitlines() if "=" in line)
    return dict(pairs)


def _write(path: str, content: str | bytes, mode: int = 0o644) -> None:
    with open(path, "wb") as handle:
        handle.write(content.encode() if isinstance(content, str) else content)
    os.chmod(path, mode)


def _make_base() -> str:
    base = tempfile.mkdtemp(prefix="secfilter-e2e-", dir="/tmp")
    os.chmod(base, 0o755)
    markers = os.path.join(base, "markers")
    os.mkdir(markers)
    os.chmod(markers, 0o777)  # exec: programs run as Apache's user
    return base


def _spec(base: str, rules: str, adapter: str, directory_extra: str,
          kept_body_size: int | None = None) -> instance.InstanceSpec:
    docroot = os.path.join(base, "htdocs")
    os.mkdir(docroot)
    os.chmod(docroot, 0o755)
    for name, content in site_files().items():
        _write(os.path.join(docroot, name), content)
    run_dir = os.path.join(base, "run")
    _write(os.path.join(base, "notify.sh"), NOTIFY_SH.format(markers=os.path.join(base, "markers")),
           stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    rules_path = os.path.join(base, "rules.conf")
    _write(rules_path, rules.format(base=base, logs=os.path.join(run_dir, "logs", "secfilter")))
    spec = instance.make_spec(rules_path, docroot, run_dir, instance.free_port(), adapter,
                              directory_extra)
    if kept_body_size is not None:
        spec = dataclasses.replace(spec, kept_body_size=kept_body_size)
    override = os.environ.get("SECFILTER_E2E_PACKAGE_DIR")
    return dataclasses.replace(spec, package_dir=override) if override else spec


def tracebacks(paths: list[str]) -> list[str]:
    """Which of these logs contain a Python traceback."""
    found = []
    for path in paths:
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                if "Traceback" in handle.read():
                    found.append(path)
    return found


StartSite = Callable[..., Site]


@pytest.fixture(scope="session")
def start_site() -> Iterator[StartSite]:
    """A factory: start_site(rules, adapter=..., directory_extra=...) -> Site.

    ``rules`` may name ``{base}`` (the site's directory) and ``{logs}`` (the
    instance's directory for the engine's logs, writable by Apache's user).
    ``kept_body_size`` replaces the instance's (``KeptBodySize`` and
    ``SecFilterKeptBodySize``; 0: neither, nor mod_request).
    Every site is stopped by pid at session end.
    """
    sites: list[Site] = []

    def start(rules: str, adapter: str = "mod_python", directory_extra: str = "",
              validate: bool = True, kept_body_size: int | None = None) -> Site:
        base = _make_base()
        spec = _spec(base, rules, adapter, directory_extra, kept_body_size)
        instance.make_dirs(spec)
        if validate:
            load_source(spec.rules)  # a typo in a test's rules fails here, not as a 500
        running = instance.start(spec)
        site = Site(running, base)
        sites.append(site)
        return site

    yield start
    problems = []
    for site in sites:
        try:
            instance.stop(site.running.spec.run_dir)
        except instance.InstanceError as exc:
            problems.append(f"{site.base}: {exc}")
        logs = [site.error_log, site.running.spec.fpm_error_log]
        bad = tracebacks(logs)
        if bad:
            problems.append(f"Python traceback in {', '.join(bad)}:\n" + "\n".join(
                instance.log_tail(path, 40) for path in bad))
        else:
            shutil.rmtree(site.base, ignore_errors=True)
    assert not problems, "\n".join(problems)


def missing_reason() -> str | None:
    """Why the end-to-end tests cannot run here, or None."""
    missing = sorted({p for a in ("mod_python", "mod_wsgi")
                      for p in instance.missing_requirements(a)})
    if missing:
        return ("Apache 2.4 end-to-end tests need " + ", ".join(missing)
                + " (install with: bash apache/install-deps.sh)")
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing_reason()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("apache"):
            item.add_marker(pytest.mark.skip(reason=reason))


#: The article's configuration (tests/conformance/cases/seed.yaml), logs in the run dir.
ARTICLE_RULES = """\
SecFilterEngine {engine}
SecFilterCheckURLEncoding On
SecFilterCheckUnicodeEncoding Off
SecFilterForceByteRange 0 255
SecAuditEngine RelevantOnly
SecAuditLog {{logs}}/audit_log
SecFilterDebugLog {{logs}}/modsec_debug_log
SecFilterDebugLevel 0
SecFilterScanPOST On
SecFilterDefaultAction "deny,log,status:500"
SecFilter /etc/passwd
SecFilter /bin/ls
SecFilter /bin/uname
SecFilter /usr/bin/whoami
SecFilterSelective ARG_highlight %27
SecFilter cd\\x20/tmp
SecFilter wget\\x20
SecFilter /etc/[0-9a-z]
SecFilter /bin/[0-9a-z]
SecFilter /usr/[0-9a-z]
SecFilter /tmp/[0-9a-z]
"""
#: Rules for the actions and output tests, added to the article's.
ACTION_RULES = """\
SecFilterSelective ARG_go "^redirect-me$" "redirect:http://www.example.test/landing"
SecFilterSelective ARG_run "^exec-me$" "exec:{base}/notify.sh"
SecFilterSelective ARG_brew "^status-me$" "deny,status:406"
SecFilterSelective REQUEST_URI "dirindex\\.html" "deny,status:403"
"""
OUTPUT_RULES = """\
SecFilterScanOutput On
SecFilterSelective OUTPUT "root:x:0:0"
"""
MAIN_DIRECTORY = """\
DirectoryIndex dirindex.html index.html
RewriteEngine On
RewriteRule ^pretty/(.*)$ post.php
"""


def article_rules(engine: str = "On") -> str:
    return ARTICLE_RULES.format(engine=engine)


@pytest.fixture(scope="session")
def main_site(start_site: StartSite) -> Site:
    """mod_python (prefork + mod_php): the article's rules, actions, output rules.

    As ``secfilter serve`` sets it up: bodies of up to half of
    ``KEPT_BODY_SIZE`` reach PHP from mod_request's kept body.
    """
    return start_site(article_rules() + ACTION_RULES + OUTPUT_RULES,
                      directory_extra=MAIN_DIRECTORY)


#: The option without a kept body: the misconfigurations the hook must survive.
KEPT_OPTION = f"PythonOption SecFilterKeptBodySize {KEPT_BODY_SIZE}\n"
#: mod_request loaded and the option set, but KeptBodySize 0 for every request.
NO_KEPT_BODY = '<If "true">\nKeptBodySize 0\n</If>\n'


@pytest.fixture(scope="session")
def replay_site(start_site: StartSite) -> Site:
    """The main site without SecFilterKeptBodySize or mod_request: bodies replayed in Python."""
    return start_site(article_rules() + ACTION_RULES, directory_extra=MAIN_DIRECTORY,
                      kept_body_size=0)


@pytest.fixture(scope="session")
def unloaded_site(start_site: StartSite) -> Site:
    """SecFilterKeptBodySize set, mod_request not loaded (a misconfiguration)."""
    return start_site(article_rules() + ACTION_RULES,
                      directory_extra=MAIN_DIRECTORY + KEPT_OPTION, kept_body_size=0)


@pytest.fixture(scope="session")
def kept_off_site(start_site: StartSite) -> Site:
    """SecFilterKeptBodySize set, mod_request loaded, KeptBodySize 0 (a misconfiguration)."""
    return start_site(article_rules() + ACTION_RULES,
                      directory_extra=MAIN_DIRECTORY + NO_KEPT_BODY)


@pytest.fixture(scope="session")
def unfiltered_site(start_site: StartSite) -> Site:
    """The same site with SecFilterEngine Off: proves the attack is real."""
    return start_site(article_rules("Off"))


@pytest.fixture(scope="session")
def chunk_pass_site(start_site: StartSite) -> Site:
    """SecFilterChunkedBody Pass (decisions R1): chunked bodies go through uninspected."""
    return start_site(article_rules() + "SecFilterChunkedBody Pass\n")


@pytest.fixture(scope="session")
def wsgi_site(start_site: StartSite) -> Site:
    """mod_wsgi (event MPM + php-fpm): request line and headers only."""
    return start_site(article_rules() + ACTION_RULES, adapter="mod_wsgi")
