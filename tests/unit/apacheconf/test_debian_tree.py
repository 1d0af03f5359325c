"""A copy of Debian's /etc/apache2 with Sec* blocks added: check and check --show.

The tree is copied from this machine at test time (CI installs apache2), and
Sec* blocks are added at server level (a conf-enabled file), in the stock
``<VirtualHost *:80>``, in the stock ``<Directory /var/www/>`` and in
``<Location>`` sections.  Line numbers of the stock files are looked up in
the copy, so the expectations hold for any Debian apache2 version.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from apache_secfilter.apacheconf.source import load_source
from apache_secfilter.cli.main import main

STOCK = Path("/etc/apache2")

pytestmark = pytest.mark.skipif(not (STOCK / "apache2.conf").is_file(),
                                reason="needs Debian's apache2 package (/etc/apache2)")

SERVER_BLOCK = """\
# apache_secfilter: server-wide rules
<IfModule secfilter_module>
    SecFilterEngine On
    SecFilterDefaultAction "deny,log,status:403"
    SecFilterSelective ARG_cmd "/etc/passwd" "id:1001,msg:'passwd'"
    SecFilterSelective ARG_q "<script" "id:1002"
</IfModule>
"""

VHOST_BLOCK = """\
\t<IfModule secfilter_module>
\t\tSecFilterSelective HTTP_USER_AGENT "nikto" "id:2001"
\t</IfModule>
\t<Location /admin>
\t\t<IfModule secfilter_module>
\t\t\tSecFilterRemove 1002
\t\t\tSecFilterSelective REMOTE_ADDR "!^192\\.0\\.2\\." "id:4001"
\t\t</IfModule>
\t</Location>
\t<Location /upload.php>
\t\t<IfModule mod_security.c>
\t\t\tSecFilterInheritance Off
\t\t\tSecFilterImport 1001
\t\t</IfModule>
\t</Location>
"""

DIRECTORY_BLOCK = """\
\t<IfModule secfilter_module>
\t\tSecFilterScanPOST On
\t\tSecFilterSelective ARG_id "[^0-9]" "id:3001"
\t</IfModule>
"""


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="latin-1").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip() == text)


def _insert_after(path: Path, marker: str, block: str) -> None:
    lines = path.read_text(encoding="latin-1").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.strip() == marker)
    lines.insert(index + 1, block)
    path.write_text("".join(lines), encoding="latin-1")


def _insert_before(path: Path, marker: str, block: str) -> None:
    lines = path.read_text(encoding="latin-1").splitlines(keepends=True)
    index = max(i for i, line in enumerate(lines) if line.strip() == marker)
    lines.insert(index, block)
    path.write_text("".join(lines), encoding="latin-1")


def copy_tree(source: Path, target: Path) -> None:
    """Copy with symbolic links resolved (a2enmod's links), skipping dangling ones."""
    for directory, _, names in os.walk(source, followlinks=True):
        here = target / Path(directory).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in names:
            if os.path.isfile(os.path.join(directory, name)):
                shutil.copyfile(os.path.join(directory, name), here / name)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "apache2"
    copy_tree(STOCK, root)
    (root / "conf-enabled" / "secfilter.conf").write_text(SERVER_BLOCK)
    _insert_before(root / "sites-enabled" / "000-default.conf", "</VirtualHost>", VHOST_BLOCK)
    _insert_after(root / "apache2.conf", "<Directory /var/www/>", DIRECTORY_BLOCK)
    return root


def show(capsys: pytest.CaptureFixture[str], tree: Path, url: str,
         filename: str | None = None) -> str:
    argv = ["check", "--show", url, str(tree / "apache2.conf")]
    if filename:
        argv += ["--filename", filename]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_the_whole_tree_checks(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(tree / "apache2.conf")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith(f"OK: {tree / 'apache2.conf'}: Apache configuration, ")
    assert "5 sections with Sec* directives, 5 request rules, 0 output rules" in out


def test_a_page_under_the_document_root(tree: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = show(capsys, tree, "http://localhost/index.html?id=1",
               "/var/www/html/index.html")
    conf = tree / "apache2.conf"
    vhost = tree / "sites-enabled" / "000-default.conf"
    root_dir, www_dir = _line_of(conf, "<Directory />"), _line_of(conf, "<Directory /var/www/>")
    assert out == "\n".join([
        "Request: GET http://localhost/index.html?id=1",
        "Virtual host: <VirtualHost *:80> sites-enabled/000-default.conf:1",
        "URI path: /index.html",
        "File: /var/www/html/index.html",
        "Sections applied, in merge order (* = holds Sec* directives):",
        "  * server",
        "  * <VirtualHost *:80> sites-enabled/000-default.conf:1",
        f"    <Directory /> apache2.conf:{root_dir}",
        f"  * <Directory /var/www/> apache2.conf:{www_dir}",
        "Effective settings:",
        "  SecFilterEngine On  (server)",
        f"  SecFilterScanPOST On  (<Directory /var/www/> apache2.conf:{www_dir})",
        '  SecFilterDefaultAction "deny,status:403,log"  (server)',
        "Rules, in order (4):",
        '  1. conf-enabled/secfilter.conf:5  SecFilterSelective ARG_cmd "/etc/passwd" '
        '"deny,status:403,id:1001,msg:\'passwd\',log"',
        "       inherited from server",
        '  2. conf-enabled/secfilter.conf:6  SecFilterSelective ARG_q "<script" '
        '"deny,status:403,id:1002,log"',
        "       inherited from server",
        f'  3. sites-enabled/000-default.conf:{_line_of(vhost, "<IfModule secfilter_module>") + 1}'
        '  SecFilterSelective HTTP_USER_AGENT "nikto" "deny,status:403,id:2001,log"',
        "       inherited from <VirtualHost *:80> sites-enabled/000-default.conf:1",
        f"  4. apache2.conf:{www_dir + 3}  SecFilterSelective ARG_id \"[^0-9]\" "
        '"deny,status:403,id:3001,log"',
        f"       own rule of <Directory /var/www/> apache2.conf:{www_dir}",
    ]) + "\n"


def test_a_location_removes_and_adds(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = show(capsys, tree, "http://localhost/admin/users.php",
               "/var/www/html/admin/users.php")
    assert "  * <Location /admin> sites-enabled/000-default.conf:" in out
    rules = [line for line in out.splitlines() if line[:5] in ("  1. ", "  2. ", "  3. ",
                                                               "  4. ", "  5. ")]
    assert [line.split(",id:")[1].split(",")[0] for line in rules] == [
        "1001", "2001", "3001", "4001"]
    assert "own rule of <Location /admin>" in out
    assert "Not applied here (1):" in out
    assert ("conf-enabled/secfilter.conf:6 id 1002 (from server): removed by SecFilterRemove "
            "in <Location /admin> sites-enabled/000-default.conf:") in out


def test_a_location_turns_inheritance_off(tree: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = show(capsys, tree, "http://localhost/upload.php", "/var/www/html/upload.php")
    assert "Rules, in order (1):" in out
    assert "id:1001" in out and "imported by SecFilterImport in <Location /upload.php>" in out
    for rule_id in ("1002", "2001", "3001"):
        assert f"id {rule_id} (from " in out
    assert out.count("not inherited: SecFilterInheritance Off in <Location /upload.php>") == 3


def test_outside_the_web_directory(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = show(capsys, tree, "http://localhost/doc/x", "/usr/share/doc/x")
    assert "<Directory /var/www/>" not in out
    assert "Rules, in order (3):" in out and "id:3001" not in out


def test_the_source_answers_per_request(tree: Path) -> None:
    """The object adapters use: one policy per combination, cached."""
    from apache_secfilter.cli.show import request_for_url
    source = load_source(str(tree / "apache2.conf"), environ={})
    admin = request_for_url("http://localhost/admin/a", filename="/var/www/html/admin/a")
    again = request_for_url("http://localhost/admin/b", filename="/var/www/html/admin/b")
    assert source.policy_for(admin) is source.policy_for(again)
    assert [r.id for r in source.policy_for(admin).rules] == ["1001", "2001", "3001", "4001"]
