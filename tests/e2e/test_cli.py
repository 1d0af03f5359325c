"""``secfilter serve --daemon`` and ``secfilter stop`` as commands, as other tools call them."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from apache_secfilter.server import instance

from .conftest import Reply, send, tracebacks

pytestmark = pytest.mark.apache


def secfilter(*args: str) -> subprocess.CompletedProcess:
    """Run the installed command (or the module, for SECFILTER_E2E_PACKAGE_DIR)."""
    env = dict(os.environ)
    script = os.path.join(os.path.dirname(sys.executable), "secfilter")
    override = os.environ.get("SECFILTER_E2E_PACKAGE_DIR")
    if override or not os.path.exists(script):
        argv = [sys.executable, "-m", "apache_secfilter.cli.main"]
        if override:
            env["PYTHONPATH"] = override
    else:
        argv = [script]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=120,
                          env=env, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture
def base() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="secfilter-e2e-cli-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    if instance.find_running(os.path.join(path, "run")):
        instance.stop(os.path.join(path, "run"))
    shutil.rmtree(path, ignore_errors=True)


def get(port: int, path: str) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        return send(conn, "GET", path)
    finally:
        conn.close()


def test_serve_demo_as_a_daemon_then_stop(base: str) -> None:
    run_dir, port = os.path.join(base, "run"), instance.free_port()
    started = secfilter("serve", "--demo", "--daemon", "--port", str(port), "--run-dir", run_dir)
    assert started.returncode == 0, started.stderr
    pid = instance.read_pid(os.path.join(run_dir, "httpd.pid"))
    try:
        assert pid and instance.pid_alive(pid)
        assert f"curl -i 'http://127.0.0.1:{port}/vulnerable.php?file=/etc/passwd'" \
            in started.stdout
        assert str(pid) in started.stdout and run_dir in started.stdout
        attack = get(port, "/vulnerable.php?file=/etc/passwd")
        assert attack.status == 500 and b"root:" not in attack.body
        assert get(port, "/vulnerable.php?file=index.html").status == 200
    finally:
        stopped = secfilter("stop", "--run-dir", run_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert not instance.pid_alive(pid)
    assert not instance.port_in_use(port)
    again = secfilter("stop", "--run-dir", run_dir)
    assert again.returncode == 2 and "nothing runs" in again.stderr
    assert not tracebacks([os.path.join(run_dir, "logs", "error.log")])


def test_serve_reports_a_bad_rules_file_with_file_and_line(base: str) -> None:
    rules = os.path.join(base, "rules.conf")
    with open(rules, "w", encoding="utf-8") as handle:
        handle.write("SecFilterEngine On\nSecFilterEngine Sometimes\n")
    run_dir = os.path.join(base, "run")
    done = secfilter("serve", "--config", rules, "--docroot", base, "--daemon",
                     "--port", str(instance.free_port()), "--run-dir", run_dir)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{rules}:2:"), done.stderr
    assert not os.path.exists(os.path.join(run_dir, "httpd.pid"))


def test_serve_refuses_a_port_in_use(base: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = secfilter("serve", "--demo", "--daemon", "--port", str(port),
                         "--run-dir", os.path.join(base, "run"))
    assert done.returncode == 2
    assert f"port {port}" in done.stderr and "already in use" in done.stderr


def test_serve_needs_rules_and_a_docroot_without_demo(base: str) -> None:
    done = secfilter("serve", "--daemon", "--run-dir", os.path.join(base, "run"))
    assert done.returncode == 2
    assert "--config" in done.stderr and "--demo" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's Apache switches to www-data")
def test_serve_refuses_a_docroot_www_data_cannot_read(base: str) -> None:
    private = os.path.join(base, "private")
    os.mkdir(private, 0o700)
    done = secfilter("serve", "--demo", "--docroot", private, "--daemon",
                     "--port", str(instance.free_port()), "--run-dir", os.path.join(base, "run"))
    assert done.returncode == 2
    assert "not readable by www-data" in done.stderr
